"""Blue-green releases (SPEC section 5, issue 12): a switch moves new requests and tunnels to the
new colour at once on every worker, lets requests in flight finish, closes idle upstream
keep-alives to the old colour, and at the drain deadline sends WebSockets a 1012 close frame
and answers parked long polls; progress in GET /api/v1/tenants/NAME and the metrics; switching
to the active colour, a switch that supersedes a drain, and freeze windows."""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import threading
import time
from dataclasses import dataclass

import pytest
import websockets

import harness
import httpraw
import tgconfig
import wsutil
from harness import poll
from test_metrics import PREFIX, PROMTOOL, scrape, tool

HOST = "erp.acme.com"
OTHER = "globex.example.com"  # a tenant on the blue pool without a release
POLL_BODY = b'{"jsonrpc":"2.0","method":"call","params":{"channels":[],"last":0}}'
DRAINED_POLL = {"jsonrpc": "2.0", "id": None, "result": []}  # what a drained long poll gets
DEADLINE_EARLY = 0.25  # a deadline may fire this much early (timer and clock granularity)
DEADLINE_LATE = 1.0    # SPEC: within drain_timeout + 1 s


# ---- helpers shared with test_maintenance.py, test_audit_state.py and test_ctl.py -----------
@dataclass
class BlueGreen:
    """A proxy with tenant acme (HOST) on pools blue and green (one fake Odoo each, named so
    that every answer says which colour served it) and tenant globex (OTHER) on blue (unless
    with_other=False: a pool another tenant uses keeps its idle keep-alives)."""
    proxy: harness.Proxy
    blue: harness.Upstream
    green: harness.Upstream

    @property
    def port(self) -> int:
        return self.proxy.port("http")

    def up(self, color: str) -> harness.Upstream:
        return self.blue if color == "blue" else self.green


def blue_green_config(blue, green, *, drain_timeout: str = "2s", acme_options=None,
                      with_other: bool = True, **render_kwargs) -> str:
    pools = {"blue": tgconfig.pool(blue), "green": tgconfig.pool(green)}
    tenants = {"acme": {"hosts": [HOST], "release": tgconfig.release(drain_timeout=drain_timeout),
                        **(acme_options or {})}}
    if with_other:
        tenants["globex"] = {"hosts": [OTHER], "pool": "blue"}
    return tgconfig.render(pools, tenants, **render_kwargs)


@pytest.fixture
def blue_green(upstream, proxy):
    """Factory: blue_green(drain_timeout="2s", acme_options=None, **render_kwargs)."""

    def start(**kwargs) -> BlueGreen:
        blue, green = upstream("blue"), upstream("green")
        return BlueGreen(proxy(blue_green_config(blue, green, **kwargs)), blue, green)

    return start


def tenant_state(p, name: str = "acme") -> dict:
    return p.admin_json(f"/api/v1/tenants/{name}")


def switch(p, color: str, tenant: str = "acme", status: int = 202, **fields) -> dict:
    """POST /api/v1/tenants/TENANT/release {"active": color, **fields}; asserts the status."""
    resp = p.admin_call("POST", f"/api/v1/tenants/{tenant}/release", {"active": color, **fields})
    assert resp.status == status, f"release {tenant} -> {color} {fields}: {resp!r}"
    return resp.json()


def timed_switch(p, color: str, **fields) -> tuple:
    """switch(); returns (monotonic time before the call, after the answer, answer body)."""
    t0 = time.monotonic()
    body = switch(p, color, **fields)
    return t0, time.monotonic(), body


def assert_at_deadline(at: float, t0: float, t1: float, drain: float, what: str) -> None:
    """`at` (monotonic) is the drain deadline of a switch made between t0 and t1: not before
    t0 + drain (less timer slack), not after t1 + drain + 1 s (SPEC)."""
    assert at - t0 >= drain - DEADLINE_EARLY, f"{what} {at - t0:.3f}s after the switch began"
    assert at - t1 <= drain + DEADLINE_LATE, f"{what} {at - t1:.3f}s after the switch's answer"


def served_by(p, host: str = HOST, target: str = "/echo/who") -> str:
    """Name of the fake Odoo (its colour) that answered a fresh request."""
    resp = p.get(target, host)
    assert resp.status == 200, resp
    return resp.json()["name"]


def iso_time(text: str) -> datetime.datetime:
    """An ISO 8601 UTC timestamp of the API ("...Z")."""
    assert isinstance(text, str) and text.endswith("Z"), f"not an ISO 8601 UTC time: {text!r}"
    return datetime.datetime.fromisoformat(text[:-1] + "+00:00")


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def release_view(p, tenant: str = "acme") -> dict:
    """The parts of GET tenant a refused or no-op call must leave alone."""
    t = tenant_state(p, tenant)
    return {"release": t.get("release"), "maintenance": t.get("maintenance"),
            "active_pool": t.get("active_pool")}


async def ws_open(port: int, color: str | None = None):
    """A WebSocket through the proxy to acme; asserts which colour's Odoo accepted it."""
    ws = await wsutil.connect(port, HOST)
    if color is not None:
        assert ws.response_headers.get("X-Upstream-Name") == color, ws.response_headers
    return ws


async def wait_close(ws, timeout: float) -> tuple:
    """Reads until the server closes; returns (close code received or None, monotonic time).
    Messages that arrive first (echoes still in flight) are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        except websockets.exceptions.ConnectionClosed as e:
            return (e.rcvd.code if e.rcvd else None), time.monotonic()


def release_metrics(p, tenant: str = "acme") -> tuple:
    """(active colour by release_active_color, release_draining_connections)."""
    m = scrape(p)
    colors = {l["color"]: v for l, v in m.series(PREFIX + "release_active_color", tenant=tenant)}
    assert set(colors) == {"blue", "green"}, colors
    active = [c for c, v in colors.items() if v == 1]
    assert len(active) == 1 and sum(colors.values()) == 1, colors
    return active[0], m.total(PREFIX + "release_draining_connections", tenant=tenant)


# ---- the switch under load -------------------------------------------------------------------
class Load:
    """Keep-alive web clients, long pollers and WebSockets against acme, each in its own
    thread (the WebSockets in one asyncio thread), recording every exchange."""

    def __init__(self, port: int, web_clients: int, pollers: int, websockets_n: int):
        self.port = port
        self.stop = threading.Event()
        self.switched = threading.Event()
        self.switched_at = None  # monotonic time the 202 arrived
        self.lock = threading.Lock()
        self.web = []     # (sent, answered, status or error text, colour)
        self.polls = []   # (sent, answered, status or error text, colour or "drained")
        self.sockets = [dict() for _ in range(websockets_n)]
        self.threads = [threading.Thread(target=self.web_client, args=(i,), daemon=True)
                        for i in range(web_clients)]
        self.threads += [threading.Thread(target=self.poller, args=(i,), daemon=True)
                         for i in range(pollers)]
        self.threads.append(threading.Thread(target=self.websocket_thread, daemon=True))
        for t in self.threads:
            t.start()

    def record(self, into: list, item: tuple) -> None:
        with self.lock:
            into.append(item)

    def web_client(self, i: int) -> None:
        conn = None
        for n in range(20_000):
            if self.stop.is_set():
                break
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = httpraw.HttpConn(self.port, timeout=10)
                resp = conn.request("GET", f"/echo/load-{i}-{n}", HOST)
                color = resp.json()["name"] if resp.status == 200 else None
                self.record(self.web, (sent, time.monotonic(), resp.status, color))
                if resp.has_token("Connection", "close"):
                    conn.close()
                    conn = None
            except Exception as e:  # a failed request: counted, and a fresh connection
                self.record(self.web, (sent, time.monotonic(), f"{type(e).__name__}: {e}", None))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def poller(self, i: int) -> None:
        """Odoo's bus client: POST /longpolling/poll in a loop on a keep-alive connection. Polls
        sent before the switch park far longer than the test (only the drain can end them);
        later ones return after 300 ms."""
        conn = None
        for n in range(200):
            if self.stop.is_set():
                break
            sent = time.monotonic()
            ms = 300 if self.switched.is_set() else 60_000
            try:
                if conn is None:
                    conn = httpraw.HttpConn(self.port, timeout=15)
                resp = conn.request("POST", f"/longpolling/poll?ms={ms}&p={i}-{n}", HOST,
                                    [("Content-Type", "application/json")], POLL_BODY)
                body = resp.json() if resp.status == 200 else None
                color = "drained" if body == DRAINED_POLL else (body or {}).get("name")
                self.record(self.polls, (sent, time.monotonic(), resp.status, color))
                if resp.has_token("Connection", "close"):
                    conn.close()
                    conn = None
            except Exception as e:
                self.record(self.polls, (sent, time.monotonic(), f"{type(e).__name__}: {e}", None))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def websocket_thread(self) -> None:
        async def all_sockets():
            await asyncio.gather(*(self.websocket(s) for s in self.sockets))

        try:
            wsutil.run(all_sockets(), timeout=60)
        except Exception as e:
            for s in self.sockets:
                s.setdefault("error", f"{type(e).__name__}: {e}")

    async def websocket(self, state: dict) -> None:
        """Connects, echoes every 100 ms until the server closes, then reconnects once."""
        ws = await ws_open(self.port)
        state["first"] = ws.response_headers.get("X-Upstream-Name")
        try:
            for n in range(2000):
                if self.stop.is_set():
                    return
                await ws.send(f"ping {n}")
                await asyncio.wait_for(ws.recv(), 10)
                await asyncio.sleep(0.1)
        except websockets.exceptions.ConnectionClosed as e:
            state["code"] = e.rcvd.code if e.rcvd else None
            state["closed_at"] = time.monotonic()
        finally:
            await ws.close()
        again = await ws_open(self.port)
        state["second"] = again.response_headers.get("X-Upstream-Name")
        state["echo"] = await wsutil.echo_roundtrip(again, "after") == "after"
        await again.close()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads), "a load thread did not finish"

    def answered_by_since(self, records: list, since: float) -> list:
        with self.lock:
            return [r for r in records if r[0] >= since]


def test_release_under_load_moves_every_client_without_a_failure(blue_green):
    drain = 2.0
    # No other tenant on blue's pool: its idle keep-alives have no reason to stay.
    bg = blue_green(drain_timeout="2s", workers=2, with_other=False)
    load = Load(bg.port, web_clients=6, pollers=3, websockets_n=4)
    try:
        # Everything running on blue first: web traffic, parked polls, open WebSockets.
        poll(lambda: len(load.web) >= 300, 20, "web traffic on blue")
        poll(lambda: all("first" in s or "error" in s for s in load.sockets), 10,
             "the WebSockets open")
        # Open WebSockets count as requests in flight at the fake Odoo too.
        poll(lambda: bg.blue.stats("longpolling")["in_flight"] == 3 + len(load.sockets), 10,
             "three parked polls")
        assert all(s["first"] == "blue" for s in load.sockets), load.sockets
        sent_before = len(load.web)

        t0, t1, body = timed_switch(bg.proxy, "green")
        load.switched.set()
        assert body["result"] == "switched" and body["release"]["active"] == "green", body

        def moved():
            polls_on_green = [r for r in load.answered_by_since(load.polls, t1)
                              if r[3] == "green"]
            return (all("second" in s or "error" in s for s in load.sockets)
                    and len(polls_on_green) >= 6
                    and sum(1 for r in load.answered_by_since(load.web, t1)
                            if r[3] == "green") >= 300)
        poll(moved, drain + 8, "WebSockets, polls and web traffic moved to green", interval=0.05)
    finally:
        load.finish()

    web_failed = [r for r in load.web if r[2] != 200]
    poll_failed = [r for r in load.polls if r[2] != 200]
    late_blue = [r for r in load.web if r[0] >= t1 and r[3] != "green"]
    blue_after_t0 = [r[0] for r in load.web if r[0] >= t0 and r[3] == "blue"]
    move_ms = (max(blue_after_t0) - t0) * 1000 if blue_after_t0 else 0.0
    moved_ws = [s for s in load.sockets if s.get("code") == 1012 and s.get("second") == "green"
                and s.get("echo")]
    drained_polls = [r for r in load.polls if r[3] == "drained"]
    sent = len(load.web) + len(load.polls)
    print(f"RELEASE-FIGURES sent={sent} failed={len(web_failed) + len(poll_failed)} "
          f"websockets_moved={len(moved_ws)}/{len(load.sockets)} move_ms={move_ms:.1f} "
          f"switch_call_ms={(t1 - t0) * 1000:.1f} web={len(load.web)} "
          f"web_before_switch={sent_before} polls={len(load.polls)} "
          f"polls_drained={len(drained_polls)}")

    assert not web_failed, f"{len(web_failed)} web requests failed: {web_failed[:5]}"
    assert not poll_failed, f"{len(poll_failed)} long polls failed: {poll_failed[:5]}"
    assert not late_blue, f"requests sent after the 202 not served by green: {late_blue[:5]}"
    assert len(moved_ws) == len(load.sockets), load.sockets
    for s in load.sockets:
        assert_at_deadline(s["closed_at"], t0, t1, drain, f"WebSocket closed {s}")
    # The three polls parked on blue were answered at the deadline, and none lost its place.
    assert len(drained_polls) == 3, load.polls
    for r in drained_polls:
        assert r[1] - t1 <= drain + DEADLINE_LATE, r
    poll(lambda: bg.blue.stats("longpolling")["open"] == 1, 5,
         "blue's longpolling worker left with no connection but /__stats")
    poll(lambda: bg.blue.stats()["open"] == 1, 5, "no idle keep-alive to blue's web worker")


# ---- one thing at a time ---------------------------------------------------------------------
def test_websockets_on_blue_get_1012_at_the_deadline_and_reconnect_to_green(blue_green):
    drain = 2.0
    bg = blue_green(drain_timeout="2s")
    chunk = bytes(range(256)) * 1024  # 256 KiB per message: frames are always in flight

    async def scenario():
        idle = await ws_open(bg.port, "blue")
        busy = await ws_open(bg.port, "blue")
        echoed = 0

        async def pump():
            nonlocal echoed
            try:
                for n in range(100_000):
                    message = n.to_bytes(4, "big") + chunk
                    await busy.send(message)
                    assert await asyncio.wait_for(busy.recv(), 10) == message
                    echoed += 1
            except websockets.exceptions.ConnectionClosed as e:
                return (e.rcvd.code if e.rcvd else None), (e.rcvd.reason if e.rcvd else None)

        pumping = asyncio.create_task(pump())
        for _ in range(500):
            if echoed >= 3:
                break
            await asyncio.sleep(0.01)
        assert echoed >= 3
        t0, t1, _ = await asyncio.to_thread(timed_switch, bg.proxy, "green")
        code, closed_at = await wait_close(idle, drain + 3)
        busy_code, busy_reason = await asyncio.wait_for(pumping, drain + 3)
        again = await ws_open(bg.port, "green")
        assert await wsutil.echo_roundtrip(again, "on green") == "on green"
        await again.close()
        return code, (closed_at, t0, t1), busy_code, busy_reason, echoed

    code, times, busy_code, busy_reason, echoed = wsutil.run(scenario(), timeout=30)
    assert code == 1012, f"idle WebSocket closed with {code}"
    assert_at_deadline(*times, drain, "the idle WebSocket closed")
    # A close frame injected in the middle of a 256 KiB frame would be a protocol error (1002
    # on our side, no close frame received): it must come between two frames.
    assert (busy_code, busy_reason) == (1012, "release"), (busy_code, busy_reason)
    assert echoed > 3
    poll(lambda: bg.blue.stats("longpolling")["open"] == 1, 5,
         "the upstream sides of blue's tunnels closed")


def slow_get(port: int, target: str, out: dict) -> None:
    try:
        with httpraw.HttpConn(port, timeout=30) as conn:
            started = time.monotonic()
            out["resp"] = conn.request("GET", target, HOST)
            out["elapsed"] = time.monotonic() - started
    except Exception as e:
        out["error"] = e


def test_in_flight_request_finishes_on_blue_and_idle_keepalives_to_blue_close(blue_green):
    bg = blue_green(drain_timeout="1s", workers=2, with_other=False)
    for i in range(8):  # fresh connections: both workers pool idle connections to blue
        assert served_by(bg.proxy, target=f"/echo/warm{i}") == "blue"
    assert bg.blue.stats()["open"] >= 2, "no idle upstream keep-alive to blue to close"
    out = {}
    slow = threading.Thread(target=slow_get, args=(bg.port, "/slow?ms=2500", out))
    slow.start()
    poll(lambda: bg.blue.stats()["in_flight"] == 1, 10, "the slow request at blue")
    switch(bg.proxy, "green", drain_timeout="1s")
    # The idle keep-alives close at once; left open: the slow request's and our /__stats.
    poll(lambda: bg.blue.stats()["open"] == 2, 2, "idle keep-alives to blue closed")
    assert served_by(bg.proxy) == "green"
    slow.join(30)
    assert "error" not in out, out
    resp = out["resp"]
    # The drain deadline (1 s) does not cut a plain request: it finishes on blue.
    assert resp.status == 200 and resp.json()["name"] == "blue", resp
    assert out["elapsed"] >= 2.5
    # ... and its upstream connection is not pooled again afterwards.
    poll(lambda: bg.blue.stats()["open"] == 1, 5, "the slow request's connection closed")
    blue_requests = bg.blue.stats()["requests"]
    for i in range(6):
        assert served_by(bg.proxy, target=f"/echo/after{i}") == "green"
    assert bg.blue.stats()["requests"] == blue_requests


def test_parked_long_poll_answered_at_the_deadline_and_the_next_lands_on_green(blue_green):
    drain = 2.0
    bg = blue_green(drain_timeout="2s")
    with bg.proxy.connect(timeout=15) as conn:
        conn.send_request("POST", "/longpolling/poll?ms=30000", HOST,
                          [("Content-Type", "application/json")], POLL_BODY)
        poll(lambda: bg.blue.stats("longpolling")["in_flight"] == 1, 10, "the poll parked on blue")
        t0, t1, _ = timed_switch(bg.proxy, "green")
        resp = conn.read_response(timeout=drain + 5)
        answered = time.monotonic()
        closed = conn.wait_closed(timeout=2) if resp.has_token("Connection", "close") else None
    assert resp.status == 200, resp
    assert resp.json() == DRAINED_POLL, resp
    assert_at_deadline(answered, t0, t1, drain, "the parked poll answered")
    assert closed in (None, True), "Connection: close announced but the connection stayed open"
    # The upstream side of the parked poll is closed, not left waiting 30 s.
    poll(lambda: bg.blue.stats("longpolling")["abandoned"] == 1, 2, "blue's parked poll closed")
    resp = bg.proxy.request("POST", "/longpolling/poll?ms=50", HOST,
                            [("Content-Type", "application/json")], POLL_BODY)
    assert resp.status == 200 and resp.json()["name"] == "green", resp


def test_progress_in_the_tenant_api_and_metrics(blue_green):
    bg = blue_green(drain_timeout="3s")
    p = bg.proxy
    before = tenant_state(p)["release"]
    expected = {"blue": "blue", "green": "green", "active": "blue", "configured_active": "blue",
                "drain_timeout": "3s", "switched_at": None, "draining": None}
    assert {k: before.get(k, "<absent>") for k in expected} == expected, before
    assert tenant_state(p)["active_pool"] == "blue"
    assert release_metrics(p) == ("blue", 0)

    async def scenario():
        parked = httpraw.HttpConn(bg.port, timeout=15)
        parked.send_request("POST", "/longpolling/poll?ms=30000", HOST, body=POLL_BODY)
        await asyncio.to_thread(poll, lambda: bg.blue.stats("longpolling")["in_flight"] == 1, 10,
                                "the poll parked")
        sockets = [await ws_open(bg.port, "blue") for _ in range(2)]
        wall = utc_now()
        body = await asyncio.to_thread(switch, p, "green")  # drain_timeout: the tenant's 3s
        during = await asyncio.to_thread(tenant_state, p)
        metrics = await asyncio.to_thread(release_metrics, p)
        exposition = await asyncio.to_thread(scrape, p)
        codes = [(await wait_close(ws, 6))[0] for ws in sockets]
        parked.close()
        return wall, body, during, metrics, exposition, codes

    wall, body, during, metrics, exposition, codes = wsutil.run(scenario(), timeout=30)
    assert body["tenant"] == "acme" and body["forced"] is False, body
    release = during["release"]
    assert (release["active"], release["configured_active"]) == ("green", "blue"), release
    assert during["active_pool"] == "green"
    switched_at = iso_time(release["switched_at"])
    assert abs((switched_at - wall).total_seconds()) < 2, (switched_at, wall)
    draining = release["draining"]
    assert draining is not None and draining["color"] == "blue", release
    assert draining["connections"] == 3, draining  # two WebSockets and the parked poll
    deadline = iso_time(draining["deadline"])
    assert abs((deadline - switched_at).total_seconds() - 3) < 0.01, (deadline, switched_at)
    assert metrics == ("green", 3)
    assert codes == [1012, 1012]
    # The new series are gauges, and the exposition stays valid mid-drain.
    kinds = {n: exposition.types.get(PREFIX + n) for n in
             ("release_active_color", "release_draining_connections", "maintenance_enabled")}
    assert kinds == dict.fromkeys(kinds, "gauge"), kinds
    checked = subprocess.run([tool(PROMTOOL), "check", "metrics"], input=exposition.text,
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, f"promtool check metrics:\n{checked.stdout}{checked.stderr}"
    poll(lambda: tenant_state(p)["release"]["draining"] is None, 3, "the drain over")
    assert release_metrics(p) == ("green", 0)
    assert tenant_state(p)["release"]["switched_at"] == release["switched_at"]


def test_switch_to_the_active_color_is_200_and_changes_nothing(blue_green):
    bg = blue_green(drain_timeout="1s")
    p = bg.proxy

    async def scenario():
        ws = await ws_open(bg.port, "blue")
        before = await asyncio.to_thread(release_view, p)
        body = await asyncio.to_thread(switch, p, "blue", status=200)
        after = await asyncio.to_thread(release_view, p)
        metrics = await asyncio.to_thread(release_metrics, p)
        # No drain started: the WebSocket on blue stays open past drain_timeout.
        await asyncio.sleep(1.5)
        kept = await wsutil.echo_roundtrip(ws, "still here")
        # Once switched, a second "green" keeps the first switch's time and drain deadline:
        # the tunnel left on blue is not closed after the no-op's 1 s.
        await asyncio.to_thread(switch, p, "green", drain_timeout="30s")
        first = (await asyncio.to_thread(tenant_state, p))["release"]
        again = await asyncio.to_thread(switch, p, "green", status=200, drain_timeout="1s")
        second = (await asyncio.to_thread(tenant_state, p))["release"]
        await asyncio.sleep(1.5)
        still = await wsutil.echo_roundtrip(ws, "draining")
        await ws.close()
        return before, body, after, metrics, kept, first, again, second, still

    before, body, after, metrics, kept, first, again, second, still = \
        wsutil.run(scenario(), timeout=30)
    assert body["result"] == "unchanged", body
    assert after == before and after["release"]["draining"] is None, (before, after)
    assert metrics == ("blue", 0)
    assert kept == "still here"
    assert again["result"] == "unchanged", again
    assert first["draining"] and first["draining"]["color"] == "blue", first
    assert (second["active"], second["switched_at"], second["draining"]["deadline"]) == \
        (first["active"], first["switched_at"], first["draining"]["deadline"]), (first, second)
    assert still == "draining"


def test_a_switch_during_a_drain_supersedes_it(blue_green):
    bg = blue_green(drain_timeout="2s")
    p = bg.proxy

    async def scenario():
        on_blue = await ws_open(bg.port, "blue")
        await asyncio.to_thread(switch, p, "green", drain_timeout="3s")
        first_switch = time.monotonic()
        on_green = await ws_open(bg.port, "green")
        second = await asyncio.to_thread(timed_switch, p, "blue", drain_timeout="1s")
        state = await asyncio.to_thread(tenant_state, p)
        code, closed_at = await wait_close(on_green, 4)
        # blue is active again: its tunnel outlives the superseded drain's deadline.
        await asyncio.sleep(max(0.0, first_switch + 3.5 - time.monotonic()))
        echo = await wsutil.echo_roundtrip(on_blue, "blue again")
        await on_blue.close()
        return state, code, (closed_at, second[0], second[1]), echo

    state, code, times, echo = wsutil.run(scenario(), timeout=30)
    release = state["release"]
    assert release["active"] == "blue" and release["draining"]["color"] == "green", release
    deadline = iso_time(release["draining"]["deadline"])
    assert abs((deadline - iso_time(release["switched_at"])).total_seconds() - 1) < 0.01, release
    assert code == 1012, code
    assert_at_deadline(*times, 1.0, "the WebSocket on green closed")
    assert echo == "blue again"
    assert served_by(p) == "blue"
    poll(lambda: tenant_state(p)["release"]["draining"] is None, 3, "the drain over")


def test_new_requests_go_to_green_on_every_worker_at_once(blue_green):
    bg = blue_green(workers=2)
    switch(bg.proxy, "green")
    # Fresh connections spread over both workers (SO_REUSEPORT): none may still see blue.
    got = [served_by(bg.proxy, target=f"/echo/spread{i}") for i in range(30)]
    assert got == ["green"] * 30, got
    assert served_by(bg.proxy, host=OTHER) == "blue"  # another tenant on the blue pool
    switch(bg.proxy, "blue", drain_timeout="0s")
    assert [served_by(bg.proxy, target=f"/echo/back{i}") for i in range(30)] == ["blue"] * 30


# ---- freeze windows --------------------------------------------------------------------------
def freeze_window_now(name: str) -> tuple:
    """A window holding the current UTC minute (today only, an hour either side, clipped to
    the day) and the instant it ends (the minute after its `to`)."""
    now = utc_now()
    minute = now.hour * 60 + now.minute
    start, end = max(0, minute - 60), min(24 * 60 - 1, minute + 60)
    window = {"name": name, "days_of_month": [now.day], "from": f"{start // 60:02d}:{start % 60:02d}",
              "to": f"{end // 60:02d}:{end % 60:02d}", "timezone": "UTC"}
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return window, midnight + datetime.timedelta(minutes=end + 1)


def test_freeze_window_refuses_409_and_a_forced_switch_is_audited(blue_green):
    window, until = freeze_window_now("release-freeze-test")
    bg = blue_green(freeze_windows=[window], audit_log="audit.log")
    p = bg.proxy
    before = release_view(p)
    resp = p.admin_call("POST", "/api/v1/tenants/acme/release", {"active": "green"})
    assert resp.status == 409, resp
    body = resp.json()
    assert body["window"] == "release-freeze-test", body
    assert iso_time(body["until"]) == until, (body, until)
    assert "release-freeze-test" in body["error"] and body["until"] in body["error"], body
    assert release_view(p) == before and served_by(p) == "blue"
    forced = switch(p, "green", force=True)
    assert forced["result"] == "switched" and forced["forced"] is True, forced
    assert served_by(p) == "green"
    lines = poll(lambda: (l := harness.read_json_lines(p.workdir / "audit.log"))
                 and len(l) >= 2 and l, 5, "two audit lines")
    refused, accepted = lines[-2], lines[-1]
    assert (refused["action"], refused["tenant"], refused["result"], refused["status"],
            refused["forced"]) == ("release", "acme", "refused", 409, False), refused
    assert "release-freeze-test" in refused["error"], refused
    assert (accepted["action"], accepted["tenant"], accepted["result"], accepted["status"],
            accepted["forced"]) == ("release", "acme", "accepted", 202, True), accepted


def test_freeze_window_crossing_midnight_is_a_valid_config(tenantgate_bin, tmp_path, upstream):
    up = upstream("blue")
    text = tgconfig.render({"blue": tgconfig.pool(up), "green": tgconfig.pool(up)},
                           {"acme": {"hosts": [HOST], "release": tgconfig.release()}},
                           freeze_windows=[{"name": "overnight", "days_of_month": [-1, 1, 15],
                                            "from": "22:00", "to": "02:00", "timezone": "UTC"}])
    path = tmp_path / "tenantgate.yaml"
    path.write_text(text)
    harness.write_admin_token(tmp_path)
    result = subprocess.run([tenantgate_bin, "check", "--config", str(path)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result
    assert result.stdout.startswith("config OK"), result.stdout
