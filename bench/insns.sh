#!/bin/sh
# Instructions per pt_track (reference event, manual mode, nothing sent) and
# per delivered event on the flush side, counted by callgrind: exact, and
# unmoved by machine load. Usage: sh bench/insns.sh [build-dir]
B=${1:-build}
CC=${CC:-cc}
mkdir -p "$B"
if ! $CC -O2 -std=c99 -Ibench -I. bench/insns.c -o "$B/insns" -lpthread -lz -lm 2>"$B/insns.log"; then
  echo "instructions: skipped (bench/insns.c did not build, see $B/insns.log)"; exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
  "$B/insns" track >/dev/null || echo "instructions: bench/insns failed"
  echo "instructions: skipped (valgrind is not installed; apt-get install valgrind)"
  exit 0
fi
# $1 = what, $2 = label
count() {
  d=$(mktemp -d)
  out=$(valgrind --tool=callgrind --collect-atstart=no --toggle-collect="measure_$1" \
        --child-silent-after-fork=yes --callgrind-out-file="$d/cg.%p" "$B/insns" "$1" 2>/dev/null)
  n=$(echo "$out" | sed -n 's/^events \([0-9]*\) bytes \([0-9]*\)$/\1/p')
  bytes=$(echo "$out" | sed -n 's/^events \([0-9]*\) bytes \([0-9]*\)$/\2/p')
  # the forked sink writes its own (empty) profile: sum them all
  tot=$(cat "$d"/cg.* | sed -n 's/^totals: *\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
  rm -rf "$d"
  if [ -z "$n" ] || [ "$n" -eq 0 ]; then echo "  $2: measurement failed"; return; fi
  echo "$tot $n $bytes" | awk -v l="$2" '{printf "  %-40s %7.0f instructions  (%d events, %d B JSON each)\n", l, $1 / $2, $2, $3}'
}
echo "instructions (callgrind, $($CC --version | head -1), -O2):"
count track "per pt_track, reference event"
count json "per pt_event_to_json (serialiser alone)"
count flush "per delivered event, flush side"
