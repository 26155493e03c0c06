#!/usr/bin/python3
"""Sends EXACTLY N keep-alive GET requests over C connections and checks every answer.

wrk runs for a duration; instruction and syscall counts per request need a known request
count, so bench/profile.py drives the proxies with this instead (the proxy under valgrind or
strace is far slower than this client, so its speed does not matter).

  loadgen.py --port P --requests N --connections C --path /small [--expect-bytes 100] [--close]

Each connection sends one request, reads the whole answer (Content-Length or chunked), then
sends the next: no pipelining. With --close each request has a connection of its own and
`Connection: close` (as wrk -H 'Connection: close' sends), and the proxy must close it. Prints {"requests": N, "ok": K, "errors": [...], "seconds": S}
and exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


async def read_answer(reader: asyncio.StreamReader, timeout: float) -> tuple[int, int]:
    """(status, body bytes) of one answer; ConnectionError if it closes the connection."""
    status, length, close = await read_response(reader, timeout)
    if close:
        raise ConnectionError("proxy closed a keep-alive connection")
    return status, length


async def read_response(reader: asyncio.StreamReader, timeout: float) -> tuple[int, int, bool]:
    """(status, body bytes, whether it carries Connection: close) of one whole answer
    (Content-Length or chunked)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = None, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        body = 0
        while True:
            size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
            size = int(size_line.split(b";")[0], 16)
            await asyncio.wait_for(reader.readexactly(size + 2), timeout)
            body += size
            if size == 0:
                break
        return status, body, close
    if length is None:
        raise ConnectionError("answer without Content-Length")
    await asyncio.wait_for(reader.readexactly(length), timeout)
    return status, length, close


async def run(args) -> dict:
    # exactly what wrk sends
    close = "Connection: close\r\n" if args.close else ""
    request = f"GET {args.path} HTTP/1.1\r\nHost: {args.host_header}\r\n{close}\r\n".encode()
    shares = [args.requests // args.connections + (1 if i < args.requests % args.connections else 0)
              for i in range(args.connections)]
    ok = 0
    errors: list[str] = []

    def check(status: int, body: int) -> None:
        if status != 200:
            raise ConnectionError(f"status {status}")
        if args.expect_bytes is not None and body != args.expect_bytes:
            raise ConnectionError(f"body {body} bytes, expected {args.expect_bytes}")

    async def connection(share: int) -> None:
        nonlocal ok
        reader = writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", args.port), args.timeout)
            for _ in range(share):
                writer.write(request)
                status, body = await read_answer(reader, args.timeout)
                check(status, body)
                ok += 1
        except Exception as e:  # noqa: BLE001 - reported
            errors.append(f"{type(e).__name__}: {e}")
        finally:
            if writer is not None:
                writer.close()

    async def connections_of_one_request(share: int) -> None:
        nonlocal ok
        for _ in range(share):
            writer = None
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", args.port), args.timeout)
                writer.write(request)
                status, body, closing = await read_response(reader, args.timeout)
                check(status, body)
                if not closing:
                    raise ConnectionError("answer to Connection: close without it")
                if await asyncio.wait_for(reader.read(1), args.timeout) != b"":
                    raise ConnectionError("bytes after the answer")
                ok += 1
            except Exception as e:  # noqa: BLE001 - reported
                errors.append(f"{type(e).__name__}: {e}")
                return
            finally:
                if writer is not None:
                    writer.close()

    start = time.monotonic()
    client = connections_of_one_request if args.close else connection
    await asyncio.gather(*(client(s) for s in shares if s))
    return {"requests": args.requests, "ok": ok, "errors": errors[:5],
            "seconds": round(time.monotonic() - start, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--path", default="/small")
    parser.add_argument("--host-header", default="bench.local")
    parser.add_argument("--expect-bytes", type=int)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--close", action="store_true",
                        help="a new connection per request, with Connection: close")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] == args.requests else 1


if __name__ == "__main__":
    sys.exit(main())
