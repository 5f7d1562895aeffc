#!/usr/bin/env python3
"""Issue 5, target and safety: `rrload replay FILE -u 2 -t 3s` without --host goes to the plan's
host (printed before the first request); a step whose recorded URL points at another host is
not sent there (the failure says why and names --allow-host) unless --allow-host lists it; a
closed port gives failures, exit 1, and the run still ends on time.
Usage: test_e2e_host.py DEMO_TARGET_EXE"""
import os
import re
import socket
import sys
import time

import e2e
from e2e import DemoTarget, check, rr


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # never listened: connecting is refused
    return port


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "shop.db")
    e2e.record("shop-h1.pcap", db)
    e2e.transform(db)
    rc, plan, err = rr("plan", db, "export", "-")
    m = re.search(r'^host "(http://127\.0\.0\.1:43425)"$', plan, re.M)
    check(m, "the plan's host is the recorded one, http://127.0.0.1:43425", plan[:300])

    with DemoTarget(exe, log=True, h2c=False) as t, \
            DemoTarget(exe, log=True, h2c=False) as other:
        far = "http://127.0.0.1:%d/api/cart" % other.http
        e2e.edit_plan(db, tmp, lambda s: s.replace(
            'host "http://127.0.0.1:43425"', 'host "%s"' % t.url, 1).replace(
            'step "/api/cart" GET "/api/cart"', 'step "/api/cart" GET "%s"' % far))
        prefix = os.path.join(tmp, "plain")
        t0 = time.monotonic()
        rc, out, err = rr("replay", db, "-u", 2, "-t", "3s", "--csv", prefix)
        took = time.monotonic() - t0
        n_main = len(t.log_lines()) if os.path.exists(t.log_path) else 0
        n_other = len(other.log_lines()) if os.path.exists(other.log_path) else 0
        check(("target %s" % t.url) in (out + err).split("\n")[0] + err,
              "the plan's host is printed as the target", err + out[:300])
        check(n_main > 10, "the plan's host got the requests (%d)" % n_main)
        check(n_other == 0, "the other host was not contacted (%d requests)" % n_other)
        fails = e2e.failures_rows(prefix + "_failures.csv")
        check(any("127.0.0.1:%d" % other.http in f["Error"] and "--allow-host" in f["Error"]
                  for f in fails), "the failure names the other host and --allow-host", fails)
        check(rc == 1, "exit 1 with those failures (%d)" % rc)
        check(2.5 < took < 5.5, "the run took -t 3s (%.1f s)" % took)

        rc, out, err = rr("replay", db, "-u", 1, "-r", 10, "--iterations", 3, "-t", "10s",
                          "--allow-host", "127.0.0.1:%d" % other.http, "--csv", prefix)
        n_other = len(other.log_lines()) if os.path.exists(other.log_path) else 0
        check(n_other > 0, "with --allow-host the other host is contacted (%d)" % n_other)

    port = closed_port()
    prefix = os.path.join(tmp, "closed")
    t0 = time.monotonic()
    rc, out, err = rr("replay", db, "-u", 2, "-r", 2, "-t", "2s", "--host",
                      "http://127.0.0.1:%d" % port, "--csv", prefix)
    took = time.monotonic() - t0
    check(rc == 1, "closed port: exit 1 (%d)" % rc, err)
    rows = e2e.stats_rows(prefix + "_stats.csv")
    agg = rows[("", "Aggregated")]
    check(int(agg["Failure Count"]) > 0 and agg["Failure Count"] == agg["Request Count"],
          "closed port: every request failed (%s/%s)" % (agg["Failure Count"],
                                                         agg["Request Count"]))
    fails = e2e.failures_rows(prefix + "_failures.csv")
    check(fails and all(re.search(r"refused|ConnectionError|Errno 111", f["Error"], re.I)
                        for f in fails), "closed port: connection refused errors", fails)
    check(1.5 < took < 4.5, "closed port: the run ends on time (%.1f s for -t 2s)" % took)
    e2e.finish()


main()
