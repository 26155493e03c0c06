#!/usr/bin/python3
"""Holds thousands of long-lived connections through a proxy from ONE cheap asyncio process.

Raw non-blocking sockets and a minimal handshake (no websocket library), so the client costs
little CPU and memory next to the proxy being measured.

  idle_client.py tunnels --port P --count N [--host-header bench.local]
      opens N WebSocket tunnels (GET /websocket, 101 expected), checks that each echoes one
      message, prints {"opened": N, "failed": F, "errors": [...], "open_seconds": S}, then
      obeys commands read from stdin, one per line:
        probe M    M echo round trips, one at a time, spread over the open tunnels; prints
                   {"probes": M, "failed": F, "p50_ms": .., "p99_ms": .., "max_ms": ..}
        close      closes every tunnel, prints {"closed": N} and exits 0

  idle_client.py keepalive --port P --count N [--path /small]
      opens N keep-alive connections, each answered one GET (200 expected) and then left idle,
      prints {"opened": N, "failed": F, "errors": [...], "open_seconds": S}, then obeys:
        probe M    M requests, one at a time, spread over the idle connections; prints
                   {"probes": M, "failed": F, "p50_ms": .., "p99_ms": .., "max_ms": ..}
        close      closes every connection, prints {"closed": N} and exits 0

  idle_client.py tlskeepalive --port P --count N [--path /small] [--ca CA.pem]
      the same as keepalive over TLS (SNI: the --host-header; the chain verified against --ca,
      not verified without it; ALPN http/1.1; never resumed): what a proxy keeps per idle TLS
      client connection, its TLS state included

  idle_client.py poll --port P --count N [--ms 30000]
      parks N keep-alive connections in GET /longpolling/poll?ms=MS (each re-polls when its
      answer comes), prints {"sent": N, "failed": F, "errors": [...], "open_seconds": S},
      then obeys:
        status     prints {"answered": A, "failed": F}
        close      closes every connection, prints {"closed": N} and exits 0

Every wait is bounded (--timeout per network step).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
import time

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # any 16 bytes, base64


def ws_frame(payload: bytes) -> bytes:
    """A masked text frame (clients must mask), payload < 126 bytes."""
    mask = os.urandom(4)
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
    return bytes((0x81, 0x80 | n)) + mask + masked


class Peer:
    """One connection with its own receive buffer."""

    __slots__ = ("sock", "buf")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()

    async def recv_raw(self, loop, timeout: float) -> bytes:
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout)
        if not data:
            raise ConnectionError("closed by the proxy")
        return data

    async def recv_more(self, loop, timeout: float) -> None:
        self.buf += await self.recv_raw(loop, timeout)

    async def send(self, loop, data: bytes) -> None:
        await loop.sock_sendall(self.sock, data)

    async def read_head(self, loop, timeout: float) -> bytes:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            if len(self.buf) > 65536:
                raise ConnectionError("response head too large")
            await self.recv_more(loop, timeout)
        head = bytes(self.buf[:end])
        del self.buf[:end + 4]
        return head

    async def read_response(self, loop, timeout: float) -> bytes:
        head = await self.read_head(loop, timeout)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buf) < length:
            await self.recv_more(loop, timeout)
        del self.buf[:length]
        return head

    async def read_ws_frame(self, loop, timeout: float) -> bytes:
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7F
                if n >= 126:
                    raise ConnectionError("unexpected large frame")
                if len(self.buf) >= 2 + n:
                    payload = bytes(self.buf[2:2 + n])
                    del self.buf[:2 + n]
                    return payload
            await self.recv_more(loop, timeout)


class TlsPeer(Peer):
    """A Peer whose bytes go through TLS: an ssl.SSLObject over in-memory BIOs on the same raw
    socket, so the modes' request and response code runs over it unchanged. (asyncio's own TLS
    transport would allocate a 256 KiB read buffer per connection: thousands of them would
    weigh more than the proxy being measured.)"""

    __slots__ = ("tls", "incoming", "outgoing")

    def __init__(self, sock: socket.socket, ctx: ssl.SSLContext, server_name: str):
        super().__init__(sock)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_name)

    async def flush(self, loop) -> None:
        if data := self.outgoing.read():
            await super().send(loop, data)

    async def handshake(self, loop, timeout: float) -> None:
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self.flush(loop)
                self.incoming.write(await self.recv_raw(loop, timeout))
        await self.flush(loop)

    async def recv_more(self, loop, timeout: float) -> None:
        while True:
            try:
                data = self.tls.read(65536)
            except ssl.SSLWantReadError:  # a partial record, or one with no data (a ticket)
                self.incoming.write(await self.recv_raw(loop, timeout))
                continue
            if not data:
                raise ConnectionError("closed by the proxy (close_notify)")
            self.buf += data
            return

    async def send(self, loop, data: bytes) -> None:
        self.tls.write(data)
        await self.flush(loop)


def tls_context(ca: str | None) -> ssl.SSLContext:
    """TLS 1.2 or 1.3 (the default preference: 1.3), ALPN http/1.1 as the proxies expect; no
    session is ever given to a connection, so every one is a full handshake."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        ctx.load_verify_locations(cafile=ca)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def connect(loop, port: int, timeout: float, tls: ssl.SSLContext | None = None,
                  server_name: str = "") -> Peer:
    """A connected Peer; with tls, a TlsPeer whose handshake is done (bounded by timeout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), timeout)
        if tls is None:
            return Peer(sock)
        peer = TlsPeer(sock, tls, server_name)
        await peer.handshake(loop, timeout)
        return peer
    except BaseException:
        sock.close()
        raise


async def read_commands():
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            yield "close"
            return
        yield line.strip()


def say(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


async def open_all(count: int, concurrency: int, opener) -> tuple[list, list, float]:
    """Runs opener(i) for i in range(count) with bounded concurrency; returns (peers, errors)."""
    sem = asyncio.Semaphore(concurrency)
    peers: list = [None] * count
    errors: list = []

    async def one(i: int) -> None:
        async with sem:
            try:
                peers[i] = await opener(i)
            except Exception as e:  # noqa: BLE001 - reported, the run is then broken
                errors.append(f"#{i}: {type(e).__name__}: {e}")

    start = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    return [p for p in peers if p is not None], errors, time.monotonic() - start


def percentile(sorted_values: list, q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


async def hold(args, opener, round_trip) -> int:
    """Opens args.count connections with opener(i), reports, then holds them open and obeys
    `probe M` (M round_trip(peer, j) calls, one at a time, spread over the connections) and
    `close`."""
    peers, errors, seconds = await open_all(args.count, args.concurrency, opener)
    say({"opened": len(peers), "failed": len(errors), "errors": errors[:5],
         "open_seconds": round(seconds, 3)})
    async for command in read_commands():
        if command.startswith("probe"):
            m = int(command.split()[1])
            rtts, failed = [], 0
            for j in range(m):
                if not peers:
                    failed += 1
                    continue
                t0 = time.perf_counter()
                try:
                    await round_trip(peers[(j * 7919) % len(peers)], j)
                    rtts.append((time.perf_counter() - t0) * 1000)
                except Exception:  # noqa: BLE001 - counted as a failed probe
                    failed += 1
            rtts.sort()
            say({"probes": m, "failed": failed, "p50_ms": round(percentile(rtts, 50), 3),
                 "p99_ms": round(percentile(rtts, 99), 3),
                 "max_ms": round(rtts[-1], 3) if rtts else None})
        elif command == "close":
            for peer in peers:
                peer.sock.close()
            say({"closed": len(peers)})
            return 0
    return 0


async def tunnels(args) -> int:
    loop = asyncio.get_running_loop()
    request = (f"GET /websocket HTTP/1.1\r\nHost: {args.host_header}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY.decode()}\r\n"
               f"Sec-WebSocket-Version: 13\r\nOrigin: http://{args.host_header}\r\n\r\n").encode()

    async def opener(i: int) -> Peer:
        peer = await connect(loop, args.port, args.timeout)
        try:
            await peer.send(loop, request)
            head = await peer.read_head(loop, args.timeout)
            if not head.startswith(b"HTTP/1.1 101"):
                status_line = head.split(b"\r\n")[0]
                raise ConnectionError(f"handshake answered {status_line!r}")
            payload = b"hello %d" % i
            await peer.send(loop, ws_frame(payload))
            echo = await peer.read_ws_frame(loop, args.timeout)
            if echo != payload:
                raise ConnectionError(f"echo {echo!r} != {payload!r}")
        except BaseException:
            peer.sock.close()
            raise
        return peer

    async def round_trip(peer: Peer, j: int) -> None:
        payload = b"probe %d" % j
        await peer.send(loop, ws_frame(payload))
        if await peer.read_ws_frame(loop, args.timeout) != payload:
            raise ConnectionError("wrong echo")

    return await hold(args, opener, round_trip)


async def keepalive(args) -> int:
    """Modes keepalive and tlskeepalive."""
    loop = asyncio.get_running_loop()
    request = f"GET {args.path} HTTP/1.1\r\nHost: {args.host_header}\r\n\r\n".encode()
    tls = tls_context(args.ca) if args.mode == "tlskeepalive" else None

    async def exchange(peer: Peer) -> None:
        await peer.send(loop, request)
        head = await peer.read_response(loop, args.timeout)
        if not head.startswith(b"HTTP/1.1 200"):
            status_line = head.split(b"\r\n")[0]
            raise ConnectionError(f"answered {status_line!r}")
        if b"connection: close" in head.lower():
            raise ConnectionError("the proxy closed a keep-alive connection")

    async def opener(i: int) -> Peer:
        peer = await connect(loop, args.port, args.timeout, tls, args.host_header)
        try:
            await exchange(peer)
        except BaseException:
            peer.sock.close()
            raise
        return peer

    return await hold(args, opener, lambda peer, j: exchange(peer))


async def poll(args) -> int:
    loop = asyncio.get_running_loop()
    request = (f"GET /longpolling/poll?ms={args.ms} HTTP/1.1\r\nHost: {args.host_header}\r\n"
               f"\r\n").encode()
    state = {"answered": 0, "failed": 0}

    async def keep_polling(peer: Peer) -> None:
        try:
            while True:
                await peer.read_response(loop, args.ms / 1000 + 60)
                state["answered"] += 1
                await peer.send(loop, request)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - counted
            state["failed"] += 1

    tasks = []

    async def opener(i: int) -> Peer:
        peer = await connect(loop, args.port, args.timeout)
        await peer.send(loop, request)
        tasks.append(asyncio.create_task(keep_polling(peer)))
        return peer

    peers, errors, seconds = await open_all(args.count, args.concurrency, opener)
    say({"sent": len(peers), "failed": len(errors), "errors": errors[:5],
         "open_seconds": round(seconds, 3)})
    async for command in read_commands():
        if command == "status":
            say(dict(state))
        elif command == "close":
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for peer in peers:
                peer.sock.close()
            say({"closed": len(peers), **state})
            return 0
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["tunnels", "keepalive", "tlskeepalive", "poll"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--host-header", default="bench.local")
    parser.add_argument("--ms", type=int, default=30000)
    parser.add_argument("--path", default="/small")
    parser.add_argument("--ca", help="tlskeepalive: verify the chain against this CA file")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    modes = {"tunnels": tunnels, "keepalive": keepalive, "tlskeepalive": keepalive,
             "poll": poll}
    return asyncio.run(modes[args.mode](args))


if __name__ == "__main__":
    sys.exit(main())
