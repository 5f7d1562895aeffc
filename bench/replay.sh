#!/usr/bin/env bash
# bench/replay.sh -- rrload's replay engines next to wrk and h2load, against nginx, in one run.
#
# nginx (1 worker, `return 200 "hello\n"`, keep-alive, access_log off) is pinned to CPU
# $SERVER_CPU, every client to CPU $CLIENT_CPU (taskset). For each repetition and each
# connection count, the tools run back to back (interleaved, so drifts hit all alike), each
# under /usr/bin/time: req/s from the tool's own count, and requests per client CPU-second
# (user+sys). Then the memory of $MEM_USERS users waiting in think time (peak RSS).
# Ours runs through samples/embed_replay (the public API, the engine `rrload replay` uses).
#
#   bench/replay.sh                          # 10/50/200 connections, 5 s, 3 reps
#   CONNS=50 DUR=3 REPS=1 bench/replay.sh    # quick look
#   LOCUST=1 bench/replay.sh                 # add Locust FastHttpUser (slow; 1 rep is enough)
#   H2=1 bench/replay.sh                     # HTTP/2 cleartext: the h2 engine vs h2load -m 1
#   TLS=1 bench/replay.sh                    # HTTP/1.1 over TLS (nginx `listen ssl`, a
#                                            # self-signed certificate made here): the native
#                                            # engine vs curl vs wrk, all https
#                                            # (add rr-curl-h2 to TOOLS for curl's h2c)
#   EMBED_BASE=/old/build/samples/embed_replay bench/replay.sh   # add rr-curl-base: another
#                                            # build's curl engine, for before/after in one run
#
# Only 127.0.0.1 is contacted; nginx is stopped by its pid at the end. Not part of meson test.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
EMBED=${EMBED:-$BUILD/samples/embed_replay}
WORK=${WORK:-/tmp/rr-bench-replay-$$}
PORT=${PORT:-18491}
PORT_H2=${PORT_H2:-18492}
PORT_TLS=${PORT_TLS:-18493}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CONNS=${CONNS:-"10 50 200"}
DUR=${DUR:-5}
REPS=${REPS:-3}
H2=${H2:-0}
TLS=${TLS:-0}
if [[ $TLS == 1 ]]; then
  TOOLS=${TOOLS:-"wrk-tls rr-native-tls rr-curl-tls"}
  REF=${REF:-wrk-tls}
  SKIP_MEM=${SKIP_MEM:-1}
fi
if [[ $H2 == 1 ]]; then
  TOOLS=${TOOLS:-"h2load-h2c rr-h2"}
  REF=${REF:-h2load-h2c}
  SKIP_MEM=${SKIP_MEM:-1}
fi
TOOLS=${TOOLS:-"wrk h2load rr-native rr-curl"}
REF=${REF:-wrk}
SKIP_MEM=${SKIP_MEM:-0}
MEM_USERS=${MEM_USERS:-50000}
MEM_THINK=${MEM_THINK:-30}
MEM_DUR=${MEM_DUR:-15}
LOCUST=${LOCUST:-0}
EMBED_BASE=${EMBED_BASE:-}
[[ -n $EMBED_BASE ]] && TOOLS="$TOOLS rr-curl-base"

[[ -x $EMBED ]] || { echo "build first: $EMBED is missing" >&2; exit 2; }
mkdir -p "$WORK/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" > /dev/null 2>&1 || exit 1
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile 20000;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 19000; use epoll; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $WORK/tmp/body; proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi; uwsgi_temp_path $WORK/tmp/uwsgi; scgi_temp_path $WORK/tmp/scgi;
  server { listen 127.0.0.1:$PORT backlog=4096;
           location = / { default_type text/plain; return 200 "hello\n"; } }
  server { listen 127.0.0.1:$PORT_H2 http2 backlog=4096;
           location = / { default_type text/plain; return 200 "hello\n"; } }
  server { listen 127.0.0.1:$PORT_TLS ssl backlog=4096;
           ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
           location = / { default_type text/plain; return 200 "hello\n"; } }
}
NGX
taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx.conf" -p "$WORK" || exit 1
trap 'kill "$(cat "$WORK/nginx.pid")" 2>/dev/null' EXIT
sleep 0.3
URL=http://127.0.0.1:$PORT/
URL_H2=http://127.0.0.1:$PORT_H2/
URL_TLS=https://127.0.0.1:$PORT_TLS/

if [[ $LOCUST == 1 ]]; then
  TOOLS="$TOOLS locust-fast"
  cat > "$WORK/locustfile.py" <<'PY'
from locust import FastHttpUser, task, constant
class U(FastHttpUser):
    wait_time = constant(0)
    @task
    def get(self):
        self.client.get("/")
PY
fi

# one run: prints "tool conns reqs secs cpu"
run() {
  local tool=$1 c=$2 out="$WORK/out" tm="$WORK/time" reqs=0 t
  case $tool in
    wrk) /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" wrk -t1 -c"$c" -d"${DUR}s" "$URL" > "$out" 2>&1
         reqs=$(awk '/requests in/ {print $1}' "$out") ;;
    wrk-tls) /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" wrk -t1 -c"$c" -d"${DUR}s" "$URL_TLS" > "$out" 2>&1
         reqs=$(awk '/requests in/ {print $1}' "$out") ;;
    rr-native-tls|rr-curl-tls)
         t=${tool#rr-}
         /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" "$EMBED" "$URL_TLS" "$c" "$DUR" "${t%-tls}" > "$out" 2>&1
         reqs=$(awk '/requests,/ {print $1}' "$out") ;;
    h2load) /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" h2load --h1 -c"$c" -D"$DUR" "$URL" > "$out" 2>&1
         reqs=$(awk '/^requests:/ {print $8}' "$out") ;;
    h2load-h2c) /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" h2load -c"$c" -m1 -D"$DUR" "$URL_H2" > "$out" 2>&1
         reqs=$(awk '/^requests:/ {print $8}' "$out") ;;
    rr-h2|rr-curl-h2)
         /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" "$EMBED" "$URL_H2" "$c" "$DUR" "${tool#rr-}" > "$out" 2>&1
         reqs=$(awk '/requests,/ {print $1}' "$out") ;;
    rr-native|rr-curl)
         /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" "$EMBED" "$URL" "$c" "$DUR" "${tool#rr-}" > "$out" 2>&1
         reqs=$(awk '/requests,/ {print $1}' "$out") ;;
    rr-curl-base)
         /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" "$EMBED_BASE" "$URL" "$c" "$DUR" curl > "$out" 2>&1
         reqs=$(awk '/requests,/ {print $1}' "$out") ;;
    locust-fast)
         /usr/bin/time -o "$tm" -f "%e %U %S %M" taskset -c "$CLIENT_CPU" locust -f "$WORK/locustfile.py" --headless -u "$c" -r "$c" -t "${DUR}s" -H "http://127.0.0.1:$PORT" --only-summary > "$out" 2>&1
         reqs=$(awk '/Aggregated/ {print $2; exit}' "$out") ;;
  esac
  read -r wall u s rss < <(tail -1 "$tm")
  echo "$tool $c ${reqs:-0} $DUR $(echo "$u + $s" | bc) $rss"
}

RES="$WORK/results.tsv"
: > "$RES"
for rep in $(seq "$REPS"); do
  for c in $CONNS; do
    for t in $TOOLS; do
      run "$t" "$c" | tee -a "$RES" >&2
    done
  done
done

echo
echo "## Throughput: nginx on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU, ${DUR}s runs, median of $REPS"
echo
python3 - "$RES" "$CONNS" "$TOOLS" "$REF" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
conns, tools, ref = sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
def med(tool, c, f):
    v = [f(r) for r in rows if r[0] == tool and r[1] == c]
    return st.median(v) if v else 0
rps = lambda r: int(r[2]) / float(r[3])
rpc = lambda r: int(r[2]) / max(float(r[4]), 0.01)
print("| tool | " + " | ".join("req/s c=%s" % c for c in conns) + " | " +
      " | ".join("req/CPU-s c=%s" % c for c in conns) + " | req/s vs %s | req/CPU-s vs %s |" % (ref, ref))
print("|---" * (1 + 2 * len(conns) + 2) + "|")
for t in tools:
    a = [med(t, c, rps) for c in conns]
    b = [med(t, c, rpc) for c in conns]
    wa = [med(ref, c, rps) for c in conns]
    wb = [med(ref, c, rpc) for c in conns]
    ra = st.median([x / y for x, y in zip(a, wa) if y]) if any(wa) else 0
    rb = st.median([x / y for x, y in zip(b, wb) if y]) if any(wb) else 0
    print("| %s | %s | %s | %.2f | %.2f |" % (t, " | ".join("%.0f" % x for x in a),
          " | ".join("%.0f" % x for x in b), ra, rb))
# every repetition's req/CPU-s, and the ratio to Locust FastHttpUser of the same repetition
if "locust-fast" in tools:
    print()
    print("| tool | conns | req/CPU-s per rep | vs Locust FastHttpUser per rep (req/CPU-s) | (req/s) |")
    print("|---|---|---|---|---|")
    for c in conns:
        loc = [r for r in rows if r[0] == "locust-fast" and r[1] == c]
        for t in tools:
            mine = [r for r in rows if r[0] == t and r[1] == c]
            pairs = list(zip(mine, loc))
            print("| %s | %s | %s | %s | %s |" % (t, c, ", ".join("%.0f" % rpc(r) for r in mine),
                  ", ".join("%.1f" % (rpc(m) / rpc(l)) for m, l in pairs if rpc(l)),
                  ", ".join("%.1f" % (rps(m) / rps(l)) for m, l in pairs if rps(l))))
PY

[[ $SKIP_MEM == 1 || $MEM_USERS -le 0 ]] && exit 0
echo
echo "## Memory: $MEM_USERS users thinking ${MEM_THINK}s between requests, ${MEM_DUR}s run"
echo
/usr/bin/time -o "$WORK/time" -f "%M" taskset -c "$CLIENT_CPU" "$EMBED" "$URL" "$MEM_USERS" "$MEM_DUR" native / "$MEM_THINK" > "$WORK/out" 2>&1
rss=$(tail -1 "$WORK/time")
echo "peak RSS ${rss} KiB = $((rss / 1024)) MiB, $(echo "scale=2; $rss / $MEM_USERS" | bc) KiB per user"
grep -E "requests,|engine" "$WORK/out" | sed 's/^/    /'
echo "(file descriptors are capped at $(ulimit -Hn) here: users beyond that think without a connection)"
