#!/usr/bin/env bash
# How much nnguard's batch-1 inference time moves between processes (issue 13; eng6): runs
# build/bench_model PROCS times per setting, the settings interleaved (a neighbour's burst hits all
# of them), and prints each process's median ms per forward, the spread (slowest / fastest median),
# the median CPU ms per forward (all threads) and the context switches per forward (voluntary +
# involuntary, GNU time). Settings:
#   before   NG_POOL_SPIN_US=0 NG_MEMPLAN=0: workers sleep on a condition variable between parallel
#            loops, every activation its own buffer (main before eng6)
#   spin     NG_POOL_SPIN_US=200 NG_MEMPLAN=0: the pool's waiters spin up to 200 us before they sleep,
#            whatever the load
#   after    the defaults: shared activation buffers (engine/memplan.h) and the 200 us spin, which
#            turns itself off while the 1-min load exceeds twice the cores (the load is printed)
#   pinned   the defaults with NG_POOL_PIN=1: the caller and each worker on a CPU of their own
#            (core/pool.c), to see whether the spread follows where the scheduler puts the threads
# Env: MODELS (default "mobilenet_v2 resnet18"), PROCS (5), THREADS (2), SETTINGS (default all four,
# e.g. "after pinned"), NG_BENCH_DIR (build/peers:
# the models of scripts/bench_ort.sh, which makes them).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
D=${NG_BENCH_DIR:-$B/peers}
PROCS=${PROCS:-5}
THREADS=${THREADS:-2}
MODELS=${MODELS:-"mobilenet_v2 resnet18"}
BUILD_DIR=$B bash scripts/build.sh >/dev/null
for m in $MODELS; do
    [ -f "$D/models/$m.onnx" ] || { echo "$D/models/$m.onnx missing: run scripts/bench_ort.sh once (it generates the models)" >&2; exit 1; }
done
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $PROCS processes per setting, $THREADS threads, batch 1"
declare -A ENVS=([before]="NG_POOL_SPIN_US=0 NG_MEMPLAN=0" [spin]="NG_POOL_SPIN_US=200 NG_MEMPLAN=0" [after]=""
               [pinned]="NG_POOL_PIN=1")
SETTINGS=${SETTINGS:-"before spin after pinned"}
for m in $MODELS; do
    iters=40; [ "$m" = resnet18 ] && iters=20
    declare -A T=() C=() S=()
    for p in $(seq "$PROCS"); do
        for s in $SETTINGS; do
            out=$(env ${ENVS[$s]} /usr/bin/time -f "cs %w %c" "$B/bench_model" "$D/models/$m.onnx" 1 "$iters" "$THREADS" 2>&1)
            t=$(grep -E '^[0-9.]+$' <<<"$out"); c=$(awk '/^cpu/{print $2}' <<<"$out")
            cs=$(awk -v n=$((iters + 2)) '/^cs/{printf "%.0f", ($2 + $3) / n}' <<<"$out")
            T[$s]="${T[$s]:-} $(awk -v t="$t" 'BEGIN{printf "%.2f", t * 1000}')"
            C[$s]="${C[$s]:-} $(awk -v t="$c" 'BEGIN{printf "%.2f", t * 1000}')"
            S[$s]="${S[$s]:-} $cs"
        done
    done
    for s in $SETTINGS; do
        awk -v m="$m" -v s="$s" -v t="${T[$s]}" -v c="${C[$s]}" -v cs="${S[$s]}" 'BEGIN {
            n = split(t, a, " "); split(c, b, " "); lo = hi = a[1]
            for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
            printf "%-13s %-6s ms per forward (median of each process):%s  spread %.2fx  | cpu ms:%s | ctx switches per forward:%s\n",
                   m, s, t, hi / lo, c, cs }'
    done
    unset T C S
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
