#!/usr/bin/env python3
"""Issue 4, correlation of a value a page hands out in HTML: real clients go through the
recording proxy to the demo target: login, GET /account/form (an HTML page with a fresh
one-time hidden csrf_token), POST it back form-encoded, post it again (403), GET the page again
and POST with its meta tag's token in an X-CSRF-Token header, logout. The transform finds the token
in the page by itself and writes a regex extractor for it and ${csrf_token} in the POST body; a
replay with several users then has 0 failures; one after a rule `ignore csrf_token` fails
with 403s on the form posts only (and one with --no-correlation fails too); and
the exported locustfile has 0 failures under Debian's Locust when /usr/bin/locust is there.
Usage: test_e2e_csrf.py DEMO_TARGET_EXE"""
import os
import re
import signal
import sys
import time

import e2e
from e2e import DemoTarget, check, rr

USERS = 4
HIDDEN = re.compile(r'name="csrf_token" value="([0-9a-f]{32})"')
META = re.compile(r'name="csrf-token" content="([0-9a-f]{32})"')


def record(exe, dbs):
    """Records the same sessions into every store of dbs (one proxy each, in turn)."""
    import requests
    with DemoTarget(exe, h2c=False) as t:
        for db in dbs:
            p, port = e2e.start_proxy(t.url, db)
            base = "http://127.0.0.1:%d" % port
            try:
                for i in range(USERS):
                    with requests.Session() as s:
                        r = s.post(base + "/login", json={"user": "user%d" % i, "password": "pw"},
                                   timeout=10)
                        tok = {"Authorization": "Bearer " + r.json()["token"]}
                        r = s.get(base + "/account/form", headers=tok, timeout=10)
                        m = HIDDEN.search(r.text)
                        check(r.status_code == 200 and m, "the form page has a token", r.text)
                        r = s.post(base + "/account/form", headers=tok, timeout=10,
                                   data={"csrf_token": m.group(1), "nickname": "nick%d" % i})
                        check(r.status_code == 200, "the form post is accepted", r.text)
                        r = s.post(base + "/account/form", headers=tok, timeout=10,
                                   data={"csrf_token": m.group(1), "nickname": "again"})
                        check(r.status_code == 403, "a token works once", r.text)
                        # a script posting with the meta tag's token in a header
                        r = s.get(base + "/account/form", headers=tok, timeout=10)
                        m = META.search(r.text)
                        check(r.status_code == 200 and m, "the page has a meta token", r.text)
                        h = dict(tok, **{"X-CSRF-Token": m.group(1)})
                        r = s.post(base + "/account/form", headers=h, timeout=10,
                                   data={"nickname": "ajax%d" % i})
                        check(r.status_code == 200, "the header token is accepted", r.text)
                        s.post(base + "/api/logout", headers=tok, timeout=10)
                    time.sleep(0.05)
            finally:
                p.send_signal(signal.SIGINT)
                out, err = p.communicate(timeout=20)
            check(p.returncode == 0, "the proxy stops cleanly", err)


def replay(exe, db, tmp, tag):
    prefix = os.path.join(tmp, tag)
    with DemoTarget(exe, h2c=False) as t:
        rc, out, err = rr("replay", db, "-u", USERS, "-r", 1000, "--iterations", 5 * USERS,
                          "-t", "20s", "--host", t.url, "--csv", prefix, "--only-summary")
    return rc, err + out, e2e.stats_rows(prefix + "_stats.csv"), prefix


def main():
    e2e.need_rrload()
    try:
        import requests  # noqa: F401
    except ImportError:
        print("python3-requests missing")
        sys.exit(77)
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    db = os.path.join(tmp, "csrf.db")
    record(exe, [db])
    rc, out, err = rr("transform", db)
    check(rc == 0, "transform", err)
    rc, plan, err = rr("plan", db, "export", "-")
    check(rc == 0, "plan export", err)
    regex = [ln for ln in plan.splitlines() if "csrf_token" in ln and "regex" in ln]
    check(regex, "the form page's step has a regex extractor for csrf_token", plan)
    print("# " + "\n# ".join(regex))
    check("csrf_token=${csrf_token}" in plan, "the POST body sends ${csrf_token}", plan)
    check(re.search(r'header "X-CSRF-Token" "\$\{csrf_token_2\}"', plan),
          "the second page's token goes in the X-CSRF-Token header", plan)
    check("[0-9a-f]{32}" not in plan and not re.search(r"csrf_token=[0-9a-f]{32}", plan),
          "no recorded token is left in the plan", plan)

    rc, out, rows, prefix = replay(exe, db, tmp, "corr")
    agg = rows[("", "Aggregated")]
    check(rc == 0, "correlated replay exits 0 (%d)" % rc, out)
    post = rows.get(("POST", "/account/form"), {})
    check(int(agg["Failure Count"]) == 0 and int(post.get("Request Count", "0")) >= 2 * USERS,
          "correlated replay: %s form posts, %s failures"
          % (post.get("Request Count"), agg["Failure Count"]), out)

    # a rule drops the detected correlation by its name: the posts send recorded tokens
    rules = os.path.join(tmp, "ignore.rules")
    with open(rules, "w") as f:
        f.write("ignore csrf_token\n")
    e2e.transform(db, "--rules", rules)
    rc, plan, err = rr("plan", db, "export", "-")
    # the recorded tokens differ between sessions: they become a pool of stale values
    check(" regex " not in plan and "pool csrf_token " in plan,
          "ignore csrf_token: no regex extractor, the recorded tokens are a pool", plan)
    rc, out, rows, prefix = replay(exe, db, tmp, "ignored")
    check(rc == 1, "replay without the csrf extractor exits 1 (%d)" % rc, out)
    fails = e2e.failures_rows(prefix + "_failures.csv")
    check(fails and all("403" in f["Error"] and "/account/form" in f["Name"] for f in fails),
          "only the form posts fail, with 403", fails)
    check(int(rows[("", "Aggregated")]["Failure Count"]) >= USERS, "failures: %s"
          % rows[("", "Aggregated")]["Failure Count"])

    e2e.transform(db, "--no-correlation")
    rc, out, rows, prefix = replay(exe, db, tmp, "nocorr")
    check(rc == 1 and int(rows[("", "Aggregated")]["Failure Count"]) > 0,
          "with --no-correlation the replay fails (%s failures)"
          % rows[("", "Aggregated")]["Failure Count"], out)

    e2e.transform(db)
    locust(exe, db, tmp)
    e2e.finish()


def locust(exe, db, tmp):
    run = e2e.locust_run(exe, db, tmp)
    if not run:
        return
    p, lines, rows = run
    posts = sum(1 for ln in lines if ln["method"] == "POST" and ln["target"] == "/account/form")
    agg = rows.get(("", "Aggregated"), {})
    check(posts >= 2 and agg.get("Failure Count") == "0",
          "locust: %d form posts, %s failures" % (posts, agg.get("Failure Count")), p.stderr)


main()
