#!/usr/bin/env python3
"""rrload record -i lo while real clients talk to the demo target: curl (HTTP/1.1, one
connection each), python requests (keep-alive, GET and POST with bodies) and nghttp (h2c with
prior knowledge). Every request must be in the store with the status and body lengths the
client saw. Needs root (or capture permission) on lo: otherwise skipped (77)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demotarget import DemoTarget  # noqa: E402

SKIP = 77


def main():
    if os.geteuid() != 0:
        print("not root: live capture skipped")
        return SKIP
    try:
        import requests
    except ImportError:
        print("python3-requests missing: skipped")
        return SKIP
    rrload = os.environ["RRLOAD"]
    exe = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="rr-rec-live-")
    db = os.path.join(tmp, "live.db")
    expect = []  # (method, uri, status, request body length, response body length)
    with DemoTarget(exe) as t:
        flt = "tcp port %d or tcp port %d" % (t.http, t.h2c)
        rec = subprocess.Popen([rrload, "record", "-i", "lo", "-f", flt, "-t", "20s", "-o", db],
                               stderr=subprocess.PIPE)
        line = rec.stderr.readline().decode()  # "rrload: capturing on lo..." once it is on
        if rec.poll() is not None or "capturing on" not in line:
            err = line + rec.stderr.read().decode()
            if "ermission" in err or "not permitted" in err:
                print("no capture permission: skipped (%s)" % err.strip())
                return SKIP
            print("rrload record exited early: " + err)
            return 1
        for i in range(8):
            uri = "/static/app.js?curl=%d" % i
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                                  t.url + uri], capture_output=True, timeout=10, check=True).stdout
            code, size = out.decode().split()
            expect.append(("GET", uri, int(code), 0, int(size)))
        s = requests.Session()
        for i in range(6):
            body = json.dumps({"user": "u%d" % i, "password": "pw"})
            r = s.post(t.url + "/login?py=%d" % i, data=body, timeout=10,
                       headers={"Content-Type": "application/json"})
            expect.append(("POST", "/login?py=%d" % i, r.status_code, len(body), len(r.content)))
            tok = r.json()["token"]
            r = s.get(t.url + "/api/items?page=%d" % (i % 3 + 1), timeout=10,
                      headers={"Authorization": "Bearer " + tok})
            expect.append(("GET", "/api/items?page=%d" % (i % 3 + 1), r.status_code, 0, len(r.content)))
        for i in range(4):
            uri = "/static/style.css?h2=%d" % i
            out = subprocess.run(["nghttp", t.h2c_url + uri], capture_output=True, timeout=10)
            if out.returncode == 0:
                expect.append(("GET", uri, 200, 0, len(out.stdout)))
        time.sleep(0.5)
        rec.send_signal(signal.SIGINT)
        try:
            _, err = rec.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            rec.kill()
            print("rrload record did not stop on SIGINT")
            return 1
        print(err.decode())
        if rec.returncode != 0:
            print("rrload record failed: %d" % rec.returncode)
            return 1
    out = subprocess.run([rrload, "show", db, "exchanges", "--json"], capture_output=True,
                         check=True, timeout=30).stdout
    got = json.loads(out)
    bad = 0
    for m, uri, st, rql, rsl in expect:
        cand = [x for x in got if x["method"] == m and x["uri"] == uri]
        # the same uri may repeat (items pages): any one with the right numbers will do
        ok = [x for x in cand if x["status"] == st and x["request_body_length"] == rql
              and x["response_body_length"] == rsl]
        if ok:
            got.remove(ok[0])
        else:
            bad += 1
            print("MISSING %s %s status=%d req=%d resp=%d; recorded: %s" % (m, uri, st, rql, rsl, cand))
    print("%d of %d requests recorded right" % (len(expect) - bad, len(expect)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
