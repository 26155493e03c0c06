#!/usr/bin/env bash
# Runs the image docker/build-image.sh built, as a container would run in production: read-only
# root, its own user, config and token from mounted files. Checks the user, the read-only
# root, the HEALTHCHECK, a request routed to a fake Odoo on 127.0.0.1, and that SIGTERM to the
# container (tini as PID 1, tenantgate under it) drains and exits 0.
#   bash docker/tests/test-image.sh [IMAGE]       (default localhost/tenantgate:latest)
# Without podman, or without the image, it prints why it is skipped and exits 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
image="${1:-localhost/tenantgate:latest}"
if ! command -v podman >/dev/null; then
  echo "test-image: SKIPPED: podman not found (bash docker/install-deps.sh image)"; exit 0
fi
if ! podman image exists "$image"; then
  echo "test-image: SKIPPED: no image $image (bash docker/build-image.sh builds it, ~9 min on 2 cores)"; exit 0
fi
# shellcheck source=docker/podman-flags.sh
source docker/podman-flags.sh

tmp=$(mktemp -d)
name="tenantgate-image-test-$$"
upstream_pid=""
cleanup() {
  podman "${podman_global[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
  [ -n "$upstream_pid" ] && kill "$upstream_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "test-image: FAIL: $*" >&2; podman "${podman_global[@]}" logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: bounded poll
  local deadline=$((SECONDS + $1)) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 0.2
  done
}

# A fake Odoo on the host's loopback; its ports come on its first stdout line.
mkfifo "$tmp/upstream.out"
/usr/bin/python3 tests/fakes/odoo_upstream.py --host 127.0.0.1 --web-port 0 --longpolling-port 0 \
  --name image-test >"$tmp/upstream.out" 2>"$tmp/upstream.err" &
upstream_pid=$!
read -r -t 10 ready <"$tmp/upstream.out" || fail "fake Odoo printed no ready line"
web=$(sed 's/.*"web": \([0-9]*\).*/\1/' <<<"$ready")
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
admin_port=$(free_port)

mkdir -p "$tmp/config" "$tmp/token" "$tmp/state"
cat >"$tmp/config/tenantgate.yaml" <<EOF
workers: 1
listeners:
  - { name: http, address: 127.0.0.1:$http_port }
admin:
  address: 127.0.0.1:$admin_port
  token_file: /etc/tenantgate/token/admin.token
state:
  state_file: /var/lib/tenantgate/tenantgate.state.json
pools:
  odoo: { web: [127.0.0.1:$web] }
tenants:
  acme: { hosts: [erp.acme.com], pool: odoo }
EOF
echo image-test-token >"$tmp/token/admin.token"
chown -R 10001:10001 "$tmp/token" "$tmp/state"
chmod 0400 "$tmp/token/admin.token"

podman "${podman_global[@]}" run -d --name "$name" "${podman_flags[@]}" --network host --read-only \
  --cap-drop ALL --security-opt no-new-privileges --env TG_ADMIN_PORT="$admin_port" \
  -v "$tmp/config:/etc/tenantgate/config:ro" -v "$tmp/token:/etc/tenantgate/token:ro" \
  -v "$tmp/state:/var/lib/tenantgate:rw" "$image" >/dev/null
wait_for 20 "/readyz" curl -sf "http://127.0.0.1:$admin_port/readyz"

[ "$(podman "${podman_global[@]}" exec "$name" id -u)" = 10001 ] || fail "not running as uid 10001"
podman "${podman_global[@]}" exec "$name" sh -c 'touch /usr/bin/x' 2>/dev/null && fail "root filesystem is writable"
pid1=$(podman "${podman_global[@]}" exec "$name" cat /proc/1/cmdline | tr '\0' ' ')
[[ "$pid1" == "/usr/bin/tini -- /usr/bin/tenantgate run "* ]] || fail "PID 1 is \"$pid1\""
podman "${podman_global[@]}" healthcheck run "$name" || fail "HEALTHCHECK failed"
body=$(curl -sf -H 'Host: erp.acme.com' "http://127.0.0.1:$http_port/echo") || fail "request through the container failed"
grep -q '"X-Tenant", "acme"' <<<"$body" || fail "upstream did not get X-Tenant acme: $body"
status=$(podman "${podman_global[@]}" exec "$name" tenantgate ctl --admin "http://127.0.0.1:$admin_port" status) \
  || fail "tenantgate ctl status inside the container"
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "test-image: $image ($((size / 1000 / 1000)) MB): uid 10001, read-only root, tini as PID 1, healthcheck OK, request routed"

# SIGTERM to the container's PID 1: tini forwards it, tenantgate drains and exits 0.
podman "${podman_global[@]}" kill --signal TERM "$name" >/dev/null
wait_for 30 "the container to exit after SIGTERM" \
  sh -c "[ \"\$(podman ${podman_global[*]} inspect --format '{{.State.Running}}' $name)\" = false ]"
code=$(podman "${podman_global[@]}" inspect --format '{{.State.ExitCode}}' "$name")
logs=$(podman "${podman_global[@]}" logs "$name" 2>&1)
grep -q '"msg":"draining"' <<<"$logs" || fail "no draining line after SIGTERM"
grep -q '"msg":"drained"' <<<"$logs" || fail "no drained line after SIGTERM"
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "test-image: SIGTERM drained and exited 0"
echo "test-image: passed"
