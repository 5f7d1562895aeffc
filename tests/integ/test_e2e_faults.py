#!/usr/bin/env python3
"""Issue 5, faults: a 5xx answer, a /delay longer than --timeout and a target killed mid-run are
failures in the stats (Locust-style error strings in _failures.csv), exit 1, and the run ends on
time. The plans are written by hand and imported into a store recorded from a sample.
Usage: test_e2e_faults.py DEMO_TARGET_EXE"""
import os
import re
import signal
import subprocess
import sys
import time

import e2e
from e2e import DemoTarget, check, rr

PLAN = '''rrload-plan 1
host "http://127.0.0.1:1"
wait constant 0.05

flow "faults" weight 1
  step "%s" GET "%s"
    check status 200 299
  end
end
'''


def store(tmp, tag, target):
    db = os.path.join(tmp, tag + ".db")
    e2e.record("lookups.pcap", db)
    path = os.path.join(tmp, tag + ".plan")
    with open(path, "w") as f:
        f.write(PLAN % (target, target))
    rc, out, err = rr("plan", db, "import", path)
    check(rc == 0, "%s: plan import" % tag, err)
    return db


def result(tmp, tag, rc, took, limit, err, pattern):
    prefix = os.path.join(tmp, tag)
    check(rc == 1, "%s: exit 1 (%d)" % (tag, rc), err)
    check(took < limit, "%s: the run ends on time (%.1f s, limit %.1f s)" % (tag, took, limit))
    agg = e2e.stats_rows(prefix + "_stats.csv").get(("", "Aggregated"), {})
    check(int(agg.get("Failure Count", 0)) > 0, "%s: failures in the stats (%s of %s)"
          % (tag, agg.get("Failure Count"), agg.get("Request Count")))
    fails = e2e.failures_rows(prefix + "_failures.csv")
    check(fails and all(re.search(pattern, f["Error"], re.I) for f in fails),
          "%s: the failures say why" % tag, fails)


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()

    db = store(tmp, "status500", "/status/500")
    with DemoTarget(exe, h2c=False) as t:
        t0 = time.monotonic()
        rc, out, err = rr("replay", db, "-u", 2, "-r", 10, "-t", "2s", "--host", t.url,
                          "--csv", os.path.join(tmp, "status500"), "--only-summary")
        result(tmp, "status500", rc, time.monotonic() - t0, 4, err, r"500")

    db = store(tmp, "timeout", "/delay/5000")
    with DemoTarget(exe, h2c=False) as t:
        t0 = time.monotonic()
        rc, out, err = rr("replay", db, "-u", 2, "-r", 10, "-t", "3s", "--timeout", "1s",
                          "--host", t.url, "--csv", os.path.join(tmp, "timeout"),
                          "--only-summary")
        result(tmp, "timeout", rc, time.monotonic() - t0, 5, err, r"time")

    db = store(tmp, "killed", "/")
    t = DemoTarget(exe, h2c=False).start()
    try:
        p = subprocess.Popen([e2e.RRLOAD, "replay", db, "-u", "2", "-r", "10", "-t", "3s",
                              "--host", t.url, "--csv", os.path.join(tmp, "killed"),
                              "--only-summary"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        time.sleep(1.0)
        t.proc.send_signal(signal.SIGKILL)
        t.proc.wait()
        t.proc = None
        out, err = p.communicate(timeout=15)
        result(tmp, "killed", p.returncode, time.monotonic() - t0, 5, err,
               r"refused|reset|closed|ConnectionError|RemoteDisconnected")
        agg = e2e.stats_rows(os.path.join(tmp, "killed_stats.csv"))[("", "Aggregated")]
        check(int(agg["Request Count"]) > int(agg["Failure Count"]),
              "killed: requests succeeded before the kill")
    finally:
        t.cleanup()
    e2e.finish()


main()
