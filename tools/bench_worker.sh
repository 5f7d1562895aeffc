#!/bin/bash
# bench_worker.sh NWORKERS USERS TIME [PLAN] -- aggregated req/s a Locust master reports for
# NWORKERS rrload workers against the demo target (2 event-loop threads), all on 127.0.0.1.
# Without PLAN the workers use --url / (a thread per user); with PLAN they replay it.
# Run from the repository root after `ninja -C build`.
set -u
N=$1; U=$2; T=$3; PLAN=${4:-}
R=${RRLOAD:-./build/cli/rrload}
TMP=$(mktemp -d)
./build/samples/demo_target --port 0 --port-file "$TMP/pf" --threads 2 2>/dev/null &
TP=$!
while [ ! -s "$TMP/pf" ]; do sleep 0.05; done
P=$(sed 's/http=\([0-9]*\).*/\1/' "$TMP/pf")
MP=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
timeout 60 locust -f samples/locustfile_master.py --master --master-bind-host 127.0.0.1 \
    --master-bind-port "$MP" --headless --expect-workers "$N" -u "$U" -r "$U" -t "$T" \
    --csv "$TMP/m" -H "http://127.0.0.1:$P" >"$TMP/master.out" 2>&1 &
MPID=$!
PIDS=""
for i in $(seq "$N"); do
    if [ -n "$PLAN" ]; then
        $R worker "$PLAN" --master-host 127.0.0.1 --master-port "$MP" >"$TMP/w$i.out" 2>&1 &
    else
        $R worker --url / --master-host 127.0.0.1 --master-port "$MP" >"$TMP/w$i.out" 2>&1 &
    fi
    PIDS="$PIDS $!"
done
wait $MPID
sleep 1
kill $PIDS 2>/dev/null
kill $TP 2>/dev/null
wait 2>/dev/null
tail -1 "$TMP/m_stats.csv" | awk -F, -v n="$N" '{printf "workers=%d requests=%d req/s=%.0f\n", n, $3, $10}'
rm -rf "$TMP"
