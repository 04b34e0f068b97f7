#!/usr/bin/env bash
# Run every libFuzzer harness for SECONDS each (default 60), one per core at a time (FUZZ_JOBS),
# seeded from fuzz/corpus/<name>/.
# Builds with clang into build-fuzz. A crash is saved to build-fuzz/crashes/ and ends the run
# non-zero: copy the input to fuzz/regressions/<name>/ with a fix, so it replays in the tests.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-60}; shift || true
B=build-fuzz
CC=clang cmake -S . -B $B -DNG_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done
fi
# Only the harnesses (and the library they link), not the tests and benchmarks.
cmake --build $B -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
mkdir -p $B/crashes
# One harness per core at a time: the whole run takes SECONDS x targets / cores.
jobs=${FUZZ_JOBS:-$(nproc)}
run_one() {
  local t=$1 work=$B/corpus-$1 log=$B/fuzz-$1.log
  mkdir -p "$work"
  if ASAN_OPTIONS=detect_leaks=1 "$B/fuzz_$t" -max_total_time="$T" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -artifact_prefix="$B/crashes/$t-" -print_final_stats=1 \
       "$work" "fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz $t: $runs executions in ${T}s, no crash"
  else
    echo "fuzz $t: CRASH (see $log, input in $B/crashes/)"; tail -30 "$log"; return 1
  fi
}
fail=0 running=0
for t in "${targets[@]}"; do
  if [ $running -ge "$jobs" ]; then wait -n || fail=1; running=$((running - 1)); fi
  run_one "$t" & running=$((running + 1))
done
while [ $running -gt 0 ]; do wait -n || fail=1; running=$((running - 1)); done
exit $fail
