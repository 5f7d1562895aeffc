#!/bin/sh
# demo.sh -- Install, build, and run rrload's main job on the bundled sample.
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
./build/cli/rrload --help
