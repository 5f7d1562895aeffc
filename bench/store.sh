#!/bin/sh
# bench/store.sh -- Exchange puts/s and foreach reads/s of the store against raw LMDB doing
# the same writes and walk, in the same run (the ratio is the result; absolute numbers move
# with the machine's load). Not part of meson test.
#
#   bench/store.sh                # 100000 exchanges, build dir ./build
#   N=20000 BUILD=build-x bench/store.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
N=${N:-100000}
WORK=$(mktemp -d /tmp/rr-bench-store.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
[ -f "$BUILD/store/librr_store.a" ] || { echo "build first: ninja -C $BUILD" >&2; exit 2; }
cc -O2 -I"$ROOT/common/include" -I"$ROOT/store/include" -o "$WORK/store_bench" \
    "$ROOT/bench/store_bench.c" "$BUILD/store/librr_store.a" "$BUILD/common/librr_common.a" \
    -llmdb -lz
"$WORK/store_bench" "$WORK" "$N"
