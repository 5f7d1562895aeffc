#!/usr/bin/env python3
"""Issue 4, test-level steps: real clients go through the recording proxy to the demo target:
a setup call once (POST /api/admin/seed), several login -> browse -> logout sessions, a
teardown once (POST /api/admin/reset). The transform makes the setup the plan's `before` step
and the teardown its `after` step; a replay with several users against a fresh demo target runs
the setup exactly once before any other request and the teardown exactly once after every
other one, with 0 failures. The exported locustfile does the same under Debian's Locust (its
test_start/test_stop events), when /usr/bin/locust is there.
Usage: test_e2e_before_after.py DEMO_TARGET_EXE"""
import os
import signal
import sys
import time

import e2e
from e2e import DemoTarget, check, rr

USERS = 5


def record(exe, db):
    import requests
    with DemoTarget(exe, h2c=False) as t:
        p, port = e2e.start_proxy(t.url, db)
        base = "http://127.0.0.1:%d" % port
        try:
            with requests.Session() as admin:
                r = admin.post(base + "/api/admin/seed", json={}, timeout=10)
                check(r.status_code == 200 and r.json()["action"] == "seed", "setup recorded")
            # an anonymous connection joins one of the same client starting within 2 s
            time.sleep(2.2)
            for i in range(USERS):
                with requests.Session() as s:
                    r = s.post(base + "/login", json={"user": "user%d" % i, "password": "pw"},
                               timeout=10)
                    tok = {"Authorization": "Bearer " + r.json()["token"]}
                    s.get(base + "/api/items?page=%d" % (1 + i % 3), headers=tok, timeout=10)
                    s.get(base + "/api/items/%d" % (3 + i), headers=tok, timeout=10)
                    s.post(base + "/api/logout", headers=tok, timeout=10)
                time.sleep(0.05)
            with requests.Session() as admin:
                r = admin.post(base + "/api/admin/reset", json={}, timeout=10)
                check(r.status_code == 200 and r.json()["action"] == "reset", "teardown recorded")
        finally:
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=20)
        check(p.returncode == 0, "the proxy stops cleanly", err)


def main():
    e2e.need_rrload()
    try:
        import requests  # noqa: F401
    except ImportError:
        print("python3-requests missing")
        sys.exit(77)
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "setup.db")
    record(exe, db)
    rc, out, err = rr("transform", db)
    check(rc == 0, "transform", err)
    check("before (once per test): POST /api/admin/seed\n" in out, "setup -> before", out)
    check("after (once per test): POST /api/admin/reset\n" in out, "teardown -> after", out)
    check("flows: 1\n" in out, "the user sessions are one flow", out)
    rc, plan, err = rr("plan", db, "export", "-")
    check(rc == 0 and "\nbefore\n" in plan and "\nafter\n" in plan, "the plan has before and after",
          plan)

    prefix = os.path.join(tmp, "run")
    with DemoTarget(exe, log=True, h2c=False) as t:
        rc, out, err = rr("replay", db, "-u", USERS, "-r", 1000, "--iterations", 10 * USERS,
                          "-t", "20s", "--host", t.url, "--csv", prefix, "--only-summary")
    check(rc == 0, "replay exits 0 (%d)" % rc, err)
    lines = [(ln["method"], ln["target"]) for ln in t.log_lines()]
    seeds = [i for i, ln in enumerate(lines) if ln == ("POST", "/api/admin/seed")]
    resets = [i for i, ln in enumerate(lines) if ln == ("POST", "/api/admin/reset")]
    check(seeds == [0], "the setup ran once, first (at %s of %d)" % (seeds, len(lines)))
    check(resets == [len(lines) - 1], "the teardown ran once, last (at %s of %d)"
          % (resets, len(lines)))
    logins = sum(1 for ln in lines if ln == ("POST", "/login"))
    # several users ran (the iterations may all be done before the last one starts)
    check(logins >= 2, "several users logged in (%d logins)" % logins)
    rows = e2e.stats_rows(prefix + "_stats.csv")
    agg = rows.get(("", "Aggregated"), {})
    check(agg.get("Failure Count") == "0" and int(agg.get("Request Count", "0")) == len(lines),
          "0 failures, every request in the stats (%s/%s, %d logged)"
          % (agg.get("Request Count"), agg.get("Failure Count"), len(lines)))
    locust(exe, db, tmp)
    e2e.finish()


def locust(exe, db, tmp):
    run = e2e.locust_run(exe, db, tmp)
    if not run:
        return
    p, log, rows = run
    lines = [(ln["method"], ln["target"]) for ln in log]
    seeds = [i for i, ln in enumerate(lines) if ln == ("POST", "/api/admin/seed")]
    resets = [i for i, ln in enumerate(lines) if ln == ("POST", "/api/admin/reset")]
    check(seeds == [0], "under locust the setup ran once, first (at %s of %d)"
          % (seeds, len(lines)))
    check(resets == [len(lines) - 1], "under locust the teardown ran once, last (at %s of %d)"
          % (resets, len(lines)))
    # Locust 2.12 writes its final CSV before test_stop (and on_stop) requests are made, so
    # only the setup can be looked for there; the target's log has the teardown
    check(("POST", "/api/admin/seed") in rows, "locust's stats name the setup", sorted(rows))
    agg = rows.get(("", "Aggregated"), {})
    check(agg.get("Failure Count") == "0", "locust: 0 failures (%s)" % agg.get("Failure Count"),
          p.stderr)


if __name__ == "__main__":
    main()
