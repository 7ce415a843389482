#!/bin/sh
# make test-quick: the default build's whole suite in four groups run side by
# side (most tests wait on timers and the network, not the CPU; the two
# recovery fault matrices take ~30 s each), so it stays near half a minute on
# 2 cores. With test names (T=...): those, in one run.
# Last line: "N passed, N failed, N skipped".
B=${1:-build}; shift
[ $# -gt 0 ] && exec "./$B/run" "$@"
G1="pipeline_tests spool_tests json_tests"
G2="recovery_matrix_manual"
G3="recovery_matrix_threaded"
rest=$(for s in $G1 $G2 $G3; do printf -- '-%s ' "$s"; done)
pids=""
i=0
for g in "$G1" "$G2" "$G3" "$rest"; do
  i=$((i + 1))
  # shellcheck disable=SC2086
  ./$B/run $g > "$B/quick-$i.txt" 2>&1 &
  pids="$pids $!"
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
p=0; f=0; s=0
for i in 1 2 3 4; do
  o="$B/quick-$i.txt"
  grep -vE '^[0-9]+ passed, [0-9]+ failed' "$o"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$o" | tail -n 1)
  [ -n "$line" ] || { echo "FAIL runner died: $o"; f=$((f + 1)); continue; }
  p=$((p + $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')))
  f=$((f + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
  k=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p'); s=$((s + ${k:-0}))
done
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ] && [ "$rc" -eq 0 ]
