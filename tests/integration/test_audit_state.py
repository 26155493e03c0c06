"""The audit trail and the runtime state of releases and maintenance (SPEC section 5, issue 12):
one audit line per mutating admin call, accepted or refused, with a token fingerprint and never
the token; GET /api/v1/audit; SIGUSR1 reopening the audit file; bad input that changes nothing;
state kept across restarts in state_file (atomically: kill -9 never leaves it half written, and
a corrupt one stops the start); state shared by replicas through Redis."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import signal
import subprocess
import threading
import time

import pytest

import harness
from harness import ADMIN_TOKEN, poll, saved_runtime_state
from redisproc import REDIS_SERVER
from test_maintenance import put_maintenance
from test_redis_budget import redis, wait_redis_up  # noqa: F401  (redis is a fixture)
from test_release import (HOST, OTHER, blue_green, blue_green_config,  # noqa: F401  (fixture)
                          iso_time, release_view, served_by, switch, tenant_state, utc_now)

WRONG_TOKEN = "wrong-token-value"
AUDIT = "audit.log"
needs_redis = pytest.mark.skipif(
    not os.path.exists(REDIS_SERVER),
    reason="redis-server is not installed (docker/install-deps.sh test installs it)")


def fingerprint(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def audit_lines(p, name: str = AUDIT) -> list:
    return harness.read_json_lines(p.workdir / name)


def wait_audit(p, count: int, name: str = AUDIT) -> list:
    return poll(lambda: (lines := audit_lines(p, name)) and len(lines) >= count and lines, 5,
                f"{count} audit lines in {name}")


def data_plane(p) -> tuple:
    """What clients see: acme's colour (or status) and globex's status."""
    acme = p.get("/echo/dp", HOST)
    acme_seen = acme.json()["name"] if acme.status == 200 else acme.status
    return acme_seen, p.get("/echo/dp", OTHER).status


# ---- audit -----------------------------------------------------------------------------------
REFUSED = [  # (method, path, body, token, status, tenant in the audit line)
    ("PUT", "/api/v1/tenants/acme/maintenance", b'{"enabled": tru', ADMIN_TOKEN, 400, "acme"),
    ("PUT", "/api/v1/tenants/acme/maintenance", {"enabled": True, "retry_after": -5},
     ADMIN_TOKEN, 400, "acme"),
    ("PUT", "/api/v1/tenants/acme/maintenance", {"enabled": True, "colour": "red"},
     ADMIN_TOKEN, 400, "acme"),
    ("PUT", "/api/v1/tenants/acme/maintenance", {"message": "enabled is missing"},
     ADMIN_TOKEN, 400, "acme"),
    ("PUT", "/api/v1/maintenance", {"enabled": "yes"}, ADMIN_TOKEN, 400, None),
    ("PUT", "/api/v1/maintenance", {"enabled": True, "retry_after": -1}, ADMIN_TOKEN, 400, None),
    ("POST", "/api/v1/tenants/acme/release", {"active": "purple"}, ADMIN_TOKEN, 400, "acme"),
    ("POST", "/api/v1/tenants/acme/release", {"active": "green", "drain_timeout": "soon"},
     ADMIN_TOKEN, 400, "acme"),
    ("POST", "/api/v1/tenants/acme/release", b"[1, 2]", ADMIN_TOKEN, 400, "acme"),
    ("POST", "/api/v1/tenants/acme/release", {"active": "green", "drain_timeout": "-1s"},
     ADMIN_TOKEN, 400, "acme"),
    ("POST", "/api/v1/tenants/acme/release", {"active": "green", "drain_timeout": 5},
     ADMIN_TOKEN, 400, "acme"),
    ("POST", "/api/v1/tenants/acme/release", {"active": "green", "force": "yes"},
     ADMIN_TOKEN, 400, "acme"),
    ("POST", "/api/v1/tenants/acme/release", {"drain_timeout": "5s"}, ADMIN_TOKEN, 400, "acme"),
    ("PUT", "/api/v1/tenants/acme/maintenance", {"enabled": True, "retry_after": 1.5},
     ADMIN_TOKEN, 400, "acme"),
    ("PUT", "/api/v1/tenants/acme/maintenance", {"enabled": True, "retry_after": "600"},
     ADMIN_TOKEN, 400, "acme"),
    ("PUT", "/api/v1/tenants/acme/maintenance", {"enabled": True, "message": 5},
     ADMIN_TOKEN, 400, "acme"),
    ("PUT", "/api/v1/tenants/acme/maintenance", {"enabled": None}, ADMIN_TOKEN, 400, "acme"),
    ("POST", "/api/v1/tenants/nope/release", {"active": "green"}, ADMIN_TOKEN, 404, "nope"),
    ("PUT", "/api/v1/tenants/nope/maintenance", {"enabled": True}, ADMIN_TOKEN, 404, "nope"),
    ("POST", "/api/v1/tenants/globex/release", {"active": "green"}, ADMIN_TOKEN, 400, "globex"),
    ("POST", "/api/v1/tenants/acme/release", {"active": "green"}, WRONG_TOKEN, 403, "acme"),
    ("PUT", "/api/v1/maintenance", {"enabled": True}, None, 401, None),
]
ACCEPTED = [
    ("PUT", "/api/v1/tenants/acme/maintenance", {"enabled": True, "message": "m"},
     ADMIN_TOKEN, 200, "acme"),
    ("PUT", "/api/v1/tenants/acme/maintenance", {"enabled": False}, ADMIN_TOKEN, 200, "acme"),
    ("POST", "/api/v1/tenants/acme/release", {"active": "green", "drain_timeout": "0s"},
     ADMIN_TOKEN, 202, "acme"),
    ("POST", "/api/v1/reload", None, ADMIN_TOKEN, 200, None),
]


def test_every_mutating_call_is_audited_and_refusals_change_nothing(blue_green):
    bg = blue_green(audit_log=AUDIT)
    p = bg.proxy
    views = {t: release_view(p, t) for t in ("acme", "globex")}
    status_maintenance = p.admin_json("/api/v1/status")["maintenance"]
    assert data_plane(p) == ("blue", 200)
    started = utc_now() - datetime.timedelta(seconds=1)
    for method, path, body, token, status, _ in REFUSED:
        resp = p.admin_call(method, path, body, token=token)
        assert resp.status == status, f"{method} {path} {body!r}: {resp!r}"
        error = resp.json().get("error")
        assert isinstance(error, str) and error, resp
        assert {t: release_view(p, t) for t in views} == views, f"{method} {path} {body!r}"
        assert p.admin_json("/api/v1/status")["maintenance"] == status_maintenance
        assert data_plane(p) == ("blue", 200), f"{method} {path} {body!r} changed traffic"
    for method, path, body, token, status, _ in ACCEPTED:
        resp = p.admin_call(method, path, body, token=token)
        assert resp.status == status, f"{method} {path} {body!r}: {resp!r}"
    assert data_plane(p) == ("green", 200)

    calls = REFUSED + ACCEPTED
    lines = wait_audit(p, len(calls))
    assert len(lines) == len(calls), [l.get("action") for l in lines]
    for line, (method, path, body, token, status, tenant) in zip(lines, calls):
        what = f"{method} {path} {body!r} -> {line}"
        action = ("release" if path.endswith("/release") else
                  "maintenance" if path.endswith("/maintenance") else path.rsplit("/", 1)[1])
        assert line["action"] == action, what
        assert line["status"] == status, what
        assert line["result"] == ("accepted" if status < 300 else "refused"), what
        # An unknown tenant or an unauthenticated call may be audited without a tenant.
        assert line["tenant"] == tenant or (status in (401, 403, 404) and line["tenant"] is None), \
            what
        assert line["token"] == (fingerprint(token) if token else "none"), what
        assert line["client"] == "127.0.0.1", what
        assert line["forced"] is False, what
        assert started <= iso_time(line["time"]) <= utc_now(), what
        assert ("error" in line) == (status >= 300), what
        assert "before" in line and "after" in line, what
        if status < 300 and action != "reload":
            assert line["before"] != line["after"], what
    release_line = lines[len(REFUSED) + 2]
    assert release_line["after"] != release_line["before"] and "green" in json.dumps(
        release_line["after"]), release_line

    # The token never appears, wherever audit lines or logs go.
    everything = [(p.workdir / AUDIT).read_text(), p.stderr_path.read_text(),
                  p.admin_get("/api/v1/audit").text()]
    for text in everything:
        assert ADMIN_TOKEN not in text and WRONG_TOKEN not in text

    assert p.admin_json("/api/v1/audit")["entries"] == lines
    assert p.admin_json("/api/v1/audit?limit=3")["entries"] == lines[-3:]
    assert p.admin_json("/api/v1/audit?limit=1")["entries"] == lines[-1:]
    for bad in ("0", "1001", "-1", "x"):
        resp = p.admin_get(f"/api/v1/audit?limit={bad}")
        assert resp.status == 400 and resp.json().get("error"), (bad, resp)
    assert len(audit_lines(p)) == len(calls), "reads must not be audited"


def test_sigusr1_reopens_the_audit_log(blue_green):
    bg = blue_green(audit_log=AUDIT)
    p = bg.proxy
    put_maintenance(p, {"enabled": True}, "globex")
    wait_audit(p, 1)
    os.rename(p.workdir / AUDIT, p.workdir / f"{AUDIT}.1")
    p.signal(signal.SIGUSR1)
    calls = 1
    for attempt in range(100):  # the reopen happens on the control thread: poll it
        put_maintenance(p, {"enabled": attempt % 2 == 0}, "globex")
        calls += 1
        if audit_lines(p):
            break
        time.sleep(0.02)
    new, old = audit_lines(p), audit_lines(p, f"{AUDIT}.1")
    assert new, "no audit line in the reopened file"
    assert len(new) + len(old) == calls, (len(new), len(old), calls)
    assert old[0]["result"] == "accepted" and new[-1]["tenant"] == "globex"


# ---- state across restarts -------------------------------------------------------------------
def test_restart_keeps_maintenance_and_the_active_colour(upstream, proxy, tmp_path):
    blue, green = upstream("blue"), upstream("green")
    state_file = tmp_path / "shared.state.json"
    text = blue_green_config(blue, green, state={"state_file": str(state_file)})
    p = proxy(text)
    switch(p, "green", drain_timeout="0s")
    put_maintenance(p, {"enabled": True, "message": "kept", "retry_after": 42}, "globex")
    saved = saved_runtime_state(state_file)
    assert saved["releases"]["acme"]["active"] == "green", saved
    kept = saved["tenant_maintenance"]["globex"]
    assert {k: kept[k] for k in ("enabled", "message", "retry_after")} == {
        "enabled": True, "message": "kept", "retry_after": 42}, saved
    # When it was set: replicas merge their changes entry by entry by it.
    assert kept["changed_ms"] >= saved["releases"]["acme"]["switched_at_ms"], saved
    assert isinstance(saved["version"], int) and saved["version"] > 0, saved
    assert p.stop() == 0

    again = proxy(text)
    release = tenant_state(again)["release"]
    assert (release["active"], release["configured_active"]) == ("green", "blue"), release
    assert served_by(again) == "green"
    resp = again.get("/echo/kept", OTHER)
    assert resp.status == 503 and resp.header("Retry-After") == "42" and "kept" in resp.text()
    # A reload keeps the runtime state ...
    again.reload_ok(text)
    assert served_by(again) == "green" and again.get("/echo/k", OTHER).status == 503
    # ... except a removed tenant's: globex back in the config comes back without maintenance.
    again.reload_ok(blue_green_config(blue, green, with_other=False,
                                      state={"state_file": str(state_file)}))
    assert again.get("/echo/k1", OTHER).status == 404
    again.reload_ok(text)
    assert again.get("/echo/k2", OTHER).status == 200


def test_state_file_in_the_contract_shape_is_applied_and_unknown_tenants_ignored(
        upstream, proxy, tmp_path):
    blue, green = upstream("blue"), upstream("green")
    state_file = tmp_path / "given.state.json"
    now_ms = int(time.time() * 1000)
    state_file.write_text(json.dumps({
        "version": now_ms, "origin": "another-replica",
        "global_maintenance": {"enabled": False, "message": "", "retry_after": 0},
        "tenant_maintenance": {"globex": {"enabled": True, "message": "from file",
                                          "retry_after": 7},
                               "gone": {"enabled": True, "message": "x", "retry_after": 1}},
        "releases": {"acme": {"active": "green", "previous": "blue",
                              "switched_at_ms": now_ms - 60_000, "drain_timeout_ms": 1000},
                     "gone": {"active": "green", "previous": None, "switched_at_ms": now_ms,
                              "drain_timeout_ms": 0}}}))
    p = proxy(blue_green_config(blue, green, state={"state_file": str(state_file)}))
    assert served_by(p) == "green"
    resp = p.get("/echo/f", OTHER)
    assert resp.status == 503 and resp.header("Retry-After") == "7" and "from file" in resp.text()
    assert tenant_state(p)["release"]["draining"] is None  # its deadline passed long ago


@pytest.mark.parametrize("content", ["{not json", "", '{"version": "x", "releases": 5}',
                                     '{"version": 1, "releases": {"acme": {"active": "purple"}}}',
                                     None],
                         ids=["not-json", "empty", "wrong-types", "unknown-colour", "directory"])
def test_corrupt_state_file_stops_the_start_naming_the_file(tenantgate_bin, upstream, tmp_path,
                                                            content):
    blue, green = upstream("blue"), upstream("green")
    state_file = tmp_path / "broken.state.json"
    if content is None:
        state_file.mkdir()
    else:
        state_file.write_text(content)
    config = tmp_path / "tenantgate.yaml"
    config.write_text(blue_green_config(blue, green, state={"state_file": str(state_file)}))
    harness.write_admin_token(tmp_path)
    proc = subprocess.Popen([tenantgate_bin, "run", "--config", str(config)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        _, stderr = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        pytest.fail("tenantgate started on a corrupt state file (a silent reset)")
    assert proc.returncode == 1, (proc.returncode, stderr)
    assert str(state_file.name) in stderr, stderr
    if content is not None:
        assert state_file.read_text() == content, "the corrupt state file was overwritten"


def test_kill_9_during_a_burst_of_switches_never_leaves_a_half_written_state_file(
        upstream, proxy, tmp_path):
    blue, green = upstream("blue"), upstream("green")
    state_file = tmp_path / "shared.state.json"
    text = blue_green_config(blue, green, drain_timeout="0s",
                             state={"state_file": str(state_file)})
    for round_ in range(4):
        p = proxy(text)  # each start reads the file: a half-written one would fail it
        current = tenant_state(p)["release"]["active"]
        acked, pending, stop = [current], [None], threading.Event()

        def burst():
            color = acked[-1]
            for n in range(10_000):
                if stop.is_set():
                    return
                color = "green" if color == "blue" else "blue"
                pending[0] = color
                try:
                    resp = p.admin_call("POST", "/api/v1/tenants/acme/release", {"active": color},
                                        timeout=2)
                    if n % 3 == 0:
                        p.admin_call("PUT", "/api/v1/tenants/globex/maintenance",
                                     {"enabled": n % 2 == 0}, timeout=2)
                except (OSError, AssertionError):
                    return
                if resp.status != 202:
                    return
                acked.append(color)

        thread = threading.Thread(target=burst)
        thread.start()
        poll(lambda: len(acked) >= 6 + 5 * round_, 20, "switches acknowledged")
        p.expect_exit = True
        p.proc.kill()
        p.proc.wait(10)
        stop.set()
        thread.join(10)
        saved = saved_runtime_state(state_file)  # never half written
        assert isinstance(saved.get("version"), int), saved
        active = (saved.get("releases") or {}).get("acme", {}).get("active", "blue")
        assert active in (acked[-1], pending[0]), \
            f"round {round_}: state file says {active}, last acknowledged {acked[-1]}"
    p = proxy(text)
    assert tenant_state(p)["release"]["active"] == served_by(p)


# ---- replicas sharing the state through Redis ------------------------------------------------
def redis_config(blue, green, url: str) -> str:
    return blue_green_config(blue, green, drain_timeout="2s",
                             state={"redis": url, "key_prefix": "tg-release:"})


def all_see(replicas, condition, what: str, timeout: float = 1.0) -> float:
    """Polls until condition(p) holds on every replica; returns the seconds it took."""
    start = time.monotonic()
    poll(lambda: all(condition(p) for p in replicas), timeout, what, interval=0.01)
    return time.monotonic() - start


def acme_status(p) -> int:
    return p.get("/echo/r", HOST).status


@needs_redis
def test_three_replicas_see_a_switch_and_a_maintenance_toggle_within_a_second(
        upstream, proxy, redis):  # noqa: F811
    r = redis()
    blue, green = upstream("blue"), upstream("green")
    text = redis_config(blue, green, r.url)
    replicas = [proxy(text) for _ in range(3)]
    for p in replicas:
        wait_redis_up(p, 1)
    switch(replicas[0], "green")
    all_see(replicas, lambda p: tenant_state(p)["release"]["active"] == "green",
            "every replica on green")
    assert [served_by(p) for p in replicas] == ["green"] * 3
    # The others drain blue from the same switch, with the same deadline.
    switched = {tenant_state(p)["release"]["switched_at"] for p in replicas}
    assert len(switched) == 1 and None not in switched, switched
    deadlines = {(tenant_state(p)["release"]["draining"] or {}).get("deadline") for p in replicas}
    assert len(deadlines - {None}) <= 1, deadlines

    put_maintenance(replicas[1], {"enabled": True, "message": "shared", "retry_after": 5}, "acme")
    all_see(replicas, lambda p: acme_status(p) == 503, "every replica in maintenance")
    put_maintenance(replicas[2], {"enabled": False}, "acme")
    all_see(replicas, lambda p: acme_status(p) == 200, "every replica out of maintenance")
    put_maintenance(replicas[0], {"enabled": True, "message": "global"})
    all_see(replicas, lambda p: p.get("/echo/g", OTHER).status == 503,
            "every replica in global maintenance")

    # A replica started now has the current state before it serves.
    late = proxy(text)
    assert tenant_state(late)["release"]["active"] == "green"
    assert late.admin_json("/api/v1/status")["maintenance"]["enabled"] is True
    assert late.get("/echo/late", OTHER).status == 503


def two_replicas_then_redis_down(upstream, proxy, redis):
    """Two replicas sharing a Redis that is then killed; both have seen it go."""
    r = redis()
    blue, green = upstream("blue"), upstream("green")
    text = redis_config(blue, green, r.url)
    first, second = proxy(text), proxy(text)
    for p in (first, second):
        wait_redis_up(p, 1)
    r.kill()
    for p in (first, second):
        wait_redis_up(p, 0)
    return r, first, second


@needs_redis
def test_redis_down_local_changes_work_and_reach_the_others_once_it_is_back(
        upstream, proxy, redis):  # noqa: F811
    r, first, second = two_replicas_then_redis_down(upstream, proxy, redis)
    switch(first, "green", drain_timeout="0s")
    put_maintenance(first, {"enabled": True, "message": "offline change"}, "globex")
    assert served_by(first) == "green" and first.get("/echo/o", OTHER).status == 503
    assert served_by(second) == "blue", "the other replica cannot know without Redis"
    r.start()
    for p in (first, second):
        wait_redis_up(p, 1, timeout=15)
    all_see([second], lambda p: served_by(p) == "green" and p.get("/echo/o", OTHER).status == 503,
            "the change pushed once Redis is back", timeout=10)
    # The replica that kept the older state did not overwrite the newer one.
    assert served_by(first) == "green" and first.get("/echo/o", OTHER).status == 503


@needs_redis
def test_changes_made_on_two_replicas_while_redis_is_down_are_both_kept(
        upstream, proxy, redis):  # noqa: F811
    r, first, second = two_replicas_then_redis_down(upstream, proxy, redis)
    # Different things changed on each side of the outage, the later one on `second`.
    switch(first, "green", drain_timeout="0s")
    put_maintenance(second, {"enabled": True, "message": "later change"}, "globex")
    r.start()
    for p in (first, second):
        wait_redis_up(p, 1, timeout=15)

    def both_kept(p) -> bool:
        return served_by(p) == "green" and p.get("/echo/b", OTHER).status == 503
    try:
        all_see([first, second], both_kept, "both changes on both replicas", timeout=10)
    except AssertionError:
        seen = {name: (served_by(p), p.get("/echo/b", OTHER).status)
                for name, p in (("first", first), ("second", second))}
        raise AssertionError(f"a change made during the outage was lost: (acme colour, globex "
                             f"status) per replica = {seen}; expected ('green', 503) on both")
