"""Fixtures for tenantgate integration tests.

Environment:
  TENANTGATE_BIN          the tenantgate binary under test (required by every proxy test)
  TENANTGATE_RELEASE_BIN  an optimized, non-sanitized build; used only by the memory (RSS)
                          tests, because a sanitizer build's memory use is not representative
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

import harness
import httpraw
import tgconfig


def _binary_from_env(var: str, purpose: str) -> str:
    path = os.environ.get(var)
    if not path:
        pytest.fail(f"{var} is not set: point it at {purpose}", pytrace=False)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"{var}={path!r} is not an executable file", pytrace=False)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _test_failed(request) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is None or report.failed


@pytest.fixture(scope="session")
def tenantgate_bin() -> str:
    return _binary_from_env("TENANTGATE_BIN", "the tenantgate binary under test")


@pytest.fixture(scope="session")
def release_bin() -> str:
    return _binary_from_env(
        "TENANTGATE_RELEASE_BIN",
        "a Release (non-sanitized) tenantgate build; the memory tests need it because "
        "sanitizer builds use several times more memory")


@pytest.fixture
def upstream(tmp_path):
    """Factory: upstream(name) starts a fake Odoo (web + longpolling workers on ephemeral
    ports, or the web worker on `web_port`; `fail_status`: a sick pod answering it to all) and returns a harness.Upstream; stopped by PID at teardown."""
    started = []

    def start(name: str = "alpha", keepalive_timeout: float = 0, web_port: int = 0,
              fail_status: int = 0) -> harness.Upstream:
        up = harness.Upstream(name, tmp_path, keepalive_timeout, web_port, fail_status)
        started.append(up)
        return up

    yield start
    for up in reversed(started):
        up.stop()


@pytest.fixture
def haproxy(tmp_path):
    """Factory: haproxy(name, config_text, env=None) starts HAProxy on that config and returns a
    harness.HAProxy; stopped by PID at teardown. Fails (not skips) without haproxy."""
    if not os.access(harness.HAPROXY, os.X_OK):
        pytest.fail(f"haproxy not found ({harness.HAPROXY}): bash docker/install-deps.sh test "
                    f"installs it", pytrace=False)
    started = []

    def start(name: str, config_text: str, env=None) -> harness.HAProxy:
        h = harness.HAProxy(tmp_path, name, config_text, env)
        started.append(h)
        return h

    yield start
    for h in reversed(started):
        h.stop()


@pytest.fixture
def proxy(request, tmp_path, tenantgate_bin):
    """Factory: proxy(config_yaml_text, binary=None) writes tmp_path/tenantgate.yaml, starts
    `tenantgate run --config FILE`, waits for the ops log's "ready" line and returns a
    harness.Proxy. At teardown the process is stopped by PID; a crash during the test or a
    sanitizer report fails the test."""
    started = []

    def start(config_text: str, binary: str | None = None) -> harness.Proxy:
        workdir = tmp_path if not started else tmp_path / f"proxy{len(started) + 1}"
        p = harness.Proxy(binary or tenantgate_bin, workdir, config_text)
        started.append(p)
        return p

    yield start
    problems = []
    for p in reversed(started):
        found = p.cleanup()
        problems += found
        if _test_failed(request) and not found:  # shown under "Captured stdout teardown"
            print(f"==== tenantgate ops log (stderr) {p.stderr_path}:\n{harness.tail(p.stderr_path)}")
            print(f"==== tenantgate access log (stdout) {p.stdout_path}:\n"
                  f"{harness.tail(p.stdout_path, 3000)}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@dataclass
class Gateway:
    """One proxy in front of one fake upstream, with one tenant on one host."""
    proxy: harness.Proxy
    up: harness.Upstream
    host: str
    tenant: str

    @property
    def port(self) -> int:
        return self.proxy.port("http")

    def request(self, method: str, target: str, headers=(), body: bytes = b"", **kw):
        return self.proxy.request(method, target, self.host, headers, body, **kw)

    def get(self, target: str, headers=(), **kw) -> httpraw.Response:
        return self.proxy.get(target, self.host, headers, **kw)

    def echo(self, target: str = "/echo", headers=(), method: str = "GET",
             body: bytes = b"") -> dict:
        """A request answered by the upstream's echo; returns the echo JSON."""
        resp = self.request(method, target, headers, body)
        assert resp.status == 200, resp
        return resp.json()


@pytest.fixture
def gateway(upstream, proxy):
    """Factory: gateway(tenant_options=None, *, host, longpolling, pool_options, binary,
    **render_kwargs) starts a fake upstream "alpha" and a proxy with tenant "acme" on `host`
    (default erp.acme.com) served by pool "alpha"."""

    def start(tenant_options: dict | None = None, *, host: str = "erp.acme.com",
              longpolling: bool = True, pool_options: dict | None = None,
              binary: str | None = None, **render_kwargs) -> Gateway:
        up = upstream("alpha")
        pools = {"alpha": tgconfig.pool(up, longpolling, **(pool_options or {}))}
        tenants = {"acme": {"hosts": [host], "pool": "alpha", **(tenant_options or {})}}
        text = tgconfig.render(pools, tenants, **render_kwargs)
        return Gateway(proxy(text, binary=binary), up, host, "acme")

    return start
