#!/bin/sh
# Packaging check: builds tests/consumer/ against packtrack every way a user
# can take it, as C and (where cmake finds a C++ compiler) as C++, and runs it
# (each consumer sends one event to a local sink):
#   add_subdirectory      header-only, library+curl+zlib, header-only NO_THREADS,
#                         library with the four OS switches, the smallest build
#                         (every PACKTRACK_NO_* switch), install with two footprint
#                         switches (checked in packtrack.pc),
#                         and cross-built for Windows with mingw-w64 (ws2_32)
#   FetchContent          from a file:// source archive, header-only and library+libdeflate
#   find_package          after `cmake --install` into a temp prefix (header-only, library+curl+zlib)
#   pkg-config            the installed packtrack.pc, plain cc, both installs
#   version               find_package(packtrack 9) is refused; the .pc version is the header's
# Prints one line per case ("ok", "FAIL", "skip") and closes with the runner's
# summary line "N passed, N failed, N skipped". Missing tools (cmake,
# pkg-config, libcurl/libdeflate headers) skip their cases, naming the Debian
# package; with CI=true a missing tool is a failure.
# Usage: sh tests/packaging.sh   (B=build dir, default build; work in $B/packaging)
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
W="$ROOT/$B/packaging"
case "$B" in /*) W="$B/packaging" ;; esac
pass=0; fail=0; skip=0
ci=0; [ "${CI:-}" = "true" ] && ci=1

ok()   { echo "ok   $1"; pass=$((pass + 1)); }
bad()  { echo "FAIL $1"; shift; for l in "$@"; do echo "    $l"; done; fail=$((fail + 1)); }
# skipped NAME PACKAGE WHY: a skip, or a failure under CI=true
skipped() {
  if [ $ci -eq 1 ]; then bad "$1" "$3 (CI=true requires it: apt-get install $2)"
  else echo "skip $1: $3 (Debian package: $2)"; skip=$((skip + 1)); fi
}
# shows the tail of a log under a failure
logtail() { tail -n 15 "$1" | sed 's/^/    | /'; }

have_cmake=1; command -v cmake >/dev/null 2>&1 || have_cmake=0
have_pc=1; command -v pkg-config >/dev/null 2>&1 || have_pc=0
hdr() { printf '#include <%s>\n' "$1" | $CC ${CPPFLAGS:-} -x c -E - >/dev/null 2>&1; }   # honours CPPFLAGS, as tests/matrix.sh
have_curl=1; hdr curl/curl.h || have_curl=0
have_deflate=1; hdr libdeflate.h || have_deflate=0

rm -rf "$W"
mkdir -p "$W" || { bad packaging-setup "cannot create $W"; echo "$pass passed, $fail failed, $skip skipped"; exit 1; }

# ---- a local sink for the consumers to send to --------------------------------
SINK_PID=
URL=
stop_sink() { if [ -n "$SINK_PID" ]; then kill -INT "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=; fi; }
trap 'stop_sink' EXIT
trap 'exit 130' INT TERM
if $CC -std=c99 -O1 -o "$W/sink" "$ROOT/examples/packtrack-sink.c" -lpthread -lz > "$W/sink-build.log" 2>&1; then
  "$W/sink" --port 0 --quiet > "$W/sink.out" 2>&1 &
  SINK_PID=$!
  i=0
  while [ $i -lt 100 ]; do
    URL=$(sed -n '1s/^listening on //p' "$W/sink.out")
    [ -n "$URL" ] && break
    kill -0 "$SINK_PID" 2>/dev/null || break
    sleep 0.1; i=$((i + 1))
  done
fi
if [ -z "$URL" ]; then
  bad packaging-sink "the local sink did not start; the consumers only create a client" ; logtail "$W/sink-build.log"
fi
sent=0
# run_consumer NAME BINARY: runs it (sending one event when the sink is up,
# unless NO_URL=1: a build without sockets only creates a client)
run_consumer() {
  if [ ! -x "$2" ]; then bad "$1" "no binary at $2"; return 1; fi
  u=$URL; [ "${NO_URL:-0}" = 1 ] && u=
  if ! "$2" $u > "$W/$1.run" 2>&1; then bad "$1" "the consumer failed:"; logtail "$W/$1.run"; return 1; fi
  [ -n "$u" ] && sent=$((sent + 1))
  ok "$1"
}

# ---- CMake cases ---------------------------------------------------------------
# cmake_case NAME HOW [cmake -D options...]: configure + build tests/consumer, run it
cmake_case() {
  name=$1; how=$2; shift 2
  d="$W/$name"
  if ! nice cmake -S "$ROOT/tests/consumer" -B "$d" -DCONSUMER_HOW="$how" -DPACKTRACK_SOURCE="$ROOT" \
       -DPACKTRACK_URL="file://$W/packtrack-src.tar.gz" -DCMAKE_PREFIX_PATH="$PREFIX_PATH" "$@" > "$d.log" 2>&1; then
    bad "$name" "cmake configure failed:"; logtail "$d.log"; return 1
  fi
  if ! nice cmake --build "$d" >> "$d.log" 2>&1; then bad "$name" "build failed:"; logtail "$d.log"; return 1; fi
  run_consumer "$name" "$d/consumer"
  # the C++ build of the same consumer, when cmake found a C++ compiler
  if [ -f "$d/CMakeFiles/consumer_cxx.dir/build.make" ]; then run_consumer "$name-cxx" "$d/consumer_cxx"; fi
}
# install_case NAME PREFIX [options]: configure packtrack itself, build, install into PREFIX
install_case() {
  name=$1; prefix=$2; shift 2
  d="$W/$name"
  # configured for one prefix, installed into another: the package must not depend on it
  if nice cmake -S "$ROOT" -B "$d" -DCMAKE_INSTALL_PREFIX=/nonexistent/prefix "$@" > "$d.log" 2>&1 \
     && nice cmake --build "$d" >> "$d.log" 2>&1 && cmake --install "$d" --prefix "$prefix" >> "$d.log" 2>&1; then
    ok "$name"; return 0
  fi
  bad "$name" "configure/build/install of packtrack failed:"; logtail "$d.log"; return 1
}
# pc_case NAME PREFIX [cc flags]: plain cc with `pkg-config --cflags --libs packtrack`
pc_case() {
  name=$1; prefix=$2; shift 2
  flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs packtrack 2> "$W/$name.log")
  if [ $? -ne 0 ]; then bad "$name" "pkg-config --cflags --libs packtrack failed:"; logtail "$W/$name.log"; return 1; fi
  echo "pkg-config: $flags" >> "$W/$name.log"
  # shellcheck disable=SC2086
  if ! nice $CC -std=c99 -Wall -Wextra -pedantic "$@" -o "$W/$name.bin" "$ROOT/tests/consumer/main.c" $flags >> "$W/$name.log" 2>&1; then
    bad "$name" "cc with the pkg-config flags failed ($flags):"; logtail "$W/$name.log"; return 1
  fi
  run_consumer "$name" "$W/$name.bin"
}

if [ $have_cmake -eq 0 ]; then
  for c in subdir-header subdir-library-curl-zlib subdir-no-threads subdir-no-os-core fetch-header subdir-mingw-cross fetch-library-libdeflate \
           install-header find-header install-library-curl-zlib find-library-curl-zlib find-version-refused; do
    skipped "$c" cmake "cmake is not installed"
  done
else
  PREFIX_PATH=
  # the archive FetchContent downloads: what a release tarball of the header would hold
  (cd "$ROOT" && tar czf "$W/packtrack-src.tar.gz" packtrack.h CMakeLists.txt packtrack.pc.in cmake LICENSE) \
    || bad fetch-archive "cannot pack the sources"

  cmake_case subdir-header subdir
  if [ $have_curl -eq 1 ]; then
    cmake_case subdir-library-curl-zlib subdir -DPACKTRACK_BUILD_LIBRARY=ON -DPACKTRACK_USE_CURL=ON -DPACKTRACK_USE_ZLIB=ON
  else skipped subdir-library-curl-zlib libcurl4-openssl-dev "curl/curl.h not found"; fi
  cmake_case subdir-no-threads subdir -DPACKTRACK_NO_THREADS=ON
  # the OS-free core: every PACKTRACK_NO_* switch (the consumer supplies an HTTP hook)
  NO_URL=1
  cmake_case subdir-no-os-core subdir -DPACKTRACK_BUILD_LIBRARY=ON -DPACKTRACK_NO_THREADS=ON \
    -DPACKTRACK_NO_SOCKETS=ON -DPACKTRACK_NO_SPOOL=ON -DPACKTRACK_NO_DEFLATE=ON
  # the smallest build (`make size`): plus every footprint switch
  cmake_case subdir-smallest subdir -DPACKTRACK_BUILD_LIBRARY=ON -DPACKTRACK_NO_THREADS=ON \
    -DPACKTRACK_NO_SOCKETS=ON -DPACKTRACK_NO_SPOOL=ON -DPACKTRACK_NO_DEFLATE=ON -DPACKTRACK_NO_SYNC_API=ON \
    -DPACKTRACK_NO_ENV=ON -DPACKTRACK_NO_PROMETHEUS=ON -DPACKTRACK_NO_STEPS=ON -DPACKTRACK_NO_TRACK_JSON=ON \
    -DPACKTRACK_NO_RAW_JSON=ON -DPACKTRACK_NO_DEFAULTS=ON
  NO_URL=0
  # footprint switches reach an installed package: its packtrack.pc Cflags carry them
  if install_case install-footprint "$W/prefix-footprint" -DPACKTRACK_NO_ENV=ON -DPACKTRACK_NO_STEPS=ON; then
    pc="$W/prefix-footprint/lib/pkgconfig/packtrack.pc"
    if grep -q -- "-DPACKTRACK_NO_ENV" "$pc" && grep -q -- "-DPACKTRACK_NO_STEPS" "$pc" && ! grep -q -- "-DPACKTRACK_NO_SYNC_API" "$pc"; then
      ok pkg-config-footprint-cflags
    else bad pkg-config-footprint-cflags "packtrack.pc does not carry exactly the chosen switches:"; logtail "$pc"; fi
  fi
  cmake_case fetch-header fetch
  # Windows: cross-built with mingw-w64 (links ws2_32 through the target; the
  # windows-wine variant runs the library itself)
  if command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    d="$W/subdir-mingw-cross"
    if nice cmake -S "$ROOT/tests/consumer" -B "$d" -DCMAKE_SYSTEM_NAME=Windows -DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc \
         -DCONSUMER_CXX=OFF -DCONSUMER_HOW=subdir -DPACKTRACK_SOURCE="$ROOT" > "$d.log" 2>&1 && nice cmake --build "$d" -- VERBOSE=1 >> "$d.log" 2>&1; then
      # the link line: ws2_32 and no pthread (packtrack uses Win32 threads there)
      cat "$d/CMakeFiles/consumer.dir/linkLibs.rsp" "$d/CMakeFiles/consumer.dir/link.txt" >> "$d.link" 2>/dev/null
      if [ -f "$d/consumer.exe" ] && grep -q -- "-lws2_32" "$d.link" && ! grep -q -- "pthread" "$d.link"; then ok subdir-mingw-cross
      else bad subdir-mingw-cross "consumer.exe not linked with -lws2_32 alone:"; logtail "$d.link"; fi
    else bad subdir-mingw-cross "cross build failed:"; logtail "$d.log"; fi
  else skipped subdir-mingw-cross gcc-mingw-w64-x86-64 "x86_64-w64-mingw32-gcc not found"; fi
  if [ $have_deflate -eq 1 ]; then
    cmake_case fetch-library-libdeflate fetch -DPACKTRACK_BUILD_LIBRARY=ON -DPACKTRACK_USE_LIBDEFLATE=ON
  else skipped fetch-library-libdeflate libdeflate-dev "libdeflate.h not found"; fi

  if install_case install-header "$W/prefix-header"; then
    PREFIX_PATH="$W/prefix-header"
    cmake_case find-header find
  fi
  if [ $have_curl -eq 1 ]; then
    if install_case install-library-curl-zlib "$W/prefix-lib" -DPACKTRACK_BUILD_LIBRARY=ON -DPACKTRACK_USE_CURL=ON -DPACKTRACK_USE_ZLIB=ON; then
      PREFIX_PATH="$W/prefix-lib"
      cmake_case find-library-curl-zlib find
    fi
  else
    skipped install-library-curl-zlib libcurl4-openssl-dev "curl/curl.h not found"
    skipped find-library-curl-zlib libcurl4-openssl-dev "curl/curl.h not found"
  fi

  # a version the package does not provide is refused
  if [ -d "$W/prefix-header" ]; then
    d="$W/find-version-refused"
    mkdir -p "$d/src"
    printf 'cmake_minimum_required(VERSION 3.14)\nproject(v LANGUAGES C)\nfind_package(packtrack 9.0 CONFIG REQUIRED)\n' > "$d/src/CMakeLists.txt"
    if cmake -S "$d/src" -B "$d/b" -DCMAKE_PREFIX_PATH="$W/prefix-header" > "$d.log" 2>&1; then
      bad find-version-refused "find_package(packtrack 9.0) succeeded against version $(sed -n 's/.*PACKTRACK_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/packtrack.h")"
    elif grep -q "requested version" "$d.log"; then ok find-version-refused
    else bad find-version-refused "refused, but not for its version:"; logtail "$d.log"; fi
  fi
fi

# ---- pkg-config cases -------------------------------------------------------------
if [ $have_pc -eq 0 ]; then
  skipped pkg-config-header pkg-config "pkg-config is not installed"
  skipped pkg-config-library-curl-zlib pkg-config "pkg-config is not installed"
  skipped pkg-config-version pkg-config "pkg-config is not installed"
elif [ $have_cmake -eq 0 ]; then
  skipped pkg-config-header cmake "packtrack.pc is generated by cmake --install"
  skipped pkg-config-library-curl-zlib cmake "packtrack.pc is generated by cmake --install"
  skipped pkg-config-version cmake "packtrack.pc is generated by cmake --install"
else
  if [ -f "$W/prefix-header/lib/pkgconfig/packtrack.pc" ]; then pc_case pkg-config-header "$W/prefix-header"
  else bad pkg-config-header "no packtrack.pc in $W/prefix-header/lib/pkgconfig"; fi
  if [ $have_curl -eq 0 ]; then skipped pkg-config-library-curl-zlib libcurl4-openssl-dev "curl/curl.h not found"
  elif [ -f "$W/prefix-lib/lib/pkgconfig/packtrack.pc" ]; then
    pc_case pkg-config-library-curl-zlib "$W/prefix-lib" -DCONSUMER_PREBUILT
  else bad pkg-config-library-curl-zlib "no packtrack.pc in $W/prefix-lib/lib/pkgconfig"; fi
  want=$(sed -n 's/^#define PACKTRACK_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/packtrack.h")
  got=$(PKG_CONFIG_PATH="$W/prefix-header/lib/pkgconfig" pkg-config --modversion packtrack 2>&1)
  if [ -n "$want" ] && [ "$got" = "$want" ]; then ok pkg-config-version
  else bad pkg-config-version "pkg-config --modversion packtrack says '$got', packtrack.h says '$want'"; fi
fi

# ---- every consumer's event reached the sink ----------------------------------------
if [ -n "$SINK_PID" ] && [ $sent -gt 0 ]; then
  stop_sink
  got=$(sed -n 's/^summary: .* \([0-9][0-9]*\) events,.*/\1/p' "$W/sink.out")
  if [ "$got" = "$sent" ]; then ok "sink-received-$sent-events"
  else bad sink-received "the consumers sent $sent events, the sink counted '${got:-nothing}':"; logtail "$W/sink.out"; fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
