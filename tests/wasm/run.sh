#!/bin/sh
# WebAssembly variant: the C-library-only core (PACKTRACK_NO_THREADS,
# PACKTRACK_NO_SOCKETS, PACKTRACK_NO_SPOOL; and the smallest build: + NO_DEFLATE and
# the footprint switches NO_SYNC_API, NO_ENV, NO_PROMETHEUS, NO_STEPS, NO_TRACK_JSON,
# NO_RAW_JSON, NO_DEFAULTS; built at -Os, so the small forms of PT__SMALL run too)
# built with emscripten (strict warnings, -Werror) into one self-contained
# .js (-sSINGLE_FILE=1), run under node with an in-memory HTTP hook
# (tests/wasm/test_wasm.c). Also lists the module's imports: only clocks,
# memory and the test program's own stdout may appear (no socket, thread or
# file function). Skips loudly when emscripten or node is missing; under
# CI=true that is a failure (CI installs them: .ci/run).
# Last line: "N passed, N failed, N skipped".
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
W="$B/wasm"
mkdir -p "$W"
EMCC=${EMCC:-emcc}
NODE=${NODE:-node}
# Debian's emcc runs its JS optimizer (-O2 link) with acorn from node-acorn,
# which a node from elsewhere does not find by itself
NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"; export NODE_PATH
skip() {
  echo "skip: wasm-node: $1"
  if [ "$CI" = true ]; then echo "0 passed, 1 failed, 0 skipped"; exit 1; fi
  echo "0 passed, 0 failed, 1 skipped"; exit 0
}
command -v "$EMCC" >/dev/null 2>&1 || skip "emscripten not installed: $EMCC not found (apt-get install emscripten)"
command -v "$NODE" >/dev/null 2>&1 || skip "node not found (apt-get install nodejs)"
STRICT="-Wall -Wextra -pedantic -Wshadow -Wconversion -Wsign-conversion -Wcast-qual -Wundef -Wdouble-promotion -Wstrict-prototypes -Wmissing-prototypes -Werror"
CORE="-DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL"
passed=0; failed=0
for v in core smallest; do
  f=$CORE; [ $v = smallest ] && f="$CORE -DPACKTRACK_NO_DEFLATE -DPACKTRACK_NO_SYNC_API -DPACKTRACK_NO_ENV -DPACKTRACK_NO_PROMETHEUS -DPACKTRACK_NO_STEPS -DPACKTRACK_NO_TRACK_JSON -DPACKTRACK_NO_RAW_JSON -DPACKTRACK_NO_DEFAULTS"
  o=-O2; [ $v = smallest ] && o=-Os   # -Os: the small forms (PT__SMALL) of the writer
  if ! $EMCC -std=c99 $o $STRICT $f -sSINGLE_FILE=1 -o "$W/test_$v.js" tests/wasm/test_wasm.c > "$W/build_$v.log" 2>&1; then
    echo "FAIL wasm_$v: emcc build failed"; cat "$W/build_$v.log"; failed=$((failed + 1)); continue
  fi
  "$NODE" "$W/test_$v.js" > "$W/test_$v.out" 2>&1
  grep -E '^(FAIL|skip)|^    ' "$W/test_$v.out"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$W/test_$v.out" | tail -n 1)
  if [ -z "$line" ]; then echo "FAIL wasm_$v: the module died under node"; tail -n 20 "$W/test_$v.out"; failed=$((failed + 1)); continue; fi
  echo "wasm $v build under node: $line"
  passed=$((passed + $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
done
# the imports of the module (a separate .wasm this time): nothing but clocks,
# memory and the harness's printf may reach outside
if $EMCC -std=c99 -O2 $CORE -o "$W/imports.js" tests/wasm/test_wasm.c > "$W/build_imports.log" 2>&1; then
  imports=$("$NODE" -e 'const m = new WebAssembly.Module(require("fs").readFileSync(process.argv[1]));
    console.log(WebAssembly.Module.imports(m).map(i => i.name).join(" "))' "$W/imports.wasm")
  bad=$(echo "$imports" | tr ' ' '\n' | grep -E 'socket|connect|send|recv|addrinfo|poll|select|pthread|thread|open|sync|unlink|rename|fcntl|mkdir|dir' | tr '\n' ' ')
  if [ -z "$imports" ] || [ -n "$bad" ]; then echo "FAIL wasm_imports: ${bad:-could not list the imports} (all: $imports)"; failed=$((failed + 1))
  else echo "ok   wasm_imports ($imports)"; passed=$((passed + 1)); fi
else
  echo "FAIL wasm_imports: emcc build failed"; cat "$W/build_imports.log"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
