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
"""


def make_store(tmp, host):
    """A store holding a small plan, through `rrload plan FILE import`; None if not possible."""
    db = os.path.join(tmp, "cli.db")
    plan = os.path.join(tmp, "plan.txt")
    with open(plan, "w") as f:
        f.write(PLAN.replace("HOST", host))
    p = subprocess.run([RRLOAD, "plan", db, "import", plan], capture_output=True, text=True)
    return db if p.returncode == 0 and PLAN else None


def with_plan(tmp):
    exe = os.path.join(BUILD, "samples", "demo_target")
    with DemoTarget(exe, log=True, h2c=False) as t:
        db = make_store(tmp, t.url)
        if not db:
            print("# skip: no way to make a store with a plan yet")
            return
        t0 = time.time()
        rc, out, err = run([db, "-u", "3", "-r", "100", "-t", "1s", "--only-summary"])
        took = time.time() - t0
        check(rc == 0, "a 1 s run exits 0 (%d): %s" % (rc, err.strip()[-200:]))
        check(took < 3, "ends on time (%.2f s)" % took)
        check(t.url in err.splitlines()[0], "the target is printed first")
        p = subprocess.Popen([RRLOAD, "replay", db, "-u", "3", "-r", "100", "-t", "60s"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.8)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        check(p.returncode in (0, 1), "SIGINT: a normal exit (%d)" % p.returncode)
        check("requests" in out, "SIGINT: final stats printed")
        rc, out, err = run([db, "--single-user"])
        check(rc in (0, 1) and len(out.strip().splitlines()) >= 2, "--single-user prints rows")


def main():
    if not RRLOAD or not os.access(RRLOAD, os.X_OK):
        print("# skip: RRLOAD not built")
        return 77
    with tempfile.TemporaryDirectory(prefix="rr-replay-cli-") as tmp:
        usage_errors(tmp)
        with_plan(tmp)
    print("# %d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
