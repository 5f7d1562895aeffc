#!/bin/sh
# Live capture under load: rrload record -i lo while h2load (HTTP/1.1, keep-alive) drives the
# demo target on loopback; reports the request rate, exchanges recorded and kernel drops.
# Needs root. Usage: bench/record_live.sh [BUILD_DIR] [REQUESTS] [CONNECTIONS]
set -eu
B=${1:-build}
N=${2:-200000}
C=${3:-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
"$ROOT/$B/samples/demo_target" --port 0 --port-file "$T/ports" 2>"$T/demo.err" &
DEMO=$!
trap 'kill $DEMO 2>/dev/null; rm -rf "$T"' EXIT
while [ ! -s "$T/ports" ]; do sleep 0.05; done
P=$(sed 's/http=\([0-9]*\).*/\1/' "$T/ports")
"$ROOT/$B/cli/rrload" record -i lo -f "tcp port $P" -t 60s -o "$T/live.db" 2>"$T/rec.err" &
REC=$!
while ! grep -q "capturing on" "$T/rec.err"; do sleep 0.05; done
h2load --h1 -n "$N" -c "$C" -t 1 "http://127.0.0.1:$P/static/style.css" >"$T/load.out"
sleep 1
kill -INT $REC
wait $REC || true
grep -E "^finished in|^requests:" "$T/load.out"
cat "$T/rec.err"
