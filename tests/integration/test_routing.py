"""SPEC section 3, routing: host -> tenant -> pool, and path -> route (web / longpolling)."""

import uuid

import pytest

import httpraw
import tgconfig
import wsutil
from harness import header_values, stays_false


@pytest.fixture
def routed(upstream, proxy):
    """Two upstreams; tenants with exact, wildcard and template hosts."""
    alpha, beta = upstream("alpha"), upstream("beta")
    pools = {"alpha": tgconfig.pool(alpha), "beta": tgconfig.pool(beta)}
    tenants = {
        "erp": {"hosts": ["erp.acme.com"], "pool": "alpha"},
        "acme": {"hosts": ["*.acme.com"], "pool": "alpha"},
        "acmeeu": {"hosts": ["*.eu.acme.com"], "pool": "alpha"},
        "globex": {"hosts": ["globex.example.org"], "pool": "beta"},
    }
    templates = [{"host": "{tenant}.erp.example.com", "pool": "beta",
                  "odoo_dbfilter_header": True}]
    p = proxy(tgconfig.render(pools, tenants, tenant_templates=templates))
    return p, alpha, beta


# Host header as sent -> (tenant, upstream name)
HOST_CASES = [
    ("erp.acme.com", "erp", "alpha"),              # exact beats wildcard
    ("shop.acme.com", "acme", "alpha"),            # wildcard
    ("x.eu.acme.com", "acmeeu", "alpha"),          # longer wildcard beats shorter
    ("deep.x.eu.acme.com", "acmeeu", "alpha"),
    ("globex.example.org", "globex", "beta"),
    ("demo1.erp.example.com", "demo1", "beta"),    # tenant_templates: the label is the tenant
    ("ERP.ACME.COM", "erp", "alpha"),              # lower-cased
    ("erp.acme.com:8080", "erp", "alpha"),         # port removed
    ("erp.acme.com.", "erp", "alpha"),             # trailing dot removed
    ("Shop.Acme.Com.:443", "acme", "alpha"),
    ("Demo2.ERP.example.com:8069", "demo2", "beta"),
]


def test_host_routing_table(routed):
    p, _, _ = routed
    mismatches = []
    for host, tenant, name in HOST_CASES:
        resp = p.get("/echo/routing", host)
        if resp.status != 200:
            mismatches.append(f"{host!r}: status {resp.status}")
            continue
        echo = resp.json()
        got = (header_values(echo, "X-Tenant"), echo["name"])
        if got != ([tenant], name):
            mismatches.append(f"{host!r}: X-Tenant/upstream {got}, expected {([tenant], name)}")
    assert not mismatches, "\n".join(mismatches)


def test_template_tenant_gets_dbfilter(routed):
    p, _, _ = routed
    echo = p.get("/echo", "demo1.erp.example.com").json()
    assert header_values(echo, "X-Odoo-dbfilter") == ["^demo1$"]


@pytest.mark.parametrize("host", ["unknown.example.net", "acme.com", "erp.example.com",
                                  "acme.com.evil.net"])
def test_unknown_host_is_404_and_never_forwarded(routed, host):
    p, alpha, beta = routed
    marker = f"/never-{uuid.uuid4().hex}"
    resp = p.get(marker, host)
    assert resp.status == 404, resp
    assert resp.header("X-Request-Id")
    assert stays_false(lambda: alpha.received(marker) or beta.received(marker), 0.3), \
        "a request for an unknown host reached an upstream"


def test_missing_host_is_400(routed):
    p, alpha, _ = routed
    resp, _ = httpraw.exchange(p.port("http"), b"GET /no-host HTTP/1.1\r\n\r\n")
    assert resp.status == 400, resp
    assert resp.header("X-Request-Id")
    assert not alpha.received("/no-host")


def test_two_tenants_on_two_upstreams(routed):
    p, _, _ = routed
    # Fresh connections, and one keep-alive connection alternating hosts: a client connection
    # is never pinned to a tenant or an upstream.
    for i in range(5):
        assert p.get(f"/echo/a{i}", "erp.acme.com").json()["name"] == "alpha"
        assert p.get(f"/echo/b{i}", "globex.example.org").json()["name"] == "beta"
    with p.connect() as conn:
        for i in range(10):
            host, name = (("erp.acme.com", "alpha"), ("globex.example.org", "beta"))[i % 2]
            echo = conn.request("GET", f"/echo/ka{i}", host).json()
            assert (echo["name"], echo["target"]) == (name, f"/echo/ka{i}")


# ---- routes ----------------------------------------------------------------------------------
ROUTE_CASES = [
    ("GET", "/web/login", "web"),
    ("GET", "/web/webclient/load_menus", "web"),
    ("GET", "/longpolling/poll?ms=100", "longpolling"),
    ("POST", "/longpolling/poll?ms=50", "longpolling"),
    ("GET", "/longpolling/im_status", "longpolling"),
    ("GET", "/longpollingx", "web"),
    ("GET", "/websocketx", "web"),
    ("GET", "/", "web"),
]


def test_route_selection(gateway):
    g = gateway()
    mismatches = []
    for method, target, worker in ROUTE_CASES:
        body = b'{"jsonrpc":"2.0","params":{}}' if method == "POST" else b""
        resp = g.request(method, target, [("Content-Type", "application/json")] if body else (), body)
        got = (resp.status, resp.json().get("worker") if resp.status == 200 else None)
        if got != (200, worker):
            mismatches.append(f"{method} {target}: {got}, expected (200, {worker!r})")
        elif resp.json()["target"] != target or resp.json()["body_length"] != len(body):
            mismatches.append(f"{method} {target}: upstream got {resp.json()}")
    assert not mismatches, "\n".join(mismatches)


def test_websocket_upgrade_reaches_longpolling_worker(gateway):
    g = gateway()

    async def scenario():
        async with wsutil.connect(g.port, g.host) as ws:
            return dict(ws.response_headers)

    headers = {k.lower(): v for k, v in wsutil.run(scenario()).items()}
    assert headers.get("x-upstream-worker") == "longpolling"
    assert headers.get("x-upstream-name") == "alpha"
    assert g.up.stats("longpolling")["websockets"] == 1


def test_plain_get_websocket_path_is_longpolling_route(gateway):
    g = gateway()
    resp = g.get("/websocket")  # no upgrade headers: Odoo's gevent worker refuses it
    assert resp.status == 400, resp
    assert b"missing header" in resp.body.lower()
    assert g.up.received("/websocket", "longpolling")
    assert not g.up.received("/websocket", "web")


def test_pool_without_longpolling_sends_longpolling_to_web(gateway):
    g = gateway(longpolling=False)
    echo = g.echo("/longpolling/poll?ms=10")
    assert echo["worker"] == "web"
    assert echo["target"] == "/longpolling/poll?ms=10"
