#!/bin/sh
# Recorder throughput: rrload record -r against tshark -r FILE -Y http on the same large
# capture, in the same run. Usage: bench/record.sh [BUILD_DIR] [SIZE_MB] [MSS]
# MSS (e.g. 1448) re-segments the loopback captures as an Ethernet link would carry them.
# Writes the figures to stdout; docs/benchmarks/recorder.md has the results.
set -eu
B=${1:-build}
MB=${2:-300}
MSS=${3:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GEN=${RR_SHARED:-$ROOT/../shared}/corpus/generated
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cc -O2 -I"$ROOT/common/include" -I"$ROOT/store/include" -I"$ROOT/recorder/include" \
    -o "$T/record_bench" "$ROOT/bench/record_bench.c" "$ROOT/$B/recorder/librr_recorder.a" \
    "$ROOT/$B/store/librr_store.a" "$ROOT/$B/common/librr_common.a" "$ROOT/$B/libllhttp.a" \
    -lpcap -lnghttp2 -llmdb -lz -lm
python3 "$ROOT/bench/pcap_repeat.py" ${MSS:+--mss "$MSS"} "$T/big.pcap" "$MB" "$GEN"/*.pcap
SIZE=$(stat -c %s "$T/big.pcap")
cat "$T/big.pcap" >/dev/null # page cache warm for both tools

run() { # label, command...: prints seconds and max RSS
    label=$1; shift
    /usr/bin/time -f "%e %M" -o "$T/time" "$@" >"$T/$label.out" 2>"$T/$label.err" || true
    set -- $(cat "$T/time")
    echo "$label $1 $2"
}
R1=$(run rrload "$ROOT/$B/cli/rrload" record -q -r "$T/big.pcap" -o "$T/s.db")
R0=$(run pipeline "$T/record_bench" "$T/big.pcap")
R2=$(run tshark tshark -r "$T/big.pcap" -Y http)
echo "$R1" "$R0" "$R2" | awk -v size="$SIZE" '{
    printf "capture: %.1f MB\n", size / 1e6;
    printf "rrload record -r:          %6.2f s  %7.1f MB/s  max RSS %6.1f MB\n", $2, size / 1e6 / $2, $3 / 1024;
    printf "pipeline only (no store):  %6.2f s  %7.1f MB/s  max RSS %6.1f MB\n", $5, size / 1e6 / $5, $6 / 1024;
    printf "tshark -r -Y http:         %6.2f s  %7.1f MB/s  max RSS %6.1f MB\n", $8, size / 1e6 / $8, $9 / 1024;
    printf "ratio tshark/rrload record: %.1fx; tshark/pipeline: %.1fx\n", $8 / $2, $8 / $5 }'
cat "$T/pipeline.out"
grep -c . "$T/tshark.out" | sed 's/^/tshark lines: /'
"$ROOT/$B/cli/rrload" show "$T/s.db" meta | grep -i "^exchanges\|record_summary" | head -3 || true
