"""A raw-socket upstream for byte-exact tests: every byte the proxy sends is recorded, and each
connection is served by a script (a function of the socket), so a test can make the upstream
answer correctly, badly, late or never.

It runs in the test process (threads), bound to 127.0.0.1:0. Every wait is bounded.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

RECV_BLOCK = 65536
SCRIPT_TIMEOUT = 30.0  # a scripted connection that waits longer than this is dropped


class Received:
    """Bytes received on one upstream connection, and whether the proxy closed it."""

    def __init__(self, index: int):
        self.index = index
        self.data = bytearray()
        self.closed = False


class UpstreamConn:
    """The socket of one accepted connection, as a script sees it: reads are recorded."""

    def __init__(self, sock: socket.socket, received: Received, lock: threading.Lock,
                 events: list):
        self.sock = sock
        self.received = received
        self._lock = lock
        self._events = events  # every connection's received bytes, in arrival order
        self.buf = bytearray()  # received, not yet consumed by read_request

    def _recv(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("upstream script: no bytes from the proxy in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(RECV_BLOCK)
        except (ConnectionResetError, socket.timeout):
            data = b""
        with self._lock:
            if data:
                self.received.data += data
                self._events.append(data)
            else:
                self.received.closed = True
        self.buf += data
        return bool(data)

    def read_request(self, timeout: float = SCRIPT_TIMEOUT) -> dict | None:
        """Reads one request (head, then a Content-Length or chunked body). None when the proxy
        closed the connection first; raises ValueError on framing this parser cannot follow."""
        deadline = time.monotonic() + timeout
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            if not self._recv(deadline):
                return None
        head = bytes(self.buf[:end])
        del self.buf[:end + 4]
        lines = head.split(b"\r\n")
        method, target, version = lines[0].split(b" ", 2)
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
        fields = dict(headers)
        body = bytearray()
        if "chunked" in fields.get("transfer-encoding", "").lower():
            while True:
                while (eol := self.buf.find(b"\r\n")) < 0:
                    if not self._recv(deadline):
                        return None
                size = int(bytes(self.buf[:eol]).split(b";")[0], 16)
                del self.buf[:eol + 2]
                if size == 0:
                    break
                while len(self.buf) < size + 2:
                    if not self._recv(deadline):
                        return None
                body += self.buf[:size]
                del self.buf[:size + 2]
            while True:  # trailer fields, up to the empty line
                while (eol := self.buf.find(b"\r\n")) < 0:
                    if not self._recv(deadline):
                        return None
                del self.buf[:eol + 2]
                if eol == 0:
                    break
        elif "content-length" in fields:
            length = int(fields["content-length"])
            while len(self.buf) < length:
                if not self._recv(deadline):
                    return None
            body += self.buf[:length]
            del self.buf[:length]
        return {"method": method.decode("latin-1"), "target": target.decode("latin-1"),
                "version": version.decode("latin-1"), "headers": headers, "body": bytes(body)}

    def wait_closed(self, timeout: float = SCRIPT_TIMEOUT) -> bool:
        """Reads (and records) until the proxy closes the connection; False on timeout."""
        deadline = time.monotonic() + timeout
        try:
            while self._recv(deadline):
                pass
        except TimeoutError:
            return False
        return True

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def reset(self) -> None:
        """Closes with a TCP RST (SO_LINGER 0) instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def answer_each_request(conn: UpstreamConn) -> None:
    """The capturing script: answers every request with 200 and its target as the body, until
    the proxy closes the connection, sends what this parser cannot follow, or asks to close."""
    while True:
        try:
            req = conn.read_request()
        except (ValueError, TimeoutError):
            return
        if req is None:
            return
        body = req["target"].encode("latin-1")
        close = "close" in dict(req["headers"]).get("connection", "").lower()
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
        if close:
            head += b"Connection: close\r\n"
        if not conn.send(head + b"\r\n" + (b"" if req["method"] == "HEAD" else body)) or close:
            return


class RawUpstream:
    """Listens on 127.0.0.1:0; each accepted connection runs `script(conn)` (default: the
    capturing answer_each_request) in its own thread. `script` may also be a list, one script
    per connection in accept order (the last one repeats)."""

    def __init__(self, script=answer_each_request):
        self.script = script
        self.lock = threading.Lock()
        self.connections: list[Received] = []
        self.events: list[bytes] = []  # received bytes of all connections, in arrival order
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.2)  # so stop() is noticed within a bounded time
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(None)
            with self.lock:
                received = Received(len(self.connections))
                self.connections.append(received)
                self._sockets.append(sock)
                scripts = self.script if isinstance(self.script, list) else [self.script]
                script = scripts[min(received.index, len(scripts) - 1)]
            threading.Thread(target=self._serve, args=(sock, received, script),
                             daemon=True).start()

    def _serve(self, sock: socket.socket, received: Received, script) -> None:
        conn = UpstreamConn(sock, received, self.lock, self.events)
        try:
            script(conn)
        except (OSError, TimeoutError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    # ---- what the proxy sent -----------------------------------------------------------------
    def mark(self) -> int:
        """A point in the recording: bytes_since(mark) returns what arrived after it."""
        with self.lock:
            return len(self.events)

    def bytes_since(self, mark: int = 0) -> bytes:
        """Bytes received after `mark`, all connections together in arrival order (the requests
        of one test are sequential, so this is also the order in which they were sent)."""
        with self.lock:
            return b"".join(self.events[mark:])

    def connection_count(self) -> int:
        with self.lock:
            return len(self.connections)

    def closed(self, index: int) -> bool:
        with self.lock:
            return self.connections[index].closed

    def stop(self) -> None:
        self._stopping = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(5)
