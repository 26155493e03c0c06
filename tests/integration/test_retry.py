"""Retry on another endpoint when the upstream connection fails (SPEC section 3)."""

import rawupstream
import tgconfig
from harness import closed_port
from test_upstream_faults import close_after_request


def test_dead_endpoint_is_retried_on_a_live_one(upstream, proxy):
    live = upstream("live")
    dead = f"127.0.0.1:{closed_port()}"
    pools = {"mixed": {"web": [dead, live.web_addr], "longpolling": [dead, live.longpolling_addr],
                       "balance": "round_robin"}}
    p = proxy(tgconfig.render(pools, {"acme": {"hosts": ["erp.acme.com"], "pool": "mixed"}},
                              timeouts={"upstream_connect": "1s"}))
    failures = []
    for i in range(20):
        resp = p.get(f"/echo/retry{i}", "erp.acme.com")
        if resp.status != 200 or resp.json()["name"] != "live":
            failures.append(f"GET #{i}: {resp!r}")
    # A connect failure happens before any byte is sent: a POST with a body is retried too.
    for i in range(10):
        resp = p.request("POST", f"/echo/post{i}", "erp.acme.com", body=b"payload-%d" % i)
        if resp.status != 200 or resp.json()["body_length"] != len(b"payload-%d" % i):
            failures.append(f"POST #{i}: {resp!r}")
    for i in range(5):
        resp = p.get("/longpolling/poll?ms=10", "erp.acme.com")
        if resp.status != 200 or resp.json()["worker"] != "longpolling":
            failures.append(f"longpolling #{i}: {resp!r}")
    assert not failures, "\n".join(failures)


def test_get_cut_off_by_a_dying_endpoint_is_retried_on_another_one(upstream, proxy):
    """A GET whose upstream closes before answering is retried once; with a second, healthy
    endpoint the retry goes there, not again to the one that failed (which, under cookie_hash
    affinity, it would pick again: the chaos run's 502 after a kill -9 of an endpoint)."""
    dying = rawupstream.RawUpstream(close_after_request)  # a pod killed mid-request
    try:
        live = upstream("live")
        pools = {"mixed": {"web": [dying.addr, live.web_addr], "balance": "cookie_hash"}}
        p = proxy(tgconfig.render(pools, {"acme": {"hosts": ["erp.acme.com"], "pool": "mixed"}},
                                  workers=1))
        failures = []
        for i in range(20):
            resp = p.get(f"/echo/cut{i}", "erp.acme.com", [("Cookie", f"session_id=s{i}")])
            if resp.status != 200 or resp.json()["name"] != "live":
                failures.append(f"GET #{i}: {resp!r}")
        assert dying.connection_count() > 0, "no session_id hashed to the dying endpoint"
        assert not failures, "\n".join(failures)
    finally:
        dying.stop()
