#!/bin/sh
# Instructions per pt_track (reference event, manual mode, nothing sent) and
# per delivered event on the flush side, counted by callgrind: exact, and
# unmoved by machine load. Usage: sh bench/insns.sh [build-dir]
# PT_BASELINE_HEADER=path/to/an/older/packtrack.h adds a column measured
# with that header (same program, same compiler), e.g. from
#   git show v0.1.0:packtrack.h > /tmp/old.h
B=${1:-build}
CC=${CC:-cc}
mkdir -p "$B"
if ! $CC -O2 -std=c99 -Ibench -I. bench/insns.c -o "$B/insns" -lpthread -lz -lm 2>"$B/insns.log"; then
  echo "instructions: skipped (bench/insns.c did not build, see $B/insns.log)"; exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
  "$B/insns" track >/dev/null || echo "instructions: bench/insns failed"
  echo "pt_track, reference event, manual mode: $("$B/insns" time | sed -n 's/^ns \([0-9]*\) min \([0-9]*\)$/median \1 ns, best \2 ns/p') per call"
  echo "instructions per pt_track: skipped (valgrind is not installed; apt-get install valgrind)"
  exit 0
fi
base=""
if [ -n "$PT_BASELINE_HEADER" ]; then
  mkdir -p "$B/insns-baseline"
  cp "$PT_BASELINE_HEADER" "$B/insns-baseline/packtrack.h"
  if $CC -O2 -std=c99 -I"$B/insns-baseline" -Ibench bench/insns.c -o "$B/insns-base" -lpthread -lz -lm 2>>"$B/insns.log"; then
    base="$B/insns-base"
  else
    echo "instructions: the baseline header did not build (see $B/insns.log)"
  fi
fi
# $1 = program, $2 = what: prints "instructions-per-event events bytes"
count() {
  d=$(mktemp -d)
  out=$(valgrind --tool=callgrind --collect-atstart=no --toggle-collect="measure_$2" \
        --child-silent-after-fork=yes --callgrind-out-file="$d/cg.%p" "$1" "$2" 2>/dev/null)
  n=$(echo "$out" | sed -n 's/^events \([0-9]*\) bytes \([0-9]*\)$/\1/p')
  bytes=$(echo "$out" | sed -n 's/^events \([0-9]*\) bytes \([0-9]*\)$/\2/p')
  # the forked sink writes its own (empty) profile: sum them all
  tot=$(cat "$d"/cg.* | sed -n 's/^totals: *\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
  rm -rf "$d"
  if [ -z "$n" ] || [ "$n" -eq 0 ]; then echo "- 0 0"; return; fi
  echo "$tot $n $bytes" | awk '{printf "%.0f %d %d\n", $1 / $2, $2, $3}'
}
line() {
  set -- "$1" "$2" $(count "$B/insns" "$1")
  what=$1; label=$2; per=$3; n=$4; bytes=$5
  if [ -n "$base" ]; then
    bper=$(count "$base" "$what" | cut -d' ' -f1)
    printf "  %-42s %7s   (baseline header: %s)   [%s events, %s B of JSON each]\n" "$label" "$per" "$bper" "$n" "$bytes"
  else
    printf "  %-42s %7s   [%s events, %s B of JSON each]\n" "$label" "$per" "$n" "$bytes"
  fi
}
# wall-clock ns per pt_track for the same event, next to the instructions
t=$("$B/insns" time | sed -n 's/^ns \([0-9]*\) min \([0-9]*\)$/median \1 ns, best \2 ns/p')
if [ -n "$base" ]; then
  tb=$("$base" time | sed -n 's/^ns \([0-9]*\) min \([0-9]*\)$/median \1 ns, best \2 ns/p')
  echo "pt_track, reference event, manual mode: $t per call (baseline header: $tb)"
else
  echo "pt_track, reference event, manual mode: $t per call"
fi
echo "instructions (callgrind; $($CC --version | head -1), -O2):"
line track "per pt_track, reference event"
line json "per pt_event_to_json (serialiser + malloc)"
line flush "per delivered event, flush side"
