#!/usr/bin/env python3
"""The HTML report in headless Chromium: it renders the tables and non-empty SVG charts.

Renders a report from synthetic events with stats_render, takes a screenshot and the DOM,
and checks both: the DOM holds the four sections and three charts with data, the PNG is a
real page whose chart strokes are present in the pixels. Skips (77) without chromium."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and inter == 0, (depth, ctype, inter)
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    chromium = shutil.which("chromium")
    if not chromium:
        print("chromium is not installed (apt-get install chromium): skipped")
        return 77
    render = os.path.join(os.environ["RR_BUILD_ROOT"], "tests", "integ", "stats_render")
    tmp = tempfile.mkdtemp(prefix="rrhtml.")
    try:
        ev = os.path.join(tmp, "events.jsonl")
        t0 = 1795734700
        with open(ev, "w") as f:
            for t in range(40):
                for i in range(20 + t):
                    ts = t0 + t + i / 80.0
                    f.write(json.dumps({"m": "GET", "n": "/", "rt": 2 + i * 0.3, "len": 100,
                                        "err": None, "t": ts}) + "\n")
                    f.write(json.dumps({"m": "POST", "n": "/api/items?id=[id]", "rt": 40 + i * 3,
                                        "len": 50, "t": ts,
                                        "err": None if i % 7 else "HTTPError('500 Server Error')"}) + "\n")
                f.write(json.dumps({"tick": t0 + t + 1, "users": min(t + 1, 10)}) + "\n")
        subprocess.run([render, ev, tmp, str(t0)], check=True, timeout=30)
        html = os.path.join(tmp, "report.html")
        common = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--user-data-dir=" + os.path.join(tmp, "prof")]
        dom = subprocess.run(common + ["--dump-dom", "file://" + html], capture_output=True,
                             text=True, timeout=90).stdout
        for want in ("<h1>Locust Test Report</h1>", 'id="requests"', 'id="percentiles"',
                     'id="failures"', 'id="chart-rps"', 'id="chart-rt"', 'id="chart-users"',
                     "HTTPError('500 Server Error')", "/api/items?id=[id]"):
            assert want in dom, "DOM lacks " + want
        assert dom.count("<polyline") == 5, dom.count("<polyline")
        for pts in dom.split('points="')[1:]:
            assert len(pts.split('"')[0].split()) >= 40, "a chart without its samples"
        png = os.path.join(tmp, "shot.png")
        subprocess.run(common + ["--screenshot=" + png, "--window-size=1280,2000",
                                 "file://" + html], capture_output=True, timeout=90)
        assert os.path.getsize(png) > 20000, "screenshot too small"
        w, h, bpp, rows = png_pixels(png)
        colours = {"rps": (0x00, 0xCA, 0x5A), "p95": (0xFF, 0x9F, 0x00), "users": (0x0B, 0x76, 0xBA)}
        for name, rgb in colours.items():
            hits = 0
            for row in rows:
                for x in range(0, w * bpp, bpp):
                    if abs(row[x] - rgb[0]) < 40 and abs(row[x + 1] - rgb[1]) < 40 and abs(row[x + 2] - rgb[2]) < 40:
                        hits += 1
            assert hits > 300, "the %s line is not drawn (%d pixels)" % (name, hits)
        print("ok: DOM sections and charts present, %dx%d screenshot with all chart lines" % (w, h))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
