"""SPEC section 3, headers sent upstream and hop-by-hop handling, checked on what the upstream
actually received."""

import uuid

from harness import REQUEST_ID_RE, header_values

SPOOFED = [
    ("X-Forwarded-For", "1.2.3.4"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.example.net"),
    ("X-Real-IP", "6.6.6.6"),
    ("X-Tenant", "someone-else"),
    ("X-Odoo-dbfilter", "^.*$"),
]


def test_forwarded_headers_from_untrusted_peer_are_replaced(gateway):
    g = gateway(trusted_proxies=[])
    echo = g.echo(headers=SPOOFED)
    assert header_values(echo, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(echo, "X-Forwarded-Proto") == ["http"]
    assert header_values(echo, "X-Forwarded-Host") == [g.host]
    assert header_values(echo, "X-Real-IP") == ["127.0.0.1"]
    assert header_values(echo, "X-Tenant") == ["acme"]
    # dbfilter is off for this tenant: a client-sent one must not reach Odoo either.
    assert header_values(echo, "X-Odoo-dbfilter") == []


def test_forwarded_for_from_trusted_peer_is_extended(gateway):
    g = gateway(trusted_proxies=["127.0.0.0/8"])
    echo = g.echo(headers=[("X-Forwarded-For", "1.2.3.4")])
    assert header_values(echo, "X-Forwarded-For") == ["1.2.3.4, 127.0.0.1"]
    # Without a client XFF, the peer alone.
    assert header_values(g.echo(), "X-Forwarded-For") == ["127.0.0.1"]


def test_forwarded_host_is_the_host_header_as_sent(gateway):
    g = gateway()
    for host in ("erp.acme.com:8080", "ERP.acme.com", "erp.acme.com"):
        resp = g.proxy.get("/echo", host)
        assert resp.status == 200, (host, resp)
        assert header_values(resp.json(), "X-Forwarded-Host") == [host]


def test_request_id_kept_replaced_or_generated(gateway):
    g = gateway()
    valid = str(uuid.uuid4())
    resp = g.get("/echo", [("X-Request-Id", valid)])
    assert resp.header("X-Request-Id") == valid
    assert header_values(resp.json(), "X-Request-Id") == [valid]

    for sent in ([("X-Request-Id", "bad id!")], []):
        resp = g.get("/echo", sent)
        rid = resp.header("X-Request-Id")
        assert rid and REQUEST_ID_RE.fullmatch(rid), f"sent {sent}: response X-Request-Id {rid!r}"
        assert header_values(resp.json(), "X-Request-Id") == [rid]

    ids = {g.get("/echo").header("X-Request-Id") for _ in range(5)}
    assert len(ids) == 5, "generated request ids repeat"


def test_dbfilter_header_when_enabled(gateway):
    g = gateway({"odoo_dbfilter_header": True})
    echo = g.echo(headers=[("X-Odoo-dbfilter", "^.*$")])
    assert header_values(echo, "X-Odoo-dbfilter") == ["^acme$"]


def test_hop_by_hop_request_headers_removed(gateway):
    g = gateway()
    echo = g.echo(headers=[
        ("Connection", "X-Foo, keep-alive"),
        ("X-Foo", "secret"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Proxy-Connection", "keep-alive"),
        ("X-End-To-End", "kept"),
    ])
    for name in ("X-Foo", "Keep-Alive", "TE", "Proxy-Connection"):
        assert header_values(echo, name) == [], f"{name} reached the upstream: {echo['headers']}"
    for value in header_values(echo, "Connection"):
        assert "x-foo" not in value.lower(), f"client Connection tokens forwarded: {value!r}"
    assert header_values(echo, "X-End-To-End") == ["kept"]


def test_hop_by_hop_response_headers_removed(gateway):
    g = gateway()
    resp = g.get("/hop")
    assert resp.status == 200, resp
    for name in ("X-Secret", "Keep-Alive", "Proxy-Connection"):
        assert resp.header(name) is None, f"{name} reached the client: {resp.headers}"
    for value in resp.header_values("Connection"):
        assert "x-secret" not in value.lower()
    assert resp.header("X-Kept") == "1"
    assert resp.header("X-Request-Id")


def test_non_websocket_upgrade_is_not_forwarded(gateway):
    """h2c upgrade smuggling: Upgrade is hop-by-hop unless it is a WebSocket upgrade."""
    g = gateway()
    resp = g.get("/echo/h2c", [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                               ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")])
    assert resp.status != 101, resp
    if resp.status == 200:
        echo = resp.json()
        assert header_values(echo, "Upgrade") == [], echo["headers"]
        assert header_values(echo, "HTTP2-Settings") == [], echo["headers"]
    else:
        assert 400 <= resp.status < 500, resp
        assert not g.up.received("/echo/h2c")


def test_multiple_set_cookie_headers_pass_unmerged(gateway):
    g = gateway()
    cookies = g.get("/set-cookie").header_values("Set-Cookie")
    assert len(cookies) == 2, cookies
    assert cookies[0].startswith("session_id=abc123") and "HttpOnly" in cookies[0]
    assert cookies[1].startswith("other=1")


def test_repeated_identical_length_reaches_the_upstream_once(gateway):
    """RFC 9112 §6.3 lets `Content-Length: 5, 5` through; the upstream gets one plain length."""
    g = gateway()
    for lengths in ([("Content-Length", "5, 5")],
                    [("Content-Length", "5"), ("Content-Length", "5")]):
        with g.proxy.connect() as conn:
            resp = conn.request("POST", "/echo/length", g.host, lengths, b"hello")
            assert resp.status == 200, (lengths, resp)
            echo = resp.json()
            assert header_values(echo, "Content-Length") == ["5"], (lengths, echo["headers"])
            assert echo["body_length"] == 5
            # The connection stays in step: the next request on it is read where it starts.
            again = conn.request("GET", "/echo/next", g.host)
            assert again.status == 200 and again.json()["target"] == "/echo/next", again
    # A normal request is untouched.
    echo = g.echo("/echo/plain", method="POST", body=b"abc")
    assert header_values(echo, "Content-Length") == ["3"]


def test_client_forwarded_header_from_untrusted_peer_is_dropped(gateway):
    g = gateway(trusted_proxies=[])
    echo = g.echo(headers=[("Forwarded", "for=6.6.6.6;proto=https;host=evil.example")])
    assert header_values(echo, "Forwarded") == [], echo["headers"]


def test_forwarded_from_trusted_proxy_gets_this_hop_appended(gateway):
    g = gateway(trusted_proxies=["127.0.0.0/8"])
    echo = g.echo(headers=[("Forwarded", "for=198.51.100.7;proto=https")])
    assert header_values(echo, "Forwarded") == [
        "for=198.51.100.7;proto=https", f'for=127.0.0.1;proto=http;host="{g.host}"'], echo
    # A trusted proxy that sent none: none is made up.
    assert header_values(g.echo(), "Forwarded") == []


def test_underscore_header_names_never_reach_the_upstream(gateway):
    """WSGI folds X_Real_IP and X-Real-IP into one environ key: a client must not shadow the
    values tenantgate asserts (nginx's underscores_in_headers off)."""
    for trusted in ([], ["127.0.0.0/8"]):
        g = gateway(trusted_proxies=trusted)
        echo = g.echo(headers=[("X_Forwarded_For", "6.6.6.6"), ("x_forwarded_host", "evil.example"),
                               ("X_FORWARDED_PROTO", "https"), ("X_Real_IP", "6.6.6.6"),
                               ("X_Tenant", "globex"), ("X_Odoo_dbfilter", ".*"),
                               ("My_Header", "1"), ("X-Normal", "kept")])
        names = [name for name, _ in echo["headers"]]
        assert not [n for n in names if "_" in n], (trusted, names)
        assert header_values(echo, "X-Normal") == ["kept"]
        assert header_values(echo, "X-Real-IP") == ["127.0.0.1"]
        assert header_values(echo, "X-Tenant") == ["acme"]
