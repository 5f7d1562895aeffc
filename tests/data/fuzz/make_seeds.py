#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_pcap, fuzz_tcp and fuzz_h1 (run from this folder)."""
import struct

REQ = b"GET /a?x=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n"
RESP = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n")
POST = b"POST /p HTTP/1.1\r\nHost: e\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
CONT = b"HTTP/1.1 100 Continue\r\n\r\n"
RESP2 = b"HTTP/1.1 204 No Content\r\n\r\n"


def csum(b):
    return 0


def tcp(sport, dport, seq, ack, flags, payload):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def ip4(src, dst, seg):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 1, 0, 64, 6, 0, bytes(src),
                       bytes(dst)) + seg


def ip6(src, dst, seg):
    return struct.pack(">IHBB16s16s", 6 << 28, len(seg), 6, 64, bytes(src), bytes(dst)) + seg


def conversation(v6=False):
    c, s = ([0xfe80] + [0] * 14 + [1], [0xfe80] + [0] * 14 + [2]) if v6 else ([10, 0, 0, 1], [10, 0, 0, 2])
    if v6:
        c = [0xfe, 0x80] + [0] * 13 + [1]
        s = [0xfe, 0x80] + [0] * 13 + [2]
    ip = ip6 if v6 else ip4
    cs, ss = 0xfffffff0, 1000
    pk = []
    pk.append(ip(c, s, tcp(40000, 80, cs, 0, 0x02, b"")))
    pk.append(ip(s, c, tcp(80, 40000, ss, cs + 1, 0x12, b"")))
    cs += 1
    ss += 1
    for req, resps in ((REQ, [RESP]), (POST[:40], []), (POST[40:] + b"abc", [CONT, RESP2])):
        pk.append(ip(c, s, tcp(40000, 80, cs & 0xffffffff, ss, 0x18, req)))
        cs += len(req)
        for r in resps:
            pk.append(ip(s, c, tcp(80, 40000, ss, cs & 0xffffffff, 0x18, r)))
            ss += len(r)
    pk.append(ip(c, s, tcp(40000, 80, cs & 0xffffffff, ss, 0x11, b"")))
    pk.append(ip(s, c, tcp(80, 40000, ss, (cs + 1) & 0xffffffff, 0x11, b"")))
    return pk


def pcap(name, linktype, frames, snap=65535, cut=None):
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snap, linktype)
    for i, f in enumerate(frames):
        cap = f[:snap]
        out += struct.pack("<IIII", 1700000000 + i, 0, len(cap), len(f)) + cap
    if cut:
        out = out[:cut]
    open(name, "wb").write(out)


eth = lambda et: lambda p: b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb" + et + p
frames = conversation()
pcap("pcap/eth.pcap", 1, [eth(b"\x08\x00")(p) for p in frames])
pcap("pcap/vlan.pcap", 1, [eth(b"\x81\x00\x00\x05\x88\xa8\x00\x06\x08\x00")(p) for p in frames])
pcap("pcap/null.pcap", 0, [struct.pack("<I", 2) + p for p in frames])
pcap("pcap/sll.pcap", 113, [b"\x00\x00\x00\x01\x00\x06" + b"\x00" * 8 + b"\x08\x00" + p for p in frames])
pcap("pcap/sll2-v6.pcap", 276, [b"\x86\xdd\x00\x00" + b"\x00" * 16 + p for p in conversation(True)])
pcap("pcap/raw-snaplen.pcap", 101, frames, snap=60)
pcap("pcap/truncated.pcap", 1, [eth(b"\x08\x00")(p) for p in frames], cut=300)

# fuzz_tcp: records of dir|flags (1), seq (4), ack (4), len (1), payload.
def trec(d, fl, seq, ack, pl=b""):
    return bytes([d << 7 | fl]) + struct.pack(">II", seq, ack) + bytes([len(pl)]) + pl

t = trec(0, 0x02, 100, 0) + trec(1, 0x12 & 0x3f, 500, 101) + trec(0, 0x10, 101, 501, b"abc")
t += trec(0, 0x10, 110, 501, b"later") + trec(1, 0x10, 501, 115) + trec(0, 0x10, 104, 501, b"defgh")
t += trec(0, 0x10, 101, 501, b"XXXX") + trec(0, 0x01, 115, 501) + trec(1, 0x01, 501, 116)
open("tcp/basic", "wb").write(t)
open("tcp/wrap", "wb").write(trec(0, 0x02, 0xfffffffe, 0) + trec(0, 0x10, 0xffffffff, 0, b"wrap")
                             + trec(0, 0x10, 3, 0, b"ok") + trec(1, 0x04, 0, 0))

# fuzz_h1: records of op (1: bit0 dir, bit1 gap), len (2), bytes.
def hrec(op, b):
    return bytes([op]) + struct.pack(">H", len(b)) + b

open("h1/pipeline", "wb").write(hrec(0, REQ + REQ) + hrec(1, RESP + RESP))
open("h1/continue", "wb").write(hrec(0, POST) + hrec(1, CONT) + hrec(0, b"abc") + hrec(1, RESP2))
open("h1/gap", "wb").write(hrec(0, REQ) + hrec(1, RESP[:30]) + hrec(3, b"\x00" * 9) + hrec(1, RESP[20:])
                           + hrec(0, REQ) + hrec(1, RESP))
open("h1/upgrade", "wb").write(hrec(0, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                       b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
                               + hrec(1, b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                                      b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                               + hrec(0, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"))
open("h1/close", "wb").write(hrec(0, b"HEAD / HTTP/1.0\r\n\r\nGET /x HTTP/1.0\r\n\r\n")
                             + hrec(1, b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody"))
open("h1/tunnel", "wb").write(hrec(0, b"CONNECT example:80 HTTP/1.1\r\nHost: example:80\r\n\r\n")
                              + hrec(1, b"HTTP/1.1 200 Connection established\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                              + hrec(0, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
                                     b"\x00\x00\x03\x01\x05\x00\x00\x00\x01\x82\x84\x86")
                              + hrec(1, b"\x00\x00\x01\x01\x04\x00\x00\x00\x01\x88\x00\x00\x02\x00\x01\x00\x00\x00\x01hi"))
open("h1/lenient", "wb").write(hrec(0, b"OPTIONS\r\nHost: h\r\n\r\nCCM_POST / HTTP/1.1\r\nHost: h\r\n\r\nGET /x HTTP/1.\r\n\r\n")
                               + hrec(1, b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n" * 3))
