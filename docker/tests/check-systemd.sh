#!/usr/bin/env bash
# Checks docker/tenantgate.service with systemd-analyze: `verify` (syntax, directives,
# executables) and `security` (exposure score, must stay at most 2.0 "OK").
#   bash docker/tests/check-systemd.sh [TENANTGATE_BIN]
# The unit names /usr/local/bin/tenantgate; for `verify`, which wants the executables to exist,
# a copy of the unit points at TENANTGATE_BIN (default build/release/tenantgate) instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v systemd-analyze >/dev/null; then
  echo "check-systemd: SKIPPED: systemd-analyze not found (apt-get install systemd)"
  exit 0
fi
bin=$(realpath "${1:-build/release/tenantgate}")
[ -x "$bin" ] || { echo "check-systemd: $bin is not an executable (build it first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/local/bin/tenantgate|$bin|g" docker/tenantgate.service >"$tmp/tenantgate.service"
# An unknown directive or a missing executable is printed, and `verify` exits non-zero.
if ! out=$(systemd-analyze verify "$tmp/tenantgate.service" 2>&1) || [ -n "$out" ]; then
  echo "check-systemd: systemd-analyze verify failed:"; echo "$out"; exit 1
fi
security=$(systemd-analyze security --offline=yes --no-pager "$tmp/tenantgate.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for tenantgate.service: \([0-9.]*\).*/\1/p' <<<"$security")
[ -n "$score" ] || { echo "$security"; echo "check-systemd: no exposure score" >&2; exit 1; }
echo "check-systemd: verify OK; systemd-analyze security exposure $score (0 best, 10 worst)"
if ! awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
  grep '✗' <<<"$security" || true
  echo "check-systemd: exposure $score is above 2.0" >&2
  exit 1
fi
