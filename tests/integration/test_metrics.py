"""Prometheus metrics on the admin listener's /metrics (SPEC section 7): exact request counts and
histograms, live gauges, upstream errors, reload counters, `promtool check metrics`, and a real
Prometheus server scraping the proxy."""

import json
import math
import re
import os
import subprocess
import urllib.parse

import pytest

import harness
import httpraw
import tgconfig
import wsutil
from harness import poll

PREFIX = "tenantgate_"
UNKNOWN_HOST = "nobody.example.net"
PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
INSTALL_HINT = "apt-get install -y --no-install-recommends prometheus (docker/install-deps.sh test)"

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?")
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(?:,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class Metrics:
    """A parsed text-format (0.0.4) exposition: samples and # TYPE lines."""

    def __init__(self, text: str):
        self.text = text
        self.types = {}
        self.samples = []  # (name, {label: value}, float)
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
            elif line.strip() and not line.startswith("#"):
                self.samples.append(self._parse_sample(line))

    @staticmethod
    def _parse_sample(line: str):
        match = _SAMPLE.fullmatch(line.strip())
        assert match, f"unparsable metrics line: {line!r}"
        name, label_text, value = match.groups()
        labels, pos = {}, 0
        label_text = label_text or ""
        while pos < len(label_text):
            label = _LABEL.match(label_text, pos)
            assert label and label.end() > pos, f"unparsable labels in metrics line: {line!r}"
            labels[label.group(1)] = re.sub(r'\\[\\"n]', lambda m: _ESCAPES[m.group(0)],
                                            label.group(2))
            pos = label.end()
        return name, labels, float(value)

    def series(self, name: str, **labels) -> list:
        """(labels, value) of every sample of `name` carrying all the given label values."""
        return [(l, v) for n, l, v in self.samples
                if n == name and all(l.get(k) == want for k, want in labels.items())]

    def total(self, name: str, **labels) -> float:
        """Sum over the matching series; 0 when there is none (a counter not yet incremented)."""
        return sum(v for _, v in self.series(name, **labels))


def scrape(p) -> Metrics:
    resp = p.admin_get("/metrics")
    assert resp.status == 200, resp
    return Metrics(resp.text())


def wait_metrics(p, expected: list, timeout: float = 5.0, what: str = "metrics") -> Metrics:
    """Scrapes until every (name, labels, value) in `expected` holds exactly (Metrics.total);
    returns that scrape. The proxy may publish per-worker values a little late."""
    last = {}

    def matches():
        last["metrics"] = m = scrape(p)
        last["got"] = [(name, labels, m.total(name, **labels)) for name, labels, _ in expected]
        return m if all(got[2] == want[2] for got, want in zip(last["got"], expected)) else None

    try:
        return poll(matches, timeout, what, interval=0.1)
    except AssertionError:
        raise AssertionError(f"{what}: expected {expected}\nlast scrape had {last.get('got')}")\
            from None


def metric_value(p, name: str, **labels) -> float:
    return scrape(p).total(PREFIX + name, **labels)


def two_pools_config(up, **tenant_extra) -> str:
    """Tenant acme on a live pool, tenant ghost (ghost.example.com) on pool "dead" whose only
    endpoint is a closed port."""
    pools = {"alpha": tgconfig.pool(up), "dead": {"web": [f"127.0.0.1:{harness.closed_port()}"]}}
    tenants = {"acme": {"hosts": ["erp.acme.com"], "pool": "alpha"},
               "ghost": {"hosts": ["ghost.example.com"], "pool": "dead"}}
    return tgconfig.render(pools, tenants, **tenant_extra)


# ---- counters and histograms -----------------------------------------------------------------
def test_request_counts_and_duration_histogram_are_exact(gateway):
    g = gateway()
    for i in range(7):
        assert g.get(f"/echo/{i}").status == 200
    for _ in range(3):
        assert g.get("/status/404").status == 404
    for _ in range(2):
        harness.assert_proxy_status(g.proxy.get("/", UNKNOWN_HOST), 404)
    assert g.get("/longpolling/poll?ms=10").status == 200

    name = PREFIX + "requests_total"
    m = wait_metrics(g.proxy, [
        (name, {"tenant": "acme", "route": "web", "code": "200"}, 7),
        (name, {"tenant": "acme", "route": "web", "code": "404"}, 3),
        (name, {"tenant": "", "code": "404"}, 2),
        (name, {"tenant": "acme", "route": "longpolling", "code": "200"}, 1),
        (name, {"tenant": "acme"}, 11),
        (PREFIX + "request_duration_seconds_count", {"tenant": "acme", "route": "web"}, 10),
        (PREFIX + "request_duration_seconds_count", {"tenant": "acme", "route": "longpolling"}, 1),
    ], what="request counters")
    assert {l["code"] for l, _ in m.series(name, tenant="")} == {"404"}, m.series(name, tenant="")
    assert m.types.get(name) == "counter", m.types.get(name)

    hist = PREFIX + "request_duration_seconds"
    assert m.types.get(hist) == "histogram", m.types.get(hist)
    buckets = sorted((float(l["le"]), v)
                     for l, v in m.series(hist + "_bucket", tenant="acme", route="web"))
    assert buckets and buckets[-1][0] == math.inf, f"no le=\"+Inf\" bucket: {buckets}"
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), f"bucket counts not cumulative: {buckets}"
    assert counts[-1] == 10
    assert m.total(hist + "_sum", tenant="acme", route="web") >= 0


def test_template_tenants_get_their_own_label(gateway):
    """Template tenants (hosts matched by tenant_templates) are labelled with their own name.
    The label set is bounded: beyond 1000 distinct template tenants per worker the rest are
    counted as tenant="_other". Only a handful are sent here, so each keeps its name."""
    g = gateway(tenant_templates=[{"host": "{tenant}.erp.example.com", "pool": "alpha"}])
    sent = {"t1": 1, "t2": 2, "t3": 3}
    for tenant, count in sent.items():
        for _ in range(count):
            assert g.proxy.get("/echo/template", f"{tenant}.erp.example.com").status == 200
    name = PREFIX + "requests_total"
    wait_metrics(g.proxy, [(name, {"tenant": t, "route": "web", "code": "200"}, n)
                           for t, n in sent.items()] + [(name, {"tenant": "_other"}, 0)],
                 what="template tenant counters")


def test_upstream_connect_failures_are_counted(upstream, proxy):
    p = proxy(two_pools_config(upstream("alpha")))

    def errors() -> float:
        return metric_value(p, "upstream_errors_total", pool="dead", reason="connect_failed")

    before = errors()
    for attempt in (1, 2):
        harness.assert_proxy_status(p.get("/echo/dead", "ghost.example.com"), 502)
        poll(lambda: errors() > before, 5,
             f"upstream_errors_total{{pool=dead,reason=connect_failed}} to increase ({attempt})")
        before = errors()
    m = wait_metrics(p, [(PREFIX + "requests_total",
                          {"tenant": "ghost", "route": "web", "code": "502"}, 2)])
    name = PREFIX + "upstream_errors_total"
    assert m.total(name, pool="alpha") == 0, m.series(name)


def test_config_generation_and_reload_counters_follow_sighup(gateway):
    g = gateway()
    p = g.proxy
    reloads = PREFIX + "config_reloads_total"
    m0 = scrape(p)
    success, failure = m0.total(reloads, result="success"), m0.total(reloads, result="failure")
    text = p.config_path.read_text()
    generation = p.reload_ok(text)
    assert generation > m0.total(PREFIX + "config_generation")
    wait_metrics(p, [(PREFIX + "config_generation", {}, generation),
                     (reloads, {"result": "success"}, success + 1),
                     (reloads, {"result": "failure"}, failure)], what="after a valid reload")
    bad = text.replace('pool: "alpha"', 'pool: "nope"')
    assert bad != text
    assert p.reload(bad)["msg"] == "config reload failed"
    m = wait_metrics(p, [(PREFIX + "config_generation", {}, generation),
                         (reloads, {"result": "success"}, success + 1),
                         (reloads, {"result": "failure"}, failure + 1)],
                     what="after an invalid reload")
    assert m.types.get(reloads) == "counter" and m.types.get(PREFIX + "config_generation") == \
        "gauge", m.types


# ---- gauges ----------------------------------------------------------------------------------
def test_connections_active_follows_a_keepalive_connection(gateway):
    g = gateway()

    def active():
        return metric_value(g.proxy, "connections_active", listener="http")

    poll(lambda: active() == 0, 5, "connections_active{listener=http} == 0 with no client")
    with g.proxy.connect() as conn:
        assert conn.request("GET", "/echo/keepalive", g.host).status == 200
        poll(lambda: active() >= 1, 5, "connections_active >= 1 with an open connection")
        assert conn.request("GET", "/echo/again", g.host).status == 200  # still open
    poll(lambda: active() == 0, 5, "connections_active back to 0 after close")


def test_tunnels_active_follows_a_websocket(gateway):
    g = gateway()

    def tunnels():
        return metric_value(g.proxy, "tunnels_active", tenant="acme")

    assert tunnels() == 0
    with g.proxy.connect() as ws:
        ws.send(wsutil.handshake_request(g.host))
        assert ws.read_head(timeout=10).status == 101
        poll(lambda: tunnels() == 1, 5, "tunnels_active{tenant=acme} == 1 with a websocket open")
    poll(lambda: tunnels() == 0, 5, "tunnels_active{tenant=acme} back to 0 after close")


# ---- the exposition is valid for Prometheus --------------------------------------------------
def tool(path: str) -> str:
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: {INSTALL_HINT}", pytrace=False)
    return path


def test_promtool_accepts_a_scrape_after_traffic(upstream, proxy):
    promtool = tool(PROMTOOL)
    p = proxy(two_pools_config(upstream("alpha"),
                               tenant_templates=[{"host": "{tenant}.erp.example.com",
                                                  "pool": "alpha"}]))
    assert p.get("/echo/a", "erp.acme.com").status == 200
    assert p.get("/status/404", "erp.acme.com").status == 404
    assert p.get("/status/503", "erp.acme.com").status == 503
    assert p.get("/longpolling/poll?ms=10", "erp.acme.com").status == 200
    assert p.get("/echo/t", "t1.erp.example.com").status == 200
    assert p.get("/", UNKNOWN_HOST).status == 404
    assert p.get("/echo/dead", "ghost.example.com").status == 502
    p.reload_ok(p.config_path.read_text())
    assert p.reload("pools: [not, a, mapping\n")["msg"] == "config reload failed"
    with p.connect() as ws:  # an open tunnel while scraping
        ws.send(wsutil.handshake_request("erp.acme.com"))
        assert ws.read_head(timeout=10).status == 101
        m = wait_metrics(p, [(PREFIX + "tunnels_active", {"tenant": "acme"}, 1)])
    result = subprocess.run([promtool, "check", "metrics"], input=m.text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, f"promtool check metrics:\n{result.stdout}{result.stderr}"
    expected_types = {"requests_total": "counter", "request_duration_seconds": "histogram",
                      "upstream_errors_total": "counter", "in_flight_requests": "gauge",
                      "connections_active": "gauge", "tunnels_active": "gauge",
                      "config_generation": "gauge", "config_reloads_total": "counter"}
    assert {n: m.types.get(PREFIX + n) for n in expected_types} == expected_types


@pytest.fixture
def prometheus_server(tmp_path):
    """Factory: prometheus_server(target_port) starts a real Prometheus scraping
    127.0.0.1:target_port/metrics every second; returns its HTTP port. Stopped by PID."""
    started = []

    def start(target_port: int) -> int:
        binary = tool(PROMETHEUS)
        workdir = tmp_path / "prometheus"
        workdir.mkdir()
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: tenantgate\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: [\"127.0.0.1:{target_port}\"]\n")
        port = harness.closed_port()
        log = open(workdir / "prometheus.log", "wb")
        proc = subprocess.Popen([binary, f"--config.file={config}",
                                 f"--storage.tsdb.path={workdir / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                cwd=workdir, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        started.append((proc, log))

        def ready():
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited with code {proc.returncode}:\n"
                                     f"{harness.tail(workdir / 'prometheus.log')}")
            try:
                return httpraw.request(port, "GET", "/-/ready", f"127.0.0.1:{port}",
                                       timeout=2).status == 200
            except (OSError, AssertionError):
                return False

        poll(ready, 30, "prometheus /-/ready", interval=0.2)
        return port

    yield start
    for proc, log in started:
        harness.terminate(proc, 10)
        log.close()


def test_prometheus_server_scrapes_request_counts(gateway, prometheus_server):
    g = gateway()
    for i in range(5):
        assert g.get(f"/echo/{i}").status == 200
    port = prometheus_server(g.proxy.admin_port)
    query = "/api/v1/query?query=" + urllib.parse.quote(PREFIX + "requests_total")

    def acme_count():
        resp = httpraw.request(port, "GET", query, f"127.0.0.1:{port}", timeout=5)
        assert resp.status == 200, resp
        body = resp.json()
        assert body["status"] == "success", body
        return next((float(r["value"][1]) for r in body["data"]["result"]
                     if r["metric"].get("tenant") == "acme" and r["metric"].get("code") == "200"
                     and r["metric"].get("route") == "web"
                     and r["metric"].get("job") == "tenantgate"), None)

    try:
        poll(lambda: acme_count() == 5, 30, "Prometheus to see tenantgate_requests_total == 5",
             interval=0.5)
    except AssertionError as e:
        targets = httpraw.request(port, "GET", "/api/v1/targets", f"127.0.0.1:{port}", timeout=5)
        raise AssertionError(f"{e}; last value {acme_count()}; targets: "
                             f"{json.dumps(targets.json().get('data'))[:2000]}") from None
