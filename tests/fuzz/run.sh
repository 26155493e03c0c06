#!/usr/bin/env bash
# Builds the libFuzzer targets (build/fuzz, clang 14) and runs them:
#   tests/fuzz/run.sh --replay          replay every committed corpus once (-runs=0)
#   tests/fuzz/run.sh --seconds N       replay, then fuzz each target for N seconds (default 30)
#   tests/fuzz/run.sh --merge           fold the scratch corpora into the committed ones (-merge=1)
# Optional target names after the mode restrict the run. Fails on any crash, leak, timeout or
# out-of-memory. New inputs go to build/fuzz/scratch/<target>/ only, never into
# tests/fuzz/corpus/ (except with --merge, which keeps only inputs that add coverage);
# crashing inputs are written to build/fuzz/artifacts/<target>/ and logs to build/fuzz/logs/.
# The 10-minute run of the README: nice -n 19 tests/fuzz/run.sh --seconds 600
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=fuzz
seconds=30
case "${1:-}" in
    --replay) mode=replay; shift ;;
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --merge) mode=merge; shift ;;
    -*) echo "usage: $0 [--replay | --seconds N | --merge] [TARGET...]" >&2; exit 2 ;;
esac

all_targets=(http_request http_response config_load admin_json route_decision proxy_protocol
             websocket_frames)
targets=("$@")
[ $# -eq 0 ] && targets=("${all_targets[@]}")

declare -A dictionary=([http_request]=http [http_response]=http [config_load]=yaml
                       [admin_json]=json [route_decision]=route [proxy_protocol]=proxy_protocol
                       [websocket_frames]=)
declare -A max_len=([http_request]=8192 [http_response]=8192)

build=build/fuzz
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR=1
CXX="${TG_FUZZ_CXX:-clang++-14}" cmake -S . -B "$build" -G Ninja -DTG_FUZZ=ON >/dev/null
ninja -C "$build" -j "${TG_FUZZ_JOBS:-$(nproc)}" $(printf 'fuzz_%s ' "${targets[@]}")

# Leaks fail a run like crashes; -error_exitcode and -timeout_exitcode make every finding non-zero.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
common=(-timeout=5 -rss_limit_mb=2048 -detect_leaks=1 -error_exitcode=77 -timeout_exitcode=70)
mkdir -p "$build/logs"
failed=()

for target in "${targets[@]}"; do
    binary="$build/tests/fuzz/fuzz_$target"
    corpus="tests/fuzz/corpus/$target"
    scratch="$build/scratch/$target"
    artifacts="$build/artifacts/$target/"
    log="$build/logs/$target.log"
    mkdir -p "$scratch" "$artifacts"
    options=("${common[@]}" "-artifact_prefix=$artifacts")
    [ -n "${dictionary[$target]}" ] && options+=("-dict=tests/fuzz/dict/${dictionary[$target]}.dict")
    [ -n "${max_len[$target]:-}" ] && options+=("-max_len=${max_len[$target]}")

    if [ "$mode" = merge ]; then
        "$binary" "${options[@]}" -merge=1 "$corpus" "$scratch" >"$log" 2>&1 || failed+=("$target")
        echo "$target: $(ls "$corpus" | wc -l) corpus entries after merge"
        continue
    fi
    if ! "$binary" "${options[@]}" -runs=0 "$corpus" >"$log" 2>&1; then
        echo "$target: replay FAILED (see $log)"; tail -n 30 "$log"; failed+=("$target"); continue
    fi
    echo "$target: replayed $(ls "$corpus" | wc -l) inputs"
    [ "$mode" = replay ] && continue

    # The scratch directory comes first: new inputs are written there; the corpus is only read.
    if ! "$binary" "${options[@]}" -max_total_time="$seconds" -print_final_stats=1 \
            "$scratch" "$corpus" >"$log" 2>&1; then
        echo "$target: fuzzing FAILED (see $log)"; grep -E "ERROR|invariant|SUMMARY" "$log" | head -n 5
        failed+=("$target"); continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    echo "$target: ${seconds}s ok: $runs runs, $rate exec/s, cov $cov, ft $ft, corpus $corp, peak rss ${rss} MB, 0 crashes/leaks/timeouts"
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean ($mode)"
