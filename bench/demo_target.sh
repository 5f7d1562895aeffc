#!/bin/sh
# Throughput of the demo target against nginx, measured in the same run with the same wrk
# settings: GET / (the same 319-byte page), keep-alive, server pinned to core 0, wrk to core 1.
# Then HTTP/2 cleartext: h2load (10 streams per connection) against nghttpd serving the same file.
# The ratios are the result; absolute numbers depend on the machine and its load.
#
# usage: bench/demo_target.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
set -eu
build=${1:-build}
secs=${2:-5}
conns=${3:-50}
target="$build/samples/demo_target"
for tool in wrk nginx h2load nghttpd taskset; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 2; }
done
tmp=$(mktemp -d)
dpid=
npid=
hpid=
trap 'kill $dpid $npid $hpid 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM

taskset -c 0 "$target" --port 0 --h2-port 0 --port-file "$tmp/ports" 2>/dev/null &
dpid=$!
while [ ! -s "$tmp/ports" ]; do sleep 0.05; done
dport=$(sed -n 's/^http=\([0-9]*\) .*/\1/p' "$tmp/ports")
dh2=$(sed -n 's/.* h2c=\([0-9]*\)$/\1/p' "$tmp/ports")

# nginx cannot report an ephemeral port: take one the kernel just handed out
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
nport=$(free_port)
hport=$(free_port)
mkdir -p "$tmp/www" "$tmp/t"
curl -s "http://127.0.0.1:$dport/" >"$tmp/www/index.html"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $tmp/error.log;
pid $tmp/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $tmp/t; proxy_temp_path $tmp/t; fastcgi_temp_path $tmp/t;
  uwsgi_temp_path $tmp/t; scgi_temp_path $tmp/t;
  server { listen 127.0.0.1:$nport; root $tmp/www; }
}
CONF
taskset -c 0 nginx -c "$tmp/nginx.conf" -p "$tmp" &
npid=$!
taskset -c 0 nghttpd --no-tls -a 127.0.0.1 -d "$tmp/www" "$hport" >/dev/null 2>&1 &
hpid=$!
sleep 0.5

run() {
    taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$1/" |
        sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p'
}
h2run() {
    taskset -c 1 h2load -n "$((secs * 60000))" -c "$conns" -m 10 "http://127.0.0.1:$1/" |
        sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p'
}
d1=$(run "$dport")
n1=$(run "$nport")
d2=$(run "$dport")
n2=$(run "$nport")
h1=$(h2run "$dh2")
g1=$(h2run "$hport")
h2=$(h2run "$dh2")
g2=$(h2run "$hport")
python3 - "$d1" "$d2" "$n1" "$n2" "$h1" "$h2" "$g1" "$g2" <<'PY'
import sys
d1, d2, n1, n2, h1, h2, g1, g2 = map(float, sys.argv[1:])
d, n = (d1 + d2) / 2, (n1 + n2) / 2
print("demo_target  %9.0f req/s  (runs %.0f, %.0f)" % (d, d1, d2))
print("nginx        %9.0f req/s  (runs %.0f, %.0f)" % (n, n1, n2))
print("ratio demo_target/nginx = %.2f" % (d / n))
h, g = (h1 + h2) / 2, (g1 + g2) / 2
print("h2c demo_target  %9.0f req/s  (runs %.0f, %.0f)" % (h, h1, h2))
print("h2c nghttpd      %9.0f req/s  (runs %.0f, %.0f)" % (g, g1, g2))
print("ratio demo_target/nghttpd (h2c) = %.2f" % (h / g))
PY
