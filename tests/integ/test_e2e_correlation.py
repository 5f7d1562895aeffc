#!/usr/bin/env python3
"""Issue 4, first test: shop-h1.pcap recorded, transformed and replayed against the demo target
with 0 failures (also with no transform run first: replay builds the plan), the target seeing
the fresh tokens its own logins handed out (the recorded ones are long forgotten); the same with --no-correlation fails with 401s that show in the
failures CSV. Usage: test_e2e_correlation.py DEMO_TARGET_EXE"""
import os
import re
import sys

import e2e
from e2e import DemoTarget, check, rr

BEARER = re.compile(r"Bearer ([0-9a-f]{32})")


def tokens_sent(lines):
    out = []
    for ln in lines:
        for k, v in ln["headers"]:
            m = BEARER.fullmatch(v) if k.lower() == "authorization" else None
            if m:
                out.append(m.group(1))
    return out


def recorded_tokens(db):
    rc, out, err = rr("show", db, "exchanges", "--json", "--headers")
    check(rc == 0, "show exchanges --json", err)
    return set(BEARER.findall(out))


def replay(exe, db, tmp, tag):
    with DemoTarget(exe, log=True, h2c=False) as t:
        prefix = os.path.join(tmp, tag)
        rc, out, err = rr("replay", db, "-u", 5, "-r", 5, "--iterations", 20, "-t", "20s",
                          "--host", t.url, "--csv", prefix, "--only-summary")
    return rc, out, err, t.log_lines(), prefix


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()

    db = os.path.join(tmp, "shop.db")
    e2e.record("shop-h1.pcap", db)
    e2e.transform(db)
    old = recorded_tokens(db)
    check(len(old) == 8, "the recording holds 8 recorded tokens (%d)" % len(old))

    rc, out, err, lines, prefix = replay(exe, db, tmp, "corr")
    rows = e2e.stats_rows(prefix + "_stats.csv")
    agg = rows[("", "Aggregated")]
    check(rc == 0, "correlated replay exits 0 (%d)" % rc, err + out)
    check(int(agg["Failure Count"]) == 0 and int(agg["Request Count"]) > 50,
          "correlated replay: %s requests, %s failures" % (agg["Request Count"],
                                                            agg["Failure Count"]))
    check(e2e.failures_rows(prefix + "_failures.csv") == [], "no row in _failures.csv")
    logins = sum(1 for ln in lines if ln["method"] == "POST" and ln["target"] == "/login")
    sent = tokens_sent(lines)
    check(logins >= 1 and len(sent) > 20, "%d logins, %d requests with a token" % (logins,
                                                                                   len(sent)))
    check(not (set(sent) & old), "no recorded token is sent again")
    check(len(set(sent)) == logins,
          "each login's fresh token is used: %d distinct tokens for %d logins"
          % (len(set(sent)), logins))
    # every token is used only after the login that produced it: the first request carrying a
    # token follows at least as many logins as distinct tokens seen so far
    seen, nlogin, order_ok = set(), 0, True
    for ln in lines:
        if ln["method"] == "POST" and ln["target"] == "/login":
            nlogin += 1
        for tok in tokens_sent([ln]):
            seen.add(tok)
        if len(seen) > nlogin:
            order_ok = False
    check(order_ok, "no token is sent before a login handed it out")

    # a store never transformed: replay builds the plan itself (with correlation)
    raw = os.path.join(tmp, "raw.db")
    e2e.record("shop-h1.pcap", raw)
    rc, out, err, lines, prefix = replay(exe, raw, tmp, "raw")
    agg = e2e.stats_rows(prefix + "_stats.csv")[("", "Aggregated")]
    check(rc == 0 and int(agg["Failure Count"]) == 0 and int(agg["Request Count"]) > 50,
          "a store without a plan replays with one built on the fly, 0 failures", err)

    db2 = os.path.join(tmp, "nocorr.db")
    e2e.record("shop-h1.pcap", db2)
    e2e.transform(db2, "--no-correlation")
    rc, out, err, lines, prefix = replay(exe, db2, tmp, "nocorr")
    rows = e2e.stats_rows(prefix + "_stats.csv")
    agg = rows[("", "Aggregated")]
    check(rc == 1, "uncorrelated replay exits 1 (%d)" % rc, err + out)
    check(int(agg["Failure Count"]) > 0, "uncorrelated replay fails (%s of %s)"
          % (agg["Failure Count"], agg["Request Count"]))
    fails = e2e.failures_rows(prefix + "_failures.csv")
    check(fails and all("401" in f["Error"] for f in fails),
          "every failure in _failures.csv is a 401", fails)
    check(sum(int(f["Occurrences"]) for f in fails) == int(agg["Failure Count"]),
          "_failures.csv accounts for every failure")
    check("401" in err, "the error report printed by the replay names the 401s", err)
    sent = tokens_sent(lines)
    check(sent and set(sent) <= old, "without correlation only recorded tokens are sent")
    e2e.finish()


main()
