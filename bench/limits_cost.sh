#!/usr/bin/env bash
# What tenant limits cost: callgrind instructions per keep-alive request of the release build
# with the bench tenant given a rate limit, a per-client limit and a max_in_flight (all too high
# to refuse anything), against the same binary without them. Instructions, not seconds:
# repeatable on a shared machine. Extra arguments go to profile.py (e.g. --requests 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${TENANTGATE_BIN:-$PWD/build/release/tenantgate}
declare -A instructions
for variant in none limits; do
  flag=()
  [ "$variant" = limits ] && flag=(--tenant-limits)
  out=$(TENANTGATE_BIN="$binary" /usr/bin/python3 bench/profile.py \
          --no-syscalls --systems tenantgate --no-write "${flag[@]}" "$@")
  echo "$variant: $(echo "$out" | grep 'instructions/request' | tr -s ' ' | paste -sd ';')"
  instructions[$variant]=$(echo "$out" | awk '$2 == "small" && /instructions\/request/ {gsub(",", "", $3); print $3; exit}')
done
with=${instructions[limits]}
without=${instructions[none]}
awk -v with="$with" -v without="$without" 'BEGIN {
  printf "tenant limits: %d instructions/request with, %d without: %+.2f %%\n", with, without, (with - without) * 100 / without }'
