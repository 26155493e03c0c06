#!/usr/bin/env bash
# ThreadSanitizer run of the unit tests and the whole integration suite (not part of CI: see
# README "Testing"). Builds build/tsan (clang 14, -DTG_TSAN=ON) and build/release (the binary
# the memory tests measure), then runs core_tests, proxy_tests, tls_tests and tests/integration
# against build/tsan/tenantgate. Every ThreadSanitizer report fails the run:
#  - a report makes a TSan process exit with code 66 (TSan's default exitcode);
#  - the integration harness fails the test whose tenantgate printed one (harness.SANITIZER_MARKERS);
#  - at the end every file the suite left under build/tsan/pytest is searched for one, which
#    catches a report of a process no test inspected.
# halt_on_error stays 0 so one run shows every race, not only the first.
#   tests/tsan/run.sh                 everything (README "ThreadSanitizer": times on 2 cores)
#   tests/tsan/run.sh -k keepalive    extra arguments go to pytest
# TG_JOBS (default: nproc) sets the build's parallelism. TENANTGATE_TIMEOUT_SCALE (a whole
# number, default 4 here) stretches the harness's waits and pytest's per-test timeout for the
# slower binary (tests/integration/harness.py): headroom on a loaded machine, since a longer
# bound never fails a test that passes with the shorter one.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash docker/install-deps.sh test

jobs="${TG_JOBS:-$(nproc)}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR=1
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTG_TSAN=ON \
      -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build/tsan -j "$jobs"
ninja -C build/release -j "$jobs" tenantgate

export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1"
[ -f tests/tsan/suppressions.txt ] && TSAN_OPTIONS+=":suppressions=$PWD/tests/tsan/suppressions.txt"
export TENANTGATE_TIMEOUT_SCALE="${TENANTGATE_TIMEOUT_SCALE:-4}"
failed=()
for unit in core_tests proxy_tests tls_tests; do
    echo "== $unit"
    "build/tsan/$unit" || failed+=("$unit")
done

echo "== integration"
basetemp="$PWD/build/tsan/pytest"
TENANTGATE_BIN="$PWD/build/tsan/tenantgate" TENANTGATE_RELEASE_BIN="$PWD/build/release/tenantgate" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider --basetemp="$basetemp" \
    -o timeout=$((120 * TENANTGATE_TIMEOUT_SCALE)) tests/integration "$@" || failed+=(integration)
if grep -rlI -e "WARNING: ThreadSanitizer" -e "ERROR: ThreadSanitizer" "$basetemp" 2>/dev/null; then
    echo "ThreadSanitizer reports in the files above" >&2
    failed+=(reports)
fi

if [ ${#failed[@]} -ne 0 ]; then
    echo "TSan run FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "TSan run passed: no ThreadSanitizer report"
