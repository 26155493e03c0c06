"""Client keep-alive, pipelining, and pooled upstream keep-alive (SPEC section 3)."""

import time

import pytest

import httpraw
import tgconfig
from harness import poll, vm_rss_kib


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


# ---- idle keep-alive connections are parked (proxy/http/parking.hpp) ---------------------
def test_connection_idle_past_the_park_delay_serves_its_next_request(gateway):
    """Two quick requests keep the connection in its coroutine; idle past the 1 s park delay,
    the worker's sweep cancels its wait and parks it; the next request starts a new session."""
    g = gateway()
    with g.proxy.connect() as conn:
        for i in range(2):
            assert conn.request("GET", f"/echo/busy{i}", g.host).json()["target"] == f"/echo/busy{i}"
        time.sleep(1.8)  # the idle time is the scenario: park delay 1 s, sweep every 250 ms
        assert not conn.data_available(), "the proxy answered or closed an idle connection"
        resp = conn.request("GET", "/echo/after-park", g.host)
        assert resp.status == 200 and resp.json()["target"] == "/echo/after-park", resp
        assert conn.request("GET", "/echo/next", g.host).json()["target"] == "/echo/next"


def test_parked_connection_still_ends_at_client_idle(gateway):
    g = gateway(timeouts={"client_idle": "2s"})
    with g.proxy.connect() as conn:
        assert conn.request("GET", "/echo/once", g.host).status == 200
        idle_from = time.monotonic()
        assert conn.wait_closed(6), "a parked connection outlived client_idle"
        took = time.monotonic() - idle_from
    print(f"parked connection closed after {took:.2f}s idle (client_idle 2s)")
    assert took >= 1.5, f"closed after {took:.2f}s, before client_idle"


@pytest.mark.release
def test_idle_keepalive_connections_hold_little_memory(gateway, release_bin):
    """SPEC §3 keeps idle keep-alive connections for client_idle; parked, each holds its socket
    and a record of a few hundred bytes (not its coroutine frames: 5.7 KiB each before)."""
    count = 2000
    g = gateway(binary=release_bin, workers=1)
    assert g.get("/echo/warm-up").status == 200
    baseline = vm_rss_kib(g.proxy.pid)
    conns = []
    try:
        for i in range(count):
            conn = g.proxy.connect()
            conns.append(conn)
            assert conn.request("GET", f"/echo/first{i}", g.host).status == 200
        per_connection = (vm_rss_kib(g.proxy.pid) - baseline) / count
        print(f"{count} idle keep-alive connections: {per_connection:.2f} KiB of RSS each")
        assert per_connection < 3, f"{per_connection:.2f} KiB per idle keep-alive connection"
        for i, conn in enumerate(conns):  # each one back from parking
            resp = conn.request("GET", f"/echo/second{i}", g.host)
            assert resp.status == 200 and resp.json()["target"] == f"/echo/second{i}", resp
    finally:
        for conn in conns:
            conn.close()
