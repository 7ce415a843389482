#!/bin/sh
# The build switches really leave their OS APIs out: `nm -u` of a native
# implementation object built with PACKTRACK_NO_THREADS, PACKTRACK_NO_SOCKETS
# and PACKTRACK_NO_SPOOL references no thread, socket or file function (only
# the C library and a clock); each switch alone removes its own group; the
# default build does reference all three groups (so the check can fail).
# Then the C-library-only core runs its tests natively (tests/wasm/test_wasm.c,
# the program tests/wasm/run.sh runs under node), also under ASan + UBSan.
# Last line: "N passed, N failed, N skipped".
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
T="$B/nm"
mkdir -p "$T"
CC=${CC:-cc}
passed=0; failed=0
printf '#define PACKTRACK_IMPLEMENTATION\n#include "packtrack.h"\n' > "$T/impl.c"
THREAD_RE='^(pthread_.*|thrd_.*|mtx_.*|cnd_.*)$'
SOCKET_RE='^(socket|connect|send|sendmsg|sendto|recv|recvfrom|recvmsg|getaddrinfo|freeaddrinfo|gai_strerror|poll|select|setsockopt|getsockopt|shutdown|accept|bind|listen)$'
FILE_RE='^(open|open64|openat|openat64|creat|fopen|fopen64|fsync|fdatasync|fcntl|fcntl64|unlink|unlinkat|rename|renameat|mkdir|opendir|readdir|readdir64|closedir|ftruncate|ftruncate64|fstat|fstat64|stat|stat64|read|write|close|dup|dup2|pipe|fork)$'
HOST_RE='^(gethostname|getpid|uname)$'
ALL_RE="$THREAD_RE|$SOCKET_RE|$FILE_RE|$HOST_RE"
# undefined symbols of the implementation built with the given flags
undef() {   # undef NAME FLAGS...
  name=$1; shift
  if ! $CC -std=c99 -O0 "$@" -I. -c "$T/impl.c" -o "$T/$name.o" 2>"$T/$name.err"; then
    echo "FAIL nm_$name: does not compile"; cat "$T/$name.err"; return 1
  fi
  nm -u "$T/$name.o" | awk '{print $NF}' | sed 's/@.*//' > "$T/$name.syms"
}
# check NAME REGEX FLAGS...: no undefined symbol matches REGEX
none() {
  name=$1; re=$2; shift 2
  if undef "$name" "$@"; then
    bad=$(grep -E "$re" "$T/$name.syms" | tr '\n' ' ')
    if [ -n "$bad" ]; then echo "FAIL nm_$name: references $bad"; failed=$((failed + 1));
    else echo "ok   nm_$name ($(wc -l < "$T/$name.syms") undefined symbols, none forbidden)"; passed=$((passed + 1)); fi
  else failed=$((failed + 1)); fi
}
# some NAME REGEX FLAGS...: at least one undefined symbol matches (the control)
some() {
  name=$1; re=$2; shift 2
  if undef "$name" "$@" && grep -qE "$re" "$T/$name.syms"; then echo "ok   nm_$name (control: references $(grep -E "$re" "$T/$name.syms" | head -3 | tr '\n' ' '))"; passed=$((passed + 1))
  else echo "FAIL nm_$name: the control build does not reference $re (is the check blind?)"; failed=$((failed + 1)); fi
}
CORE="-DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL"
none c_library_only_core "$ALL_RE" $CORE
FOOT="-DPACKTRACK_NO_SYNC_API -DPACKTRACK_NO_ENV -DPACKTRACK_NO_PROMETHEUS -DPACKTRACK_NO_STEPS -DPACKTRACK_NO_TRACK_JSON -DPACKTRACK_NO_RAW_JSON -DPACKTRACK_NO_DEFAULTS"
none smallest_build "$ALL_RE" $CORE -DPACKTRACK_NO_DEFLATE $FOOT
none no_threads "$THREAD_RE" -DPACKTRACK_NO_THREADS
none no_sockets "$SOCKET_RE" -DPACKTRACK_NO_SOCKETS
# (open/read/close stay while threads or sockets do: /dev/urandom seeds the UUIDs)
none no_spool "^(fsync|fdatasync|unlink|unlinkat|rename|renameat|mkdir|opendir|readdir|readdir64|ftruncate|ftruncate64)\$" -DPACKTRACK_NO_SPOOL
some default_threads "$THREAD_RE"
some default_sockets "$SOCKET_RE"
some default_files "^(open|fsync|unlink|rename)\$"
# and the core does its job: the wasm test program, built natively
W="-Wall -Wextra -pedantic -Wshadow -Wconversion -Wsign-conversion -Wcast-qual -Wundef -Wdouble-promotion -Wstrict-prototypes -Wmissing-prototypes -Werror"
for v in core smallest; do
  f=$CORE; [ $v = smallest ] && f="$CORE -DPACKTRACK_NO_DEFLATE $FOOT"
  o=-O1; [ $v = smallest ] && o=-Os   # -Os: the small forms (PT__SMALL) of the writer
  if $CC -std=c99 $o -g $W $f -o "$T/test_$v" tests/wasm/test_wasm.c -lm 2>"$T/test_$v.err"; then
    "$T/test_$v" > "$T/test_$v.out" 2>&1
    grep -E '^(FAIL|skip)|^    ' "$T/test_$v.out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T/test_$v.out" | tail -n 1)
    if [ -z "$line" ]; then echo "FAIL native_$v: the test program died"; tail -n 20 "$T/test_$v.out"; failed=$((failed + 1))
    else
      echo "native $v build: $line"
      passed=$((passed + $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')))
      failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
    fi
  else
    echo "FAIL native_$v: tests/wasm/test_wasm.c does not compile"; cat "$T/test_$v.err"; failed=$((failed + 1))
  fi
done
# the same under ASan + UBSan (leaks included), when clang is there
if command -v clang >/dev/null 2>&1; then
  if clang -std=c99 -Os -g -fsanitize=address,undefined -fno-sanitize-recover=undefined $CORE -DPACKTRACK_NO_DEFLATE $FOOT \
       -o "$T/test_asan" tests/wasm/test_wasm.c -lm 2>"$T/test_asan.err"; then
    ASAN_OPTIONS=detect_leaks=1 "$T/test_asan" > "$T/test_asan.out" 2>&1; rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T/test_asan.out" | tail -n 1)
    if [ $rc -ne 0 ] || [ -z "$line" ]; then echo "FAIL native_asan_ubsan (exit $rc)"; tail -n 30 "$T/test_asan.out"; failed=$((failed + 1))
    else echo "ok   native_asan_ubsan ($line)"; passed=$((passed + 1)); fi
  else
    echo "FAIL native_asan_ubsan: does not compile"; cat "$T/test_asan.err"; failed=$((failed + 1))
  fi
fi
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
