"""Shared pieces of the end-to-end tests (tests/integ/test_e2e_*.py): run rrload as a user
would, from a sample capture to a replay against the demo target, and read what came out.

Each test prints TAP-like "ok - ..." / "not ok - ..." lines and exits 1 when any check failed
(meson reads the exit status), 77 when something it needs is absent.
"""
import csv
import os
import shutil
import subprocess
import sys
import tempfile

RRLOAD = os.environ.get("RRLOAD")
SRC = os.environ.get("RR_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLES = os.path.join(SRC, "samples")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demotarget import DemoTarget  # noqa: E402,F401

failures = 0
_tmpdirs = []


def check(cond, what, detail=""):
    global failures
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        failures += 1
        if detail:
            print("# " + str(detail)[-3000:].replace("\n", "\n# "))
    return cond


def need_rrload():
    if not RRLOAD or not os.access(RRLOAD, os.X_OK):
        print("RRLOAD is not set to the rrload binary")
        sys.exit(77)


def rr(*args, timeout=30, **kw):
    """Runs rrload ARGS; returns (exit status, stdout, stderr)."""
    p = subprocess.run([RRLOAD] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


def tmpdir():
    """A scratch folder, removed by finish() when every check passed (kept to look at else)."""
    d = tempfile.mkdtemp(prefix="rr-e2e-")
    _tmpdirs.append(d)
    return d


def record(sample, db):
    """rrload record -r samples/SAMPLE -o DB; fails the test at once when it does not work."""
    rc, out, err = rr("record", "-q", "-r", os.path.join(SAMPLES, sample), "-o", db)
    if rc != 0:
        check(False, "record %s" % sample, err)
        finish()


def start_proxy(upstream, db):
    """rrload record --proxy on a free port in front of UPSTREAM into DB: (process, port).
    Stop it with SIGINT; it commits what it recorded."""
    p = subprocess.Popen([RRLOAD, "record", "--proxy", "127.0.0.1:0", "--upstream", upstream,
                          "-o", db, "-t", "60s"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("recording proxy on port "):
        p.kill()
        check(False, "the recording proxy starts", line + p.stderr.read())
        finish()
    return p, int(line.split()[4].rstrip(","))


def locust_run(exe, db, tmp, users=3, run_time="3s"):
    """Exports DB's plan as a locustfile and runs it under Debian's /usr/bin/locust against a
    fresh demo target (EXE): (locust's process, the target's log lines, locust's stats rows),
    or None when Locust is not installed (the caller skips that leg)."""
    if not os.path.exists("/usr/bin/locust"):
        print("no /usr/bin/locust (Debian python3-locust): the locustfile leg skipped")
        return None
    lf = os.path.join(tmp, "exported_locust.py")
    rc, out, err = rr("export", db, "--locustfile", lf)
    check(rc == 0, "export --locustfile", err)
    with DemoTarget(exe, log=True, h2c=False) as t:
        p = subprocess.run(["/usr/bin/locust", "-f", lf, "--headless", "-u", str(users), "-r",
                            "10", "-t", run_time, "--host", t.url, "--csv",
                            os.path.join(tmp, "locust"), "--only-summary"],
                           capture_output=True, text=True, timeout=40, cwd=tmp)
    check(p.returncode == 0 and "Traceback" not in p.stderr,
          "locust runs the exported file (exit %d)" % p.returncode, p.stderr)
    return p, t.log_lines(), stats_rows(os.path.join(tmp, "locust_stats.csv"))


def transform(db, *extra):
    rc, out, err = rr("transform", db, "--quiet", *extra)
    if rc != 0:
        check(False, "transform %s %s" % (db, " ".join(extra)), err)
        finish()


def edit_plan(db, tmp, edit):
    """Exports the plan, passes its text through EDIT, imports the result."""
    path = os.path.join(tmp, "edited.plan")
    rc, out, err = rr("plan", db, "export", path)
    check(rc == 0, "plan export", err)
    with open(path) as f:
        text = f.read()
    new = edit(text)
    check(new != text, "the plan edit changed something")
    with open(path, "w") as f:
        f.write(new)
    rc, out, err = rr("plan", db, "import", path)
    check(rc == 0, "plan import of the edited plan", err)


def stats_rows(path):
    """PREFIX_stats.csv as {(type, name): row dict}."""
    with open(path, newline="") as f:
        return {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}


def failures_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def count(rows, typ, name):
    r = rows.get((typ, name))
    return int(r["Request Count"]) if r else 0


def finish():
    print("# %d failed" % failures if failures else "# all passed")
    for d in _tmpdirs:
        if failures:
            print("# files kept in " + d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    sys.exit(1 if failures else 0)
