#!/usr/bin/env bash
# What recording metrics costs: callgrind instructions per keep-alive request of the release
# build against the same sources built with recording compiled out (-DTG_RECORD_METRICS=OFF).
# Instructions, not seconds: repeatable on a shared machine. Extra arguments go to profile.py
# (e.g. --requests 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A instructions
for variant in release release-nometrics; do
  record=ON
  [ "$variant" = release-nometrics ] && record=OFF
  cmake -S . -B "build/$variant" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTG_RECORD_METRICS=$record >/dev/null
  cmake --build "build/$variant" --target tenantgate >/dev/null
  out=$(TENANTGATE_BIN="$PWD/build/$variant/tenantgate" /usr/bin/python3 bench/profile.py \
          --no-syscalls --systems tenantgate --no-write "$@")
  echo "$out" | grep 'instructions/request'
  instructions[$variant]=$(echo "$out" | awk '$2 == "small" && /instructions\/request/ {gsub(",", "", $3); print $3; exit}')
done
on=${instructions[release]}
off=${instructions[release-nometrics]}
awk -v on="$on" -v off="$off" 'BEGIN {
  printf "metrics recording: %d instructions/request with, %d without: %+.2f %%\n", on, off, (on - off) * 100 / off }'
