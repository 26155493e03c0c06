#!/usr/bin/python3
"""tenantgate vs HAProxy vs nginx (and the origin alone), in one run. See bench/README.md.

    /usr/bin/python3 bench/bench.py [--smoke | --full] [--reps N] [--duration S]
                                    [--tunnels N] [--workers 1|2] [--proxy-cpu PERCENT]
                                    [--plain-peers] [--out FILE]
                                    [--systems origin,tenantgate,haproxy,nginx]
                                    [--skip wrk,tls,tunnels,keepalive,tlskeepalive,
                                            longpolling]

--smoke: 1 repetition, 1 s runs, 1,000 tunnels (fewer if the fd limit is lower); < 2 minutes;
         exits non-zero only on a broken run, never on a timing.
--full:  5 repetitions; writes bench/results/<date>.md (+ .json) and prints the table.
Scenarios: plain HTTP with wrk (keep-alive 100 B at 50 and 256 connections, 16 KiB,
Connection: close), TLS (keep-alive over https with wrk; full handshakes with tls_client.py),
idle WebSocket tunnels, idle keep-alive connections (plain, and over TLS: at most
MODES' tls_idle of them), longpolling mix.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import (BENCH, CLIENT_CORE, HOST_HEADER, PYTHON, BenchError, Proc,  # noqa: E402
                    poll, reset_peak_rss, total_cpu_seconds, total_cpu_times,
                    total_status_kib)

MODES = {
    # run and warm-up in seconds; poll_ms: how long each parked long poll waits upstream;
    # tls_idle: the most idle TLS connections opened (each a full handshake by the Python
    # client: fewer than --tunnels keeps the run short)
    "smoke": dict(reps=1, duration=1, warmup=1, tunnels=1000, probes=200, poll_ms=5000,
                  tls_idle=200),
    "full": dict(reps=5, duration=10, warmup=3, tunnels=10000, probes=2000, poll_ms=30000,
                 tls_idle=2000),
}


class Scenario:
    """client "wrk" (keep-alive unless close) or "tls_client" (bench/tls_client.py: a new TLS
    connection per request, full handshake each); tls: on the proxies' TLS listeners (the
    origin has none, so it has no row there)."""

    def __init__(self, key, title, path, connections, close=False, tls=False, client="wrk",
                 note=""):
        self.key, self.title, self.path = key, title, path
        self.connections, self.close, self.tls, self.client = connections, close, tls, client
        self.note = note


SYSTEMS = ["origin", "tenantgate", "haproxy", "nginx"]
SKIPPABLE = ["wrk", "tls", "tunnels", "keepalive", "tlskeepalive", "longpolling"]
# The idle-connection scenarios (bench/idle_client.py modes), as the report names them.
IDLE_KINDS = {"tunnels": "idle WebSocket tunnels",
              "keepalive": "idle keep-alive client connections",
              "tlskeepalive": "idle TLS keep-alive client connections"}

WRK_SCENARIOS = [
    Scenario("ka-small-50", "Keep-alive, 100 B responses, 50 connections", "/small", 50),
    Scenario("ka-small-256", "Keep-alive, 100 B responses, 256 connections", "/small", 256),
    Scenario("ka-16k-50", "Keep-alive, 16 KiB responses, 50 connections", "/16k", 50),
    Scenario("close-small-50",
             "New client connection per request (`Connection: close`), 100 B, 50 connections",
             "/small", 50, close=True),
    Scenario("tls-ka-small-50", "TLS: keep-alive, 100 B responses, 50 connections (wrk over "
             "https)", "/small", 50, tls=True,
             note="wrk over https, 50 keep-alive connections: one handshake per connection, "
                  "then the per-request cost of TLS records (decrypt the request, encrypt the "
                  "answer) on top of the proxy path."),
    Scenario("tls-handshake", "TLS: full handshake per request (new connection, no "
             "resumption), 100 B, 8 concurrent connections", "/small", 8, close=True, tls=True,
             client="tls_client",
             note="Client: bench/tls_client.py (8 threads, each: connect, full TLS handshake, "
                  "`GET /small` with `Connection: close`, read to the server's close); req/s = "
                  "full handshakes/s. It never resumes (every connection checked with "
                  "session_reused). The client side (its own handshake half: ECDHE + "
                  "ECDSA verify, in Python) shares CPU 0 with the origin and is usually the "
                  "bottleneck, so compare CPU µs/req (the proxy's cost of one handshake + one "
                  "proxied request) more than req/s."),
]


class Run:
    """One benchmark run and everything it found broken."""

    def __init__(self, args, tmp: pathlib.Path):
        self.args = args
        self.tmp = tmp
        self.problems: list[str] = []
        self.warnings: list[str] = []  # errors seen that do not make the run broken
        self.results: dict = {"wrk": [], "tunnels": [], "keepalive": [], "tlskeepalive": [],
                              "longpolling": []}
        self.tls_info: dict = {}  # system -> {"1.3": {...}, "1.2": {...}} from check_tls
        self.lua = tmp / "wrk-report.lua"
        shutil.copy(BENCH / "templates" / "wrk-report.lua", self.lua)

    def problem(self, text: str) -> None:
        self.problems.append(text)
        print(f"  BROKEN: {text}", file=sys.stderr, flush=True)

    def stop_checked(self, system, context: str) -> None:
        """Stops the system (SIGTERM, SIGKILL after common.STOP_TIMEOUT) and judges the exit: a
        death by another signal is a crash (BROKEN); a non-zero code or the SIGKILL, an error."""
        if not system.alive():
            return
        code = system.stop()
        if code in (0, -signal.SIGTERM):
            return
        if code == -signal.SIGKILL:
            self.warning(f"{system.name} did not exit within {common.STOP_TIMEOUT:.0f} s of "
                         f"SIGTERM ({context}): killed")
        elif code is not None and code < 0:
            self.problem(f"{system.name} died of signal {-code} on SIGTERM ({context}); stderr "
                         f"tail:\n{system.proc.tail()}")
        else:
            self.warning(f"{system.name} exited with code {code} on SIGTERM ({context})")

    def warning(self, text: str) -> None:
        self.warnings.append(text)
        print(f"  ERRORS (not fatal): {text}", file=sys.stderr, flush=True)

    # ---- wrk -------------------------------------------------------------------------------
    def wrk(self, port: int, path: str, connections: int, duration: int,
            close: bool = False, https: bool = False) -> dict:
        cmd = ["taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
               "--latency", "--timeout", "5s", "-s", str(self.lua), "-H", f"Host: {HOST_HEADER}"]
        if close:
            cmd += ["-H", "Connection: close"]
        cmd.append(f"{'https' if https else 'http'}://127.0.0.1:{port}{path}")
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk did not finish: {' '.join(cmd)}")
        for line in out.stdout.splitlines():
            if line.startswith("WRKJSON "):
                result = json.loads(line[8:])
                result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
                result["errors"] = sum(result[k] for k in
                                       ("connect", "read", "write", "status", "timeout"))
                return result
        raise BenchError(f"wrk printed no summary (exit {out.returncode}): {out.stderr.strip()}"
                         f"\n{out.stdout.strip()[-500:]}")

    def tls_client(self, port: int, path: str, connections: int, duration: int) -> dict:
        """bench/tls_client.py: full handshakes, one request each; the same fields as wrk's."""
        cmd = ["taskset", "-c", CLIENT_CORE, PYTHON, str(BENCH / "tls_client.py"),
               "--port", str(port), "--path", path, "--connections", str(connections),
               "--duration", str(duration), "--host-header", HOST_HEADER,
               "--expect-bytes", str(common.SMALL_BYTES if path == "/small" else
                                     common.LARGE_BYTES)]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 90)
        except subprocess.TimeoutExpired:
            raise BenchError(f"tls_client.py did not finish: {' '.join(cmd)}")
        try:
            result = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise BenchError(f"tls_client.py printed no summary (exit {out.returncode}): "
                             f"{out.stderr.strip()[-800:]}")
        result["rps"] = result["ok"] / (result["duration_us"] / 1e6)
        result["errors"] += result["resumed"]  # a resumed handshake is not what we measure
        return result

    def run_client(self, system, scenario: Scenario, duration: int) -> dict:
        port = system.tls_port if scenario.tls else system.port
        if scenario.client == "tls_client":
            return self.tls_client(port, scenario.path, scenario.connections, duration)
        return self.wrk(port, scenario.path, scenario.connections, duration, scenario.close,
                        https=scenario.tls)

    def measured_wrk(self, system, scenario: Scenario, duration: int) -> dict:
        """One client run with the system's CPU time and peak RSS around it."""
        pids = system.stats_pids()
        for pid in pids:
            reset_peak_rss(pid)
        user0, kernel0 = total_cpu_times(pids)
        w = self.run_client(system, scenario, duration)
        user1, kernel1 = total_cpu_times(pids)
        cpu = (user1 - user0) + (kernel1 - kernel0)
        w["cpu_us_per_req"] = cpu * 1e6 / w["requests"] if w["requests"] else None
        w["kernel_share"] = (kernel1 - kernel0) / cpu if cpu > 0 else 0.0
        w["peak_rss_kib"] = total_status_kib(pids, "VmHWM")
        return w

    def ensure_alive(self, system, context: str) -> None:
        if system.alive():
            return
        code = system.proc.popen.returncode if system.proc else None
        self.problem(f"{system.name} is not running {context} (exit code {code}); "
                     f"stderr tail:\n{system.proc.tail() if system.proc else ''}")
        system.start()

    def check_wrk(self, system, scenario_key: str, w: dict) -> None:
        """A scenario is BROKEN when no request succeeded or when failures (errors and
        non-2xx/3xx answers; not timeouts, which are timing) are at least half of the requests.
        Fewer failures, and any timeout, are reported as errors seen (not fatal)."""
        if "resumed" in w:  # tls_client.py
            failed = w["errors"] - w["timeouts"]
            attempts, ok = w["requests"], w["ok"]
            text = (f"tls_client.py: {ok} of {attempts} requests answered 200 with the right "
                    f"body; {w['resumed']} handshakes resumed, {w['timeouts']} timeouts; "
                    f"errors: {w['error_samples']}")
        else:
            failed = w["connect"] + w["read"] + w["write"] + w["status"]
            attempts = w["requests"] + w["connect"] + w["read"] + w["write"] + w["timeout"]
            ok = w["requests"] - w["status"]
            text = (f"wrk: {w['requests']} answers, of which non-2xx/3xx {w['status']}; socket "
                    f"errors: connect {w['connect']}, read {w['read']}, write {w['write']}, "
                    f"timeout {w['timeout']}")
        if ok <= 0 or 2 * failed >= attempts:
            self.problem(f"{system.name} / {scenario_key}: {text}")
        elif w["errors"]:
            self.warning(f"{system.name} / {scenario_key}: {text}")

    def wrk_scenarios(self, all_systems: list, skip: set) -> None:
        a = self.args
        for scenario in WRK_SCENARIOS:
            if ("tls" if scenario.tls else "wrk") in skip:
                continue
            systems = [s for s in all_systems if s.tls_port or not scenario.tls]
            if not systems:
                continue
            print(f"[{scenario.key}] warm-up {a.warmup}s each", flush=True)
            for system in systems:
                self.ensure_alive(system, f"before {scenario.key}")
                try:
                    self.run_client(system, scenario, a.warmup)
                except BenchError as e:
                    self.problem(f"{system.name} / {scenario.key} warm-up: {e}")
            for rep in range(a.reps):
                for system in systems:  # interleaved: A B C D A B C D ...
                    self.ensure_alive(system, f"before {scenario.key} #{rep + 1}")
                    try:
                        w = self.measured_wrk(system, scenario, a.duration)
                    except BenchError as e:
                        self.problem(f"{system.name} / {scenario.key} #{rep + 1}: {e}")
                        continue
                    w.update(scenario=scenario.key, system=system.name, rep=rep)
                    self.results["wrk"].append(w)
                    self.check_wrk(system, scenario.key, w)
                    print(f"  #{rep + 1} {system.name:<10} {w['rps']:>9.0f} req/s  "
                          f"p50 {w['p50'] / 1000:6.2f} ms  p99 {w['p99'] / 1000:6.2f} ms  "
                          f"cpu {w['cpu_us_per_req'] or 0:6.1f} us/req "
                          f"({w['kernel_share'] * 100:3.0f} % kernel)  "
                          f"rss {w['peak_rss_kib'] / 1024:6.1f} MiB  errors {w['errors']}",
                          flush=True)
                    if not system.alive():
                        self.ensure_alive(system, f"after {scenario.key} #{rep + 1}")

    # ---- 10,000 idle WebSocket tunnels, or idle keep-alive connections ---------------------
    def idle_connections(self, proxies: list, ws, kind: str) -> None:
        """kind "tunnels": idle WebSocket tunnels; "keepalive": keep-alive client connections
        left idle after one request; "tlskeepalive": the same on the TLS listeners (proxies
        without one are left out), at most a.tls_idle of them. Each repetition starts every
        proxy afresh, so RSS per connection is what the connections added."""
        a = self.args
        what = IDLE_KINDS[kind]
        tls = kind == "tlskeepalive"
        count = min(a.tunnels, a.tls_idle) if tls else a.tunnels
        proxies = [p for p in proxies if p.tls_port or not tls]
        if not proxies:
            return
        print(f"[{kind}] {count} {what}, fresh proxy each time", flush=True)
        for rep in range(a.reps):
            for proxy in proxies:
                self.stop_checked(proxy, f"before the {kind} #{rep + 1}")
                proxy.start()
                pids = proxy.stats_pids()
                rss_before = total_status_kib(pids, "VmRSS")
                upgrades0 = ws.stats()["upgrades"]
                target = (["--port", proxy.tls_port, "--ca", proxy.tls.ca_pem] if tls else
                          ["--port", proxy.port])  # the TLS port is new at each start
                client = Proc(f"{kind}-{proxy.name}-{rep}",
                              [PYTHON, BENCH / "idle_client.py", kind, *target,
                               "--count", count], self.tmp, core=CLIENT_CORE,
                              stdout_pipe=True, stdin_pipe=True)
                row = {"system": proxy.name, "rep": rep, "connections": count,
                       "rss_before_kib": rss_before}
                try:
                    opened = client.read_json_line(120 + count / 50, f"{what} to open")
                    row.update(opened=opened["opened"], failed=opened["failed"],
                               open_seconds=opened["open_seconds"])
                    if opened["failed"]:
                        self.problem(f"{proxy.name}: {opened['failed']} of {count} {what} "
                                     f"failed to open: {opened['errors']}")
                    upgrades = ws.stats()["upgrades"] - upgrades0
                    if kind == "tunnels" and upgrades < opened["opened"]:
                        self.problem(f"{proxy.name}: {opened['opened']} tunnels open but only "
                                     f"{upgrades} reached the upstream")
                    row["rss_with_kib"] = total_status_kib(pids, "VmRSS")
                    row["kib_per_connection"] = ((row["rss_with_kib"] - rss_before) /
                                                 max(1, opened["opened"]))
                    row["cpu_s_open"] = total_cpu_seconds(pids)
                    client.send_line(f"probe {a.probes}")
                    probe = client.read_json_line(120, "probes")
                    row.update(probe_p50_ms=probe["p50_ms"], probe_p99_ms=probe["p99_ms"],
                               probe_max_ms=probe["max_ms"], probe_failed=probe["failed"])
                    if probe["failed"]:
                        self.problem(f"{proxy.name}: {probe['failed']} of {a.probes} probes "
                                     f"over the open {what} failed")
                    client.send_line("close")
                    client.read_json_line(60, f"{what} to close")
                    if kind == "tunnels":
                        closed_at = time.monotonic()
                        poll(lambda: ws.stats()["websockets"] == 0, 60,
                             f"{proxy.name} to close the upstream side of closed tunnels")
                        row["upstream_closed_s"] = time.monotonic() - closed_at
                except BenchError as e:
                    self.problem(f"{proxy.name} / {kind}: {e}")
                finally:
                    client.stop()
                self.results[kind].append(row)
                print(f"  #{rep + 1} {proxy.name:<10} opened {row.get('opened')} in "
                      f"{row.get('open_seconds')} s  rss {rss_before / 1024:.1f} -> "
                      f"{row.get('rss_with_kib', 0) / 1024:.1f} MiB "
                      f"({row.get('kib_per_connection', 0):.2f} KiB each)  probe p50 "
                      f"{row.get('probe_p50_ms')} ms p99 {row.get('probe_p99_ms')} ms", flush=True)
                self.ensure_alive(proxy, f"after the {kind} #{rep + 1}")

    # ---- longpolling mix ------------------------------------------------------------------
    def longpolling(self, proxies: list, ws) -> None:
        a = self.args
        parked = a.tunnels
        short = Scenario("lp-mix", "short", "/small", 50)
        print(f"[longpolling] wrk 50 conns on /small, without and with {parked} connections "
              f"parked in /longpolling/poll?ms={a.poll_ms}", flush=True)
        for rep in range(a.reps):
            for proxy in proxies:
                self.ensure_alive(proxy, f"before the longpolling mix #{rep + 1}")
                row = {"system": proxy.name, "rep": rep, "parked": parked}
                base = self.measured_wrk(proxy, short, a.duration)
                self.check_wrk(proxy, "longpolling mix (baseline)", base)
                row["without"] = base
                polls0 = ws.stats()["poll_requests"]
                client = Proc(f"poll-{proxy.name}-{rep}",
                              [PYTHON, BENCH / "idle_client.py", "poll", "--port", proxy.port,
                               "--count", parked, "--ms", a.poll_ms], self.tmp, core=CLIENT_CORE,
                              stdout_pipe=True, stdin_pipe=True)
                try:
                    sent = client.read_json_line(120 + parked / 50, "polls to be sent")
                    if sent["failed"]:
                        self.problem(f"{proxy.name}: {sent['failed']} of {parked} long polls "
                                     f"failed to connect: {sent['errors']}")
                    poll(lambda: ws.stats()["poll_requests"] - polls0 >= sent["sent"], 60,
                         f"{sent['sent']} polls through {proxy.name} to reach the upstream")
                    with_parked = self.measured_wrk(proxy, short, a.duration)
                    self.check_wrk(proxy, "longpolling mix (with parked)", with_parked)
                    row["with"] = with_parked
                    client.send_line("status")
                    status = client.read_json_line(30, "poll status")
                    if status["failed"]:
                        self.problem(f"{proxy.name}: {status['failed']} parked long polls failed "
                                     f"while parked")
                    row["parked_answered_early"] = status["answered"]
                    client.send_line("close")
                    client.read_json_line(60, "polls to close")
                    # Does the proxy give up the upstream poll when its client goes away?
                    # (Waited for, bounded, so parked polls never pile up in the upstream.)
                    closed_at = time.monotonic()
                    poll(lambda: ws.stats()["polls"] == 0, a.poll_ms / 1000 + 15,
                         f"parked polls through {proxy.name} to end at the upstream")
                    row["upstream_released_s"] = time.monotonic() - closed_at
                except BenchError as e:
                    self.problem(f"{proxy.name} / longpolling: {e}")
                finally:
                    client.stop()
                self.results["longpolling"].append(row)
                w = row.get("with") or {}
                print(f"  #{rep + 1} {proxy.name:<10} p99 without {base['p99'] / 1000:.2f} ms, "
                      f"with {w.get('p99', 0) / 1000:.2f} ms; req/s {base['rps']:.0f} -> "
                      f"{w.get('rps', 0):.0f}", flush=True)


# ---- report ----------------------------------------------------------------------------------

def log_summary(tmp: pathlib.Path) -> dict:
    """Warnings and errors the systems logged during the run, counted by kind."""
    import collections
    import re
    found: dict = {}

    def count(system: str, key: str) -> None:
        found.setdefault(system, collections.Counter())[key[:160]] += 1

    for path in sorted(tmp.glob("tenantgate-*.stderr")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                if line.strip():
                    count("tenantgate", line.strip())
                continue
            if event.get("level") not in ("info", "debug"):
                detail = {k: v for k, v in event.items() if k not in ("time", "level")}
                detail = re.sub(r":\d{2,5}\b", ":PORT", json.dumps(detail))
                count("tenantgate", f"{event.get('level')}: {detail}")
    for path in sorted(tmp.glob("haproxy-*.stderr")):
        for line in path.read_text(errors="replace").splitlines():
            if "[WARNING]" in line or "[ALERT]" in line:
                count("haproxy", re.sub(r"\(\d+\)", "", line).strip())
    for name, log in (("nginx", "proxy-nginx-error.log"), ("origin", "origin-error.log")):
        path = tmp / log
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                m = re.search(r"\[(warn|error|crit|alert|emerg)\] \d+#\d+: (?:\*\d+ )?(.*)", line)
                if m and "worker_connections exceed open file resource limit" not in line:
                    # (that one is deliberate: see WORKER_CONNECTIONS in common.py)
                    text = re.sub(r", client: .*", "", m.group(2))
                    count(name, f"{m.group(1)}: {text}")
    return {k: dict(v.most_common(8)) for k, v in found.items()}


def spread(values: list, fmt: str = "{:.0f}") -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def ratios(rows_by_rep: dict, system: str, key: str) -> list:
    out = []
    for rep, rows in rows_by_rep.items():
        if system in rows and "haproxy" in rows:
            mine, ref = rows[system].get(key), rows["haproxy"].get(key)
            if mine is not None and ref:
                out.append(mine / ref)
    return out


def machine_info() -> dict:
    model = "unknown"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": os.cpu_count(), "model": model, "kernel": platform.release(),
            "loadavg": pathlib.Path("/proc/loadavg").read_text().split()[:3]}


def render_report(run: Run, meta: dict) -> str:
    a = run.args
    lines = [f"# tenantgate benchmark — {meta['date']}", ""]
    m = meta["machine"]
    lines += [
        f"- Machine: {m['nproc']} CPUs, {m['model']}, Linux {m['kernel']}; load average at "
        f"start {' '.join(meta['loadavg_start'])}, at end {' '.join(meta['loadavg_end'])}",
        f"- Versions: {meta['versions']['tenantgate']}; {meta['versions']['haproxy']}; "
        f"{meta['versions']['nginx']}; {meta['versions']['wrk']}",
        (f"- Pinning (taskset): each 1-worker proxy on CPU {common.PROXY_CORE}; "
         if common.PROXY_WORKERS == 1 else
         f"- Pinning (taskset): the {common.PROXY_WORKERS}-worker proxies unpinned (they share "
         f"both CPUs with the clients; CPU µs/req sums all their threads/processes); ")
        + f"wrk, the origin "
        f"nginx, ws_upstream.py and the idle-connection client on CPU {CLIENT_CORE}. The "
        f"`origin (direct)` rows have wrk and the origin sharing CPU {CLIENT_CORE} (the ceiling "
        f"of what the client side can drive).",
    ]
    if meta.get("proxy_cpu_percent"):
        held = meta["proxy_cpu_percent"]
        period_ms = common.CAP_PERIOD_US / 1000
        lines.append(
            f"- CPU quota (`--proxy-cpu {held}`): each proxy, all its threads and processes, "
            f"held to {held} % of one CPU by a cgroup CFS quota ({held / 100 * period_ms:g} ms "
            f"per {period_ms:g} ms period); "
            f"the origin and the clients are not held. The proxy, not the client core, then "
            f"limits req/s, so `req/s × HAProxy` compares what each proxy does with the same "
            f"CPU. A proxy whose quota is spent waits for the next period, which shows in "
            f"every latency.")
    lines += [
        f"- Open-file limit for every process: {meta['nofile']} (10,000 tunnels need 20,800; "
        f"this run used {a.tunnels:,} tunnels / parked polls)"
        + (f". {meta['tunnels_note']}" if meta.get("tunnels_note") else ""),
        f"- Mode: {meta['mode']}; {a.reps} repetition(s) of {a.duration} s per system and "
        f"scenario, systems interleaved run by run (A B C D A B C D ...), after a {a.warmup} s "
        f"warm-up each; wrk -t1, HTTP/1.1 keep-alive unless stated.",
        f"- Equivalent settings: {common.PROXY_WORKERS} worker(s)/thread(s) each, upstream keep-alive (tenantgate pool; "
        f"HAProxy `http-reuse always`; nginx `keepalive {common.Nginx.upstream_keepalive}`), "
        f"access logs off; "
        + ("HAProxy and nginx add the same forwarded headers as tenantgate "
           "(X-Forwarded-For/-Proto/-Host, X-Real-IP, X-Request-Id both ways, X-Tenant)."
           if not a.plain_peers else "HAProxy and nginx run plain (no added headers)."),
        "- Cells: median (min–max) over the repetitions. `× HAProxy`: the median of the "
        "per-repetition ratios to HAProxy's run of the same repetition (adjacent in time). "
        "CPU µs/req: the system's utime+stime (/proc/PID/stat, all threads; nginx: its worker) "
        "over the run ÷ requests; kernel %: the stime share of it. Peak RSS: VmHWM, reset "
        "before each run. Latencies from wrk.",
    ]
    if run.tls_info:
        checked = "; ".join(
            f"{name}: " + ", ".join(f"{i['version']} {i['cipher']}" for i in info.values())
            for name, info in run.tls_info.items())
        lines.append(
            "- TLS (the TLS sections): each proxy terminates TLS on a second listener with the "
            "same throwaway ECDSA P-256 leaf (signed by a throwaway CA, both made with the "
            "openssl CLI for this run), TLS 1.2 and 1.3 (the clients negotiate 1.3), ALPN "
            "http/1.1; session resumption as each does by default (tenantgate: tickets only, no "
            "session cache; HAProxy: tickets + its 20,000-entry session cache; nginx: tickets, "
            "no session cache), which none of the clients uses. "
            + ("All three add `Strict-Transport-Security` (tenantgate's default) and "
               "`X-Forwarded-Proto: https`. " if not a.plain_peers else
               "tenantgate adds `Strict-Transport-Security` (its default); the plain peers "
               "do not. ")
            + f"Checked before measuring (chain verified against the CA, 200 with 100 B, ALPN "
            f"http/1.1): {checked}.")
    lines.append("")
    by_scenario: dict = {}
    for w in run.results["wrk"]:
        by_scenario.setdefault(w["scenario"], {}).setdefault(w["rep"], {})[w["system"]] = w
    for scenario in WRK_SCENARIOS:
        reps = by_scenario.get(scenario.key, {})
        if not reps:
            continue
        lines += [f"## {scenario.title}", ""]
        if scenario.note:
            lines += [scenario.note, ""]
        lines += ["| system | req/s | req/s × HAProxy | p50 ms | p99 ms | CPU µs/req | "
                  "CPU × HAProxy | kernel % of CPU | peak RSS MiB | errors |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name in meta["systems"]:
            rows = [r[name] for r in reps.values() if name in r]
            if not rows:
                continue
            label = "origin (direct)" if name == "origin" else name
            lines.append(
                f"| {label} | {spread([r['rps'] for r in rows])} | "
                f"{spread(ratios(reps, name, 'rps'), '{:.2f}')} | "
                f"{spread([r['p50'] / 1000 for r in rows], '{:.2f}')} | "
                f"{spread([r['p99'] / 1000 for r in rows], '{:.2f}')} | "
                f"{spread([r['cpu_us_per_req'] for r in rows], '{:.1f}')} | "
                f"{spread(ratios(reps, name, 'cpu_us_per_req'), '{:.2f}')} | "
                f"{spread([r['kernel_share'] * 100 for r in rows], '{:.0f}')} | "
                f"{spread([r['peak_rss_kib'] / 1024 for r in rows], '{:.1f}')} | "
                f"{sum(r['errors'] for r in rows)} |")
        lines.append("")
        if scenario.client == "tls_client":
            seen = []
            for name in meta["systems"]:
                rows = [r[name] for r in reps.values() if name in r]
                if rows:
                    agg = {k: sorted({x for r in rows for x in r[k]}) for k in
                           ("versions", "ciphers", "alpn")}
                    seen.append(f"{name}: {'/'.join(agg['versions'])} "
                                f"{'/'.join(agg['ciphers'])}, ALPN {'/'.join(agg['alpn'])}, "
                                f"{sum(r['resumed'] for r in rows)} resumed of "
                                f"{sum(r['requests'] for r in rows)}")
            lines += ["Negotiated: " + "; ".join(seen) + ".", ""]

    for kind, what in IDLE_KINDS.items():
        rows_of_kind = run.results[kind]
        if not rows_of_kind:
            continue
        probe = ("echo round trips" if kind == "tunnels" else "GET /small requests")
        count = rows_of_kind[0]["connections"]
        probe_note = " (target p99 < 10 ms)." if kind == "tunnels" else "."
        if kind == "tlskeepalive":
            probe_note += (" Each connection: a full TLS handshake, one GET /small, then idle"
                           + (f"; {count:,} of them, not {a.tunnels:,}, to keep the run "
                              "short (each a full handshake by the Python client)"
                              if count < a.tunnels else "") + ".")
        lines += [f"## {count:,} {what} (fresh process each repetition)", "",
                  "RSS per connection = (VmRSS with the connections open − VmRSS before) ÷ "
                  f"connections. Probes: {a.probes} {probe} one at a time over the open "
                  "connections" + probe_note, "",
                  "| system | opened | RSS before MiB | RSS with them MiB | KiB per connection | "
                  "probe p50 ms | probe p99 ms | probe max ms | open time s |"
                  + (" upstream side closed after s |" if kind == "tunnels" else ""),
                  "|---|---|---|---|---|---|---|---|---|" + ("---|" if kind == "tunnels" else "")]
        for name in meta["proxies"]:
            rows = [r for r in rows_of_kind if r["system"] == name]
            if not rows:
                continue
            lines.append(
                f"| {name} | {spread([r.get('opened') for r in rows])} | "
                f"{spread([r['rss_before_kib'] / 1024 for r in rows], '{:.1f}')} | "
                f"{spread([r.get('rss_with_kib', 0) / 1024 for r in rows], '{:.1f}')} | "
                f"{spread([r.get('kib_per_connection') for r in rows], '{:.2f}')} | "
                f"{spread([r.get('probe_p50_ms') for r in rows], '{:.3f}')} | "
                f"{spread([r.get('probe_p99_ms') for r in rows], '{:.3f}')} | "
                f"{spread([r.get('probe_max_ms') for r in rows], '{:.2f}')} | "
                f"{spread([r.get('open_seconds') for r in rows], '{:.1f}')} |"
                + (f" {spread([r.get('upstream_closed_s') for r in rows], '{:.2f}')} |"
                   if kind == "tunnels" else ""))
        lines.append("")

    l_rows = run.results["longpolling"]
    if l_rows:
        lines += [f"## Longpolling mix: short requests with {a.tunnels:,} connections parked in "
                  f"`/longpolling/poll?ms={a.poll_ms}`", "",
                  "wrk: 50 keep-alive connections on `/small` (web route), run without, then "
                  "with the parked connections (same repetition, back to back). Last column: "
                  "time from the client closing its parked connections until the upstream saw "
                  "all its polls end (a proxy that does not propagate the close holds them "
                  f"until the {a.poll_ms / 1000:.0f} s answer).", "",
                  "| system | p99 ms without | p99 ms with parked | p50 ms without | "
                  "p50 ms with parked | req/s without | req/s with parked | peak RSS MiB "
                  "without | peak RSS MiB with parked | errors | "
                  "upstream polls released after client close, s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name in meta["proxies"]:
            rows = [r for r in l_rows if r["system"] == name]
            if not rows:
                continue
            wo = [r["without"] for r in rows]
            wi = [r["with"] for r in rows if "with" in r]
            lines.append(
                f"| {name} | {spread([w['p99'] / 1000 for w in wo], '{:.2f}')} | "
                f"{spread([w['p99'] / 1000 for w in wi], '{:.2f}')} | "
                f"{spread([w['p50'] / 1000 for w in wo], '{:.2f}')} | "
                f"{spread([w['p50'] / 1000 for w in wi], '{:.2f}')} | "
                f"{spread([w['rps'] for w in wo])} | {spread([w['rps'] for w in wi])} | "
                f"{spread([w['peak_rss_kib'] / 1024 for w in wo], '{:.1f}')} | "
                f"{spread([w['peak_rss_kib'] / 1024 for w in wi], '{:.1f}')} | "
                f"{sum(w['errors'] for w in wo + wi)} | "
                f"{spread([r.get('upstream_released_s') for r in rows], '{:.2f}')} |")
        lines.append("")

    if meta.get("logs"):
        lines += ["## Warnings and errors the systems logged (count: message)", ""]
        for system, kinds in meta["logs"].items():
            for text, n in kinds.items():
                lines.append(f"- {system}: {n} × `{text}`")
        lines.append("")
    if run.warnings:
        lines += ["## Errors seen (not fatal: under half of the scenario's requests failed, "
                  "or timeouts)", ""]
        lines += [f"- {w}" for w in run.warnings]
        lines.append("")
    if run.problems:
        lines += ["## BROKEN: problems found in this run", ""]
        lines += [f"- {p.splitlines()[0]}" for p in run.problems]
        lines.append("")
    lines.append(f"Command: `{meta['command']}`; wall time {meta['wall_seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


def results_path(stamp: str, suffix: str) -> pathlib.Path:
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    path = results / f"{stamp}{suffix}"
    n = 2
    while path.exists():
        path = results / f"{stamp}-{n}{suffix}"
        n += 1
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_const", dest="mode", const="smoke")
    group.add_argument("--full", action="store_const", dest="mode", const="full")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--duration", type=int, help="seconds per measured wrk run")
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--tunnels", type=int, help="idle tunnels / parked polls")
    parser.add_argument("--workers", type=int, choices=[1, 2], default=1,
                        help="workers/threads of each proxy (2: unpinned, sharing both CPUs)")
    parser.add_argument("--proxy-cpu", type=int, metavar="PERCENT",
                        help="hold each proxy to PERCENT of one CPU (cgroup CFS quota; needs "
                             "root), so that the proxy and not the client core limits req/s")
    parser.add_argument("--probes", type=int)
    parser.add_argument("--poll-ms", type=int, help="wait of each parked long poll")
    parser.add_argument("--plain-peers", action="store_true",
                        help="HAProxy/nginx without the forwarded headers tenantgate adds")
    parser.add_argument("--skip", default="",
                        help="comma list: " + ",".join(SKIPPABLE) + " (the certificates "
                             "and TLS listeners are made unless both tls and tlskeepalive are "
                             "skipped)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma list of the systems to run (default: all: "
                             + ",".join(SYSTEMS) + ")")
    parser.add_argument("--out", help="write the Markdown table here (default in full mode: "
                                      "bench/results/<date>.md)")
    args = parser.parse_args()
    args.mode = args.mode or "smoke"
    for key, value in MODES[args.mode].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    skip = set(filter(None, args.skip.split(",")))
    common.PROXY_WORKERS = args.workers
    if args.proxy_cpu is not None and not 1 <= args.proxy_cpu <= 100 * args.workers:
        parser.error(f"--proxy-cpu: 1 to {100 * args.workers} (per cent of one CPU)")
    common.PROXY_CPU_PERCENT = args.proxy_cpu
    wanted = [x for x in args.systems.split(",") if x]
    unknown = sorted(set(wanted) - set(SYSTEMS) - {""}) + sorted(skip - set(SKIPPABLE))
    if unknown:
        parser.error(f"unknown system or scenario group: {', '.join(unknown)}")
    if "origin" not in wanted:
        wanted.insert(0, "origin")  # every proxy needs it

    started = time.monotonic()
    if (os.cpu_count() or 1) < 2:
        common.PROXY_CORE = "0"
        print("warning: 1 CPU only: proxy and client share CPU 0", file=sys.stderr)
    for tool in ("nginx", "haproxy", "wrk", "taskset", "openssl"):
        if not shutil.which(tool):
            print(f"bench: {tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 1
    if "tenantgate" in wanted:
        try:
            common.tenantgate_binary()
        except BenchError as e:
            print(f"bench: {e}\n(or leave tenantgate out: --systems origin,haproxy,nginx)",
                  file=sys.stderr)
            return 1
    busy = subprocess.run(["pgrep", "-f", "cc1plus|ninja"], capture_output=True, text=True)
    if busy.stdout.strip():
        print("warning: a build is running on this machine: timings will be noisy",
              file=sys.stderr)
    loadavg_start = machine_info()["loadavg"]

    # The tunnels need 2 descriptors each in the proxy: raise the limit as far as allowed.
    # Smoke mode lowers the tunnel count to what fits (and says so); other modes stop here.
    common.raise_fd_limit(args.tunnels)
    tunnels_note = ""
    if common.nofile() < common.fd_needed(args.tunnels) and not skip >= {"tunnels",
                                                                         "longpolling"}:
        if args.mode != "smoke":
            print(f"bench: {common.fd_limit_message(args.tunnels)}", file=sys.stderr)
            return 1
        fits = max(0, common.max_tunnels())
        tunnels_note = (f"Smoke mode lowered the tunnel count from {args.tunnels:,} to {fits:,}: "
                        f"the open-file limit is {common.nofile()} (2 descriptors per tunnel "
                        f"+ {common.FD_RESERVE})")
        print(f"note: {tunnels_note}", file=sys.stderr, flush=True)
        args.tunnels = fits
        if fits < 10:
            skip |= {"tunnels", "longpolling"}
            tunnels_note += "; too few: the tunnel and longpolling scenarios were skipped"

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tenantgate-bench-"))
    run = Run(args, tmp)
    code = 0
    versions: dict = {}

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # so that `finally` stops every process started
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        # The certificates (and the proxies' TLS listeners) serve two groups: `--skip tls`
        # leaves out the wrk/tls_client TLS scenarios, the listeners stay for tlskeepalive.
        tls = None if skip >= {"tls", "tlskeepalive"} else common.TlsFiles(tmp).make()
        origin = common.Origin(tmp)
        proxies = []
        if "tenantgate" in wanted:
            binary = common.snapshot_binary(tmp)
            proxies.append(common.Tenantgate(tmp, 0, 0, binary=binary, tls=tls))
        if "haproxy" in wanted:
            proxies.append(common.HAProxy(tmp, 0, 0, plain_peers=args.plain_peers, tls=tls))
        if "nginx" in wanted:
            proxies.append(common.Nginx(tmp, 0, 0, plain_peers=args.plain_peers, tls=tls))
        origin.start()
        ws = common.WsUpstream(tmp)
        ws.start()
        for proxy in proxies:
            proxy.origin_port, proxy.ws_port = origin.port, ws.port
            proxy.start()
        versions = {p.name: p.version() for p in proxies}
        versions["wrk"] = common.tool_version(["wrk", "-v"]).split(" Copyright")[0]
        print(f"bench ({args.mode}): origin :{origin.port}, ws_upstream :{ws.port}, "
              + ", ".join(f"{p.name} :{p.port}" + (f" (TLS :{p.tls_port})" if p.tls_port else "")
                          for p in proxies) + f"; temp dir {tmp}", flush=True)
        run.wrk_scenarios([origin] + proxies, skip)
        for kind in IDLE_KINDS:
            if kind not in skip and proxies:
                run.idle_connections(proxies, ws, kind)
        if "longpolling" not in skip and proxies:
            run.longpolling(proxies, ws)
        for proxy in proxies:
            run.ensure_alive(proxy, "at the end")
        for proxy in proxies:
            run.stop_checked(proxy, "at the end")
        run.tls_info = {p.name: p.tls_info for p in proxies if p.tls_info}
    except BenchError as e:
        run.problem(str(e))
    except KeyboardInterrupt:
        run.problem("interrupted")
    except Exception as e:  # noqa: BLE001 - a bug of the harness: still stop everything, report
        import traceback
        traceback.print_exc()
        run.problem(f"harness error: {type(e).__name__}: {e}")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        common.stop_all()

    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": args.mode, "machine": machine_info(), "loadavg_start": loadavg_start,
        "loadavg_end": machine_info()["loadavg"],
        "versions": {k: versions.get(k, "not run" if k in SYSTEMS and k not in wanted else "?")
                     for k in ("tenantgate", "haproxy", "nginx", "wrk")},
        "systems": [x for x in SYSTEMS if x in wanted],
        "proxies": [x for x in SYSTEMS[1:] if x in wanted],
        "tunnels_note": tunnels_note, "plain_peers": args.plain_peers,
        "proxy_cpu_percent": args.proxy_cpu,
        "command": " ".join([os.environ.get("BENCH_COMMAND", "bench/bench.py")] + sys.argv[1:]),
        "wall_seconds": time.monotonic() - started, "nofile": common.nofile(),
        "logs": log_summary(tmp),
    }
    report = render_report(run, meta)
    print()
    print(report)
    if args.out or args.mode == "full":
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        md = pathlib.Path(args.out) if args.out else results_path(stamp, ".md")
        md.write_text(report)
        md.with_suffix(".json").write_text(json.dumps(
            {"meta": meta, "problems": run.problems, "errors_seen": run.warnings,
             **run.results}, indent=1))
        print(f"written: {md} (+ {md.with_suffix('.json').name})")
    if run.problems:
        print(f"bench: BROKEN run, {len(run.problems)} problem(s):", file=sys.stderr)
        for p in run.problems:
            print(f"  - {p}", file=sys.stderr)
        print(f"bench: logs kept in {tmp}", file=sys.stderr)
        code = 1
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
