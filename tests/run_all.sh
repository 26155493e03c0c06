#!/usr/bin/env bash
# Installs what is missing, builds the sanitizer build (used by every test) and the release
# build (RSS tests and the benchmark smoke), then runs the deployment files' checks, unit,
# integration and benchmark smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
bash docker/install-deps.sh test

jobs=$(nproc)
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTG_SANITIZE=ON >/dev/null
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/asan -j "$jobs"
cmake --build build/release -j "$jobs" --target tenantgate

export TENANTGATE_RELEASE_BIN="$PWD/build/release/tenantgate"

# Deployment files (docker/), under a minute: Dockerfile lint, Kubernetes manifests and the Helm
# chart against Kubernetes schemas, compose, the systemd unit. Each prints why it is skipped
# when node/npm or systemd-analyze are missing. The image build takes ~9 min on 2 cores, so it
# and the container test run only with TG_IMAGE_TEST=1.
bash docker/tests/validate-manifests.sh "$TENANTGATE_RELEASE_BIN"
bash docker/tests/check-systemd.sh "$TENANTGATE_RELEASE_BIN"
if [ "${TG_IMAGE_TEST:-0}" = 1 ]; then
  bash docker/build-image.sh
  bash docker/tests/test-image.sh
else
  echo "image build and container test SKIPPED: TG_IMAGE_TEST=1 runs docker/build-image.sh (~9 min) and docker/tests/test-image.sh"
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build/asan --output-on-failure

# Chaos (tests/chaos): about a minute of keep-alive load while an endpoint and Redis are killed
# and the config is reloaded 120 times; fails on any failed request, fd or RSS growth, or a
# refused reload not logged.
TENANTGATE_BIN="$TENANTGATE_RELEASE_BIN" bash tests/chaos/run.sh

# libFuzzer targets (tests/fuzz, clang 14): every committed corpus replayed, then each target
# fuzzed for 30 s; a crash, leak or timeout fails the run.
bash tests/fuzz/run.sh --seconds 30

# Benchmark smoke: every scenario once against HAProxy and nginx; fails only on a broken run.
TENANTGATE_BIN="$TENANTGATE_RELEASE_BIN" bash bench/run.sh --smoke
# Noisy neighbour smoke (tenant limits against HAProxy's stick table): one short repetition.
TENANTGATE_BIN="$TENANTGATE_RELEASE_BIN" /usr/bin/python3 bench/noisy_neighbour.py --smoke
# Tenants added at run time at scale (2,000 tenants in the smoke), against HAProxy and nginx.
TENANTGATE_BIN="$TENANTGATE_RELEASE_BIN" /usr/bin/python3 bench/tenant_updates.py --smoke
# What a runtime tenant change costs each replica and Redis (2,000 tenants in the smoke).
TENANTGATE_BIN="$TENANTGATE_RELEASE_BIN" /usr/bin/python3 bench/replica_updates.py --smoke
