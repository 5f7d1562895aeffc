#!/usr/bin/env python3
"""rrload replay on the command line: usage errors (exit 2, one line naming the problem), and,
once a store with a plan can be made (`rrload plan FILE import`), a short run against the demo
target: the target printed first, the run ending at -t, SIGINT stopping it gracefully with the
final stats still printed, --single-user rows."""
import os
import signal
import subprocess
import sys
import tempfile
import time

RRLOAD = os.environ.get("RRLOAD")
BUILD = os.environ.get("RR_BUILD_ROOT", "build")
MKSTORE = sys.argv[1] if len(sys.argv) > 1 else None
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demotarget import DemoTarget  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        failures += 1


def run(args, timeout=20):
    p = subprocess.run([RRLOAD, "replay"] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def usage_errors(tmp):
    missing = os.path.join(tmp, "missing.db")
    cases = [
        ([], "expected FILE.db"),
        ([missing, "-t", "5x"], "-t"),
        ([missing, "-u", "many"], "-u"),
        ([missing, "--mode", "rate"], "--rate"),
        ([missing, "--engine", "fast"], "--engine"),
        ([missing, "--bogus"], "--bogus"),
        ([missing], "missing.db"),
    ]
    for args, needle in cases:
        rc, out, err = run(args)
        check(rc == 2, "exit 2 for %s (got %d)" % (" ".join(args) or "no arguments", rc))
        check(needle in err and len(err.strip().splitlines()) == 1,
              "one line naming %r: %r" % (needle, err.strip()))
    rc, out, err = run(["--help"])
    check(rc == 0 and "--spawn-rate" in out, "--help")


PLAN = """\
rrload-plan 1
host "HOST"
wait constant 0.05

pool page mode round-robin scope iteration
  value "style.css"
  value "app.js"
end

flow "browse" weight 1
  step "/" GET "/"
    check status 200 299
  end
  step "/static/[file]" GET "/static/${page}"
  end
  step "/favicon.ico" GET "/favicon.ico"
    check contains "this text is not in an icon" message "not an icon"
  end
end
"""


def make_store(tmp, host):
    """A store holding a small plan (written by the replay_mkstore helper)."""
    db = os.path.join(tmp, "cli.db")
    plan = os.path.join(tmp, "plan.txt")
    with open(plan, "w") as f:
        f.write(PLAN.replace("HOST", host))
    p = subprocess.run([MKSTORE, db, plan], capture_output=True, text=True)
    check(p.returncode == 0, "store made: %s" % p.stderr.strip())
    return db if p.returncode == 0 else None


def with_plan(tmp):
    exe = os.path.join(BUILD, "samples", "demo_target")
    with DemoTarget(exe, log=True, h2c=False) as t:
        db = make_store(tmp, t.url)
        if not db:
            return
        csv = os.path.join(tmp, "run")
        html = os.path.join(tmp, "run.html")
        t0 = time.time()
        rc, out, err = run([db, "-u", "3", "-r", "100", "-t", "1s", "--csv", csv, "--html", html])
        took = time.time() - t0
        # the favicon check always fails: exit 1, as Locust with failures
        check(rc == 1, "a run with failures exits 1 (%d): %s" % (rc, err.strip()[-300:]))
        check(took < 3, "ends on time (%.2f s)" % took)
        check(t.url in err.splitlines()[0], "the target is printed first: %r" % err[:200])
        # as Locust: logs and tables on stderr, stdout stays empty
        check(out == "", "nothing on stdout without --json: %r" % out[:200])
        check("Aggregated" in err and "Response time percentiles" in err, "final tables")
        check("CatchResponseError('not an icon')" in err, "error report: %r" % err[-600:])
        check("Shutting down (exit code 1)" in err, "Locust's shutdown line names the exit code")
        for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv"):
            check(os.path.exists(csv + suffix), "wrote " + suffix)
        check(os.path.exists(html), "wrote the HTML report")
        # a graceful SIGINT: the final stats are still printed
        p = subprocess.Popen([RRLOAD, "replay", db, "-u", "3", "-r", "100", "-t", "60s"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        t1 = time.time()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        check(time.time() - t1 < 2, "SIGINT stops the run at once")
        check(p.returncode in (0, 1), "SIGINT: a normal exit (%d)" % p.returncode)
        check("Aggregated" in err, "SIGINT: final stats printed")
        # --json: the final stats alone on stdout
        rc, out, err = run([db, "-u", "1", "-t", "1s", "--json", "--only-summary"])
        import json as js
        try:
            doc = js.loads(out)
        except ValueError:
            doc = None
        check(isinstance(doc, list) and len(doc) > 0, "--json prints JSON: %r" % out[:200])
        # --single-user: one row per request, each flow once
        rc, out, err = run([db, "--single-user"])
        rows = [l for l in out.splitlines() if l.startswith("GET")]
        check(len(rows) == 3, "--single-user: 3 rows (%d): %r" % (len(rows), out))
        check(any("page=style.css" in r for r in rows), "--single-user shows the context")
        # --iterations and rate mode through the command line
        rc, out, err = run([db, "-u", "2", "--iterations", "4", "--only-summary"])
        check(rc == 1 and "12" in err, "--iterations 4: 12 requests")
        rc, out, err = run([db, "--mode", "rate", "--rate", "20/s", "-t", "1s",
                            "--arrival", "fixed", "--only-summary"])
        check(rc == 1 and "Aggregated" in err, "rate mode runs")
    reqs = t.log_lines()
    check(len(reqs) > 20, "the demo target saw the requests (%d)" % len(reqs))
    check(all(r["target"] in ("/", "/static/style.css", "/static/app.js", "/favicon.ico")
              for r in reqs), "only the plan's targets were requested")


def with_h2c(tmp):
    """--http2 against an http:// target runs the h2 engine: one connection per user."""
    exe = os.path.join(BUILD, "samples", "demo_target")
    with DemoTarget(exe, log=True) as t:
        db = make_store(tmp, t.h2c_url)
        if not db:
            return
        rc, out, err = run([db, "-u", "2", "-r", "100", "--iterations", "6", "--http2",
                            "--only-summary"])
        first = err.splitlines()[0] if err else ""
        check("(engine h2)" in first and t.h2c_url in first, "--http2 picks h2: %r" % first)
        check(rc == 1 and "CatchResponseError('not an icon')" in err,
              "h2: the same checks fail as over HTTP/1.1 (%d)" % rc)
        rc, out, err = run([db, "-u", "1", "--iterations", "1", "--engine", "h2"])
        check("(engine h2)" in err.splitlines()[0], "--engine h2")
    reqs = t.log_lines()
    check(len(reqs) == 21 and all(r["version"] == "HTTP/2" for r in reqs),
          "h2: 21 requests over HTTP/2 (%d)" % len(reqs))
    conns = {r["conn"] for r in reqs}
    check(len(conns) == 3, "h2: a connection per user, 3 in two runs (%d)" % len(conns))


def main():
    if not RRLOAD or not os.access(RRLOAD, os.X_OK):
        print("# skip: RRLOAD not built")
        return 77
    with tempfile.TemporaryDirectory(prefix="rr-replay-cli-") as tmp:
        usage_errors(tmp)
        with_plan(tmp)
        with_h2c(tmp)
    print("# %d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
