#!/usr/bin/env bash
# Load test of `nnguard serve` with wrk on loopback: single-image LeNet-5 JSON requests (a real
# Fashion-MNIST test image, 784 numbers), 32 connections, bounded in time. In the same run, the two
# halves of this machine's limit: libmicrohttpd answering a static answer of the same size to the
# same POST (bench_serve static) and in-process LeNet-5 inference at batch 256 (bench_serve infer);
# limit = 1 / (1/static + 1/inference). Each configuration runs ROUNDS times, alternating; the
# medians are reported. Targets: serve >= 0.7x the limit, p99 < 5 ms, watermark cost < 3%, 0 errors.
# The watermark's cost is measured in pairs: each round runs the plain and the watermarked server
# back to back (plain first in odd rounds, watermarked first in even ones, so a drift of the
# machine's load within a round favours neither), and reads each server's own CPU time over the
# wrk run per request served: the run time of all its threads from /proc/PID/task/*/schedstat in
# nanoseconds (the same total as utime + stime of /proc/PID/stat, whose 10 ms ticks would quantize
# a run's 1-2 CPU seconds to 0.5-1%; that is the fallback when schedstat is missing). The cost is
# the median of the rounds' ratios watermarked / plain - 1: requests/s swings by more than the
# watermark costs when other work shares the cores (its paired median is printed too). CPU per
# request also follows the batch size the load lets the server form, so each serve run prints
# its mean batch (images per forward pass, from /metrics) after its CPU figure.
# usage: scripts/bench_serve.sh [SECONDS per run, default 8] [ROUNDS, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-8}; ROUNDS=${2:-3}
command -v wrk >/dev/null || bash scripts/install-deps.sh --peers
B=${BUILD_DIR:-build}
[ -x "$B/nnguard" ] && [ -x "$B/bench_serve" ] || bash scripts/build.sh >/dev/null
NG=$B/nnguard; BS=$B/bench_serve
MODEL=tests/fixtures/lenet5.onnx
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
trap 'echo "bench_serve.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR   # set -e alone exits silently
"$NG" keygen -o "$T/wm.key" >/dev/null

/usr/bin/python3 - "$DATA" "$T" <<'EOF'
import gzip, sys
raw = gzip.open(sys.argv[1] + "/t10k-images-idx3-ubyte.gz").read()
px = raw[16:16 + 784]
open(sys.argv[2] + "/body.json", "w").write('{"inputs": [' + ",".join("%.9g" % (b / 255.0) for b in px) + "]}")
EOF
cat > "$T/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$T/body.json", "r"); wrk.body = f:read("*a"); f:close()
EOF

start() {   # start NAME CMD...: sets PORT
  local name=$1; shift
  # emptied here, not by the background redirection: on a loaded machine the loop below could
  # read the previous round's "listening" line (a dead server's port) before the child starts
  : > "$T/$name.out"
  "$@" >"$T/$name.out" 2>"$T/$name.err" &
  PIDS+=($!); LAST=$!
  for _ in $(seq 100); do grep -q listening "$T/$name.out" 2>/dev/null && break; sleep 0.1; done
  PORT=$(grep -o '127\.0\.0\.1:[0-9]*' "$T/$name.out" | cut -d: -f2)
}
stop() { kill -TERM "$LAST"; wait "$LAST" || true; }
# CPU seconds the process LAST has used so far (all threads; see the top)
cpu_s() {
  if [ -r "/proc/$LAST/schedstat" ]; then
    # a thread may end between the glob and the read: skip it rather than fail the run
    { cat /proc/"$LAST"/task/*/schedstat 2>/dev/null || true; } | awk '{s += $1} END {printf "%.9f\n", s * 1e-9}'
  else
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$LAST/stat"
  fi
}
# images per forward pass so far (nnguard serve's /metrics)
batch_mean() {
  { curl -s "http://127.0.0.1:$PORT/metrics" || true; } | awk '/^nnguard_batches_total/ {b = $2} /^nnguard_batch_images_total/ {i = $2}
    END {printf "%.1f\n", (b > 0) ? i / b : 0}'
}
# run_wrk: prints "rps p99_ms errors requests"
run_wrk() {
  wrk -t2 -c32 -d"${D}s" --timeout 2s --latency -s "$T/post.lua" "http://127.0.0.1:$PORT/v1/predict" > "$T/wrk.txt"
  /usr/bin/python3 - "$T/wrk.txt" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
err = 0
m = re.search(r"Non-2xx or 3xx responses: (\d+)", t); err += int(m.group(1)) if m else 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
err += sum(int(x) for x in m.groups()) if m else 0
n = int(re.search(r"(\d+) requests in", t).group(1))
print(rps, p99, err, n)
EOF
}
# with_cpu: run_wrk with the server's own CPU microseconds per request instead of the count
with_cpu() {
  local c0 c1 line; c0=$(cpu_s); line=$(run_wrk); c1=$(cpu_s)
  echo "$line" | awk -v c0="$c0" -v c1="$c1" '{printf "%s %s %s %.2f\n", $1, $2, $3, 1e6 * (c1 - c0) / $4}'
}

# the static answer: what nnguard serve answers for this body
start probe "$NG" serve "$MODEL" --port 0
curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$T/body.json" "http://127.0.0.1:$PORT/v1/predict" > "$T/answer.json"
stop
echo "bench_serve: ${D}s per run, ${ROUNDS} rounds, wrk -t2 -c32, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "body $(wc -c < "$T/body.json") bytes, answer $(wc -c < "$T/answer.json") bytes"
: > "$T/results"
for r in $(seq "$ROUNDS"); do
  start static "$BS" static "$T/answer.json"; echo "static $(with_cpu)" >> "$T/results"; stop
  echo "infer $("$BS" infer "$MODEL" 256 "$D" | awk '{print $2, 0, 0, $4}')" >> "$T/results"
  for cfg in $( [ $((r % 2)) = 1 ] && echo "plain wm" || echo "wm plain"); do
    if [ "$cfg" = plain ]; then
      start plain "$NG" serve "$MODEL" --port 0; echo "serve $(with_cpu) $(batch_mean)" >> "$T/results"; stop
    else
      start wm "$NG" serve "$MODEL" --port 0 --wm-secret "$T/wm.key"; echo "serve_wm $(with_cpu) $(batch_mean)" >> "$T/results"; stop
    fi
  done
  echo "round $r: $(tail -4 "$T/results" | tr '\n' ' ')" >&2
done
/usr/bin/python3 - "$T/results" "$ROUNDS" <<'EOF'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
R = int(sys.argv[2])
def col(k, i): return [float(r[i]) for r in rows if r[0] == k]
def med(k, i): return st.median(col(k, i))
def tot(k): return sum(int(float(r[3])) for r in rows if r[0] == k)
static, infer, serve, wm = col("static", 1), col("infer", 1), col("serve", 1), col("serve_wm", 1)
# the machine may be shared: each round's ratios use the limit measured in that round
limit = [1 / (1 / a + 1 / b) for a, b in zip(static, infer)]
r_serve = [s / l for s, l in zip(serve, limit)]
r_wm = [w / l for w, l in zip(wm, limit)]
cost = [1 - w / s for s, w in zip(serve, wm)]
print(f"per round: limit {' '.join('%.0f' % l for l in limit)} req/s; serve/limit {' '.join('%.2f' % r for r in r_serve)}; "
      f"serve_wm/limit {' '.join('%.2f' % r for r in r_wm)}")
print(f"static libmicrohttpd answer : {st.median(static):9.0f} requests/s (median of {R}; p99 {med('static', 2):.2f} ms)")
print(f"in-process inference b=256  : {st.median(infer):9.0f} images/s")
print(f"limit 1/(1/static+1/infer)  : {st.median(limit):9.0f} requests/s")
print(f"nnguard serve               : {st.median(serve):9.0f} requests/s; median ratio to the round's limit {st.median(r_serve):.2f}x, "
      f"p99 {med('serve', 2):.2f} ms, errors {tot('serve')} (static: {tot('static')})")
print(f"nnguard serve + soft wm     : {st.median(wm):9.0f} requests/s; median ratio {st.median(r_wm):.2f}x, p99 {med('serve_wm', 2):.2f} ms, "
      f"errors {tot('serve_wm')}")
# the watermark's cost from the rounds' pairs (each round ran both servers back to back)
cpu_s, cpu_w = col("serve", 4), col("serve_wm", 4)
cpu_cost = [w / s - 1 for s, w in zip(cpu_s, cpu_w)]
print(f"watermark cost, CPU/request : {100 * st.median(cpu_cost):+.1f}% (median of {R} paired ratios watermarked/plain - 1: "
      f"{' '.join('%+.1f' % (100 * c) for c in cpu_cost)} %; mean batch plain {st.median(col('serve', 5)):.1f}, "
      f"watermarked {st.median(col('serve_wm', 5)):.1f} images)")
print(f"watermark cost, requests/s  : {100 * st.median(cost):+.1f}% (median of the pairs' 1 - watermarked/plain: "
      f"{' '.join('%+.1f' % (100 * c) for c in cost)} %; noisier)")
# CPU time per request: steadier than throughput on a machine shared with other work
cs, ci, cv, cw = med("static", 4), med("infer", 4), med("serve", 4), med("serve_wm", 4)
print(f"CPU per request (server only): static {cs:.1f} us + inference {ci:.1f} us/image = limit {cs + ci:.1f} us;"
      f" nnguard serve {cv:.1f} us ({(cs + ci) / cv:.2f}x the limit's efficiency), with soft wm {cw:.1f} us"
      f" (medians)")
EOF
