#!/usr/bin/python3
"""A minimal, cheap asyncio upstream for the long-lived benchmark scenarios.

tests/fakes/odoo_upstream.py validates everything like Odoo and costs too much per connection
to hold 10,000 WebSockets; this one does only what the benchmark needs, with asyncio.Protocol
(no per-connection task or stream objects):

  GET /websocket            RFC 6455 handshake (needs Sec-WebSocket-Key), then every data frame
                            is echoed back unmasked with its opcode; ping -> pong; close -> close.
  ANY /longpolling/poll?ms=N  answers 200 "ok" after N ms (default 5000), keep-alive.
  GET /__stats              JSON {"open": connections, "websockets": open tunnels,
                            "polls": parked polls, "upgrades": total upgrades,
                            "poll_requests": total polls, "requests": total requests}
  anything else             200 "ok"

Usage: /usr/bin/python3 bench/ws_upstream.py [--port 0]
Prints one JSON line {"port": P} on stdout once listening. SIGTERM/SIGINT: exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import signal
import sys

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 64 * 1024


class Stats:
    open = 0
    websockets = 0
    polls = 0
    upgrades = 0
    poll_requests = 0
    requests = 0


def response(status: str, body: bytes, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 " + status.encode() + b"\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


def unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.mode = "http"  # http | ws | closed
        self.timer: asyncio.TimerHandle | None = None
        self.skip = 0  # request body bytes still to discard

    def connection_made(self, transport) -> None:
        self.transport = transport
        Stats.open += 1

    def connection_lost(self, exc) -> None:
        Stats.open -= 1
        if self.mode == "ws":
            Stats.websockets -= 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
            Stats.polls -= 1
        self.mode = "closed"

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.mode == "http":
            self.handle_http()
        elif self.mode == "ws":
            self.handle_ws()

    # ---- HTTP/1.1 ------------------------------------------------------------------------
    def handle_http(self) -> None:
        while self.mode == "http" and self.timer is None:
            if self.skip:
                n = min(self.skip, len(self.buf))
                del self.buf[:n]
                self.skip -= n
                if self.skip:
                    return
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self.transport.close()
                return
            head = bytes(self.buf[:end])
            del self.buf[:end + 4]
            Stats.requests += 1
            lines = head.split(b"\r\n")
            try:
                _method, target, _version = lines[0].split(b" ", 2)
            except ValueError:
                self.transport.write(response("400 Bad Request", b"bad request line\n",
                                              b"Connection: close\r\n"))
                self.transport.close()
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            self.skip = int(headers.get(b"content-length", b"0") or 0)
            path, _, query = target.partition(b"?")
            if path == b"/websocket" or path.startswith(b"/websocket/"):
                self.upgrade(headers)
            elif path == b"/longpolling/poll":
                ms = 5000
                for part in query.split(b"&"):
                    if part.startswith(b"ms="):
                        ms = int(part[3:])
                Stats.polls += 1
                Stats.poll_requests += 1
                self.timer = asyncio.get_running_loop().call_later(ms / 1000, self.poll_done)
            elif path == b"/__stats":
                body = json.dumps({"open": Stats.open, "websockets": Stats.websockets,
                                   "polls": Stats.polls, "upgrades": Stats.upgrades,
                                   "poll_requests": Stats.poll_requests,
                                   "requests": Stats.requests}).encode()
                self.transport.write(response("200 OK", body))
            else:
                self.transport.write(response("200 OK", b"ok\n"))

    def poll_done(self) -> None:
        self.timer = None
        Stats.polls -= 1
        if self.mode != "http":
            return
        self.transport.write(response("200 OK", b"ok\n"))
        self.handle_http()

    def upgrade(self, headers: dict) -> None:
        key = headers.get(b"sec-websocket-key")
        if not key or b"websocket" not in headers.get(b"upgrade", b"").lower():
            self.transport.write(response("400 Bad Request", b"not a websocket handshake\n",
                                          b"Connection: close\r\n"))
            self.transport.close()
            return
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        self.mode = "ws"
        Stats.websockets += 1
        Stats.upgrades += 1
        if self.buf:
            self.handle_ws()

    # ---- WebSocket frames ----------------------------------------------------------------
    def handle_ws(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = int.from_bytes(buf[2:4], "big")
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = int.from_bytes(buf[2:10], "big")
                pos = 10
            mask = b""
            if b1 & 0x80:
                mask = bytes(buf[pos:pos + 4])
                pos += 4
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos:pos + n])
            del buf[:pos + n]
            if mask and payload:
                payload = unmask(payload, mask)
            if opcode == 0x8:  # close: answer and close
                self.transport.write(frame(0x8, payload[:2]))
                self.transport.close()
                return
            if opcode == 0x9:  # ping
                self.transport.write(frame(0xA, payload))
            elif opcode == 0xA:  # pong
                pass
            else:
                self.transport.write(frame(opcode, payload))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Conn, args.host, args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
