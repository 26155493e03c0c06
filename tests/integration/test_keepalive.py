"""Client keep-alive, pipelining, and pooled upstream keep-alive (SPEC section 3)."""

import time

import httpraw
import tgconfig
from harness import poll


def test_pipelined_requests_answered_in_order(gateway):
    g = gateway()
    paths = ["/echo/p1", "/slow?ms=200&p=2", "/echo/p3"]  # a slow one in the middle
    with g.proxy.connect() as conn:
        conn.send(b"".join(httpraw.build_request("GET", p, g.host) for p in paths))
        targets = [conn.read_response(timeout=10).json()["target"] for _ in paths]
    assert targets == paths


def test_request_sent_while_the_previous_one_is_upstream_is_answered_at_once(gateway):
    # The second request arrives while the proxy reads nothing from the client (it waits for
    # the upstream): its readiness must not be lost when the connection then waits, holding no
    # buffer, for the next request.
    g = gateway()
    with g.proxy.connect() as conn:
        conn.send(httpraw.build_request("GET", "/slow?ms=300&p=1", g.host))
        poll(lambda: g.up.stats()["in_flight"] == 1, 2, "the first request at the upstream")
        conn.send(httpraw.build_request("GET", "/echo/p2", g.host))
        started = time.monotonic()
        targets = [conn.read_response(timeout=5).json()["target"] for _ in range(2)]
        assert time.monotonic() - started < 2
    assert targets == ["/slow?ms=300&p=1", "/echo/p2"]


def test_sequential_requests_reuse_upstream_connections(gateway):
    g = gateway()
    before = g.up.stats()["connections"]
    with g.proxy.connect() as conn:
        for i in range(50):
            resp = conn.request("GET", f"/echo/seq{i}", g.host)
            assert resp.status == 200 and resp.json()["target"] == f"/echo/seq{i}", resp
    opened = g.up.stats()["connections"] - before
    assert opened <= 5, f"50 requests opened {opened} upstream connections: no pooling"


def test_fresh_client_connections_share_pooled_upstream_connections(gateway):
    g = gateway()
    before = g.up.stats()["connections"]
    for i in range(30):
        assert g.get(f"/echo/fresh{i}").status == 200
    opened = g.up.stats()["connections"] - before
    assert opened <= 10, f"30 requests opened {opened} upstream connections: no pooling"


def test_upstream_closing_its_connection_is_transparent(gateway):
    g = gateway()
    with g.proxy.connect() as conn:
        for i in range(3):
            assert conn.request("GET", f"/close?i={i}", g.host).status == 200
            assert conn.request("GET", f"/echo/after-close{i}", g.host).status == 200


def test_upstream_idle_close_race_is_transparent(upstream, proxy):
    """Odoo closes idle keep-alive connections; a pooled connection the upstream has closed
    must not fail the next request."""
    up = upstream("alpha", keepalive_timeout=0.3)
    p = proxy(tgconfig.render({"alpha": tgconfig.pool(up)},
                              {"acme": {"hosts": ["erp.acme.com"], "pool": "alpha"}}))
    for i in range(4):
        assert p.get(f"/echo/idle{i}", "erp.acme.com").status == 200
        # Wait until the upstream has closed every idle connection (only the stats one is open).
        poll(lambda: up.stats()["open"] <= 1, 5, "upstream closing idle connections")


def test_client_connection_close_is_honoured(gateway):
    g = gateway()
    with g.proxy.connect() as conn:
        resp = conn.request("GET", "/echo", g.host, [("Connection", "close")])
        assert resp.status == 200
        assert conn.wait_closed(5), "proxy kept the connection open after Connection: close"


def test_http10_client(gateway):
    g = gateway()
    with g.proxy.connect() as conn:
        conn.send(f"GET /echo/old HTTP/1.0\r\nHost: {g.host}\r\n\r\n".encode())
        resp = conn.read_response()
        assert resp.status == 200 and resp.json()["target"] == "/echo/old"
        assert conn.wait_closed(5), "HTTP/1.0 without keep-alive must be closed after the response"
