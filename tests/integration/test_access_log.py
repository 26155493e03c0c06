"""Access log (SPEC section 7): one JSON object per request on stdout, written asynchronously."""

import uuid

KEYS = {"time", "request_id", "client_ip", "tenant", "route", "method", "path", "status",
        "bytes_in", "bytes_out", "duration_ms", "upstream", "color"}


def test_one_json_line_per_request(gateway):
    g = gateway()
    body = b"hello world"
    requests = [
        ("GET", "/web/login", b"", "web", g.up.web),
        ("POST", "/echo/form", body, "web", g.up.web),
        ("GET", "/longpolling/im_status", b"", "longpolling", g.up.longpolling),
    ]
    sent = []
    for method, path, payload, route, port in requests:
        rid = uuid.uuid4().hex
        resp = g.request(method, path, [("X-Request-Id", rid)], payload)
        assert resp.status == 200 and resp.header("X-Request-Id") == rid, resp
        sent.append((rid, method, path, payload, route, port))

    problems = []
    for rid, method, path, payload, route, port in sent:
        entry = g.proxy.access_log_entry(rid)
        missing = KEYS - entry.keys()
        if missing:
            problems.append(f"{path}: missing keys {sorted(missing)}")
            continue
        expected = {"tenant": "acme", "route": route, "method": method, "path": path,
                    "status": 200, "client_ip": "127.0.0.1"}
        got = {k: entry[k] for k in expected}
        if got != expected:
            problems.append(f"{path}: {got} != {expected}")
        if not (isinstance(entry["bytes_in"], int) and entry["bytes_in"] >= len(payload)):
            problems.append(f"{path}: bytes_in {entry['bytes_in']!r}")
        if not (isinstance(entry["bytes_out"], int) and entry["bytes_out"] > 0):
            problems.append(f"{path}: bytes_out {entry['bytes_out']!r}")
        if not (isinstance(entry["duration_ms"], (int, float)) and entry["duration_ms"] >= 0):
            problems.append(f"{path}: duration_ms {entry['duration_ms']!r}")
        if str(port) not in str(entry["upstream"]):
            problems.append(f"{path}: upstream {entry['upstream']!r} is not port {port}")
        if not (isinstance(entry["time"], str) and entry["time"]):
            problems.append(f"{path}: time {entry['time']!r}")
    assert not problems, "\n".join(problems)
    per_request = [sum(l.get("request_id") == s[0] for l in g.proxy.access_log_lines())
                   for s in sent]
    assert per_request == [1, 1, 1], "one access log line per request"


def test_requests_refused_by_the_proxy_are_logged(gateway):
    g = gateway()
    rid = uuid.uuid4().hex
    resp = g.proxy.get("/web/login", "unknown.example.net", [("X-Request-Id", rid)])
    assert resp.status == 404
    entry = g.proxy.access_log_entry(rid)
    assert entry["status"] == 404
    assert entry["path"] == "/web/login"
    assert KEYS <= entry.keys()
