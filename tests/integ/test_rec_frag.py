#!/usr/bin/env python3
"""rrload record on IP-fragmented captures: a real recorded HTTP/1 session (samples/) is cut
into IPv4 fragments, and converted to IPv6 with Fragment headers (some after a hop-by-hop
header, some carrying a destination-options header inside), in shuffled order with duplicate
and overlapping pieces. The store must hold the same exchanges, bodies included, as the
unfragmented capture. The captures are made at test time; argv[1]: the samples directory."""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

RR = os.environ.get("RRLOAD")


def read_pcap(path):
    d = open(path, "rb").read()
    magic, _, _, _, _, snap, lt = struct.unpack("<IHHiIII", d[:24])
    if magic != 0xA1B2C3D4 or lt != 1:
        raise SystemExit("%s: want a little-endian Ethernet pcap" % path)
    pos, out = 24, []
    while pos + 16 <= len(d):
        sec, usec, cap, wire = struct.unpack("<IIII", d[pos:pos + 16])
        out.append((sec, usec, d[pos + 16:pos + 16 + cap]))
        pos += 16 + cap
    return out


def write_pcap(path, pkts):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for sec, usec, p in pkts:
            f.write(struct.pack("<IIII", sec, usec, len(p), len(p)))
            f.write(p)


def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pieces(rng, n):
    """Cuts [0, n) into fragments: every piece but the last a multiple of 8 bytes."""
    out, off = [], 0
    while True:
        size = 8 * rng.randint(1, 60)
        if off + size >= n:
            out.append((off, n - off, 0))
            return out
        out.append((off, size, 1))
        off += size


def mess(rng, frags, extra=()):
    """Shuffles some datagrams' fragments and repeats one of them; the extra pieces (and the
    repeat) go before the piece that completes the datagram, so none starts a new one."""
    if len(frags) > 1 and rng.random() < 0.5:
        rng.shuffle(frags)
    extra = list(extra)
    if len(frags) > 1 and rng.random() < 0.2:
        extra.append(rng.choice(frags[:-1]))
    for e in extra:
        frags.insert(rng.randint(0, len(frags) - 1), e)
    return frags


def frag_v4(rng, pkts):
    out = []
    for ident, (sec, usec, p) in enumerate(pkts):
        eth, ip = p[:14], p[14:]
        if struct.unpack("!H", eth[12:14])[0] != 0x0800:
            out.append((sec, usec, p))
            continue
        hl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        hdr, pay = ip[:hl], ip[hl:tot]
        if len(pay) <= 8:
            out.append((sec, usec, p))
            continue
        frags = []
        for off, size, mf in pieces(rng, len(pay)):
            frags.append((off, pay[off:off + size], mf))
        extra = []
        if len(frags) > 2 and min(len(frags[0][1]), len(frags[1][1])) > 8 and \
                rng.random() < 0.3:
            # a piece spanning the end of the first fragment and the start of the second,
            # with the same bytes (first come wins either way); covering neither whole, it
            # cannot complete the datagram early
            mid = len(frags[0][1]) - 8
            extra.append((mid, pay[mid:mid + 16], 1))
        for off, chunk, mf in mess(rng, frags, extra):
            h = bytearray(hdr)
            struct.pack_into("!HHH", h, 2, hl + len(chunk), ident & 0xFFFF,
                             (0x2000 if mf else 0) | off // 8)
            h[10:12] = b"\0\0"
            h[10:12] = struct.pack("!H", csum(bytes(h)))
            out.append((sec, usec, eth + bytes(h) + chunk))
    return out


def v6_addr(a4):
    return b"\0" * 15 + b"\1" if a4 == b"\x7f\0\0\1" else b"\xfd" + b"\0" * 11 + a4


def frag_v6(rng, pkts):
    out = []
    for ident, (sec, usec, p) in enumerate(pkts):
        eth, ip = p[:14], p[14:]
        if struct.unpack("!H", eth[12:14])[0] != 0x0800:
            continue
        hl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        src, dst = v6_addr(ip[12:16]), v6_addr(ip[16:20])
        tcp = bytearray(ip[hl:tot])
        tcp[16:18] = b"\0\0"
        pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
        tcp[16:18] = struct.pack("!H", csum(pseudo + bytes(tcp)))
        eth6 = eth[:12] + b"\x86\xdd"
        # the fragmentable part: TCP, sometimes behind a destination-options header
        nh, body = 6, bytes(tcp)
        if ident % 3 == 0:
            nh, body = 60, bytes([6, 0, 1, 4, 0, 0, 0, 0]) + body
        if len(body) <= 8 and ident % 2:
            h = struct.pack("!IHBB", 0x60000000, len(body), nh, 64) + src + dst
            out.append((sec, usec, eth6 + h + body))
            continue
        frags = [(off, body[off:off + size], mf) for off, size, mf in pieces(rng, len(body))]
        for off, chunk, mf in mess(rng, frags):
            fh = struct.pack("!BBHI", nh, 0, off | mf, 0x80000000 | ident)
            first, ext = 44, b""
            if ident % 2 == 0:  # a hop-by-hop header before the fragment header
                first, ext = 0, bytes([44, 0, 1, 4, 0, 0, 0, 0])
            pl = len(ext) + len(fh) + len(chunk)
            h = struct.pack("!IHBB", 0x60000000, pl, first, 64) + src + dst
            out.append((sec, usec, eth6 + h + ext + fh + chunk))
    return out


def orphan(pkts):
    """One fragment whose datagram never completes: it is evicted at the end and counted."""
    sec, usec, p = pkts[0]
    h = bytearray(b"\x45\0\0\x1c\xbe\xef\x20\0\x40\x06\0\0\x7f\0\0\1\x7f\0\0\1")
    h[10:12] = struct.pack("!H", csum(bytes(h)))
    return pkts + [(sec, usec, p[:12] + b"\x08\0" + bytes(h) + b"\0" * 8)]


def record(pcap, db, tmp):
    r = subprocess.run([RR, "record", "-r", pcap, "-o", db], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise SystemExit("record %s: exit %d: %s" % (pcap, r.returncode, r.stderr))
    har = os.path.join(tmp, os.path.basename(db) + ".har")
    subprocess.run([RR, "export", db, "--har", har], check=True, timeout=60,
                   capture_output=True)
    entries = []
    for e in json.load(open(har))["log"]["entries"]:
        rq, rs = e["request"], e["response"]
        url = rq["url"].split("://", 1)[1].split("/", 1)[1]
        entries.append((rq["method"], url, rq.get("postData", {}).get("text"), rs["status"],
                        rs["content"].get("size"), rs["content"].get("text")))
    return entries, r.stderr


def summary_field(text, pattern):
    for line in text.splitlines():
        if line.startswith(pattern):
            return line
    return ""


def main():
    if not RR:
        print("RRLOAD not set")
        return 1
    sample = os.path.join(sys.argv[1], "shop-h1.pcap")
    if not os.path.exists(sample):
        print("%s absent: skipped" % sample)
        return 77
    rng = random.Random(1234)
    tmp = tempfile.mkdtemp()
    fail = 0
    try:
        pkts = read_pcap(sample)
        want, _ = record(sample, os.path.join(tmp, "plain.db"), tmp)
        if len(want) < 50 or not any(e[2] for e in want):
            print("FAIL: the sample has %d exchanges, want >= 50 with a POST body" % len(want))
            return 1
        for name, made in (("v4", orphan(frag_v4(rng, pkts))), ("v6", frag_v6(rng, pkts))):
            path = os.path.join(tmp, name + ".pcap")
            write_pcap(path, made)
            if shutil.which("tshark"):
                # the peer agrees the capture holds every request (it reassembles IP too)
                t = subprocess.run(["tshark", "-r", path, "-Y", "http.request"],
                                   capture_output=True, text=True, timeout=60)
                if t.stdout.count("\n") != len(want):
                    print("FAIL %s: tshark sees %d requests, want %d" %
                          (name, t.stdout.count("\n"), len(want)))
                    fail = 1
            got, err = record(path, os.path.join(tmp, name + ".db"), tmp)
            line = summary_field(err, "ip fragments:")
            nfrag = sum(1 for _, _, p in made
                        if p[12:14] == b"\x08\0" and struct.unpack("!H", p[20:22])[0] & 0x3FFF
                        or p[12:14] == b"\x86\xdd" and (p[20] == 44 or p[54] == 44))
            if got != want:
                bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
                print("FAIL %s: %d exchanges vs %d; first difference at %s" %
                      (name, len(got), len(want), bad[:1]))
                fail = 1
            elif not line or "0 reassembled" in line or "gaps: 0 " not in err:
                print("FAIL %s: summary: %s" % (name, err))
                fail = 1
            else:
                used = int(line.split()[2])
                skipped = summary_field(err, "packets:").split(", ")[3]
                dropped = int(skipped.split()[0])
                want_evicted = 1 if name == "v4" else 0
                if used + dropped != nfrag or dropped != want_evicted or not line.endswith(
                        "; %d datagrams evicted incomplete" % want_evicted):
                    print("FAIL %s: %d fragments written, summary: %s / %s" %
                          (name, nfrag, line, skipped))
                    fail = 1
                else:
                    print("ok %s: %d packets, %d exchanges as unfragmented; %s" %
                          (name, len(made), len(got), line))
    finally:
        shutil.rmtree(tmp)
    return fail


if __name__ == "__main__":
    sys.exit(main())
