"""A real redis-server for the tests, on a free 127.0.0.1 port, and a minimal RESP client."""

from __future__ import annotations

import pathlib
import shutil
import socket
import subprocess

from harness import closed_port, poll, terminate

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def command(port: int, *args: str, password: str | None = None, timeout: float = 5.0):
    """Sends one command (after AUTH when `password`); returns the decoded reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        if password:
            s.sendall(_encode("AUTH", password))
            _read(f)
        s.sendall(_encode(*args))
        return _read(f)


def _encode(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        data = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise ValueError(f"bad RESP line {line!r}")


class Redis:
    """redis-server without persistence; start() again after stop() reuses the port."""

    def __init__(self, workdir: pathlib.Path, password: str | None = None):
        self.workdir = workdir
        self.password = password
        self.port = closed_port()
        self.proc = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--enable-debug-command", "local",
                "--dir", str(self.workdir)]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers():
            try:
                return command(self.port, "PING", password=self.password, timeout=1) == "PONG"
            except OSError:
                return False
        poll(answers, 10, "redis-server answering PING")
        return self

    def call(self, *args: str):
        return command(self.port, *args, password=self.password)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, 10)
            self.proc = None

    def kill(self) -> None:
        """Dies at once, as a crashed or evicted Redis pod does."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
