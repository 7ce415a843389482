#!/bin/sh
# What `make test` does on a fresh Debian machine with only
#   build-essential python3 zlib1g-dev
# simulated on this one: a PATH without the optional tools (clang, valgrind,
# mingw-w64, wine, emscripten, nginx, openssl, curl, cmake, pkg-config) and
# CPPFLAGS under which <curl/curl.h> and <libdeflate.h> are not found (an
# include directory of stand-ins that #error). Checks that
#   1. `make test` passes there, every missing variant skipped with one
#      line naming its Debian package;
#   2. with CI=true the same run FAILS (CI requires every variant).
# Usage: tests/fresh_machine.sh          the whole `make test` (minutes)
#        tests/fresh_machine.sh --quick  the matrix with two tests per variant
#                                        (what `make test` itself runs last)
# Its own build directory ($B/fresh) keeps the real build untouched.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
B=${B:-build}
F=$B/fresh
quick=0; [ "${1:-}" = --quick ] && quick=1
mkdir -p "$F/bin" "$F/include/curl" || exit 2
rm -f "$F"/bin/*
hidden='clang* llvm-* valgrind* vgdb wine* x86_64-w64-mingw32-* i686-w64-mingw32-* em* node nodejs nginx* openssl curl cmake* ctest cpack pkg-config pkgconf *-pkg-config'
for d in /usr/local/bin /usr/bin /bin /usr/local/sbin /usr/sbin /sbin; do
  [ -d "$d" ] || continue
  for p in "$d"/*; do
    n=${p##*/}
    [ -x "$p" ] && [ ! -d "$p" ] || continue
    [ -e "$F/bin/$n" ] && continue
    skip=0
    for h in $hidden; do case $n in $h) skip=1 ;; esac; done
    # cc/c++ may be alternatives that point at clang: keep them only if they are gcc
    case $n in cc|c++|gcc|g++|cpp) "$p" --version 2>/dev/null | head -n 1 | grep -qi clang && skip=1 ;; esac
    [ $skip -eq 0 ] && ln -s "$p" "$F/bin/$n"
  done
done
printf '#error "hidden by tests/fresh_machine.sh (Debian: libcurl4-openssl-dev)"\n' > "$F/include/curl/curl.h"
printf '#error "hidden by tests/fresh_machine.sh (Debian: libdeflate-dev)"\n' > "$F/include/libdeflate.h"
# what a fresh machine lacks must really be gone
for t in clang valgrind wine64 x86_64-w64-mingw32-gcc emcc nginx; do
  if PATH="$F/bin" command -v $t >/dev/null 2>&1; then echo "fresh_machine: $t still on the PATH"; exit 2; fi
done

fresh() {   # run a command on the simulated fresh machine
  env -u WINE -u MINGW_CC -u CI PATH="$ROOT/$F/bin" PT_PATH_ONLY=1 CPPFLAGS="-I$ROOT/$F/include" CC=cc CXX=c++ B="$F/b" "$@"
}
mkdir -p "$F/b"
sel=""
[ $quick -eq 1 ] && sel="json_escape_quote pipeline_batching_manual"

echo "== fresh machine: build-essential python3 zlib1g-dev only ($([ $quick -eq 1 ] && echo 'two tests per variant' || echo 'make test'))"
if [ $quick -eq 1 ]; then
  fresh PT_MATRIX_TESTS="$sel" sh tests/matrix.sh > "$F/ok.log" 2>&1; rc=$?
else
  fresh make test B="$F/b" FRESH_CHECK=0 > "$F/ok.log" 2>&1; rc=$?
fi
grep -E '^(variant |compile check|header hygiene|SKIPPED|=== summary|ran:|[0-9]+ passed)' "$F/ok.log" | sed 's/^/    /'
if [ $rc -ne 0 ]; then echo "fresh_machine: FAILED: the run must pass with skips (log: $F/ok.log)"; tail -n 40 "$F/ok.log"; exit 1; fi
nskip=$(grep -c 'SKIPPED: .* -- to run it: apt-get install' "$F/ok.log")
[ "$nskip" -ge 1 ] || { echo "fresh_machine: FAILED: no variant reported as skipped"; exit 1; }

echo "== the same machine with CI=true: must fail"
fresh CI=true sh tests/compile_check.sh > "$F/ci-cc.log" 2>&1; rc1=$?
fresh CI=true PT_MATRIX_TESTS="${sel:-json_escape_quote}" sh tests/matrix.sh > "$F/ci.log" 2>&1; rc2=$?
grep -E 'FAILED: .*CI=true' "$F/ci-cc.log" "$F/ci.log" | sed 's/^[^:]*://'
grep -E '^(MISSING|[0-9]+ passed)' "$F/ci.log" | sed 's/^/    /'
if [ $rc1 -eq 0 ] || [ $rc2 -eq 0 ]; then echo "fresh_machine: FAILED: CI=true must fail when tools are missing"; exit 1; fi
echo "fresh_machine: ok (passes with $nskip variant(s) skipped; fails under CI=true)"
