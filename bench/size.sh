#!/bin/sh
# make size: object size of the implementation (text+data+bss as `size`
# counts them, unwind tables included as the compiler emits them by default;
# x86-64 here, no curl/zlib): the full build, the OS-free core (the four OS
# switches) and the smallest build (every PACKTRACK_NO_* switch: the OS ones
# plus the footprint ones), each switch's measured share at -Os, and compile
# times: a file that includes only the declarations, and one that includes
# the implementation.
B=${1:-build}
CC=${CC:-cc}
mkdir -p "$B"
printf '#define PACKTRACK_IMPLEMENTATION\n#include "packtrack.h"\n' > "$B/size_impl.c"
printf '#include "packtrack.h"\nint size_decl(void);\nint size_decl(void) { return PT_OK; }\n' > "$B/size_decl.c"
OSFREE="-DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL -DPACKTRACK_NO_DEFLATE"
FOOTPRINT="-DPACKTRACK_NO_SYNC_API -DPACKTRACK_NO_ENV -DPACKTRACK_NO_PROMETHEUS -DPACKTRACK_NO_STEPS -DPACKTRACK_NO_TRACK_JSON -DPACKTRACK_NO_RAW_JSON -DPACKTRACK_NO_DEFAULTS"
SMALLEST="$OSFREE $FOOTPRINT"
objsize() {   # objsize OPT FLAGS... -> bytes of text+data+bss
  o=$1; shift
  $CC -std=c99 $o "$@" -I. -c "$B/size_impl.c" -o "$B/size_impl.o" || { echo 0; return; }
  size "$B/size_impl.o" | awk 'NR==2 {print $1+$2+$3}'
}
ehsize() {    # bytes of unwind tables (.eh_frame) in the last object
  size -A "$B/size_impl.o" | awk '$1 == ".eh_frame" {print $2}'
}
kib() { awk "BEGIN{printf \"%.1f\", $1 / 1024}"; }
echo "compiler: $($CC --version | head -n 1), $(uname -m); sizes are text+data+bss of \`size\` (text includes .eh_frame unwind tables, as the compiler emits them by default)"
for o in -O2 -Os; do
  t=$(objsize $o)
  echo "full build $o: $t bytes ($(kib $t) KiB)"
done
full=$(objsize -Os)
small=$(objsize -Os $SMALLEST)
eh=$(ehsize)
verdict=$([ "$small" -le 40960 ] && echo "ok" || echo "OVER")
echo "smallest build -Os (every switch: $SMALLEST):"
echo "  $small bytes ($(kib $small) KiB; target <= 40 KiB: $verdict); of which .eh_frame unwind tables $eh"
t=$(objsize "-Os -fno-asynchronous-unwind-tables" $SMALLEST)
echo "  with -fno-asynchronous-unwind-tables (not the default, for reference): $t bytes ($(kib $t) KiB)"
echo "smallest build -O2: $(objsize -O2 $SMALLEST) bytes"
core=$(objsize -Os $OSFREE)
echo "OS-free core -Os (the four OS switches, all API kept): $core bytes ($(kib $core) KiB)"
echo "what each switch removes from the full build (-Os, the switch alone):"
for sw in $OSFREE $FOOTPRINT; do
  sw=${sw#-D}
  t=$(objsize -Os -D$sw)
  printf '  %-24s -%6d bytes (%d left)\n' "$sw" $((full - t)) "$t"
done
t=$(objsize -Os -DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL)
printf '  %-24s -%6d bytes (%d left; also drops pid, host name, /dev/urandom)\n' "NO_THREADS+SOCKETS+SPOOL" $((full - t)) "$t"
echo "what each footprint switch removes from the OS-free core (-Os):"
for sw in $FOOTPRINT; do
  sw=${sw#-D}
  t=$(objsize -Os $OSFREE -D$sw)
  printf '  %-24s -%6d bytes (%d left)\n' "$sw" $((core - t)) "$t"
done
# the JSON validator goes only when neither pt_track_json nor raw fields need it
t=$(objsize -Os $OSFREE -DPACKTRACK_NO_TRACK_JSON -DPACKTRACK_NO_RAW_JSON)
printf '  %-24s -%6d bytes (%d left; the JSON validator goes with both)\n' "NO_TRACK_JSON+RAW_JSON" $((core - t)) "$t"
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
