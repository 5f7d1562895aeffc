#!/usr/bin/env python3
"""rrload record --proxy in front of an https:// upstream (nginx with a certificate made here):
clients speak plain HTTP to the proxy, which speaks TLS to nginx and rewrites Host so that the
name-based virtual host answers (the default server answers 421 to any other Host). Checks
keep-alive, pipelining, a chunked upload, a large response, what is stored (scheme https, the
upstream authority), the plan host, certificate verification (fails without -k against a
certificate the client does not trust, with a 502 and one logged line; passes when the
certificate is in the trust store named by SSL_CERT_FILE), --host-header keep and HTTP/2
clients (ALPN h2)."""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

RRLOAD = os.environ["RRLOAD"]
NGINX = "/usr/sbin/nginx"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_nginx(tmp, port):
    for d in ("b", "p", "f", "u", "s"):
        os.makedirs(os.path.join(tmp, "t", d), exist_ok=True)
    with open(os.path.join(tmp, "big.bin"), "wb") as f:
        f.write(bytes(range(256)) * (3 * 4096 + 7))  # ~3 MB
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1; daemon off; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{ access_log off; client_body_temp_path {d}/t/b; proxy_temp_path {d}/t/p;
  fastcgi_temp_path {d}/t/f; uwsgi_temp_path {d}/t/u; scgi_temp_path {d}/t/s;
  ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
  server {{ listen 127.0.0.1:{p} ssl http2 default_server; return 421 "misdirected $http_host\\n"; }}
  server {{ listen 127.0.0.1:{p} ssl http2; server_name localhost; default_type text/plain;
    location = /big {{ alias {d}/big.bin; }}
    location = /post {{ client_max_body_size 10m; return 200 "$http_host post $content_length\\n"; }}
    location / {{ return 200 "$http_host $uri\\n"; }} }} }}
""".format(d=tmp, p=port))
    p = subprocess.Popen([NGINX, "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            if p.poll() is not None:
                return None
            time.sleep(0.01)
    p.kill()
    return None


def start_proxy(upstream, db, extra=(), env=None):
    p = subprocess.Popen([RRLOAD, "record", "--proxy", "127.0.0.1:0", "--upstream", upstream,
                          "-o", db, "-t", "60s"] + list(extra), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    if not line.startswith("recording proxy on port "):
        p.kill()
        raise AssertionError("no port line: %r %r" % (line, p.stderr.read()))
    return p, int(line.split()[4].rstrip(","))


def stop_proxy(p):
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, (p.returncode, out, err)
    return out, err


def proc_cpu(pid):
    """CPU seconds (user + system) the process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw(port, data, want_responses, timeout=10):
    """Sends data on one connection and reads until want_responses complete responses."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    buf = b""
    end = time.time() + timeout
    while buf.count(b"HTTP/1.1 ") < want_responses or not buf.endswith(b"\n"):
        if time.time() > end:
            break
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf


def main():
    if not os.access(NGINX, os.X_OK) or not shutil.which("openssl"):
        print("nginx or openssl missing")
        return 77
    try:
        import requests
    except ImportError:
        print("python3-requests missing")
        return 77
    tmp = tempfile.mkdtemp(prefix="rr-proxy-tls-")
    os.chmod(tmp, 0o755)  # nginx workers may run as another user
    fails = []
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "1",
                    "-keyout", os.path.join(tmp, "key.pem"), "-out",
                    os.path.join(tmp, "cert.pem")], check=True, capture_output=True, timeout=30)
    port = free_port()
    ng = start_nginx(tmp, port)
    if ng is None:
        print("nginx could not start here")
        return 77
    up = "https://localhost:%d" % port
    auth = "localhost:%d" % port
    try:
        # -k, Host rewritten by default: keep-alive GET/POST, pipelining, chunked, big body.
        db = os.path.join(tmp, "tls.db")
        p, pport = start_proxy(up, db, ["-k"])
        base = "http://127.0.0.1:%d" % pport
        s = requests.Session()
        r1 = s.get(base + "/a", timeout=10)
        r2 = s.post(base + "/post", data=b"x" * 1000, timeout=10)
        r3 = s.post(base + "/post", data=(b"y" * n for n in (10, 20000, 5)), timeout=10)
        r4 = s.get(base + "/big", timeout=20)
        if (r1.status_code, r1.text) != (200, auth + " /a\n"):
            fails.append("GET: %d %r" % (r1.status_code, r1.text))
        if (r2.status_code, r2.text) != (200, auth + " post 1000\n"):
            fails.append("POST: %d %r" % (r2.status_code, r2.text))
        if r3.status_code != 200 or not r3.text.startswith(auth + " post"):
            fails.append("chunked POST: %d %r" % (r3.status_code, r3.text))
        big = open(os.path.join(tmp, "big.bin"), "rb").read()
        if r4.status_code != 200 or hashlib.sha256(r4.content).digest() != \
                hashlib.sha256(big).digest():
            fails.append("big: %d %d bytes" % (r4.status_code, len(r4.content)))
        # Three pipelined requests in one write, the middle one with a body holding a fake
        # request head, then one split byte by byte across reads.
        body = b"GET /fake HTTP/1.1\r\nHost: evil\r\n\r\n"
        pipe = (b"GET /p1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                b"POST /post HTTP/1.1\r\nhost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
                b"GET /p3 HTTP/1.1\r\nHOST: x\r\nConnection: close\r\n\r\n") % (len(body), body)
        got = raw(pport, pipe, 3)
        for want in (auth + " /p1\n", auth + " post %d\n" % len(body), auth + " /p3\n"):
            if want.encode() not in got:
                fails.append("pipelined: %r missing in %r" % (want, got[-300:]))
        if b"fake" in got or got.count(b"HTTP/1.1 200") != 3:
            fails.append("pipelined: %r" % got[-300:])
        c = socket.create_connection(("127.0.0.1", pport), timeout=10)
        for b in b"GET /split HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n":
            c.send(bytes([b]))
        got = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
        c.close()
        if not got.endswith((auth + " /split\n").encode()):
            fails.append("split: %r" % got)
        # A client that reads late: the proxy stops reading the upstream at 1 MiB waiting and
        # resumes (decrypted bytes held by OpenSSL must not be stranded); idle, it sleeps.
        c = socket.create_connection(("127.0.0.1", pport), timeout=10)
        c.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        time.sleep(0.5)
        cpu0 = proc_cpu(p.pid)
        time.sleep(0.5)
        cpu_idle = proc_cpu(p.pid) - cpu0
        got = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
        c.close()
        if not got.startswith(b"HTTP/1.1 200") or not got.endswith(big):
            fails.append("slow reader: %d bytes" % len(got))
        if cpu_idle > 0.2:
            fails.append("proxy busy while waiting for a slow reader: %.2f s CPU" % cpu_idle)
        out, err = stop_proxy(p)
        if "recorded 9 exchanges on 4 connections" not in out:
            fails.append("summary: %r %r" % (out, err))
        xs = json.loads(subprocess.run([RRLOAD, "show", db, "exchanges", "--json"],
                                       capture_output=True, text=True, check=True).stdout)
        got = [(x["method"], x["uri"], x["status"]) for x in xs]
        want = [("GET", "/a", 200), ("POST", "/post", 200), ("POST", "/post", 200),
                ("GET", "/big", 200), ("GET", "/p1", 200), ("POST", "/post", 200),
                ("GET", "/p3", 200), ("GET", "/split", 200), ("GET", "/big", 200)]
        if sorted(got) != sorted(want):
            fails.append("exchanges: %r" % got)
        bad = [x for x in xs if x.get("scheme") != "https" or x.get("host") != auth]
        if bad:
            fails.append("scheme/authority: %r" % {k: bad[0].get(k) for k in
                                                   ("scheme", "host", "uri")})
        chunked = [x for x in xs if x["method"] == "POST"]
        if sorted(x["request_body_length"] for x in chunked) != sorted([1000, 20015, len(body)]):
            fails.append("POST bodies recorded: %r" % [x["request_body_length"] for x in chunked])
        big_x = [x for x in xs if x["uri"] == "/big"]
        if len(big_x) != 2 or any(x["response_body_length"] != len(big) for x in big_x):
            fails.append("big recorded: %r" % big_x)
        subprocess.run([RRLOAD, "transform", db, "--quiet"], check=True, capture_output=True,
                       timeout=30)
        plan = subprocess.run([RRLOAD, "plan", db, "export", "-"], capture_output=True,
                              text=True, check=True).stdout
        if ("https://" + auth) not in plan:
            fails.append("plan host: %r" % plan[:400])
        print("tls -k: %d exchanges" % len(xs))

        # No -k: the self-signed certificate fails verification: a 502 and one logged line.
        db2 = os.path.join(tmp, "verify.db")
        env = dict(os.environ)
        env.pop("SSL_CERT_FILE", None)
        env["SSL_CERT_DIR"] = tmp  # trusts nothing of the system's either
        p, pport = start_proxy(up, db2, env=env)
        got = [requests.get("http://127.0.0.1:%d/v%d" % (pport, i), timeout=10) for i in range(2)]
        out, err = stop_proxy(p)
        if any(r.status_code != 502 or "certificate verify failed" not in r.text for r in got):
            fails.append("verify: %r" % [(r.status_code, r.text) for r in got])
        lines = [l for l in err.splitlines() if "TLS to " + auth in l]
        if len(lines) != 1 or "certificate verify failed" not in lines[0]:
            fails.append("verify log: %r" % err)
        if "recorded 0 exchanges" not in out or "2 clients answered 502" not in out:
            fails.append("verify summary: %r" % out)

        # Trusted (the certificate as the trust store): verification passes for localhost and
        # fails for 127.0.0.1 (not a name in the certificate).
        env["SSL_CERT_FILE"] = os.path.join(tmp, "cert.pem")
        p, pport = start_proxy(up, db2, env=env)
        r = requests.get("http://127.0.0.1:%d/t" % pport, timeout=10)
        stop_proxy(p)
        if (r.status_code, r.text) != (200, auth + " /t\n"):
            fails.append("trusted: %d %r" % (r.status_code, r.text))
        p, pport = start_proxy("https://127.0.0.1:%d" % port, db2, env=env)
        r = requests.get("http://127.0.0.1:%d/t" % pport, timeout=10)
        out, err = stop_proxy(p)
        if r.status_code != 502 or "mismatch" not in err:
            fails.append("name mismatch: %d %r %r" % (r.status_code, r.text, err))

        # HTTP/2 with prior knowledge: the preface makes the proxy offer h2 to the upstream;
        # :authority is not rewritten, so the client names the upstream itself.
        if shutil.which("nghttp"):
            db3 = os.path.join(tmp, "h2.db")
            p, pport = start_proxy(up, db3, ["-k"])
            r = subprocess.run(["nghttp", "-H", ":authority: " + auth,
                                "http://127.0.0.1:%d/h2a" % pport,
                                "http://127.0.0.1:%d/h2b" % pport], capture_output=True,
                               text=True, timeout=20)
            stop_proxy(p)
            if r.stdout != "%s /h2a\n%s /h2b\n" % (auth, auth):
                fails.append("h2: %r %r" % (r.stdout, r.stderr))
            xs = json.loads(subprocess.run([RRLOAD, "show", db3, "exchanges", "--json"],
                                           capture_output=True, text=True, check=True).stdout)
            got = [(x["uri"], x["version"], x["scheme"], x["host"]) for x in xs]
            if got != [("/h2a", "HTTP/2", "https", auth), ("/h2b", "HTTP/2", "https", auth)]:
                fails.append("h2 recorded: %r" % got)

        # --host-header keep: the client's Host goes through, the default server answers 421.
        p, pport = start_proxy(up, db2, ["-k", "--host-header", "keep"])
        r = requests.get("http://127.0.0.1:%d/k" % pport, timeout=10)
        stop_proxy(p)
        if r.status_code != 421 or ("127.0.0.1:%d" % pport) not in r.text:
            fails.append("keep: %d %r" % (r.status_code, r.text))
    finally:
        ng.terminate()
        ng.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    for f in fails:
        print("FAIL", f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
