#!/usr/bin/env python3
"""Issue 5, interrupted run: `rrload replay` with no -t, SIGINT after ~2 s, still prints the
final stats and writes complete CSV files and the HTML report, and keeps a run record in the
store (`rrload show FILE runs`); a second run (-t) is recorded too and `rrload compare FILE 1 2`
compares them.
Usage: test_e2e_interrupt.py DEMO_TARGET_EXE"""
import csv
import os
import signal
import subprocess
import sys
import time

import e2e
from e2e import DemoTarget, check, rr


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "shop.db")
    e2e.record("shop-h1.pcap", db)
    e2e.transform(db)
    prefix, html = os.path.join(tmp, "int"), os.path.join(tmp, "int.html")

    with DemoTarget(exe, h2c=False) as t:
        p = subprocess.Popen([e2e.RRLOAD, "replay", db, "-u", "3", "-r", "10", "--host", t.url,
                              "--csv", prefix, "--html", html], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        took = time.monotonic() - t0
        check(p.returncode == 0, "SIGINT: exit 0 (%r)" % p.returncode, err)
        check(took < 3, "SIGINT: the run ends at once (%.1f s)" % took)
        check("Aggregated" in err and "Response time percentiles" in err,
              "SIGINT: the final stats are printed", out[-1500:] + err)
        rows = e2e.stats_rows(prefix + "_stats.csv")
        agg = rows.get(("", "Aggregated"))
        check(agg and int(agg["Request Count"]) > 20 and int(agg["Failure Count"]) == 0,
              "SIGINT: _stats.csv is complete (%s requests)" % (agg or {}).get("Request Count"))
        with open(prefix + "_stats_history.csv", newline="") as f:
            hist = list(csv.DictReader(f))
        check(len(hist) >= 2 and hist[-1]["Name"] == "Aggregated",
              "SIGINT: _stats_history.csv has rows (%d)" % len(hist))
        with open(prefix + "_failures.csv") as f:
            check(f.readline().startswith("Method,Name,Error,Occurrences"),
                  "SIGINT: _failures.csv has its header")
        doc = open(html, encoding="utf-8").read() if os.path.exists(html) else ""
        check(doc.rstrip().endswith("</html>") and "/api/items" in doc,
              "SIGINT: the HTML report is complete (%d bytes)" % len(doc))

        rc, out2, err2 = rr("replay", db, "-u", 2, "-r", 10, "-t", "1s", "--host", t.url,
                            "--only-summary")
        check(rc == 0, "second run exits 0", err2)

    rc, runs, err = rr("show", db, "runs")
    lines = [ln for ln in runs.splitlines() if ln[:1].isdigit()]
    check(rc == 0 and len(lines) == 2, "show runs lists both runs", runs + err)
    if lines:
        check(lines[0].split()[0] == "1" and str(agg["Request Count"]) in lines[0].split(),
              "run 1 is the interrupted run with its request count", lines[0])
    rc, out, err = rr("compare", db, "1", "2")
    check(rc == 0 and "/api/items" in out and "Aggregated" in out,
          "compare FILE 1 2 works", out + err)
    rc, out, err = rr("compare", db, "1", "3")
    check(rc == 2 and err.strip(), "compare with a missing run: exit 2 with a message", err)
    e2e.finish()


main()
