#!/usr/bin/env bash
# Installs what is missing, builds tenantgate, starts the fake Odoo upstream and tenantgate on
# its embedded demo config, shows a few routed requests, then keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash docker/install-deps.sh demo
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target tenantgate

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

/usr/bin/python3 tests/fakes/odoo_upstream.py --web-port 8069 --longpolling-port 8072 --name demo-odoo >/dev/null &
pids+=($!)
build/release/tenantgate run 2> >(sed 's/^/[tenantgate] /' >&2) &
pids+=($!)

for _ in $(seq 1 100); do
  curl -sf -o /dev/null http://127.0.0.1:9901/readyz && curl -sf -o /dev/null -H 'Host: localhost' http://127.0.0.1:8080/web/health && break
  sleep 0.1
done

show() { echo; echo "\$ curl $*"; curl -sS "$@"; echo; }
show -H 'Host: demo.localhost' http://127.0.0.1:8080/web/login
show -H 'Host: acme.localhost' http://127.0.0.1:8080/longpolling/poll?ms=100
show -i -H 'Host: unknown.example.com' http://127.0.0.1:8080/
echo
echo "tenantgate is serving on http://127.0.0.1:8080 (admin on 127.0.0.1:9901); Ctrl-C stops it."
wait
