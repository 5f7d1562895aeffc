#!/usr/bin/env python3
"""Issue 4, second test: mix-123.pcap has three session kinds in the ratio 1:2:3 (A browser,
B buyer, C checker); the plan's flow weights are 1:2:3 and a replay of 6000 iterations runs the
three flows within 5% of that ratio, counted by the request each flow alone makes
(A: GET /api/items, B: GET /api/items/[id], C: POST /api/lookup; one of each per iteration).
Usage: test_e2e_weights.py DEMO_TARGET_EXE
Not registered in meson yet: each user picks its flow once, at random, so the iterations follow
how many users happened to pick each flow and how long its iteration is, not 1:2:3.
"""
import os
import re
import sys

import e2e
from e2e import DemoTarget, check, rr

FLOW_KEY = {"A": ("GET", "/api/items"), "B": ("GET", "/api/items/[id]"),
            "C": ("POST", "/api/lookup")}
WANT = {"A": 1, "B": 2, "C": 3}


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "mix.db")
    e2e.record("mix-123.pcap", db)
    e2e.transform(db)

    rc, plan, err = rr("plan", db, "export", "-")
    check(rc == 0, "plan export", err)
    weights = {}
    for m in re.finditer(r'^flow "([^"]*)" weight (\d+)$', plan, re.M):
        name, w = m.group(1), int(m.group(2))
        kind = ("C" if "/api/lookup" in name else "B" if "/api/items/[id]" in name
                else "A" if "/api/items" in name else "?")
        weights[kind] = w
    check(weights == WANT, "plan weights A:B:C = 1:2:3 (%r)" % weights, plan[:2000])

    # think times off, so 6000 iterations take well under a second of the target's time
    e2e.edit_plan(db, tmp, lambda t: t.replace("\nwait recorded\n", "\nwait none\n", 1))
    prefix = os.path.join(tmp, "mix")
    with DemoTarget(exe, h2c=False) as t:
        rc, out, err = rr("replay", db, "-u", 30, "-r", 300, "--iterations", 6000, "-t", "25s",
                          "--host", t.url, "--csv", prefix, "--only-summary", timeout=35)
    check(rc == 0, "replay exits 0 (%d)" % rc, err + out)
    rows = e2e.stats_rows(prefix + "_stats.csv")
    n = {k: e2e.count(rows, *v) for k, v in FLOW_KEY.items()}
    total = sum(n.values())
    check(5990 <= total <= 6000 + 30, "about 6000 iterations ran (%d: %r)" % (total, n))
    for k in "ABC":
        want = total * WANT[k] / 6
        got = n[k]
        check(want and abs(got - want) <= 0.05 * want,
              "flow %s: %d iterations, %.0f wanted (within 5%%)" % (k, got, want))
    e2e.finish()


main()
