#!/bin/sh
# Header hygiene: the header must compile warning-free (as errors) in every
# language mode and compiler we support, with the strict warning set game
# engines use, link from two translation units, work with PACKTRACK_API
# static, pull no OS header and define no feature-test macro in user code,
# and leave no diagnostic pragma or macro change behind for the user's code.
set -e
B=${B:-build}
mkdir -p "$B/cc"
T="$B/cc"
# the strict sets (C, and C++ where the C-only ones do not apply)
COMMON="-Wall -Wextra -pedantic -Wshadow -Wconversion -Wsign-conversion -Wcast-qual -Wundef -Wdouble-promotion"
WC="$COMMON -Wstrict-prototypes -Wmissing-prototypes -Werror"
WCXX="$COMMON -Wold-style-cast -Wzero-as-null-pointer-constant -Werror"
cxxw() { if [ "$1" = clang++ ]; then echo "$WCXX"; else echo "$WCXX -Wuseless-cast"; fi; }
cat > "$T/impl.c" <<'X'
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int pt_other_tu(void);
int main(void) { pt_config cfg = {0}; (void)cfg; return pt_other_tu(); }
X
cat > "$T/decl.c" <<'X'
#include "packtrack.h"
int pt_other_tu(void);
int pt_other_tu(void) { return pt_strerror(PT_OK)[0] == 'o' ? 0 : 1; }
X
cat > "$T/static.c" <<'X'
#define PACKTRACK_API static
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int main(void) { return pt_version()[0] == '0' ? 0 : 1; }
X
# Declarations first, implementation later in the same file: under strict ISO
# modes the file must ask for POSIX itself (a declarations-only include no
# longer does it for the user; see the top of packtrack.h).
cat > "$T/twice.c" <<'X'
#if defined(__STRICT_ANSI__)
#define _POSIX_C_SOURCE 200809L
#endif
#include "packtrack.h"
#include "packtrack.h"
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int main(void) { return 0; }
X
# ... and without it, a clear #error instead of a wall of implicit declarations
cat > "$T/late.c" <<'X'
#include "packtrack.h"
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int main(void) { return 0; }
X
cat > "$T/noos.c" <<'X'
#include "packtrack.h"
#ifdef _PTHREAD_H
#error "pthread.h leaked through the declarations"
#endif
#if defined(_SYS_SOCKET_H) || defined(_STDIO_H) || defined(_STDLIB_H) || defined(_WINDOWS_)
#error "an OS/libc header leaked through the declarations"
#endif
#if defined(PT__FEATURES_SET) || (defined(__STRICT_ANSI__) && (defined(_POSIX_C_SOURCE) || defined(_DEFAULT_SOURCE) || defined(_DARWIN_C_SOURCE)))
#error "a declarations-only include defined a feature-test macro"
#endif
/* <elf.h> and <sys/ptrace.h> names must not collide with ours */
#include <elf.h>
#include <sys/ptrace.h>
int main(void) { return PT_OK; }
X
# The C++ warnings silenced around the implementation (old-style and useless
# casts) and its NULL must not leak into the user's code after the include.
cat > "$T/leak.cpp" <<'X'
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
#include <type_traits>
static_assert(!std::is_same<decltype(NULL), decltype(nullptr)>::value, "the implementation's NULL leaked");
int user_code(double d);
int user_code(double d) { return (int)d; }   /* must still warn: -Wold-style-cast */
X
cat > "$T/leak2.cpp" <<'X'
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int user_code(int i);
int user_code(int i) { return static_cast<int>(i); }   /* must still warn: -Wuseless-cast */
X
sed 's/= {0}/= {}/' "$T/impl.c" > "$T/impl.cpp"; cp "$T/decl.c" "$T/decl.cpp"
fail=0
# clang/clang++ are optional on a developer's machine (skipped loudly), required under CI=true
ccs=gcc; cxxs=g++
for t in clang clang++; do
  if command -v $t >/dev/null 2>&1; then
    case $t in clang) ccs="$ccs clang" ;; *) cxxs="$cxxs clang++" ;; esac
  elif [ "${CI:-}" = true ]; then
    echo "compile check FAILED: $t not found -- CI=true requires it: apt-get install clang"; fail=1
  else
    echo "compile check: $t not found: its checks SKIPPED -- to run them: apt-get install clang"
  fi
done
have_header() { printf '#include <%s>\n' "$1" | gcc $CPPFLAGS -x c -E - >/dev/null 2>&1; }
run() { if ! "$@" 2>"$T/err.txt"; then echo "compile check FAILED: $*"; cat "$T/err.txt"; fail=1; fi; }
# must fail, and the error output must contain $1
must_fail() {
  want=$1; shift
  if "$@" 2>"$T/err.txt"; then echo "compile check FAILED (compiled, should not have): $*"; fail=1
  elif ! grep -q -- "$want" "$T/err.txt"; then echo "compile check FAILED (no '$want'): $*"; cat "$T/err.txt"; fail=1; fi
}
for cc in $ccs; do
  for std in c99 c11; do
    run $cc -std=$std $WC -I. -c "$T/impl.c" -o "$T/impl.o"
    run $cc -std=$std $WC -I. -c "$T/decl.c" -o "$T/decl.o"
    run $cc "$T/impl.o" "$T/decl.o" -o "$T/twotu" -lpthread
    run $cc -std=$std $WC -I. "$T/static.c" -o "$T/static" -lpthread
    run $cc -std=$std $WC -I. "$T/twice.c" -o "$T/twice" -lpthread
    run $cc -std=gnu99 $WC -I. "$T/late.c" -o "$T/late" -lpthread
    must_fail "define PACKTRACK_IMPLEMENTATION before including any header" $cc -std=$std -I. -c "$T/late.c" -o "$T/late.o"
    run $cc -std=$std $WC -I. "$T/noos.c" -o "$T/noos"
  done
done
for cxx in $cxxs; do
  for std in c++11 c++17; do
    W=$(cxxw $cxx)
    run $cxx -std=$std $W -I. -c "$T/impl.cpp" -o "$T/impl.o"
    run $cxx -std=$std $W -I. -c "$T/decl.cpp" -o "$T/decl.o"
    run $cxx "$T/impl.o" "$T/decl.o" -o "$T/twotu" -lpthread
    must_fail "old-style-cast" $cxx -std=$std $W -I. -c "$T/leak.cpp" -o "$T/leak.o"
  done
done
must_fail "useless-cast" g++ -std=c++11 $(cxxw g++) -I. -c "$T/leak2.cpp" -o "$T/leak.o"
# every build configuration compiles clean too (when its headers are installed)
cfg() {   # cfg FLAGS...: C99 with gcc and clang, C++11 with g++
  run gcc -std=c99 $WC -I. "$@" -c "$T/impl.c" -o "$T/impl.o"
  case $ccs in *clang*) run clang -std=c11 $WC -I. "$@" -c "$T/impl.c" -o "$T/impl.o" ;; esac
  run g++ -std=c++11 $(cxxw g++) -I. "$@" -c "$T/impl.cpp" -o "$T/impl.o"
}
if have_header curl/curl.h; then
  cfg -DPACKTRACK_USE_CURL -DPACKTRACK_USE_ZLIB
fi
have_header zlib.h && cfg -DPACKTRACK_USE_ZLIB
have_header libdeflate.h && cfg -DPACKTRACK_USE_LIBDEFLATE
cfg -DPACKTRACK_NO_THREADS
cfg -DPACKTRACK_NO_SOCKETS
cfg -DPACKTRACK_NO_SPOOL
cfg -DPACKTRACK_NO_DEFLATE
cfg -DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL -DPACKTRACK_NO_DEFLATE
cfg -DPACKTRACK_NO_SYNC_API
cfg -DPACKTRACK_NO_ENV -DPACKTRACK_NO_PROMETHEUS -DPACKTRACK_NO_STEPS -DPACKTRACK_NO_TRACK_JSON
cfg -DPACKTRACK_NO_RAW_JSON -DPACKTRACK_NO_DEFAULTS
# the smallest build (`make size`): every switch
cfg -DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL -DPACKTRACK_NO_DEFLATE -DPACKTRACK_NO_SYNC_API -DPACKTRACK_NO_ENV -DPACKTRACK_NO_PROMETHEUS -DPACKTRACK_NO_STEPS -DPACKTRACK_NO_TRACK_JSON -DPACKTRACK_NO_RAW_JSON -DPACKTRACK_NO_DEFAULTS
have_header zlib.h && cfg -DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL -DPACKTRACK_NO_DEFLATE -DPACKTRACK_USE_ZLIB
must_fail "PACKTRACK_NO_SOCKETS and PACKTRACK_USE_CURL" gcc -std=c99 -I. -DPACKTRACK_NO_SOCKETS -DPACKTRACK_USE_CURL -c "$T/impl.c" -o "$T/impl.o"
# Windows (mingw-w64), when installed; the wine variant runs the suites
if command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
  run x86_64-w64-mingw32-gcc -std=c99 $WC -I. -c "$T/impl.c" -o "$T/impl.o"
  run x86_64-w64-mingw32-gcc -std=c11 $WC -I. -DPACKTRACK_NO_THREADS -c "$T/impl.c" -o "$T/impl.o"
  run x86_64-w64-mingw32-g++ -std=c++17 $(cxxw g++) -I. -c "$T/impl.cpp" -o "$T/impl.o"
  run x86_64-w64-mingw32-gcc -std=c99 $WC -I. -DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL -DPACKTRACK_NO_DEFLATE -c "$T/impl.c" -o "$T/impl.o"
fi
if [ $fail -ne 0 ]; then echo "header hygiene checks failed"; exit 1; fi
echo "header hygiene: ok (strict warnings as errors: $ccs C99/C11, $cxxs C++11/17, curl/zlib/libdeflate/mingw and every build switch; two TUs, static API, no OS headers or feature macros, nothing leaks)"
