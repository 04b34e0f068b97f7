#!/usr/bin/env bash
# cli_demo: the README's main job (nnguard demo) runs end to end and shows the expected figures:
# locked and encrypted models near chance without a key, the original accuracy with it.
# ctest-label: slow
. "$(dirname "$0")/lib.sh"
set -e
cd "$T"
"$NG" demo --epochs 1 --wrong-keys 3 --report-schemes deeplock --data "$DATA" > out.txt 2>err.txt || { cat out.txt err.txt; exit 1; }
pct() { grep -E "^$1 " out.txt | head -1 | grep -oE '[0-9]+\.[0-9]+%' | head -1 | tr -d '%'; }
orig=$(pct "original"); dl=$(pct "Deep-Lock, no key"); dlk=$(pct "Deep-Lock, right key")
adv=$(pct "AdvParams, no key"); advk=$(pct "AdvParams, right key")
echo "original $orig  deeplock $dl / $dlk  advparams $adv / $advk"
/usr/bin/python3 - "$orig" "$dl" "$dlk" "$adv" "$advk" <<'PY'
import sys
o, dl, dlk, adv, advk = map(float, sys.argv[1:])
assert o > 75, f"1-epoch LeNet-5 should pass 75%, got {o}"
assert dl < 15, f"locked model without key should be near chance, got {dl}"
assert dlk == o and advk == o, "the right key must restore the original accuracy exactly"
assert adv < o - 40, f"AdvParams should drop accuracy by > 40 points, got {adv} from {o}"
PY
for f in lenet5.onnx lenet5.locked.onnx lenet5.key lenet5.advparams.onnx lenet5.advparams.key; do
  [ -s nnguard-demo/$f ] || { echo "missing nnguard-demo/$f"; exit 1; }
done
[ "$(stat -c %a nnguard-demo/lenet5.key)" = 600 ] && [ "$(stat -c %a nnguard-demo/lenet5.advparams.key)" = 600 ]
# the files it leaves work with the CLI: the locked model evaluates right with its key
"$NG" eval nnguard-demo/lenet5.locked.onnx --key nnguard-demo/lenet5.key --limit 500 --json > ev.json
/usr/bin/python3 -c "import json; a=json.load(open('ev.json'))['accuracy']; assert a > 0.7, a"
# it ends with the quick report (here one scheme, to keep the test short) and says where the page is
grep -q "open nnguard-demo/report/report.html" out.txt || { echo "demo did not point at its report"; tail out.txt; exit 1; }
/usr/bin/python3 - <<'PY'
import json
r = json.load(open("nnguard-demo/report/results.json"))
assert r["quick"] and r["settings"]["model"] == "nnguard-demo/lenet5.onnx", r["settings"]
v = {x["metric"]: x["value"] for x in r["results"] if not x["setting"]}
assert v["accuracy_unlocked"] == v["accuracy_original"] and v["accuracy_locked"] < 0.2, v
PY
grep -q '<svg id="chart-finetune"' nnguard-demo/report/report.html
echo "cli_demo: all checks passed"
