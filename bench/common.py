"""Shared machinery of the benchmark: processes, generated configs, the systems under test.

Rules kept here: everything listens on 127.0.0.1; every config is rendered from
bench/templates into the run's temp dir; every wait is a bounded poll on a condition; every
process is started by Popen here and stopped by its own PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import re
import resource
import selectors
import signal
import socket
import subprocess
import time

BENCH = pathlib.Path(__file__).resolve().parent
REPO = BENCH.parent
TEMPLATES = BENCH / "templates"
PYTHON = "/usr/bin/python3"  # the one with the standard library we rely on (not the PATH one)
CLIENT_CORE = "0"  # wrk / load clients and the origin(s)
PROXY_CORE = "1"   # the 1-worker proxy under test
PROXY_WORKERS = 1  # bench.py --workers: 2 leaves the proxies unpinned, sharing both CPUs
# bench.py --proxy-cpu: each proxy held to this many per cent of one CPU (None: not held), so
# that the proxy, not the client core, is what limits req/s.
PROXY_CPU_PERCENT: int | None = None
# bench/limits_cost.sh: the bench tenant's limits (YAML flow keys, with a leading ", "), none
# by default. Set so high that nothing is refused: only what checking them costs is measured.
TENANT_LIMITS = ""
HOST_HEADER = "bench.local"
SMALL_BYTES = 100
LARGE_BYTES = 16 * 1024
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


class BenchError(Exception):
    """A broken run: a system did not start, a request failed, a tunnel did not echo."""


def poll(condition, timeout: float, what: str, interval: float = 0.02):
    """Calls condition() until truthy (returned) or the deadline passes (BenchError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A port nothing listens on now (bound then released; 127.0.0.1 only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(template: str, dest: pathlib.Path, **values) -> pathlib.Path:
    """Writes templates/<template> with every @@KEY@@ replaced; unknown placeholders fail."""
    text = (TEMPLATES / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", str(value))
    left = re.findall(r"@@\w+@@", text)
    if left:
        raise BenchError(f"{template}: no value for {', '.join(sorted(set(left)))}")
    dest.write_text(text)
    return dest


# Descriptors a proxy needs beyond the tunnels' (or parked polls') sockets: wrk's 50 connections
# and their upstream keep-alives (up to 256 idle), listeners, epoll, pipes, log files, admin.
FD_RESERVE = 800


def nofile() -> int:
    """The open-file limit every child inherits (RLIMIT_NOFILE soft limit)."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def max_tunnels() -> int:
    """Tunnels the proxy can hold under the current limit: 2 sockets each, plus a reserve."""
    return (nofile() - FD_RESERVE) // 2


def raise_fd_limit(tunnels: int) -> int:
    """Raises RLIMIT_NOFILE (inherited by every child) as far as allowed, towards what a proxy
    needs to hold `tunnels` tunnels (a client and an upstream socket each). Returns the soft
    limit now in force; the caller checks it against fd_needed() (see max_tunnels())."""
    needed = fd_needed(tunnels)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(needed, 65536)
    for limits in ((target, max(hard, target)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fd_needed(tunnels: int) -> int:
    return 2 * tunnels + FD_RESERVE


def fd_limit_message(tunnels: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = fd_needed(tunnels)
    return (f"the open-file limit is {soft} (hard limit {hard}, and this process may not raise "
            f"it: CAP_SYS_RESOURCE is needed) but {tunnels:,} tunnels need {needed:,} "
            f"descriptors in the proxy ({tunnels:,} client + {tunnels:,} upstream sockets + "
            f"{FD_RESERVE}). Raise the hard limit (e.g. `ulimit -Hn {needed}` as a privileged "
            f"user, LimitNOFILE= in systemd, --ulimit nofile= in docker) or run fewer tunnels: "
            f"--tunnels {max_tunnels()} fits.")


# ---- processes -------------------------------------------------------------------------------

_STARTED: list["Proc"] = []


class Proc:
    """A child process, optionally pinned with taskset; output kept in the temp dir."""

    def __init__(self, name: str, argv: list, tmp: pathlib.Path, core: str | None = None,
                 stdout_pipe: bool = False, stdin_pipe: bool = False, cwd=None):
        self.name = name
        n = 1
        while (tmp / f"{name}.stderr").exists():  # never mix two processes' output
            n += 1
            name = f"{self.name}.{n}"
        self.err_path = tmp / f"{name}.stderr"
        self.out_path = tmp / f"{name}.stdout"
        self._err = open(self.err_path, "wb")
        self._out = None if stdout_pipe else open(self.out_path, "wb")
        cmd = (["taskset", "-c", core] if core is not None else []) + [str(a) for a in argv]
        self.argv = cmd
        self.popen = subprocess.Popen(
            cmd, stdout=subprocess.PIPE if stdout_pipe else self._out, stderr=self._err,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL, cwd=cwd)
        _STARTED.append(self)
        self._lines = b""

    @property
    def pid(self) -> int:
        return self.popen.pid  # taskset execs the command: same PID

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stderr_text(self) -> str:
        try:
            return self.err_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, n: int = 15) -> str:
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def read_json_line(self, timeout: float, what: str) -> dict:
        """Next JSON line on the (piped) stdout within timeout."""
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.popen.stdout, selectors.EVENT_READ)
        try:
            while True:
                if b"\n" in self._lines:
                    line, self._lines = self._lines.split(b"\n", 1)
                    line = line.strip()
                    if line.startswith(b"{"):
                        return json.loads(line)
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"{self.name}: timed out after {timeout:.0f}s waiting for "
                                     f"{what}\n{self.tail()}")
                if sel.select(min(left, 1.0)):
                    chunk = os.read(self.popen.stdout.fileno(), 65536)
                    if not chunk:
                        raise BenchError(f"{self.name}: exited (code {self.popen.wait()}) while "
                                         f"waiting for {what}\n{self.tail()}")
                    self._lines += chunk
        finally:
            sel.close()

    def send_line(self, line: str) -> None:
        self.popen.stdin.write((line + "\n").encode())
        self.popen.stdin.flush()

    def stop(self, sig=signal.SIGTERM) -> int | None:
        if self.alive():
            try:
                self.popen.send_signal(sig)
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        for f in (self._err, self._out, self.popen.stdin, self.popen.stdout):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        if self in _STARTED:
            _STARTED.remove(self)
        return self.popen.returncode


def stop_all() -> None:
    for proc in reversed(list(_STARTED)):
        proc.stop()
    for cap in reversed(list(_CAPS)):
        cap.remove()


# ---- CPU quota -------------------------------------------------------------------------------

_CAPS: list["CpuCap"] = []
CAP_PERIOD_US = 10_000  # short, so that a throttled proxy waits at most ~10 ms, not 100


class CpuCap:
    """A cgroup of its own that holds processes to `percent` of one CPU: a CFS quota over
    CAP_PERIOD_US, written as cpu.max (cgroup v2) or cpu.cfs_quota_us (v1). Needs root."""

    def __init__(self, name: str, percent: int):
        v2, v1 = pathlib.Path("/sys/fs/cgroup"), pathlib.Path("/sys/fs/cgroup/cpu")
        quota = CAP_PERIOD_US * percent // 100
        if "cpu" in _read(v2 / "cgroup.controllers").split():
            self.path = v2 / f"tenantgate-bench-{name}-{os.getpid()}"
            settings = {"cpu.max": f"{quota} {CAP_PERIOD_US}"}
        elif (v1 / "cpu.cfs_quota_us").exists():
            self.path = v1 / f"tenantgate-bench-{name}-{os.getpid()}"
            settings = {"cpu.cfs_period_us": str(CAP_PERIOD_US), "cpu.cfs_quota_us": str(quota)}
        else:
            raise BenchError("--proxy-cpu needs the cgroup cpu controller (v2 cpu.max or v1 "
                             "cpu.cfs_quota_us under /sys/fs/cgroup)")
        try:
            self.path.mkdir(exist_ok=True)
            _CAPS.append(self)
            for key, value in settings.items():
                (self.path / key).write_text(value)
        except OSError as e:
            raise BenchError(f"--proxy-cpu: cannot set up {self.path} ({e}); it needs root")

    def hold(self, pids: list[int]) -> None:
        """Moves the processes (all their threads) into the cgroup; their children follow."""
        for pid in pids:
            try:
                (self.path / "cgroup.procs").write_text(str(pid))
            except OSError as e:
                raise BenchError(f"--proxy-cpu: cannot move process {pid} into {self.path}: {e}")

    def remove(self) -> None:
        """Once its processes are gone (stopped by PID before this)."""
        if self in _CAPS:
            _CAPS.remove(self)
        deadline = time.monotonic() + 5.0
        while self.path.exists():
            try:
                self.path.rmdir()
            except OSError as e:  # EBUSY while an exiting process is still listed
                if time.monotonic() > deadline:
                    print(f"warning: could not remove {self.path}: {e}", flush=True)
                    return
                time.sleep(0.05)


def _read(path: pathlib.Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# ---- /proc readings --------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """utime and stime of the whole process (all threads), in seconds."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        raise BenchError(f"process {pid} is gone (it exited or crashed)")
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # fields 14 and 15 of stat(5)


def status_kib(pid: int, key: str) -> int:
    try:
        text = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        raise BenchError(f"process {pid} is gone (it exited or crashed)")
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {key} in /proc/{pid}/status")


def total_cpu_times(pids: list[int]) -> tuple[float, float]:
    """utime and stime summed over the processes, from one reading of each."""
    times = [cpu_times(pid) for pid in pids]
    return sum(user for user, _ in times), sum(kernel for _, kernel in times)


def total_cpu_seconds(pids: list[int]) -> float:
    return sum(total_cpu_times(pids))


def total_status_kib(pids: list[int], key: str) -> int:
    """Sum over the processes (nginx's workers; a peak is then the sum of their peaks)."""
    return sum(status_kib(pid, key) for pid in pids)


def reset_peak_rss(pid: int) -> None:
    """Resets VmHWM to the current RSS (clear_refs 5, Linux >= 4.0)."""
    try:
        pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass  # then VmHWM is the peak since start; the table says "peak RSS" either way


def children(pid: int) -> list[int]:
    try:
        text = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


# ---- HTTP checks -----------------------------------------------------------------------------

def http_get(port: int, path: str, host: str = HOST_HEADER, timeout: float = 3.0):
    """(status, body) of one GET, or (None, b"") when the connection fails."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        conn.close()


def check_bodies(name: str, port: int) -> None:
    """The system answers /small and /16k with 200 and the right body sizes."""
    for path, size in (("/small", SMALL_BYTES), ("/16k", LARGE_BYTES)):
        status, body = http_get(port, path)
        if status != 200 or len(body) != size:
            raise BenchError(f"{name}: GET {path} answered {status} with {len(body)} bytes, "
                             f"expected 200 with {size}")


def https_get(port: int, path: str, ca: pathlib.Path, version: str,
              host: str = HOST_HEADER, timeout: float = 5.0) -> dict:
    """One GET over a fresh TLS connection limited to TLS `version` ("1.2" or "1.3"), verifying
    the chain against the run's CA and the name bench.local, offering ALPN http/1.1 only.
    Returns what was negotiated and answered; raises BenchError when the handshake fails."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(ca))
    tls_version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
    ctx.minimum_version = ctx.maximum_version = tls_version
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                            f"\r\n".encode())
                data = bytearray()
                while chunk := tls.recv(65536):
                    data += chunk
                    if len(data) > 1 << 20:
                        break
                info = {"version": tls.version(), "cipher": tls.cipher()[0],
                        "alpn": tls.selected_alpn_protocol()}
    except (OSError, ssl.SSLError) as e:
        raise BenchError(f"TLS {version} GET {path} on :{port} failed: {type(e).__name__}: {e}")
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    info["status"] = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    info["body_bytes"] = len(body)
    info["hsts"] = any(line.lower().startswith(b"strict-transport-security:")
                       for line in lines[1:])
    return info


def check_tls(name: str, port: int, tls: "TlsFiles") -> dict:
    """The system answers /small over TLS 1.3 and over TLS 1.2 with 200 and 100 bytes, with a
    chain that verifies against the run's CA for bench.local, and selects ALPN http/1.1."""
    seen = {}
    for version in ("1.3", "1.2"):
        info = https_get(port, "/small", tls.ca_pem, version)
        if (info["status"] != 200 or info["body_bytes"] != SMALL_BYTES
                or info["alpn"] != "http/1.1" or info["version"] != f"TLSv{version}"):
            raise BenchError(f"{name}: GET /small over TLS {version} gave {info}, expected "
                             f"status 200, {SMALL_BYTES} bytes, ALPN http/1.1, TLSv{version}")
        seen[version] = info
    return seen


def tool_version(argv: list) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


# ---- TLS material ----------------------------------------------------------------------------

OPENSSL_TIMEOUT = 60.0
TLS_NAMES = ("bench.local", "localhost")  # and IP 127.0.0.1: every name a client may send as SNI
HSTS_SECONDS = 31536000  # tenantgate's default `hsts` on a TLS listener; the peers add the same


class TlsFiles:
    """A throwaway ECDSA P-256 CA and a leaf it signed for bench.local, localhost and
    127.0.0.1, made with the openssl CLI in the run's temp dir. Every proxy terminates TLS with
    this same leaf (sent alone: clients that verify trust the CA) and key."""

    def __init__(self, tmp: pathlib.Path):
        self.dir = tmp / "tls"
        self.ca_key = self.dir / "ca.key"
        self.ca_pem = self.dir / "ca.pem"
        self.key = self.dir / "leaf.key"
        self.cert = self.dir / "leaf.pem"
        self.combined = self.dir / "leaf-and-key.pem"  # HAProxy's `crt`: certificate, then key

    @staticmethod
    def _openssl(*args) -> None:
        try:
            out = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True,
                                 timeout=OPENSSL_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BenchError(f"openssl {args[0]}: {e}")
        if out.returncode != 0:
            raise BenchError(f"openssl {' '.join(map(str, args))} failed ({out.returncode}):\n"
                             f"{out.stderr.strip()[-800:]}")

    def make(self) -> "TlsFiles":
        self.dir.mkdir()
        ec = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
        self._openssl("genpkey", *ec, "-out", self.ca_key)
        self._openssl("req", "-x509", "-new", "-key", self.ca_key, "-sha256", "-days", "30",
                      "-subj", "/O=tenantgate bench/CN=tenantgate bench throwaway CA",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                      "-out", self.ca_pem)
        self._openssl("genpkey", *ec, "-out", self.key)
        csr = self.dir / "leaf.csr"
        self._openssl("req", "-new", "-key", self.key, "-subj", f"/CN={TLS_NAMES[0]}",
                      "-out", csr)
        ext = self.dir / "leaf.ext"
        ext.write_text("basicConstraints = critical, CA:FALSE\n"
                       "keyUsage = critical, digitalSignature\n"
                       "extendedKeyUsage = serverAuth\n"
                       "subjectAltName = " + ", ".join(f"DNS:{n}" for n in TLS_NAMES)
                       + ", IP:127.0.0.1\n")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca_pem, "-CAkey", self.ca_key,
                      "-set_serial", "4242", "-sha256", "-days", "30", "-extfile", ext,
                      "-out", self.cert)
        self.combined.write_bytes(self.cert.read_bytes() + self.key.read_bytes())
        for path in (self.ca_key, self.key, self.combined):
            path.chmod(0o600)
        return self


# ---- the systems -----------------------------------------------------------------------------

class Origin:
    """nginx serving /small (100 B) and /16k (16 KiB) from files, keep-alive, no access log."""

    name = "origin"
    tls_port = 0  # no TLS listener: the TLS scenarios have no origin row

    def __init__(self, tmp: pathlib.Path):
        self.tmp = tmp
        self.proc: Proc | None = None
        self.port = 0

    def start(self) -> None:
        www = self.tmp / "www"
        www.mkdir(exist_ok=True)
        (www / "small").write_bytes(b"x" * (SMALL_BYTES - 1) + b"\n")
        (www / "16k").write_bytes(bytes(range(256)) * (LARGE_BYTES // 256))
        for d in (self.tmp, www):
            d.chmod(0o755)  # nginx workers may run as nobody
        for f in www.iterdir():
            f.chmod(0o644)
        self.port = free_port()
        conf = render("origin-nginx.conf", self.tmp / "origin-nginx.conf", TMP=self.tmp,
                      PORT=self.port, NOFILE=nofile())
        self.proc = Proc("origin", ["nginx", "-p", self.tmp, "-e", self.tmp / "origin-error.log",
                                    "-c", conf], self.tmp, core=CLIENT_CORE)
        poll(lambda: not self.proc.alive() or http_get(self.port, "/small")[0] == 200,
             START_TIMEOUT, "the origin nginx to answer")
        if not self.proc.alive():
            raise BenchError(f"origin nginx exited:\n{self.proc.tail()}")
        check_bodies("origin", self.port)

    def stats_pid(self) -> int:
        kids = children(self.proc.pid)
        return kids[0] if kids else self.proc.pid

    def stats_pids(self) -> list[int]:
        return [self.stats_pid()]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()


class WsUpstream:
    """bench/ws_upstream.py: WebSocket echo and /longpolling/poll for the long-lived scenarios."""

    name = "ws-upstream"

    def __init__(self, tmp: pathlib.Path):
        self.tmp = tmp
        self.proc: Proc | None = None
        self.port = 0

    def start(self) -> None:
        self.proc = Proc("ws-upstream", [PYTHON, BENCH / "ws_upstream.py", "--port", "0"],
                         self.tmp, core=CLIENT_CORE, stdout_pipe=True)
        self.port = self.proc.read_json_line(START_TIMEOUT, "ws_upstream's port")["port"]

    def stats(self) -> dict:
        status, body = http_get(self.port, "/__stats")
        if status != 200:
            raise BenchError("ws_upstream does not answer /__stats")
        return json.loads(body)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()


class Proxy:
    """Base of the three proxies: PROXY_WORKERS workers (one: pinned to PROXY_CORE), logs off."""

    name = "?"

    def __init__(self, tmp: pathlib.Path, origin_port: int, ws_port: int,
                 plain_peers: bool = False, valgrind: list | None = None,
                 tls: TlsFiles | None = None):
        self.tmp = tmp
        self.tls = tls  # None: no TLS listener (profile.py); else a second, TLS listener
        self.tls_port = 0
        self.tls_info: dict = {}
        self.origin_port = origin_port
        self.ws_port = ws_port
        self.plain_peers = plain_peers
        self.valgrind = valgrind or []
        self.proc: Proc | None = None
        self.port = 0
        self.starts = 0
        self.cap: CpuCap | None = None

    def command(self) -> list:
        raise NotImplementedError

    def wait_ready(self, timeout: float) -> None:
        poll(lambda: not self.proc.alive() or http_get(self.port, "/small")[0] == 200,
             timeout, f"{self.name} to answer GET /small")

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.starts += 1
        self.proc = Proc(f"{self.name}-{self.starts}", self.valgrind + self.command(), self.tmp,
                         core=PROXY_CORE if PROXY_WORKERS == 1 else None)
        self.wait_ready(timeout)
        if not self.proc.alive():
            raise BenchError(f"{self.name} exited at start (code {self.proc.popen.returncode}):"
                             f"\n{self.proc.tail()}")
        if PROXY_CPU_PERCENT is not None:
            # Once it answers (nginx's workers exist by then), before anything is measured.
            self.cap = self.cap or CpuCap(self.name, PROXY_CPU_PERCENT)
            self.cap.hold([self.proc.pid, *self.stats_pids()])
        check_bodies(self.name, self.port)
        if self.tls:
            self.tls_info = check_tls(self.name, self.tls_port, self.tls)

    def stats_pid(self) -> int:
        return self.proc.pid

    def stats_pids(self) -> list[int]:
        """The processes whose CPU time and memory are the proxy's (nginx: its workers)."""
        return [self.stats_pid()]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def stop(self) -> int | None:
        return self.proc.stop() if self.proc else None

    def headers_snippet(self, template: str, proto: str = "http") -> str:
        if self.plain_peers:
            return ""
        return (TEMPLATES / template).read_text().replace("@@PROTO@@", proto)


class Tenantgate(Proxy):
    name = "tenantgate"

    def __init__(self, *args, binary: pathlib.Path, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = binary
        self.admin_port = 0

    def command(self) -> list:
        tls = ""
        if self.tls:
            tls = render("tenantgate-tls-listener.inc", self.tmp / "tenantgate-tls-listener.inc",
                         CERT=self.tls.cert, KEY=self.tls.key).read_text()
        conf = render("tenantgate.yaml", self.tmp / "tenantgate.yaml",
                      ORIGIN_PORT=self.origin_port, WS_PORT=self.ws_port, TLS_LISTENER=tls,
                      WORKERS=PROXY_WORKERS, TENANT_LIMITS=TENANT_LIMITS)
        return [self.binary, "run", "--config", conf]

    def _events(self) -> list:
        events = []
        for line in self.proc.stderr_text().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
        return events

    def wait_ready(self, timeout: float) -> None:
        def ready():
            if not self.proc.alive():
                return True
            events = self._events()
            if not any(e.get("msg") == "ready" for e in events):
                return False
            for e in events:
                if e.get("msg") == "listening":
                    port = int(e["address"].rsplit(":", 1)[1])
                    if e.get("listener") == "http":
                        self.port = port
                    elif e.get("listener") == "https":
                        self.tls_port = port
                    elif e.get("listener") == "admin":
                        self.admin_port = port
            return self.port and self.admin_port and (self.tls_port or not self.tls)
        poll(ready, timeout, "tenantgate's listening/ready lines")
        if self.proc.alive():
            poll(lambda: not self.proc.alive() or http_get(self.admin_port, "/readyz")[0] == 200,
                 timeout, "tenantgate /readyz = 200")

    def version(self) -> str:
        v = tool_version([self.binary, "--version"])
        built = time.strftime("%Y-%m-%d %H:%M", time.gmtime(self.binary.stat().st_mtime))
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "proxy",
                                "routing", "config", "tls", "CMakeLists.txt"],
                               capture_output=True, text=True).stdout.strip()
        return (f"{v} (git {rev}{', with uncommitted changes' if dirty else ''}; binary built "
                f"{built} UTC)")


# The `defaults` section of the bench's hand-written HAProxy configs (noisy_neighbour,
# tenant_updates): keep-alive both ways and the timeouts tenantgate's templates use.
HAPROXY_DEFAULTS = """defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 3s
    timeout client 75s
    timeout http-request 10s
    timeout http-keep-alive 75s
    timeout server 60s
"""


class HAProxy(Proxy):
    name = "haproxy"
    maxconn: int | None = None  # None: as many as the open-file limit allows

    def command(self) -> list:
        self.port = free_port()
        tls = ""
        if self.tls:
            self.tls_port = free_port()
            tls = render("haproxy-tls-frontend.inc", self.tmp / "haproxy-tls-frontend.inc",
                         TLS_PORT=self.tls_port, CRT=self.tls.combined,
                         MAXCONN=self.maxconn or min(40000, max_tunnels() + 50),
                         HAPROXY_HEADERS=self.headers_snippet("haproxy-headers.inc", "https"),
                         HSTS="" if self.plain_peers else
                         f"    http-response set-header Strict-Transport-Security "
                         f"max-age={HSTS_SECONDS}").read_text()
        conf = render("haproxy.cfg", self.tmp / "haproxy.cfg", PORT=self.port,
                      TLS_FRONTEND=tls, WORKERS=PROXY_WORKERS,
                      MAXCONN=self.maxconn or min(40000, max_tunnels() + 50),
                      ORIGIN_PORT=self.origin_port, WS_PORT=self.ws_port,
                      HAPROXY_HEADERS=self.headers_snippet("haproxy-headers.inc"))
        return ["haproxy", "-db", "-f", conf]

    def version(self) -> str:
        return tool_version(["haproxy", "-v"])


class Nginx(Proxy):
    name = "nginx"
    upstream_keepalive = 256

    def command(self) -> list:
        self.port = free_port()
        tls = ""
        if self.tls:
            self.tls_port = free_port()
            tls = render("nginx-tls-servers.inc", self.tmp / "nginx-tls-servers.inc",
                         TLS_PORT=self.tls_port, CERT=self.tls.cert, KEY=self.tls.key,
                         NGINX_HEADERS=self.headers_snippet("nginx-headers.inc"),
                         HSTS="" if self.plain_peers else
                         f"        add_header Strict-Transport-Security "
                         f"max-age={HSTS_SECONDS} always;").read_text()
        conf = render("proxy-nginx.conf", self.tmp / "proxy-nginx.conf", TMP=self.tmp,
                      NGINX_TLS_SERVERS=tls, WORKERS=PROXY_WORKERS,
                      PORT=self.port, ORIGIN_PORT=self.origin_port, WS_PORT=self.ws_port,
                      NGINX_KEEPALIVE=self.upstream_keepalive, NOFILE=nofile(),
                      # nginx starts closing idle connections (even new ones) when fewer than
                      # 1/16 of worker_connections are free: keep that margin above the fd limit
                      # so that nginx, like the others, is bounded by descriptors only.
                      WORKER_CONNECTIONS=nofile() + nofile() // 8,
                      # under valgrind the single process must be the one serving
                      MASTER_PROCESS="off" if self.valgrind else "on",
                      NGINX_HEADERS=self.headers_snippet("nginx-headers.inc"))
        return ["nginx", "-p", self.tmp, "-e", self.tmp / "proxy-nginx-error.log", "-c", conf]

    def stats_pid(self) -> int:
        if self.valgrind:
            return self.proc.pid
        kids = poll(lambda: children(self.proc.pid), 5.0, "nginx's worker process")
        return kids[0]

    def stats_pids(self) -> list[int]:
        if self.valgrind:
            return [self.proc.pid]
        return poll(lambda: (lambda kids: kids if len(kids) >= PROXY_WORKERS else None)(
            children(self.proc.pid)), 5.0, "nginx's worker processes")

    def version(self) -> str:
        return tool_version(["nginx", "-v"])


def snapshot_binary(tmp: pathlib.Path) -> pathlib.Path:
    """A private copy of the tenantgate binary for this run: the release build may be rebuilt
    by someone else meanwhile, and the tunnel scenario restarts the proxy."""
    import shutil
    copy = tmp / "tenantgate"
    shutil.copy2(tenantgate_binary(), copy)
    return copy


def tenantgate_binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("TENANTGATE_BIN",
                                       REPO / "build" / "release" / "tenantgate"))
    if not path.is_file():
        raise BenchError(
            f"no tenantgate binary at {path}: build it with\n  cmake -S {REPO} -B {REPO}/build/release "
            f"-G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C {REPO}/build/release tenantgate\n"
            f"or point TENANTGATE_BIN at one")
    return path
