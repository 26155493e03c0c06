#!/usr/bin/python3
"""Chaos run: tenantgate under steady keep-alive load while its dependencies fail and its config
is reloaded over and over. Loopback only, bounded in time; run through tests/chaos/run.sh.

Processes (all on 127.0.0.1, started here, stopped by PID): redis-server (state.redis: shared
budgets and state sync), two fake Odoo web workers (tests/fakes/odoo_upstream.py) in one pool
with active health checks, tenantgate with `workers: 2`, the admin API and a config of tenant
acme (rate and per-client limits, max_in_flight, budgets reconciled on Redis), tenant globex
(no limits) and --fillers (300) more tenants, so that what a reload builds is big enough for a
leak of it to show in the RSS.

Load: --connections (8) keep-alive connections, paced to --rate (400) GET/s in total,
alternating the acme and globex hosts, from a thread of this process. Every answer is read
whole and counted in the phase it was sent in: 200 is a success (a GET the proxy retried on the other endpoint included),
anything else (another status, a reset, a timeout, a connection refused) is a failure. The
limits are far above the load, so no 429 is expected: a 429 is a failure too.

Phases, each ended by a condition (bounded poll) or a fixed observation window:
  warm-up        load, 10 reloads by SIGHUP and 2 by the admin API (alternately valid and
                 invalid); then the load stops, connections close, and fd count and RSS are
                 taken once the fd count has stayed put for 3 s (the baseline)
  baseline       load again, 5 s window
  upstream-kill  kill -9 of endpoint A (B stays up); until A's upstream_endpoint_up is 0, then 5 s
  redis-kill     kill -9 of redis-server; until redis_up is 0, 5 s; redis restarted on the same
                 port; until redis_up is 1, then 3 s
  sighup         100 SIGHUPs (--sighups) alternating a valid changed config and an invalid
                 one; each waits for its "config reloaded" / "config reload failed" ops log
                 line. Endpoint A is still dead: its upstream_endpoint_up must still be 0 after
                 (a reload carries health over, it does not revive a dead endpoint)
  admin-reload   20 POST /api/v1/reload (--admin-reloads), alternately valid and invalid; each
                 checks its answer (200 / 400) and waits for its audit line and its ops log line
  recovery       endpoint A restarted on its port; until upstream_endpoint_up is 1 and A has
                 served load again, then 3 s
Then the load stops, connections close, and fd count and RSS are taken as for the baseline.

Verdict (exit 0 only if all hold): tenantgate still running and no sanitizer report; zero failed
requests in every phase; every phase made progress; every refused reload logged (SIGHUP: one
"config reload failed" line each; admin: one audit line with result "refused" and one
"config reload failed" line each) and every accepted one too; config_reloads_total{result}
equal to the reloads accepted and refused; fd count after == baseline (+/- FD_SLACK); RSS
after - baseline <= RSS_SLACK_KIB (both explained where they are defined).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CHAOS = pathlib.Path(__file__).resolve().parent
REPO = CHAOS.parents[1]
sys.path[:0] = [str(REPO / "tests" / "integration"), str(REPO / "bench")]

import harness  # noqa: E402
import tgconfig  # noqa: E402
from harness import fd_count, poll, vm_rss_kib  # noqa: E402
from loadgen import read_response  # noqa: E402
from redisproc import Redis  # noqa: E402
from test_metrics import PREFIX, scrape  # noqa: E402
from test_redis_budget import redis_up  # noqa: E402

HOSTS = ("erp.acme.test", "globex.test")
POOL = "odoo"
# Slow enough that a busy 2-core machine does not fail a live Python upstream's check.
HEALTH_CHECK = {"path": "/web/health", "interval": "500ms", "timeout": "400ms", "fall": 2,
                "rise": 2}
UPSTREAM_KEEPALIVE = 2.0  # s: the upstreams close idle keep-alives, so quiet fd counts settle
REQUEST_TIMEOUT = 10.0
WARMUP_SIGHUPS = 10
WARMUP_ADMIN_RELOADS = 2
# fds after == baseline +/- FD_SLACK. Both are taken with no client connected and no upstream
# keep-alive left (the upstreams close theirs after UPSTREAM_KEEPALIVE s), so what is left is
# listeners, epoll and event fds, log files and the Redis connections: the same set each time.
# The slack covers a health check's or Redis reconnect's socket caught while open.
FD_SLACK = 2
# RSS after - baseline. A config with the 300 filler tenants costs ~2.6 MiB more than one
# without (release build at rest: 13.4 vs 10.8 MiB), which is what each reload builds; after the
# baseline come 60 accepted and 60 refused reloads, so leaking a tenth of what one reload builds
# would add ~15 MiB. 8 MiB is below that and well above what glibc's arenas keep of freed memory
# over a run (0.3-0.5 MiB measured).
RSS_SLACK_KIB = 8 * 1024
SETTLE_STABLE = 3.0  # s the fd count must stay unchanged before a quiet measurement
SETTLE_TIMEOUT = 30.0


# ---- load --------------------------------------------------------------------------------------
class PhaseStats:
    def __init__(self):
        self.sent = 0
        self.ok = 0
        self.closed_by_proxy = 0  # 200s with Connection: close (not failures; reconnected)
        self.failures = collections.Counter()
        self.examples = []  # (seconds since start, host, reason), first few
        self.slowest = 0.0


class Load:
    """Paced keep-alive GETs over `connections` connections, in a thread with its own event
    loop. `phase` (set by the driver) labels the requests sent from then on."""

    def __init__(self, port: int, connections: int, rate: float, started: float):
        self.port = port
        self.connections = connections
        self.interval = connections / rate  # s between two requests of one connection
        self.started = started
        self.phase = "warm-up"
        self.stats: dict[str, PhaseStats] = collections.defaultdict(PhaseStats)
        self.open_connections = 0
        self._running = False
        self._thread = None
        self._lock = threading.Lock()

    def start(self) -> None:
        assert self._thread is None
        self._running = True
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Lets every in-flight request finish (each has REQUEST_TIMEOUT), closes connections."""
        self._running = False
        self._thread.join(REQUEST_TIMEOUT + 5)
        if self._thread.is_alive():
            raise RuntimeError("load thread did not stop")
        self._thread = None

    def ok_count(self, phase: str | None = None) -> int:
        with self._lock:
            return self.stats[phase or self.phase].ok

    async def _main(self) -> None:
        await asyncio.gather(*(self._connection(i) for i in range(self.connections)))

    def _record(self, phase: str, host: str, reason: str | None, seconds: float,
                closed: bool = False) -> None:
        with self._lock:
            s = self.stats[phase]
            s.slowest = max(s.slowest, seconds)
            if reason is None:
                s.ok += 1
                s.closed_by_proxy += closed
                return
            s.failures[reason] += 1
            if len(s.examples) < 10:
                s.examples.append((round(time.monotonic() - self.started, 3), host, reason))

    async def _connection(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + index * self.interval / self.connections
        reader = writer = None
        n = 0
        while self._running:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # Behind by more than a second (a stalled proxy): do not fire a backlog burst.
            next_at = max(next_at + self.interval, loop.time() - 1.0)
            host = HOSTS[(index + n) % len(HOSTS)]
            phase = self.phase
            with self._lock:
                self.stats[phase].sent += 1
            t0 = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", self.port), REQUEST_TIMEOUT)
                    self.open_connections += 1
                writer.write(f"GET /echo/chaos/{index}/{n} HTTP/1.1\r\nHost: {host}\r\n\r\n"
                             .encode())
                status, _, close = await read_response(reader, REQUEST_TIMEOUT)
                reason = None if status == 200 else f"status {status}"
            except asyncio.TimeoutError:
                reason, close = "timeout", True
            except (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError,
                    asyncio.LimitOverrunError) as e:
                reason, close = f"{type(e).__name__}: {e}"[:120], True
            self._record(phase, host, reason, time.monotonic() - t0, close and reason is None)
            n += 1
            if close and writer is not None:
                writer.close()
                self.open_connections -= 1
                reader = writer = None
        if writer is not None:
            writer.close()
            await writer.wait_closed()
            self.open_connections -= 1


# ---- configs -----------------------------------------------------------------------------------
def valid_config(endpoints: list, redis_url: str, fillers: int, variant: int) -> str:
    """A valid config; `variant` changes acme's limits and adds or removes a tenant, so each
    reload publishes a generation that differs from the last one."""
    pools = {POOL: {"web": endpoints, "balance": "round_robin", "health_check": HEALTH_CHECK}}
    tenants = {
        "acme": {"hosts": [HOSTS[0]], "pool": POOL,
                 "rate_limit": {"requests_per_second": 100000 + variant, "burst": 200000},
                 "per_client_rate_limit": {"requests_per_second": 50000, "burst": 100000},
                 "max_in_flight": 1000},
        "globex": {"hosts": [HOSTS[1]], "pool": POOL},
    }
    for i in range(fillers + variant % 2):
        tenants[f"filler{i}"] = {"hosts": [f"f{i}.filler.test", f"*.f{i}.filler.test"],
                                 "pool": POOL,
                                 "rate_limit": {"requests_per_second": 100, "burst": 200}}
    return tgconfig.render(pools, tenants,
                           timeouts={"upstream_connect": "1s", "upstream_response": "10s"},
                           state={"redis": redis_url, "key_prefix": "chaos:",
                                  "rate_limit_on_redis_failure": "local"})


def invalid_config(valid: str, variant: int) -> str:
    """`valid` broken in one of five ways, by `variant`."""
    kind = variant % 5
    if kind == 0:  # a tenant on a pool that does not exist
        return valid.replace('pool: "odoo"', 'pool: "odoo-missing"', 1)
    if kind == 1:  # YAML syntax error
        return valid + "tenants: [unclosed\n"
    if kind == 2:  # unknown key
        return valid + "no_such_key: 1\n"
    if kind == 3:  # a host claimed by two tenants
        return valid.replace('"globex.test"', f'"{HOSTS[0]}"', 1)
    return valid.replace('timeout: "400ms"', 'timeout: "5s"', 1)  # check timeout >= interval


# ---- measurements ------------------------------------------------------------------------------
def sanitizer_build(binary: str) -> bool:
    """True for an AddressSanitizer build (linked to libasan): it keeps freed memory in
    quarantine, so its RSS says nothing about leaks (LeakSanitizer reports those at exit)."""
    result = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=10)
    return "libasan" in result.stdout


def settle(pid: int) -> tuple[int, int, float]:
    """(fds, RSS KiB, seconds waited) once the fd count has not changed for SETTLE_STABLE s
    (bounded by SETTLE_TIMEOUT: then the last values)."""
    start = time.monotonic()
    last, since = fd_count(pid), time.monotonic()
    while time.monotonic() - start < SETTLE_TIMEOUT:
        time.sleep(0.25)
        now = fd_count(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= SETTLE_STABLE:
            break
    return last, vm_rss_kib(pid), time.monotonic() - start


def endpoint_up(p, endpoint: str) -> list:
    return [v for _, v in scrape(p).series(PREFIX + "upstream_endpoint_up", pool=POOL,
                                           endpoint=endpoint)]


# ---- the run -----------------------------------------------------------------------------------
class Run:
    def __init__(self, args, workdir: pathlib.Path):
        self.args = args
        self.workdir = workdir
        self.started = time.monotonic()
        self.problems: list[str] = []
        self.phase_seconds: dict[str, float] = {}
        self.reloads = collections.Counter()  # (trigger, "sent"/"refused sent"/"refused logged"...)
        self.redis = self.a = self.b = self.proxy = self.load = None
        self.valid_configs = self.invalid_configs = 0

    def log(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {text}", flush=True)

    # ---- configs
    def config(self, valid: bool) -> str:
        """The next valid config (each differs from the one before), or the next invalid one
        (the current valid one broken, the five ways in turn)."""
        if valid:
            self.valid_configs += 1
        else:
            self.invalid_configs += 1
        text = valid_config([self.a_addr, self.b.web_addr], self.redis.url, self.args.fillers,
                            self.valid_configs)
        return text if valid else invalid_config(text, self.invalid_configs)

    def ops_lines_since(self, seen: int) -> list:
        return self.proxy.ops_log_lines()[seen:]

    def sighup(self, valid: bool) -> None:
        line = self.proxy.reload(self.config(valid), timeout=15)
        self.reloads["sighup sent"] += 1
        if not valid:
            self.reloads["sighup refused sent"] += 1
            if line["msg"] == "config reload failed" and line.get("errors"):
                self.reloads["sighup refused logged"] += 1
            else:
                self.problems.append(f"invalid config by SIGHUP: {line}")
        elif line["msg"] == "config reloaded":
            self.reloads["sighup accepted logged"] += 1
        else:
            self.problems.append(f"valid config refused by SIGHUP: {line}")

    def admin_reload(self, valid: bool) -> None:
        seen = len(self.proxy.ops_log_lines())
        self.proxy.write_config(self.config(valid))
        resp = self.proxy.admin_call("POST", "/api/v1/reload", timeout=15)
        self.reloads["admin sent"] += 1
        want = 200 if valid else 400
        if resp.status != want:
            self.problems.append(f"admin reload of a {'valid' if valid else 'invalid'} config "
                                 f"answered {resp!r}")
        outcome = "config reloaded" if valid else "config reload failed"
        audit_result = "accepted" if valid else "refused"

        def logged():
            lines = self.ops_lines_since(seen)
            audit = [l for l in lines if l.get("action") == "reload"]
            ops = [l for l in lines if l.get("msg") in harness.RELOAD_MESSAGES]
            return (audit, ops) if audit and ops else None

        try:
            audit, ops = poll(logged, 5, "the admin reload's audit line and ops log line", 0.05)
        except AssertionError:
            lines = self.ops_lines_since(seen)
            audit = [l for l in lines if l.get("action") == "reload"]
            ops = [l for l in lines if l.get("msg") in harness.RELOAD_MESSAGES]
        key = "admin " + ("accepted" if valid else "refused")
        if not valid:
            self.reloads["admin refused sent"] += 1
        if [l.get("result") for l in audit] == [audit_result]:
            self.reloads[key + " audited"] += 1
        else:
            self.problems.append(f"admin reload ({audit_result}): audit lines {audit}")
        if [l.get("msg") for l in ops] == [outcome]:
            self.reloads[key + " logged"] += 1
        else:
            self.problems.append(f"admin reload ({audit_result}): ops log lines {ops}")

    # ---- phases
    def phase(self, name: str) -> None:
        if self.load:
            self.load.phase = name
        self.phase_started = time.monotonic()
        self.log(f"phase {name}")

    def end_phase(self, name: str, window: float = 0.0) -> None:
        """Observation window, then a progress check: the phase must have served load."""
        if window:
            time.sleep(window)
        self.phase_seconds[name] = time.monotonic() - self.phase_started
        s = self.load.stats[name]
        self.log(f"  {name}: {s.sent} sent, {s.ok} ok, {sum(s.failures.values())} failed")
        if s.ok < max(10, self.args.rate * self.phase_seconds[name] * 0.2):
            self.problems.append(f"phase {name}: only {s.ok} requests succeeded in "
                                 f"{self.phase_seconds[name]:.1f} s (load stalled?)")
        self.check_alive()

    def check_alive(self) -> None:
        if not self.proxy.alive():
            raise AssertionError(f"tenantgate exited with code {self.proxy.proc.returncode}")

    def quiet_measure(self, label: str) -> tuple[int, int]:
        self.load.stop()
        poll(lambda: self.load.open_connections == 0, 5, "load connections closed")
        fds, rss, waited = settle(self.proxy.pid)
        self.log(f"{label}: {fds} fds, RSS {rss} KiB (settled after {waited:.1f} s)")
        return fds, rss

    def wait_served_by(self, upstream, minimum: int, timeout: float) -> None:
        poll(lambda: sum(t.startswith("/echo/chaos/") for t in upstream.targets()) >= minimum,
             timeout, f"upstream {upstream.name} serving load", 0.1)

    def run(self) -> None:
        args = self.args
        self.redis = Redis(self.workdir).start()
        self.a = harness.Upstream("a", self.workdir, keepalive_timeout=UPSTREAM_KEEPALIVE)
        self.a_addr = self.a.web_addr
        self.b = harness.Upstream("b", self.workdir, keepalive_timeout=UPSTREAM_KEEPALIVE)
        self.proxy = harness.Proxy(args.binary, self.workdir / "tenantgate", self.config(True))
        pid = self.proxy.pid
        self.log(f"tenantgate pid {pid}, http port {self.proxy.port('http')}, admin port "
                 f"{self.proxy.admin_port}; redis {self.redis.port}; upstreams "
                 f"{self.a_addr} (A), {self.b.web_addr} (B)")
        poll(lambda: endpoint_up(self.proxy, self.a_addr) == [1]
             and endpoint_up(self.proxy, self.b.web_addr) == [1], 10, "both endpoints up", 0.1)
        poll(lambda: redis_up(self.proxy) == 1, 10, "redis_up 1", 0.1)

        self.load = Load(self.proxy.port("http"), args.connections, args.rate, self.started)
        self.load.start()
        self.phase("warm-up")
        poll(lambda: self.load.ok_count() >= args.rate * 3, 30, "warm-up load", 0.1)
        for i in range(WARMUP_SIGHUPS):
            self.sighup(valid=i % 2 == 0)
        for i in range(WARMUP_ADMIN_RELOADS):
            self.admin_reload(valid=i % 2 == 0)
        self.sighup(valid=True)  # leave a valid, serving config on disk
        poll(lambda: self.load.ok_count() >= args.rate * 8, 30, "warm-up load", 0.1)
        self.end_phase("warm-up")
        self.before = self.quiet_measure("before")
        self.load = self._restart_load()

        self.phase("baseline")
        self.end_phase("baseline", 5)

        self.phase("upstream-kill")
        self.a.proc.kill()  # SIGKILL, by PID
        self.a.proc.wait(10)
        self.log(f"  killed endpoint A ({self.a_addr})")
        poll(lambda: endpoint_up(self.proxy, self.a_addr) == [0], 10,
             "endpoint A ejected (upstream_endpoint_up 0)", 0.05)
        self.log("  endpoint A ejected")
        self.end_phase("upstream-kill", 5)

        self.phase("redis-kill")
        self.redis.kill()
        self.log("  killed redis-server")
        poll(lambda: redis_up(self.proxy) == 0, 10, "redis_up 0", 0.05)
        self.log("  redis_up 0")
        time.sleep(5)
        self.redis.start()
        self.log("  redis-server restarted")
        poll(lambda: redis_up(self.proxy) == 1, 15, "redis_up 1 again", 0.05)
        self.log("  redis_up 1")
        self.end_phase("redis-kill", 3)

        self.phase("sighup")
        for i in range(self.args.sighups):
            self.sighup(valid=i % 2 == 0)
            self.check_alive()
        if endpoint_up(self.proxy, self.a_addr) != [0]:
            self.problems.append(f"after the SIGHUPs the dead endpoint A is "
                                 f"upstream_endpoint_up {endpoint_up(self.proxy, self.a_addr)}")
        self.end_phase("sighup")

        self.phase("admin-reload")
        for i in range(self.args.admin_reloads):
            self.admin_reload(valid=i % 2 == 0)
            self.check_alive()
        self.end_phase("admin-reload")

        # The last admin reload was of an invalid file: put the served config back on disk.
        self.proxy.write_config(self.config(True))
        self.phase("recovery")
        self.a = harness.Upstream("a-restarted", self.workdir,
                                  keepalive_timeout=UPSTREAM_KEEPALIVE,
                                  web_port=int(self.a_addr.rsplit(":", 1)[1]))
        self.log("  endpoint A restarted")
        poll(lambda: endpoint_up(self.proxy, self.a_addr) == [1], 15,
             "endpoint A back (upstream_endpoint_up 1)", 0.05)
        self.wait_served_by(self.a, 20, 10)
        self.log("  endpoint A serving again")
        self.end_phase("recovery", 3)

        metrics = scrape(self.proxy)
        self.reload_metrics = {result: int(metrics.total(PREFIX + "config_reloads_total",
                                                         result=result))
                               for result in ("success", "failure")}
        self.after = self.quiet_measure("after")

    def _restart_load(self) -> Load:
        load = Load(self.proxy.port("http"), self.args.connections, self.args.rate, self.started)
        load.stats = self.load.stats  # one table of phases for the whole run
        load.start()
        return load

    def cleanup(self) -> None:
        if self.load and self.load._thread:
            self.load.stop()
        if self.proxy:
            self.problems += self.proxy.cleanup()
        for up in (self.a, self.b):
            if up:
                up.stop()
        if self.redis:
            self.redis.stop()

    # ---- report
    def report(self) -> bool:
        stats = self.load.stats if self.load else {}
        print("\n== chaos run ==")
        print(f"{'phase':14} {'seconds':>8} {'sent':>8} {'ok':>8} {'failed':>7} {'slowest ms':>11}"
              f"  failures")
        total = PhaseStats()
        for name, s in stats.items():
            failed = sum(s.failures.values())
            total.sent += s.sent
            total.ok += s.ok
            total.failures.update(s.failures)
            print(f"{name:14} {self.phase_seconds.get(name, 0):8.1f} {s.sent:8} {s.ok:8} "
                  f"{failed:7} {s.slowest * 1000:11.0f}  {dict(s.failures) or ''}")
            for example in s.examples:
                print(f"{'':16}e.g. at {example[0]} s, {example[1]}: {example[2]}")
            if failed:
                self.problems.append(f"phase {name}: {failed} failed requests "
                                     f"{dict(s.failures)}")
        print(f"{'total':14} {'':8} {total.sent:8} {total.ok:8} {sum(total.failures.values()):7}")
        r = self.reloads
        print(f"reloads by SIGHUP: {r['sighup sent']} sent; refused logged / refused sent: "
              f"{r['sighup refused logged']}/{r['sighup refused sent']}; accepted logged: "
              f"{r['sighup accepted logged']}")
        print(f"reloads by admin API: {r['admin sent']} sent; refused logged (ops log, audit) / "
              f"refused sent: {r['admin refused logged']}, {r['admin refused audited']}/"
              f"{r['admin refused sent']}; accepted logged (ops log, audit): "
              f"{r['admin accepted logged']}, {r['admin accepted audited']}")
        if hasattr(self, "reload_metrics"):
            refused = r["sighup refused sent"] + r["admin refused sent"]
            accepted = r["sighup sent"] + r["admin sent"] - refused
            got = self.reload_metrics
            print(f"config_reloads_total: success {got['success']} (accepted {accepted}), "
                  f"failure {got['failure']} (refused {refused})")
            if got != {"success": accepted, "failure": refused}:
                self.problems.append(f"config_reloads_total {got}: {accepted} accepted and "
                                     f"{refused} refused reloads were sent")
        if hasattr(self, "after"):
            (fb, rb), (fa, ra) = self.before, self.after
            print(f"fds: before {fb}, after {fa} (allowed +/-{FD_SLACK})")
            print(f"RSS: before {rb} KiB, after {ra} KiB, growth {ra - rb} KiB "
                  f"(allowed {RSS_SLACK_KIB} KiB)")
            if abs(fa - fb) > FD_SLACK:
                self.problems.append(f"fd count {fb} -> {fa}")
            if sanitizer_build(self.args.binary):
                print("RSS growth not judged: a sanitizer build (see sanitizer_build)")
            elif ra - rb > RSS_SLACK_KIB:
                self.problems.append(f"RSS {rb} -> {ra} KiB")
        print(f"duration: {time.monotonic() - self.started:.0f} s")
        for p in self.problems:
            print(f"PROBLEM: {p}")
        verdict = not self.problems and hasattr(self, "after")
        print("verdict: " + ("PASS" if verdict else "FAIL"))
        return verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.environ.get(
        "TENANTGATE_BIN", str(REPO / "build" / "release" / "tenantgate")))
    parser.add_argument("--rate", type=float, default=400, help="GET/s in total (default 400)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--fillers", type=int, default=300,
                        help="extra tenants in the config (default 300)")
    parser.add_argument("--sighups", type=int, default=100, help="SIGHUP phase's reloads")
    parser.add_argument("--admin-reloads", type=int, default=20,
                        help="admin-reload phase's reloads")
    parser.add_argument("--keep", action="store_true", help="keep the work dir even on success")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        print(f"no tenantgate binary at {args.binary} (build/release: see README)", file=sys.stderr)
        return 2
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="tenantgate-chaos-"))
    run = Run(args, workdir)
    passed = False
    try:
        run.run()
    except (AssertionError, RuntimeError, OSError) as e:
        run.problems.append(f"run stopped: {e}")
    finally:
        run.cleanup()
        passed = run.report()
    if passed and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"work dir (logs, configs): {workdir}")
    return 0 if passed else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
