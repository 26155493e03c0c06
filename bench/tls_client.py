#!/usr/bin/python3
"""Full TLS handshakes per second: one new TLS connection per request, never resumed.

wrk cannot measure this: it keeps each connection's SSL object across reconnects, so with
`Connection: close` it resumes the previous session (a PSK handshake in TLS 1.3) on nearly
every connection (see bench/README.md). This client gives no session to any connection, so
every connection is a full handshake (ECDHE + the server's ECDSA signature); it checks that
with SSLSocket.session_reused and counts any resumption as an error.

  tls_client.py --port P --duration S [--connections 16] [--path /small] [--expect-bytes 100]
                [--host-header bench.local] [--server-name bench.local] [--timeout 5]

Each of --connections threads loops until the deadline: connect, handshake (TLS 1.2 or 1.3,
the client's default preference: 1.3; ALPN offered: http/1.1), send
`GET PATH HTTP/1.1` + Host + `Connection: close`, read the answer until the server closes,
check status 200 and the body size, close. Certificates are not verified here (wrk does not
verify either; bench.py checks the chain once, against the run's CA, before measuring).
The handshake, the request and the reads release the GIL, so the threads overlap.

Prints one JSON line: {"requests", "ok", "errors", "timeouts" (of the errors), "error_samples",
"resumed", "versions",
"ciphers", "alpn", "duration_us", "p50", "p90", "p99", "max"} (latencies in microseconds, of
the whole connection: connect to close). Exit 0 (the caller judges the counts).
"""

from __future__ import annotations

import argparse
import collections
import json
import socket
import ssl
import sys
import threading
import time


def one(ctx: ssl.SSLContext, args, request: bytes, stats: dict) -> None:
    t0 = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = ctx.wrap_socket(sock, server_hostname=args.server_name)
        sock = tls
        if tls.session_reused:
            stats["resumed"] += 1
        stats["versions"][tls.version()] += 1
        stats["ciphers"][tls.cipher()[0]] += 1
        stats["alpn"][tls.selected_alpn_protocol() or "none"] += 1
        tls.sendall(request)
        data = bytearray()
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
            if len(data) > 4 * 1024 * 1024:
                raise ConnectionError("answer too large")
    finally:
        sock.close()
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ConnectionError(f"no complete answer head ({len(data)} bytes)")
    status_line = bytes(data[:data.find(b"\r\n")])
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or parts[1] != b"200":
        raise ConnectionError(f"answered {status_line[:60]!r}")
    body = len(data) - end - 4
    if args.expect_bytes is not None and body != args.expect_bytes:
        raise ConnectionError(f"body {body} bytes, expected {args.expect_bytes}")
    stats["latencies"].append((time.perf_counter() - t0) * 1e6)


def percentile(sorted_values: list, q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--path", default="/small")
    parser.add_argument("--expect-bytes", type=int)
    parser.add_argument("--host-header", default="bench.local")
    parser.add_argument("--server-name", default="bench.local")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    request = (f"GET {args.path} HTTP/1.1\r\nHost: {args.host_header}\r\n"
               f"Connection: close\r\n\r\n").encode()

    per_thread = [{"requests": 0, "ok": 0, "errors": 0, "timeouts": 0, "error_samples": [],
                   "resumed": 0,
                   "versions": collections.Counter(), "ciphers": collections.Counter(),
                   "alpn": collections.Counter(), "latencies": []}
                  for _ in range(args.connections)]
    start = threading.Barrier(args.connections + 1)
    threads = []
    box = {"deadline": 0.0}  # set just before the barrier opens

    def run(stats):
        # the deadline is read after the barrier, so every thread gets the same one
        try:
            start.wait(30)
        except threading.BrokenBarrierError:
            return
        d = box["deadline"]
        while time.monotonic() < d:
            try:
                one(ctx, args, request, stats)
                stats["ok"] += 1
            except TimeoutError as e:
                stats["errors"] += 1
                stats["timeouts"] += 1
                if len(stats["error_samples"]) < 5:
                    stats["error_samples"].append(f"timeout: {e}")
            except (OSError, ConnectionError, ValueError) as e:
                stats["errors"] += 1
                if len(stats["error_samples"]) < 5:
                    stats["error_samples"].append(f"{type(e).__name__}: {e}")
            stats["requests"] += 1

    for stats in per_thread:
        t = threading.Thread(target=run, args=(stats,), daemon=True)
        t.start()
        threads.append(t)
    t0 = time.monotonic()
    box["deadline"] = t0 + args.duration
    start.wait(30)
    for t in threads:
        t.join(args.duration + args.timeout * 4 + 30)
    elapsed = time.monotonic() - t0
    stuck = sum(t.is_alive() for t in threads)

    total = {"requests": 0, "ok": 0, "errors": stuck, "timeouts": stuck, "error_samples": [],
             "resumed": 0}
    versions, ciphers, alpn = collections.Counter(), collections.Counter(), collections.Counter()
    latencies = []
    for s in per_thread:
        for key in ("requests", "ok", "errors", "timeouts", "resumed"):
            total[key] += s[key]
        total["error_samples"] += s["error_samples"]
        versions.update(s["versions"])
        ciphers.update(s["ciphers"])
        alpn.update(s["alpn"])
        latencies += s["latencies"]
    if stuck:
        total["error_samples"].insert(0, f"{stuck} client thread(s) did not finish in time")
    latencies.sort()
    total.update(error_samples=total["error_samples"][:5], versions=dict(versions),
                 ciphers=dict(ciphers), alpn=dict(alpn), duration_us=int(elapsed * 1e6),
                 p50=int(percentile(latencies, 50)), p90=int(percentile(latencies, 90)),
                 p99=int(percentile(latencies, 99)),
                 max=int(latencies[-1]) if latencies else 0)
    print(json.dumps(total), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
