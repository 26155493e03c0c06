"""Processes under test: the fake Odoo upstream and the tenantgate proxy.

Every wait here is a bounded poll on a condition. Processes are only ever signalled by the PID
of a Popen this module started.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpraw
import tgconfig

REPO = pathlib.Path(__file__).resolve().parents[2]
FAKE_UPSTREAM = REPO / "tests" / "fakes" / "odoo_upstream.py"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
# TENANTGATE_TIMEOUT_SCALE stretches every bounded wait of this module (start, stop, poll) for
# a binary that is slower by design: tests/tsan/run.sh sets 4 for the ThreadSanitizer build
# (5-15x slower). Unset (1) everywhere else, CI included.
TIMEOUT_SCALE = float(os.environ.get("TENANTGATE_TIMEOUT_SCALE", "1"))
READY_TIMEOUT = 20.0 * TIMEOUT_SCALE
UPSTREAM_START_TIMEOUT = 10.0 * TIMEOUT_SCALE
STOP_TIMEOUT = 15.0 * TIMEOUT_SCALE
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: ThreadSanitizer", "WARNING: ThreadSanitizer")
REQUEST_ID_RE = re.compile(r"[0-9a-f]{32}")  # a generated X-Request-Id
ADMIN_TOKEN = "test-admin-token"  # the content of the admin token file write_admin_token makes


def poll(condition, timeout: float, what: str, interval: float = 0.02):
    """Calls condition() until it returns a truthy value (returned) or timeout expires
    (AssertionError naming `what`). Exceptions from condition propagate. The timeout is
    stretched by TIMEOUT_SCALE."""
    timeout *= TIMEOUT_SCALE
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stays_false(condition, duration: float, interval: float = 0.02) -> bool:
    """True when condition() stays falsy for the whole duration (an absence check)."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        if condition():
            return False
        time.sleep(interval)
    return not condition()


def closed_port() -> int:
    """A local port with nothing listening on it (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stream_pattern(offset: int, n: int) -> bytes:
    """Bytes offset..offset+n of the fake upstream's /stream body (byte i is i % 256)."""
    start = offset % 256
    return (bytes(range(256)) * ((start + n) // 256 + 1))[start:start + n]


def status_kib(pid: int, field: str) -> int:
    """A size line of /proc/PID/status (VmRSS, VmHWM), in KiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set size of a process (VmHWM), in KiB."""
    return status_kib(pid, "VmHWM")


def vm_rss_kib(pid: int) -> int:
    """Current resident set size of a process (VmRSS), in KiB."""
    return status_kib(pid, "VmRSS")


def fd_count(pid: int) -> int:
    """Open file descriptors of a process."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def read_json_lines(path: pathlib.Path) -> list:
    """Complete lines of a file that parse as JSON objects; other lines are skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in data.split(b"\n")[:-1]:  # the last element is an incomplete line (or empty)
        line = line.strip()
        if not line.startswith(b"{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def fnv1a64(data: bytes) -> int:
    value = 0xcbf29ce484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return value


def saved_runtime_state(path: pathlib.Path) -> dict:
    """What a restart loads from `state.state_file`: the file, then the changes its journal
    (PATH.journal) appended since (each line sets the entries it carries), when the journal's first line names that file's bytes (FNV-1a);
    a last line cut short by a crash is skipped, as the proxy does."""
    data = path.read_bytes()
    state = json.loads(data)
    journal = pathlib.Path(str(path) + ".journal")
    if not journal.exists():
        return state
    # Whole lines end with "\n": what follows the last one was cut short.
    *lines, _cut_short = journal.read_bytes().split(b"\n")
    if not lines or json.loads(lines[0]) != {"journal_of": f"{fnv1a64(data):016x}"}:
        return state
    for number, line in enumerate(lines[1:], start=2):
        try:
            change = json.loads(line)
        except ValueError:
            assert number == len(lines), f"bad journal line {number} before the last"
            break
        for key in ("version", "origin", "global_maintenance"):
            if key in change:
                state[key] = change[key]
        for key in ("tenant_maintenance", "releases", "tenants"):
            state[key] = {**state.get(key, {}), **change.get(key, {})}
    return state


def tail(path: pathlib.Path, limit: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except FileNotFoundError:
        return "<no file>"


def sanitizer_report(path: pathlib.Path, limit: int = 8000) -> str:
    """The beginning of the first sanitizer report in a file (where the faulting stack is), or
    an empty string."""
    text = tail(path, 10_000_000)
    starts = [i for i in (text.find(m) for m in SANITIZER_MARKERS) if i >= 0]
    if not starts:
        return ""
    begin = text.rfind("\n", 0, min(starts)) + 1
    return text[begin:begin + limit]


def write_admin_token(directory: pathlib.Path) -> pathlib.Path:
    """The admin bearer token file test configs refer to (not world-readable, as SPEC asks)."""
    path = directory / tgconfig.ADMIN_TOKEN_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(ADMIN_TOKEN + "\n")
    return path


def header_values(echo: dict, name: str) -> list:
    """Values of a header in an upstream echo JSON (case-insensitive name)."""
    lname = name.lower()
    return [v for k, v in echo["headers"] if k.lower() == lname]


def assert_proxy_status(resp: httpraw.Response, status: int) -> httpraw.Response:
    """A response the proxy produced itself: the status, and an X-Request-Id (SPEC section 3)."""
    assert resp.status == status, f"expected {status}, got {resp!r}"
    assert resp.header("X-Request-Id"), f"{status} response without X-Request-Id: {resp.headers}"
    return resp


def terminate(proc: subprocess.Popen, timeout: float) -> int | None:
    """SIGTERM, bounded wait, then SIGKILL. Returns the exit code, or None if it was killed."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return None


# ---- HAProxy (an edge or a load balancer in front of tenantgate) ----------------------------
class HAProxy:
    """HAProxy in the foreground (-db) on `config_text`, written to workdir/NAME.cfg; its output
    goes to workdir/NAME.log."""

    def __init__(self, workdir: pathlib.Path, name: str, config_text: str, env=None):
        self.config_path = workdir / f"{name}.cfg"
        self.config_path.write_text(config_text)
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config_path)],
                                     env={**os.environ, **(env or {})}, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def check_running(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"haproxy exited with code {self.proc.returncode}: "
                                 f"{tail(self.log_path)}")

    def stop(self) -> int | None:
        rc = terminate(self.proc, 5)
        self._log.close()
        return rc


# ---- fake upstream ---------------------------------------------------------------------------
class Upstream:
    """A running tests/fakes/odoo_upstream.py."""

    def __init__(self, name: str, workdir: pathlib.Path, keepalive_timeout: float = 0,
                 web_port: int = 0, fail_status: int = 0):
        self.name = name
        self.log_path = workdir / f"upstream-{name}.stderr"
        self._log = open(self.log_path, "wb")
        args = [sys.executable, str(FAKE_UPSTREAM), "--host", "127.0.0.1", "--web-port", str(web_port),
                "--longpolling-port", "0", "--name", name]
        if keepalive_timeout:
            args += ["--keepalive-timeout", str(keepalive_timeout)]
        if fail_status:
            args += ["--fail-status", str(fail_status)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        info = self._read_ready_line(UPSTREAM_START_TIMEOUT)
        self.web = int(info["web"])
        self.longpolling = int(info["longpolling"])

    def _read_ready_line(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    self.stop()
                    raise AssertionError(f"fake upstream {self.name} printed no ready line in "
                                         f"{timeout}s; stderr: {tail(self.log_path)}")
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    self.stop()
                    raise AssertionError(f"fake upstream {self.name} exited "
                                         f"(code {self.proc.poll()}): {tail(self.log_path)}")
                buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def web_addr(self) -> str:
        return f"127.0.0.1:{self.web}"

    @property
    def longpolling_addr(self) -> str:
        return f"127.0.0.1:{self.longpolling}"

    def port_of(self, worker: str) -> int:
        return self.web if worker == "web" else self.longpolling

    def stats(self, worker: str = "web") -> dict:
        resp = httpraw.request(self.port_of(worker), "GET", "/__stats", "127.0.0.1", timeout=5)
        assert resp.status == 200, resp
        return resp.json()

    def targets(self, worker: str = "web") -> list:
        return self.stats(worker)["targets"]

    def received(self, marker: str, worker: str = "web") -> bool:
        """True if a request whose target contains marker reached this worker."""
        return any(marker in t for t in self.targets(worker))

    def stop(self, timeout: float = 5.0) -> int | None:
        rc = terminate(self.proc, timeout)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()
        return rc


# ---- tenantgate ------------------------------------------------------------------------------
RELOAD_MESSAGES = ("config reloaded", "config reload failed")


class Proxy:
    """A running `tenantgate run --config FILE`.

    Readiness contract (ops log = JSON lines on stderr): one
    {"level":"info","msg":"listening","listener":NAME,"address":"127.0.0.1:PORT"} per data-plane
    listener and for "admin", then {"level":"info","msg":"ready"}.
    """

    def __init__(self, binary: str, workdir: pathlib.Path, config_text: str):
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "tenantgate.yaml"
        self.stdout_path = workdir / "access.log"
        self.stderr_path = workdir / "ops.log"
        self.write_config(config_text)
        write_admin_token(workdir)
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.expect_exit = False
        self.proc = subprocess.Popen([binary, "run", "--config", str(self.config_path)],
                                     stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL,
                                     cwd=workdir)
        self.ports = self._wait_ready(READY_TIMEOUT)

    # ---- startup -------------------------------------------------------------------------
    def _wait_ready(self, timeout: float) -> dict:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"tenantgate exited with code {self.proc.returncode} before "
                                     f"ready")
            return any(l.get("msg") == "ready" for l in self.ops_log_lines())

        try:
            poll(ready, timeout, "tenantgate ready")
        except AssertionError as e:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            raise AssertionError(f"{e}\nstderr:\n{tail(self.stderr_path)}") from None
        ports = {}
        for line in self.ops_log_lines():
            if line.get("msg") == "listening" and "listener" in line and "address" in line:
                ports[line["listener"]] = int(str(line["address"]).rsplit(":", 1)[1])
        assert "admin" in ports, f"no 'listening' line for the admin listener: {self.ops_log_lines()}"
        return ports

    # ---- accessors -----------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.proc.pid

    def port(self, listener: str = "http") -> int:
        assert listener in self.ports, f"no listener {listener!r} in {self.ports}"
        return self.ports[listener]

    @property
    def admin_port(self) -> int:
        return self.ports["admin"]

    def write_config(self, text: str) -> None:
        tmp = self.config_path.with_suffix(".yaml.tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)

    def access_log_lines(self) -> list:
        return read_json_lines(self.stdout_path)

    def ops_log_lines(self) -> list:
        return read_json_lines(self.stderr_path)

    def wait_access_log(self, condition, timeout: float = 5.0, what: str = "access log lines"):
        """Polls the (asynchronously written) access log until condition(lines) is truthy."""
        return poll(lambda: condition(self.access_log_lines()), timeout, what)

    def access_log_entry(self, request_id: str, timeout: float = 5.0) -> dict:
        return self.wait_access_log(
            lambda lines: next((l for l in lines if l.get("request_id") == request_id), None),
            timeout, f"access log line with request_id {request_id}")

    # ---- requests ------------------------------------------------------------------------
    def request(self, method: str, target: str, host: str | None, headers=(), body: bytes = b"",
                chunked: bool = False, listener: str = "http",
                timeout: float = httpraw.DEFAULT_TIMEOUT) -> httpraw.Response:
        return httpraw.request(self.port(listener), method, target, host, headers, body, chunked,
                               timeout)

    def get(self, target: str, host: str | None, headers=(), **kw) -> httpraw.Response:
        return self.request("GET", target, host, headers, **kw)

    def connect(self, listener: str = "http", timeout: float = httpraw.DEFAULT_TIMEOUT):
        return httpraw.HttpConn(self.port(listener), timeout=timeout)

    def admin_get(self, path: str, timeout: float = 5.0) -> httpraw.Response:
        return httpraw.request(self.admin_port, "GET", path, f"127.0.0.1:{self.admin_port}",
                               timeout=timeout)

    def admin_request(self, method: str, path: str, headers=(), body: bytes = b"",
                      timeout: float = 5.0) -> httpraw.Response:
        """Any request to the admin listener (add an Authorization header for mutating calls)."""
        return httpraw.request(self.admin_port, method, path, f"127.0.0.1:{self.admin_port}",
                               headers, body, timeout=timeout)

    def admin_call(self, method: str, path: str, body=None, token: str | None = ADMIN_TOKEN,
                   timeout: float = 5.0) -> httpraw.Response:
        """A mutating admin call: `body` is a JSON-able object (bytes are sent as they are),
        with `Authorization: Bearer token` (token=None: no Authorization header)."""
        data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        headers = [("Content-Type", "application/json")] if data else []
        if token is not None:
            headers.append(("Authorization", f"Bearer {token}"))
        return self.admin_request(method, path, headers, data, timeout)

    def admin_json(self, path: str) -> dict:
        """A GET on the admin API that must answer 200 with JSON."""
        resp = self.admin_get(path)
        assert resp.status == 200, f"GET {path}: {resp!r}"
        return resp.json()

    # ---- signals -------------------------------------------------------------------------
    def signal(self, sig: int) -> None:
        assert self.proc.poll() is None, f"tenantgate already exited: {tail(self.stderr_path)}"
        os.kill(self.proc.pid, sig)

    def reload(self, config_text: str, timeout: float = 10.0) -> dict:
        """Rewrites the config file, sends SIGHUP and returns the ops log line that reports the
        outcome: {"msg":"config reloaded","generation":N} or
        {"level":"error","msg":"config reload failed","errors":[...]}."""
        seen = len(self.ops_log_lines())
        self.write_config(config_text)
        self.signal(signal.SIGHUP)

        def outcome():
            if self.proc.poll() is not None:
                raise AssertionError(f"tenantgate exited during reload: {tail(self.stderr_path)}")
            return next((l for l in self.ops_log_lines()[seen:]
                         if l.get("msg") in RELOAD_MESSAGES), None)

        return poll(outcome, timeout, "a 'config reloaded' / 'config reload failed' ops log line")

    def reload_ok(self, config_text: str, timeout: float = 10.0) -> int:
        line = self.reload(config_text, timeout)
        assert line["msg"] == "config reloaded", f"reload failed: {line}"
        assert isinstance(line.get("generation"), int), line
        return line["generation"]

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"tenantgate did not exit within {timeout}s; stderr:\n"
                                 f"{tail(self.stderr_path)}") from None

    def begin_drain(self) -> None:
        """Sends SIGTERM without waiting (graceful drain, then exit)."""
        self.expect_exit = True
        self.signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and a bounded wait for the exit code."""
        if self.proc.poll() is None:
            self.begin_drain()
        self.expect_exit = True
        return self.wait_exit(timeout)

    def readyz_status(self) -> int | None:
        """Status of GET /readyz, or None if the admin listener does not answer."""
        try:
            return self.admin_get("/readyz", timeout=1).status
        except (OSError, AssertionError):
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    # ---- teardown ------------------------------------------------------------------------
    def cleanup(self) -> list:
        """Stops the process if still running; returns problems worth failing the test for."""
        problems = []
        died_on_its_own = self.proc.poll() is not None and not self.expect_exit
        if died_on_its_own:
            problems.append(f"tenantgate exited unexpectedly with code {self.proc.returncode}")
        if self.proc.poll() is None:
            if terminate(self.proc, STOP_TIMEOUT) is None:
                problems.append(f"tenantgate did not exit within {STOP_TIMEOUT}s of SIGTERM "
                                f"at teardown (killed)")
        self._out.close()
        self._err.close()
        report = sanitizer_report(self.stderr_path)
        if report:
            problems.append(f"sanitizer report in tenantgate stderr ({self.stderr_path}):\n{report}")
        elif problems:
            problems.append(f"stderr tail:\n{tail(self.stderr_path)}")
        return problems

