#!/usr/bin/env bash
# cli_report: `nnguard evaluate` end to end on one scheme (a real run with small budgets), its
# results.json schema and figures, then the committed full report (docs/report/full/results.json)
# rendered to report.html and loaded in headless Chromium: no console errors, and every chart
# carries one point per results.json row it plots. Without chromium the browser half is skipped
# (exit 77, said why); scripts/install-deps.sh --test installs it, so CI runs it.
# ctest-label: slow chromium
. "$(dirname "$0")/lib.sh"
set -e
cd "$T"
# bad input: named, exit non-zero, nothing written
set +e
"$NG" evaluate --schemes deeplock,nope --out bad 2>err.txt; rc=$?
set -e
[ $rc = 2 ] && grep -q "nope" err.txt && [ ! -e bad/results.json ] || { echo "bad --schemes: rc $rc"; cat err.txt; exit 1; }
echo '{"schema": 1}' > notresults.json
if "$NG" evaluate --render notresults.json --out r1 2>err.txt; then echo "rendered a file without results"; exit 1; fi
grep -q 'notresults.json' err.txt && [ ! -e r1/report.html ] || { cat err.txt; exit 1; }
# a real run: Deep-Lock on the fixture LeNet-5, quick budgets, 500 test images
"$NG" evaluate --schemes deeplock --quick --model "$SRC/tests/fixtures/lenet5.onnx" --limit 500 --data "$DATA" \
  --out ev > ev.txt 2> ev.err || { cat ev.txt ev.err; exit 1; }
grep -q "step 1/1: deeplock" ev.err || { echo "no progress on stderr"; cat ev.err; exit 1; }
if "$NG" evaluate --schemes deeplock --out ev 2>err.txt; then echo "replaced results without --force"; exit 1; fi
/usr/bin/python3 - ev/results.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema"] == "nnguard-results/1" and r["quick"] is True, r["schema"]
assert r["command"].startswith("nnguard evaluate --schemes deeplock"), r["command"]
assert r["machine"]["cores"] >= 1 and r["wall_seconds"] > 0 and r["settings"]["test_images"] == 500
rows = r["results"]
for x in rows:
    assert set(x) == {"scheme", "model", "setting", "metric", "value", "seed"}, x
    assert x["scheme"] == "deeplock" and x["model"] == "lenet5" and x["seed"] == 0, x
v = {x["metric"]: x["value"] for x in rows if not x["setting"]}
assert v["accuracy_unlocked"] == v["accuracy_original"] > 0.8, v
assert v["accuracy_locked"] < 0.2 and v["wrong_keys.max"] < 0.2 and v["unlock_bit_exact"] == 1, v
ft = [x for x in rows if x["metric"] == "finetune.accuracy_attacked"]
assert sorted(x["setting"]["fraction"] for x in ft) == [0.01, 0.05, 0.1] and all(x["setting"]["epochs"] == 2 for x in ft)
p = {x["quantity"]: x for x in r["paper"]}
w = p["accuracy with random wrong keys (mean)"]
assert w["paper"] == 0.1 and abs(w["difference"] - (w["ours"] - 0.1)) < 1e-9 and w["ours"] == v["wrong_keys.mean"], w
assert all(x["scheme"] == "deeplock" for x in r["paper"])
print("evaluate: %d rows, unlocked %.4f = original, locked %.4f" % (len(rows), v["accuracy_unlocked"], v["accuracy_locked"]))
PY
# the committed full report, re-rendered from its results.json
"$NG" evaluate --render "$SRC/docs/report/full/results.json" --out page > /dev/null
CHECK=$(cat <<'PY'
import json, re, sys
from html.parser import HTMLParser
res = json.load(open(sys.argv[1])); html = open(sys.argv[2]).read()
charts = {"finetune": ["finetune.accuracy_attacked", "finetune.accuracy_scratch",
                       "attacks.finetune_without_key.accuracy_attacked", "attacks.finetune_without_key.accuracy_scratch"],
          "prune": ["prune.accuracy", "prune.accuracy_tuned"], "pvalue": ["extraction.p_value", "label_mode.p_value"],
          "throughput": ["throughput.lock_gb_s", "throughput.unlock_gb_s", "throughput.seal_gb_s",
                         "throughput.unseal_gb_s", "throughput.memcpy_gb_s"]}
class P(HTMLParser):
    def __init__(s): super().__init__(); s.svg = None; s.pts = {}; s.bad = []
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "svg" and a.get("id", "").startswith("chart-"): s.svg = a["id"][6:]; s.pts[s.svg] = 0
        if tag in ("circle", "rect") and "pt" in a.get("class", "").split() and s.svg: s.pts[s.svg] += 1
        if tag in ("script", "link", "img", "iframe") or any(k in ("src", "href") and re.match(r"(https?:)?//", v or "") for k, v in a.items()):
            s.bad.append((tag, a))
    def handle_endtag(s, tag):
        if tag == "svg": s.svg = None
p = P(); p.feed(html)
assert not p.bad, "external resource or script: %s" % p.bad
for c, ms in charts.items():
    want = sum(1 for x in res["results"] if x["metric"] in ms and isinstance(x["value"], (int, float)))
    assert want > 0, "%s: the committed run has no rows for this chart" % c
    assert p.pts.get(c) == want, "chart %s: %s points drawn, %d rows in results.json" % (c, p.pts.get(c), want)
schemes = {x["scheme"] for x in res["results"]}
assert schemes == {"deeplock", "advparams", "securenet", "dynamarks"}, schemes
assert {x["scheme"] for x in res["paper"]} == schemes, "paper comparison missing a scheme"
for s in schemes: assert 'id="%s"' % s in html, s
print(" ".join("%s:%d" % kv for kv in sorted(p.pts.items())), "points, all match results.json")
PY
)
/usr/bin/python3 -c "$CHECK" "$SRC/docs/report/full/results.json" page/report.html
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
  echo "SKIP browser half: chromium is not installed (scripts/install-deps.sh --test installs it); the rest passed"
  exit 77
fi
flags="--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=$T/profile --enable-logging=stderr --v=0"
timeout 120 "$CHROME" $flags --dump-dom "file://$T/page/report.html" > dom.html 2> console.txt || { cat console.txt; exit 1; }
if grep -E "CONSOLE|Uncaught|Failed to load resource" console.txt; then echo "console errors (above)"; exit 1; fi
/usr/bin/python3 -c "$CHECK" "$SRC/docs/report/full/results.json" dom.html
timeout 120 "$CHROME" $flags --window-size=390,2400 --screenshot="$T/phone.png" "file://$T/page/report.html" 2>/dev/null
/usr/bin/python3 - "$T/phone.png" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (390, 2400) and len(b) > 20000, (w, h, len(b))
print("screenshot %dx%d, %d bytes" % (w, h, len(b)))
PY
echo "cli_report: all checks passed"
