#!/bin/sh
# make bench: builds the benchmark programs with -O2 and prints the SPEC
# section 7 figures for this machine, and the instructions per pt_track and
# per delivered event (bench/insns.sh, under callgrind when valgrind is
# installed). Figures, never assertions.
B=${1:-build}
set -e
mkdir -p "$B"
CC=${CC:-cc}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
$CC -O2 -std=c99 -I. bench/bench.c -o "$B/bench" -lpthread -lz -lm
"$B/bench" track
# instructions per pt_track (callgrind) next to the ns figures above
sh bench/insns.sh "$B"
for what in threads e2e memory rss idle; do "$B/bench" $what; done
if [ -f bench/compress.c ]; then
  if $CC -O2 -I. bench/compress.c -o "$B/bench-compress" -lz -ldeflate -lpthread -lm 2>/dev/null; then "$B/bench-compress"; fi
fi
if [ -f bench/durable.c ]; then
  if $CC -O2 -Ibench -I. bench/durable.c -o "$B/bench-durable" -lpthread -lz -lm 2>/dev/null; then "$B/bench-durable"; fi
fi
if [ -f bench/pump.c ]; then
  if $CC -O2 -Ibench -I. bench/pump.c -o "$B/bench-pump" -lpthread -lz -lm; then "$B/bench-pump"; fi
fi
if [ -f bench/recovery.c ]; then
  if $CC -O2 -std=c99 -I. bench/recovery.c -o "$B/bench-recovery" -lpthread -lz -lm 2>/dev/null; then "$B/bench-recovery"; fi
fi
sh bench/size.sh "$B"
