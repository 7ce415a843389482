#!/bin/sh
# Header hygiene: the header must compile warning-free (as errors) in every
# language mode and compiler we support, link from two translation units,
# work with PACKTRACK_API static, and pull no OS header into user code.
set -e
B=${B:-build}
mkdir -p "$B/cc"
T="$B/cc"
W="-Wall -Wextra -pedantic -Werror"
cat > "$T/impl.c" <<'X'
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int pt_other_tu(void);
int main(void) { pt_config cfg = {0}; (void)cfg; return pt_other_tu(); }
X
cat > "$T/decl.c" <<'X'
#include "packtrack.h"
int pt_other_tu(void) { return pt_strerror(PT_OK)[0] == 'o' ? 0 : 1; }
X
cat > "$T/static.c" <<'X'
#define PACKTRACK_API static
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int main(void) { return pt_version()[0] == '0' ? 0 : 1; }
X
cat > "$T/twice.c" <<'X'
#include "packtrack.h"
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
/* <elf.h> and <sys/ptrace.h> names must not collide with ours */
#include <elf.h>
#include <sys/ptrace.h>
int main(void) { return PT_OK; }
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
for cc in $ccs; do
  for std in c99 c11; do
    run $cc -std=$std $W -I. -c "$T/impl.c" -o "$T/impl.o"
    run $cc -std=$std $W -I. -c "$T/decl.c" -o "$T/decl.o"
    run $cc "$T/impl.o" "$T/decl.o" -o "$T/twotu" -lpthread
    run $cc -std=$std $W -I. "$T/static.c" -o "$T/static" -lpthread
    run $cc -std=$std $W -I. "$T/twice.c" -o "$T/twice" -lpthread
    run $cc -std=$std $W -I. "$T/noos.c" -o "$T/noos"
  done
done
for cxx in $cxxs; do
  for std in c++11 c++17; do
    run $cxx -std=$std $W -I. -c "$T/impl.cpp" -o "$T/impl.o"
    run $cxx -std=$std $W -I. -c "$T/decl.cpp" -o "$T/decl.o"
    run $cxx "$T/impl.o" "$T/decl.o" -o "$T/twotu" -lpthread
  done
done
# optional backends compile clean too (when their headers are installed)
if have_header curl/curl.h; then
  run gcc -std=c99 $W -I. -DPACKTRACK_USE_CURL -DPACKTRACK_USE_ZLIB -c "$T/impl.c" -o "$T/impl.o"
  run g++ -std=c++11 $W -I. -DPACKTRACK_USE_CURL -DPACKTRACK_USE_ZLIB -c "$T/impl.cpp" -o "$T/impl.o"
fi
if have_header libdeflate.h; then
  run gcc -std=c99 $W -I. -DPACKTRACK_USE_LIBDEFLATE -c "$T/impl.c" -o "$T/impl.o"
fi
run gcc -std=c99 $W -I. -DPACKTRACK_NO_THREADS -c "$T/impl.c" -o "$T/impl.o"
if [ $fail -ne 0 ]; then echo "header hygiene checks failed"; exit 1; fi
echo "header hygiene: ok ($ccs C99/C11, $cxxs C++11/17, two TUs, static API, no OS headers)"
