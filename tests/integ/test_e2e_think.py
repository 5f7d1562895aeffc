#!/usr/bin/env python3
"""Issue 4: a step's recorded think-time distribution (`think MEAN dist Q...`) is what a replay
waits. A hand-written plan with one step and five quantiles is replayed against the demo
target by rrload (plain, --think-scale 0.5, --think-scale 0) and by the exported locustfile
under /usr/bin/locust (skipped when absent); the gaps between one user's requests, read from
the target's request log, must spread as the quantiles say (loose bounds: the gap is the wait
plus a response time).
Usage: test_e2e_think.py DEMO_TARGET_EXE"""
import os
import subprocess
import sys

import e2e
from e2e import DemoTarget, check, rr

LOCUST = "/usr/bin/locust"
Q = [0.02, 0.04, 0.06, 0.1, 0.2]  # min, 25 %, median, 75 %, max
PLAN = """rrload-plan 1
wait recorded

flow "think" weight 1
  step "/" GET "/"
    think 0.0775 dist 0.02 0.04 0.06 0.1 0.2
  end
end
"""


def gaps(log):
    """Seconds between consecutive requests on each connection (one user each)."""
    by_conn = {}
    for e in log:
        by_conn.setdefault(e["conn"], []).append(e["time"])
    out = []
    for times in by_conn.values():
        times.sort()
        out += [b - a for a, b in zip(times, times[1:])]
    return sorted(out)


def frac_below(g, x):
    return sum(1 for v in g if v < x) / len(g)


def shape(who, g, scale, slack):
    """The recorded shape, scaled: bounds, median, the two quartiles (as fractions)."""
    q = [v * scale for v in Q]
    if not check(len(g) >= 60, "%s: %d gaps between requests" % (who, len(g))):
        return
    med = g[len(g) // 2]
    desc = "min %.4f med %.4f max %.4f" % (g[0], med, g[-1])
    check(g[0] >= q[0] - 0.0005, "%s: no gap below the shortest wait %.3f (%s)" % (who, q[0], desc))
    check(g[-1] <= q[4] + slack, "%s: no gap above the longest wait %.3f + %.3f (%s)"
          % (who, q[4], slack, desc))
    check(q[2] * 0.75 <= med <= q[2] * 1.3 + 0.003, "%s: median gap near %.3f (%s)"
          % (who, q[2], desc))
    lo, hi = frac_below(g, q[1] + 0.002), 1 - frac_below(g, q[3] + 0.003)
    check(0.1 <= lo <= 0.42, "%s: %.0f %% of the gaps below the 25 %% quantile" % (who, lo * 100))
    check(0.1 <= hi <= 0.42, "%s: %.0f %% of the gaps above the 75 %% quantile" % (who, hi * 100))
    # with the mean alone every gap would be about 0.0775 * scale
    p10, p90 = g[len(g) // 10], g[len(g) * 9 // 10]
    check(p10 < 0.05 * scale and p90 > 0.095 * scale,
          "%s: the gaps spread (p10 %.4f, p90 %.4f), not all at the mean" % (who, p10, p90))


def replay(exe, db, iters, *extra):
    with DemoTarget(exe, log=True, h2c=False) as t:
        rc, out, err = rr("replay", db, "-u", 4, "-r", 100, "--iterations", iters, "-t", "15s",
                          "--host", t.url, "--only-summary", "--seed", 7, *extra)
    check(rc == 0, "replay %s exits 0" % (" ".join(extra) or "(no option)"), err)
    return gaps(t.log_lines())


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "think.db")
    e2e.record("features-h1.pcap", db)
    plan = os.path.join(tmp, "think.plan")
    with open(plan, "w") as f:
        f.write(PLAN)
    rc, out, err = rr("plan", db, "import", plan)
    check(rc == 0, "plan import of a step with a think dist", err)
    rc, out, err = rr("plan", db, "export", "-")
    check(rc == 0 and out == PLAN, "the dist reads back as written", out)

    shape("rrload", replay(exe, db, 160), 1.0, 0.03)
    shape("rrload --think-scale 0.5", replay(exe, db, 160, "--think-scale", "0.5"), 0.5, 0.03)
    g = replay(exe, db, 200, "--think-scale", "0")
    check(len(g) > 100 and g[len(g) // 2] < 0.01,
          "--think-scale 0: no waits (median gap %.4f)" % (g[len(g) // 2] if g else -1))
    rc, out, err = rr("replay", db, "--think-scale", "x")
    check(rc == 2 and "--think-scale" in err, "--think-scale x: exit 2 naming the option", err)

    lf = os.path.join(tmp, "think_locust.py")
    rc, out, err = rr("export", db, "--locustfile", lf)
    check(rc == 0, "export --locustfile", err)
    src = open(lf).read()
    check("_think((0.020000, 0.040000, 0.060000, 0.100000, 0.200000))" in src,
          "the locustfile draws from the same quantiles")
    if not os.access(LOCUST, os.X_OK):
        print("ok - # SKIP no /usr/bin/locust (Debian python3-locust)")
        e2e.finish()
    with DemoTarget(exe, log=True, h2c=False) as t:
        p = subprocess.run([LOCUST, "-f", lf, "--headless", "-u", "4", "-r", "100", "-t", "4s",
                            "--host", t.url, "--only-summary"], capture_output=True, text=True,
                           timeout=30, cwd=tmp)
    check(p.returncode == 0 and "Traceback" not in p.stderr, "locust exits 0", p.stderr)
    shape("locust", gaps(t.log_lines()), 1.0, 0.06)
    e2e.finish()


main()
