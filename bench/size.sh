#!/bin/sh
# make size: implementation object size (-O2, -Os; no curl/zlib) and the
# time to compile a file that includes the implementation.
B=${1:-build}
CC=${CC:-cc}
mkdir -p "$B"
printf '#define PACKTRACK_IMPLEMENTATION\n#include "packtrack.h"\n' > "$B/size_impl.c"
for o in -O2 -Os; do
  $CC -std=c99 $o -I. -c "$B/size_impl.c" -o "$B/size_impl.o"
  t=$(size "$B/size_impl.o" | awk 'NR==2 {print $1+$2+$3}')
  echo "implementation object $o: $t bytes of text+data+bss (target <= 65536 at -O2)"
done
s=$(date +%s.%N)
for i in 1 2 3 4 5; do $CC -std=c99 -O0 -I. -c "$B/size_impl.c" -o "$B/size_impl0.o"; done
e=$(date +%s.%N)
echo "compile time of the implementation (-O0, mean of 5): $(awk "BEGIN{printf \"%.3f\", ($e - $s) / 5}") s (target <= 0.5)"
s=$(date +%s.%N)
$CC -std=c99 -O2 -I. -c "$B/size_impl.c" -o "$B/size_impl.o"
e=$(date +%s.%N)
echo "compile time of the implementation (-O2): $(awk "BEGIN{printf \"%.3f\", $e - $s}") s"
