#!/usr/bin/env python3
"""rrload transform / plan / export on the bundled sample captures, and the exported
locustfile under the real Locust (Debian python3-locust) against the demo target.

Checks: mix-123 gives three flows weighted 1:2:3 with the login token correlated; lookups
gives a pool of its 20 customer numbers; plan export -> import -> export is byte-identical;
a bad plan is refused with FILE:LINE:COL and exit 2; the locustfile runs with 0 failures and
only the plan's request names."""
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demotarget import DemoTarget  # noqa: E402

RRLOAD = os.environ["RRLOAD"]
SRC = os.environ["RR_SOURCE_ROOT"]
BUILD = os.environ["RR_BUILD_ROOT"]
LOCUST = "/usr/bin/locust"


def rr(*args, ok=True):
    p = subprocess.run([RRLOAD, *args], capture_output=True, timeout=60)
    if ok and p.returncode != 0:
        raise AssertionError("rrload %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                          p.stderr.decode()))
    return p


def record(tmp, name):
    db = os.path.join(tmp, name + ".db")
    p = rr("record", "-r", os.path.join(SRC, "samples", name + ".pcap"), "-o", db, ok=False)
    if p.returncode != 0:
        print("skip: rrload record -r does not read the samples yet: %s" % p.stderr.decode())
        sys.exit(77)
    return db


def plan_text(db):
    return rr("plan", db, "export", "-").stdout


def flows_of(text):
    """[(name, weight, [step names])] and {pool: [values]} from plan text."""
    flows, pools, cur, pool = [], {}, None, None
    for line in text.decode().splitlines():
        m = re.match(r'flow "(.*)" weight (\d+)$', line)
        if m:
            cur = (m.group(1), int(m.group(2)), [])
            flows.append(cur)
            continue
        m = re.match(r'\s*step "(.*?)" (\S+) ', line)
        if m and cur:
            cur[2].append(m.group(1))
        m = re.match(r'pool (\S+) ', line)
        if m:
            pool = pools.setdefault(m.group(1), [])
            continue
        m = re.match(r'\s+value "(.*)"$', line)
        if m and pool is not None:
            pool.append(m.group(1))
        if line == "end":
            pool = None
            cur = None
    return flows, pools


def main():
    tmp = tempfile.mkdtemp(prefix="rr-test-transform-")
    try:
        mix = record(tmp, "mix-123")
        out = rr("transform", mix).stdout.decode()
        assert "flows: 3" in out, out
        assert "extract ${token} = json $.token from POST /login" in out, out
        assert "5 GET /static/style.css" in out, out
        text = plan_text(mix)
        flows, pools = flows_of(text)
        assert sorted(w for _, w, _ in flows) == [1, 2, 3], flows
        assert b'header "Authorization" "Bearer ${token}"' in text
        assert b"/static/" not in text

        # export -> import -> export: the same bytes
        p1 = os.path.join(tmp, "p1.plan")
        open(p1, "wb").write(text)
        rr("plan", mix, "import", p1)
        assert plan_text(mix) == text

        # a hand edit that breaks the plan: refused with the position, the store unchanged
        bad = os.path.join(tmp, "bad.plan")
        lines = text.decode().split("\n")
        i = next(k for k, l in enumerate(lines) if l.strip().startswith("header \"Authorization\""))
        lines[i] = lines[i].replace("${token}", "${tokn}")
        open(bad, "w").write("\n".join(lines))
        p = rr("plan", mix, "import", bad, ok=False)
        col = lines[i].index("${tokn}") + 1
        want = "rrload: %s:%d:%d: ${tokn} is neither a pool nor a value extracted earlier\n" % (
            bad, i + 1, col)
        assert p.returncode == 2 and p.stderr.decode() == want, (p.returncode, p.stderr, want)
        lines[i] = "    hedaer \"X\" \"y\""
        open(bad, "w").write("\n".join(lines))
        p = rr("plan", mix, "import", bad, ok=False)
        assert p.returncode == 2 and re.match(r"rrload: %s:%d:5: unknown field \"hedaer\"" % (
            re.escape(bad), i + 1), p.stderr.decode()), p.stderr
        assert plan_text(mix) == text

        # --no-correlation keeps the recorded token (a replay of it gets 401s)
        rr("transform", mix, "--no-correlation", "--quiet")
        nc = plan_text(mix)
        assert b"${token}" not in nc and re.search(rb'"Bearer [0-9a-f]{32}"', nc)
        rr("transform", mix, "--quiet")

        lookups = record(tmp, "lookups")
        rr("transform", lookups, "--quiet")
        _, pools = flows_of(plan_text(lookups))
        assert len(pools.get("customer", [])) == 20, pools
        assert len(set(pools["customer"])) == 20

        # show
        s = rr("show", mix, "flows", ok=False)
        if s.returncode == 0:
            assert "weight 3" in s.stdout.decode(), s.stdout

        # rrload replay of the plan: 0 failures; without correlation the stale tokens get 401s
        if "--iterations" in rr("replay", "--help", ok=False).stdout.decode():
            with DemoTarget(os.path.join(BUILD, "samples", "demo_target")) as t:
                for nc in (False, True):
                    rr("transform", mix, "--quiet", *(["--no-correlation"] if nc else []))
                    prefix = os.path.join(tmp, "rp%d" % nc)
                    p = rr("replay", mix, "--host", t.url, "-u", "3", "-r", "3", "--iterations",
                           "60", "-t", "30s", "--only-summary", "--csv", prefix, ok=False)
                    rows = list(csv.DictReader(open(prefix + "_stats.csv")))
                    total = next(r for r in rows if r["Name"] == "Aggregated")
                    fails = open(prefix + "_failures.csv").read()
                    if nc:
                        assert p.returncode == 1 and int(total["Failure Count"]) > 0, rows
                        assert "401" in fails, fails
                    else:
                        assert p.returncode == 0, p.stderr.decode()
                        assert int(total["Failure Count"]) == 0, (rows, fails)
                        assert int(total["Request Count"]) >= 60, rows
            rr("transform", mix, "--quiet")

        # the locustfile under the real Locust, against the demo target
        py = os.path.join(tmp, "mix.py")
        rr("export", mix, "--locustfile", py)
        if not os.access(LOCUST, os.X_OK):
            print("locust is not installed: the locustfile was only written")
            return 0
        names = {n for _, _, steps in flows for n in steps}
        for fast in (False, True):
            if fast:
                rr("export", mix, "--locustfile", py, "--fast")
            with DemoTarget(os.path.join(BUILD, "samples", "demo_target")) as t:
                prefix = os.path.join(tmp, "lc%d" % fast)
                p = subprocess.run([LOCUST, "-f", py, "--headless", "-u", "6", "-r", "6", "-t",
                                    "5s", "--host", t.url, "--csv", prefix, "--only-summary"],
                                   capture_output=True, timeout=60, cwd=tmp)
                assert p.returncode == 0, p.stderr.decode()[-3000:]
                assert b"Traceback" not in p.stderr, p.stderr.decode()[-3000:]
            rows = list(csv.DictReader(open(prefix + "_stats.csv")))
            seen = {r["Name"] for r in rows if r["Name"] != "Aggregated"}
            total = next(r for r in rows if r["Name"] == "Aggregated")
            assert int(total["Request Count"]) > 20, rows
            assert int(total["Failure Count"]) == 0, rows
            assert seen <= names and {"/api/lookup", "/api/items/[id]"} <= seen, (seen, names)
        # a unique pool of the 20 recorded customers: 20 lookups, then the test stops
        rules = os.path.join(tmp, "unique.rules")
        open(rules, "w").write("pool customer mode unique\nwait none\n")
        rr("transform", lookups, "--rules", rules, "--quiet")
        rr("export", lookups, "--locustfile", py)
        with DemoTarget(os.path.join(BUILD, "samples", "demo_target")) as t:
            p = subprocess.run([LOCUST, "-f", py, "--headless", "-u", "2", "-r", "2", "-t", "30s",
                                "--host", t.url], capture_output=True, timeout=60, cwd=tmp)
        err = p.stderr.decode() + p.stdout.decode()
        assert "pool customer has no value left: stopping the test" in err, err[-2000:]
        counts = re.findall(r"POST\s+/api/lookup\s+(\d+)\s+0\(", err)
        # all 20 values were drawn; the quit may cut the other user's last request short
        assert counts and 19 <= int(counts[-1]) <= 20, err[-6000:]
        assert "Shutting down" in err and "--run-time limit reached" not in err, err[-2000:]
        print("ok")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
