#!/usr/bin/python3
"""Noisy neighbour (SPEC section 4): does one tenant at overload raise another's latency?

Tenant `noisy` (limit 100 requests/s, burst 100) is driven at 10x its limit over 50 keep-alive
connections while tenant `calm` sends a steady 50 requests/s on one connection; both tenants
share one pool (the origin nginx). calm's p50 and p99 are measured alone and beside noisy, for
tenantgate (rate_limit on both tenants) and for HAProxy with its closest equivalent: a stick
table keyed by Host and `http-request deny deny_status 429` over the rate. Systems and phases
are interleaved run by run (PERF.md), proxies pinned to one core, clients and origin to the
other. Prints the table; `--smoke` runs one short repetition.

  /usr/bin/python3 bench/noisy_neighbour.py [--smoke] [--reps 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import BENCH, CLIENT_CORE, PYTHON, BenchError  # noqa: E402
from loadgen import read_answer  # noqa: E402

LIMIT = 100  # requests/s of each tenant
NOISY_RATE = 10 * LIMIT
NOISY_CONNECTIONS = 50
CALM_RATE = 50

TENANTGATE_CONFIG = """workers: 1
access_log: "off"
listeners: [{{name: http, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
pools:
  origin: {{web: ["127.0.0.1:{origin}"], longpolling: ["127.0.0.1:{ws}"]}}
tenants:
  bench: {{hosts: [bench.local, localhost, 127.0.0.1], pool: origin}}
  noisy: {{hosts: [noisy.local], pool: origin, rate_limit: {{requests_per_second: {limit}, burst: {limit}}}}}
  calm: {{hosts: [calm.local], pool: origin, rate_limit: {{requests_per_second: {limit}, burst: {limit}}}}}
"""

HAPROXY_CONFIG = """global
    nbthread 1
    maxconn 2000
{defaults}frontend fe_http
    bind 127.0.0.1:{port}
    acl known_host req.hdr(host),field(1,:),lower -m str bench.local localhost 127.0.0.1 noisy.local calm.local
    http-request deny deny_status 404 unless known_host
    stick-table type string len 64 size 10k expire 10s store http_req_rate(1s)
    http-request track-sc0 req.hdr(host),field(1,:),lower
    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt {limit} }}
    default_backend be_web
backend be_web
    server web1 127.0.0.1:{origin}
"""


class LimitedTenantgate(common.Tenantgate):
    def command(self) -> list:
        conf = self.tmp / "tenantgate-noisy.yaml"
        conf.write_text(TENANTGATE_CONFIG.format(origin=self.origin_port, ws=self.ws_port,
                                                 limit=LIMIT))
        return [self.binary, "run", "--config", conf]


class LimitedHAProxy(common.HAProxy):
    def command(self) -> list:
        self.port = common.free_port()
        conf = self.tmp / "haproxy-noisy.cfg"
        conf.write_text(HAPROXY_CONFIG.format(port=self.port, origin=self.origin_port,
                                              limit=LIMIT, defaults=common.HAPROXY_DEFAULTS))
        return ["haproxy", "-db", "-f", conf]


# ---- the client side (run as a subprocess: --drive) -----------------------------------------
async def drive(port: int, host: str, rate: float, connections: int, seconds: float) -> dict:
    """Each connection sends at rate/connections requests/s, one at a time (no pipelining)."""
    request = f"GET /small HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    interval = connections / rate
    end = time.monotonic() + seconds

    async def connection(offset: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            due = time.monotonic() + offset
            while due < end:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                start = time.perf_counter()
                writer.write(request)
                status, _ = await read_answer(reader, 10.0)
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
                due += interval
        except Exception as e:  # noqa: BLE001 - reported
            errors.append(f"{type(e).__name__}: {e}")
        finally:
            writer.close()

    await asyncio.gather(*(connection(i * interval / connections) for i in range(connections)))
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {"statuses": statuses, "errors": errors[:3], "count": len(latencies),
            "p50_ms": q[49] * 1e3, "p99_ms": q[98] * 1e3}


def client(port: int, host: str, rate: float, connections: int, seconds: float):
    return subprocess.Popen(
        ["taskset", "-c", CLIENT_CORE, PYTHON, str(BENCH / "noisy_neighbour.py"), "--drive",
         "--port", str(port), "--host", host, "--rate", str(rate), "--connections",
         str(connections), "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True)


def result_of(proc) -> dict:
    out, _ = proc.communicate(timeout=120)
    if proc.returncode != 0 or not out.strip():
        raise BenchError(f"client failed (code {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def phase(system, noisy: bool, seconds: float) -> dict:
    loud = client(system.port, "noisy.local", NOISY_RATE, NOISY_CONNECTIONS, seconds + 1) \
        if noisy else None
    if loud:
        time.sleep(0.5)  # noqa: the noisy tenant is at full overload before calm is measured
    calm = result_of(client(system.port, "calm.local", CALM_RATE, 1, seconds))
    out = {"calm": calm}
    if loud:
        out["noisy"] = result_of(loud)
    for name, r in out.items():
        if r["errors"] or not r["count"]:
            raise BenchError(f"{system.name} {name}: {r['errors'] or 'no answers'}")
    if set(calm["statuses"]) != {"200"}:
        raise BenchError(f"{system.name}: calm got {calm['statuses']}, expected only 200")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--host")
    parser.add_argument("--rate", type=float)
    parser.add_argument("--connections", type=int)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(asyncio.run(drive(args.port, args.host, args.rate, args.connections,
                                           args.seconds))))
        return 0
    if args.smoke:
        args.reps, args.seconds = 1, 2.0
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tenantgate-noisy-"))
    rows: dict = {}
    try:
        binary = common.snapshot_binary(tmp)
        origin = common.Origin(tmp)
        origin.start()
        ws = common.WsUpstream(tmp)
        ws.start()
        systems = [LimitedTenantgate(tmp, origin.port, ws.port, binary=binary),
                   LimitedHAProxy(tmp, origin.port, ws.port)]
        for s in systems:
            s.start()
        for rep in range(args.reps):
            for noisy in (False, True):
                for s in systems:
                    r = phase(s, noisy, args.seconds)
                    rows.setdefault(s.name, {}).setdefault(noisy, []).append(r)
                    print(f"  rep {rep + 1} {s.name:<10} {'with noisy' if noisy else 'alone':<10} "
                          f"calm p50 {r['calm']['p50_ms']:.3f} ms p99 {r['calm']['p99_ms']:.3f} ms"
                          + (f"; noisy {r['noisy']['statuses']}" if noisy else ""), flush=True)
        for s in systems:
            if not s.alive():
                raise BenchError(f"{s.name} died")
    except BenchError as e:
        print(f"noisy_neighbour: BROKEN: {e} (files kept in {tmp})", file=sys.stderr)
        common.stop_all()
        return 1
    common.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)  # kept only for a broken run, as bench.py does
    print(f"\ncalm tenant ({CALM_RATE} req/s) beside noisy ({NOISY_RATE} req/s against a limit "
          f"of {LIMIT}/s, {NOISY_CONNECTIONS} connections); medians over {args.reps} runs of "
          f"{args.seconds:.0f} s")
    print("| proxy | calm p50 alone | with noisy | change | calm p99 alone | with noisy | noisy 429 share |")
    print("|---|---|---|---|---|---|---|")
    for name, phases in rows.items():
        def med(noisy, key):
            return statistics.median(r["calm"][key] for r in phases[noisy])
        refused = sum(r["noisy"]["statuses"].get("429", 0) for r in phases[True])
        total = sum(r["noisy"]["count"] for r in phases[True])
        a50, n50 = med(False, "p50_ms"), med(True, "p50_ms")
        print(f"| {name} | {a50:.3f} ms | {n50:.3f} ms | {(n50 - a50) * 100 / a50:+.1f} % | "
              f"{med(False, 'p99_ms'):.3f} ms | {med(True, 'p99_ms'):.3f} ms | "
              f"{refused * 100 / max(total, 1):.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
