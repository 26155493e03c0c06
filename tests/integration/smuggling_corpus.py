"""The request-smuggling corpus (tests/integration/smuggling/): loading the cases, sending one
case's raw bytes to a proxy, and what came of it on both sides. Shared by
test_smuggling_corpus.py and smuggling/compare_haproxy.py.

A case is `NAME.http` (the raw request bytes, stored unescaped), its entry in `cases.toml`
(the responses the client must get, then whether the connection stays open) and, when
something must reach the upstream, `NAME.upstream`: the exact bytes the upstream must receive,
with each generated X-Request-Id written as REQUEST_ID_PLACEHOLDER.
"""

from __future__ import annotations

import pathlib
import re
import time
import tomllib
from dataclasses import dataclass, field

import httpraw
import tgconfig
from harness import stays_false

CORPUS = pathlib.Path(__file__).resolve().parent / "smuggling"
HOST = "erp.acme.com"
OTHER_HOST = "other.example.com"  # a second tenant, for absolute-form targets naming it
REQUEST_ID_RE = re.compile(rb"X-Request-Id: ([0-9a-f]{32})\r\n")
REQUEST_ID_PLACEHOLDER = b"X-Request-Id: {request-id}\r\n"
MAX_RESPONSES = 4
RESPONSE_TIMEOUT = 6.0  # above client_header (2s) below: a stalled head gets its 408 first
QUIET = 0.5  # how long "no further response" is waited for when the count is not known


@dataclass
class Case:
    name: str
    raw: bytes
    why: str
    responses: list  # expected statuses, in order (interim 1xx listed separately)
    then: str  # "close" or "open"
    interim: list = field(default_factory=list)
    upstream: bytes | None = None  # None: nothing may reach the upstream


@dataclass
class Outcome:
    """What one case did: the client's responses, and what the upstream received."""
    statuses: list
    interim: list
    closed: bool
    request_ids: list
    upstream: bytes

    def client_summary(self) -> str:
        interim = "".join(f"{s} " for s in self.interim)
        return f"{interim}{' '.join(map(str, self.statuses)) or 'none'} + " + \
               ("close" if self.closed else "open")


def load_cases() -> list:
    manifest = tomllib.loads((CORPUS / "cases.toml").read_text())
    cases = []
    for raw_path in sorted(CORPUS.glob("*.http")):
        name = raw_path.stem
        assert name in manifest, f"{raw_path.name} has no entry in cases.toml"
        entry = manifest[name]
        upstream_path = CORPUS / f"{name}.upstream"
        cases.append(Case(name, raw_path.read_bytes(), entry["why"], entry["responses"],
                          entry["then"], entry.get("interim", []),
                          upstream_path.read_bytes() if upstream_path.exists() else None))
    missing = set(manifest) - {c.name for c in cases}
    assert not missing, f"cases.toml names cases without a .http file: {sorted(missing)}"
    return cases


def tenantgate_config(upstream_addr: str) -> str:
    """Two tenants on one capturing upstream; a small head limit so an overlong request line
    fits in a corpus file; client_header short so a head that never completes ends soon."""
    pools = {"capture": {"web": [upstream_addr]}}
    tenants = {"acme": {"hosts": [HOST], "pool": "capture"},
               "other": {"hosts": [OTHER_HOST], "pool": "capture"}}
    return tgconfig.render(pools, tenants, workers=1, access_log="off",
                           timeouts={"client_header": "2s"},
                           limits={"max_header_bytes": "8KiB", "max_request_body": "1MiB"})


def mask_request_ids(data: bytes) -> tuple:
    """(data with each X-Request-Id value replaced by the placeholder, the ids in order)."""
    ids = [m.decode() for m in REQUEST_ID_RE.findall(data)]
    return REQUEST_ID_RE.sub(REQUEST_ID_PLACEHOLDER, data), ids


def read_responses(conn: httpraw.HttpConn, count: int | None) -> tuple:
    """Reads `count` responses (None: until the connection closes or stays quiet for QUIET
    seconds after a response). Returns (responses, closed)."""
    responses = []
    while count is None or len(responses) < count:
        if count is None and responses and not conn.data_available(wait=QUIET):
            break
        try:
            resp = conn.read_response(timeout=RESPONSE_TIMEOUT)
        except httpraw.ConnectionClosedEarly:
            return responses, True
        except httpraw.HttpTimeout:
            if count is None and not responses:
                break
            raise
        responses.append(resp)
        if count is None and len(responses) >= MAX_RESPONSES:
            break
    return responses, None


def run_case(port: int, raw: bytes, upstream, expected_responses: int | None = None,
             expected_upstream: bytes | None = None) -> Outcome:
    """Sends `raw` on a fresh connection to 127.0.0.1:port and records the outcome.

    `expected_responses`: how many final responses to read (None: as many as come).
    `expected_upstream`: the masked upstream bytes the caller expects; the upstream recording
    is awaited until it matches (bounded), otherwise until it stops changing."""
    mark = upstream.mark()
    with httpraw.HttpConn(port, timeout=RESPONSE_TIMEOUT) as conn:
        conn.try_send(raw)
        responses, closed = read_responses(conn, expected_responses)
        if closed is None:
            # Open or closing: a closed connection shows within the wait; data instead of a
            # close is kept in conn.buf and counts as open.
            closed = conn.wait_closed(timeout=QUIET)
    received = settled_upstream_bytes(upstream, mark, expected_upstream)
    statuses = [r.status for r in responses]
    interim = [i.status for r in responses for i in r.interim]
    return Outcome(statuses, interim, closed,
                   [r.header("X-Request-Id") for r in responses], received)


def settled_upstream_bytes(upstream, mark, expected: bytes | None,
                           timeout: float = 5.0) -> bytes:
    """The upstream recording since `mark`, once it equals `expected` (when given) or has not
    changed for QUIET seconds; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    last, stable_since = None, time.monotonic()
    while True:
        data = upstream.bytes_since(mark)
        if expected is not None and mask_request_ids(data)[0] == expected:
            # Matched; bytes that should not come get a moment to show up.
            stays_false(lambda: upstream.bytes_since(mark) != data, 0.2)
            return upstream.bytes_since(mark)
        if data != last:
            last, stable_since = data, time.monotonic()
        elif time.monotonic() - stable_since >= QUIET:
            return data
        if time.monotonic() >= deadline:
            return data
        time.sleep(0.02)


def upstream_requests(data: bytes) -> list:
    """A readable summary of the requests in upstream bytes: 'METHOD target body=N' each, and
    'incomplete' for a request cut short (the proxy gave up on it mid-way)."""
    out = []
    rest = data
    while rest:
        end = rest.find(b"\r\n\r\n")
        if end < 0:
            out.append("incomplete head")
            break
        head, rest = rest[:end], rest[end + 4:]
        first, *lines = head.split(b"\r\n")
        fields = {}
        for line in lines:
            name, _, value = line.partition(b":")
            fields.setdefault(name.strip().lower(), value.strip())
        parts = first.decode("latin-1").split(" ")
        host = fields.get(b"host", b"").decode("latin-1")
        target = parts[1] if len(parts) > 1 else ""
        if len(target) > 40:
            target = f"{target[:20]}...({len(target)} bytes)"
        label = f"{parts[0]} {target} (Host {host})"
        body, rest, complete = _split_body(fields, rest)
        out.append(f"{label} body={len(body)}" + ("" if complete else " incomplete"))
    return out


def _split_body(fields: dict, rest: bytes) -> tuple:
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        body = b""
        while True:
            eol = rest.find(b"\r\n")
            if eol < 0:
                return body, b"", False
            try:
                size = int(rest[:eol].split(b";")[0], 16)
            except ValueError:
                return body, b"", False
            if size == 0:
                end = rest.find(b"\r\n\r\n", eol)  # trailer fields, then the empty line
                if rest[eol:eol + 4] == b"\r\n\r\n":
                    end = eol
                return (body, rest[end + 4:], True) if end >= 0 else (body, b"", False)
            if len(rest) < eol + 2 + size + 2:
                return body + rest[eol + 2:], b"", False
            body += rest[eol + 2:eol + 2 + size]
            rest = rest[eol + 2 + size + 2:]
    try:
        length = int(fields.get(b"content-length", b"0").split(b",")[0] or b"0")
    except ValueError:
        return b"", b"", False
    return rest[:length], rest[length:], len(rest) >= length
