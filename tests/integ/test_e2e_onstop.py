#!/usr/bin/env python3
"""Issue 5, on_stop: every virtual user runs its flow's on_stop steps (shop-h1: POST
/api/logout) once when it stops, whether the run ends on --iterations, on -t (Locust runs
on_stop when the run time is up, even with --stop-timeout 0) or on SIGINT; each logout carries
that user's live token, so none fails.
Usage: test_e2e_onstop.py DEMO_TARGET_EXE [CASE...] (cases: iterations, stop-timeout, run-time,
sigint; default all). Registered in meson with the cases that pass today: on -t and on SIGINT
with the default --stop-timeout 0, on_stop does not run yet (see docs/replayer.md).
"""
import os
import signal
import subprocess
import sys
import time

import e2e
from e2e import DemoTarget, check

USERS = 3


def logouts(lines):
    return [ln for ln in lines if ln["method"] == "POST" and ln["target"] == "/api/logout"]


def run(exe, db, tmp, tag, args, sigint=False):
    prefix = os.path.join(tmp, tag)
    with DemoTarget(exe, log=True, h2c=False) as t:
        p = subprocess.Popen([e2e.RRLOAD, "replay", db, "-u", str(USERS), "-r", "10",
                              "--host", t.url, "--csv", prefix, "--only-summary"] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if sigint:
            time.sleep(1.5)
            p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    lo = logouts(t.log_lines())
    logins = [ln for ln in t.log_lines() if ln["target"] == "/login"]
    rows = e2e.stats_rows(prefix + "_stats.csv")
    row = rows.get(("POST", "/api/logout"), {"Request Count": "0", "Failure Count": "0"})
    check(p.returncode == 0, "%s: exit 0 (%d)" % (tag, p.returncode), err)
    # A user that changes flow logs out and in again (a new session), so every login is
    # matched by a logout, and there is at least one per user.
    check(len(lo) == len(logins) >= USERS,
          "%s: %d sessions logged in, %d logged out" % (tag, len(logins), len(lo)))
    check(int(row["Request Count"]) == len(lo) and int(row["Failure Count"]) == 0,
          "%s: the logouts are in the stats, none failed (%s/%s)"
          % (tag, row["Request Count"], row["Failure Count"]))


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "shop.db")
    e2e.record("shop-h1.pcap", db)
    e2e.transform(db)
    cases = sys.argv[2:] or ["iterations", "stop-timeout", "run-time", "sigint"]
    for c in cases:
        if c == "iterations":
            run(exe, db, tmp, c, ["--iterations", "12", "-t", "15s"])
        elif c == "stop-timeout":
            run(exe, db, tmp, c, ["-t", "2s", "--stop-timeout", "2s"])
        elif c == "run-time":
            run(exe, db, tmp, c, ["-t", "2s"])
        elif c == "sigint":
            run(exe, db, tmp, c, [], sigint=True)
        else:
            check(False, "unknown case %s" % c)
    e2e.finish()


main()
