"""PROXY protocol (issue 14, SPEC section 2 `proxy_protocol` and `send_proxy_protocol`): a cloud
load balancer (HAProxy standing in for AWS NLB or Azure Load Balancer) says who the client is
in a header before the connection's first byte, and tenantgate takes that address as the
client everywhere SPEC section 3 uses one. Towards a pool, tenantgate can send PROXY v2 itself.

Loopback addresses stand for machines: the client is 127.0.0.2, the load balancer 127.0.0.3,
tenantgate and the upstreams listen on 127.0.0.1.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import threading
import time

import pytest

import harness
import httpraw
import pki
import tgconfig
from harness import header_values, poll

CLIENT_ADDR = "127.0.0.2"
LB_ADDR = "127.0.0.3"
HOST = "erp.acme.com"
REFUSED = "PROXY header refused, connection closed"
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source: str, source_port: int = 40000, dest: str = "127.0.0.1", dest_port: int = 8080) -> bytes:
    return f"PROXY TCP4 {source} {dest} {source_port} {dest_port}\r\n".encode()


def v2(source: str, source_port: int = 40000, dest: str = "127.0.0.1", dest_port: int = 8080) -> bytes:
    block = socket.inet_aton(source) + socket.inet_aton(dest) + struct.pack("!HH", source_port,
                                                                             dest_port)
    return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(block)) + block


def closed_without_response(port: int, data: bytes, source: str) -> bool:
    """Sends `data` and reads until the proxy closes: True if it closed without a byte. A proxy
    that kept the connection open fails the test with a timeout instead."""
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(source, 0)) as s:
        try:
            s.sendall(data)
            received = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True
    return received == b""


def refusals(p) -> list:
    return [l for l in p.ops_log_lines() if l.get("msg") == REFUSED]


def wait_refusal(p, count: int = 1) -> dict:
    return poll(lambda: len(refusals(p)) >= count and refusals(p)[count - 1], 5,
                f"{count} '{REFUSED}' ops log line(s)")


def echo_through(port: int, header: bytes, source: str = LB_ADDR, target: str = "/echo",
                 headers=()) -> httpraw.Response:
    """One request on a connection from `source` that starts with `header`."""
    with httpraw.HttpConn(port, source=source, timeout=5) as conn:
        conn.send(header)
        return conn.request("GET", target, HOST, headers)


def start_proxy(upstream, proxy, *, tenant=None, trusted=(f"{LB_ADDR}/32",), listener=None,
                **render):
    up = upstream("alpha")
    listeners = [{"name": "http", "address": "127.0.0.1:0"},
                 listener or {"name": "lb", "address": "127.0.0.1:0", "proxy_protocol": True}]
    text = tgconfig.render({"alpha": tgconfig.pool(up)},
                           {"acme": {"hosts": [HOST], "pool": "alpha", **(tenant or {})}},
                           trusted_proxies=list(trusted), listeners=listeners, **render)
    return proxy(text), up


# ---- HAProxy as the load balancer ------------------------------------------------------------
class LoadBalancer:
    """HAProxy in TCP mode (what an NLB is) with `send-proxy` or `send-proxy-v2`, connecting to
    tenantgate from LB_ADDR (the `haproxy` fixture stops it)."""

    def __init__(self, haproxy, tenantgate_port: int, send: str):
        self.port = harness.closed_port()
        self.haproxy = haproxy(f"lb-{send}", f"""global
    maxconn 256
defaults
    mode tcp
    timeout connect 3s
    timeout client 30s
    timeout server 30s
frontend lb
    bind 127.0.0.1:{self.port}
    default_backend tenantgate
backend tenantgate
    server tenantgate 127.0.0.1:{tenantgate_port} {send} source {LB_ADDR}
""")
        poll(self._routes, 10, "HAProxy relaying to tenantgate")

    def _routes(self) -> bool:
        self.haproxy.check_running()
        try:
            return self.get("/web/health").status == 200
        except (ConnectionRefusedError, httpraw.ConnectionClosedEarly):
            return False

    def get(self, target: str, headers=()) -> httpraw.Response:
        with httpraw.HttpConn(self.port, source=CLIENT_ADDR, timeout=5) as conn:
            return conn.request("GET", target, HOST, headers)


@pytest.mark.parametrize("send", ["send-proxy", "send-proxy-v2"])
def test_haproxy_client_address_reaches_odoo(upstream, proxy, haproxy, send):
    p, _ = start_proxy(upstream, proxy)
    lb = LoadBalancer(haproxy, p.port("lb"), send)
    # The client's own X-Forwarded-For is not believed: the PROXY source is not trusted.
    resp = lb.get("/echo", [("X-Forwarded-For", "6.6.6.6"), ("X-Real-IP", "6.6.6.6")])
    assert resp.status == 200, resp
    echo = resp.json()
    assert header_values(echo, "X-Forwarded-For") == [CLIENT_ADDR]
    assert header_values(echo, "X-Real-IP") == [CLIENT_ADDR]
    line = p.access_log_entry(resp.header("X-Request-Id"))
    assert line["client_ip"] == CLIENT_ADDR, line
    assert refusals(p) == []


def test_client_without_header_is_closed_unanswered(upstream, proxy):
    p, up = start_proxy(upstream, proxy)
    request = httpraw.build_request("GET", "/echo?m=direct", HOST)
    # Even from the trusted load balancer's address: the header is required.
    assert closed_without_response(p.port("lb"), request, LB_ADDR)
    line = wait_refusal(p)
    assert line["listener"] == "lb" and line["peer"] == LB_ADDR, line
    assert line["reason"] == "not a PROXY header", line
    assert not up.received("m=direct")
    # The other listener still speaks plain HTTP.
    assert p.get("/echo", HOST).status == 200


def test_header_from_untrusted_peer_is_refused(upstream, proxy):
    p, up = start_proxy(upstream, proxy)
    request = httpraw.build_request("GET", "/echo?m=untrusted", HOST)
    assert closed_without_response(p.port("lb"), v1("198.51.100.7") + request, CLIENT_ADDR)
    line = wait_refusal(p)
    assert line["peer"] == CLIENT_ADDR and line["reason"] == "peer not in trusted_proxies", line
    assert not up.received("m=untrusted")


@pytest.mark.parametrize("header,reason", [
    (b"PROXY TCP4 198.51.100.300 127.0.0.1 1 2\r\n", "bad v1 source address"),
    (b"PROXY TCP4 198.51.100.7 127.0.0.1 1 2\n", "v1 line ends in LF without CR"),
    (V2_SIGNATURE + b"\x21\x11\xff\xff", "v2 header longer than 1040 bytes"),
])
def test_malformed_header_closes(upstream, proxy, header, reason):
    p, up = start_proxy(upstream, proxy)
    request = httpraw.build_request("GET", "/echo?m=malformed", HOST)
    assert closed_without_response(p.port("lb"), header + request, LB_ADDR)
    assert wait_refusal(p)["reason"] == reason
    assert not up.received("m=malformed")


def test_refusals_are_logged_once_a_second_with_a_count(upstream, proxy):
    p, _ = start_proxy(upstream, proxy)
    attempts = 0
    started = time.monotonic()
    for _ in range(5):
        assert closed_without_response(p.port("lb"), b"GET / HTTP/1.1\r\n\r\n", LB_ADDR)
        attempts += 1
    first = wait_refusal(p)
    assert first["held_back"] == 0, first
    if time.monotonic() - started < 1:
        assert len(refusals(p)) == 1
    # Keep refusing until the next second lets a line through (bounded): it counts the rest.
    deadline = time.monotonic() + 5
    while len(refusals(p)) < 2 and time.monotonic() < deadline:
        assert closed_without_response(p.port("lb"), b"GET / HTTP/1.1\r\n\r\n", LB_ADDR)
        attempts += 1
    lines = refusals(p)
    assert len(lines) >= 2 and lines[1]["held_back"] >= 1, lines
    # Every refusal is either a line or counted in a later one, never both.
    assert sum(1 + l["held_back"] for l in lines) <= attempts


def test_header_slower_than_client_header_is_refused(upstream, proxy):
    p, _ = start_proxy(upstream, proxy, timeouts={"client_header": "300ms"})
    with socket.create_connection(("127.0.0.1", p.port("lb")), timeout=5,
                                  source_address=(LB_ADDR, 0)) as s:
        s.sendall(b"PROXY TCP4 198.51.100.7")
        assert s.recv(100) == b""  # closed by the deadline, unanswered
    assert wait_refusal(p)["reason"] == "no complete header within client_header"


def test_client_address_from_the_header_everywhere(upstream, proxy):
    p, _ = start_proxy(upstream, proxy, trusted=[f"{LB_ADDR}/32", "10.0.0.0/8"],
                       maintenance_bypass=["198.51.100.9/32"])
    port = p.port("lb")
    # v1 and v2 alike; the hop tenantgate saw is the header's source, not the load balancer.
    for make in (v1, v2):
        echo = echo_through(port, make("198.51.100.7")).json()
        assert header_values(echo, "X-Forwarded-For") == ["198.51.100.7"]
        assert header_values(echo, "X-Real-IP") == ["198.51.100.7"]
    # A header source in trusted_proxies is itself a proxy: its X-Forwarded-For is extended.
    echo = echo_through(port, v2("10.1.2.3"), headers=[("X-Forwarded-For", "203.0.113.9")]).json()
    assert header_values(echo, "X-Forwarded-For") == ["203.0.113.9, 10.1.2.3"]
    assert header_values(echo, "X-Real-IP") == ["203.0.113.9"]
    # An untrusted source's X-Forwarded-For is replaced.
    echo = echo_through(port, v1("198.51.100.7"),
                        headers=[("X-Forwarded-For", "203.0.113.9")]).json()
    assert header_values(echo, "X-Forwarded-For") == ["198.51.100.7"]
    # maintenance_bypass also lets a client reach /web/database/* (database_manager: deny).
    assert echo_through(port, v1("198.51.100.9"), target="/web/database/manager").status == 200
    assert echo_through(port, v1("198.51.100.7"), target="/web/database/manager").status == 403
    # LOCAL (a load balancer's own health check) and UNKNOWN: the real peer is the client.
    local = V2_SIGNATURE + b"\x20\x00\x00\x00"
    assert header_values(echo_through(port, local).json(), "X-Real-IP") == [LB_ADDR]
    assert header_values(echo_through(port, b"PROXY UNKNOWN\r\n").json(),
                         "X-Real-IP") == [LB_ADDR]


def test_per_client_rate_limit_keys_on_the_header_source(upstream, proxy):
    p, _ = start_proxy(upstream, proxy, tenant={
        "per_client_rate_limit": {"requests_per_second": 0.05, "burst": 2}})
    port = p.port("lb")
    # Every connection comes from the load balancer's address; the buckets follow the header.
    first = [echo_through(port, v1("198.51.100.7")).status for _ in range(3)]
    assert first == [200, 200, 429]
    assert echo_through(port, v2("198.51.100.8")).status == 200


def connections_active(p, listener: str) -> float:
    text = p.admin_get("/metrics").text()
    match = re.search(rf'^tenantgate_connections_active{{[^}}]*listener="{listener}"[^}}]*}} (\S+)$',
                      text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize("sent", ["with the connection", "once the proxy waits"])
def test_tls_listener_reads_the_header_before_the_handshake(upstream, proxy, tmp_path, sent):
    """The header and the ClientHello in one segment: the proxy reads both at once and the
    handshake takes the ClientHello from what was read with the header. Sent once the proxy has
    accepted the connection and waits for its first bytes, the read that gets them is one that
    had to wait for epoll, and the handshake must still not wait for more."""
    leaf = pki.CA(tmp_path / "pki").issue("erp", [HOST], "ecdsa")
    cert, key = tmp_path / "erp.pem", tmp_path / "erp.key"
    leaf.write_to(cert, key)
    p, _ = start_proxy(upstream, proxy, listener={
        "name": "lb", "address": "127.0.0.1:0", "proxy_protocol": True,
        "tls": {"certificates": [{"cert": str(cert), "key": str(key)}]}})
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=HOST)
    with socket.create_connection(("127.0.0.1", p.port("lb")), timeout=5,
                                  source_address=(LB_ADDR, 0)) as s:
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        if sent == "once the proxy waits":
            poll(lambda: connections_active(p, "lb") == 1, 5, "the proxy to accept")
        s.sendall(v2("198.51.100.7") + outgoing.read())
        for _ in range(20):  # a handshake is a few round trips
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                s.sendall(outgoing.read())
                data = s.recv(65536)
                assert data, "closed during the TLS handshake"
                incoming.write(data)
        s.sendall(outgoing.read())
        tls.write(httpraw.build_request("GET", "/echo", HOST, [("Connection", "close")]))
        s.sendall(outgoing.read())
        plain = b""
        while data := s.recv(65536):  # until the proxy closes (Connection: close)
            incoming.write(data)
            while True:
                try:
                    chunk = tls.read(65536)
                except ssl.SSLWantReadError:
                    break
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    chunk = b""
                if not chunk:
                    break
                plain += chunk
    assert plain.startswith(b"HTTP/1.1 200"), plain[:200]
    assert b'["X-Real-IP", "198.51.100.7"]' in plain, plain


# ---- send_proxy_protocol ---------------------------------------------------------------------
class ProxyAwareUpstream:
    """A raw TCP upstream that expects a PROXY v2 header on every connection, records it and
    the request targets that followed, and answers each request 200 with keep-alive."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = []  # {"command", "family", "source", "dest", "targets"}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    @staticmethod
    def _read(conn, buf: bytearray, n: int) -> bool:
        while len(buf) < n:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            buf += chunk
        return True

    def _serve(self, conn):
        conn.settimeout(10)
        record = {"targets": []}
        with self.lock:
            self.connections.append(record)
        buf = bytearray()
        with conn:
            try:
                if not self._read(conn, buf, 16):
                    return
                record["signature_ok"] = bytes(buf[:12]) == V2_SIGNATURE
                record["command"], record["family"] = buf[12], buf[13]
                length = struct.unpack("!H", buf[14:16])[0]
                if not self._read(conn, buf, 16 + length):
                    return
                block = bytes(buf[16:16 + length])
                if buf[13] == 0x11:
                    src, dst, sport, dport = struct.unpack("!4s4sHH", block[:12])
                    record["source"] = (socket.inet_ntoa(src), sport)
                    record["dest"] = (socket.inet_ntoa(dst), dport)
                del buf[:16 + length]
                while not self.stopping.is_set():
                    while b"\r\n\r\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
                    buf = bytearray(rest)
                    record["targets"].append(head.split(b" ", 2)[1].decode())
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except OSError:
                return

    def stop(self):
        self.stopping.set()
        self.sock.close()
        for t in self.threads:
            t.join(5)

    def served(self) -> list:
        with self.lock:
            return [dict(c) for c in self.connections if c["targets"]]


@pytest.fixture
def proxy_aware_upstream():
    up = ProxyAwareUpstream()
    yield up
    up.stop()


def test_send_proxy_protocol_opens_upstream_connections_with_the_client(proxy,
                                                                        proxy_aware_upstream):
    up = proxy_aware_upstream
    pools = {"pp": {"web": [f"127.0.0.1:{up.port}"], "send_proxy_protocol": True,
                    "health_check": {"path": "/web/health", "interval": "1s",
                                     "timeout": "500ms", "fall": 3, "rise": 1}}}
    p = proxy(tgconfig.render(pools, {"acme": {"hosts": [HOST], "pool": "pp"}}, workers=1))
    port = p.port("http")

    def get(source: str, marker: str) -> int:
        with httpraw.HttpConn(port, source=source, timeout=5) as conn:
            assert conn.request("GET", f"/x?m={marker}", HOST).status == 200
            return conn.sock.getsockname()[1]

    client_port = get(CLIENT_ADDR, "a1")
    get(CLIENT_ADDR, "a2")
    get(LB_ADDR, "b1")
    get(CLIENT_ADDR, "a3")
    proxied = [c for c in up.served() if "source" in c]
    assert sorted(c["source"][0] for c in proxied) == [CLIENT_ADDR, LB_ADDR], proxied
    a, b = sorted(proxied, key=lambda c: c["source"][0] != CLIENT_ADDR)
    assert a["signature_ok"] and a["command"] == 0x21 and a["family"] == 0x11, a
    assert a["source"] == (CLIENT_ADDR, client_port), a
    assert a["dest"] == ("127.0.0.1", port), a
    # A kept connection speaks for one client: reused for it, never for another.
    assert [t.split("=")[1] for t in a["targets"]] == ["a1", "a2", "a3"], a
    assert [t.split("=")[1] for t in b["targets"]] == ["b1"], b
    # Health checks say LOCAL: they are tenantgate's own connections.
    checks = poll(lambda: [c for c in up.served() if c["targets"] == ["/web/health"]], 5,
                  "a health check")
    assert checks[0]["signature_ok"] and checks[0]["command"] == 0x20, checks[0]
