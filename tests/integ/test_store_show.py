#!/usr/bin/env python3
"""rrload show on a sample store (table, JSON, meta, conns, limits, usage errors) and on
every kind of bad file: each must give exactly one line 'rrload: FILE: problem' and exit 2."""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

RRLOAD = os.environ["RRLOAD"]
FIXTURE = sys.argv[1]
failures = []


def run(*args, cwd=None, env=None):
    p = subprocess.run([RRLOAD, *args], capture_output=True, text=True, cwd=cwd, timeout=20,
                       env=env, errors="replace")
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def fixture(kind, path):
    subprocess.run([FIXTURE, kind, path], check=True, timeout=20)


def expect_bad(path, problem, prefix=False):
    rc, out, err = run("show", path)
    want = f"rrload: {path}: {problem}"
    lines = err.splitlines()
    ok = rc == 2 and len(lines) == 1 and (lines[0].startswith(want) if prefix else lines[0] == want)
    check(ok, f"bad file {path}: want exit 2 and '{want}', got {rc} {err!r}")


def main():
    tmp = tempfile.mkdtemp(prefix="rr_store_show.")
    try:
        sample = os.path.join(tmp, "sample.db")
        fixture("sample", sample)

        rc, out, err = run("show", sample)
        lines = out.splitlines()
        check(rc == 0 and err == "", f"table: rc {rc} err {err!r}")
        check(len(lines) == 6 and lines[0].split()[:3] == ["ID", "CONN", "TIME(UTC)"], f"table: {out}")
        check("POST" in lines[1] and "/login" in lines[1] and " 200 " in lines[1], lines[1:2])
        check("no_response" in lines[5] and "gap" in lines[5], f"flags column: {lines[5:]}")

        rc, out, err = run("show", sample, "exchanges", "--json")
        check(rc == 0, f"json rc {rc} {err}")
        xs = json.loads(out)
        check(len(xs) == 5, f"json count {len(xs)}")
        x0 = xs[0]
        for key in ("id", "connection", "h2_stream", "version", "method", "uri", "host", "status",
                    "request_body_length", "response_body_length", "request_start_us",
                    "request_end_us", "response_start_us", "response_end_us", "flags"):
            check(key in x0, f"json field {key} missing: {x0}")
        check(x0["id"] == 1 and x0["method"] == "POST" and x0["uri"] == "/login", x0)
        check(x0["host"] == "127.0.0.1:8080" and x0["status"] == 200, x0)
        check(x0["request_body_length"] == 32 and x0["response_body_length"] == 18, x0)
        check(x0["request_start_us"] == 1764201600000000 and x0["version"] == "HTTP/1.1", x0)
        check(xs[1]["uri"] == "/api/items?page=1&q=a%20b", xs[1])
        check(xs[2]["flags"] == ["decoded"] and xs[2]["response_decoded_length"] == 18
              and xs[2]["response_body_length"] == 7, xs[2])
        check("response_decoded_length" not in x0, "decoded length only when decoded")
        check(xs[3]["version"] == "HTTP/2" and xs[3]["h2_stream"] == 1
              and xs[3]["connection"] == 2, xs[3])
        check(xs[4]["flags"] == ["incomplete", "gap", "no_response"] and xs[4]["status"] == 0,
              xs[4])

        rc, out, _ = run("show", sample, "--json", "--limit", "2", "--headers")
        xs = json.loads(out)
        check(rc == 0 and [x["id"] for x in xs] == [1, 2], f"limit: {out}")
        check(xs[0]["request_headers"][0] == ["Host", "127.0.0.1:8080"], xs[0])

        rc, out, _ = run("show", sample, "conns", "--json")
        cs = json.loads(out)
        check(rc == 0 and len(cs) == 2, f"conns: {out}")
        check(cs[0]["client"] == "127.0.0.1:40000" and cs[0]["flags"] == ["fin"], cs[0])
        check(cs[1]["server"] == "[::1]:8443" and cs[1]["protocol"] == "h2", cs[1])
        rc, out, _ = run("show", sample, "conns")
        check(rc == 0 and len(out.splitlines()) == 3, f"conns table: {out}")

        rc, out, _ = run("show", sample, "meta")
        check(rc == 0, "meta rc")
        for want in ("schema", "recorded_by", "rrload record", "source", "capture.packets",
                     "exchanges", "connections", "bodies"):
            check(want in out, f"meta lacks {want}: {out}")
        rc, out, _ = run("show", sample, "meta", "--json")
        m = json.loads(out)
        check(m["meta"]["schema"] == "1" and m["counts"]["exchanges"] == 5
              and m["counts"]["bodies"] == 2, m)

        # the default file, and a view named without a file
        shutil.copy(sample, os.path.join(tmp, "session.db"))
        rc, out, _ = run("show", "meta", cwd=tmp)
        check(rc == 0 and "exchanges" in out, f"default file: {rc} {out}")
        rc, out, _ = run("show", "--json", cwd=tmp)
        check(rc == 0 and len(json.loads(out)) == 5, "default file json")

        # usage errors
        for args in (["bogus"], ["--limit", "x"], ["--limit"], ["--frobnicate"],
                     ["exchanges", "meta"], ["--headers"]):
            rc, out, err = run("show", sample, *args)
            check(rc == 2 and err.startswith("rrload show: "), f"usage {args}: {rc} {err!r}")
        rc, out, _ = run("show", "--help")
        check(rc == 0 and "usage: rrload show" in out, "help")

        # bad files
        missing = os.path.join(tmp, "missing.db")
        expect_bad(missing, "no such file")
        check(not os.path.exists(missing), "a read-only open created the missing file")
        text = os.path.join(tmp, "notes.txt")
        with open(text, "w") as f:
            f.write("GET / HTTP/1.1\nHost: x\n")
        expect_bad(text, "not an rrload store (it looks like a text file)")
        pcap = os.path.join(tmp, "capture.pcap")
        with open(pcap, "wb") as f:
            f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
        expect_bad(pcap, "not an rrload store (it looks like a pcap capture)")
        empty = os.path.join(tmp, "empty.db")
        open(empty, "w").close()
        expect_bad(empty, "not an rrload store (an empty file)")
        binary = os.path.join(tmp, "random.bin")
        with open(binary, "wb") as f:
            f.write(bytes((i * 131 + 7) & 0xff for i in range(9000)))
        expect_bad(binary, "not an rrload store (not an LMDB file)")
        expect_bad(tmp, "is a directory, not an rrload store")
        trunc = os.path.join(tmp, "trunc.db")
        shutil.copy(sample, trunc)
        size = os.path.getsize(trunc)
        os.truncate(trunc, size // 2)
        expect_bad(trunc, "truncated store: ", prefix=True)
        os.truncate(trunc, 5000)
        expect_bad(trunc, "truncated store: ", prefix=True)
        os.truncate(trunc, 100)
        expect_bad(trunc, "not an rrload store (only 100 bytes, too short for one)")
        foreign = os.path.join(tmp, "foreign.db")
        fixture("foreign", foreign)
        expect_bad(foreign, "not an rrload store (an LMDB file without rrload's databases)")
        emptylmdb = os.path.join(tmp, "emptylmdb.db")
        fixture("emptylmdb", emptylmdb)
        expect_bad(emptylmdb, "not an rrload store (an empty LMDB file)")
        newer = os.path.join(tmp, "newer.db")
        fixture("newer", newer)
        expect_bad(newer, "written by a newer rrload (store schema 2; this rrload reads up to 1)")
        damaged = os.path.join(tmp, "damaged.db")
        fixture("damaged", damaged)
        for view in ([], ["--json"]):
            rc, out, err = run("show", damaged, *view)
            check(rc == 2 and err == f"rrload: {damaged}: exchange 3: damaged record\n",
                  f"damaged {view}: {rc} {err!r}")
        newrec = os.path.join(tmp, "newrecord.db")
        fixture("newrecord", newrec)
        rc, out, err = run("show", newrec)
        check(rc == 2 and err == f"rrload: {newrec}: exchange 2: written by a newer rrload "
              "(record version 2; this rrload reads up to 1)\n", f"newer record: {rc} {err!r}")
        check(len(out.splitlines()) == 2, f"the record before the newer one is shown: {out}")

        # Garbage over whole LMDB pages or flipped bits anywhere: LMDB has no checksums and
        # follows what it reads, so this checks that no damage makes rrload crash.
        rng = random.Random(7)
        base = open(sample, "rb").read()
        page_db = os.path.join(tmp, "pages.db")
        seen_bad = 0
        # Under ASan, its memcmp interceptor reports LMDB's wild reads before they fault,
        # i.e. before the store's guard can turn them into an error; let them fault.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":intercept_memcmp=0").lstrip(":")
        for trial in range(45):
            data = bytearray(base)
            if trial % 3 == 0:
                page = rng.randrange(2, len(data) // 4096)
                data[page * 4096:(page + 1) * 4096] = bytes(rng.randrange(256) for _ in range(4096))
            else:
                lo = 8192 if trial % 3 == 1 else 0
                for _ in range(5 if lo else 1):
                    data[rng.randrange(lo, len(data))] ^= 1 << rng.randrange(8)
            with open(page_db, "wb") as f:
                f.write(data)
            for view in ("exchanges", "conns", "meta"):
                rc, out, err = run("show", page_db, view, env=env)
                lines = err.splitlines()
                ok = rc == 0 or (rc == 2 and len(lines) == 1
                                 and lines[0].startswith(f"rrload: {page_db}: "))
                check(ok, f"damaged pages, trial {trial} {view}: exit {rc} {err!r}")
                seen_bad += rc == 2
        check(seen_bad > 10, f"only {seen_bad} damaged files were noticed")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
