#!/bin/sh
# deps.sh -- Install the Debian packages rrload builds, tests and benchmarks with.
# Skips apt entirely when everything is already installed, so repeated runs are fast.
set -eu
PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev python3
libpcap-dev libssl-dev libnghttp2-dev liblmdb-dev lmdb-utils zlib1g-dev libcurl4-openssl-dev
libcmocka-dev node-llhttp libjansson-dev libpcre2-dev libzmq3-dev libmsgpack-dev
curl python3-requests nghttp2-client nghttp2-server tshark python3-locust jq
nginx-light wrk iproute2 libcap2-bin chromium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
