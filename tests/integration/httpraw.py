"""Raw HTTP/1.1 over sockets, with bounded waits everywhere.

The tests need byte-exact control of what is sent (smuggling, pipelining, partial headers) and
an exact view of what comes back, so no HTTP client library is used.
"""

from __future__ import annotations

import json
import select
import socket
import time

DEFAULT_TIMEOUT = 10.0
RECV_BLOCK = 1 << 20
MAX_HEAD = 1 << 20


class HttpTimeout(AssertionError):
    """A bounded wait expired. Carries what was received so far."""

    def __init__(self, what: str, partial: bytes = b""):
        super().__init__(f"timed out waiting for {what}; received so far: {partial[:500]!r}")
        self.partial = partial


class ConnectionClosedEarly(AssertionError):
    def __init__(self, what: str, partial: bytes = b""):
        super().__init__(f"connection closed while waiting for {what}; received: {partial[:500]!r}")
        self.partial = partial


class Response:
    def __init__(self, version: str, status: int, reason: str, headers: list, raw_head: bytes):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # [(name, value), ...] as received
        self.raw_head = raw_head
        self.body = b""
        self.body_length = 0            # counted even when a sink consumed the body
        self.chunked = False
        self.interim: list = []         # 1xx responses (other than 101) seen before this one

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    def has_token(self, name: str, token: str) -> bool:
        return token.lower() in tokens(self.header_values(name))

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"response {self.status} body is not JSON: {self.body[:500]!r}")

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} headers={self.headers} body={self.body[:200]!r}>"


def tokens(values: list) -> set:
    return {t.strip().lower() for v in values for t in v.split(",") if t.strip()}


def build_request(method: str, target: str, host: str | None, headers=(), body: bytes = b"",
                  chunked: bool = False, version: str = "HTTP/1.1") -> bytes:
    """Serializes a request. host=None sends no Host header. A Content-Length is added for a
    non-empty body unless the caller gave one or chunked is set."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    names = {k.lower() for k, _ in headers}
    lines += [f"{k}: {v}" for k, v in headers]
    if chunked:
        if "transfer-encoding" not in names:
            lines.append("Transfer-Encoding: chunked")
        payload = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class HttpConn:
    """One client TCP connection. Every read has a deadline."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT,
                 source: str | None = None):
        """`source`: the local address to connect from (another loopback address, 127.0.0.2,
        stands for a distinct client machine)."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.timeout = timeout

    def __enter__(self) -> "HttpConn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- sending -------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def try_send(self, data: bytes) -> bool:
        """Sends; returns False instead of raising when the peer has closed or reset."""
        try:
            self.send(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_request(self, method: str, target: str, host: str | None, headers=(),
                     body: bytes = b"", chunked: bool = False) -> None:
        self.send(build_request(method, target, host, headers, body, chunked))

    def request(self, method: str, target: str, host: str | None, headers=(), body: bytes = b"",
                chunked: bool = False, timeout: float | None = None) -> Response:
        self.send_request(method, target, host, headers, body, chunked)
        return self.read_response(method=method, timeout=timeout)

    # ---- receiving -----------------------------------------------------------------------
    def _fill(self, deadline: float, what: str) -> bool:
        """Receives more data into the buffer; False at EOF (or reset)."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HttpTimeout(what, bytes(self.buf))
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(RECV_BLOCK)
        except socket.timeout:
            raise HttpTimeout(what, bytes(self.buf))
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def data_available(self, wait: float = 0.0) -> bool:
        """True if response bytes (or EOF) are ready to read within `wait` seconds."""
        if self.buf or self.eof:
            return True
        readable, _, _ = select.select([self.sock], [], [], wait)
        return bool(readable)

    def _read_line(self, deadline: float, what: str) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > MAX_HEAD:
                raise AssertionError(f"line too long while reading {what}")
            if not self._fill(deadline, what):
                raise ConnectionClosedEarly(what, bytes(self.buf))

    def _read_exact(self, n: int, deadline: float, sink, what: str) -> int:
        """Delivers exactly n bytes to sink (a callable, or None to keep them in a list)."""
        left = n
        while left:
            if not self.buf and not self._fill(deadline, what):
                raise ConnectionClosedEarly(f"{what} ({left} of {n} bytes missing)", b"")
            take = min(left, len(self.buf))
            sink(memoryview(self.buf)[:take])
            del self.buf[:take]
            left -= take
        return n

    def _read_to_eof(self, deadline: float, sink, what: str) -> int:
        total = 0
        while True:
            if self.buf:
                total += len(self.buf)
                sink(memoryview(self.buf))
                self.buf.clear()
            if not self._fill(deadline, what):
                return total

    def read_head(self, timeout: float | None = None) -> Response:
        """Reads one response head, skipping interim 1xx responses except 101."""
        deadline = time.monotonic() + (timeout or self.timeout)
        interim = []
        while True:
            while (end := self.buf.find(b"\r\n\r\n")) < 0:
                if len(self.buf) > MAX_HEAD:
                    raise AssertionError("response head too large")
                if not self._fill(deadline, "response head"):
                    raise ConnectionClosedEarly("response head", bytes(self.buf))
            raw = bytes(self.buf[:end + 4])
            del self.buf[:end + 4]
            resp = parse_response_head(raw)
            if 100 <= resp.status < 200 and resp.status != 101:
                interim.append(resp)
                continue
            resp.interim = interim
            return resp

    def read_body(self, resp: Response, method: str = "GET", timeout: float | None = None,
                  sink=None) -> Response:
        deadline = time.monotonic() + (timeout or self.timeout)
        parts = []
        if sink is None:
            def sink(mv):
                parts.append(bytes(mv))
        counted = [0]

        def counting_sink(mv):
            counted[0] += len(mv)
            sink(mv)

        te = tokens(resp.header_values("Transfer-Encoding"))
        if method == "HEAD" or resp.status in (101, 204, 304):
            pass
        elif "chunked" in te:
            resp.chunked = True
            while True:
                size_line = self._read_line(deadline, "chunk size")
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise AssertionError(f"bad chunk size line from server: {size_line!r}")
                if size == 0:
                    while self._read_line(deadline, "trailers"):
                        pass
                    break
                self._read_exact(size, deadline, counting_sink, "chunk data")
                if self._read_line(deadline, "chunk end"):
                    raise AssertionError("chunk data not followed by CRLF")
        elif resp.header("Content-Length") is not None:
            length = int(resp.header("Content-Length"))
            self._read_exact(length, deadline, counting_sink, "response body")
        else:
            self._read_to_eof(deadline, counting_sink, "close-delimited body")
        resp.body = b"".join(parts)
        resp.body_length = counted[0]
        return resp

    def read_response(self, method: str = "GET", timeout: float | None = None,
                      sink=None) -> Response:
        """Reads a complete response. timeout bounds the whole response."""
        deadline = time.monotonic() + (timeout or self.timeout)
        resp = self.read_head(timeout=deadline - time.monotonic())
        return self.read_body(resp, method, max(0.001, deadline - time.monotonic()), sink)

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True when the peer closes (or resets) the connection within timeout. Any data that
        arrives instead is kept in self.buf and makes this return False."""
        deadline = time.monotonic() + timeout
        if self.buf:
            return False
        try:
            return not self._fill(deadline, "connection close")
        except HttpTimeout:
            return False


def parse_response_head(raw: bytes) -> Response:
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise AssertionError(f"malformed status line: {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise AssertionError(f"malformed response header line: {line!r}")
        headers.append((name, value.strip()))
    return Response(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers, raw)


def request(port: int, method: str, target: str, host: str | None, headers=(),
            body: bytes = b"", chunked: bool = False, timeout: float = DEFAULT_TIMEOUT) -> Response:
    """One request on a fresh connection."""
    with HttpConn(port, timeout=timeout) as conn:
        return conn.request(method, target, host, headers, body, chunked)


def exchange(port: int, raw: bytes, timeout: float = DEFAULT_TIMEOUT) -> tuple:
    """Sends raw bytes on a fresh connection, reads one response; returns (response, closed)
    where closed tells whether the server then closed the connection."""
    with HttpConn(port, timeout=timeout) as conn:
        conn.try_send(raw)
        resp = conn.read_response(timeout=timeout)
        return resp, conn.wait_closed(timeout=5)


def connection_refused(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True
