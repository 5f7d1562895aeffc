#!/usr/bin/env python3
"""Issue 4, fifth test: on real recordings (shop-h1, mix-123, lookups, shop-h2c) the plan
export -> import -> export is byte-identical (and `show FILE plan` prints the same text); a plan
with a syntax error, an unknown field or a reference to a missing pool is refused with one line
`rrload: FILE:LINE:COL: ...`, exit 2, and the stored plan is left as it was.
Usage: test_e2e_plan.py [DEMO_TARGET_EXE] (unused)"""
import os
import re

import e2e
from e2e import check, rr


def roundtrip(tmp, sample):
    db = os.path.join(tmp, sample + ".db")
    e2e.record(sample, db)
    e2e.transform(db)
    a, b = os.path.join(tmp, sample + ".a.plan"), os.path.join(tmp, sample + ".b.plan")
    rc1, _, e1 = rr("plan", db, "export", a)
    rc2, _, e2_ = rr("plan", db, "import", a)
    rc3, _, e3 = rr("plan", db, "export", b)
    check(rc1 == rc2 == rc3 == 0, "%s: export, import, export exit 0" % sample, e1 + e2_ + e3)
    ta, tb = open(a, "rb").read(), open(b, "rb").read()
    check(len(ta) > 200 and ta == tb, "%s: export -> import -> export byte-identical (%d bytes)"
          % (sample, len(ta)))
    rc, out, err = rr("show", db, "plan")
    check(rc == 0 and out.encode() == ta, "%s: show plan prints the same text" % sample, err)
    return db, ta.decode()


def bad(tmp, db, text, name, edit, want_line, want_msg):
    lines = text.split("\n")
    lines = edit(lines)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("\n".join(lines))
    rc, out, err = rr("plan", db, "import", path)
    errl = err.strip().splitlines()
    m = re.match(r"rrload: (.+):(\d+):(\d+): (.+)$", errl[0]) if len(errl) == 1 else None
    check(rc == 2, "%s: exit 2 (%d)" % (name, rc))
    check(m and m.group(1) == path and int(m.group(2)) == want_line and int(m.group(3)) >= 1
          and re.search(want_msg, m.group(4)),
          "%s: one line FILE:%d:COL: naming the problem" % (name, want_line), err)


def main():
    e2e.need_rrload()
    tmp = e2e.tmpdir()
    for s in ("mix-123.pcap", "lookups.pcap", "shop-h2c.pcap"):
        roundtrip(tmp, s)
    db, text = roundtrip(tmp, "shop-h1.pcap")
    lines = text.split("\n")
    flow_at = next(i for i, ln in enumerate(lines) if ln.startswith("flow "))
    hdr_at = next(i for i, ln in enumerate(lines) if ln.startswith("      header "))

    # a flow line with its weight cut off mid-word
    bad(tmp, db, text, "syntax.plan",
        lambda ls: ls[:flow_at] + [ls[flow_at].replace(" weight ", " weight x", 1)]
        + ls[flow_at + 1:], flow_at + 1, r"weight|number")
    # an unterminated string
    bad(tmp, db, text, "quote.plan",
        lambda ls: ls[:hdr_at] + [ls[hdr_at].rstrip('"')] + ls[hdr_at + 1:], hdr_at + 1,
        r"string|quote|\"")
    # an unknown field inside a step
    bad(tmp, db, text, "field.plan",
        lambda ls: ls[:hdr_at] + [ls[hdr_at].replace("header", "heder", 1)] + ls[hdr_at + 1:],
        hdr_at + 1, r"heder")
    # a reference to a pool that does not exist
    ref_at = next(i for i, ln in enumerate(lines) if "${token}" in ln)
    bad(tmp, db, text, "ref.plan",
        lambda ls: ls[:ref_at] + [ls[ref_at].replace("${token}", "${tokn}", 1)]
        + ls[ref_at + 1:], ref_at + 1, r"tokn")

    rc, out, err = rr("plan", db, "export", "-")
    check(rc == 0 and out == text, "refused imports left the stored plan unchanged")
    e2e.finish()


main()
