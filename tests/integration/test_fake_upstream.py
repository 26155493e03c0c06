"""Self-tests of the fake Odoo upstream and of the raw HTTP / WebSocket helpers.

They need no tenantgate binary, so the harness can be checked on its own.
"""

import hashlib
import json
import os
import signal
import time

import httpraw
import wsutil
from harness import header_values, poll, stream_pattern


def test_health_and_echo_fields(upstream):
    up = upstream("alpha")
    resp = httpraw.request(up.web, "GET", "/web/health", "x")
    assert (resp.status, resp.body) == (200, b"ok")
    body = b"hello world"
    resp = httpraw.request(up.web, "POST", "/echo/a?b=1", "erp.acme.com",
                           [("X-First", "1"), ("x-lower", "v")], body)
    echo = resp.json()
    assert echo["worker"] == "web" and echo["name"] == "alpha"
    assert echo["method"] == "POST" and echo["target"] == "/echo/a?b=1"
    assert echo["http_version"] == "HTTP/1.1"
    assert echo["body_length"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    names = [k for k, _ in echo["headers"]]
    assert names[:3] == ["Host", "X-First", "x-lower"]
    assert isinstance(echo["connection_id"], int)


def test_unlisted_paths_echo_on_web(upstream):
    up = upstream()
    for path in ("/web/login", "/web/database/manager", "/longpolling/poll", "/websocket"):
        echo = httpraw.request(up.web, "GET", path, "x").json()
        assert echo["worker"] == "web" and echo["target"] == path


def test_keep_alive_pipelining_and_stats(upstream):
    up = upstream()
    before = up.stats()
    with httpraw.HttpConn(up.web) as conn:
        conn.send(b"".join(httpraw.build_request("GET", f"/echo/{i}", "x") for i in range(3)))
        echoes = [conn.read_response().json() for _ in range(3)]
    assert [e["target"] for e in echoes] == ["/echo/0", "/echo/1", "/echo/2"]
    assert len({e["connection_id"] for e in echoes}) == 1
    after = up.stats()
    assert after["connections"] - before["connections"] == 1
    assert after["requests"] - before["requests"] == 3
    assert after["targets"][-3:] == ["/echo/0", "/echo/1", "/echo/2"]


def test_chunked_request_body(upstream):
    up = upstream()
    raw = (b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    with httpraw.HttpConn(up.web) as conn:
        conn.send(raw)
        result = conn.read_response().json()
        assert result == {"body_length": 11,
                          "body_sha256": hashlib.sha256(b"hello world").hexdigest()}
        assert conn.request("GET", "/echo", "x").status == 200  # still in sync


def test_stream_content_length_and_chunked(upstream):
    up = upstream()
    for query, chunked in (("bytes=300001", False), ("bytes=300001&chunked=1&chunk=1000", True)):
        resp = httpraw.request(up.web, "GET", f"/stream?{query}", "x")
        assert resp.status == 200 and resp.chunked == chunked
        assert resp.body == stream_pattern(0, 300001)


def test_upload_streaming(upstream):
    up = upstream()
    block = os.urandom(1 << 20)
    with httpraw.HttpConn(up.web, timeout=30) as conn:
        conn.send(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (8 << 20))
        for _ in range(8):
            conn.send(block)
        result = conn.read_response().json()
    assert result == {"body_length": 8 << 20,
                      "body_sha256": hashlib.sha256(block * 8).hexdigest()}


def test_slow_status_cookies_close_hop(upstream):
    up = upstream()
    t0 = time.monotonic()
    assert httpraw.request(up.web, "GET", "/slow?ms=300", "x").json()["target"] == "/slow?ms=300"
    assert time.monotonic() - t0 >= 0.3
    assert httpraw.request(up.web, "GET", "/status/503", "x").status == 503
    cookies = httpraw.request(up.web, "GET", "/set-cookie", "x").header_values("Set-Cookie")
    assert cookies == ["session_id=abc123; Path=/; HttpOnly", "other=1"]
    with httpraw.HttpConn(up.web) as conn:
        resp = conn.request("GET", "/close", "x")
        assert resp.header("Connection") == "close"
        assert conn.wait_closed(2)
    hop = httpraw.request(up.web, "GET", "/hop", "x")
    for name in ("X-Secret", "Keep-Alive", "Proxy-Connection", "X-Kept"):
        assert hop.header(name) is not None, name
    assert hop.header("Connection") == "X-Secret, keep-alive"


def test_bad_request_is_rejected_and_closed(upstream):
    up = upstream()
    resp, closed = httpraw.exchange(up.web, b"GET /x HTTP/1.1\r\nHost: x\r\nX: 1\r\n folded\r\n\r\n")
    assert resp.status == 400 and closed
    assert not up.received("/x")


def test_longpolling_worker(upstream):
    up = upstream("lp")
    t0 = time.monotonic()
    echo = httpraw.request(up.longpolling, "POST", "/longpolling/poll?ms=200", "x",
                           [("Content-Type", "application/json")], b"{}").json()
    assert time.monotonic() - t0 >= 0.2
    assert echo["worker"] == "longpolling" and echo["name"] == "lp" and echo["body_length"] == 2
    assert httpraw.request(up.longpolling, "GET", "/other", "x").json()["worker"] == "longpolling"


def test_parked_long_poll_ends_when_its_client_goes_away(upstream):
    up = upstream("lp")
    conn = httpraw.HttpConn(up.longpolling)
    conn.send_request("POST", "/longpolling/poll?ms=30000", "x", body=b"{}")
    poll(lambda: up.stats("longpolling")["in_flight"] == 1, 5, "the poll parked")
    conn.close()
    stats = poll(lambda: (s := up.stats("longpolling"))["in_flight"] == 0 and s, 5,
                 "the parked poll ended")
    assert stats["abandoned"] == 1 and stats["completed"] == 0
    assert stats["open"] == 1, stats  # only the /__stats connection itself

def test_websocket_handshake_validation(upstream):
    up = upstream()
    with httpraw.HttpConn(up.longpolling) as conn:
        conn.send(wsutil.handshake_request("erp.acme.com", origin=None))
        resp = conn.read_response()
        assert resp.status == 400 and b"origin" in resp.body.lower()
        conn.send(wsutil.handshake_request("erp.acme.com"))
        resp = conn.read_head()
        assert resp.status == 101
        assert resp.header("X-Upstream-Worker") == "longpolling"


def test_websocket_echo(upstream):
    up = upstream("ws")

    async def scenario():
        async with wsutil.connect(up.longpolling, "erp.acme.com") as ws:
            assert ws.response_headers["X-Upstream-Name"] == "ws"
            assert await wsutil.echo_roundtrip(ws, "héllo") == "héllo"
            big = os.urandom(2 << 20)
            assert await wsutil.echo_roundtrip(ws, big) == big
            handshake = await wsutil.echo_roundtrip(ws, "__handshake__")
            return handshake

    handshake = json.loads(wsutil.run(scenario()))
    assert header_values(handshake, "Origin") == ["http://erp.acme.com"]
    assert wsutil.run(wsutil.handshake_status(up.longpolling, "erp.acme.com", origin=None)) == 400
    poll(lambda: up.stats("longpolling")["websockets"] == 1, 5, "websocket count")


def test_sigterm_exits_zero(upstream):
    up = upstream()
    with httpraw.HttpConn(up.web) as idle:  # an idle keep-alive must not block the exit
        idle.request("GET", "/echo", "x")
        up.proc.send_signal(signal.SIGTERM)
        assert up.proc.wait(5) == 0
