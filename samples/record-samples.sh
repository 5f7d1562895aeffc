#!/bin/sh
# Re-record the bundled sample captures: start the demo target on free ports, capture its
# traffic on the loopback interface with dumpcap, drive it with real clients (python3
# requests; nghttp and curl over h2c prior knowledge), then count the exchanges with tshark.
#
# usage: samples/record-samples.sh [BUILD_DIR [OUT_DIR [SCENARIO...]]]
#   run as root or with dumpcap capabilities; BUILD_DIR defaults to ./build, OUT_DIR to the
#   samples folder, SCENARIO to all of: shop-h1 mix-123 lookups shop-h2c features-h1
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
out=${2:-$here}
target="$build/samples/demo_target"
[ -x "$target" ] || { echo "record-samples: no $target; build first (ninja -C $build)" >&2; exit 2; }
for tool in dumpcap tshark curl nghttp python3; do
    command -v "$tool" >/dev/null || { echo "record-samples: $tool is needed" >&2; exit 2; }
done

tmp=$(mktemp -d)
tpid=
cpid=
cleanup() {
    [ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
    [ -n "$tpid" ] && kill "$tpid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# record NAME: one capture of one scenario of clients.py
record() {
    name=$1
    rm -f "$tmp/ports"
    "$target" --port 0 --h2-port 0 --port-file "$tmp/ports" --log "$tmp/$name.log" \
        2>"$tmp/target.err" &
    tpid=$!
    i=0
    while [ ! -s "$tmp/ports" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { cat "$tmp/target.err" >&2; exit 1; }
        sleep 0.05
    done
    http=$(sed -n 's/^http=\([0-9]*\) .*/\1/p' "$tmp/ports")
    h2c=$(sed -n 's/.* h2c=\([0-9]*\)$/\1/p' "$tmp/ports")
    # -P: classic pcap, which every reader (and rrload's) takes; full snap length
    dumpcap -q -P -i lo -s 0 -f "tcp port $http or tcp port $h2c" -w "$tmp/$name.pcap" \
        2>"$tmp/dumpcap.err" &
    cpid=$!
    i=0
    until grep -q "Capturing on" "$tmp/dumpcap.err" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { cat "$tmp/dumpcap.err" >&2; exit 1; }
        sleep 0.05
    done
    sleep 0.2
    made=$(python3 "$here/clients.py" "$name" "$http" "$h2c")
    sleep 0.3
    kill -INT "$cpid"
    wait "$cpid" || true
    cpid=
    kill -TERM "$tpid"
    wait "$tpid" || true
    tpid=
    logged=$(wc -l <"$tmp/$name.log")
    if [ "$name" = shop-h2c ]; then
        reqs=$(tshark -r "$tmp/$name.pcap" -d "tcp.port==$h2c,http2" \
            -Y http2.headers.method -T fields -e http2.headers.method 2>/dev/null |
            tr ',' '\n' | grep -c .)
        resps=$(tshark -r "$tmp/$name.pcap" -d "tcp.port==$h2c,http2" \
            -Y http2.headers.status -T fields -e http2.headers.status 2>/dev/null |
            tr ',' '\n' | grep -c .)
    else
        # a packet can carry several pipelined requests: count methods and codes, not packets
        reqs=$(tshark -r "$tmp/$name.pcap" -Y http.request -T fields -e http.request.method \
            2>/dev/null | tr ',' '\n' | grep -c .)
        resps=$(tshark -r "$tmp/$name.pcap" -Y http.response -T fields -e http.response.code \
            2>/dev/null | tr ',' '\n' | grep -c .)
    fi
    conns=$(tshark -r "$tmp/$name.pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' \
        -T fields -e frame.number 2>/dev/null | grep -c .)
    if [ "$made" != "$reqs" ] || [ "$made" != "$resps" ] || [ "$made" != "$logged" ]; then
        echo "record-samples: $name: clients made $made exchanges, target logged $logged," \
            "tshark sees $reqs requests and $resps responses" >&2
        exit 1
    fi
    cp "$tmp/$name.pcap" "$out/$name.pcap"
    printf '%-14s %4d exchanges  %3d connections  %7d bytes\n' "$name.pcap" "$made" "$conns" \
        "$(wc -c <"$out/$name.pcap")"
}

[ $# -ge 3 ] || set -- "$build" "$out" shop-h1 mix-123 lookups shop-h2c features-h1
shift 2
for s in "$@"; do record "$s"; done
