#!/bin/sh
# make size: object size of the implementation (text+data+bss as `size`
# counts them, x86-64 here, no curl/zlib), full build and smallest build
# (every build switch), each switch's measured contribution at -Os, and
# compile times: a file that includes only the declarations, and one that
# includes the implementation.
B=${1:-build}
CC=${CC:-cc}
mkdir -p "$B"
printf '#define PACKTRACK_IMPLEMENTATION\n#include "packtrack.h"\n' > "$B/size_impl.c"
printf '#include "packtrack.h"\nint size_decl(void);\nint size_decl(void) { return PT_OK; }\n' > "$B/size_decl.c"
SMALLEST="-DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL -DPACKTRACK_NO_DEFLATE"
objsize() {   # objsize OPT FLAGS... -> bytes of text+data+bss
  o=$1; shift
  $CC -std=c99 $o "$@" -I. -c "$B/size_impl.c" -o "$B/size_impl.o" || { echo 0; return; }
  size "$B/size_impl.o" | awk 'NR==2 {print $1+$2+$3}'
}
ehsize() {    # bytes of unwind tables (.eh_frame) in the last object
  size -A "$B/size_impl.o" | awk '$1 == ".eh_frame" {print $2}'
}
echo "compiler: $($CC --version | head -n 1), $(uname -m)"
for o in -O2 -Os; do
  t=$(objsize $o)
  echo "full build $o: $t bytes of text+data+bss"
done
full=$(objsize -Os)
small=$(objsize -Os $SMALLEST)
eh=$(ehsize)
verdict=$([ "$small" -le 40960 ] && echo "ok" || echo "OVER")
echo "smallest build -Os ($SMALLEST): $small bytes ($(awk "BEGIN{printf \"%.1f\", $small / 1024}") KiB; target <= 40 KiB: $verdict; of which .eh_frame unwind tables $eh)"
echo "smallest build -O2: $(objsize -O2 $SMALLEST) bytes"
echo "what each switch removes from the full build (-Os):"
for sw in PACKTRACK_NO_THREADS PACKTRACK_NO_SOCKETS PACKTRACK_NO_SPOOL PACKTRACK_NO_DEFLATE; do
  t=$(objsize -Os -D$sw)
  printf '  %-22s -%6d bytes (%d left)\n' "$sw" $((full - t)) "$t"
done
t=$(objsize -Os -DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL)
printf '  %-22s -%6d bytes (%d left; also drops pid, host name, /dev/urandom)\n' "the three together" $((full - t)) "$t"
ms() {   # ms FILE OPT N -> mean compile time in ms over N runs
  s=$(date +%s%N)
  i=0; while [ $i -lt "$3" ]; do $CC -std=c99 "$2" -I. -c "$1" -o "$B/size_tmp.o"; i=$((i + 1)); done
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 / $3 ))
}
echo "compile time, declarations only (-O2, mean of 10): $(ms "$B/size_decl.c" -O2 10) ms"
echo "compile time of the implementation (-O0, mean of 5): $(ms "$B/size_impl.c" -O0 5) ms"
echo "compile time of the implementation (-O2): $(ms "$B/size_impl.c" -O2 1) ms"
echo "compile time of the smallest implementation (-Os): $(s=$(date +%s%N); $CC -std=c99 -Os $SMALLEST -I. -c "$B/size_impl.c" -o "$B/size_tmp.o"; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))) ms"
