#!/usr/bin/env python3
"""Integration test of the demo target: every route over HTTP/1.1 (python requests, curl, raw
sockets for pipelining and HTTP/1.0) and h2c prior knowledge (nghttp, curl), the 401 path, the
request log, /delay timing, gzip, chunked and a clean exit on SIGTERM.

usage: test_demo_target.py PATH/TO/demo_target
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    import requests
    from demotarget import DemoTarget
except ImportError:
    print("SKIP: python3-requests not installed")
    sys.exit(77)

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def start(exe, tmp, *extra):
    pf = os.path.join(tmp, "ports")
    if os.path.exists(pf):
        os.unlink(pf)
    log = os.path.join(tmp, "req.log")
    p = subprocess.Popen([exe, "--port", "0", "--h2-port", "0", "--log", log, "--port-file", pf,
                          *extra], stderr=subprocess.PIPE)
    deadline = time.time() + 5
    while not os.path.exists(pf):
        if time.time() > deadline or p.poll() is not None:
            raise SystemExit("demo_target did not start: %r" % p.stderr.read())
        time.sleep(0.02)
    m = re.fullmatch(r"http=(\d+) h2c=(\d+)\n", open(pf).read())
    return p, int(m.group(1)), int(m.group(2)), log


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=10)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        rc = None
    err = err.decode("utf-8", "replace")
    # under the sanitizer build, reports go to stderr; UBSan's do not change the exit status
    check("runtime error" not in err and "Sanitizer" not in err, "sanitizer report: " + err[-2000:])
    return rc


def raw(port, data, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    while True:
        x = s.recv(65536)
        if not x:
            break
        out += x
    s.close()
    return out


def h1_tests(base, port):
    s = requests.Session()
    r = s.get(base + "/")
    check(r.status_code == 200 and "<html>" in r.text, "GET / html")
    for path, ctype in (("/static/app.js", "javascript"), ("/static/style.css", "text/css"),
                        ("/favicon.ico", "image/x-icon")):
        r = s.get(base + path)
        check(r.status_code == 200 and ctype in r.headers["Content-Type"] and r.content,
              "static " + path)
    check(r.content[:4] == b"\x00\x00\x01\x00", "favicon is an ICO")

    # 401 without or with a foreign token, with a JSON error
    for hdrs in ({}, {"Authorization": "Bearer 0123456789abcdef0123456789abcdef"},
                 {"Authorization": "Basic Zm9vOmJhcg=="}):
        r = s.get(base + "/api/items?page=1", headers=hdrs)
        check(r.status_code == 401 and "error" in r.json(), "401 for %r" % hdrs)
    r = s.post(base + "/api/cart", json={"item": 1})
    check(r.status_code == 401, "cart 401")

    # login: fresh random tokens and a session cookie
    r = s.post(base + "/login", json={"user": "alice", "password": "pw"})
    check(r.status_code == 200, "login 200")
    tok = r.json()["token"]
    check(re.fullmatch(r"[0-9a-f]{32}", tok) is not None, "token shape")
    sc = r.headers.get("Set-Cookie", "")
    check(re.match(r"session=[0-9a-f]{32}; Path=/; HttpOnly", sc) is not None, "set-cookie " + sc)
    check("session" in s.cookies, "cookie kept by the session")
    tok2 = requests.post(base + "/login", json={"user": "alice", "password": "pw"}).json()["token"]
    check(tok2 != tok, "tokens differ per login")
    check(s.post(base + "/login", json={"user": "alice", "password": "wrong"}).status_code == 401,
          "bad password 401")
    check(s.post(base + "/login", data="not json").status_code == 400, "login bad json 400")

    auth = {"Authorization": "Bearer " + tok}
    r = s.get(base + "/api/items?page=1", headers=auth)
    j = r.json()
    check(r.status_code == 200 and [i["id"] for i in j["items"]] == list(range(1, 11))
          and j["next"] == 2, "items page 1")
    j = s.get(base + "/api/items?page=5", headers=auth).json()
    check([i["id"] for i in j["items"]] == list(range(41, 51)) and j["next"] is None, "page 5")
    check(s.get(base + "/api/items?page=9", headers=auth).json()["items"] == [], "page 9 empty")
    check(s.get(base + "/api/items?page=x", headers=auth).status_code == 400, "page=x 400")
    r = s.get(base + "/api/items/17", headers=auth)
    check(r.status_code == 200 and r.json()["id"] == 17, "item 17")
    check(s.get(base + "/api/items/99", headers=auth).status_code == 404, "item 99 404")

    # carts are per token
    r = s.post(base + "/api/cart", json={"item": 17}, headers=auth)
    check(r.status_code == 201 and r.json()["items"] == [17], "cart add")
    s.post(base + "/api/cart", json={"item": "3"}, headers=auth)
    check(s.get(base + "/api/cart", headers=auth).json()["items"] == [17, 3], "cart view")
    check(s.get(base + "/api/cart", headers={"Authorization": "Bearer " + tok2}).json()["items"]
          == [], "other token's cart empty")
    check(s.post(base + "/api/cart", json={"item": 999}, headers=auth).status_code == 404,
          "cart unknown item")
    check(s.post(base + "/api/cart", json={"x": 1}, headers=auth).status_code == 400,
          "cart bad body")

    # lookups: known customers 100000..100999, others another code, both status 200
    for num, code in (("100000", "000000"), ("100999", "000000"), ("100500", "000000"),
                      ("101000", "100404"), ("99999", "100404"), ("abc", "100404")):
        r = s.post(base + "/api/lookup", json={"customer": num})
        check(r.status_code == 200 and r.json()["retCode"] == code, "lookup %s" % num)
    r = s.post(base + "/api/lookup", json={"customer": 100042})
    check(r.json()["retCode"] == "000000", "lookup integer")
    check(s.post(base + "/api/lookup", data="{").status_code == 400, "lookup bad json")

    # status, gzip, chunked, 404, 405
    for code in (200, 204, 302, 404, 418, 503):
        r = s.get(base + "/status/%d" % code, allow_redirects=False)
        check(r.status_code == code, "status %d" % code)
    check(s.get(base + "/status/99").status_code == 400, "status 99 400")
    r = s.get(base + "/gzip")
    check(r.headers.get("Content-Encoding") == "gzip" and r.json()["gzipped"] is True, "gzip")
    r = s.get(base + "/chunked")
    check(r.headers.get("Transfer-Encoding") == "chunked" and len(r.text.splitlines()) == 5,
          "chunked")
    check(s.get(base + "/nope").status_code == 404, "404")
    r = s.delete(base + "/login")
    check(r.status_code == 405 and r.headers.get("Allow") == "POST", "405 with Allow")

    # delay: timer-based, so a delayed request does not hold up another connection
    t0 = time.time()
    r = s.get(base + "/delay/300")
    dt = time.time() - t0
    check(r.status_code == 200 and 0.28 <= dt < 2.0, "delay 300 took %.3f" % dt)
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"GET /delay/800 HTTP/1.1\r\nHost: x\r\n\r\n")
    t0 = time.time()
    requests.get(base + "/")
    check(time.time() - t0 < 0.5, "a delay does not block other connections")
    slow.close()
    check(s.get(base + "/delay/60001").status_code == 400, "delay cap")

    # logout revokes the token
    r = s.post(base + "/api/logout", headers=auth)
    check(r.status_code == 200, "logout")
    check(s.get(base + "/api/cart", headers=auth).status_code == 401, "token revoked")

    # curl: keep-alive reuse of one connection for two requests
    out = subprocess.run(["curl", "-sv", base + "/", base + "/static/style.css", "-o",
                          "/dev/null", "-o", "/dev/null"], capture_output=True, text=True).stderr
    check("Re-using existing connection" in out or "Reusing existing connection" in out,
          "curl keep-alive reuse")
    # HEAD keeps Content-Length, sends no body
    out = raw(port, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    check(b"Content-Length: " in head and body == b"", "HEAD")
    # pipelining: responses in request order even behind a delay; stop after Connection: close
    t0 = time.time()
    out = raw(port, b"GET /delay/150 HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"HEAD /chunked HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
    check(re.findall(rb"HTTP/1\.1 (\d+)", out) == [b"200", b"201", b"200", b"200"],
          "pipelined order %r" % re.findall(rb"HTTP/1\.1 (\d+)", out))
    check(out.index(b"delay_ms") < out.index(b"HTTP/1.1 201"), "delayed body first")
    # a client that half-closes after its request still gets the delayed answer
    hc = socket.create_connection(("127.0.0.1", port), timeout=5)
    hc.sendall(b"GET /delay/100 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/202 HTTP/1.1\r\n\r\n")
    hc.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        x = hc.recv(65536)
        if not x:
            break
        out += x
    hc.close()
    check(re.findall(rb"HTTP/1\.1 (\d+)", out) == [b"200", b"202"], "half-close keeps delayed answer")
    # a burst of 2000 pipelined requests in one write, each answered once, in order
    burst = b"".join(b"GET /api/items/%d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                     % (i % 60 + 1, tok2.encode()) for i in range(2000))
    out = raw(port, burst + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", timeout=20)
    codes = re.findall(rb"HTTP/1\.1 (\d+)", out)
    ids = [int(x) for x in re.findall(rb'\{"id":(\d+),', out)]
    check(len(codes) == 2001 and ids == [i % 60 + 1 for i in range(2000) if i % 60 < 50],
          "pipelined burst: %d answers" % len(codes))
    # the same requests cut into 1-byte writes: the parser state survives every split
    sk = socket.create_connection(("127.0.0.1", port), timeout=5)
    sk.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = (b"POST /api/lookup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 21\r\n\r\n{\"customer\":\"100321\"}"
           b"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for i in range(len(msg)):
        sk.send(msg[i:i + 1])
        if i % 16 == 0:
            time.sleep(0.001)
    out = b""
    while True:
        x = sk.recv(65536)
        if not x:
            break
        out += x
    sk.close()
    check(b'"retCode":"000000","customer":"100321"' in out and out.count(b'"chunk"') == 5,
          "1-byte writes")
    # HTTP/1.0: close by default, keep-alive on request, never chunked
    out = raw(port, b"GET /chunked HTTP/1.0\r\n\r\n")
    check(b"Connection: close" in out and b"Transfer-Encoding" not in out and
          out.count(b'"chunk"') == 5, "HTTP/1.0 close, no chunked")
    sk = socket.create_connection(("127.0.0.1", port), timeout=3)
    sk.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    time.sleep(0.1)
    first = sk.recv(65536)
    sk.sendall(b"GET /favicon.ico HTTP/1.0\r\n\r\n")
    rest = b""
    while True:
        x = sk.recv(65536)
        if not x:
            break
        rest += x
    check(b"Connection: keep-alive" in first and rest.startswith(b"HTTP/1.1 200"),
          "HTTP/1.0 keep-alive")
    # malformed request: 400 and close
    out = raw(port, b"GARBAGE\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 400"), "malformed 400")
    # bodies: 300 KB is read whole, over 1 MiB gets 413
    big = json.dumps({"customer": "100001", "pad": "x" * 300000})
    check(requests.post(base + "/api/lookup", data=big).json().get("retCode") == "000000",
          "300 KB body")
    check(requests.post(base + "/api/lookup", data=b"a" * (1100 * 1024)).status_code == 413,
          "413 over 1 MiB")
    # binary body is logged as base64 too
    requests.post(base + "/api/lookup", data=b"\xff\xfe\x00{", timeout=5)
    return tok


def h2_tests(h2port):
    base = "http://127.0.0.1:%d" % h2port
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"user":"h2user","password":"pw"}')
        login_body = f.name
    out = subprocess.run(["nghttp", "-v", "-d", login_body, base + "/login"], capture_output=True,
                         text=True, timeout=10).stdout
    os.unlink(login_body)
    m = re.search(r'"token":"([0-9a-f]{32})"', out)
    check(":status: 200" in out and m is not None, "h2 login")
    check("set-cookie: session=" in out, "h2 set-cookie")
    tok = m.group(1) if m else "x"
    # several streams on one connection, one of them delayed
    out = subprocess.run(["nghttp", "-v", "-H", "authorization: Bearer " + tok,
                          base + "/api/items?page=2", base + "/api/items/12",
                          base + "/delay/200", base + "/api/cart", base + "/chunked",
                          base + "/favicon.ico"],
                         capture_output=True, timeout=10).stdout.decode("utf-8", "replace")
    check(out.count(":status: 200") == 6, "h2 six streams 200")
    check('"id":12,' in out and '"delay_ms":200' in out and '"chunk":5' in out, "h2 bodies")
    out = subprocess.run(["nghttp", "-v", base + "/api/cart"], capture_output=True, text=True,
                         timeout=10).stdout
    check(":status: 401" in out, "h2 401")
    out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "--compressed", base + "/gzip"],
                         capture_output=True, text=True, timeout=10).stdout
    check(json.loads(out or "{}").get("gzipped") is True, "h2 gzip via curl")
    out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-H",
                          "content-type: application/json", "-d", '{"customer":"100777"}',
                          base + "/api/lookup"], capture_output=True, text=True, timeout=10).stdout
    check(json.loads(out or "{}").get("retCode") == "000000", "h2 lookup via curl")
    for size, code in ((300000, "200"), (1100 * 1024, "413")):
        out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                              "%{http_code}", "--data-binary", "@-", base + "/api/lookup"],
                             input=json.dumps({"customer": "100001", "pad": "x" * size}),
                             capture_output=True, text=True, timeout=10).stdout
        check(out == code, "h2 body of %d bytes: %s" % (size, out))
    out = subprocess.run(["curl", "-sI", "--http2-prior-knowledge", base + "/"],
                         capture_output=True, text=True, timeout=10).stdout
    check(out.startswith("HTTP/2 200") and "content-length" in out, "h2 HEAD")


def log_tests(log, tok):
    lines = [json.loads(x) for x in open(log)]
    check(len(lines) > 60, "log has %d lines" % len(lines))
    for e in lines:
        for k in ("time", "conn", "method", "target", "version", "headers", "body"):
            if k not in e:
                check(False, "log line lacks %s: %r" % (k, e))
                return
    logins = [e for e in lines if e["target"] == "/login" and e["version"] == "HTTP/1.1"]
    check(any(json.loads(e["body"]).get("user") == "alice" for e in logins if e["body"]),
          "login body logged")
    carts = [e for e in lines if e["target"] == "/api/cart" and e["method"] == "POST"
             and ["Authorization", "Bearer " + tok] in e["headers"]]
    check(len(carts) >= 2, "cart requests logged with their Authorization header, in order")
    e = carts[0]
    names = [h[0] for h in e["headers"]]
    check(names[:1] == ["Host"], "header order kept: %r" % names)
    binary = [e for e in lines if "body_b64" in e]
    check(len(binary) == 1 and binary[0]["body_b64"] == "//4Aew==", "body_b64 for binary body")
    h2 = [e for e in lines if e["version"] == "HTTP/2"]
    check(len(h2) >= 10 and all("stream" in e for e in h2), "h2 requests logged")
    check(any(e["target"] == "/api/items?page=2" for e in h2), "h2 target logged with query")
    check(lines[0]["time"] <= lines[-1]["time"], "times increase")
    h10 = [e for e in lines if e["version"] == "HTTP/1.0"]
    check(len(h10) >= 3, "HTTP/1.0 requests logged")


def main():
    exe = sys.argv[1]
    for tool in ("curl", "nghttp"):
        if not shutil.which(tool):
            print("SKIP: %s not installed" % tool)
            return 77
    tmp = tempfile.mkdtemp(prefix="rr-demo-")
    try:
        # flags: non-loopback refused, bad numbers are usage errors
        rc = subprocess.run([exe, "--bind", "192.0.2.1", "--port", "0"],
                            capture_output=True).returncode
        check(rc == 2, "non-loopback bind refused (rc %d)" % rc)
        check(subprocess.run([exe, "--port", "70000"], capture_output=True).returncode == 2,
              "bad port rc 2")
        p, port, h2port, log = start(exe, tmp)
        try:
            tok = h1_tests("http://127.0.0.1:%d" % port, port)
            h2_tests(h2port)
            # garbage on both ports (and after an h2 preface) must not hurt the server
            rng = random.Random(7)
            for p_ in (port, h2port):
                for i in range(100):
                    g = socket.create_connection(("127.0.0.1", p_), timeout=1)
                    pre = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" if p_ == h2port and i % 2 else b""
                    g.sendall(pre + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
                    g.shutdown(socket.SHUT_WR)
                    try:
                        while g.recv(4096):
                            pass
                    except OSError:
                        pass
                    g.close()
            check(requests.get("http://127.0.0.1:%d/" % port).status_code == 200,
                  "serves after garbage")
            # a keep-alive connection left open must not prevent a clean exit
            idle = socket.create_connection(("127.0.0.1", port))
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            idle.recv(4096)
        finally:
            rc = stop(p)
        check(rc == 0, "clean exit on SIGTERM (rc %r)" % rc)
        log_tests(log, tok)
        # several loops on one port, started through the helper other tests use
        t = DemoTarget(exe, log=True, threads=2)
        with t:
            with requests.Session() as s:
                ok = all(s.get(t.url + "/").status_code == 200 for _ in range(20))
            check(ok, "--threads 2 serves")
            check(requests.get(t.url + "/").status_code == 200, "--threads 2, new connection")
        check(len(t.log_lines()) == 21, "--threads 2 logs every request")
        t.cleanup()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks failed" % len(FAILS) if FAILS else "all checks passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
