#!/usr/bin/env python3
"""Writes the IP fragment seeds of the pcap fuzz target (tests/data/fuzz/pcap/frag-*.pcap)
from eth.pcap, with the fragmenting code of tests/integ/test_rec_frag.py in small pieces.
Run from the source root."""
import random
import struct
import sys

sys.path.insert(0, "tests/integ")
import test_rec_frag as t  # noqa: E402

D = "tests/data/fuzz/pcap/"


def small(rng, n):
    out, off = [], 0
    while True:
        size = 8 * rng.randint(1, 4)
        if off + size >= n:
            out.append((off, n - off, 0))
            return out
        out.append((off, size, 1))
        off += size


def main():
    pk = t.read_pcap(D + "eth.pcap")
    rng = random.Random(7)
    t.pieces = small
    t.write_pcap(D + "frag-v4.pcap", t.orphan(t.frag_v4(rng, pk)))
    t.write_pcap(D + "frag-v6.pcap", t.frag_v6(rng, pk))
    eth = pk[0][2][:12] + b"\x08\0"

    def v4frag(ident, off, mf, chunk, tot=None):
        h = bytearray(b"\x45\0\0\0\0\0\0\0\x40\x06\0\0\x7f\0\0\1\x7f\0\0\1")
        struct.pack_into("!HHH", h, 2, tot if tot is not None else 20 + len(chunk), ident,
                         (0x2000 if mf else 0) | (off // 8))
        h[10:12] = struct.pack("!H", t.csum(bytes(h)))
        return eth + bytes(h) + chunk

    tcp = pk[0][2][34:]
    v6cut = (pk[0][2][:12] + b"\x86\xdd" + struct.pack("!IHBB", 0x60000000, 4, 44, 64) +
             b"\0" * 15 + b"\1" + b"\0" * 15 + b"\1" + b"\6\0\0")
    bad = [
        # two "last" fragments with different ends
        v4frag(1, 0, 1, tcp[:16]), v4frag(1, 16, 0, tcp[16:20]), v4frag(1, 16, 0, tcp[16:40]),
        v4frag(2, 65528, 0, b"x" * 16),                            # past 64 KiB
        v4frag(3, 0, 1, b"y" * 13), v4frag(3, 8, 0, b"z" * 3),     # odd non-last length
        # overlapping pieces with other bytes
        v4frag(4, 0, 1, tcp[:24]), v4frag(4, 8, 1, b"\xff" * 24), v4frag(4, 24, 0, tcp[24:]),
        v4frag(5, 0, 1, b"q" * 8, tot=200),                        # cut by the snaplen
        v6cut,                                                     # fragment header cut short
    ]
    t.write_pcap(D + "frag-bad.pcap", [(1, i, p) for i, p in enumerate(bad)])


if __name__ == "__main__":
    main()
