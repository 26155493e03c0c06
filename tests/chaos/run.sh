#!/usr/bin/env bash
# Chaos run (tests/chaos/chaos.py): tenantgate under steady keep-alive load while an upstream
# endpoint and Redis are killed (-9) and the config is reloaded 120 times. Loopback only, about
# 1 minute. Needs build/release/tenantgate (or TENANTGATE_BIN) and redis-server. Exit 0: PASS.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/chaos/chaos.py "$@"
