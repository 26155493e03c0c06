"""tenantgate beside an edge proxy (README "Beside Traefik"): HAProxy, standing in for Traefik,
sends the Odoo hosts to tenantgate with docker/haproxy/edge.cfg, and `trusted_proxies` makes the
real client address reach Odoo.

Three loopback addresses stand for three machines: the client connects from 127.0.0.2, the edge
connects to tenantgate from 127.0.0.3, tenantgate and the fake Odoo listen on 127.0.0.1.
"""

from __future__ import annotations

import pytest

import harness
import httpraw
import tgconfig
from harness import header_values

EDGE_CONFIG = harness.REPO / "docker" / "haproxy" / "edge.cfg"
CLIENT_ADDR = "127.0.0.2"
EDGE_ADDR = "127.0.0.3"


class Edge:
    """HAProxy running docker/haproxy/edge.cfg (the `haproxy` fixture stops it)."""

    def __init__(self, haproxy, tenantgate_port: int, probe_host: str):
        text = EDGE_CONFIG.read_text()
        server_line = 'server tenantgate "${TG_UPSTREAM}"'
        assert text.count(server_line) == 1, f"{EDGE_CONFIG} has no single `{server_line}`"
        self.port = harness.closed_port()
        # The one change from the shipped file: connect from the edge's own address.
        self.haproxy = haproxy("edge", text.replace(server_line, f"{server_line} source {EDGE_ADDR}"),
                               {"TG_EDGE_BIND": f"127.0.0.1:{self.port}",
                                "TG_UPSTREAM": f"127.0.0.1:{tenantgate_port}"})
        harness.poll(lambda: self._routes(probe_host), 10, "HAProxy routing to tenantgate")

    def _routes(self, host: str) -> bool:
        self.haproxy.check_running()
        try:
            return self.get("/web/health", host).status == 200
        except (ConnectionRefusedError, httpraw.ConnectionClosedEarly):
            return False

    def get(self, target: str, host: str, headers=()) -> httpraw.Response:
        """A request from the client machine's address."""
        with httpraw.HttpConn(self.port, source=CLIENT_ADDR, timeout=5) as conn:
            return conn.request("GET", target, host, headers)


@pytest.fixture
def edge(haproxy):
    """Factory: edge(tenantgate_port, probe_host) starts HAProxy in front of tenantgate."""
    return lambda tenantgate_port, probe_host: Edge(haproxy, tenantgate_port, probe_host)


def _odoo_behind_edge(upstream, proxy, edge, trusted_proxies):
    up = upstream("alpha")
    text = tgconfig.render({"alpha": tgconfig.pool(up)},
                           {"acme": {"hosts": ["erp.acme.com"], "pool": "alpha"},
                            "globex": {"hosts": ["globex.erp.example.com"], "pool": "alpha"}},
                           trusted_proxies=trusted_proxies)
    p = proxy(text)
    return p, edge(p.port("http"), "erp.acme.com"), up


def test_edge_passes_real_client_address_to_odoo(upstream, proxy, edge):
    p, e, _ = _odoo_behind_edge(upstream, proxy, edge, trusted_proxies=[f"{EDGE_ADDR}/32"])
    # The client forges an entry: it stays on the left, never becomes the client address.
    resp = e.get("/echo", "erp.acme.com", [("X-Forwarded-For", "6.6.6.6"),
                                           ("X-Real-IP", "6.6.6.6")])
    assert resp.status == 200, resp
    echo = resp.json()
    xff = header_values(echo, "X-Forwarded-For")
    assert xff == [f"6.6.6.6, {CLIENT_ADDR}, {EDGE_ADDR}"], xff
    # The last untrusted hop, counted from the right, is the client; the last hop is the edge.
    hops = [h.strip() for h in xff[0].split(",")]
    assert [h for h in hops if h != EDGE_ADDR][-1] == CLIENT_ADDR
    assert header_values(echo, "X-Real-IP") == [CLIENT_ADDR]
    assert header_values(echo, "X-Tenant") == ["acme"]
    assert header_values(echo, "X-Forwarded-Host") == ["erp.acme.com"]
    # The access log names the client too, not the edge.
    line = p.access_log_entry(resp.header("X-Request-Id"))
    assert line["client_ip"] == CLIENT_ADDR, line


def test_edge_routes_only_odoo_hosts_to_tenantgate(upstream, proxy, edge):
    _, e, up = _odoo_behind_edge(upstream, proxy, edge, trusted_proxies=[f"{EDGE_ADDR}/32"])
    resp = e.get("/echo?m=wildcard", "globex.erp.example.com:80")
    assert resp.status == 200, resp
    assert header_values(resp.json(), "X-Tenant") == ["globex"]
    assert header_values(resp.json(), "X-Forwarded-Host") == ["globex.erp.example.com:80"]

    other = e.get("/echo?m=not-odoo", "www.example.org")
    assert other.status == 404 and other.text() == "not an Odoo host", other
    assert other.header("X-Request-Id") is None, "a non-Odoo host reached tenantgate"
    assert up.received("m=wildcard") and not up.received("m=not-odoo")


def test_without_trusted_proxies_the_edge_is_the_client(upstream, proxy, edge):
    # What trusted_proxies is for: without it, the edge's X-Forwarded-For is replaced.
    _, e, _ = _odoo_behind_edge(upstream, proxy, edge, trusted_proxies=[])
    echo = e.get("/echo", "erp.acme.com").json()
    assert header_values(echo, "X-Forwarded-For") == [EDGE_ADDR]
    assert header_values(echo, "X-Real-IP") == [EDGE_ADDR]
