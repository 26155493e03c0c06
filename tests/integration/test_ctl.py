"""`tenantgate ctl` (SPEC section 1) against a running instance's admin API: human-readable and
--json output, reload and drain, and exit codes (0 ok, 1 failed or refused, 2 usage)."""

import json
import re
import socket
import subprocess

import pytest

import harness
import tgconfig
from test_release import OTHER, blue_green, freeze_window_now  # noqa: F401  (blue_green: fixture)

HOST = "erp.acme.com"
DEFAULT_ADMIN = "http://127.0.0.1:9901"


def ctl(binary: str, *args, cwd=None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "ctl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def ctl_to(p, *args, token_file=None) -> subprocess.CompletedProcess:
    """ctl against proxy p's admin listener, with its token file unless another is given."""
    token = token_file or p.workdir / tgconfig.ADMIN_TOKEN_FILE
    return ctl(p.binary, "--admin", f"http://127.0.0.1:{p.admin_port}", "--token-file",
               str(token), *args, cwd=p.workdir)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\n" \
                                   f"stderr:\n{result.stderr}"
    return result.stdout


def failed(result: subprocess.CompletedProcess, code: int = 1) -> str:
    assert result.returncode == code, f"expected exit {code}, got {result.returncode}\n" \
                                      f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stderr.strip(), "a failed command must say why on stderr"
    return result.stderr


def api(p, path: str) -> dict:
    resp = p.admin_get(path)
    assert resp.status == 200, resp
    return resp.json()


def served_by(p) -> str:
    resp = p.get("/echo/ctl", HOST)
    assert resp.status == 200, resp
    return resp.json()["name"]


def table_rows(text: str) -> list:
    """Non-empty lines that are not pure separators (----, ====, +--+)."""
    return [l for l in text.splitlines() if l.strip() and not re.fullmatch(r"[\s\-=+|]+", l)]


@pytest.fixture
def two_pools(upstream):
    """config(pool_name) -> YAML with tenant acme (two hosts) on alpha or beta, globex on
    alpha."""
    pools = {"alpha": tgconfig.pool(upstream("alpha")), "beta": tgconfig.pool(upstream("beta"))}
    return lambda pool_name: tgconfig.render(pools, {
        "acme": {"hosts": [HOST, "*.acme.com"], "pool": pool_name},
        "globex": {"hosts": ["globex.example.com"], "pool": "alpha"}})


@pytest.fixture
def running(proxy, two_pools):
    return proxy(two_pools("alpha"))


# ---- read commands ---------------------------------------------------------------------------
def test_status_human_readable(running):
    out = ok(ctl_to(running, "status"))
    lines = [l for l in out.splitlines() if l.strip()]
    pairs = [re.fullmatch(r"\s*([A-Za-z_][\w .]*?)\s*:\s+(\S.*)", l) for l in lines]
    assert lines and all(pairs), f"status output is not 'key: value' lines:\n{out}"
    fields = {m.group(1): m.group(2).strip() for m in pairs}
    assert fields.get("config_generation") == str(api(running, "/api/v1/status")
                                                  ["config_generation"]), out


def test_status_json_is_the_api_body(running):
    body = json.loads(ok(ctl_to(running, "--json", "status")))
    reference = api(running, "/api/v1/status")
    assert set(body) == set(reference), (body, reference)
    for key in ("version", "config_generation", "draining", "workers", "connections"):
        assert body[key] == reference[key], key


def test_tenants_human_readable_table(running):
    out = ok(ctl_to(running, "tenants"))
    rows = table_rows(out)
    header, rows = rows[0], rows[1:]
    assert "NAME" in header.split() and "HOSTS" in header.split(), f"header row:\n{out}"
    assert sorted(r.split()[0] for r in rows) == ["acme", "globex"], f"one row per tenant:\n{out}"
    acme = next(r for r in rows if r.split()[0] == "acme")
    assert HOST in acme and "*.acme.com" in acme, acme
    assert "globex.example.com" in next(r for r in rows if r.split()[0] == "globex")


def test_tenants_and_tenant_json_are_the_api_bodies(running):
    assert json.loads(ok(ctl_to(running, "--json", "tenants"))) == api(running, "/api/v1/tenants")
    assert json.loads(ok(ctl_to(running, "--json", "tenant", "acme"))) == \
        api(running, "/api/v1/tenants/acme")


def test_tenant_human_readable(running):
    out = ok(ctl_to(running, "tenant", "acme"))
    assert "acme" in out and HOST in out, out


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["human", "json"])
def test_unknown_tenant_exits_1(running, json_flag):
    assert "nope" in failed(ctl_to(running, *json_flag, "tenant", "nope"))


# ---- mutating commands -----------------------------------------------------------------------
def test_reload_applies_the_new_file(running, two_pools):
    p = running
    generation = api(p, "/api/v1/status")["config_generation"]
    p.write_config(two_pools("beta"))
    assert json.loads(ok(ctl_to(p, "--json", "reload"))) == \
        {"result": "reloaded", "generation": generation + 1}
    assert served_by(p) == "beta"
    p.write_config(two_pools("alpha"))
    ok(ctl_to(p, "reload"))
    assert served_by(p) == "alpha"
    assert api(p, "/api/v1/status")["config_generation"] == generation + 2


def test_reload_of_invalid_file_exits_1_with_the_errors(running, two_pools):
    p = running
    generation = api(p, "/api/v1/status")["config_generation"]
    p.write_config(two_pools("nope"))
    err = failed(ctl_to(p, "reload"))
    assert re.search(r"tenantgate\.yaml:\d+:\d+: tenants\.acme\.pool", err), err
    assert served_by(p) == "alpha"
    assert api(p, "/api/v1/status")["config_generation"] == generation


def test_drain_then_process_exits_zero(running):
    p = running
    p.expect_exit = True
    assert json.loads(ok(ctl_to(p, "--json", "drain"))) == {"result": "draining"}
    assert p.wait_exit(30) == 0


@pytest.mark.parametrize("command", ["reload", "drain"])
def test_wrong_token_exits_1_naming_403(running, tmp_path, command):
    p = running
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-token\n")
    wrong.chmod(0o600)
    generation = api(p, "/api/v1/status")["config_generation"]
    assert "403" in failed(ctl_to(p, command, token_file=wrong))
    assert p.alive() and p.admin_get("/readyz").status == 200
    assert api(p, "/api/v1/status")["config_generation"] == generation


def test_read_refused_without_token_exits_1_naming_401(gateway, tmp_path):
    g = gateway(admin={"address": "127.0.0.1:0", "token_file": tgconfig.ADMIN_TOKEN_FILE,
                       "allow_read_without_token": False})
    elsewhere = tmp_path / "elsewhere"  # no admin.token here, in case ctl looks for one
    elsewhere.mkdir()
    result = ctl(g.proxy.binary, "--admin", f"http://127.0.0.1:{g.proxy.admin_port}", "status",
                 cwd=elsewhere)
    assert "401" in failed(result)


# ---- unreachable admin API and usage errors --------------------------------------------------
@pytest.mark.parametrize("command", [["status"], ["tenants"], ["reload"]],
                         ids=["status", "tenants", "reload"])
def test_unreachable_admin_api_exits_1(tenantgate_bin, tmp_path, command):
    url = f"http://127.0.0.1:{harness.closed_port()}"
    token = harness.write_admin_token(tmp_path)
    err = failed(ctl(tenantgate_bin, "--admin", url, "--token-file", str(token), *command,
                     cwd=tmp_path))
    assert f"cannot reach admin API at {url}" in err, err


def test_default_admin_url(tenantgate_bin, tmp_path):
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 9901))  # bound, never listening: connections are refused
    except OSError:
        holder.close()
        pytest.skip("127.0.0.1:9901 is in use on this machine")
    with holder:
        err = failed(ctl(tenantgate_bin, "status", cwd=tmp_path))
    assert f"cannot reach admin API at {DEFAULT_ADMIN}" in err, err


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["tenant"], ["--bogus", "status"],
                                  ["--admin"], ["tenant", "add", "x"], ["tenant", "set"],
                                  ["tenant", "remove", "x", "--file", "f.json"]],
                         ids=["no-command", "unknown-command", "tenant-without-name",
                              "unknown-flag", "admin-without-url", "add-without-file",
                              "set-without-name", "remove-with-file"])
def test_usage_errors_exit_2(tenantgate_bin, tmp_path, args):
    # A closed admin port first (except where --admin itself is the error): a usage error must
    # be reported before any connection attempt, and nothing else gets contacted.
    prefix = [] if args == ["--admin"] else ["--admin", f"http://127.0.0.1:{harness.closed_port()}"]
    failed(ctl(tenantgate_bin, *prefix, *args, cwd=tmp_path, timeout=10), code=2)


def test_tenant_add_set_remove(upstream, proxy, tmp_path):
    up = upstream("alpha")
    p = proxy(tgconfig.render({"alpha": tgconfig.pool(up)},
                              {"acme": {"hosts": ["erp.acme.com"], "pool": "alpha"}}))
    yaml_file = tmp_path / "initech.yaml"
    yaml_file.write_text("hosts: [erp.initech.com, initech.erp.example.com]\n"
                         "pool: alpha\n"
                         "rate_limit: { requests_per_second: 50, burst: 100 }\n"
                         "odoo_dbfilter_header: true\n")
    out = ok(ctl_to(p, "tenant", "add", "initech", "--file", str(yaml_file)))
    assert "result: created" in out and "tenant.origin: api" in out, out
    assert p.get("/echo", "erp.initech.com").status == 200
    # add never replaces; set does, from JSON as well.
    err = failed(ctl_to(p, "tenant", "add", "initech", "--file", str(yaml_file)))
    assert "412" in err and "already exists" in err, err
    json_file = tmp_path / "initech.json"
    json_file.write_text(json.dumps({"hosts": ["erp.initech.com"], "pool": "alpha",
                                     "max_in_flight": 7}))
    assert "result: replaced" in ok(ctl_to(p, "tenant", "set", "initech", "--file",
                                           str(json_file)))
    assert p.get("/echo", "initech.erp.example.com").status == 404
    shown = json.loads(ok(ctl_to(p, "--json", "tenant", "initech")))
    assert shown["limits"]["max_in_flight"] == 7 and shown["origin"] == "api"
    # Errors come back one per line, with their key paths.
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("hosts: [erp.hooli.com]\npool: alpha\nrate_limit: { burst: 5 }\n")
    err = failed(ctl_to(p, "tenant", "set", "hooli", "--file", str(bad_file)))
    assert "tenants.hooli.rate_limit: missing required key \"requests_per_second\"" in err, err
    assert "result: removed" in ok(ctl_to(p, "tenant", "remove", "initech"))
    assert p.get("/echo", "erp.initech.com").status == 404
    assert "412" not in failed(ctl_to(p, "tenant", "remove", "initech"))


# ---- releases, maintenance and the audit trail (issue 12) ------------------------------------
@pytest.fixture
def release_running(blue_green):
    return blue_green(drain_timeout="1s").proxy


def test_maintenance_on_and_off_for_a_tenant_and_globally(release_running):
    p = release_running
    out = ok(ctl_to(p, "maintenance", "on", "--tenant", "acme", "--message", "Back <soon>",
                    "--retry-after", "60"))
    assert "updated" in out, out
    resp = p.get("/echo/m", HOST)
    assert resp.status == 503 and resp.header("Retry-After") == "60", resp
    assert "Back &lt;soon&gt;" in resp.text(), resp.text()
    assert p.get("/echo/m", OTHER).status == 200
    body = json.loads(ok(ctl_to(p, "--json", "maintenance", "off", "--tenant", "acme")))
    assert body["result"] == "updated" and body["maintenance"]["enabled"] is False, body
    assert served_by(p) == "blue"
    ok(ctl_to(p, "maintenance", "on"))
    resp = p.get("/echo/m", OTHER)
    assert resp.status == 503 and resp.header("Retry-After") == "600", resp
    assert api(p, "/api/v1/status")["maintenance"]["enabled"] is True
    ok(ctl_to(p, "maintenance", "off"))
    assert p.get("/echo/m", OTHER).status == 200


def test_release_switches_and_reports_refusals(release_running):
    p = release_running
    out = ok(ctl_to(p, "release", "acme", "--to", "green", "--drain-timeout", "1s"))
    assert "switched" in out and "green" in out, out
    assert served_by(p) == "green"
    body = json.loads(ok(ctl_to(p, "--json", "release", "acme", "--to", "green")))
    assert body["result"] == "unchanged", body
    assert "400" in failed(ctl_to(p, "release", "globex", "--to", "green"))
    assert "404" in failed(ctl_to(p, "release", "nope", "--to", "green"))
    assert api(p, "/api/v1/tenants/acme")["release"]["active"] == "green"


def test_release_inside_a_freeze_window_needs_force(blue_green):
    window, _ = freeze_window_now("ctl-freeze")
    p = blue_green(freeze_windows=[window]).proxy
    err = failed(ctl_to(p, "release", "acme", "--to", "green"))
    assert "admin API answered 409" in err and "ctl-freeze" in err, err
    assert served_by(p) == "blue"
    body = json.loads(ok(ctl_to(p, "--json", "release", "acme", "--to", "green", "--force")))
    assert body["result"] == "switched" and body["forced"] is True, body
    assert served_by(p) == "green"


def test_audit_lists_the_last_calls(release_running, tmp_path):
    p = release_running
    ok(ctl_to(p, "maintenance", "on", "--tenant", "globex"))
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-token\n")
    wrong.chmod(0o600)
    assert "403" in failed(ctl_to(p, "maintenance", "off", "--tenant", "globex",
                                  token_file=wrong))
    rows = table_rows(ok(ctl_to(p, "audit", "--limit", "2")))
    header, rows = rows[0].split(), rows[1:]
    assert {"TIME", "ACTION", "TENANT", "RESULT"} <= set(header), header
    assert len(rows) == 2, rows
    assert "accepted" in rows[0].split() and "refused" in rows[1].split(), rows
    assert "403" in rows[1].split() and "globex" in rows[1].split(), rows
    assert json.loads(ok(ctl_to(p, "--json", "audit", "--limit", "2"))) == \
        api(p, "/api/v1/audit?limit=2")
    # audit_log defaults to stderr: the same lines, among the ops log's.
    on_stderr = [l for l in p.ops_log_lines() if l.get("action") == "maintenance"]
    assert [l["status"] for l in on_stderr] == [200, 403], on_stderr


def test_usage_lists_the_release_commands(tenantgate_bin, tmp_path):
    err = failed(ctl(tenantgate_bin, cwd=tmp_path, timeout=10), code=2)
    for command in ("maintenance on|off", "release NAME --to blue|green", "audit [--limit N]"):
        assert command in err, err


@pytest.mark.parametrize("args, why", [
    (["maintenance"], "on or off"),
    (["maintenance", "maybe"], "on or off"),
    (["maintenance", "on", "now"], "unexpected argument"),
    (["maintenance", "on", "--retry-after", "-1"], "--retry-after"),
    (["maintenance", "on", "--retry-after", "soon"], "--retry-after"),
    (["maintenance", "off", "--message", "x"], "--message"),
    (["maintenance", "on", "--to", "green"], "--to"),
    (["maintenance", "on", "--tenant"], "--tenant needs a value"),
    (["release"], "NAME"),
    (["release", "acme"], "--to"),
    (["release", "acme", "--to", "purple"], "purple"),
    (["release", "acme", "--to", "green", "--drain-timeout", "soon"], "--drain-timeout"),
    (["release", "acme", "--to", "green", "--to", "blue"], "twice"),
    (["release", "acme", "--to", "green", "--limit", "3"], "--limit"),
    (["status", "--force"], "--force"),
    (["audit", "--limit", "0"], "--limit"),
    (["audit", "--limit", "ten"], "--limit"),
    (["audit", "all"], "unexpected argument"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_release_command_usage_errors_exit_2(tenantgate_bin, tmp_path, args, why):
    prefix = ["--admin", f"http://127.0.0.1:{harness.closed_port()}"]
    err = failed(ctl(tenantgate_bin, *prefix, *args, cwd=tmp_path, timeout=10), code=2)
    assert why in err.splitlines()[0], err
    assert "usage:" in err
