"""TLS listeners (SPEC sections 2 and 3): certificates chosen by SNI, the whole chain served,
TLS 1.2/1.3 only, ALPN http/1.1, X-Forwarded-Proto/HSTS/cookie hardening over TLS, redirect_https
on plain listeners, certificate hot reload (file change, SIGHUP, admin reload) that never cuts
established connections and keeps the old certificate when the new files are bad, WebSocket and
longpolling through TLS, and a 1 GiB download through TLS with bounded memory.

A throwaway PKI is made per test session with the openssl CLI (pki.py): root CA -> intermediate
CA -> leaves. Clients trust only the root.
"""

import json
import ssl
import time

import pytest
import websockets

import harness
import httpraw
import pki
import tgconfig
import wsutil
from harness import header_values, poll
from test_metrics import PREFIX, scrape, wait_metrics
from test_streaming import GIB, MIB, PatternChecker, assert_peak_rss_bounded

ERP = "erp.acme.com"
SHOP = "shop.acme.com"          # covered by the *.acme.com certificate
DEFAULT_NAME = "default.example"
RELOAD_BOUND = 30.0             # files polled every 5 s, applied once stable for one more poll
ADMIN_AUTH = [("Authorization", f"Bearer {harness.ADMIN_TOKEN}")]
FILE_RELOAD_FAILED = "certificate reload failed, the previous certificates keep serving"

# Certificate order in the listener's `certificates` list; the last one is the default.
CERT_ORDER = ("erp_rsa", "erp_ecdsa", "wildcard", "default")
DEFAULT_INDEX = CERT_ORDER.index("default")

# TLS 1.2 clients that can only take one key type: they pin which certificate of a name's
# RSA/ECDSA pair is served.
RSA_ONLY = dict(maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
ECDSA_ONLY = dict(maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")


# ---- TLS client helpers ----------------------------------------------------------------------
def client_context(cafile=None, *, minimum=None, maximum=None, ciphers=None,
                   alpn=None) -> ssl.SSLContext:
    """A client context. With cafile: verifies the chain against it alone, and the host name;
    without: accepts any certificate (to look at which one is served)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile=str(cafile))
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if alpn is not None:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def tls_conn(port: int, server_name: str | None, ctx: ssl.SSLContext | None = None,
             timeout: float = httpraw.DEFAULT_TIMEOUT) -> httpraw.HttpConn:
    """An httpraw connection whose socket has completed a TLS handshake (server_name=None:
    no SNI). Every httpraw read stays bounded: SSLSocket honours the same timeouts."""
    conn = httpraw.HttpConn(port, timeout=timeout)
    try:
        conn.sock = (ctx or client_context()).wrap_socket(conn.sock, server_hostname=server_name)
    except BaseException:
        conn.close()
        raise
    return conn


def tls_request(port: int, method: str, target: str, host: str, headers=(), body: bytes = b"",
                server_name: str | None = "", ctx=None) -> httpraw.Response:
    """One request on a fresh TLS connection; SNI defaults to the Host header's name."""
    with tls_conn(port, host if server_name == "" else server_name, ctx) as conn:
        return conn.request(method, target, host, headers, body)


def served(port: int, server_name: str | None, ctx=None) -> bytes:
    """DER of the leaf certificate presented for a fresh handshake."""
    with tls_conn(port, server_name, ctx) as conn:
        return conn.sock.getpeercert(binary_form=True)


def s_client(port: int, *args: str, timeout: float = 30.0):
    """`openssl s_client` against the listener (stdin empty: handshake, then quit)."""
    proc = pki.openssl("s_client", "-connect", f"127.0.0.1:{port}", *args, stdin=b"",
                       check=False, timeout=timeout)
    return proc.returncode, proc.stdout.decode(errors="replace") + proc.stderr.decode(
        errors="replace")


# ---- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def ca(tmp_path_factory) -> pki.CA:
    return pki.CA(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def leaves(ca) -> dict:
    return {
        "erp_rsa": ca.issue("erp-rsa", [ERP], "rsa"),
        "erp_ecdsa": ca.issue("erp-ecdsa", [ERP], "ecdsa"),
        "wildcard": ca.issue("wildcard", ["*.acme.com"], "ecdsa"),
        "default": ca.issue("default", [DEFAULT_NAME], "rsa"),
    }


class TlsGateway:
    """A proxy with a plain listener "http" and a TLS listener "https" (the four certificates
    of `leaves`, written into this test's own directory) in front of one fake upstream; tenant
    acme serves erp.acme.com and *.acme.com."""

    def __init__(self, proxy, up, ca, leaves, certdir, config_text, binary):
        self.up, self.ca, self.leaves, self.certdir = up, ca, leaves, certdir
        self.config_text = config_text
        self.proxy = proxy(config_text, binary=binary)

    def paths(self, label: str):
        return self.certdir / f"{label}.pem", self.certdir / f"{label}.key"

    def port(self, listener: str = "https") -> int:
        return self.proxy.port(listener)

    def name_of(self, der: bytes) -> str:
        """Which known leaf a served certificate is (for readable assertion messages)."""
        for label, leaf in self.leaves.items():
            if leaf.der == der:
                return label
        return f"unknown certificate ({pki.describe_der(der)})"


@pytest.fixture
def tls_gateway(upstream, proxy, tmp_path, ca, leaves):
    """Factory: tls_gateway(tls_options=None, extra_listeners=(), binary=None, **render_kwargs).
    extra_listeners: dicts; a "tls" key in one is merged over the https listener's tls block."""

    def start(tls_options: dict | None = None, extra_listeners=(), binary: str | None = None,
              **render_kwargs) -> TlsGateway:
        certdir = tmp_path / "certs"
        certdir.mkdir(exist_ok=True)
        for label, leaf in leaves.items():
            leaf.write_to(certdir / f"{label}.pem", certdir / f"{label}.key")
        tls = {
            "certificates": [{"cert": str(certdir / f"{label}.pem"),
                              "key": str(certdir / f"{label}.key")} for label in CERT_ORDER],
            "default_certificate": DEFAULT_INDEX,
            **(tls_options or {}),
        }
        listeners = [{"name": "http", "address": "127.0.0.1:0"},
                     {"name": "https", "address": "127.0.0.1:0", "tls": tls}]
        for extra in extra_listeners:
            extra = dict(extra, address="127.0.0.1:0")
            if "tls" in extra:
                extra["tls"] = {**tls, **extra["tls"]}
            listeners.append(extra)
        up = upstream("alpha")
        text = tgconfig.render({"alpha": tgconfig.pool(up)},
                               {"acme": {"hosts": [ERP, "*.acme.com"], "pool": "alpha"}},
                               listeners=listeners, **render_kwargs)
        return TlsGateway(proxy, up, ca, leaves, certdir, text, binary)

    return start


# ---- 1. certificate selection by SNI, whole chain ------------------------------------------
def test_sni_exact_name_gets_its_certificate_of_the_client_key_type(tls_gateway):
    g = tls_gateway()
    port = g.port()
    erp_pair = {g.leaves["erp_rsa"].der, g.leaves["erp_ecdsa"].der}
    got = served(port, ERP)
    assert got in erp_pair, f"SNI {ERP} got {g.name_of(got)}"
    got = served(port, ERP, client_context(**RSA_ONLY))
    assert got == g.leaves["erp_rsa"].der, f"RSA-only client got {g.name_of(got)}"
    got = served(port, ERP, client_context(**ECDSA_ONLY))
    assert got == g.leaves["erp_ecdsa"].der, f"ECDSA-only client got {g.name_of(got)}"
    # SNI is case-insensitive (RFC 6066 section 3): openssl sends the name exactly as given.
    rc, out = s_client(port, "-servername", "ERP.Acme.COM")
    assert rc == 0, out
    der = pki.first_pem_der(out[out.index("-----BEGIN CERTIFICATE-----"):])
    assert der in erp_pair, f"SNI ERP.Acme.COM got {g.name_of(der)}"


def test_sni_wildcard_covers_exactly_one_label(tls_gateway):
    g = tls_gateway()
    port = g.port()
    for name in (SHOP, "x-1.acme.com"):
        got = served(port, name)
        assert got == g.leaves["wildcard"].der, f"SNI {name} got {g.name_of(got)}"
    # "*.acme.com" matches neither the bare domain nor two labels: the default is served.
    for name in ("acme.com", "a.shop.acme.com"):
        got = served(port, name)
        assert got == g.leaves["default"].der, f"SNI {name} got {g.name_of(got)}"
    # The exact name still beats the wildcard that also covers it.
    assert served(port, ERP, client_context(**ECDSA_ONLY)) == g.leaves["erp_ecdsa"].der


def test_unknown_name_and_no_sni_get_the_default_certificate(tls_gateway):
    g = tls_gateway()
    port = g.port()
    for name in ("unknown.example", "globex.erp.example.com", None):
        got = served(port, name)
        assert got == g.leaves["default"].der, f"SNI {name!r} got {g.name_of(got)}"
    # The default does not hijack its own name.
    assert served(port, DEFAULT_NAME) == g.leaves["default"].der


def test_whole_chain_served_and_verifies_against_the_root_alone(tls_gateway):
    g = tls_gateway()
    port = g.port()
    root = g.ca.root_pem
    cases = [(ERP, {}, "erp_ecdsa"), (ERP, RSA_ONLY, "erp_rsa"),
             (SHOP, {}, "wildcard"), (DEFAULT_NAME, {}, "default")]
    for name, options, label in cases:
        # The intermediate is not a trust anchor: verification succeeds only if it was sent.
        ctx = client_context(root, **options)
        with tls_conn(port, name, ctx) as conn:
            cert = conn.sock.getpeercert()
            if label != "erp_ecdsa":  # the key type of a plain client's erp cert is OpenSSL's pick
                assert conn.sock.getpeercert(True) == g.leaves[label].der, (name, options)
            sans = [v for k, v in cert["subjectAltName"] if k == "DNS"]
            assert sans == list(g.leaves[label].names), cert
            resp = conn.request("GET", "/echo/chain", name)
            assert resp.status == (404 if name == DEFAULT_NAME else 200), resp  # no tenant there
    rc, out = s_client(port, "-servername", ERP, "-showcerts", "-CAfile", str(root),
                       "-verify_hostname", ERP, "-verify_return_error")
    assert rc == 0, out
    assert out.count("-----BEGIN CERTIFICATE-----") == 2, f"expected leaf + intermediate:\n{out}"
    assert "Verify return code: 0 (ok)" in out, out
    assert "tenantgate test intermediate CA" in out, out


# ---- 2. protocol versions, ALPN --------------------------------------------------------------
def test_tls10_and_tls11_refused_with_protocol_version_alert(tls_gateway):
    g = tls_gateway()
    port = g.port()
    for flag in ("-tls1", "-tls1_1"):
        # SECLEVEL=0 lets this client actually offer the old version (OpenSSL 3 refuses it
        # locally otherwise); the alert must come from the server.
        rc, out = s_client(port, "-servername", ERP, flag, "-cipher", "DEFAULT@SECLEVEL=0")
        assert rc != 0, f"{flag} handshake succeeded:\n{out}"
        assert "alert protocol version" in out, f"{flag}: no protocol_version alert:\n{out}"
    rc, out = s_client(port, "-servername", ERP, "-tls1_2")
    assert rc == 0 and "TLSv1.2" in out, out
    wait_metrics(g.proxy, [(PREFIX + "tls_handshake_failures_total",
                            {"listener": "https", "reason": "unsupported_protocol"}, 2)],
                 what="handshake failures counted")
    assert g.proxy.alive()


def test_min_version_13_listener_refuses_tls12(tls_gateway):
    g = tls_gateway(extra_listeners=[{"name": "tls13", "tls": {"min_version": "1.3"}}])
    strict, normal = g.port("tls13"), g.port("https")
    with pytest.raises(ssl.SSLError) as refused:
        served(strict, ERP, client_context(maximum=ssl.TLSVersion.TLSv1_2))
    assert "PROTOCOL_VERSION" in str(refused.value).upper(), refused.value
    with tls_conn(strict, ERP, client_context(minimum=ssl.TLSVersion.TLSv1_3)) as conn:
        assert conn.sock.version() == "TLSv1.3"
        assert conn.request("GET", "/echo/tls13", ERP).status == 200
    # The default listener (min_version 1.2) takes both.
    with tls_conn(normal, ERP, client_context(maximum=ssl.TLSVersion.TLSv1_2)) as conn:
        assert conn.sock.version() == "TLSv1.2"
        assert conn.request("GET", "/echo/tls12", ERP).status == 200
    with tls_conn(normal, ERP) as conn:
        assert conn.sock.version() == "TLSv1.3"
    wait_metrics(g.proxy, [(PREFIX + "tls_handshake_failures_total",
                            {"listener": "tls13", "reason": "unsupported_protocol"}, 1),
                           (PREFIX + "tls_handshake_failures_total", {"listener": "https"}, 0)],
                 what="the refused TLS 1.2 handshake counted on listener tls13 only")


def test_alpn_selects_http11(tls_gateway):
    g = tls_gateway()
    with tls_conn(g.port(), ERP, client_context(alpn=["h2", "http/1.1"])) as conn:
        assert conn.sock.selected_alpn_protocol() == "http/1.1"
        resp = conn.request("GET", "/echo/alpn", ERP)
        assert resp.status == 200 and resp.version == "HTTP/1.1", resp
    with tls_conn(g.port(), ERP) as conn:  # no ALPN offered: HTTP/1.1 all the same
        assert conn.sock.selected_alpn_protocol() is None
        assert conn.request("GET", "/echo/no-alpn", ERP).status == 200


# ---- 3. headers over TLS, redirect_https ----------------------------------------------------
def test_host_header_picks_the_tenant_whatever_the_sni(tls_gateway):
    """SPEC section 3: over HTTP/1.1 the Host header routes, even when SNI chose another
    certificate (no 421)."""
    g = tls_gateway()
    for server_name in (DEFAULT_NAME, SHOP, "unknown.example", None):
        resp = tls_request(g.port(), "GET", "/echo/sni-mismatch", ERP, server_name=server_name)
        assert resp.status == 200, (server_name, resp)
        assert header_values(resp.json(), "X-Tenant") == ["acme"], server_name


def test_forwarded_proto_https_and_hsts_default(tls_gateway):
    g = tls_gateway()
    resp = tls_request(g.port(), "GET", "/echo/proto", ERP,
                       headers=[("X-Forwarded-Proto", "http")])  # a spoof from an untrusted peer
    assert resp.status == 200, resp
    echo = resp.json()
    assert header_values(echo, "X-Forwarded-Proto") == ["https"], echo["headers"]
    assert header_values(echo, "X-Forwarded-Host") == [ERP], echo["headers"]
    assert resp.header_values("Strict-Transport-Security") == ["max-age=31536000"], resp
    # Responses the proxy makes itself carry it too.
    resp = tls_request(g.port(), "GET", "/", "nobody.example.net", server_name=ERP)
    harness.assert_proxy_status(resp, 404)
    assert resp.header_values("Strict-Transport-Security") == ["max-age=31536000"], resp
    # Never over plain HTTP (RFC 6797 section 7.2), and there the proto is http.
    resp = g.proxy.get("/echo/plain", ERP)
    assert resp.status == 200, resp
    assert header_values(resp.json(), "X-Forwarded-Proto") == ["http"]
    assert resp.header("Strict-Transport-Security") is None, resp


def test_hsts_max_age_configured_and_disabled(tls_gateway):
    g = tls_gateway({"hsts": 600}, extra_listeners=[{"name": "nohsts", "tls": {"hsts": 0}}])
    for listener, expected in (("https", ["max-age=600"]), ("nohsts", [])):
        for host, status in ((ERP, 200), ("nobody.example.net", 404)):
            resp = tls_request(g.port(listener), "GET", "/echo/hsts", host, server_name=ERP)
            assert resp.status == status, resp
            assert resp.header_values("Strict-Transport-Security") == expected, (listener, resp)


def test_odoo_session_cookie_hardened_over_tls_only(tls_gateway):
    g = tls_gateway()
    resp = tls_request(g.port(), "GET", "/set-cookie", ERP)
    assert resp.status == 200, resp
    assert resp.header_values("Set-Cookie") == [
        "session_id=abc123; Path=/; HttpOnly; Secure; SameSite=Lax", "other=1"], resp
    resp = g.proxy.get("/set-cookie", ERP)
    assert resp.header_values("Set-Cookie") == ["session_id=abc123; Path=/; HttpOnly",
                                                "other=1"], resp


def test_redirect_https_308_except_acme_challenges(tls_gateway):
    g = tls_gateway(extra_listeners=[{"name": "redirect", "redirect_https": True}])
    port = g.port("redirect")
    target = "/web/login?db=acme&redirect=%2Fodoo%2Faction-42%3Fx%3D1"
    with httpraw.HttpConn(port) as conn:
        resp = conn.request("GET", target, f"{ERP}:8080")
        harness.assert_proxy_status(resp, 308)
        assert resp.header_values("Location") == [f"https://{ERP}{target}"], resp
        assert resp.header("Strict-Transport-Security") is None, resp
        # The connection stays usable; other methods are redirected as well (308 keeps them).
        resp = conn.request("POST", "/web/dataset/call_kw", SHOP, body=b'{"a":1}')
        harness.assert_proxy_status(resp, 308)
        assert resp.header_values("Location") == [f"https://{SHOP}/web/dataset/call_kw"], resp
    assert not any("/web/login" in t or "call_kw" in t for t in g.up.targets()), \
        "a redirected request reached the upstream"
    challenge = "/.well-known/acme-challenge/Tok-en_123"
    resp = g.proxy.request("GET", challenge, f"{ERP}:8080", listener="redirect")
    assert resp.status == 200, resp
    echo = resp.json()
    assert echo["target"] == challenge and echo["worker"] == "web", echo
    assert header_values(echo, "X-Forwarded-Proto") == ["http"]
    # A listener without redirect_https serves plain HTTP as usual.
    assert g.proxy.get("/echo/plain", ERP).status == 200


def test_redirect_https_absolute_form_target(tls_gateway):
    """RFC 9112 section 3.2.2: a server must accept the absolute-form; its path and query are
    what the redirect must keep, and its authority is the host."""
    g = tls_gateway(extra_listeners=[{"name": "redirect", "redirect_https": True}])
    with httpraw.HttpConn(g.port("redirect")) as conn:
        conn.send(b"GET http://erp.acme.com:8080/web?x=1 HTTP/1.1\r\nHost: erp.acme.com:8080\r\n\r\n")
        resp = conn.read_response()
        harness.assert_proxy_status(resp, 308)
        assert resp.header_values("Location") == ["https://erp.acme.com/web?x=1"], resp
        challenge = "/.well-known/acme-challenge/abs-form"
        conn.send(f"GET http://erp.acme.com{challenge} HTTP/1.1\r\nHost: erp.acme.com\r\n\r\n"
                  .encode())
        resp = conn.read_response()
        assert resp.status == 200 and resp.json()["target"] == challenge, resp


# ---- 4. certificate reload -------------------------------------------------------------------
def open_keepalive(g: TlsGateway, marker: str) -> httpraw.HttpConn:
    conn = tls_conn(g.port(), SHOP, timeout=15)
    resp = conn.request("GET", f"/echo/{marker}-before", SHOP)
    assert resp.status == 200, resp
    return conn


def assert_still_serves(conn: httpraw.HttpConn, marker: str, old_der: bytes) -> None:
    """The connection opened before the reload keeps its session and keeps working."""
    assert conn.sock.getpeercert(True) == old_der
    resp = conn.request("GET", f"/echo/{marker}-after", SHOP)
    assert resp.status == 200, resp
    assert resp.json()["target"] == f"/echo/{marker}-after"


def expiry_of(g: TlsGateway, label: str) -> list:
    cert_path = str(g.paths(label)[0])
    return [v for _, v in scrape(g.proxy).series(
        PREFIX + "tls_certificate_expiry_timestamp_seconds", cert=cert_path)]


def test_renewed_files_are_picked_up_without_cutting_connections(tls_gateway):
    g = tls_gateway(timeouts={"client_idle": "90s"})
    old = g.leaves["wildcard"]
    assert served(g.port(), SHOP) == old.der
    assert expiry_of(g, "wildcard") == [float(old.not_after)]
    conn = open_keepalive(g, "file")
    with conn:
        renewed = g.ca.issue("wildcard-renewed", ["*.acme.com"], "ecdsa", days=120)
        assert renewed.serial != old.serial and renewed.not_after != old.not_after
        started = time.monotonic()
        renewed.write_to(*g.paths("wildcard"))  # rewritten in place, as cert-manager does
        poll(lambda: served(g.port(), SHOP) == renewed.der, RELOAD_BOUND,
             "new handshakes to get the renewed certificate", interval=0.5)
        print(f"renewed certificate served {time.monotonic() - started:.1f}s after the write")
        assert_still_serves(conn, "file", old.der)
    poll(lambda: any(l.get("msg") == "certificates reloaded" for l in g.proxy.ops_log_lines()),
         5, "a 'certificates reloaded' ops log line")
    poll(lambda: expiry_of(g, "wildcard") == [float(renewed.not_after)], 5,
         "the expiry metric to follow the renewed certificate", interval=0.2)
    # The other certificates are untouched.
    assert served(g.port(), ERP, client_context(**RSA_ONLY)) == g.leaves["erp_rsa"].der
    assert served(g.port(), None) == g.leaves["default"].der


def test_sighup_and_admin_reload_reread_certificates_at_once(tls_gateway):
    g = tls_gateway(timeouts={"client_idle": "90s"})
    old = g.leaves["wildcard"]
    conn = open_keepalive(g, "hup")
    with conn:
        renewed = g.ca.issue("wildcard-hup", ["*.acme.com"], "ecdsa", days=100)
        renewed.write_to(*g.paths("wildcard"), atomic=True)  # rename, as a secret volume swap
        g.proxy.reload_ok(g.config_text)
        # No waiting for the file poll: the reload itself re-read the files.
        got = served(g.port(), SHOP)
        assert got == renewed.der, f"after SIGHUP: {pki.describe_der(got)}"
        assert_still_serves(conn, "hup", old.der)

        again = g.ca.issue("wildcard-admin", ["*.acme.com"], "ecdsa", days=110)
        again.write_to(*g.paths("wildcard"))
        resp = g.proxy.admin_request("POST", "/api/v1/reload", ADMIN_AUTH)
        assert resp.status == 200, resp
        got = served(g.port(), SHOP)
        assert got == again.der, f"after POST /api/v1/reload: {pki.describe_der(got)}"
        resp = conn.request("GET", "/echo/hup-after-admin", SHOP)
        assert resp.status == 200, resp
    poll(lambda: expiry_of(g, "wildcard") == [float(again.not_after)], 5,
         "the expiry metric to follow the reloaded certificate", interval=0.2)


def test_wrong_key_is_rejected_and_the_old_certificate_keeps_serving(tls_gateway, tmp_path):
    g = tls_gateway(timeouts={"client_idle": "90s"})
    old = g.leaves["wildcard"]
    cert_path, key_path = g.paths("wildcard")
    conn = open_keepalive(g, "bad")
    with conn:
        renewed = g.ca.issue("wildcard-next", ["*.acme.com"], "ecdsa", days=150)
        stranger = g.ca.issue("stranger", ["*.acme.com"], "ecdsa")  # same type, other key
        seen = len(g.proxy.ops_log_lines())
        cert_path.write_bytes(renewed.chain_pem)
        key_path.write_bytes(stranger.key_pem)

        def failure_logged():
            return next((l for l in g.proxy.ops_log_lines()[seen:]
                         if l.get("msg") == FILE_RELOAD_FAILED), None)

        line = poll(failure_logged, RELOAD_BOUND, f"a {FILE_RELOAD_FAILED!r} ops log line",
                    interval=0.5)
        assert line.get("level") == "error", line
        assert any(str(cert_path) in e or str(key_path) in e for e in line.get("errors", [])), line
        assert served(g.port(), SHOP) == old.der
        assert_still_serves(conn, "bad-file", old.der)

        outcome = g.proxy.reload(g.config_text)  # SIGHUP with the same bad files
        assert outcome["msg"] == "config reload failed" and outcome.get("level") == "error", outcome
        assert any(str(cert_path) in e or str(key_path) in e for e in outcome["errors"]), outcome
        resp = g.proxy.admin_request("POST", "/api/v1/reload", ADMIN_AUTH)
        assert resp.status == 400, resp
        assert served(g.port(), SHOP) == old.der
        assert_still_serves(conn, "bad-hup", old.der)
        assert g.proxy.alive()

        # Once the key matches, the file watch applies the renewal.
        key_path.write_bytes(renewed.key_pem)
        poll(lambda: served(g.port(), SHOP) == renewed.der, RELOAD_BOUND,
             "the repaired certificate to be served", interval=0.5)
        assert_still_serves(conn, "repaired", old.der)


# ---- 5. long-lived routes through TLS --------------------------------------------------------
def test_websocket_and_longpolling_through_tls(tls_gateway):
    g = tls_gateway()
    big = bytes(range(256)) * 4096  # 1 MiB

    async def scenario():
        ctx = client_context(g.ca.root_pem)
        async with websockets.connect(
                f"wss://{ERP}/websocket", host="127.0.0.1", port=g.port(), ssl=ctx,
                server_hostname=ERP, origin=f"https://{ERP}", max_size=wsutil.MAX_MESSAGE,
                open_timeout=10, close_timeout=5) as ws:
            assert await wsutil.echo_roundtrip(ws, "hello odoo bus") == "hello odoo bus"
            assert await wsutil.echo_roundtrip(ws, big) == big
            handshake = json.loads(await wsutil.echo_roundtrip(ws, "__handshake__"))
            await ws.ping()
            return handshake

    echo = wsutil.run(scenario())
    assert echo["worker"] == "longpolling", echo
    assert header_values(echo, "X-Forwarded-Proto") == ["https"], echo["headers"]
    assert header_values(echo, "Origin") == [f"https://{ERP}"]

    with tls_conn(g.port(), ERP, client_context(g.ca.root_pem)) as conn:
        started = time.monotonic()
        resp = conn.request("GET", "/longpolling/poll?ms=100", ERP)
        assert resp.status == 200, resp
        assert time.monotonic() - started >= 0.1
        assert resp.json()["worker"] == "longpolling"
        assert header_values(resp.json(), "X-Forwarded-Proto") == ["https"]
        # The same TLS connection goes on to the web route.
        assert conn.request("GET", "/echo/after-poll", ERP).json()["worker"] == "web"


# ---- 6. memory ---------------------------------------------------------------------------------
@pytest.mark.release
def test_download_1gib_through_tls_with_bounded_memory(tls_gateway, release_bin):
    g = tls_gateway(binary=release_bin, workers=2)
    checker = PatternChecker(pause_after=16 * MIB, pause=1.5)  # a slow reader for a while
    with tls_conn(g.port(), ERP, client_context(g.ca.root_pem), timeout=30) as conn:
        conn.send_request("GET", f"/stream?bytes={GIB}", ERP)
        started = time.monotonic()
        resp = conn.read_response(timeout=100, sink=checker)
        print(f"1 GiB through TLS in {time.monotonic() - started:.1f}s")
    assert resp.status == 200, resp
    assert resp.body_length == GIB, f"received {resp.body_length} of {GIB} bytes"
    assert checker.mismatch_at is None, f"body corrupted at offset {checker.mismatch_at}"
    print(f"tenantgate VmHWM {harness.vm_hwm_kib(g.proxy.pid) / 1024:.1f} MiB")
    assert_peak_rss_bounded(g.proxy)
