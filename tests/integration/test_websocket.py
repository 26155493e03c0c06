"""WebSocket upgrades pass through to the longpolling worker and are tunnelled byte for byte."""

import asyncio
import json
import os
import time
import uuid

import wsutil
from harness import header_values


def test_echo_text_and_1mib_binary(gateway):
    g = gateway()
    big = os.urandom(1 << 20)

    async def scenario():
        async with wsutil.connect(g.port, g.host) as ws:
            assert await wsutil.echo_roundtrip(ws, "hello odoo bus") == "hello odoo bus"
            assert await wsutil.echo_roundtrip(ws, big) == big
            for i in range(20):  # many small frames in both directions
                assert await wsutil.echo_roundtrip(ws, f"m{i}") == f"m{i}"
            await ws.ping()

    wsutil.run(scenario())


def test_upgrade_response_headers_pass_back(gateway):
    g = gateway()
    with g.proxy.connect() as conn:
        conn.send(wsutil.handshake_request(g.host))
        resp = conn.read_head(timeout=10)
    assert resp.status == 101, resp
    assert resp.header("Upgrade").lower() == "websocket"
    assert resp.has_token("Connection", "upgrade")
    assert resp.header("Sec-WebSocket-Accept")
    assert resp.header("X-Upstream-Name") == "alpha"
    assert resp.header("X-Upstream-Worker") == "longpolling"


def test_handshake_forwarded_with_proxy_headers(gateway):
    g = gateway()

    async def scenario():
        async with wsutil.connect(g.port, g.host) as ws:
            return json.loads(await wsutil.echo_roundtrip(ws, "__handshake__"))

    echo = wsutil.run(scenario())
    assert echo["worker"] == "longpolling"
    assert header_values(echo, "Upgrade") == ["websocket"]
    assert header_values(echo, "Origin") == [f"http://{g.host}"]
    assert header_values(echo, "X-Forwarded-Host") == [g.host]
    assert header_values(echo, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(echo, "X-Tenant") == ["acme"]
    assert len(header_values(echo, "X-Request-Id")) == 1


def test_handshake_refused_by_odoo_reaches_client(gateway):
    g = gateway()
    assert wsutil.run(wsutil.handshake_status(g.port, g.host, origin=None)) == 400
    with g.proxy.connect() as conn:
        conn.send(wsutil.handshake_request(g.host, origin=None))
        resp = conn.read_response()
    assert resp.status == 400, resp
    assert b"origin" in resp.body.lower(), resp.body
    assert g.up.stats("longpolling")["websockets"] == 0


def test_tunnel_logged_once_at_its_end_with_bytes_both_ways(gateway):
    g = gateway()
    rid = uuid.uuid4().hex
    payload = os.urandom(100_000)

    async def scenario():
        async with wsutil.connect(g.port, g.host, extra_headers=[("X-Request-Id", rid)]) as ws:
            assert await wsutil.echo_roundtrip(ws, payload) == payload
            await asyncio.sleep(0.3)  # the logged duration is the tunnel's, not the handshake's
            assert await wsutil.echo_roundtrip(ws, "bye") == "bye"

    started = time.monotonic()
    wsutil.run(scenario())
    elapsed_ms = (time.monotonic() - started) * 1000
    entry = g.proxy.access_log_entry(rid)
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/websocket", 101), entry
    assert entry["tenant"] == "acme", entry
    # Frames add a few bytes each way (the client's are masked); the handshakes add more.
    assert len(payload) < entry["bytes_in"] < len(payload) + 4096, entry
    assert len(payload) < entry["bytes_out"] < len(payload) + 4096, entry
    assert 300 <= entry["duration_ms"] <= elapsed_ms + 50, entry
    assert sum(l.get("request_id") == rid for l in g.proxy.access_log_lines()) == 1
