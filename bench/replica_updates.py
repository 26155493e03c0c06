#!/usr/bin/python3
"""Runtime tenant changes across replicas (issue 13): what one change costs each replica, and
Redis, when 20,000 runtime tenants are shared through `state.redis`.

Two tenantgate replicas, A and B, each with N runtime tenants in its state file, share one
redis-server. A takes one PUT /api/v1/tenants/NAME every --interval seconds; B hears each change
on the channel. Printed for A, B and redis-server: CPU time (all threads' schedstat) per
change, less the process's own idle rate measured just before. Then B is made to read the state
whole --reads times (a message made from a state it has not seen, as after a lost message), and
the CPU of one whole read is printed: what a start, a reconnection or a refused write costs.
No other proxy shares runtime state between its instances, so there is no peer to compare with;
the figures are costs, from one run (CPU time, not wall time, so the machine's noise moves them
little).

  /usr/bin/python3 bench/replica_updates.py [--smoke] [--tenants 20000] [--updates 20]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import BenchError  # noqa: E402
from tenant_updates import ScaledTenantgate  # noqa: E402

KEY = "tenantgate:runtime"  # the default state.key_prefix, and "runtime"


def redis_cli(port: int, *arguments: str) -> str:
    done = subprocess.run(["redis-cli", "-p", str(port), *arguments], capture_output=True,
                          text=True, timeout=10)
    return done.stdout.strip()


def cpu_ms(pid: int) -> float:
    """CPU time of all the process's threads so far, from schedstat: nanoseconds, where
    /proc/PID/stat counts 10 ms ticks (more than a change costs)."""
    total = 0
    try:
        for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except OSError:
                pass  # a thread that just ended
    except OSError:
        raise BenchError(f"process {pid} is gone (it exited or crashed)")
    return total / 1e6


def per_event_ms(pids: dict, events, count: int, idle_seconds: float) -> dict:
    """CPU ms per event for each process: idle rate over `idle_seconds`, then `events()`
    (which makes `count` events and waits for their effects), less that idle rate."""
    before = {name: cpu_ms(pid) for name, pid in pids.items()}
    time.sleep(idle_seconds)
    idle = {name: (cpu_ms(pid) - before[name]) / idle_seconds for name, pid in pids.items()}
    before = {name: cpu_ms(pid) for name, pid in pids.items()}
    started = time.monotonic()
    events()
    elapsed = time.monotonic() - started
    return {name: (cpu_ms(pid) - before[name] - idle[name] * elapsed) / count
            for name, pid in pids.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--tenants", type=int, default=20000)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between updates")
    parser.add_argument("--reads", type=int, default=5)
    args = parser.parse_args()
    if args.smoke:
        args.tenants, args.updates, args.reads = 2000, 5, 2
    if not shutil.which("redis-server"):
        print("replica_updates: BROKEN: redis-server is not installed", file=sys.stderr)
        return 1
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tenantgate-replicas-"))
    try:
        port = common.free_port()
        redis = common.Proc("redis", ["redis-server", "--port", port, "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"], tmp)
        common.poll(lambda: redis_cli(port, "PING") == "PONG", 10, "redis-server to answer")
        origin = common.Origin(tmp)
        origin.start()
        binary = common.snapshot_binary(tmp)
        url = f"redis://127.0.0.1:{port}/0"
        a, b = (ScaledTenantgate(tmp, origin.port, 0, tenants=args.tenants, binary=binary,
                                 redis_url=url, replica=name) for name in ("-a", "-b"))
        for replica in (a, b):
            replica.start(timeout=120)

        def b_has(i: int) -> bool:
            return common.http_get(b.port, "/small", host=f"erp.new{i}.com")[0] == 200

        # The first change sends the whole state (Redis was empty): not counted.
        a.add_tenant(0)
        common.poll(lambda: b_has(0), 10, "replica B to route the first new tenant")
        pids = {"A (took the PUT)": a.proc.pid, "B (heard it)": b.proc.pid,
                "redis-server": redis.pid}

        def updates() -> None:
            for i in range(1, args.updates + 1):
                a.add_tenant(i)
                time.sleep(args.interval)
            common.poll(lambda: b_has(args.updates), 5, "replica B to route the last tenant")

        per_change = per_event_ms(pids, updates, args.updates, 3.0)
        hash_fields = int(redis_cli(port, "HLEN", KEY) or 0)

        def whole_reads() -> None:
            for i in range(args.reads):
                stamp = json.dumps({"version": 1, "origin": "nobody"})
                change = json.dumps({"version": time.time_ns() // 10**6 + 10**9 + i,
                                     "origin": "nobody"})
                redis_cli(port, "PUBLISH", KEY, f"{stamp}\n{change}")
                time.sleep(1.0)

        per_read = per_event_ms({"B": b.proc.pid}, whole_reads, args.reads, 2.0)["B"]
        for replica in (a, b):
            if not replica.alive():
                raise BenchError(f"replica {replica.replica} died")
    except BenchError as e:
        print(f"replica_updates: BROKEN: {e} (files kept in {tmp})", file=sys.stderr)
        common.stop_all()
        return 1
    common.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)  # kept only for a broken run, as bench.py does
    print(f"\n2 replicas, {args.tenants} runtime tenants shared through one redis-server "
          f"({hash_fields} fields in {KEY}); {args.updates} tenants added on A, one every "
          f"{args.interval * 1000:.0f} ms")
    print("| process | CPU per change |")
    print("|---|---|")
    for name, ms in per_change.items():
        print(f"| {name} | {ms:.1f} ms |")
    print(f"B reading the state whole (start, reconnection, refused write, lost message): "
          f"{per_read:.1f} ms of CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
