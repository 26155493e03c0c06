#!/usr/bin/env bash
# Repeatable per-request cost of tenantgate, HAProxy and nginx: user-space instructions per
# request (valgrind --tool=callgrind) and syscalls per request (perf stat on the syscall
# tracepoints), each over an exact number of keep-alive requests (default 20,000 over 10
# connections, small body; and 10,000 16 KiB ones). See bench/README.md. Options: see
# `bench/callgrind.sh --help`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
[[ -x $py ]] || { echo "callgrind.sh: $py is missing" >&2; exit 1; }
exec "$py" "$here/profile.py" "$@"
