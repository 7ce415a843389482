#!/bin/sh
# make coverage: line coverage of the implementation (packtrack.h) over the
# default-build suite, with gcov. Prints the percentage and the uncovered
# line ranges (build/coverage/packtrack.h.gcov has the annotated source).
B=${1:-build}
D="$B/coverage"
rm -rf "$D"; mkdir -p "$D"
${CC:-gcc} -std=c99 -O0 -g --coverage -o "$D/run" tests/run.c -lpthread -lz -lm || exit 1
# run from the repository root so the CLI tests find build/ and the fuzz corpus
make -s examples >/dev/null 2>&1
PT_BIN_DIR="$B" "$D/run" ${T:-} > "$D/run.log" 2>&1; tail -n 1 "$D/run.log"
gcov -o "$D" tests/run.c >/dev/null 2>&1
mv ./*.gcov "$D"/ 2>/dev/null
f="$D/packtrack.h.gcov"
if [ ! -f "$f" ]; then echo "no gcov output for packtrack.h"; exit 1; fi
# only the implementation part counts
awk -F: '
  /IMPLEMENTATION  *\*\// { impl = 1 }
  impl && $1 ~ /[0-9#]/ {
    c = $1; gsub(/ /, "", c);
    if (c == "-") next;
    total++;
    if (c == "#####" || c == "=====") { miss++; ln = $2 + 0; if (ln != last + 1) { if (start) printf "%s-%s ", start, last; start = ln } last = ln }
  }
  END {
    if (start) printf "%s-%s", start, last;
    printf "\nimplementation line coverage: %.1f%% (%d of %d lines)\n", 100 * (total - miss) / total, total - miss, total
  }' "$f" > "$D/summary.txt"
echo "uncovered line ranges of packtrack.h:"; head -c 4000 "$D/summary.txt" | fold -w 120
