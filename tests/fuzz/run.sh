#!/bin/sh
# Builds the libFuzzer targets in tests/fuzz/ and runs each for N seconds.
#   tests/fuzz/run.sh [seconds] [target...]     (default 20 s, all targets;
#                                              0 = build and minimise only)
# Corpus: tests/fuzz/corpus/<target>/ (read, then minimised with -merge=1 so
# only inputs that add coverage are kept). Crashes: tests/fuzz/crashes/<target>/
# (replayed by the json_fuzz_corpus_replay test in tests/test_json.c).
# Environment: FUZZ_CC (default clang), FUZZ_BUILD (default /tmp/packtrack-fuzz).
set -u
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-"fuzz_json_writer fuzz_json_validate fuzz_http_head fuzz_url fuzz_retry_after fuzz_spool"}
cc=${FUZZ_CC:-clang}
build=${FUZZ_BUILD:-/tmp/packtrack-fuzz}
mkdir -p "$build" || exit 2
status=0
npass=0; nfail=0
for t in $targets; do
    t=$(basename "$t" .c)
    echo "== $t: build"
    if ! $cc -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
            -o "$build/$t" "$here/$t.c" -lpthread -lm; then
        status=1; continue
    fi
    corpus="$here/corpus/$t"; crashes="$here/crashes/$t"; work="$build/work-$t"; merged="$build/merged-$t"
    mkdir -p "$corpus" "$crashes" "$work"
    case $t in
        fuzz_json_*) dict="-dict=$here/json.dict" ;;
        *) dict="-dict=$here/http.dict" ;;
    esac
    echo "== $t: run ${secs}s"
    # new inputs go to $work; the committed corpus is only read here
    before=$status
    if [ "$secs" -gt 0 ] && ! "$build/$t" -max_total_time="$secs" -timeout=10 -max_len=4096 -print_final_stats=1 \
            -artifact_prefix="$crashes/" "$dict" "$work" "$corpus" 2>"$build/$t.log"; then
        status=1
        echo "   CRASH (see $build/$t.log, input in $crashes/)"
        grep -E 'ERROR|invariant|SUMMARY' "$build/$t.log" | head -5
    fi
    [ "$secs" -gt 0 ] && grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$build/$t.log" | tail -2
    if [ "$status" = "$before" ]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
    # keep the committed corpus small: only inputs that add edge coverage
    # (-use_counters=0: hit counts do not count as new features)
    [ "${FUZZ_NO_MERGE:-0}" = 1 ] && continue      # CI/make test: leave the committed corpus alone
    rm -rf "$merged"; mkdir -p "$merged"
    if "$build/$t" -merge=1 -use_counters=0 "$merged" "$corpus" "$work" >"$build/$t.merge.log" 2>&1; then
        rm -f "$corpus"/*
        cp "$merged"/* "$corpus"/ 2>/dev/null
    fi
    echo "   corpus: $(ls "$corpus" | wc -l) files, $(cat "$corpus"/* 2>/dev/null | wc -c) bytes"
    rmdir "$crashes" 2>/dev/null
done
rmdir "$here/crashes" 2>/dev/null
echo "$npass passed, $nfail failed"
exit $status
