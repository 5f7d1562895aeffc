#!/usr/bin/env python3
"""rrload record --proxy in front of the demo target: real clients (python requests over
HTTP/1.1 keep-alive, curl, nghttp over h2c with prior knowledge) go through the proxy; every
request is answered as without it and stored with its bodies; SIGINT stops the proxy cleanly."""
import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demotarget import DemoTarget  # noqa: E402

RRLOAD = os.environ["RRLOAD"]
EXE = os.path.join(os.environ["RR_BUILD_ROOT"], "samples", "demo_target")


def start_proxy(upstream, db):
    p = subprocess.Popen([RRLOAD, "record", "--proxy", "127.0.0.1:0", "--upstream", upstream,
                          "-o", db, "-t", "60s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    if not line.startswith("recording proxy on port "):
        p.kill()
        raise AssertionError("no port line: %r %r" % (line, p.stderr.read()))
    return p, int(line.split()[4].rstrip(","))


def stop_proxy(p):
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, (p.returncode, out, err)
    return out


def show(db):
    out = subprocess.run([RRLOAD, "show", db, "exchanges", "--json"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def main():
    try:
        import requests
    except ImportError:
        print("python3-requests missing")
        return 77
    tmp = tempfile.mkdtemp(prefix="rr-proxy-")
    fails = []
    with DemoTarget(EXE) as t:
        # HTTP/1.1: requests on one keep-alive session, then curl.
        db1 = os.path.join(tmp, "h1.db")
        p, port = start_proxy(t.url, db1)
        base = "http://127.0.0.1:%d" % port
        s = requests.Session()
        r = s.post(base + "/login", json={"user": "proxy-user", "password": "pw"}, timeout=10)
        if r.status_code != 200:
            fails.append("login through the proxy: %d" % r.status_code)
        token = r.json()["token"]
        auth = {"Authorization": "Bearer " + token}
        direct = requests.get(t.url + "/api/items?page=1", headers=auth, timeout=10)
        via = s.get(base + "/api/items?page=1", headers=auth, timeout=10)
        if via.status_code != 200 or via.content != direct.content:
            fails.append("GET through the proxy differs from direct")
        s.get(base + "/api/items/3", headers=auth, timeout=10)
        s.get(base + "/no/such/page", timeout=10)
        subprocess.run(["curl", "-s", "-o", "/dev/null", base + "/"], check=True, timeout=20)
        out = stop_proxy(p)
        if "recorded 5 exchanges on 2 connections" not in out:
            fails.append("h1 summary: %r" % out)
        xs = show(db1)
        got = [(x["method"], x["uri"], x["status"]) for x in xs]
        want = [("POST", "/login", 200), ("GET", "/api/items?page=1", 200),
                ("GET", "/api/items/3", 200), ("GET", "/no/such/page", 404), ("GET", "/", 200)]
        if got != want:
            fails.append("h1 exchanges: %r" % got)
        elif xs[0]["request_body_length"] != len(r.request.body) or \
                xs[1]["response_body_length"] != len(via.content):
            fails.append("h1 body lengths: %r" % xs[:2])
        print("h1: %d exchanges" % len(xs))

        # h2c with prior knowledge: nghttp, several concurrent streams on one connection.
        if subprocess.run(["nghttp", "--version"], capture_output=True).returncode == 0:
            db2 = os.path.join(tmp, "h2.db")
            p, port = start_proxy(t.h2c_url, db2)
            base = "http://127.0.0.1:%d" % port
            urls = [base + "/api/items?page=%d" % i for i in range(1, 6)]
            subprocess.run(["nghttp", "-n", "-t", "10", "-H", "authorization: Bearer " + token]
                           + urls, check=True, timeout=30)
            out = stop_proxy(p)
            if "recorded 5 exchanges on 1 connections" not in out:
                fails.append("h2c summary: %r" % out)
            xs = show(db2)
            got = [(x["uri"], x["status"], x["version"]) for x in xs]
            if got != [(u[len(base):], 200, "HTTP/2") for u in urls]:
                fails.append("h2c exchanges: %r" % xs[:2])
            print("h2c: %d exchanges" % len(xs))
    for f in fails:
        print("FAIL", f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
