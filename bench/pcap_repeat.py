#!/usr/bin/env python3
"""Builds a large capture for bench/record.sh: the Ethernet/IPv4 captures given are repeated,
each copy with its own client addresses (10.R.R.x) and later timestamps, so every copy is a
distinct set of TCP connections, until the output reaches the size asked.

usage: pcap_repeat.py OUT.pcap SIZE_MB IN.pcap..."""
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


def main():
    out, size_mb, ins = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    caps = [p for p in (read(x) for x in ins) if p]
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
