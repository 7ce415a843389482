#!/bin/sh
# make demo: events flowing into a local sink, no PackTrack account needed.
# Usage: sh examples/demo.sh [BUILD_DIR]   (the binaries come from `make examples`)
B=${1:-build}
KEY=pk_demo_throwaway_0000          # the sink accepts any key; it never prints it
for bin in packtrack-sink packtrack-logger async workflow; do
  if [ ! -x "$B/$bin" ]; then echo "demo: $B/$bin is missing; run: make B=$B examples" >&2; exit 1; fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/packtrack-demo.XXXXXX") || exit 1
SINK_PID=
stop_sink() {
  if [ -n "$SINK_PID" ]; then
    kill -INT "$SINK_PID" 2>/dev/null
    wait "$SINK_PID" 2>/dev/null
    SINK_PID=
  fi
}
trap 'stop_sink; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

"$B/packtrack-sink" --port 0 > "$TMP/sink.out" 2>&1 &
SINK_PID=$!

# The sink's first line is "listening on http://127.0.0.1:PORT".
URL=
i=0
while [ $i -lt 50 ]; do
  URL=$(sed -n '1s/^listening on //p' "$TMP/sink.out")
  [ -n "$URL" ] && break
  kill -0 "$SINK_PID" 2>/dev/null || break
  sleep 0.1; i=$((i + 1))
done
if [ -z "$URL" ]; then echo "demo: the sink did not start:" >&2; cat "$TMP/sink.out" >&2; exit 1; fi
echo "== sink listening on $URL"

export PACKTRACK_BASE_URL="$URL" PACKTRACK_API_KEY="$KEY"
status=0

echo "== $B/async  (the quick start: defaults + pt_trackf + pt_close)"
"$B/async" || status=1

echo "== $B/workflow  (steps: a running event and a closing one with duration_ms, nested, one ended on another thread)"
"$B/workflow" || status=1

echo "== packtrack-logger: one event, fields from the environment, --message on the command line"
PACKTRACK_SOURCE_SYSTEM=demo-shell PACKTRACK_WORKFLOW_ID=wf-demo PACKTRACK_ACTOR_TYPE=script \
PACKTRACK_ACTOR_ID=demo.sh PACKTRACK_SEVERITY=info PACKTRACK_STATUS=success \
  "$B/packtrack-logger" --message "hello from packtrack-logger" --metadata '{"step":1,"tags":["demo"]}' --verbose 2>&1 || status=1

echo "== packtrack-logger: NDJSON on stdin, gzip"
ev() { printf '{"source":{"system":"demo-shell","env":"local"},"workflow":{"id":"wf-demo","run_id":"r-1"},"actor":{"type":"script","id":"demo.sh"},"severity":"%s","status":"%s","message":"%s"}\n' "$1" "$2" "$3"; }
{ ev info running "step 2: fetching"; ev warn retrying "step 3: upstream slow"; ev error failed "step 4: gave up"; } \
  | "$B/packtrack-logger" --stdin --ndjson --gzip
rc=$?
echo "   exit code $rc (0 ok, 1 bad arguments, 2 rejected, 3 retries exhausted, 4 input error)"
[ $rc -eq 0 ] || status=1

echo "== packtrack-logger --health"
"$B/packtrack-logger" --health || status=1

sleep 0.2
stop_sink
echo "== what the sink printed"
cat "$TMP/sink.out"
exit $status
