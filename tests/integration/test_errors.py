"""SPEC section 3, status codes the proxy produces itself (each with X-Request-Id)."""

import time
import uuid

import pytest

import httpraw
import tgconfig
from harness import assert_proxy_status, closed_port, stays_false


def marker(prefix: str) -> str:
    return f"/{prefix}-{uuid.uuid4().hex}"


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET /x HTTP/1.1 extra\r\nHost: erp.acme.com\r\n\r\n",
    b"GET /x FTP/1.1\r\nHost: erp.acme.com\r\n\r\n",
    b"G\x01T /x HTTP/1.1\r\nHost: erp.acme.com\r\n\r\n",
], ids=["garbage", "extra-token", "bad-version", "control-char-method"])
def test_malformed_request_line_is_400_and_closed(gateway, raw):
    g = gateway()
    resp, closed = httpraw.exchange(g.port, raw)
    assert_proxy_status(resp, 400)
    assert closed, "connection left open after a malformed request"
    assert not g.up.received("/x")


def test_incomplete_headers_get_408_after_client_header_timeout(gateway):
    g = gateway(timeouts={"client_header": "1s"})
    target = marker("partial")
    with g.proxy.connect() as conn:
        t0 = time.monotonic()
        conn.send(f"GET {target} HTTP/1.1\r\nHost: {g.host}\r\n".encode())
        resp = conn.read_response(timeout=8)
        elapsed = time.monotonic() - t0
        assert_proxy_status(resp, 408)
        assert 0.8 <= elapsed <= 5, f"408 after {elapsed:.2f}s with client_header: 1s"
        assert conn.wait_closed(3), "connection left open after 408"
    assert not g.up.received(target)


def test_client_header_timeout_bounds_the_whole_head_not_each_byte(gateway):
    """Slowloris: one byte every 200 ms keeps a per-read timer alive forever."""
    g = gateway(timeouts={"client_header": "1s"})
    with g.proxy.connect() as conn:
        t0 = time.monotonic()
        conn.send(f"GET /echo/drip HTTP/1.1\r\nHost: {g.host}\r\nX-Drip: ".encode())
        for _ in range(40):  # at most ~8 s of dripping
            if conn.data_available(wait=0.2) or not conn.try_send(b"a"):
                break
        resp = conn.read_response(timeout=5)
        assert_proxy_status(resp, 408)
        assert time.monotonic() - t0 <= 4, "client_header must bound the whole request head"


def test_content_length_over_max_request_body_is_413(gateway):
    g = gateway(limits={"max_request_body": "1KiB"})
    target = marker("big")
    with g.proxy.connect() as conn:
        conn.send(f"POST {target} HTTP/1.1\r\nHost: {g.host}\r\nContent-Length: 2048\r\n\r\n"
                  .encode())
        assert_proxy_status(conn.read_response(timeout=5), 413)
    assert stays_false(lambda: g.up.received(target), 0.3)
    # At the limit it passes.
    echo = g.echo("/echo/fits", method="POST", body=b"x" * 1024)
    assert echo["body_length"] == 1024


def test_chunked_body_growing_over_max_request_body_is_413(gateway):
    g = gateway(limits={"max_request_body": "1KiB"})
    with g.proxy.connect() as conn:
        conn.send(f"POST /echo/chunks HTTP/1.1\r\nHost: {g.host}\r\n"
                  f"Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"%x\r\n" % 600 + b"y" * 600 + b"\r\n"
        for _ in range(4):  # 2400 bytes at most; the limit is crossed by the second chunk
            if conn.data_available(wait=0.05) or not conn.try_send(chunk):
                break
        assert_proxy_status(conn.read_response(timeout=5), 413)
    # (Forwarding the head before the limit is hit is allowed: bodies stream.)
    # Under the limit, chunked passes.
    resp = g.request("POST", "/echo/small-chunked", body=b"z" * 1000, chunked=True)
    assert resp.status == 200 and resp.json()["body_length"] == 1000


def test_headers_over_max_header_bytes_are_431(gateway):
    g = gateway(limits={"max_header_bytes": "4KiB"})
    target = marker("huge-header")
    resp, _ = httpraw.exchange(g.port, httpraw.build_request(
        "GET", target, g.host, [("X-Big", "a" * 8000)]))
    assert_proxy_status(resp, 431)
    assert not g.up.received(target)
    assert g.get("/echo/ok", [("X-Medium", "b" * 1500)]).status == 200


def test_database_manager_policy(upstream, proxy):
    up = upstream("alpha")
    tenants = {
        "denied": {"hosts": ["denied.example.com"], "pool": "alpha", "database_manager": "deny"},
        "default": {"hosts": ["default.example.com"], "pool": "alpha"},
        "open": {"hosts": ["open.example.com"], "pool": "alpha", "database_manager": "allow"},
    }
    p = proxy(tgconfig.render({"alpha": tgconfig.pool(up)}, tenants))
    refused = []
    for host in ("denied.example.com", "default.example.com"):
        for path in ("/web/database/manager", "/web/database/selector", "/web/database/backup",
                     "/web/%64atabase/manager", "/web/database/manager?x=1"):
            resp = p.get(path, host)
            if resp.status != 403 or not resp.header("X-Request-Id"):
                refused.append(f"{host} {path}: {resp.status}")
    assert not refused, "database manager not refused:\n" + "\n".join(refused)
    assert not any("database" in t for t in up.targets()), up.targets()
    echo = p.get("/web/database/manager", "open.example.com").json()
    assert echo["target"] == "/web/database/manager"
    assert p.get("/web/login", "denied.example.com").status == 200


def test_connect_failure_is_502(upstream, proxy):
    dead = f"127.0.0.1:{closed_port()}"
    pools = {"dead": {"web": [dead], "longpolling": [dead]}}
    p = proxy(tgconfig.render(pools, {"acme": {"hosts": ["erp.acme.com"], "pool": "dead"}},
                              timeouts={"upstream_connect": "1s"}))
    assert_proxy_status(p.get("/web/login", "erp.acme.com", timeout=10), 502)
    assert_proxy_status(p.get("/longpolling/poll", "erp.acme.com", timeout=10), 502)


def test_upstream_response_timeout_is_504(gateway):
    g = gateway(timeouts={"upstream_response": "1s", "longpolling": "30s"})
    t0 = time.monotonic()
    assert_proxy_status(g.get("/slow?ms=3000", timeout=10), 504)
    assert time.monotonic() - t0 < 2.8, "504 must come at upstream_response, not when Odoo answers"
    # The longpolling route has its own (longer) timeout.
    assert g.get("/longpolling/poll?ms=1500", timeout=10).json()["worker"] == "longpolling"
