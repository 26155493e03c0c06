"""Maintenance mode (SPEC sections 3, 5 and 6, issue 12): per tenant and global, a 503 page with
Retry-After and the message HTML-escaped, maintenance_bypass clients (by peer address or trusted
X-Forwarded-For) passing through, the policy order (unknown host, then maintenance, then rate
limits), the API's answers and maintenance_enabled{tenant}."""

import httpraw
import tgconfig
import wsutil
from harness import assert_proxy_status
from test_limits import SLOW, send_burst, statuses
from test_metrics import PREFIX, scrape, wait_metrics

HOST = "erp.acme.com"
OTHER = "globex.example.com"
TEMPLATE_HOST = "initech.erp.example.com"
UNKNOWN = "nobody.example.net"
MESSAGE = 'Upgrading to 17.0 <script>alert("x")</script> & back at 10:00'
ESCAPED_SCRIPT = "&lt;script&gt;alert("


def put_maintenance(p, body, tenant: str | None = None, status: int = 200) -> dict:
    path = f"/api/v1/tenants/{tenant}/maintenance" if tenant else "/api/v1/maintenance"
    resp = p.admin_call("PUT", path, body)
    assert resp.status == status, f"PUT {path} {body}: {resp!r}"
    return resp.json()


def assert_maintenance_page(resp: httpraw.Response, retry_after: int, message_part: str) -> str:
    assert_proxy_status(resp, 503)
    assert resp.header("Retry-After") == str(retry_after), resp
    assert (resp.header("Content-Type") or "").split(";")[0].strip() == "text/html", resp
    assert "no-store" in (resp.header("Cache-Control") or ""), resp
    text = resp.text()
    assert message_part in text, text
    return text


def maintenance_metric(p, tenant: str) -> float:
    return scrape(p).total(PREFIX + "maintenance_enabled", tenant=tenant)


def config(up, acme_options=None, **render_kwargs) -> str:
    tenants = {"acme": {"hosts": [HOST], "pool": "alpha", **(acme_options or {})},
               "globex": {"hosts": [OTHER], "pool": "alpha"}}
    templates = [{"host": "{tenant}.erp.example.com", "pool": "alpha"}]
    return tgconfig.render({"alpha": tgconfig.pool(up)}, tenants, tenant_templates=templates,
                           maintenance_bypass=["127.0.0.2/32", "192.0.2.0/24"],
                           trusted_proxies=["127.0.0.1/32"], **render_kwargs)


def request_from(p, source: str, target: str, host: str = HOST, headers=()) -> httpraw.Response:
    with httpraw.HttpConn(p.port("http"), source=source) as conn:
        return conn.request("GET", target, host, headers)


def test_tenant_maintenance_page_escaped_with_retry_after_and_bypass(upstream, proxy):
    up = upstream("alpha")
    p = proxy(config(up))
    body = put_maintenance(p, {"enabled": True, "message": MESSAGE, "retry_after": 120}, "acme")
    assert body == {"result": "updated", "tenant": "acme",
                    "maintenance": {"enabled": True, "message": MESSAGE, "retry_after": 120}}, body
    text = assert_maintenance_page(p.get("/web/login?m1", HOST), 120, ESCAPED_SCRIPT)
    assert "<script>" not in text and "&amp; back at 10:00" in text, text
    assert not up.received("m1"), "a request in maintenance reached Odoo"
    # The long-lived route too: a WebSocket handshake gets the 503.
    assert wsutil.run(wsutil.handshake_status(p.port("http"), HOST)) == 503
    # Only acme: globex and template tenants are served.
    assert p.get("/echo/m2", OTHER).status == 200
    assert p.get("/echo/m2t", TEMPLATE_HOST).status == 200
    # maintenance_bypass by peer address, and by X-Forwarded-For from a trusted proxy.
    assert request_from(p, "127.0.0.2", "/echo/m3").status == 200 and up.received("m3")
    bypass_xff = [("X-Forwarded-For", "192.0.2.10")]
    assert p.get("/echo/m4", HOST, bypass_xff).status == 200 and up.received("m4")
    # From a peer that is not a trusted proxy, the same header is not believed.
    assert request_from(p, "127.0.0.3", "/echo/m5", headers=bypass_xff).status == 503
    assert not up.received("m5")

    state = p.admin_json("/api/v1/tenants/acme")
    assert state["maintenance"] == {"enabled": True, "message": MESSAGE, "retry_after": 120}
    assert not (p.admin_json("/api/v1/tenants/globex").get("maintenance") or {}).get("enabled")
    assert p.admin_json("/api/v1/status")["maintenance"]["enabled"] is False
    wait_metrics(p, [(PREFIX + "maintenance_enabled", {"tenant": "acme"}, 1),
                     (PREFIX + "maintenance_enabled", {"tenant": ""}, 0)])

    body = put_maintenance(p, {"enabled": False}, "acme")
    assert body["result"] == "updated" and body["maintenance"]["enabled"] is False, body
    assert p.get("/echo/m6", HOST).status == 200
    assert put_maintenance(p, {"enabled": False}, "acme")["result"] == "unchanged"
    assert not (p.admin_json("/api/v1/tenants/acme").get("maintenance") or {}).get("enabled")
    assert maintenance_metric(p, "acme") == 0


def test_global_maintenance_covers_every_tenant_after_the_unknown_host_check(upstream, proxy):
    up = upstream("alpha")
    p = proxy(config(up))
    body = put_maintenance(p, {"enabled": True, "message": "Planned maintenance"})
    # retry_after defaults to 600 when enabling.
    assert body == {"result": "updated", "tenant": None,
                    "maintenance": {"enabled": True, "message": "Planned maintenance",
                                    "retry_after": 600}}, body
    for host in (HOST, OTHER, TEMPLATE_HOST):
        assert_maintenance_page(p.get("/echo/g1", host), 600, "Planned maintenance")
    # Unknown host first: 404, not the maintenance page.
    resp = p.get("/echo/g2", UNKNOWN)
    assert_proxy_status(resp, 404)
    assert request_from(p, "127.0.0.2", "/echo/g3", OTHER).status == 200
    assert p.admin_json("/api/v1/status")["maintenance"] == {
        "enabled": True, "message": "Planned maintenance", "retry_after": 600}
    wait_metrics(p, [(PREFIX + "maintenance_enabled", {"tenant": ""}, 1)])
    assert not up.received("g1")

    put_maintenance(p, {"enabled": False})
    assert [p.get("/echo/g4", h).status for h in (HOST, OTHER, TEMPLATE_HOST)] == [200] * 3
    assert maintenance_metric(p, "") == 0


def test_tenant_in_maintenance_spends_no_rate_budget(upstream, proxy):
    up = upstream("alpha")
    p = proxy(config(up, {"rate_limit": {"requests_per_second": SLOW, "burst": 3}}))
    put_maintenance(p, {"enabled": True, "message": "m", "retry_after": 30}, "acme")
    refused = send_burst(p, 8)
    assert statuses(refused) == [503] * 8, statuses(refused)
    assert all(r.header("Retry-After") == "30" for r in refused)
    assert scrape(p).total(PREFIX + "rate_limited_total", tenant="acme") == 0
    put_maintenance(p, {"enabled": False}, "acme")
    # The whole burst is still there.
    assert statuses(send_burst(p, 5)) == [200] * 3 + [429] * 2


def test_maintenance_with_zero_retry_after_and_empty_message(upstream, proxy):
    up = upstream("alpha")
    p = proxy(config(up))
    body = put_maintenance(p, {"enabled": True, "retry_after": 0}, "globex")
    assert body["maintenance"] == {"enabled": True, "message": "", "retry_after": 0}, body
    resp = p.get("/echo/z", OTHER)
    assert_proxy_status(resp, 503)
    assert resp.header("Retry-After") == "0"
    assert p.get("/echo/z", HOST).status == 200
