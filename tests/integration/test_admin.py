"""Admin API (SPEC section 6): probes, status, tenant state, bearer-token authorization, reload,
drain, and refusal of bad requests without any change of state."""

import re
import subprocess

import pytest

import harness
import httpraw
import tgconfig
import wsutil
from harness import poll

AUTH = [("Authorization", f"Bearer {harness.ADMIN_TOKEN}")]
WRONG_AUTH = [("Authorization", "Bearer not-the-token")]
HOST = "erp.acme.com"
READ_PATHS = ("/api/v1/status", "/api/v1/tenants", "/api/v1/tenants/acme")
MUTATING_PATHS = ("/api/v1/reload", "/api/v1/drain")


def admin_json(p, path: str, status: int = 200, headers=()):
    resp = p.admin_request("GET", path, headers)
    assert resp.status == status, f"GET {path}: {resp!r}"
    assert (resp.header("Content-Type") or "").startswith("application/json"), resp
    return resp.json()


def status_of(p) -> dict:
    return admin_json(p, "/api/v1/status")


def assert_json_error(resp: httpraw.Response, status: int, what: str) -> dict:
    assert resp.status == status, f"{what}: expected {status}, got {resp!r}"
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], \
        f"{what}: no JSON error message: {resp!r}"
    return body


def assert_state_unchanged(p, generation: int) -> None:
    """Still serving, not draining, same config generation."""
    assert p.alive()
    assert p.admin_get("/readyz").status == 200
    st = status_of(p)
    assert st["draining"] is False, st
    assert st["config_generation"] == generation, st


@pytest.fixture
def two_pools(upstream):
    """(config(pool_name) -> YAML with tenant acme on pool alpha or beta), two upstreams."""
    pools = {"alpha": tgconfig.pool(upstream("alpha")), "beta": tgconfig.pool(upstream("beta"))}
    return lambda pool_name: tgconfig.render(pools, {"acme": {"hosts": [HOST],
                                                              "pool": pool_name}})


def served_by(p) -> str:
    resp = p.get("/echo/admin", HOST)
    assert resp.status == 200, resp
    return resp.json()["name"]


# ---- probes and read endpoints ---------------------------------------------------------------
def test_probes_and_metrics_content_type(gateway):
    p = gateway().proxy
    assert admin_json(p, "/healthz") == {"status": "ok"}
    assert admin_json(p, "/readyz") == {"status": "ready"}
    resp = p.admin_get("/metrics")
    assert resp.status == 200, resp
    assert resp.header("Content-Type").startswith("text/plain; version=0.0.4"), resp.headers


def test_status_fields_and_connection_count(gateway):
    g = gateway()
    st = status_of(g.proxy)
    assert set(st) == {"version", "config_generation", "uptime_seconds", "connections",
                       "draining", "workers", "redis", "maintenance"}, st
    assert st["redis"] is None, st  # no state.redis: budgets are local
    assert st["maintenance"] == {"enabled": False, "message": "", "retry_after": 0}, st
    assert isinstance(st["version"], str) and st["version"], st
    assert type(st["config_generation"]) is int, st
    assert type(st["uptime_seconds"]) in (int, float) and st["uptime_seconds"] >= 0, st
    assert st["draining"] is False, st
    assert st["workers"] == 2, st  # tgconfig.render's default
    # Admin connections are not data-listener connections.
    poll(lambda: status_of(g.proxy)["connections"] == 0, 5, "connections == 0 with no client")
    with g.proxy.connect() as conn:
        assert conn.request("GET", "/echo/keepalive", g.host).status == 200
        poll(lambda: status_of(g.proxy)["connections"] == 1, 5,
             "connections == 1 with one open keep-alive connection")
    poll(lambda: status_of(g.proxy)["connections"] == 0, 5, "connections back to 0 after close")
    later = status_of(g.proxy)
    assert later["uptime_seconds"] >= st["uptime_seconds"], (st, later)
    assert later["config_generation"] == st["config_generation"]


def test_tenants_list_and_single_tenant(upstream, proxy):
    up = upstream("alpha")
    pools = {name: tgconfig.pool(up) for name in ("alpha", "blue", "green")}
    tenants = {
        "acme": {"hosts": [HOST, "*.acme.com"], "pool": "alpha",
                 "rate_limit": {"requests_per_second": 200, "burst": 400},
                 "per_client_rate_limit": {"requests_per_second": 20, "burst": 60},
                 "max_in_flight": 128},
        "globex": {"hosts": ["globex.example.com"],
                   "release": {"blue": "blue", "green": "green", "active": "green",
                               "drain_timeout": "30s"}},
    }
    templates = [{"host": "{tenant}.erp.example.com", "pool": "alpha"}]
    p = proxy(tgconfig.render(pools, tenants, tenant_templates=templates))
    acme = {"name": "acme", "origin": "file", "hosts": [HOST, "*.acme.com"], "pool": "alpha",
            "release": None,
            "active_pool": "alpha", "maintenance": None,
            "limits": {"rate_limit": {"requests_per_second": 200, "burst": 400},
                       "per_client_rate_limit": {"requests_per_second": 20, "burst": 60},
                       "max_in_flight": 128},
            "in_flight": 0, "tunnels": 0}
    globex = {"name": "globex", "origin": "file", "hosts": ["globex.example.com"], "pool": None,
              "release": {"blue": "blue", "green": "green", "active": "green",
                          "configured_active": "green", "drain_timeout": "30s",
                          "switched_at": None, "draining": None},
              "active_pool": "green", "maintenance": None,
              "limits": {"rate_limit": None, "per_client_rate_limit": None},
              "in_flight": 0, "tunnels": 0}

    def without_default_max_in_flight(tenant: dict) -> dict:
        """globex sets no max_in_flight: its value is not pinned, only its type."""
        assert type(tenant["limits"].get("max_in_flight")) is int, tenant
        return {**tenant, "limits": {k: v for k, v in tenant["limits"].items()
                                     if k != "max_in_flight"}}

    listing = admin_json(p, "/api/v1/tenants")
    assert set(listing) == {"tenants", "templates"}, listing
    assert listing["templates"] == [{"host": "{tenant}.erp.example.com", "pool": "alpha"}]
    by_name = {t["name"]: t for t in listing["tenants"]}
    assert len(by_name) == len(listing["tenants"]) == 2, listing
    assert by_name["acme"] == acme
    assert without_default_max_in_flight(by_name["globex"]) == globex

    assert admin_json(p, "/api/v1/tenants/acme") == acme
    assert without_default_max_in_flight(admin_json(p, "/api/v1/tenants/globex")) == globex
    assert admin_json(p, "/api/v1/tenants/nope", 404) == {"error": 'unknown tenant "nope"'}


def test_tenant_in_flight_and_tunnels(gateway):
    g = gateway()

    def tenant():
        return admin_json(g.proxy, "/api/v1/tenants/acme")

    with g.proxy.connect(timeout=20) as slow:
        slow.send_request("GET", "/slow?ms=3000", g.host)
        poll(lambda: tenant()["in_flight"] == 1, 5, "in_flight == 1 during a slow request")
        assert tenant()["tunnels"] == 0
        assert slow.read_response(timeout=15).status == 200
    poll(lambda: tenant()["in_flight"] == 0, 5, "in_flight back to 0")

    with g.proxy.connect() as ws:
        ws.send(wsutil.handshake_request(g.host))
        assert ws.read_head(timeout=10).status == 101
        poll(lambda: tenant()["tunnels"] == 1, 5, "tunnels == 1 with an open websocket")
    poll(lambda: tenant()["tunnels"] == 0, 5, "tunnels back to 0 after the websocket closed")
    assert tenant()["in_flight"] == 0


# ---- authorization ---------------------------------------------------------------------------
def test_reads_need_token_unless_allowed(gateway):
    g = gateway(admin={"address": "127.0.0.1:0", "token_file": tgconfig.ADMIN_TOKEN_FILE,
                       "allow_read_without_token": False})
    p = g.proxy
    for path in READ_PATHS:
        assert p.admin_request("GET", path).status == 401, path
        assert p.admin_request("GET", path, AUTH).status == 200, path
    for path in ("/metrics", "/healthz", "/readyz"):
        assert p.admin_request("GET", path).status == 200, f"{path} must stay open"


@pytest.mark.parametrize("path", MUTATING_PATHS)
def test_mutating_calls_need_the_bearer_token(gateway, path):
    p = gateway().proxy
    generation = status_of(p)["config_generation"]
    for headers in ([], [("Authorization", "Bearer")]):  # no token at all, scheme only
        resp = p.admin_request("POST", path, headers)
        assert_json_error(resp, 401, f"POST {path} with {headers}")
        assert (resp.header("WWW-Authenticate") or "").split(" ")[0] == "Bearer", resp
    assert_json_error(p.admin_request("POST", path, WRONG_AUTH), 403, f"POST {path} wrong token")
    assert_state_unchanged(p, generation)


def test_no_token_file_refuses_every_mutating_call(gateway):
    p = gateway(token_file=None).proxy
    generation = status_of(p)["config_generation"]
    for path in MUTATING_PATHS:
        assert_json_error(p.admin_request("POST", path, AUTH), 403, f"POST {path}")
    assert_state_unchanged(p, generation)


def test_world_readable_token_file_refuses_to_start(tenantgate_bin, tmp_path):
    token = harness.write_admin_token(tmp_path)
    token.chmod(0o644)
    config = tmp_path / "tenantgate.yaml"
    config.write_text(tgconfig.render(
        {"alpha": {"web": [f"127.0.0.1:{harness.closed_port()}"]}},
        {"acme": {"hosts": [HOST], "pool": "alpha"}}))
    try:
        result = subprocess.run([tenantgate_bin, "run", "--config", str(config)], cwd=tmp_path,
                                capture_output=True, text=True, timeout=20,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed it
        raise AssertionError(f"tenantgate started with a world-readable token file: {e.stderr}")
    assert result.returncode == 1, result
    assert tgconfig.ADMIN_TOKEN_FILE in result.stderr, result.stderr
    assert "world-readable" in result.stderr, result.stderr


# ---- reload and drain ------------------------------------------------------------------------
def test_reload_applies_the_file_on_disk(proxy, two_pools):
    p = proxy(two_pools("alpha"))
    assert served_by(p) == "alpha"
    generation = status_of(p)["config_generation"]
    for expected, pool_name in enumerate(("beta", "alpha"), generation + 1):
        p.write_config(two_pools(pool_name))
        resp = p.admin_request("POST", "/api/v1/reload", AUTH)
        assert resp.status == 200, resp
        assert resp.json() == {"result": "reloaded", "generation": expected}
        assert served_by(p) == pool_name, "the new config must be in effect once reload answers"
        assert status_of(p)["config_generation"] == expected


def test_invalid_reload_is_refused_and_old_config_keeps_serving(proxy, two_pools):
    p = proxy(two_pools("alpha"))
    generation = status_of(p)["config_generation"]
    bad = two_pools("nope")
    bad_line = next(i for i, line in enumerate(bad.splitlines(), 1) if '"nope"' in line)
    p.write_config(bad)
    seen = len(p.ops_log_lines())
    resp = p.admin_request("POST", "/api/v1/reload", AUTH)
    assert resp.status == 400, resp
    body = resp.json()
    assert set(body) == {"error", "errors"} and body["error"] == "invalid config", body
    assert body["errors"] and all(isinstance(e, str) for e in body["errors"]), body
    pattern = rf"tenantgate\.yaml:{bad_line}:\d+: tenants\.acme\.pool: "
    assert any(re.search(pattern, e) for e in body["errors"]), (pattern, body)
    # Refused through the API, the reload is logged as one refused by SIGHUP is (the audit
    # line says only "invalid config").
    outcome = reload_outcome(p, seen)
    assert outcome["msg"] == "config reload failed" and outcome["level"] == "error", outcome
    assert outcome["trigger"] == "admin API" and outcome["errors"] == body["errors"], outcome
    assert served_by(p) == "alpha"
    assert_state_unchanged(p, generation)
    p.write_config(two_pools("beta"))
    seen = len(p.ops_log_lines())
    resp = p.admin_request("POST", "/api/v1/reload", AUTH)
    assert resp.status == 200 and resp.json()["generation"] == generation + 1, resp
    outcome = reload_outcome(p, seen)
    assert outcome["msg"] == "config reloaded" and outcome["trigger"] == "admin API", outcome
    assert outcome["generation"] == generation + 1, outcome
    assert served_by(p) == "beta"


def reload_outcome(p, seen: int) -> dict:
    """The first reload outcome line of the ops log after its first `seen` lines."""
    return poll(lambda: next((l for l in p.ops_log_lines()[seen:]
                              if l.get("msg") in harness.RELOAD_MESSAGES), None),
                5, "a reload outcome line in the ops log")


def test_drain_reports_not_ready_then_exits_zero(gateway):
    g = gateway()
    p = g.proxy
    with p.connect(timeout=20) as conn:
        conn.send_request("GET", "/slow?ms=3000", g.host)
        poll(lambda: g.up.stats()["in_flight"] >= 1, 5, "the slow request to reach Odoo")
        p.expect_exit = True
        resp = p.admin_request("POST", "/api/v1/drain", AUTH)
        assert resp.status == 202, resp
        assert resp.json() == {"result": "draining"}
        poll(lambda: p.readyz_status() == 503, 5, "/readyz 503 after POST /api/v1/drain")
        assert admin_json(p, "/readyz", 503) == {"status": "draining"}
        assert status_of(p)["draining"] is True
        assert conn.read_response(timeout=15).status == 200, "in-flight request broken by drain"
    assert p.wait_exit(30) == 0


# ---- bad input changes nothing ---------------------------------------------------------------
def test_reload_ignores_its_body(gateway):
    g = gateway()
    generation = status_of(g.proxy)["config_generation"]
    resp = g.proxy.admin_request("POST", "/api/v1/reload",
                                 AUTH + [("Content-Type", "application/json")],
                                 b'\x00\xff{"pools": nonsense')
    assert resp.status == 200, resp
    assert resp.json() == {"result": "reloaded", "generation": generation + 1}
    assert g.get("/echo/after").status == 200
    assert_state_unchanged(g.proxy, generation + 1)


def test_unknown_paths_answer_404_json(gateway):
    p = gateway().proxy
    generation = status_of(p)["config_generation"]
    for method, path, headers in (("GET", "/nope", []), ("GET", "/api/v1/nope", []),
                                  ("GET", "/api/v2/status", []),
                                  ("POST", "/api/v1/nope", AUTH),
                                  ("POST", "/api/v1/reload/now", AUTH)):
        assert_json_error(p.admin_request(method, path, headers), 404, f"{method} {path}")
    assert_state_unchanged(p, generation)


def test_wrong_method_answers_405_json_with_allow(gateway):
    p = gateway().proxy
    generation = status_of(p)["config_generation"]
    for method, path, allowed in (("DELETE", "/api/v1/status", "GET"),
                                  ("PUT", "/api/v1/tenants", "GET"),
                                  ("POST", "/api/v1/tenants/acme", "GET"),
                                  ("POST", "/api/v1/tenants/acme", "PUT"),
                                  ("POST", "/api/v1/tenants/acme", "DELETE"),
                                  ("GET", "/api/v1/reload", "POST"),
                                  ("GET", "/api/v1/drain", "POST"),
                                  ("POST", "/healthz", "GET")):
        resp = p.admin_request(method, path, AUTH)
        assert_json_error(resp, 405, f"{method} {path}")
        assert allowed.lower() in httpraw.tokens(resp.header_values("Allow")), resp
    assert_state_unchanged(p, generation)
