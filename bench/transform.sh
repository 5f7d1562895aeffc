#!/bin/sh
# bench/transform.sh -- rr_transform_run exchanges/s on a large synthetic store of demo-like
# sessions, against a bare walk of the same store in the same run (the ratio is the result;
# absolute numbers move with the machine's load). One core. Not part of meson test.
#
#   bench/transform.sh                 # 60000 sessions (~240k exchanges), build dir ./build
#   SESSIONS=10000 BUILD=build-x bench/transform.sh
#   CONCURRENT=100 bench/transform.sh  # 100 sessions at a time, exchanges interleaved
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SESSIONS=${SESSIONS:-60000}
CONCURRENT=${CONCURRENT:-1}
WORK=$(mktemp -d /tmp/rr-bench-transform.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
[ -f "$BUILD/transform/librr_transform.a" ] || { echo "build first: ninja -C $BUILD" >&2; exit 2; }
cc -O2 -I"$ROOT/common/include" -I"$ROOT/store/include" -I"$ROOT/transform/include" \
    -o "$WORK/transform_bench" "$ROOT/bench/transform_bench.c" \
    "$BUILD/transform/librr_transform.a" "$BUILD/store/librr_store.a" \
    "$BUILD/common/librr_common.a" -ljansson -lpcre2-8 -llmdb -lz
taskset -c 0 "$WORK/transform_bench" "$WORK" "$SESSIONS" "$CONCURRENT" 2>/dev/null ||
    "$WORK/transform_bench" "$WORK" "$SESSIONS" "$CONCURRENT"
