"""Upstream health (SPEC sections 2, 3, 7): active checks (pools.health_check) take a dead
endpoint out of the balancing and bring it back after `rise` passed checks, both visible in
tenantgate_upstream_endpoint_up{pool,endpoint}; without a health_check, consecutive connect
failures eject an endpoint passively, per worker, so it is not tried on every other request."""

import tgconfig
from harness import closed_port, poll
from test_metrics import PREFIX, scrape

HOST = "erp.acme.com"
# Fast enough for a test, in the shape of SPEC section 2's example.
CHECK = {"path": "/web/health", "interval": "200ms", "timeout": "100ms", "fall": 2, "rise": 2}
WORKERS = 2
PASSIVE_FALL = 3  # the passive ejection threshold of a pool without health_check


def config(web: list, **pool_options) -> str:
    pools = {"mixed": {"web": web, "balance": "round_robin", **pool_options}}
    return tgconfig.render(pools, {"acme": {"hosts": [HOST], "pool": "mixed"}},
                           timeouts={"upstream_connect": "1s"}, workers=WORKERS)


def endpoint_up(p, endpoint: str) -> list:
    """The values of tenantgate_upstream_endpoint_up for `endpoint` in pool "mixed"."""
    return [v for _, v in scrape(p).series(PREFIX + "upstream_endpoint_up", pool="mixed",
                                           endpoint=endpoint)]


def wait_endpoint_up(p, endpoint: str, value: float, timeout: float = 10.0) -> None:
    last = {}

    def reached():
        last["values"] = endpoint_up(p, endpoint)
        return last["values"] == [value]

    try:
        poll(reached, timeout, f"upstream_endpoint_up{{endpoint={endpoint}}} == {value}", 0.05)
    except AssertionError as e:
        raise AssertionError(f"{e}; last scrape: {last.get('values')}") from None


def connect_failures(p) -> float:
    return scrape(p).total(PREFIX + "upstream_errors_total", pool="mixed",
                           reason="connect_failed")


def served_names(p, count: int, tag: str) -> list:
    """The upstream name behind each of `count` GETs; every one must be a 200."""
    names = []
    for i in range(count):
        resp = p.get(f"/echo/{tag}{i}", HOST)
        assert resp.status == 200, f"GET #{i}: {resp!r}"
        names.append(resp.json()["name"])
    return names


def ops_lines(p, msg: str, endpoint: str) -> list:
    return [l for l in p.ops_log_lines() if l.get("msg") == msg and l.get("endpoint") == endpoint]


def test_active_check_takes_a_dead_endpoint_out(upstream, proxy):
    live = upstream("live")
    dead = f"127.0.0.1:{closed_port()}"
    p = proxy(config([dead, live.web_addr], health_check=CHECK))

    wait_endpoint_up(p, dead, 0)
    assert endpoint_up(p, live.web_addr) == [1]
    assert scrape(p).types.get(PREFIX + "upstream_endpoint_up") == "gauge"
    down = ops_lines(p, "upstream endpoint down", dead)
    assert down and down[0]["level"] == "warn" and down[0]["pool"] == "mixed", down
    assert "/web/health" in live.targets(), "the live endpoint was never checked"

    before = connect_failures(p)
    assert served_names(p, 30, "active") == ["live"] * 30
    assert connect_failures(p) == before, "a request was sent to the endpoint marked down"
    assert endpoint_up(p, live.web_addr) == [1]


def test_endpoint_comes_back_after_rise_checks(upstream, proxy):
    live = upstream("live")
    port = closed_port()
    dead = f"127.0.0.1:{port}"
    p = proxy(config([dead, live.web_addr], health_check=CHECK))
    wait_endpoint_up(p, dead, 0)

    revived = upstream("revived", web_port=port)
    wait_endpoint_up(p, dead, 1)
    up = ops_lines(p, "upstream endpoint up", dead)
    assert up and up[0]["level"] == "info" and up[0]["pool"] == "mixed", up
    assert revived.targets().count("/web/health") >= CHECK["rise"]

    names = served_names(p, 20, "back")
    assert names.count("revived") > 0 and names.count("live") > 0, names


def test_every_endpoint_down_still_serves_and_says_so(upstream, proxy):
    # Routing falls back to all endpoints rather than refusing every request: the one that
    # still answers (its checks fail, the path is a 404 there) keeps serving.
    live = upstream("live")
    dead = f"127.0.0.1:{closed_port()}"
    p = proxy(config([dead, live.web_addr], health_check={**CHECK, "path": "/status/404"}))
    wait_endpoint_up(p, dead, 0)
    wait_endpoint_up(p, live.web_addr, 0)
    outage = poll(lambda: [l for l in p.ops_log_lines()
                           if l.get("level") == "error" and l.get("pool") == "mixed"],
                  5, "the every-endpoint-down error line")
    assert len(outage) == 1, outage
    assert served_names(p, 10, "fallback") == ["live"] * 10


def test_reload_follows_the_endpoints(upstream, proxy):
    live = upstream("live")
    dead = f"127.0.0.1:{closed_port()}"
    p = proxy(config([dead, live.web_addr], health_check=CHECK))
    wait_endpoint_up(p, dead, 0)

    # A reload that keeps the dead endpoint keeps its state: it is not revived by the reload.
    p.reload_ok(config([live.web_addr, dead], health_check=CHECK))
    assert endpoint_up(p, dead) == [0]
    before = connect_failures(p)
    assert served_names(p, 10, "kept") == ["live"] * 10
    assert connect_failures(p) == before

    # Removed from the config, it leaves the metrics.
    p.reload_ok(config([live.web_addr], health_check=CHECK))
    poll(lambda: endpoint_up(p, dead) == [], 5, f"the series of {dead} to go")
    assert endpoint_up(p, live.web_addr) == [1]


def test_passive_ejection_without_health_check(upstream, proxy):
    live = upstream("live")
    dead = f"127.0.0.1:{closed_port()}"
    p = proxy(config([dead, live.web_addr]))

    assert served_names(p, 30, "passive") == ["live"] * 30
    # Round robin over [dead, live] would try the dead endpoint first on most of the requests
    # (the retry on the live one moves the cursor past it); ejected after PASSIVE_FALL failures
    # in a row, each worker stops trying it (the 5 s backoff outlasts the test).
    failures = connect_failures(p)
    assert PASSIVE_FALL <= failures <= WORKERS * PASSIVE_FALL, failures
    # The active gauge is not about passive ejection: without health_check it stays 1.
    assert endpoint_up(p, dead) == [1]


def test_passive_ejection_of_an_endpoint_answering_503(upstream, proxy):
    # A pod whose Odoo answers 503 to everything (a sick worker behind its own sidecar): the
    # 503s reach the client (a response is never retried), until PASSIVE_FALL of them in a row
    # eject it from each worker and the healthy endpoint takes all the traffic.
    sick = upstream("sick", fail_status=503)
    live = upstream("live")
    p = proxy(config([sick.web_addr, live.web_addr]))

    statuses = []
    for i in range(40):
        resp = p.get(f"/echo/sick{i}", HOST)
        statuses.append(resp.status)
        assert resp.status in (200, 503), resp
    failed = statuses.count(503)
    assert PASSIVE_FALL <= failed <= WORKERS * PASSIVE_FALL, statuses
    assert statuses[-10:] == [200] * 10, statuses
    sick_hits = [t for t in sick.targets() if t.startswith("/echo/sick")]
    assert len(sick_hits) == failed, (sick_hits, statuses)
