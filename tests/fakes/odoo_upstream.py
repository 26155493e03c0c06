#!/usr/bin/python3
"""A fake Odoo that behaves like Odoo where it matters to a reverse proxy.

Two workers, as an Odoo deployment with gevent has:

* the web (HTTP) worker, default port 8069;
* the longpolling (gevent) worker, default port 8072: /websocket and /longpolling/*.

Usage:
    /usr/bin/python3 tests/fakes/odoo_upstream.py [--host 127.0.0.1] [--web-port 8069]
        [--longpolling-port 8072] [--name NAME] [--keepalive-timeout SECONDS]

Port 0 picks an ephemeral port. Once both ports listen, ONE JSON line is printed on stdout:
    {"web": <port>, "longpolling": <port>, "name": NAME}
SIGTERM / SIGINT: exits 0.

Web worker endpoints (HTTP/1.1, keep-alive, Content-Length and chunked request bodies):
  GET  /web/health            200 "ok"
  ANY  /echo... and any path not listed here
                              200 JSON echo (see Request.echo): worker, name, method, target,
                              headers [[name, value], ...] in received order and case,
                              body_length, body_sha256, connection_id, http_version, ...
  GET  /stream?bytes=N[&chunked=1][&chunk=K]
                              N bytes; byte i of the body is i % 256. Content-Length, or
                              chunked encoding (chunks of K bytes, default 65536).
  POST|PUT /upload            body read streaming; JSON {"body_length": N, "body_sha256": hex}
  ANY  /slow?ms=N             waits N ms, then answers like /echo
  ANY  /status/NNN            status NNN, small text body
  ANY  /set-cookie            two Set-Cookie headers (session_id=abc123 ..., other=1)
  ANY  /close                 answers with Connection: close, then closes the connection
  ANY  /hop                   answers with hop-by-hop headers a proxy must strip, plus X-Kept: 1
  GET  /__stats               JSON counters of this worker (see Stats.snapshot); /__stats
                              requests themselves are not counted

Longpolling worker endpoints:
  GET  /websocket             WebSocket handshake validated like Odoo (400 naming missing
                              headers), then every text/binary message is echoed unchanged.
                              The text message "__handshake__" is answered with the echo JSON
                              of the handshake request instead.
  ANY  /longpolling/poll?ms=N waits N ms (default 5000), then echo JSON; a client that goes
                              away during the wait ends it at once (counted as "abandoned"),
                              so the tests see a proxy close a parked poll upstream
  GET  /__stats               as on the web worker
  ANY  anything else          echo JSON with "worker": "longpolling"
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import email.utils
import hashlib
import json
import signal
import struct
import sys
import urllib.parse

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEADER_BYTES = 1 << 20  # the proxy limits headers long before this
MAX_WS_MESSAGE = 16 << 20
READ_BLOCK = 1 << 20
DEFAULT_STREAM_CHUNK = 1 << 16
PATTERN = bytes(range(256)) * ((DEFAULT_STREAM_CHUNK + 512) // 256)
NO_BODY_STATUSES = {204, 304}

REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
    204: "No Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
    426: "Upgrade Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}

TOKEN_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class BadRequest(Exception):
    """The request cannot be parsed: answer 400 and close."""


class Stats:
    """Counters of one worker, served by /__stats."""

    def __init__(self) -> None:
        self.accepted = 0          # every accepted TCP connection
        self.connections = 0       # connections that carried at least one counted request
        self.open = 0              # currently open connections
        self.requests = 0          # request heads received, /__stats excluded
        self.completed = 0         # responses fully sent, /__stats excluded
        self.in_flight = 0
        self.websockets = 0        # successful upgrades
        self.abandoned = 0         # parked long polls whose client went away before the answer
        self.targets: collections.deque = collections.deque(maxlen=2000)

    def snapshot(self) -> dict:
        return {
            "connections": self.connections,
            "accepted": self.accepted,
            "open": self.open,
            "requests": self.requests,
            "completed": self.completed,
            "in_flight": self.in_flight,
            "websockets": self.websockets,
            "abandoned": self.abandoned,
            "targets": list(self.targets),
        }


class Request:
    def __init__(self, method: str, target: str, version: str, headers: list, conn: "Connection"):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.conn = conn
        split = urllib.parse.urlsplit(target) if not target.startswith("/") else None
        raw_path, _, raw_query = (split.path + "?" + split.query if split else target).partition("?")
        self.path = raw_path or "/"
        self.query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        self.body_length = 0
        self.body_sha256 = hashlib.sha256(b"").hexdigest()

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    def header_values(self, name: str) -> list:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    def has_token(self, name: str, token: str) -> bool:
        token = token.lower()
        return any(t.strip().lower() == token
                   for v in self.header_values(name) for t in v.split(","))

    def wants_keep_alive(self) -> bool:
        if self.has_token("Connection", "close"):
            return False
        if self.version == "HTTP/1.0":
            return self.has_token("Connection", "keep-alive")
        return True

    def int_query(self, key: str, default: int) -> int:
        try:
            return int(self.query.get(key, default))
        except ValueError:
            raise BadRequest(f"query parameter {key} must be an integer")

    def echo(self) -> dict:
        return {
            "worker": self.conn.server.worker,
            "name": self.conn.server.name,
            "method": self.method,
            "target": self.target,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers],
            "body_length": self.body_length,
            "body_sha256": self.body_sha256,
            "connection_id": self.conn.conn_id,
            "request_index": self.conn.request_index,
            "http_version": self.version,
            "peer": self.conn.peer,
        }


def parse_head(raw: bytes, conn: "Connection") -> Request:
    text = raw[:-4]
    lines = text.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadRequest("malformed request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    if not all(c in TOKEN_CHARS for c in parts[0]):
        raise BadRequest("malformed method")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest("unsupported HTTP version")
    headers = []
    for line in lines[1:]:
        if not line or line[:1] in (b" ", b"\t"):
            raise BadRequest("obsolete line folding")
        name, sep, value = line.partition(b":")
        if not sep or not name or not all(c in TOKEN_CHARS for c in name):
            raise BadRequest("malformed header line")
        if b"\n" in value or b"\r" in value or b"\0" in value:
            raise BadRequest("invalid header value")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return Request(method, target, version, headers, conn)


class Connection:
    """One accepted TCP connection; serves requests until close."""

    def __init__(self, server: "Worker", reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, conn_id: int):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.conn_id = conn_id
        self.request_index = 0
        self.counted = False
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else ""

    # ---- reading -------------------------------------------------------------------------
    async def read_request(self) -> Request | None:
        timeout = self.server.keepalive_timeout
        try:
            coro = self.reader.readuntil(b"\r\n\r\n")
            raw = await (asyncio.wait_for(coro, timeout) if timeout else coro)
        except asyncio.IncompleteReadError as e:
            if e.partial.strip():
                raise BadRequest("incomplete request head")
            return None
        except asyncio.LimitOverrunError:
            raise BadRequest("request head too large")
        except asyncio.TimeoutError:
            return None
        # Tolerate empty lines before a request line (RFC 9112 2.2).
        raw = raw.lstrip(b"\r\n")
        if not raw.strip():
            return await self.read_request()
        self.request_index += 1
        return parse_head(raw, self)

    async def consume_body(self, req: Request) -> None:
        """Reads the request body streaming and records its length and SHA-256."""
        te = req.header_values("Transfer-Encoding")
        cls = req.header_values("Content-Length")
        sha = hashlib.sha256()
        total = 0
        if te:
            codings = [c.strip().lower() for v in te for c in v.split(",") if c.strip()]
            if not codings or codings[-1] != "chunked":
                raise BadRequest("unsupported transfer coding")
            await self.maybe_continue(req)
            while True:
                line = await self.reader.readuntil(b"\r\n")
                size_text = line[:-2].split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise BadRequest("bad chunk size")
                if size == 0:
                    while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    break
                total += await self._read_exact_into(sha, size)
                if await self.reader.readexactly(2) != b"\r\n":
                    raise BadRequest("bad chunk terminator")
        elif cls:
            values = {v.strip() for v in ",".join(cls).split(",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise BadRequest("bad Content-Length")
            length = int(next(iter(values)))
            if length:
                await self.maybe_continue(req)
                total = await self._read_exact_into(sha, length)
        req.body_length = total
        req.body_sha256 = sha.hexdigest()

    async def _read_exact_into(self, sha, size: int) -> int:
        left = size
        while left:
            block = await self.reader.read(min(left, READ_BLOCK))
            if not block:
                raise asyncio.IncompleteReadError(b"", left)
            sha.update(block)
            left -= len(block)
        return size

    async def maybe_continue(self, req: Request) -> None:
        if (req.header("Expect") or "").lower() == "100-continue" and req.version == "HTTP/1.1":
            self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await self.writer.drain()

    # ---- writing -------------------------------------------------------------------------
    def head_bytes(self, status: int, headers: list) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
                 f"Date: {email.utils.formatdate(usegmt=True)}",
                 "Server: fake-odoo"]
        lines += [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def respond(self, req: Request | None, status: int, body: bytes = b"",
                      headers: list | None = None, keep_alive: bool = True,
                      content_type: str = "text/plain; charset=utf-8") -> bool:
        headers = list(headers or [])
        if status not in NO_BODY_STATUSES:
            headers.append(("Content-Type", content_type))
            headers.append(("Content-Length", str(len(body))))
        else:
            body = b""
        keep_alive = keep_alive and req is not None and req.wants_keep_alive()
        if not keep_alive:
            headers.append(("Connection", "close"))
        elif req.version == "HTTP/1.0":
            headers.append(("Connection", "keep-alive"))
        if req is not None and req.method == "HEAD":
            body = b""
        self.writer.write(self.head_bytes(status, headers) + body)
        await self.writer.drain()
        return keep_alive

    async def respond_json(self, req: Request, obj: dict, status: int = 200,
                           headers: list | None = None, keep_alive: bool = True) -> bool:
        body = json.dumps(obj).encode()
        return await self.respond(req, status, body, headers, keep_alive, "application/json")

    # ---- main loop -----------------------------------------------------------------------
    async def serve(self) -> None:
        stats = self.server.stats
        try:
            while True:
                try:
                    req = await self.read_request()
                    if req is None:
                        return
                    counted = req.path != "/__stats"
                    if counted:
                        stats.requests += 1
                        stats.in_flight += 1
                        stats.targets.append(req.target)
                        if not self.counted:
                            self.counted = True
                            stats.connections += 1
                    try:
                        keep = await self.server.dispatch(self, req)
                        if counted:
                            stats.completed += 1
                    finally:
                        if counted:
                            stats.in_flight -= 1
                except BadRequest as e:
                    await self.respond(None, 400, f"bad request: {e}\n".encode(), keep_alive=False)
                    return
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            self.writer.close()


class Worker:
    """One listening port: the web worker or the longpolling worker."""

    def __init__(self, worker: str, name: str, keepalive_timeout: float | None,
                 fail_status: int = 0):
        self.worker = worker
        self.name = name
        self.keepalive_timeout = keepalive_timeout
        self.fail_status = fail_status  # non-zero: every request but /__stats gets it
        self.stats = Stats()
        self.next_conn_id = 0
        self.writers: set = set()
        self.server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self.on_connection, host, port,
                                                 limit=MAX_HEADER_BYTES, backlog=1024,
                                                 reuse_address=True)
        return self.server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self.server:
            self.server.close()
        for w in list(self.writers):
            w.close()

    async def on_connection(self, reader, writer) -> None:
        self.next_conn_id += 1
        self.stats.accepted += 1
        self.stats.open += 1
        self.writers.add(writer)
        transport = writer.transport
        transport.set_write_buffer_limits(high=1 << 20)
        try:
            await Connection(self, reader, writer, self.next_conn_id).serve()
        except Exception as e:  # unexpected: report and drop the connection
            print(f"fake-odoo {self.worker}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            writer.close()
        finally:
            self.stats.open -= 1
            self.writers.discard(writer)

    # ---- routing -------------------------------------------------------------------------
    async def dispatch(self, conn: Connection, req: Request) -> bool:
        if req.path == "/__stats":
            await conn.consume_body(req)
            return await conn.respond_json(req, self.stats.snapshot())
        if self.fail_status:
            await conn.consume_body(req)
            return await conn.respond(req, self.fail_status, b"failing on purpose\n")
        if self.worker == "longpolling":
            return await self.dispatch_longpolling(conn, req)
        return await self.dispatch_web(conn, req)

    async def dispatch_longpolling(self, conn: Connection, req: Request) -> bool:
        if req.path == "/websocket" or req.path.startswith("/websocket/"):
            return await websocket_handshake(conn, req)
        await conn.consume_body(req)
        if req.path == "/longpolling/poll":
            await park(conn, req.int_query("ms", 5000) / 1000)
        return await conn.respond_json(req, req.echo())

    async def dispatch_web(self, conn: Connection, req: Request) -> bool:
        path = req.path
        if path == "/stream":
            await conn.consume_body(req)
            return await stream_response(conn, req)
        await conn.consume_body(req)
        if path == "/web/health":
            return await conn.respond(req, 200, b"ok")
        if path == "/upload" and req.method in ("POST", "PUT"):
            return await conn.respond_json(
                req, {"body_length": req.body_length, "body_sha256": req.body_sha256})
        if path == "/slow":
            await asyncio.sleep(req.int_query("ms", 1000) / 1000)
            return await conn.respond_json(req, req.echo())
        if path.startswith("/status/"):
            try:
                status = int(path[len("/status/"):])
            except ValueError:
                status = 0
            if not 200 <= status <= 599:
                raise BadRequest("status must be 200..599")
            return await conn.respond(req, status, f"status {status}\n".encode())
        if path == "/set-cookie":
            return await conn.respond(req, 200, b"cookies set\n", headers=[
                ("Set-Cookie", "session_id=abc123; Path=/; HttpOnly"),
                ("Set-Cookie", "other=1")])
        if path == "/close":
            await conn.respond_json(req, req.echo(), keep_alive=False)
            return False
        if path == "/hop":
            return await conn.respond(req, 200, b"hop\n", headers=[
                ("Connection", "X-Secret, keep-alive"),
                ("X-Secret", "1"),
                ("Keep-Alive", "timeout=5"),
                ("Proxy-Connection", "keep-alive"),
                ("X-Kept", "1")])
        return await conn.respond_json(req, req.echo())


PARK_CHECK_INTERVAL = 0.05


async def park(conn: Connection, seconds: float) -> None:
    """Waits like a parked Odoo long poll. Unlike gevent, which notices a vanished client only
    when it writes the answer, the wait ends as soon as the client is gone, so the peer's close
    shows at once in the open / abandoned counters."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if conn.reader.at_eof() or conn.reader.exception() is not None:
            conn.server.stats.abandoned += 1
            raise ConnectionResetError("the client went away during a parked long poll")
        await asyncio.sleep(min(PARK_CHECK_INTERVAL, left))


# ---- /stream ---------------------------------------------------------------------------
def pattern_block(offset: int, length: int) -> memoryview:
    start = offset % 256
    return memoryview(PATTERN)[start:start + length]


async def stream_response(conn: Connection, req: Request) -> bool:
    total = req.int_query("bytes", 0)
    chunk = req.int_query("chunk", DEFAULT_STREAM_CHUNK)
    if total < 0 or not 1 <= chunk <= DEFAULT_STREAM_CHUNK:
        raise BadRequest(f"bytes >= 0 and 1 <= chunk <= {DEFAULT_STREAM_CHUNK}")
    chunked = req.query.get("chunked") in ("1", "true", "yes")
    keep_alive = req.wants_keep_alive()
    headers = [("Content-Type", "application/octet-stream")]
    if chunked and req.version == "HTTP/1.1":
        headers.append(("Transfer-Encoding", "chunked"))
    elif chunked:  # HTTP/1.0 has no chunked encoding: close-delimited body
        keep_alive = False
    else:
        headers.append(("Content-Length", str(total)))
    if not keep_alive:
        headers.append(("Connection", "close"))
    writer = conn.writer
    writer.write(conn.head_bytes(200, headers))
    if req.method != "HEAD":
        framed = chunked and req.version == "HTTP/1.1"
        sent = 0
        while sent < total:
            n = min(chunk, total - sent)
            if framed:
                writer.write(b"%x\r\n" % n)
            writer.write(pattern_block(sent, n))
            if framed:
                writer.write(b"\r\n")
            sent += n
            await writer.drain()
        if framed:
            writer.write(b"0\r\n\r\n")
    await writer.drain()
    return keep_alive


# ---- WebSocket (RFC 6455), validated like Odoo's bus websocket -------------------------------
WS_REQUIRED = ("host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
               "origin")


async def websocket_handshake(conn: Connection, req: Request) -> bool:
    await conn.consume_body(req)
    missing = [h for h in WS_REQUIRED if not (req.header(h) or "").strip()]
    if missing:
        msg = "Empty or missing header(s): " + ", ".join(missing)
        return await conn.respond(req, 400, (msg + "\n").encode())
    if req.method != "GET":
        return await conn.respond(req, 405, b"WebSocket handshake must be GET\n")
    if (req.header("Upgrade") or "").strip().lower() != "websocket":
        return await conn.respond(req, 400, b"Invalid Upgrade header: websocket expected\n")
    if not req.has_token("Connection", "upgrade"):
        return await conn.respond(req, 400, b"Invalid Connection header: upgrade expected\n")
    if req.header("Sec-WebSocket-Version").strip() != "13":
        return await conn.respond(req, 426, b"Unsupported WebSocket version\n",
                                  headers=[("Sec-WebSocket-Version", "13")])
    key = req.header("Sec-WebSocket-Key").strip()
    try:
        valid_key = len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        valid_key = False
    if not valid_key:
        return await conn.respond(req, 400, b"Sec-WebSocket-Key should be b64 encoded 16 bytes\n")
    accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
    conn.writer.write(conn.head_bytes(101, [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept),
        ("X-Upstream-Name", conn.server.name),
        ("X-Upstream-Worker", conn.server.worker),
    ]))
    await conn.writer.drain()
    conn.server.stats.websockets += 1
    await WebSocketEcho(conn, req).run()
    return False


def unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    if not n:
        return data
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def ws_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < (1 << 16):
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class WebSocketEcho:
    def __init__(self, conn: Connection, handshake: Request):
        self.conn = conn
        self.handshake = handshake

    async def close(self, code: int, reason: str = "") -> None:
        self.conn.writer.write(ws_frame(0x8, struct.pack("!H", code) + reason.encode()))
        await self.conn.writer.drain()

    async def run(self) -> None:
        reader, writer = self.conn.reader, self.conn.writer
        message_opcode, parts, size = None, [], 0
        while True:
            try:
                b0, b1 = await reader.readexactly(2)
            except asyncio.IncompleteReadError:
                return
            fin, opcode, length = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if b0 & 0x70 or not b1 & 0x80:
                return await self.close(1002, "reserved bits or unmasked frame")
            if length == 126:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await reader.readexactly(8))
            mask = await reader.readexactly(4)
            if opcode >= 0x8 and (length > 125 or not fin):
                return await self.close(1002, "bad control frame")
            if size + length > MAX_WS_MESSAGE:
                return await self.close(1009, "message too big")
            payload = unmask(await reader.readexactly(length), mask)
            if opcode == 0x8:  # close: echo the status code, then close
                writer.write(ws_frame(0x8, payload[:2]))
                await writer.drain()
                return
            if opcode == 0x9:
                writer.write(ws_frame(0xA, payload))
                await writer.drain()
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                if message_opcode is not None:
                    return await self.close(1002, "new message inside a fragmented one")
                message_opcode = opcode
            elif opcode != 0x0 or message_opcode is None:
                return await self.close(1002, "unexpected opcode")
            parts.append(payload)
            size += length
            if not fin:
                continue
            message = b"".join(parts)
            if message_opcode == 0x1:
                try:
                    text = message.decode("utf-8")
                except UnicodeDecodeError:
                    return await self.close(1007, "invalid UTF-8")
                if text == "__handshake__":
                    message = json.dumps(self.handshake.echo()).encode()
            writer.write(ws_frame(message_opcode, message))
            await writer.drain()
            message_opcode, parts, size = None, [], 0


# ---- main ------------------------------------------------------------------------------------
async def main(args: argparse.Namespace) -> int:
    keepalive = args.keepalive_timeout or None
    web = Worker("web", args.name, keepalive, args.fail_status)
    longpolling = Worker("longpolling", args.name, keepalive)
    web_port = await web.start(args.host, args.web_port)
    lp_port = await longpolling.start(args.host, args.longpolling_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(json.dumps({"web": web_port, "longpolling": lp_port, "name": args.name}) + "\n")
    sys.stdout.flush()
    await stop.wait()
    web.close()
    longpolling.close()
    return 0


def parse_args(argv: list) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Fake Odoo upstream (web + longpolling workers).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--web-port", type=int, default=8069)
    p.add_argument("--longpolling-port", type=int, default=8072)
    p.add_argument("--name", default="odoo")
    p.add_argument("--keepalive-timeout", type=float, default=0,
                   help="close connections idle (between requests) for SECONDS (0: never)")
    p.add_argument("--fail-status", type=int, default=0,
                   help="answer every web request with this status (a sick pod); 0: never")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
