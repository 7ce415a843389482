#!/bin/sh
# make test-quick: the default build's whole suite in two halves run side by
# side (most tests wait on timers and the network, not the CPU), so it stays
# under a minute on 2 cores, build included. With test names (T=...): those,
# in one run. Last line: "N passed, N failed, N skipped".
B=${1:-build}; shift
[ $# -gt 0 ] && exec "./$B/run" "$@"
A="pipeline_tests spool_tests json_tests"
./$B/run $A > "$B/quick-a.txt" 2>&1 & pa=$!
./$B/run $(for s in $A; do printf -- '-%s ' "$s"; done) > "$B/quick-b.txt" 2>&1; rb=$?
wait $pa; ra=$?
cat "$B/quick-a.txt" "$B/quick-b.txt" | grep -vE '^[0-9]+ passed, [0-9]+ failed'
p=0; f=0; s=0
for o in "$B/quick-a.txt" "$B/quick-b.txt"; do
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$o" | tail -n 1)
  [ -n "$line" ] || { echo "FAIL runner died: $o"; f=$((f + 1)); continue; }
  p=$((p + $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')))
  f=$((f + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
  k=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p'); s=$((s + ${k:-0}))
done
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ] && [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ]
