#!/bin/sh
# Runs the suite in every build variant and closes with one summary line.
# Variants whose libraries are missing fail loudly (CI installs them).
B=${B:-build}
total_p=0; total_f=0; total_s=0
VALGRIND_EXCLUDE=${VALGRIND_EXCLUDE:-"-spool_disk_full -spool_new_events_after_settled -pipeline_fork -pipeline_concurrency"}   # also set by the Makefile
: > "$B/matrix.log"
run_variant() {
  name=$1; shift
  echo "=== variant: $name"
  if ! make -s "$B/$1" >"$B/build-$name.log" 2>&1; then
    cat "$B/build-$name.log"; echo "variant $name: BUILD FAILED"; total_f=$((total_f + 1)); return
  fi
  shift
  run_and_count "$name" "$@"
}
# A variant that builds what it needs itself (e.g. the mingw/wine one):
# run_variant_cmd NAME COMMAND...; the command's last summary line counts.
run_variant_cmd() {
  name=$1; shift
  echo "=== variant: $name"
  run_and_count "$name" "$@"
}
run_and_count() {
  name=$1; shift
  out="$B/out-$name.txt"
  "$@" > "$out" 2>&1
  rc=$?
  grep -E '^(FAIL|skip)' "$out"
  grep -E '^    ' "$out" | head -40
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    tail -n 30 "$out"; echo "variant $name: runner died (exit $rc)"; total_f=$((total_f + 1)); return
  fi
  echo "variant $name: $line"
  p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p'); s=${s:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then echo "variant $name: exit $rc (sanitizer report?)"; tail -n 40 "$out"; f=1; fi
  total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + s))
}
run_variant default run ./$B/run
run_variant curl-zlib run-curl ./$B/run-curl
run_variant libdeflate run-libdeflate ./$B/run-libdeflate
run_variant cxx run-cxx ./$B/run-cxx
run_variant asan-ubsan run-asan env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./$B/run-asan
run_variant tsan run-tsan env TSAN_OPTIONS="halt_on_error=1" ./$B/run-tsan
# valgrind: the whole suite but four tests. Three fork a child that exits
# normally; valgrind follows a fork and reports the parent's heap (the test
# server) as leaked when the child exits, failing the child. The fourth,
# 8 threads x 100,000 events, takes minutes under valgrind's serialised
# threads. All four run in the ASan (leaks included) and TSan variants.
run_variant valgrind run valgrind -q --child-silent-after-fork=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  ./$B/run $VALGRIND_EXCLUDE
run_variant_cmd windows-wine sh tests/win/run.sh
# the C-library-only core: nm shows no thread/socket/file symbol, and it runs
# natively and as WebAssembly under node (emscripten; CI=true fails a skip)
run_variant_cmd nm-no-os sh tests/nm_check.sh
run_variant_cmd wasm-node sh tests/wasm/run.sh
run_variant_cmd packaging env B="$B" sh tests/packaging.sh
if command -v clang >/dev/null 2>&1; then
  run_variant_cmd fuzz-10s-each env FUZZ_NO_MERGE=1 FUZZ_BUILD="$B/fuzz" sh tests/fuzz/run.sh 10
fi
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
