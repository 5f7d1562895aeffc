#!/usr/bin/env python3
"""Builds a large capture for bench/record.sh: the Ethernet/IPv4 captures given are repeated,
each copy with its own client addresses (10.R.R.x) and later timestamps, so every copy is a
distinct set of TCP connections, until the output reaches the size asked.

usage: pcap_repeat.py [--mss N] OUT.pcap SIZE_MB IN.pcap...

--mss N re-segments TCP payloads into segments of at most N bytes, as on an Ethernet link
(the generated captures were taken on loopback, whose segments reach 64 KB)."""
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    magic, = struct.unpack("<I", data[:4])
    if magic != 0xa1b2c3d4:
        raise SystemExit("%s: only little-endian microsecond pcap is supported" % path)
    lt, = struct.unpack("<I", data[20:24])
    if lt != 1:
        return None
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, usec, cap, wire = struct.unpack("<IIII", data[off:off + 16])
        pkts.append((sec * 1000000 + usec, wire, bytearray(data[off + 16:off + 16 + cap])))
        off += 16 + cap
    return pkts


def resegment(pkts, mss):
    out = []
    for ts, wire, fr in pkts:
        if len(fr) < 54 or fr[12:14] != b"\x08\x00" or fr[23] != 6 or wire != len(fr):
            out.append((ts, wire, fr))
            continue
        ihl = (fr[14] & 15) * 4
        tot, = struct.unpack(">H", fr[16:18])
        th = 14 + ihl
        thl = (fr[th + 12] >> 4) * 4
        pay = fr[th + thl:14 + tot]
        if len(pay) <= mss:
            out.append((ts, wire, fr))
            continue
        seq, = struct.unpack(">I", fr[th + 4:th + 8])
        flags = fr[th + 13]
        for off in range(0, len(pay), mss):
            part = pay[off:off + mss]
            h = bytearray(fr[:th + thl])
            h[16:18] = struct.pack(">H", ihl + thl + len(part))
            h[th + 4:th + 8] = struct.pack(">I", (seq + off) & 0xffffffff)
            if off + mss < len(pay):
                h[th + 13] = flags & ~0x09  # FIN and PSH only on the last piece
            seg = h + part
            out.append((ts, len(seg), seg))
    return out


def main():
    args = sys.argv[1:]
    mss = 0
    if args[0] == "--mss":
        mss = int(args[1])
        args = args[2:]
    out, size_mb, ins = args[0], float(args[1]), args[2:]
    caps = [p for p in (read(x) for x in ins) if p]
    if mss:
        caps = [resegment(p, mss) for p in caps]
    want = int(size_mb * 1e6)
    f = open(out, "wb")
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
    written, rep, t0 = 24, 0, 1700000000 * 1000000
    while written < want:
        a, b = rep >> 8 & 255, rep & 255
        for pkts in caps:
            base = pkts[0][0]
            for ts, wire, frame in pkts:
                fr = bytearray(frame)
                if len(fr) >= 34 and fr[12:14] == b"\x08\x00":
                    # Rewrites the client side (the address that is not .1 in 127.0.0.x) and
                    # both addresses' middle bytes, so each copy is new connections.
                    fr[27], fr[28] = a, b
                    fr[31], fr[32] = a, b
                t = t0 + (ts - base)
                rec = struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), wire) + fr
                f.write(rec)
                written += len(rec)
            t0 += pkts[-1][0] - base + 1000
        rep += 1
    f.close()
    print("%s: %.1f MB, %d copies" % (out, written / 1e6, rep))


main()
