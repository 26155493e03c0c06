#!/usr/bin/python3
"""Tenant updates at scale (issue 13): does adding tenants to a proxy that serves 20,000 of them
move the latency of the others?

Every system serves N tenants, half of them with a custom domain of their own besides their
template host (3N/2 host names), plus the measured tenant `calm.local`; all share one pool (the
origin nginx). `calm` gets a steady rate over keep-alive connections (wrk, paced by a Lua delay), measured alone ("quiet")
and while one new tenant (a new host) is added every --interval seconds ("updating"). How each
system adds one at run time:
  tenantgate  PUT /api/v1/tenants/NAME (validated, persisted to the state file, audited)
  haproxy     `add map` on its admin socket (in memory only: lost at the next reload)
  nginx       a server_name appended to an included file, then a reload (SIGHUP): nginx has no
              runtime API, this is what people leave it for
Phases and systems are interleaved run by run (PERF.md); proxies pinned to one core (tenantgate's
control thread shares it with its worker, as when workers = cores), clients and origin to the
other. Also printed: start-up time with N tenants and RSS per tenant.

  /usr/bin/python3 bench/tenant_updates.py [--smoke] [--tenants 20000] [--reps 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import BENCH, CLIENT_CORE, BenchError  # noqa: E402

CALM_HOST = "calm.local"
ADMIN_TOKEN = "bench-admin-token-0123456789"


def tenant_hosts(i: int) -> list[str]:
    hosts = [f"t{i}.erp.example.com"]
    if i % 2 == 0:
        hosts.append(f"erp.customer{i}.com")
    return hosts


# ---- the systems, each with N tenants and a way to add one -----------------------------------

class ScaledTenantgate(common.Tenantgate):
    """N runtime tenants in the state file (as if added through the API earlier)."""

    def __init__(self, *args, tenants: int, redis_url: str | None = None, replica: str = "",
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.tenants = tenants
        self.redis_url = redis_url  # replicas sharing their runtime state (bench/replica_updates.py)
        self.replica = replica      # names each replica's own files

    def command(self) -> list:
        state = self.tmp / f"tenantgate{self.replica}-{self.tenants}.state.json"
        definitions = {f"t{i}": {"definition": {"hosts": tenant_hosts(i), "pool": "origin"},
                                 "changed_ms": 1} for i in range(self.tenants)}
        state.write_text(json.dumps({"version": 1, "origin": "bench", "tenants": definitions}))
        token = self.tmp / "admin.token"
        token.write_text(ADMIN_TOKEN)
        token.chmod(0o600)
        conf = self.tmp / f"tenantgate{self.replica}-{self.tenants}.yaml"
        redis = f', redis: "{self.redis_url}"' if self.redis_url else ""
        conf.write_text(f"""workers: 1
access_log: "off"
audit_log: "{self.tmp / f'audit{self.replica}.log'}"
listeners: [{{name: http, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0", token_file: "{token}"}}
state: {{state_file: "{state}"{redis}}}
pools:
  origin: {{web: ["127.0.0.1:{self.origin_port}"]}}
tenants:
  bench: {{hosts: [bench.local, localhost, 127.0.0.1], pool: origin}}
  calm: {{hosts: [{CALM_HOST}], pool: origin}}
""")
        return [self.binary, "run", "--config", conf]

    def load_ms(self) -> float | None:
        for event in self._events():
            if event.get("msg") == "runtime tenants loaded":
                return float(event["ms"])
        return None

    def add_tenant(self, i: int) -> None:
        admin = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=30)
        body = json.dumps({"hosts": [f"erp.new{i}.com"], "pool": "origin"})
        admin.request("PUT", f"/api/v1/tenants/new{i}", body,
                      {"Authorization": f"Bearer {ADMIN_TOKEN}",
                       "Content-Type": "application/json"})
        resp = admin.getresponse()
        resp.read()
        admin.close()
        if resp.status != 201:
            raise BenchError(f"tenantgate: PUT new{i} answered {resp.status}")


class ScaledHAProxy(common.HAProxy):
    """Host -> backend map of 3N/2 entries; `add map` through the admin socket."""

    def __init__(self, *args, tenants: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenants = tenants
        self.map_file = self.tmp / f"hosts-{tenants}.map"
        self.socket_path = self.tmp / f"haproxy-{tenants}.sock"

    def command(self) -> list:
        self.port = common.free_port()
        lines = [f"{h} be_web" for i in range(self.tenants) for h in tenant_hosts(i)]
        lines += [f"{h} be_web" for h in ("bench.local", "localhost", "127.0.0.1", CALM_HOST)]
        self.map_file.write_text("\n".join(lines) + "\n")
        conf = self.tmp / f"haproxy-{self.tenants}.cfg"
        conf.write_text(f"""global
    nbthread 1
    maxconn 2000
    stats socket {self.socket_path} level admin
{common.HAPROXY_DEFAULTS}frontend fe_http
    bind 127.0.0.1:{self.port}
    use_backend %[req.hdr(host),field(1,:),lower,map({self.map_file},be_unknown)]
    default_backend be_unknown
backend be_unknown
    http-request deny deny_status 404
backend be_web
    server web1 127.0.0.1:{self.origin_port}
""")
        return ["haproxy", "-db", "-f", conf]

    def add_tenant(self, i: int) -> None:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(str(self.socket_path))
            s.sendall(f"add map {self.map_file} erp.new{i}.com be_web\n".encode())
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        if answer.strip():
            raise BenchError(f"haproxy: add map answered {answer!r}")


class ScaledNginx(common.Nginx):
    """One server block with 3N/2 server_names in an include; a new one is a reload."""

    def __init__(self, *args, tenants: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenants = tenants
        self.names = self.tmp / f"nginx-names-{tenants}.inc"

    def command(self) -> list:
        self.port = common.free_port()
        names = [h for i in range(self.tenants) for h in tenant_hosts(i)]
        names += ["bench.local", "localhost", "127.0.0.1", CALM_HOST]
        self.names.write_text("".join(f"server_name {n};\n" for n in names))
        conf = self.tmp / f"nginx-{self.tenants}.conf"
        conf.write_text(f"""daemon off;
worker_processes 1;
pid {self.tmp}/nginx-{self.tenants}.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_names_hash_max_size {max(1024, 4 * len(names))};
    server_names_hash_bucket_size 128;
    upstream origin {{ server 127.0.0.1:{self.origin_port}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{self.port} default_server;
        return 404;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        include {self.names};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
""")
        return ["nginx", "-p", self.tmp, "-e", self.tmp / f"nginx-{self.tenants}-error.log",
                "-c", conf]

    def add_tenant(self, i: int) -> None:
        host = f"erp.new{i}.com"
        with open(self.names, "a") as f:
            f.write(f"server_name {host};\n")
        self.proc.popen.send_signal(signal.SIGHUP)
        common.poll(lambda: common.http_get(self.port, "/small", host)[0] == 200, 30.0,
                    f"nginx to serve {host} after the reload")


# ---- the measured tenant's client: wrk, paced ------------------------------------------------

def paced_wrk_script(tmp: pathlib.Path, rate: float, connections: int) -> pathlib.Path:
    """wrk with a pause between each connection's requests (latency excludes the pause): a
    steady rate, measured by a client written in C, not a saturating one."""
    script = tmp / "wrk-paced.lua"
    script.write_text(f"function delay() return {connections * 1000 / rate:.3f} end\n" +
                      (BENCH / "templates" / "wrk-report.lua").read_text())
    return script


def measure(system, args, script: pathlib.Path, updating: bool, next_tenant: list[int]) -> dict:
    client = subprocess.Popen(
        ["taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{args.connections}",
         f"-d{args.seconds:.0f}s", "--latency", "--timeout", "5s", "-s", str(script), "-H",
         f"Host: {CALM_HOST}", f"http://127.0.0.1:{system.port}/small"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    update_ms: list[float] = []
    failure: list[str] = []
    if updating:
        def updates() -> None:
            time.sleep(args.interval / 2)  # noqa: wrk is sending before the first update
            deadline = time.monotonic() + args.seconds - args.interval
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    system.add_tenant(next_tenant[0])
                except (BenchError, OSError) as e:
                    failure.append(str(e))
                    return
                next_tenant[0] += 1
                update_ms.append((time.monotonic() - started) * 1e3)
                time.sleep(max(0.0, args.interval - (time.monotonic() - started)))  # noqa: pacing
        updater = threading.Thread(target=updates)
        updater.start()
    try:
        out, err = client.communicate(timeout=args.seconds + 60)
    except subprocess.TimeoutExpired:
        client.kill()
        raise BenchError(f"{system.name}: wrk did not finish")
    if updating:
        updater.join(args.seconds + 60)
    if failure:
        raise BenchError(failure[0])
    summary = [line for line in out.splitlines() if line.startswith("WRKJSON ")]
    if not summary:
        raise BenchError(f"{system.name}: wrk printed no summary: {err.strip()[-300:]}")
    result = json.loads(summary[0][8:])
    if result["status"] or not result["requests"]:
        raise BenchError(f"{system.name}: {result['status']} answers other than 2xx/3xx")
    if updating and not update_ms:
        raise BenchError(f"{system.name}: no update made")
    return {"count": result["requests"], "p50_ms": result["p50"] / 1e3,
            "p99_ms": result["p99"] / 1e3, "max_ms": result["max"] / 1e3,
            "socket_errors": sum(result[k] for k in ("connect", "read", "write", "timeout")),
            "updates": len(update_ms),
            "update_ms": statistics.median(update_ms) if update_ms else 0.0}


def rss_per_tenant(make, tenants: int) -> tuple:
    """(bytes of RSS per tenant, start-up seconds, the system started with `tenants`), from one
    start without them and one with them."""
    base = make(0)
    base.start()
    base_kib = common.total_status_kib(base.stats_pids(), "VmRSS")
    base.stop()
    full = make(tenants)
    started = time.monotonic()
    full.start(timeout=120)
    startup = time.monotonic() - started
    full_kib = common.total_status_kib(full.stats_pids(), "VmRSS")
    return (full_kib - base_kib) * 1024 / tenants, startup, full


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--tenants", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between updates")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--systems", default="tenantgate,haproxy,nginx")
    args = parser.parse_args()
    if args.smoke:
        args.tenants, args.reps, args.seconds = 2000, 1, 2.0
    os.sched_setaffinity(0, {int(CLIENT_CORE)})  # the update calls stay off the proxy's core
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tenantgate-updates-"))
    classes = {"tenantgate": ScaledTenantgate, "haproxy": ScaledHAProxy, "nginx": ScaledNginx}
    rows: dict = {}
    extra: dict = {}
    try:
        script = paced_wrk_script(tmp, args.rate, args.connections)
        origin = common.Origin(tmp)
        origin.start()
        systems = []
        for name in args.systems.split(","):
            cls = classes[name]
            kwargs = {"binary": common.snapshot_binary(tmp)} if name == "tenantgate" else {}

            def make(n, cls=cls, kwargs=kwargs):
                return cls(tmp, origin.port, 0, tenants=n, **kwargs)
            per_tenant, startup, system = rss_per_tenant(make, args.tenants)
            extra[name] = {"rss_per_tenant": per_tenant, "startup_s": startup,
                           "load_ms": system.load_ms() if name == "tenantgate" else None}
            systems.append(system)
        next_tenant = [0]
        for rep in range(args.reps):
            for updating in (False, True):
                for s in systems:
                    r = measure(s, args, script, updating, next_tenant)
                    rows.setdefault(s.name, {}).setdefault(updating, []).append(r)
                    print(f"  rep {rep + 1} {s.name:<10} {'updating' if updating else 'quiet':<8}"
                          f" p50 {r['p50_ms']:.3f} ms p99 {r['p99_ms']:.3f} ms max "
                          f"{r['max_ms']:.1f} ms ({r['count']} requests, {r['socket_errors']} "
                          f"socket errors" + (f", {r['updates']} updates of median "
                                           f"{r['update_ms']:.1f} ms)" if updating else ")"),
                          flush=True)
        for s in systems:
            if not s.alive():
                raise BenchError(f"{s.name} died")
    except BenchError as e:
        print(f"tenant_updates: BROKEN: {e} (files kept in {tmp})", file=sys.stderr)
        common.stop_all()
        return 1
    common.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)  # kept only for a broken run, as bench.py does
    print(f"\n`calm` at {args.rate:.0f} req/s over {args.connections} keep-alive connections, "
          f"{args.tenants} tenants ({args.tenants * 3 // 2} hosts), one tenant added every "
          f"{args.interval * 1000:.0f} ms; medians over {args.reps} runs of {args.seconds:.0f} s")
    # A p99 over seconds moves by milliseconds with the machine's noise (PERF.md): each run's
    # updating phase is compared with the quiet phase just before it, and the median of those
    # paired changes is the figure, with their range.
    print("| proxy | p50 quiet | p50 updating | p99 quiet | p99 updating | p99 change (paired "
          "median, range) | update call | start-up | RSS per tenant |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, phases in rows.items():
        def med(updating, key):
            return statistics.median(r[key] for r in phases[updating])
        changes = [u["p99_ms"] - q["p99_ms"] for q, u in zip(phases[False], phases[True])]
        print(f"| {name} | {med(False, 'p50_ms'):.3f} ms | {med(True, 'p50_ms'):.3f} ms | "
              f"{med(False, 'p99_ms'):.3f} ms | {med(True, 'p99_ms'):.3f} ms | "
              f"{statistics.median(changes):+.3f} ms ({min(changes):+.2f} to "
              f"{max(changes):+.2f}) | {med(True, 'update_ms'):.1f} ms | "
              f"{extra[name]['startup_s']:.2f} s | {extra[name]['rss_per_tenant']:.0f} B |")
    if extra.get("tenantgate", {}).get("load_ms") is not None:
        print(f"tenantgate: runtime tenants loaded in {extra['tenantgate']['load_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
