#!/usr/bin/env bash
# tenantgate vs HAProxy vs nginx (and the origin alone), in one command. See bench/README.md.
#   bench/run.sh [--smoke|--full] [bench.py options]
# --smoke (default; CI): < 2 min, fails only on a broken run. --full: 5 repetitions, writes
# bench/results/<date>.md. Set TENANTGATE_BIN to bench another binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3   # the system interpreter (the first python3 on PATH may be another one)
[[ -x $py ]] || { echo "bench: $py is missing (apt-get install python3)" >&2; exit 1; }
# 10,000 tunnels = 10,000 client + 10,000 upstream sockets in the proxy: raise the limit for
# every child (bench.py checks the result and fails clearly if it is too low).
if [[ $(ulimit -Hn) != unlimited && $(ulimit -Hn) -lt 65536 ]]; then ulimit -Hn 65536 2>/dev/null || true; fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export BENCH_COMMAND="bench/run.sh"
exec "$py" "$here/bench.py" "$@"
