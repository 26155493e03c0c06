"""Tenant isolation (SPEC section 4): per-tenant and per-client GCRA buckets enforced across
workers, max_in_flight, 429 answers with Retry-After, rate_limited_total, template tenants, and
reloads that change limits without resetting budgets."""

import threading
import time

import pytest

import httpraw
import tgconfig
from harness import poll
from test_metrics import PREFIX, scrape, wait_metrics

HOST = "erp.acme.com"
# Slow refill: one token per 20 s, so a test's requests see the burst and nothing more.
SLOW = 0.05


def send_burst(p, n: int, host: str = HOST, headers=(), source: str | None = None) -> list:
    """n requests, each on its own connection (so SO_REUSEPORT spreads them over the workers);
    returns the responses."""
    out = []
    for i in range(n):
        with httpraw.HttpConn(p.port("http"), source=source) as conn:
            out.append(conn.request("GET", f"/echo/burst{i}", host, headers))
    return out


def statuses(responses) -> list:
    return [r.status for r in responses]


def assert_429(resp: httpraw.Response, retry_after_at_least: int = 1) -> None:
    assert resp.status == 429, resp
    assert resp.header("X-Request-Id"), resp
    retry = resp.header("Retry-After")
    assert retry is not None and retry.isdigit() and int(retry) >= retry_after_at_least, resp
    assert resp.text().startswith("429"), resp.text()


@pytest.mark.parametrize("workers", [1, 2])
def test_tenant_burst_passes_exactly_once_whatever_the_workers(gateway, workers):
    g = gateway({"rate_limit": {"requests_per_second": SLOW, "burst": 10}}, workers=workers)
    responses = send_burst(g.proxy, 30)
    assert statuses(responses).count(200) == 10, statuses(responses)
    for resp in responses:
        if resp.status != 200:
            assert_429(resp, retry_after_at_least=1)
    # One token per 20 s: the next one is at most 20 s away, rounded up.
    assert all(int(r.header("Retry-After")) <= 20 for r in responses if r.status == 429)
    assert len([t for t in g.up.targets() if "/echo/burst" in t]) == 10
    wait_metrics(g.proxy, [
        (PREFIX + "rate_limited_total", {"tenant": "acme", "reason": "tenant"}, 20),
        (PREFIX + "requests_total", {"tenant": "acme", "code": "429"}, 20),
    ])


def test_other_tenants_keep_their_own_budget(upstream, proxy):
    up = upstream("alpha")
    limited = {"requests_per_second": SLOW, "burst": 3}
    tenants = {"acme": {"hosts": [HOST], "pool": "alpha", "rate_limit": limited},
               "globex": {"hosts": ["globex.example.com"], "pool": "alpha"}}
    p = proxy(tgconfig.render({"alpha": tgconfig.pool(up)}, tenants))
    assert statuses(send_burst(p, 6)).count(200) == 3
    assert statuses(send_burst(p, 20, host="globex.example.com")) == [200] * 20


def test_per_client_limit_by_peer_address(gateway):
    g = gateway({"rate_limit": {"requests_per_second": SLOW, "burst": 100},
                 "per_client_rate_limit": {"requests_per_second": SLOW, "burst": 4}})
    first = send_burst(g.proxy, 8, source="127.0.0.2")
    assert statuses(first) == [200] * 4 + [429] * 4
    for resp in first[4:]:
        assert_429(resp)
    # Another address has its own bucket; the first one's refusals cost the tenant nothing.
    assert statuses(send_burst(g.proxy, 5, source="127.0.0.3")) == [200] * 4 + [429]
    wait_metrics(g.proxy, [
        (PREFIX + "rate_limited_total", {"tenant": "acme", "reason": "client"}, 5),
        (PREFIX + "rate_limited_total", {"tenant": "acme", "reason": "tenant"}, 0),
    ])


def test_per_client_limit_by_trusted_forwarded_for(gateway):
    g = gateway({"per_client_rate_limit": {"requests_per_second": SLOW, "burst": 2}},
                trusted_proxies=["127.0.0.0/8"])
    one = [("X-Forwarded-For", "198.51.100.7")]
    two = [("X-Forwarded-For", "198.51.100.8")]
    assert statuses(send_burst(g.proxy, 3, headers=one)) == [200, 200, 429]
    assert statuses(send_burst(g.proxy, 3, headers=two)) == [200, 200, 429]
    # The last untrusted hop is the client, whatever a client wrote before it.
    spoofed = [("X-Forwarded-For", "203.0.113.1, 198.51.100.7")]
    assert statuses(send_burst(g.proxy, 1, headers=spoofed)) == [429]


def test_untrusted_forwarded_for_does_not_pick_the_bucket(gateway):
    g = gateway({"per_client_rate_limit": {"requests_per_second": SLOW, "burst": 2}},
                trusted_proxies=[])
    rotating = [[("X-Forwarded-For", f"198.51.100.{i}")] for i in range(4)]
    got = [send_burst(g.proxy, 1, headers=h)[0].status for h in rotating]
    assert got == [200, 200, 429, 429]


def slow_request(port: int, ms: int, results: list, index: int) -> None:
    try:
        with httpraw.HttpConn(port, timeout=30) as conn:
            results[index] = conn.request("GET", f"/slow?ms={ms}", HOST)
    except Exception as e:  # recorded, asserted by the test
        results[index] = e


def in_flight(p) -> float:
    return scrape(p).total(PREFIX + "in_flight_requests", tenant="acme")


def test_max_in_flight_refuses_the_excess_and_releases_every_slot(gateway):
    g = gateway({"max_in_flight": 2})
    results = [None] * 5
    threads = []
    for i in range(2):
        threads.append(threading.Thread(target=slow_request, args=(g.port, 1500, results, i)))
        threads[-1].start()
    poll(lambda: g.up.stats()["in_flight"] == 2, 10, "two slow requests at the upstream")
    for i in range(2, 5):
        threads.append(threading.Thread(target=slow_request, args=(g.port, 1500, results, i)))
        threads[-1].start()
    for t in threads:
        t.join(30)
    got = [r.status for r in results]
    assert sorted(got) == [200, 200, 429, 429, 429], results
    for r in results:
        if r.status == 429:
            assert_429(r)
            assert r.header("Retry-After") == "1"
    wait_metrics(g.proxy, [
        (PREFIX + "rate_limited_total", {"tenant": "acme", "reason": "in_flight"}, 3),
        (PREFIX + "in_flight_requests", {"tenant": "acme"}, 0),
    ])
    assert g.get("/echo/after").status == 200


def test_in_flight_slots_come_back_after_clients_vanish_and_upstreams_fail(gateway, upstream):
    g = gateway({"max_in_flight": 2}, timeouts={"upstream_response": "1s"})
    # Two clients send slow requests and disconnect at once.
    for _ in range(2):
        conn = httpraw.HttpConn(g.port)
        conn.send_request("GET", "/slow?ms=800", HOST)
        poll(lambda: g.up.stats()["in_flight"] >= 1, 10, "slow request at the upstream")
        conn.close()
    # Timeouts (504) and upstream errors hold and release slots too.
    results = [None, None]
    threads = [threading.Thread(target=slow_request, args=(g.port, 3000, results, i))
               for i in range(2)]
    poll(lambda: g.up.stats()["in_flight"] == 0, 10, "the abandoned requests ended upstream")
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.status for r in results] == [504, 504], results
    assert g.get("/status/500").status == 500
    wait_metrics(g.proxy, [(PREFIX + "in_flight_requests", {"tenant": "acme"}, 0)])
    both = [None, None]
    threads = [threading.Thread(target=slow_request, args=(g.port, 200, both, i))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.status for r in both] == [200, 200], both


def test_template_tenants_each_get_their_own_bucket(upstream, proxy):
    up = upstream("alpha")
    templates = [{"host": "{tenant}.erp.example.com", "pool": "alpha",
                  "rate_limit": {"requests_per_second": SLOW, "burst": 3}}]
    p = proxy(tgconfig.render({"alpha": tgconfig.pool(up)}, {}, tenant_templates=templates))
    assert statuses(send_burst(p, 5, host="one.erp.example.com")) == [200] * 3 + [429] * 2
    assert statuses(send_burst(p, 5, host="two.erp.example.com")) == [200] * 3 + [429] * 2
    wait_metrics(p, [
        (PREFIX + "rate_limited_total", {"tenant": "one", "reason": "tenant"}, 2),
        (PREFIX + "rate_limited_total", {"tenant": "two", "reason": "tenant"}, 2),
    ])


def test_reload_keeps_budgets_and_applies_new_limits_at_once(upstream, proxy):
    up = upstream("alpha")

    def config(burst: int, extra_tenant: bool = False) -> str:
        tenants = {"acme": {"hosts": [HOST], "pool": "alpha",
                            "rate_limit": {"requests_per_second": SLOW, "burst": burst}}}
        if extra_tenant:
            tenants["globex"] = {"hosts": ["globex.example.com"], "pool": "alpha"}
        return tgconfig.render({"alpha": tgconfig.pool(up)}, tenants)

    p = proxy(config(5))
    assert statuses(send_burst(p, 7)).count(200) == 5
    p.reload_ok(config(5, extra_tenant=True))
    assert statuses(send_burst(p, 3)) == [429] * 3, "a reload must not refill the bucket"
    p.reload_ok(config(8))
    # The bigger burst applies at once, on the spent bucket: 3 more.
    assert statuses(send_burst(p, 5)) == [200] * 3 + [429] * 2
