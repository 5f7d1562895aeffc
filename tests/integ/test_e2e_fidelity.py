#!/usr/bin/env python3
"""Issue 5, replay fidelity: for shop-h1.pcap and mix-123.pcap, every request the demo target
logged during a replay matches a request of the capture itself (read here straight from the
pcap bytes, not through rrload) in method, target, headers (names, values, order) and body,
once the parameterised parts are masked on both sides (tokens and session ids, user names,
numbers from pools) and hop-by-hop and length headers are set aside. Static assets are dropped
by the transform, so they are not expected.
Usage: test_e2e_fidelity.py DEMO_TARGET_EXE"""
import os
import re
import struct
import sys

import e2e
from e2e import DemoTarget, check

HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
       "upgrade", "content-length"}


def pcap_requests(path):
    """HTTP/1.1 requests of a classic pcap (Ethernet, IPv4, TCP): the client streams put
    together in sequence order, then cut into requests by Content-Length."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off, streams, server_ports = 24, {}, set()
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            continue
        tot = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:tot]
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4:]
        if flags & 0x02 and not flags & 0x10:  # SYN: the client's first segment
            server_ports.add(dport)
        if payload:
            streams.setdefault((ip[12:16], sport, dport), {})[seq] = payload
    out = []
    for (src, sport, dport), segs in streams.items():
        if dport not in server_ports:
            continue
        buf, nxt = b"", None
        for seq in sorted(segs):
            if nxt is not None and seq < nxt:
                continue  # a retransmission
            buf += segs[seq]
            nxt = seq + len(segs[seq])
        while buf:
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = [tuple(h.split(": ", 1)) for h in lines[1:]]
            n = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
            out.append({"method": method, "target": target, "headers": headers,
                        "body": rest[:n].decode("latin-1")})
            buf = rest[n:]
    return out


def mask(s):
    s = re.sub(r"[0-9a-f]{32}", "<hex>", s)
    s = re.sub(r"\b(shopper|[abc]-user)\d+", "<user>", s)
    return re.sub(r"\d+", "<n>", s)


def key(req):
    """What must match. The Cookie header comes from the user's cookie jar (a parameterised
    part, as in a browser or python requests), so its value and presence count, not where it
    stands among the other headers."""
    hdrs = tuple((k.lower(), mask(v)) for k, v in req["headers"]
                 if k.lower() not in HOP and k.lower() != "cookie")
    cookies = tuple(sorted(mask(v) for k, v in req["headers"] if k.lower() == "cookie"))
    return (req["method"], mask(req["target"]), hdrs, cookies, mask(req["body"]))


def one(exe, tmp, sample, min_kinds):
    recorded = pcap_requests(os.path.join(e2e.SAMPLES, sample))
    check(len(recorded) > 50, "%s: %d requests read from the capture" % (sample, len(recorded)))
    want = {key(r) for r in recorded}
    db = os.path.join(tmp, sample + ".db")
    e2e.record(sample, db)
    e2e.transform(db)
    e2e.edit_plan(db, tmp, lambda t: t.replace("\nwait recorded\n", "\nwait none\n", 1))
    with DemoTarget(exe, log=True, h2c=False) as t:
        # 30 iterations of 3 users, then one user through every flow (users pick their flow
        # at random, so a few users may all pick one of mix-123's three)
        rc, out, err = e2e.rr("replay", db, "-u", 3, "-r", 30, "--iterations", 30, "-t", "15s",
                              "--host", t.url, "--only-summary")
        rc2, out2, err2 = e2e.rr("replay", db, "--single-user", "--host", t.url)
        check(rc2 == 0, "%s: --single-user replay exits 0" % sample, err2 + out2)
    check(rc == 0, "%s: replay exits 0" % sample, err + out)
    lines = t.log_lines()
    bad = [ln for ln in lines if key(ln) not in want]
    check(len(lines) > 30 and not bad,
          "%s: all %d requests the target saw match the recording" % (sample, len(lines)),
          "first mismatch: %r\nrecorded of that route: %r" % (
              bad[0] if bad else None,
              [r for r in recorded if bad and r["target"].split("?")[0]
               == bad[0]["target"].split("?")[0]][:1]))
    kinds = {(ln["method"], mask(ln["target"])) for ln in lines}
    check(len(kinds) >= min_kinds, "%s: %d kinds of request replayed" % (sample, len(kinds)))
    # the parameterised parts really are the replay's own: a body sent with a recorded body's
    # exact bytes is fine (pools draw recorded values), but tokens must be fresh
    rec_tokens = set(re.findall(r"Bearer ([0-9a-f]{32})", repr(recorded)))
    got_tokens = set(re.findall(r"Bearer ([0-9a-f]{32})", repr(lines)))
    check(got_tokens and not (got_tokens & rec_tokens), "%s: tokens are fresh" % sample)


def main():
    e2e.need_rrload()
    exe = sys.argv[1]
    tmp = e2e.tmpdir()
    one(exe, tmp, "shop-h1.pcap", 7)
    one(exe, tmp, "mix-123.pcap", 6)
    e2e.finish()


main()
