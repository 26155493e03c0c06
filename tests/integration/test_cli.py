"""Command line (SPEC section 1): check, help, usage errors, config error locations."""

import re
import subprocess

import pytest

import harness

CONFIG = """\
workers: 1
listeners:
  - name: http
    address: "127.0.0.1:0"
admin:
  address: "127.0.0.1:0"
  token_file: admin.token
pools:
  alpha:
    web: ["127.0.0.1:8069"]
    longpolling: ["127.0.0.1:8072"]
tenants:
  x:
    hosts: [x.example.com]
    pool: {x_pool}
  y:
    hosts: [y.example.com]
    pool: {y_pool}
"""


def run(binary, *args, cwd=None, timeout=30):
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def write_config(tmp_path, text):
    harness.write_admin_token(tmp_path)
    path = tmp_path / "tenantgate.yaml"
    path.write_text(text)
    return path


def position(text, needle):
    """1-based (line, key column, value column) of the `pool: <needle>` line."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == f"pool: {needle}":
            key_col = len(line) - len(line.lstrip()) + 1
            return number, key_col, line.index(needle) + 1
    raise AssertionError(needle)


def test_check_valid_config(tenantgate_bin, tmp_path):
    path = write_config(tmp_path, CONFIG.format(x_pool="alpha", y_pool="alpha"))
    result = run(tenantgate_bin, "check", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 0, result
    assert result.stdout.startswith("config OK"), result.stdout


def test_check_reports_every_error_with_file_line_column(tenantgate_bin, tmp_path):
    text = CONFIG.format(x_pool="nope", y_pool="missing")
    path = write_config(tmp_path, text)
    result = run(tenantgate_bin, "check", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 1, result
    located = [l for l in result.stderr.splitlines()
               if re.search(r"tenantgate\.yaml:\d+:\d+: ", l) and not l.startswith("warning")]
    assert len(located) == 2, f"expected exactly the two errors, got:\n{result.stderr}"
    for tenant, pool in (("x", "nope"), ("y", "missing")):
        line, key_col, value_col = position(text, pool)
        pattern = rf"tenantgate\.yaml:{line}:(\d+): tenants\.{tenant}\.pool: unknown pool"
        matches = [re.search(pattern, l) for l in located]
        match = next((m for m in matches if m), None)
        assert match, f"no line matching {pattern!r} in:\n{result.stderr}"
        assert int(match.group(1)) in (key_col, value_col), match.group(0)
        assert pool in match.string


def test_run_with_invalid_config_exits_1(tenantgate_bin, tmp_path):
    path = write_config(tmp_path, CONFIG.format(x_pool="nope", y_pool="alpha"))
    result = run(tenantgate_bin, "run", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 1, result
    assert re.search(r"tenantgate\.yaml:\d+:\d+: tenants\.x\.pool", result.stderr), result.stderr


def test_help_exits_0(tenantgate_bin):
    result = run(tenantgate_bin, "--help")
    assert result.returncode == 0, result
    assert "check" in result.stdout + result.stderr


def test_version_exits_0(tenantgate_bin):
    result = run(tenantgate_bin, "--version")
    assert result.returncode == 0, result
    assert (result.stdout + result.stderr).strip()


@pytest.mark.parametrize("args", [["--no-such-flag"], ["check", "--no-such-flag"],
                                  ["no-such-command"], ["check", "--config"]],
                         ids=["unknown-flag", "unknown-check-flag", "unknown-command",
                              "missing-flag-value"])
def test_usage_errors_exit_2(tenantgate_bin, tmp_path, args):
    result = run(tenantgate_bin, *args, cwd=tmp_path, timeout=10)
    assert result.returncode == 2, result
