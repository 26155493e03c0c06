"""Builds tenantgate YAML configs (SPEC section 2) for the tests.

A tiny YAML emitter keeps the tests free of third-party modules: block mappings, flow
sequences, JSON-style double-quoted strings (valid YAML).
"""

from __future__ import annotations

import json

ADMIN_TOKEN_FILE = "admin.token"
DEFAULT_TIMEOUTS = {
    "client_header": "5s",
    "client_idle": "30s",
    "upstream_connect": "2s",
    "upstream_response": "30s",
    "longpolling": "60s",
}


def _scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_scalar(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot emit {type(v).__name__} as YAML")


def to_yaml(mapping: dict, indent: int = 0) -> str:
    pad = " " * indent
    out = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            out.append(f"{pad}{key}:\n{to_yaml(value, indent + 2)}")
        else:
            out.append(f"{pad}{key}: {_scalar(value)}\n")
    return "".join(out)


def pool(upstream, longpolling: bool = True, **options) -> dict:
    """A pool for one fake upstream (web and, optionally, longpolling workers)."""
    p = {"web": [upstream.web_addr]}
    if longpolling:
        p["longpolling"] = [upstream.longpolling_addr]
    p.update(options)
    return p


def release(blue: str = "blue", green: str = "green", active: str = "blue",
            drain_timeout: str = "2s") -> dict:
    """A tenant's `release` block (SPEC section 2): two pools and the active colour."""
    return {"blue": blue, "green": green, "active": active, "drain_timeout": drain_timeout}


def render(pools: dict, tenants: dict, *, tenant_templates=None, timeouts=None, limits=None,
           trusted_proxies=None, token_file=ADMIN_TOKEN_FILE, access_log="stdout", workers=2,
           listeners=None, **extra) -> str:
    """A complete config. Listeners and admin bind 127.0.0.1:0 (the real ports are read from
    the ops log). The admin token file is relative: harness.Proxy creates it (mode 0600) next to
    the config, which is also the proxy's working directory. Extra keyword arguments become
    top-level keys."""
    cfg = {
        "workers": workers,
        "access_log": access_log,
        "listeners": listeners or [{"name": "http", "address": "127.0.0.1:0"}],
        "admin": {"address": "127.0.0.1:0"},
        "timeouts": {**DEFAULT_TIMEOUTS, **(timeouts or {})},
    }
    if token_file:
        cfg["admin"]["token_file"] = str(token_file)
    if limits:
        cfg["limits"] = limits
    if trusted_proxies is not None:
        cfg["trusted_proxies"] = trusted_proxies
    cfg["pools"] = pools
    cfg["tenants"] = tenants
    if tenant_templates:
        cfg["tenant_templates"] = tenant_templates
    cfg.update(extra)
    return to_yaml(cfg)
