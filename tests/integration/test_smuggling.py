"""Request smuggling defences (SPEC section 3: 400 and connection closed). Raw sockets; each
case also checks that the smuggled request never reached the upstream."""

import uuid

import pytest

import httpraw
from harness import assert_proxy_status, stays_false

HOST = "erp.acme.com"


def head(target: str, *lines: str, request_line: str | None = None) -> bytes:
    first = request_line or f"POST {target} HTTP/1.1"
    return ("\r\n".join([first, f"Host: {HOST}", *lines]) + "\r\n\r\n").encode()


# name -> (builder(outer, smuggled_request) -> raw bytes, outer head may reach upstream)
# The outer head may legitimately be forwarded (bodies stream) only when the framing error is
# inside the body.
CASES = {
    "content-length-and-transfer-encoding": (lambda o, s: head(
        o, "Content-Length: 4", "Transfer-Encoding: chunked") + b"0\r\n\r\n" + s, False),
    "transfer-encoding-and-content-length": (lambda o, s: head(
        o, "Transfer-Encoding: chunked", "Content-Length: 40") + b"0\r\n\r\n" + s, False),
    "differing-duplicate-content-length": (lambda o, s: head(
        o, "Content-Length: 5", "Content-Length: 6") + b"hello" + s, False),
    "differing-content-length-list": (lambda o, s: head(
        o, "Content-Length: 5, 6") + b"hello" + s, False),
    "negative-content-length": (lambda o, s: head(o, "Content-Length: -1") + s, False),
    "bad-chunk-size": (lambda o, s: head(
        o, "Transfer-Encoding: chunked") + b"zz\r\nhello\r\n0\r\n\r\n" + s, True),
    "chunk-size-overflow": (lambda o, s: head(
        o, "Transfer-Encoding: chunked") + b"10000000000000005\r\nhello\r\n0\r\n\r\n" + s, True),
    "chunk-data-without-crlf": (lambda o, s: head(
        o, "Transfer-Encoding: chunked") + b"5\r\nhelloXX0\r\n\r\n" + s, True),
    "obs-fold-header": (lambda o, s: head(
        o, "Content-Length: 0", "X-Folded: a", " b") + s, False),
    "bare-lf-in-request-line": (lambda o, s: f"GET {o} HTTP/1.1\nHost: {HOST}\r\n\r\n".encode()
                                + s, False),
    "space-in-header-name": (lambda o, s: head(o, "Content-Length: 0", "Bad Name: x") + s, False),
    "paren-in-header-name": (lambda o, s: head(o, "Content-Length: 0", "X(: y") + s, False),
    "space-before-colon-transfer-encoding": (lambda o, s: head(
        o, "Content-Length: 4", "Transfer-Encoding : chunked") + b"0\r\n\r\n" + s, False),
    "transfer-encoding-gzip": (lambda o, s: head(o, "Transfer-Encoding: gzip") + s, False),
    "transfer-encoding-chunked-not-final": (lambda o, s: head(
        o, "Transfer-Encoding: chunked, gzip") + b"0\r\n\r\n" + s, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_smuggling_attempt_is_400_closed_and_not_forwarded(gateway, case):
    g = gateway()
    build, outer_may_reach = CASES[case]
    tag = uuid.uuid4().hex
    outer, smuggled = f"/outer-{tag}", f"/smuggled-{tag}"
    raw = build(outer, f"GET {smuggled} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    resp, closed = httpraw.exchange(g.port, raw)
    assert_proxy_status(resp, 400)
    assert closed, "connection not closed after a 400"

    def reached(marker):
        return g.up.received(marker, "web") or g.up.received(marker, "longpolling")

    assert stays_false(lambda: reached(smuggled), 0.3), "the smuggled request reached Odoo"
    if not outer_may_reach:
        assert not reached(outer), "a request rejected at its head reached Odoo"


def test_identical_duplicate_content_length_is_accepted(gateway):
    g = gateway()
    with g.proxy.connect() as conn:
        conn.send(head("/echo/dup-cl", "Content-Length: 5", "Content-Length: 5") + b"hello")
        resp = conn.read_response()
        assert resp.status == 200, resp
        assert resp.json()["body_length"] == 5
        # The connection stays in sync: the next request is parsed where the body ended.
        assert conn.request("GET", "/echo/next", HOST).json()["target"] == "/echo/next"
