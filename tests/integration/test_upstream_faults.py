"""Upstream faults: a raw upstream (rawupstream.py) that resets, closes, lies about framing,
sends interim responses, oversized heads, or never finishes. The client must get either the
upstream's response, cut short and closed, or the proxy's own 502/504: never a response
spliced from two, and never one that looks complete when it is not."""

import time

import pytest

import httpraw
import rawupstream
import tgconfig
from harness import assert_proxy_status, poll, stays_false

HOST = "erp.acme.com"
BIG = 100_000


@pytest.fixture
def raw_upstream():
    """Factory: raw_upstream(script or [scripts]) -> a running RawUpstream, stopped at teardown."""
    started = []

    def start(script=rawupstream.answer_each_request):
        up = rawupstream.RawUpstream(script)
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()


def gate(proxy, up, **timeouts):
    """One worker (one pool of upstream connections, one passive health view) in front of `up`."""
    pools = {"raw": {"web": [up.addr]}}
    tenants = {"acme": {"hosts": [HOST], "pool": "raw"}}
    return proxy(tgconfig.render(pools, tenants, workers=1,
                                 timeouts={"upstream_response": "1s", **timeouts},
                                 limits={"max_header_bytes": "8KiB"}))


def answer_once_then(head_and_body: bytes, then=None):
    """A script: reads one request, sends `head_and_body`, then runs `then(conn)` (default:
    waits for the proxy to close the connection)."""
    def script(conn):
        if conn.read_request() is None:
            return
        conn.send(head_and_body)
        (then or (lambda c: c.wait_closed()))(conn)
    return script


def assert_clean_next_request(p, up, connections_before: int):
    """A new client connection gets its own, complete answer, on a new upstream connection."""
    resp = p.get("/next-clean", HOST, timeout=5)
    assert resp.status == 200 and resp.body == b"/next-clean", resp
    assert up.connection_count() == connections_before + 1


# ---- reset or close in the middle of a response ----------------------------------------------
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_reset_mid_body_truncates_the_response_and_closes(proxy, raw_upstream, framing):
    if framing == "chunked":
        partial = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + b"%x\r\n" % 1000 + b"x" * 1000 + b"\r\n")
    else:
        partial = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG + b"x" * 1000
    up = raw_upstream([answer_once_then(partial, lambda c: c.reset()),
                       rawupstream.answer_each_request])
    p = gate(proxy, up)
    with p.connect() as conn:
        conn.send_request("GET", "/download", HOST)
        resp = conn.read_head(timeout=5)
        assert resp.status == 200
        got = []
        # The proxy must not end the body (no final chunk, no padding): the read fails.
        with pytest.raises(httpraw.ConnectionClosedEarly):
            conn.read_body(resp, timeout=5, sink=lambda mv: got.append(len(mv)))
        assert sum(got) <= 1000, f"{sum(got)} body bytes from an upstream that sent 1000"
        assert conn.eof, "the client connection must be closed after a truncated response"
    assert_clean_next_request(p, up, 1)


def test_upstream_eof_before_content_length_is_complete_truncates_and_closes(proxy,
                                                                           raw_upstream):
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"
    up = raw_upstream([answer_once_then(partial, lambda c: c.sock.close()),
                       rawupstream.answer_each_request])
    p = gate(proxy, up)
    with p.connect() as conn:
        conn.send_request("GET", "/short", HOST)
        resp = conn.read_head(timeout=5)
        with pytest.raises(httpraw.ConnectionClosedEarly):
            conn.read_body(resp, timeout=5)
    assert_clean_next_request(p, up, 1)


# ---- nothing, or nothing valid, before the status line ---------------------------------------
def close_after_request(conn):
    conn.read_request()


def test_close_before_status_line_retries_a_get_once_on_a_new_connection(proxy, raw_upstream):
    up = raw_upstream([close_after_request, rawupstream.answer_each_request])
    p = gate(proxy, up)
    resp = p.get("/idempotent", HOST, timeout=5)
    assert resp.status == 200 and resp.body == b"/idempotent", resp
    assert up.connection_count() == 2


def test_close_before_status_line_always_is_502_after_one_retry(proxy, raw_upstream):
    up = raw_upstream(close_after_request)
    p = gate(proxy, up)
    assert_proxy_status(p.get("/idempotent", HOST, timeout=5), 502)
    assert up.connection_count() == 2, "a GET is retried once, not more"


@pytest.mark.parametrize("method,body", [("POST", b"payload"), ("GET", b"payload"),
                                         ("DELETE", b"")])
def test_close_before_status_line_is_502_without_retry_when_unsafe(proxy, raw_upstream, method,
                                                                  body):
    """SPEC section 3: only GET/HEAD without a body are retried once bytes were sent."""
    up = raw_upstream([close_after_request, rawupstream.answer_each_request])
    p = gate(proxy, up)
    resp = p.request(method, "/unsafe", HOST, body=body, timeout=5)
    assert_proxy_status(resp, 502)
    assert stays_false(lambda: up.connection_count() > 1, 0.3), "an unsafe request was retried"


@pytest.mark.parametrize("status_line", [
    b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBroken header line\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
], ids=["not-http", "letters-in-status", "two-digit-status", "header-without-colon",
        "differing-content-lengths"])
def test_garbage_response_head_is_502_and_not_retried(proxy, raw_upstream, status_line):
    up = raw_upstream(answer_once_then(status_line))
    p = gate(proxy, up)
    assert_proxy_status(p.get("/garbage", HOST, timeout=5), 502)
    assert stays_false(lambda: up.connection_count() > 1, 0.3), "a garbage answer was retried"


# ---- interim responses -----------------------------------------------------------------------
INTERIM = (b"HTTP/1.1 100 Continue\r\n\r\n"
           b"HTTP/1.1 103 Early Hints\r\nLink: </web/assets/app.css>; rel=preload\r\n\r\n")
FINAL = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_upstream_100_is_dropped_and_103_passed_through(proxy, raw_upstream):
    up = raw_upstream(answer_once_then(INTERIM + FINAL))
    p = gate(proxy, up)
    with p.connect() as conn:
        resp = conn.request("GET", "/hints", HOST, timeout=5)
    assert resp.status == 200 and resp.body == b"ok", resp
    assert [i.status for i in resp.interim] == [103], "the client sent no Expect: no 100"
    assert resp.interim[0].header("Link") == "</web/assets/app.css>; rel=preload"


def test_interim_responses_with_expect_continue(proxy, raw_upstream):
    """The proxy answers Expect itself (one 100), the upstream's 100 is not repeated."""
    up = raw_upstream(answer_once_then(INTERIM + FINAL))
    p = gate(proxy, up)
    with p.connect() as conn:
        conn.send(f"POST /hints HTTP/1.1\r\nHost: {HOST}\r\nExpect: 100-continue\r\n"
                  f"Content-Length: 5\r\n\r\nhello".encode())
        resp = conn.read_response(timeout=5)
    assert resp.status == 200, resp
    assert [i.status for i in resp.interim] == [100, 103]


def test_no_interim_response_reaches_an_http10_client(proxy, raw_upstream):
    """RFC 9110 section 15.2: no 1xx to an HTTP/1.0 client."""
    up = raw_upstream(answer_once_then(INTERIM + FINAL))
    p = gate(proxy, up)
    with p.connect() as conn:
        conn.send(f"GET /hints HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
        resp = conn.read_response(timeout=5)
    assert resp.status == 200 and resp.interim == [], resp


# ---- responses that carry a body they must not have ------------------------------------------
SPLICE = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nspliced"


def bodiless_with_body(first_line: bytes):
    """A script: answers the first request with `first_line`, a Content-Length and, after the
    head and in a separate write, a whole extra response (the "body"); then answers normally."""
    def script(conn):
        if conn.read_request() is None:
            return
        conn.send(first_line + b"\r\nContent-Length: %d\r\n\r\n" % len(SPLICE))
        # The fault itself, not a wait for the proxy: the stray bytes come after the head has
        # been read, so the proxy cannot see them in its buffer when the response ends.
        time.sleep(0.05)
        conn.send(SPLICE)
        rawupstream.answer_each_request(conn)  # what a reused connection would answer
    return script


@pytest.mark.parametrize("method,first_line", [
    ("HEAD", b"HTTP/1.1 200 OK"),
    ("GET", b"HTTP/1.1 204 No Content"),
    ("GET", b"HTTP/1.1 304 Not Modified"),
], ids=["head", "204", "304"])
def test_bodiless_response_with_a_body_is_cut_and_the_upstream_not_reused(
        proxy, raw_upstream, method, first_line):
    up = raw_upstream([bodiless_with_body(first_line), rawupstream.answer_each_request])
    p = gate(proxy, up)
    with p.connect() as conn:
        first = conn.request(method, "/bodiless", HOST, timeout=5)
        assert first.status == int(first_line.split()[1]) and first.body == b"", first
        # The next request on the same client connection gets its own answer, never the bytes
        # the upstream sent after the bodiless response.
        second = conn.request("GET", "/after", HOST, timeout=5)
        assert second.status == 200 and second.body == b"/after", second
    assert up.connection_count() == 2, "the upstream connection was reused"
    poll(lambda: up.closed(0), 5, "the proxy to close the first upstream connection")


# ---- framing the proxy must not pass on as it came -------------------------------------------
def test_content_length_and_chunked_response_is_502(proxy, raw_upstream):
    """Both framings in one response: which one the upstream meant cannot be known, so it is
    refused (502) rather than guessed, and its connection is closed, not reused."""
    both = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n")
    up = raw_upstream([answer_once_then(both), rawupstream.answer_each_request])
    p = gate(proxy, up)
    with p.connect() as conn:
        assert_proxy_status(conn.request("GET", "/both", HOST, timeout=5), 502)
        second = conn.request("GET", "/after", HOST, timeout=5)
        assert second.status == 200 and second.body == b"/after", second
    poll(lambda: up.closed(0), 5, "the proxy to close the upstream connection")
    assert up.connection_count() == 2


def test_response_head_over_max_header_bytes_is_502(proxy, raw_upstream):
    big = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 9000 + b"\r\nContent-Length: 2\r\n\r\nok"
    up = raw_upstream(answer_once_then(big))
    p = gate(proxy, up)
    assert_proxy_status(p.get("/big-head", HOST, timeout=5), 502)


# ---- upstreams that never finish ---------------------------------------------------------------
def test_never_ending_chunked_response_is_cut_at_the_route_timeout(proxy, raw_upstream):
    """The route's timeout bounds each wait for upstream bytes: a response that stops in the
    middle is cut (no final chunk) and the client connection closed."""
    started = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    up = raw_upstream(answer_once_then(started))
    p = gate(proxy, up)
    with p.connect() as conn:
        t0 = time.monotonic()
        conn.send_request("GET", "/forever", HOST)
        resp = conn.read_head(timeout=5)
        assert resp.status == 200
        with pytest.raises(httpraw.ConnectionClosedEarly):
            conn.read_body(resp, timeout=8)
        elapsed = time.monotonic() - t0
    assert 0.8 <= elapsed <= 4, f"cut after {elapsed:.2f}s with upstream_response: 1s"
    poll(lambda: up.closed(0), 5, "the proxy to close the upstream connection")


def test_upstream_that_never_answers_is_504_at_the_route_timeout(proxy, raw_upstream):
    up = raw_upstream(lambda conn: (conn.read_request(), conn.wait_closed()))
    p = gate(proxy, up)
    t0 = time.monotonic()
    assert_proxy_status(p.get("/silent", HOST, timeout=10), 504)
    elapsed = time.monotonic() - t0
    assert 0.8 <= elapsed <= 3, f"504 after {elapsed:.2f}s with upstream_response: 1s"
    poll(lambda: up.closed(0), 5, "the proxy to close the silent upstream connection")
    assert up.connection_count() == 1, "a timed-out request is not retried"


# ---- an HTTP/1.0 client ------------------------------------------------------------------------
def test_chunked_response_reaches_an_http10_client_unchunked_and_closed(proxy, raw_upstream):
    """HTTP/1.0 has no chunked coding (RFC 9112 section 6.1): the body ends with the close."""
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    up = raw_upstream(answer_once_then(chunked))
    p = gate(proxy, up)
    with p.connect() as conn:
        conn.send(f"GET /old-client HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
        resp = conn.read_head(timeout=5)
        assert resp.header("Transfer-Encoding") is None, resp.headers
        assert conn.read_body(resp, timeout=5).body == b"hello"
