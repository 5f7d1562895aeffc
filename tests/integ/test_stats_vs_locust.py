#!/usr/bin/env python3
"""rrload's console tables and CSV files beside the real Locust 2.12's, for the same requests.

Runs Debian's locust headless for a few seconds against the demo target (/delay/50 and
/delay/120 with known latencies, 404s, 500s, a catch_response failure, refused connections),
logs every request event, feeds the events to rrload's stats (stats_render) and compares:
the final stats table, the percentile table and the error report line by line (headers and
separators identical, columns at the same offsets, counts and errors identical, times within
rounding), the CSV headers, row order and number forms, and medians / 95th percentiles of the
delay endpoints within 5 %. Skips (77) without locust."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demotarget import DemoTarget  # noqa: E402


def blocks(text):
    """The final stats table, the percentile table and the error report of a console text."""
    lines = text.split("\n")
    out = {}
    for i, ln in enumerate(lines):
        if ln.startswith("Type     Name") and "# reqs" in ln and "50%" not in ln:
            j = i
            while not lines[j].startswith("         Aggregated"):
                j += 1
            out["stats"] = lines[i:j + 1]
        elif ln == "Response time percentiles (approximated)":
            j = i + 2
            while not lines[j].startswith("         Aggregated"):
                j += 1
            out["pct"] = lines[i:j + 1]
        elif ln == "Error report":
            j = i + 3
            while not lines[j].startswith("------------------|"):
                j += 1
            out["err"] = lines[i:j + 1]
    return out


def bars(line):
    return [i for i, c in enumerate(line) if c == "|"]


def close(a, b, rel, absol=0.0):
    return abs(a - b) <= max(abs(a), abs(b)) * rel + absol


def kind(v):
    if v == "N/A":
        return "na"
    if re.fullmatch(r"-?\d+", v):
        return "int"
    if re.fullmatch(r"-?\d+\.\d+(e[+-]\d\d)?|-?\d(\.\d+)?e[+-]\d\d", v):
        return "float"
    return "str"


def main():
    locust = shutil.which("locust")
    if not locust:
        print("locust is not installed (python3-locust): skipped")
        return 77
    build = os.environ["RR_BUILD_ROOT"]
    render = os.path.join(build, "tests", "integ", "stats_render")
    here = os.path.dirname(os.path.abspath(__file__))
    tmp = tempfile.mkdtemp(prefix="rrvsloc.")
    fails = []
    try:
        ev = os.path.join(tmp, "events.jsonl")
        with DemoTarget(os.path.join(build, "samples", "demo_target"), h2c=False) as t:
            env = dict(os.environ, RR_EVENTS=ev, PYTHONDONTWRITEBYTECODE="1")
            p = subprocess.run([locust, "-f", os.path.join(here, "stats_locustfile.py"),
                                "--headless", "--only-summary", "-u", "6", "-r", "6", "-t", "4s",
                                "-H", t.url, "--csv", os.path.join(tmp, "loc"),
                                "--exit-code-on-error", "1"],
                               env=env, capture_output=True, text=True, timeout=60, cwd=tmp)
        assert p.stdout == "", "locust wrote to stdout"
        assert p.returncode == 1, "locust exit %d" % p.returncode
        meta = json.load(open(ev + ".meta"))
        out = os.path.join(tmp, "rr")
        os.mkdir(out)
        subprocess.run([render, ev, out, repr(meta["start_time"])], check=True, timeout=30)
        theirs = blocks(p.stderr)
        ours = blocks(open(os.path.join(out, "console.txt")).read())
        for k in ("stats", "pct", "err"):
            assert k in theirs and k in ours, "missing block " + k
            a, b = theirs[k], ours[k]
            if len(a) != len(b):
                fails.append("%s: %d lines vs %d" % (k, len(a), len(b)))
                continue
            for la, lb in zip(a, b):
                if la.startswith(("Type", "---", "Response", "Error", "# occ")):
                    if la != lb:
                        fails.append("%s header/separator differs:\n  %r\n  %r" % (k, la, lb))
                    continue
                if k == "err":
                    if la != lb:
                        fails.append("error row differs:\n  %r\n  %r" % (la, lb))
                    continue
                if bars(la) != bars(lb) or len(la) != len(lb):
                    fails.append("%s layout differs:\n  %r\n  %r" % (k, la, lb))
                fa, fb = la.split(), lb.split()
                if k == "stats":
                    # Type Name #reqs #fails | Avg Min Max Med | req/s fail/s
                    fa = [x for x in fa if x != "|"]
                    fb = [x for x in fb if x != "|"]
                    if fa[:-6] != fb[:-6]:
                        fails.append("stats counts differ:\n  %r\n  %r" % (la, lb))
                    for x, y in zip(fa[-6:-2], fb[-6:-2]):
                        if not close(float(x), float(y), 0.02, 1):
                            fails.append("stats times differ:\n  %r\n  %r" % (la, lb))
                    for x, y in zip(fa[-2:], fb[-2:]):
                        if not close(float(x), float(y), 0.03, 0.02):
                            fails.append("stats rates differ:\n  %r\n  %r" % (la, lb))
                else:
                    if fa[:-12] != fb[:-12] or fa[-1] != fb[-1]:
                        fails.append("pct names/counts differ:\n  %r\n  %r" % (la, lb))
                    for x, y in zip(fa[-12:-1], fb[-12:-1]):
                        if not close(float(x), float(y), 0.05, 1):
                            fails.append("percentiles differ:\n  %r\n  %r" % (la, lb))
        # The delay endpoints: medians and 95th percentiles within 5 %.
        def pct_of(lines, name):
            for ln in lines:
                f = ln.split()
                if len(f) > 2 and f[1] == name:
                    return float(f[2]), float(f[7])
        for name in ("/delay/50", "/delay/120"):
            (m1, p1), (m2, p2) = pct_of(theirs["pct"], name), pct_of(ours["pct"], name)
            if not (close(m1, m2, 0.05) and close(p1, p2, 0.05)):
                fails.append("%s: median/p95 %s/%s vs %s/%s" % (name, m1, p1, m2, p2))
            if not 50 <= m2 < 80 if name == "/delay/50" else not 120 <= m2 < 160:
                fails.append("%s: median %s is not the delay" % (name, m2))

        # CSV: headers, row order, number forms.
        def rows(path):
            with open(path, newline="") as f:
                raw = f.read()
            assert "\r\n" in raw and raw.count("\r\n") == raw.count("\n") - raw.count('"\n'), path
            return list(csv.reader(raw.splitlines(True)))
        for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv"):
            a = rows(os.path.join(tmp, "loc" + suffix))
            b = rows(os.path.join(out, "out" + suffix))
            if a[0] != b[0]:
                fails.append("%s header differs:\n  %r\n  %r" % (suffix, a[0], b[0]))
            if suffix == "_stats.csv":
                if [r[:2] for r in a] != [r[:2] for r in b]:
                    fails.append("_stats.csv row order differs")
                for ra, rb in zip(a[1:], b[1:]):
                    ka, kb = [kind(x) for x in ra], [kind(x) for x in rb]
                    # Locust's CSV lags its last second, so only forms are compared; the median
                    # is an int bucket or a clamped float in both, decided by the same rule.
                    ka[4] = kb[4] = "num"
                    if ka != kb:
                        fails.append("_stats.csv forms differ:\n  %r\n  %r" % (ra, rb))
            if suffix == "_failures.csv":
                # Occurrences may lag in Locust's file (it is not rewritten at exit).
                if [r[:3] for r in a] != [r[:3] for r in b]:
                    fails.append("_failures.csv order differs:\n  %r\n  %r" % (a, b))
        if os.environ.get("RR_SHOW"):
            fails.append("(shown on request)")
        if fails:
            print("\n".join(fails))
            print("---- locust stderr ----\n" + p.stderr[-6000:])
            print("---- rrload ----\n" + open(os.path.join(out, "console.txt")).read())
            return 1
        print("ok: console tables, CSV headers/order/forms and delay percentiles agree with Locust")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
