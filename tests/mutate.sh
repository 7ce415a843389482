#!/bin/sh
# Mutation testing: `make mutate` (or sh tests/mutate.sh [name-substring...]).
# For each tests/mutants/*.mut (format: tests/mutants/README.md) it applies
# the find/replace to a copy of packtrack.h, builds the test runner against
# the copy (-O0, no -g: MUTATE_CFLAGS; plus its `build:` flags), runs only the
# tests the mutant names, and prints one verdict:
#   killed    a named test failed (or the runner died / timed out): the bug is caught
#   survived  every named test passed: the suite misses this bug
#   error     the find text is not in packtrack.h exactly once, the file is
#             malformed, the mutant does not build, no named test ran, or
#             every named test skipped: the mutant proves nothing
# First a baseline: the unmutated header must pass every test the catalogue
# names (else a "killed" would mean nothing). Exit status 0 only if every
# mutant was killed. MUTATE_JOBS (default 2) mutants run at once;
# MUTATE_TIMEOUT (default 300 s) bounds each run. Needs python3 (the
# exact-text substitution) and the default build's compiler and zlib.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
W=$B/mutate
CC=${CC:-cc}
JOBS=${MUTATE_JOBS:-2}
TIMEOUT=${MUTATE_TIMEOUT:-300}
CFLAGS_M=${MUTATE_CFLAGS:-"-std=c99 -O0 -w"}   # -O0: the build is most of a mutant's time (2 s vs 8 s at -O1)

# ---- one mutant (or a baseline .spec): mutate.sh --one FILE ----------------
# Writes $dir/verdict: "<verdict> <name> <seconds> <detail>".
copy_tree() {   # $1: destination directory
  mkdir -p "$1/tests/fuzz" && cp "$ROOT"/tests/*.c "$ROOT"/tests/*.h "$1/tests/" \
    && cp "$ROOT"/tests/fuzz/*.h "$1/tests/fuzz/"
}
parse_apply() {   # $1: .mut file, $2: out dir; writes packtrack.h, tests.txt, build.txt, about.txt
  python3 - "$1" "$ROOT/packtrack.h" "$2" <<'EOF'
import sys
mut, header, out = sys.argv[1], sys.argv[2], sys.argv[3]
lines = open(mut, encoding="utf-8").read().split("\n")
if lines and lines[-1] == "":
    lines.pop()                      # the file's final newline ends the last line
about, tests, build = "", None, ""
i = 0
while i < len(lines) and lines[i] != "find:":
    l = lines[i]
    if l.startswith("#") and not about: about = l.lstrip("#").strip()
    elif l.startswith("tests:"): tests = l[6:].strip()
    elif l.startswith("build:"): build = l[6:].strip()
    elif l.strip() and not l.startswith("#"):
        print("malformed: unexpected line before find: %r" % l); sys.exit(2)
    i += 1
if i == len(lines): print("malformed: no find: line"); sys.exit(2)
if not tests: print("malformed: no tests: line"); sys.exit(2)
try: j = lines.index("replace:", i + 1)
except ValueError: print("malformed: no replace: line"); sys.exit(2)
find = "\n".join(lines[i + 1:j])
repl = "\n".join(lines[j + 1:])
if not find: print("malformed: empty find text"); sys.exit(2)
src = open(header, encoding="utf-8").read()
n = src.count(find)
if n != 1:
    print("find text occurs %d times in packtrack.h (must be exactly once): %r" % (n, find.split("\n")[0][:100]))
    sys.exit(3)
open(out + "/packtrack.h", "w", encoding="utf-8").write(src.replace(find, repl, 1))
open(out + "/tests.txt", "w").write(tests + "\n")
open(out + "/build.txt", "w").write(build + "\n")
open(out + "/about.txt", "w").write(about + "\n")
EOF
}
run_one() {   # $1: .mut file or baseline .spec
  case $1 in *.spec) name=$(basename "$1" .spec) ;; *) name=$(basename "$1" .mut) ;; esac
  dir=$W/$name
  rm -rf "$dir"; mkdir -p "$dir"
  t0=$(date +%s)
  verdict() { echo "$1 $name $(( $(date +%s) - t0 )) $2" > "$dir/verdict"; }
  if ! copy_tree "$dir"; then verdict error "could not copy the tests"; return; fi
  case $1 in
    *.spec)   # a baseline: the unmutated header, with one `build:` set of flags
      cp "$ROOT/packtrack.h" "$dir/packtrack.h"
      sed -n 's/^tests: *//p' "$1" > "$dir/tests.txt"; sed -n 's/^build: *//p' "$1" > "$dir/build.txt" ;;
    *)
      if ! parse_apply "$1" "$dir" > "$dir/apply.log" 2>&1; then verdict error "$(tail -n 1 "$dir/apply.log")"; return; fi ;;
  esac
  build=$(cat "$dir/build.txt"); tests=$(cat "$dir/tests.txt")
  # shellcheck disable=SC2086
  if ! nice "$CC" $CFLAGS_M -o "$dir/run" "$dir/tests/run.c" $build -lpthread -lz -lm > "$dir/build.log" 2>&1; then
    verdict error "does not build ($(grep -m1 -i error "$dir/build.log" | cut -c1-120))"; return
  fi
  # shellcheck disable=SC2086
  (cd "$ROOT" && timeout "$TIMEOUT" nice "$dir/run" $tests) > "$dir/out.txt" 2>&1
  rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/out.txt" | tail -n 1)
  p=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p'); p=${p:-0}
  f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p'); f=${f:-0}
  s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p'); s=${s:-0}
  failed_names=$(grep -E '^FAIL ' "$dir/out.txt" | awk '{print $2}' | tr '\n' ' ')
  if [ "$rc" -eq 124 ]; then verdict killed "timed out after ${TIMEOUT}s"
  elif [ -z "$line" ]; then verdict killed "runner died (exit $rc)"
  elif [ "$f" -gt 0 ]; then verdict killed "by ${failed_names% }"
  elif [ "$rc" -ne 0 ]; then verdict killed "runner exit $rc"
  elif [ "$p" -eq 0 ] && [ "$s" -eq 0 ]; then verdict error "no test matches: $tests"
  elif [ "$p" -eq 0 ]; then verdict error "every named test skipped: $tests"
  else verdict survived "$p test(s) passed: $tests"
  fi
}

if [ "${1:-}" = --one ]; then run_one "$2"; exit 0; fi

# ---- the catalogue ----------------------------------------------------------
command -v python3 >/dev/null 2>&1 || { echo "mutate: python3 is required (Debian: python3)"; exit 2; }
mkdir -p "$W"
list=""
for f in "$ROOT"/tests/mutants/*.mut; do
  [ -f "$f" ] || continue
  n=$(basename "$f" .mut)
  if [ $# -gt 0 ]; then
    hit=0; for a in "$@"; do case $n in *"$a"*) hit=1 ;; esac; done
    [ $hit -eq 1 ] || continue
  fi
  list="$list $f"
done
[ -n "$list" ] || { echo "mutate: no mutant in tests/mutants/"; exit 2; }
start=$(date +%s)

# Baselines: one per distinct `build:` line, running every test its mutants name.
rm -f "$W"/_baseline*.spec
for f in $list; do sed -n 's/^build: *//p' "$f" | head -n 1 | grep . || echo; done | sort -u > "$W/builds.txt"
k=0
while IFS= read -r bl; do
  k=$((k + 1))
  for f in $list; do
    fb=$(sed -n 's/^build: *//p' "$f" | head -n 1)
    [ "$fb" = "$bl" ] && sed -n 's/^tests://p' "$f"
  done | tr ' ' '\n' | sed '/^$/d' | sort -u > "$W/_tests$k.txt"
  # two halves (odd and even lines) so the baselines run side by side too
  for h in 1 0; do
    awk -v h=$h 'NR % 2 == h' "$W/_tests$k.txt" | tr '\n' ' ' | sed 's/^/tests: /' > "$W/_baseline$k$h.spec"
    printf '\nbuild: %s\n' "$bl" >> "$W/_baseline$k$h.spec"
    grep -q '^tests: *[^ ]' "$W/_baseline$k$h.spec" || rm -f "$W/_baseline$k$h.spec"
  done
done < "$W/builds.txt"
echo "mutate: baseline: the unmutated header must pass every named test ($k build(s))"
# shellcheck disable=SC2086
ls "$W"/_baseline*.spec | xargs -P "$JOBS" -n 1 sh "$0" --one
for spec in "$W"/_baseline*.spec; do
  n=$(basename "$spec" .spec)
  read -r v _ secs detail < "$W/$n/verdict"
  if [ "$v" != survived ]; then
    echo "mutate: BASELINE FAILS ($(sed -n 's/^build: *//p' "$spec"): $v: $detail): fix the suite first; verdicts would mean nothing"
    grep -E '^(FAIL|    )' "$W/$n/out.txt" 2>/dev/null | head -40
    exit 2
  fi
  echo "mutate: baseline [build: $(sed -n 's/^build: *//p' "$spec")] passes (${secs}s): $(sed -n 's/^tests: *//p' "$spec")"
done
echo "mutate: $(echo $list | wc -w) mutants, $JOBS at a time"

# shellcheck disable=SC2086
printf '%s\n' $list | xargs -P "$JOBS" -n 1 sh "$0" --one

killed=0; survived=0; errors=0; total=0
for f in $list; do
  n=$(basename "$f" .mut)
  total=$((total + 1))
  if [ -f "$W/$n/verdict" ]; then read -r v _ secs detail < "$W/$n/verdict"; else v=error; secs=0; detail="no verdict (harness crashed)"; fi
  about=$(sed -n '1s/^# *//p' "$f")
  printf '%-9s %-34s %4ss  %s\n' "$v" "$n" "$secs" "$about"
  printf '          %s\n' "$detail"
  case $v in
    killed) killed=$((killed + 1)); rm -rf "$W/$n" ;;
    survived) survived=$((survived + 1)) ;;
    *) errors=$((errors + 1)) ;;
  esac
  if [ "$v" = survived ] && [ -f "$W/$n/out.txt" ]; then sed 's/^/          | /' "$W/$n/out.txt" | tail -n 15; fi
  if [ "$v" = error ] && [ -f "$W/$n/build.log" ] && [ -s "$W/$n/build.log" ]; then sed 's/^/          | /' "$W/$n/build.log" | head -n 10; fi
done
echo "mutate: $total mutants: $killed killed, $survived survived, $errors errors ($(( $(date +%s) - start ))s)"
[ "$survived" -eq 0 ] && [ "$errors" -eq 0 ]
