#!/usr/bin/env python3
"""Issue 4, third test: lookups.pcap (20 sessions, 20 distinct customer numbers) yields a pool
of exactly those 20 values; made unique (plan export, edit, import) the run stops after 20
iterations with a message naming the pool, each value sent once; in random mode a longer run
draws every one of the 20 values (the target's log shows them).
Usage: test_e2e_pools.py DEMO_TARGET_EXE"""
import json
import os
import re
import subprocess
import sys

import e2e
from e2e import DemoTarget, check, rr


def recorded_customers():
    """The customer numbers in the capture itself, read from its bytes."""
    data = open(os.path.join(e2e.SAMPLES, "lookups.pcap"), "rb").read()
    return set(m.decode() for m in re.findall(rb'"customer": ?"?(\d+)', data))


def sent_customers(lines):
    out = []
    for ln in lines:
        if ln["target"] == "/api/lookup":
            out.append(str(json.loads(ln["body"])["customer"]))
    return out


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "lookups.db")
    e2e.record("lookups.pcap", db)
    e2e.transform(db)
    want = recorded_customers()
    check(len(want) == 20, "the capture holds 20 distinct customer numbers (%d)" % len(want))

    rc, plan, err = rr("plan", db, "export", "-")
    m = re.search(r"^pool (\w+) mode random scope iteration\n((?:  value .*\n)+)end", plan, re.M)
    pool_vals = set(re.findall(r'value "(\d+)"', m.group(2))) if m else set()
    check(m and pool_vals == want, "a random pool of the 20 customer numbers", plan[:1500])
    pool = m.group(1) if m else "customer"

    # random: 300 iterations draw every value (a value is missed with p < 1e-5)
    e2e.edit_plan(db, tmp, lambda t: t.replace("\nwait recorded\n", "\nwait none\n", 1))
    with DemoTarget(exe, log=True, h2c=False) as t:
        rc, out, err = rr("replay", db, "-u", 4, "-r", 100, "--iterations", 300, "-t", "15s",
                          "--host", t.url, "--only-summary")
    check(rc == 0, "random pool replay exits 0", err)
    sent = sent_customers(t.log_lines())
    check(len(sent) == 300, "300 lookups sent (%d)" % len(sent))
    check(set(sent) == want, "random mode drew all 20 values (%d distinct)" % len(set(sent)),
          sorted(want - set(sent)))

    # unique: 20 iterations, then the test stops with a message, whatever -u, -t, --iterations
    e2e.edit_plan(db, tmp, lambda t: t.replace("pool %s mode random" % pool,
                                               "pool %s mode unique" % pool, 1))
    with DemoTarget(exe, log=True, h2c=False) as t:
        p = subprocess.Popen([e2e.RRLOAD, "replay", db, "-u", "5", "-r", "50", "-t", "15s",
                              "--iterations", "1000", "--host", t.url, "--only-summary"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            check(False, "a dry unique pool ends the run well before -t")
    check(p.returncode == 0, "unique pool replay exits 0 (%r)" % p.returncode, err)
    sent = sent_customers(t.log_lines())
    check(len(sent) == 20 and set(sent) == want,
          "unique mode: 20 lookups, each value once (%d sent, %d distinct)"
          % (len(sent), len(set(sent))))
    check(re.search(r"pool %s.*(empty|no value|ran out|exhausted)" % pool, err, re.I),
          "a clear message names the empty pool", err)
    e2e.finish()


main()
