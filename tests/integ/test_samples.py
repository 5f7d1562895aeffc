#!/usr/bin/env python3
"""The bundled sample captures hold the exchanges samples/README.md promises, stay small, and
the ones meant for the transform tests have the shape those tests rely on (tshark as oracle).

usage: test_samples.py SAMPLES_DIR
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys

EXPECT = {  # file: (exchanges, TCP connections)
    "shop-h1.pcap": (111, 8),
    "mix-123.pcap": (125, 30),
    "lookups.pcap": (60, 20),
    "shop-h2c.pcap": (40, 28),
    "features-h1.pcap": (18, 4),
}
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def tshark(path, *args):
    r = subprocess.run(["tshark", "-r", path, *args], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise SystemExit("tshark failed on %s: %s" % (path, r.stderr.strip()))
    return [line for line in r.stdout.splitlines() if line]


def main():
    d = sys.argv[1]
    if not shutil.which("tshark"):
        print("SKIP: tshark not installed")
        return 77
    readme = open(os.path.join(d, "README.md")).read()
    for name, (n, conns) in EXPECT.items():
        path = os.path.join(d, name)
        size = os.path.getsize(path)
        check(size < 400 * 1024, "%s is %d bytes" % (name, size))
        check(open(path, "rb").read(4) == b"\xd4\xc3\xb2\xa1", "%s is classic pcap" % name)
        check(re.search(r"\| %s \| %d\b" % (re.escape(name), n), readme) is not None,
              "README gives %d exchanges for %s" % (n, name))
        syns = tshark(path, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields",
                      "-e", "tcp.dstport")
        check(len(syns) == conns, "%s: %d connections, want %d" % (name, len(syns), conns))
        if name == "shop-h2c.pcap":
            port = syns[0]
            dec = ["-d", "tcp.port==%s,http2" % port]
            reqs = ",".join(tshark(path, *dec, "-Y", "http2.headers.method", "-T", "fields",
                                   "-e", "http2.headers.method")).split(",")
            resps = ",".join(tshark(path, *dec, "-Y", "http2.headers.status", "-T", "fields",
                                    "-e", "http2.headers.status")).split(",")
            bodies = tshark(path, *dec, "-Y", "http2.data.data", "-T", "fields", "-e",
                            "http2.data.data")
            check(any("22746f6b656e223a22" in b for b in bodies), "h2c login answer carries a token")
        else:
            reqs = tshark(path, "-Y", "http.request", "-T", "fields", "-e",
                          "http.request.method", "-e", "http.request.uri", "-e",
                          "http.file_data")
            resps = tshark(path, "-Y", "http.response", "-T", "fields", "-e",
                           "http.response.code", "-e", "http.file_data")
            if name == "features-h1.pcap":
                # one packet holds a pipelined pair: count the requests, not the packets
                reqs = ",".join(r.split("\t")[0] for r in reqs).split(",")
                resps = ",".join(r.split("\t")[0] for r in resps).split(",")
                check(sorted(set(resps)) == ["200", "201", "204", "302", "401", "404", "405"],
                      "features statuses %r" % sorted(set(resps)))
        check(len(reqs) == n and len(resps) == n,
              "%s: %d requests, %d responses, want %d" % (name, len(reqs), len(resps), n))
        if name == "mix-123.pcap":
            # one session per connection: the kind shows in the set of routes it used
            rows = tshark(path, "-Y", "http.request", "-T", "fields", "-e", "tcp.stream",
                          "-e", "http.request.uri")
            per = collections.defaultdict(list)
            for row in rows:
                stream, uri = row.split("\t")
                per[stream].append(re.sub(r"/api/items/\d+", "/api/items/{id}", uri))
            kinds = collections.Counter(tuple(v) for v in per.values())
            check(sorted(kinds.values()) == [5, 10, 15], "mix kinds %r" % sorted(kinds.values()))
        if name == "lookups.pcap":
            customers = [json.loads(r.split("\t")[2])["customer"]
                         for r in reqs if r.split("\t")[1] == "/api/lookup"]
            check(len(customers) == 20 and len(set(customers)) == 20,
                  "20 distinct customers: %r" % customers)
            codes = [json.loads(r.split("\t")[1])["retCode"] for r in resps if "retCode" in r]
            check(codes == ["000000"] * 20, "all lookups known: %r" % codes)
        if name == "shop-h1.pcap":
            tokens = set()
            for r in resps:
                parts = r.split("\t")
                if len(parts) > 1 and parts[1].startswith('{"token":'):
                    tokens.add(json.loads(parts[1])["token"])
            check(len(tokens) == 8, "8 distinct login tokens, got %d" % len(tokens))
    print("%d checks failed" % len(FAILS) if FAILS else "all checks passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
