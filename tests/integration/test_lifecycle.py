"""Admin health endpoints and graceful shutdown (SPEC sections 1, 3, 6)."""

import signal
import time

import pytest

import httpraw
from harness import poll


def test_healthz_and_readyz(gateway):
    g = gateway()
    assert g.proxy.admin_get("/healthz").status == 200
    assert g.proxy.admin_get("/readyz").status == 200


def test_sigterm_drains_in_flight_request_then_exits_zero(gateway):
    g = gateway()
    p = g.proxy
    target = "/slow?ms=2000&drain=1"
    with p.connect(timeout=20) as conn:
        conn.send_request("GET", target, g.host)
        poll(lambda: g.up.stats()["in_flight"] >= 1, 5, "the slow request to reach Odoo")
        p.begin_drain()
        poll(lambda: p.readyz_status() == 503, 5, "/readyz to report 503 during the drain")
        assert p.admin_get("/healthz").status == 200, "/healthz is 200 while the process runs"
        resp = conn.read_response(timeout=15)
        assert resp.status == 200, f"in-flight request broken by the drain: {resp!r}"
        assert resp.json()["target"] == target
    poll(lambda: httpraw.connection_refused(p.port("http")), 30,
         "new connections to be refused after the drain")
    assert p.wait_exit(30) == 0


def test_sigterm_closes_idle_keepalive_connections(gateway):
    g = gateway()  # client_idle is 30s in test configs: the drain must not wait for it
    with g.proxy.connect() as idle:
        assert idle.request("GET", "/echo/idle", g.host).status == 200
        t0 = time.monotonic()
        assert g.proxy.stop(timeout=15) == 0
        assert idle.wait_closed(2), "idle keep-alive connection left open"
    assert time.monotonic() - t0 < 15


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_second_signal_exits_at_once(gateway, second):
    g = gateway()
    p = g.proxy
    with p.connect(timeout=30) as conn:
        conn.send_request("GET", "/slow?ms=20000", g.host)
        poll(lambda: g.up.stats()["in_flight"] >= 1, 5, "the slow request to reach Odoo")
        p.begin_drain()
        poll(lambda: p.readyz_status() == 503, 5, "the drain to start")
        t0 = time.monotonic()
        p.signal(second)
        p.wait_exit(5)
        assert time.monotonic() - t0 < 3, "a second signal must exit at once, not finish the drain"
