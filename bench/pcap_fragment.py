#!/usr/bin/env python3
"""Cuts every IPv4 packet of an Ethernet pcap longer than an MTU into IP fragments, in order,
as a router in front of a smaller link would (IPv6 packets pass unchanged), so the recorder's
fragment path can be timed against tshark. Usage: bench/pcap_fragment.py IN OUT [MTU]"""
import struct
import sys


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    src, dst = sys.argv[1], sys.argv[2]
    mtu = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
    d = open(src, "rb").read()
    out = open(dst, "wb")
    out.write(d[:24])
    pos, ident, nfrag = 24, 0, 0
    while pos + 16 <= len(d):
        sec, usec, cap, wire = struct.unpack("<IIII", d[pos:pos + 16])
        p = d[pos + 16:pos + 16 + cap]
        pos += 16 + cap
        if cap != wire or p[12:14] != b"\x08\0" or len(p) - 14 <= mtu:
            out.write(struct.pack("<IIII", sec, usec, cap, wire) + p)
            continue
        ip = p[14:]
        hl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        pay = ip[hl:tot]
        step = (mtu - hl) // 8 * 8
        ident = (ident + 1) & 0xFFFF
        for off in range(0, len(pay), step):
            chunk = pay[off:off + step]
            h = bytearray(ip[:hl])
            mf = 0x2000 if off + step < len(pay) else 0
            struct.pack_into("!HHH", h, 2, hl + len(chunk), ident, mf | off // 8)
            h[10:12] = b"\0\0"
            h[10:12] = struct.pack("!H", csum(bytes(h)))
            f = p[:14] + bytes(h) + chunk
            out.write(struct.pack("<IIII", sec, usec, len(f), len(f)) + f)
            nfrag += 1
    print("%s: %d fragments" % (dst, nfrag))


if __name__ == "__main__":
    main()
