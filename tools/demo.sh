#!/bin/sh
# demo.sh -- Install, build, and run rrload's main job on the bundled sample:
# record a capture of real shopping sessions, turn it into a plan, and replay it as
# virtual users against the bundled demo target on 127.0.0.1, with Locust-style reports.
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh
[ -f build/build.ninja ] || { rm -rf build; meson setup build >/dev/null; }
ninja -C build >/dev/null
RR=./build/cli/rrload
OUT=out/demo
mkdir -p "$OUT"
rm -f "$OUT/shop.db" "$OUT/shop.db-lock"

echo "== 1. record: samples/shop-h1.pcap (real clients against the demo target) into $OUT/shop.db"
$RR record -r samples/shop-h1.pcap -o "$OUT/shop.db"
$RR show "$OUT/shop.db" --limit 12

echo "== 2. transform: sessions -> weighted flows, correlated tokens, data pools"
$RR transform "$OUT/shop.db"

echo "== 3. replay against the demo target on 127.0.0.1"
./build/samples/demo_target --port 0 --port-file "$OUT/ports" --log "$OUT/target.log" &
TARGET=$!
trap 'kill $TARGET 2>/dev/null || true' EXIT INT TERM
i=0
while [ ! -s "$OUT/ports" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$OUT/ports")
set +e
$RR replay "$OUT/shop.db" -u 20 -r 10 -t 10s --host "http://127.0.0.1:$PORT" --headless \
    --csv "$OUT/demo" --html "$OUT/demo.html"
rc=$?
set -e
echo "== reports: $OUT/demo_stats.csv $OUT/demo_stats_history.csv $OUT/demo_failures.csv $OUT/demo.html (exit code $rc)"
exit $rc
