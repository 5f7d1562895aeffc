#!/usr/bin/env python3
"""Issue 4, fourth test: `rrload export FILE.db --locustfile out.py` for shop-h1.pcap runs under
Debian's /usr/bin/locust (python3-locust) headless against the demo target with 0 failures, and
its requests carry the same names as rrload's own replay of the same plan (whose think times
are given as distributions, `think MEAN dist ...`).
Usage: test_e2e_locust.py DEMO_TARGET_EXE (exit 77 without /usr/bin/locust)"""
import os
import re
import subprocess
import sys

import e2e
from e2e import DemoTarget, check, rr

LOCUST = "/usr/bin/locust"


def names(rows):
    return {k for k, r in rows.items() if k[1] != "Aggregated" and int(r["Request Count"]) > 0}


def main():
    e2e.need_rrload()
    if not os.access(LOCUST, os.X_OK):
        print("no /usr/bin/locust (Debian python3-locust): skipped")
        sys.exit(77)
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "shop.db")
    e2e.record("shop-h1.pcap", db)
    e2e.transform(db)
    # recorded waits as (other) distributions (min 0, the recorded mean as median, twice it as max),
    # so the locustfile draws its waits as rrload does
    e2e.edit_plan(db, tmp, lambda t: re.sub(
        r"(?m)^( +think )(\d+(?:\.\d+)?)(?: dist[ 0-9.]*)?$",
        lambda m: "%s%s dist 0 %s %.6f" % (m.group(1), m.group(2), m.group(2),
                                           2 * float(m.group(2))), t))
    lf = os.path.join(tmp, "shop_locust.py")
    rc, out, err = rr("export", db, "--locustfile", lf)
    check(rc == 0 and os.path.getsize(lf) > 0, "export --locustfile", err)
    check("user.think = _think((0.000000, " in open(lf).read(),
          "the locustfile draws the waits from the recorded quantiles")

    with DemoTarget(exe, log=True, h2c=False) as t:
        p = subprocess.run([LOCUST, "-f", lf, "--headless", "-u", "2", "-r", "2", "-t", "5s",
                            "--host", t.url, "--csv", os.path.join(tmp, "locust"),
                            "--only-summary"], capture_output=True, text=True, timeout=30,
                           cwd=tmp)
        mine = os.path.join(tmp, "rrload")
        # --stop-timeout: on_stop (logout) runs at the end, as it does under Locust
        rc, out, err = rr("replay", db, "-u", 2, "-r", 2, "-t", "3s", "--stop-timeout", "2s",
                          "--host", t.url, "--csv", mine, "--only-summary")
    check(p.returncode == 0, "locust exits 0 (%d)" % p.returncode, p.stderr)
    check("Traceback" not in p.stderr, "no Python traceback under locust", p.stderr)
    loc = e2e.stats_rows(os.path.join(tmp, "locust_stats.csv"))
    agg = loc.get(("", "Aggregated"), {"Request Count": "0", "Failure Count": "-1"})
    check(int(agg["Request Count"]) > 20 and int(agg["Failure Count"]) == 0,
          "locust: %s requests, %s failures" % (agg["Request Count"], agg["Failure Count"]),
          p.stderr)
    check(rc == 0, "rrload replay of the same plan exits 0", err)
    ours = e2e.stats_rows(mine + "_stats.csv")
    # Locust writes its final CSV while on_stop may still be running: its logout row is there
    # or not, depending on timing; the rest must be the same
    logout = {("POST", "/api/logout")}
    check(names(loc) - logout == names(ours) - logout and len(names(ours)) >= 7
          and logout <= names(ours), "the same request names: %s" % sorted(names(ours)),
          "locust: %s" % sorted(names(loc)))
    empty = [k for k, r in ours.items()
             if int(r["Request Count"]) == 0 and int(r["Failure Count"]) == 0]
    check(not empty, "rrload prints no row for a step never requested (Locust has none)", empty)
    # the requests Locust sent carried the tokens its own logins got (correlation in Python)
    sent = [ln for ln in t.log_lines() if ln["target"].startswith("/api/items")]
    check(sent and all(any(k == "Authorization" for k, v in ln["headers"]) for ln in sent),
          "the locustfile's item requests carry a bearer token")
    e2e.finish()


main()
