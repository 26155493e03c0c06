"""WebSocket helpers: a `websockets` (10.4) client for echo traffic and a raw handshake builder
for checking exactly what a refused handshake returns."""

from __future__ import annotations

import asyncio
import base64
import os

import websockets

MAX_MESSAGE = 8 << 20


def run(coro, timeout: float = 30.0):
    """Runs a coroutine to completion with a bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connect(port: int, host: str, path: str = "/websocket", origin: str | None = "default",
            **kwargs):
    """websockets.connect through 127.0.0.1:port with the given Host header. origin="default"
    sends http://<host>; None sends no Origin header."""
    if origin == "default":
        origin = f"http://{host}"
    return websockets.connect(f"ws://{host}{path}", host="127.0.0.1", port=port, origin=origin,
                              max_size=MAX_MESSAGE, open_timeout=10, close_timeout=5, **kwargs)


async def handshake_status(port: int, host: str, **kwargs) -> int:
    """Status of a websockets client handshake: 101 if it was accepted, else the HTTP status
    the server refused it with."""
    try:
        ws = await connect(port, host, **kwargs)
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    await ws.close()
    return 101


async def echo_roundtrip(ws, message):
    await ws.send(message)
    return await asyncio.wait_for(ws.recv(), 20)


def handshake_request(host: str, path: str = "/websocket", origin: str | None = "default",
                      extra=()) -> bytes:
    """Raw bytes of a WebSocket upgrade request (origin as in connect())."""
    if origin == "default":
        origin = f"http://{host}"
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade",
             "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode(),
             "Sec-WebSocket-Version: 13"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
