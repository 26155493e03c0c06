#!/usr/bin/python3
"""Repeatable per-request costs: user-space instructions (callgrind) and syscalls (perf).

Wall-clock rates on a noisy VM vary by tens of percent; these two do not (PERF.md). For each
proxy (1 worker, same generated configs as bench.py) and each body size:

  instructions/request  the proxy runs under `valgrind --tool=callgrind`; after a warm-up
                        (upstream keep-alive established) the counters are zeroed
                        (callgrind_control -z), exactly N keep-alive requests are sent over C
                        connections by bench/loadgen.py, and the counters dumped
                        (callgrind_control -d): total Ir of the process (all threads) / N.
  syscalls/request      the proxy runs normally; after a warm-up `perf stat` counts the syscall
                        tracepoints of its threads (nginx: its worker) over exactly N requests:
                        calls / N, per syscall, and the failed reads and accepts. perf needs
                        root or kernel.perf_event_paranoid = -1; without it `strace -c -f` counts
                        (slower calls: fewer of the reads that race the client's bytes fail).

Usage: /usr/bin/python3 bench/profile.py [--requests 20000] [--connections 10]
                                         [--systems tenantgate,haproxy,nginx] [--plain-peers]
                                         [--no-syscalls] [--no-callgrind]
Writes bench/results/callgrind-<date>.md, and the raw callgrind dumps plus callgrind_annotate
listings under bench/results/raw/ (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import (BENCH, CLIENT_CORE, PYTHON, BenchError, Proc, poll)  # noqa: E402

BODIES = (("small", "/small", common.SMALL_BYTES), ("16k", "/16k", common.LARGE_BYTES))
# Both tools also count a new client connection per request (Connection: close, small body);
# the syscall count then an echo round trip through a WebSocket tunnel ("echo")
RUNS = BODIES + (("close", "/small", common.SMALL_BYTES),)
SYSCALLS_REPORTED = ("small", "16k", "close", "echo")
PERF_REFERENCE = {  # PERF.md, plain configs, 10 connections, upstream keep-alive warm
    "haproxy": {"small": (27.2e3, 4), "16k": (65.7e3, 6)},
    "nginx": {"small": (18.3e3, 5), "16k": (27.2e3, 10)},
}
IO_SYSCALLS = {"read", "readv", "recvfrom", "recvmsg", "write", "writev", "sendto", "sendmsg",
               "splice", "sendfile", "getsockopt", "setsockopt"}


def loadgen(port: int, requests: int, connections: int, path: str, size: int,
            tmp: pathlib.Path, close: bool = False) -> dict:
    cmd = ["taskset", "-c", CLIENT_CORE, PYTHON, str(BENCH / "loadgen.py"), "--port", str(port),
           "--requests", str(requests), "--connections", str(connections), "--path", path,
           "--expect-bytes", str(size)] + (["--close"] if close else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    try:
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"loadgen failed: {out.stderr.strip()[-800:]}")
    if result["ok"] != requests:
        raise BenchError(f"loadgen: only {result['ok']} of {requests} requests to {path} "
                         f"succeeded: {result['errors']}")
    return result


def make_proxy(name: str, tmp, origin, ws, args, valgrind=None):
    kwargs = dict(valgrind=valgrind)
    if name == "tenantgate":
        return common.Tenantgate(tmp, origin.port, ws.port, binary=tmp / "tenantgate", **kwargs)
    if name == "haproxy":
        proxy = common.HAProxy(tmp, origin.port, ws.port, plain_peers=args.plain_peers, **kwargs)
        proxy.maxconn = 1000  # valgrind keeps some descriptors for itself
        return proxy
    return common.Nginx(tmp, origin.port, ws.port, plain_peers=args.plain_peers, **kwargs)


def dumps(out_dir: pathlib.Path, name: str) -> set:
    return set(out_dir.glob(f"callgrind.{name}.out*"))


def dump_total(path: pathlib.Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"(?:summary|totals):\s+(\d+)", line)
        if m:
            return int(m.group(1))
    raise BenchError(f"no totals in {path}")


def callgrind_control(*args) -> None:
    out = subprocess.run(["callgrind_control", *map(str, args)], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        raise BenchError(f"callgrind_control {' '.join(map(str, args))} failed: "
                         f"{(out.stdout + out.stderr).strip()[-500:]}")


def callgrind_system(name: str, tmp, origin, ws, args, raw: pathlib.Path) -> dict:
    valgrind = ["valgrind", "--tool=callgrind", "--quiet",
                f"--callgrind-out-file={raw}/callgrind.{name}.out"]
    proxy = make_proxy(name, tmp, origin, ws, args, valgrind)
    out = {}
    try:
        proxy.start(timeout=180)
        pid = proxy.stats_pid()
        for body, path, size in RUNS:
            loadgen(proxy.port, args.warmup, args.connections, path, size, tmp, body == "close")
        for body, path, size in RUNS:
            n = {"small": args.requests, "16k": args.requests // 2,
                 "close": args.requests // 5}[body]
            callgrind_control("-z", pid)
            before = dumps(raw, name)
            result = loadgen(proxy.port, n, args.connections, path, size, tmp, body == "close")
            callgrind_control("-d", f"measured-{body}", pid)
            new = poll(lambda: dumps(raw, name) - before, 60, "the callgrind dump")
            dump = max(new, key=lambda p: p.stat().st_mtime)
            final = dump.with_name(f"callgrind.{name}.{body}.out")
            # A dump taken mid-run records the calls still on the stack (main, the event loop)
            # with "calls=0"; callgrind_annotate 3.19 then books their inclusive cost as self
            # cost. The call count does not matter for costs: make it 1.
            final.write_text(re.sub(r"(?m)^calls=0 ", "calls=1 ", dump.read_text()))
            dump.unlink()
            total = dump_total(final)
            out[body] = {"requests": n, "instructions": total, "per_request": total / n,
                         "dump": str(final), "seconds": result["seconds"]}
            print(f"  {name:<10} {body:<5} {total / n:>10,.0f} instructions/request "
                  f"({n} requests, {result['seconds']} s under valgrind)", flush=True)
        if not proxy.alive():
            raise BenchError(f"{name} died under valgrind:\n{proxy.proc.tail()}")
    finally:
        proxy.stop()
        for leftover in dumps(raw, name):
            if not re.search(r"\.(small|16k|close)\.out$", leftover.name):
                leftover.unlink()  # the final dump at exit: not the measured window
    return out


class TunnelClient:
    """bench/idle_client.py tunnels, driven over its stdin: echo round trips, one at a time,
    over 10 WebSocket tunnels through the proxy (idle_client bounds every network step)."""

    def __init__(self, port: int):
        self.proc = subprocess.Popen(
            ["taskset", "-c", CLIENT_CORE, PYTHON, str(BENCH / "idle_client.py"), "tunnels",
             "--port", str(port), "--count", "10"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.answer("open")

    def answer(self, what: str) -> dict:
        line = self.proc.stdout.readline()
        result = json.loads(line) if line.strip() else None
        if not result or result.get("failed"):
            raise BenchError(f"tunnel client, {what}: {line.strip() or 'no answer'}")
        return result

    def probe(self, n: int) -> dict:
        self.proc.stdin.write(f"probe {n}\n")
        self.proc.stdin.flush()
        return self.answer(f"probe {n}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("close\n")
            self.proc.stdin.flush()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# perf counts these one by one (a tracepoint each) and the rest as "other"; strace lists all.
COUNTED = sorted(IO_SYSCALLS | {
    "accept", "accept4", "brk", "clock_gettime", "close", "connect", "epoll_ctl", "epoll_pwait",
    "epoll_wait", "fcntl", "futex", "getpeername", "getpid", "getsockname", "gettimeofday",
    "ioctl", "madvise", "mmap", "mprotect", "munmap", "openat", "shutdown", "socket",
    "timerfd_settime"})
# Calls whose failures (ret < 0: EAGAIN for the reads and accepts) perf counts too.
FAILURES_COUNTED = ("accept4", "read", "readv", "recvfrom", "recvmsg")
TRACEPOINTS = pathlib.Path("/sys/kernel/tracing/events")


def perf_usable() -> bool:
    """perf can count syscall tracepoints of another process (root, or perf_event_paranoid -1)."""
    if not shutil.which("perf") or not (TRACEPOINTS / "raw_syscalls").is_dir():
        return False
    probe = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                           capture_output=True, text=True, timeout=60)
    return probe.returncode == 0


def perf_events() -> list:
    """perf stat arguments: every syscall, each one COUNTED, and failures of FAILURES_COUNTED."""
    args = ["-e", "raw_syscalls:sys_enter"]
    for call in COUNTED:
        if (TRACEPOINTS / "syscalls" / f"sys_enter_{call}").is_dir():
            args += ["-e", f"syscalls:sys_enter_{call}"]
    for call in FAILURES_COUNTED:
        if (TRACEPOINTS / "syscalls" / f"sys_exit_{call}").is_dir():
            args += ["-e", f"syscalls:sys_exit_{call}", "--filter", "ret < 0"]
    return args


def parse_perf(text: str) -> tuple[dict, dict]:
    """({syscall: calls}, {syscall: failed calls}) from `perf stat -x,` output."""
    calls, errors, total = {}, {}, 0
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        count, event = int(fields[0]), fields[2]
        if event == "raw_syscalls:sys_enter":
            total = count
        elif event.startswith("syscalls:sys_enter_"):
            if count:
                calls[event.removeprefix("syscalls:sys_enter_")] = count
        elif event.startswith("syscalls:sys_exit_") and count:
            errors[event.removeprefix("syscalls:sys_exit_")] = count
    if total > sum(calls.values()):
        calls["other"] = total - sum(calls.values())
    return calls, errors


def counted(name: str, body: str, pid: str, tmp, drive, n: int, tool: str) -> dict:
    """Syscalls per unit (request or echo) while `drive()` makes exactly `n` of them. perf counts
    in the kernel and leaves the proxy's timing alone; strace stops the proxy at every call,
    which makes each one slower and so changes races such as a read issued just before the
    client's bytes arrive (only used where perf cannot count tracepoints)."""
    summary = tmp / f"{tool}.{name}.{body}.txt"
    if tool == "perf":
        events = perf_events()
        counter = Proc(f"perf-{name}-{body}", ["perf", "stat", "-x,", "-o", summary, *events,
                                               "-p", pid], tmp)
        wanted = events.count("-e") * len(list(pathlib.Path(f"/proc/{pid}/task").iterdir()))

        def attached() -> bool:  # one event descriptor per event and thread
            fds = pathlib.Path(f"/proc/{counter.pid}/fd")
            opened = 0
            for fd in fds.iterdir():
                try:
                    opened += "perf_event" in str(fd.readlink())
                except OSError:
                    continue
            return opened >= wanted
    else:
        counter = Proc(f"strace-{name}-{body}", ["strace", "-c", "-f", "-o", summary, "-p", pid],
                       tmp)

        def attached() -> bool:
            tasks = list(pathlib.Path(f"/proc/{pid}/task").iterdir())
            for task in tasks:
                status = (task / "status").read_text()
                if f"TracerPid:\t{counter.pid}\n" not in status:
                    return False
            return bool(tasks)
    poll(lambda: not counter.alive() or attached(), 30, f"{tool} to attach to {name}")
    if not counter.alive():
        raise BenchError(f"{tool} failed: {counter.tail()}")
    drive()
    counter.stop(signal.SIGINT)
    text = summary.read_text()
    calls, errors = parse_perf(text) if tool == "perf" else parse_strace(text)
    if not calls:
        raise BenchError(f"{tool} counted no syscalls of {name}: {text[-500:]}")
    total = sum(calls.values())
    io = sum(v for k, v in calls.items() if k in IO_SYSCALLS)
    top = ", ".join(f"{k} {v / n:.2f}" + (f" ({errors[k] / n:.2f} failed)"
                                           if errors.get(k, 0) / n >= 0.01 else "")
                    for k, v in sorted(calls.items(), key=lambda kv: -kv[1])[:8])
    unit = "echo" if body == "echo" else "request"
    print(f"  {name:<10} {body:<5} {total / n:5.2f} syscalls/{unit} (I/O {io / n:.2f}): {top}",
          flush=True)
    return {"requests": n, "total": total / n, "io": io / n,
            "per_call": {k: v / n for k, v in sorted(calls.items(), key=lambda kv: -kv[1])},
            "failed": {k: v / n for k, v in errors.items()}}


def syscalls_system(name: str, tmp, origin, ws, args, tool: str) -> dict:
    proxy = make_proxy(name, tmp, origin, ws, args)
    out = {}
    tunnels = None
    try:
        proxy.start()
        pid = proxy.stats_pid()
        for body, path, size in RUNS:
            close = body == "close"
            loadgen(proxy.port, args.warmup, args.connections, path, size, tmp, close)
            n = args.syscall_requests // 4 if close else args.syscall_requests
            out[body] = counted(name, body, pid, tmp, lambda: loadgen(
                proxy.port, n, args.connections, path, size, tmp, close), n, tool)
        tunnels = TunnelClient(proxy.port)
        tunnels.probe(args.warmup)
        echoes = args.syscall_requests // 4
        out["echo"] = counted(name, "echo", pid, tmp, lambda: tunnels.probe(echoes), echoes,
                              tool)
    finally:
        if tunnels is not None:
            tunnels.close()
        proxy.stop()
    return out


def parse_strace(text: str) -> tuple[dict, dict]:
    """({syscall: calls}, {syscall: failed calls}) from a `strace -c` summary."""
    calls, errors = {}, {}
    for line in text.splitlines():
        parts = line.split()
        # % time  seconds  usecs/call  calls  [errors]  syscall
        if len(parts) >= 5 and re.match(r"^[\d.]+$", parts[0]) and parts[-1] != "total":
            try:
                calls[parts[-1]] = int(parts[3])
                if len(parts) == 6:
                    errors[parts[-1]] = int(parts[4])
            except ValueError:
                continue
    return calls, errors


def annotate(dump: str, inclusive: bool, top: int, only: str | None = None) -> list:
    out = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
                          "--threshold=100", dump], capture_output=True, text=True, timeout=300)
    rows = []
    for line in out.stdout.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\([\s\d.%]+\)\s+)?(.*)$", line)
        if m and ":" in m.group(2) and not line.lstrip().startswith("Ir"):
            if only and only not in m.group(2):
                continue
            rows.append((int(m.group(1).replace(",", "")), m.group(2).strip()))
        if len(rows) >= top:
            break
    return rows


def collapse_templates(name: str, depth: int) -> str:
    """Replaces template arguments nested deeper than `depth` with '…'."""
    out, level = [], 0
    for i, ch in enumerate(name):
        if ch == "<" and not name.startswith("<=", i) and not name.startswith("<<", i - 1):
            level += 1
            if level == depth + 1:
                out.append("<…")
            elif level <= depth:
                out.append(ch)
        elif ch == ">" and level > 0 and name[i - 1] != "-":
            if level == depth + 1:
                out.append(">")
            elif level <= depth:
                out.append(ch)
            level -= 1
        elif level <= depth:
            out.append(ch)
    return "".join(out)


def shorten(name: str, width: int = 160) -> str:
    """A readable function name: no file prefix or object suffix, deep templates collapsed."""
    name = re.sub(r"^[^:]*\?\?\?:", "", name)
    name = re.sub(r"^\./[^:]*:", "", name)
    lib = re.search(r" \[(/[^\]]*)\]$", name)
    name = re.sub(r" \[/[^\]]*\]$", "", name)
    for depth in (2, 1, 0):
        if len(name) <= width:
            break
        name = collapse_templates(name, depth)
    if len(name) > width:
        name = name[:width - 1] + "…"
    if lib and not lib.group(1).endswith("tenantgate"):
        name += f" ({pathlib.Path(lib.group(1)).name})"
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000,
                        help="measured requests for callgrind (16 KiB: half as many; a new "
                             "connection each: a fifth)")
    parser.add_argument("--syscall-requests", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--systems", default="tenantgate,haproxy,nginx")
    parser.add_argument("--plain-peers", action="store_true",
                        help="HAProxy/nginx without the forwarded headers tenantgate adds "
                             "(the configuration of PERF.md's reference numbers)")
    parser.add_argument("--tenant-limits", action="store_true",
                        help="give the bench tenant a rate limit, a per-client limit and a "
                             "max_in_flight, all too high to refuse anything (limits_cost.sh)")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--no-syscalls", action="store_true")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--no-write", action="store_true",
                        help="print the report only (bench/metrics_cost.sh)")
    args = parser.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    if args.tenant_limits:
        common.TENANT_LIMITS = (
            ", rate_limit: {requests_per_second: 1000000, burst: 1000000}"
            ", per_client_rate_limit: {requests_per_second: 1000000, burst: 1000000}"
            ", max_in_flight: 100000")
    syscall_tool = "perf" if perf_usable() else "strace"
    for tool in ["nginx", "haproxy", "taskset"] + ([] if args.no_callgrind else
                                                   ["valgrind", "callgrind_control"]) + \
            ([] if args.no_syscalls else [syscall_tool]):
        if not shutil.which(tool):
            print(f"profile: {tool} is not installed", file=sys.stderr)
            return 1

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    raw = BENCH / "results" / "raw" / f"callgrind-{stamp}"
    raw.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tenantgate-profile-"))
    instr: dict = {}
    sysc: dict = {}
    code = 0
    version = "?"
    try:
        common.raise_fd_limit(1000)
        binary = common.snapshot_binary(tmp)
        version = common.Tenantgate(tmp, 0, 0, binary=binary).version()
        print(f"tenantgate: {version}", flush=True)
        origin = common.Origin(tmp)
        origin.start()
        ws = common.WsUpstream(tmp)
        ws.start()
        if not args.no_callgrind:
            print(f"[callgrind] {args.requests} small / {args.requests // 2} 16 KiB keep-alive "
                  f"requests over {args.connections} connections, {args.requests // 5} with a "
                  f"new connection each, after {args.warmup} warm-up", flush=True)
            for name in systems:
                instr[name] = callgrind_system(name, tmp, origin, ws, args, raw)
        if not args.no_syscalls:
            print(f"[{syscall_tool}] {args.syscall_requests} keep-alive requests over "
                  f"{args.connections} connections; {args.syscall_requests // 4} with a new "
                  f"connection each (Connection: close); {args.syscall_requests // 4} WebSocket "
                  "echoes over 10 tunnels", flush=True)
            for name in systems:
                sysc[name] = syscalls_system(name, tmp, origin, ws, args, syscall_tool)
    except BenchError as e:
        print(f"profile: BROKEN: {e}", file=sys.stderr)
        code = 1
    finally:
        common.stop_all()

    lines = [f"# Per-request cost, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} "
             "UTC", "", f"tenantgate: {version}; {common.tool_version(['haproxy', '-v'])}; "
             f"{common.tool_version(['nginx', '-v'])}; valgrind "
             f"{common.tool_version(['valgrind', '--version'])}.", "",
             f"1 worker each, {args.connections} keep-alive connections, upstream keep-alive warm "
             f"({args.warmup} warm-up requests per body), "
             + ("peers plain (no forwarded headers)." if args.plain_peers else
                "peers add the same forwarded headers as tenantgate.")
             + " Instructions: callgrind Ir of the whole process (user space, all threads) over "
             "exactly the measured requests ÷ requests. Syscalls: "
             + ("`perf stat` on the syscall tracepoints (counted in the kernel, the proxy's "
                "timing untouched), attached to the proxy's threads"
                if syscall_tool == "perf" else "`strace -c -f -p PID`")
             + " over exactly the measured requests ÷ requests (I/O = read/write/recv/send families, "
             "readv/writev, getsockopt/setsockopt). New connection: each request on a connection "
             "of its own with `Connection: close`, 10 at a time, the proxy closing it. WebSocket "
             "echo: one message to the upstream and its echo back, one at a time over 10 "
             "tunnels (bench/idle_client.py).", "",
             "| system | instructions/req small | instructions/req 16 KiB | instructions/req new "
             "connection | syscalls/req small (I/O) | syscalls/req 16 KiB (I/O) | syscalls/req new "
             "connection (I/O) | syscalls/WebSocket echo (I/O) | PERF.md reference (plain) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in systems:
        i, s = instr.get(name, {}), sysc.get(name, {})
        ref = PERF_REFERENCE.get(name)
        ref_text = (f"{ref['small'][0] / 1000:.1f}k / {ref['16k'][0] / 1000:.1f}k instr, "
                    f"{ref['small'][1]} / {ref['16k'][1]} I/O syscalls" if ref else "–")

        def cell_i(b):
            return f"{i[b]['per_request']:,.0f}" if b in i else "–"

        def cell_s(b):
            return f"{s[b]['total']:.2f} ({s[b]['io']:.2f})" if b in s else "–"
        lines.append(f"| {name} | {cell_i('small')} | {cell_i('16k')} | {cell_i('close')} | "
                     f"{cell_s('small')} | {cell_s('16k')} | {cell_s('close')} | "
                     f"{cell_s('echo')} | {ref_text} |")
    lines.append("")
    for name in systems:
        for body in SYSCALLS_REPORTED:
            if body in sysc.get(name, {}):
                per = sysc[name][body]["per_call"]
                failed = sysc[name][body]["failed"]
                unit = "echo" if body == "echo" else "request"
                lines.append(f"- syscalls/{unit}, {name} {body}: " + ", ".join(
                    f"{k} {v:.3f}" + (f" ({failed[k]:.3f} failed, e.g. EAGAIN)"
                                      if failed.get(k, 0) >= 0.001 else "")
                    for k, v in per.items() if v >= 0.001))
    lines.append("")
    for name, body in [(name, body) for name in systems for body in ("small", "close")]:
        if body not in instr.get(name, {}):
            continue
        dump = instr[name][body]["dump"]
        n = instr[name][body]["requests"]
        what = "small body" if body == "small" else "a new connection per request"
        listings = [(False, None, "self")]
        if body == "small":
            listings.append((True, None, "inclusive"))
            if name == "tenantgate":
                listings.append((True, "tg::",
                                 "inclusive, tenantgate's own (tg::) functions only,"))
        for inclusive, only, kind in listings:
            rows = annotate(dump, inclusive, args.top, only)
            lines += [f"## {name}: top {args.top} functions by {kind} cost ({what}, "
                      f"instructions per request)", "", "| instr/req | % | function |",
                      "|---|---|---|"]
            total = instr[name][body]["instructions"]
            for ir, fn in rows:
                lines.append(f"| {ir / n:,.0f} | {100 * ir / total:.1f} | "
                             f"`{shorten(fn)}` |")
            lines.append("")
            if only:
                continue
            listing = raw / f"annotate.{name}.{body}.{kind}.txt"
            listing.write_text(subprocess.run(
                ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
                 "--threshold=99.9", dump],
                capture_output=True, text=True, timeout=300).stdout)
    lines.append(f"Raw callgrind dumps and full callgrind_annotate listings: {raw}")
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    if (instr or sysc) and not args.no_write:
        path = BENCH / "results" / f"callgrind-{stamp}.md"
        n = 2
        while path.exists():
            path = BENCH / "results" / f"callgrind-{stamp}-{n}.md"
            n += 1
        path.write_text(report)
        (raw / "profile.json").write_text(json.dumps({"instructions": instr, "syscalls": sysc},
                                                     indent=1))
        print(f"written: {path}")
    if code == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"profile: logs kept in {tmp}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
