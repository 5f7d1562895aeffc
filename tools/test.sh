#!/bin/sh
# test.sh -- Install dependencies, build, and run the whole test suite: the plain build,
# then the ASan+UBSan build. Ends with the line "N passed, N failed" over both.
set -u
cd "$(dirname "$0")/.."
sh tools/deps.sh || exit 2
rc=0
run() {   # run BUILD_DIR MESON_ARGS...
    dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        rm -rf "$dir"
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
    fi
    ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
    meson test -C "$dir" --print-errorlogs --num-processes 2 2>&1 | tail -40 || true
}
run build --werror || rc=1
run build-asan --werror -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug || rc=1
python3 tools/ci_summary.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json || rc=1
exit $rc
