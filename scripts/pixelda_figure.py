#!/usr/bin/python3
"""docs/img/pixelda_fmnist2fmnistm.png: PixelDA's source images and their
transferred versions through training, side by side, from a run's
report_images/iter_<N>/grid_pixelda_*.png (8-bit PNGs as uda writes them).
Pure Python (zlib, struct): no imaging package needed.

Usage: /usr/bin/python3 scripts/pixelda_figure.py RUN_DIR OUT.png
"""
import os
import re
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, w, h, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and body[12] == 0, "8-bit, non-interlaced only"
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
    raw, stride, rows, prev = zlib.decompress(idat), w * channels, [], bytearray(w * channels)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b, c = prev[x], prev[x - channels] if x >= channels else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i * channels:(i + 1) * channels]) for i in range(w)])
        prev = line
    # as RGB
    return [[(p * 3)[:3] if len(p) < 3 else p[:3] for p in r] for r in rows]


def write_png(path, rows):
    h, w = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(v for p in r for v in p) for r in rows)
    chunk = lambda k, b: struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    run, out = sys.argv[1], sys.argv[2]
    base = os.path.join(run, "report_images")
    iters = sorted(int(m.group(1)) for d in os.listdir(base) if (m := re.match(r"iter_(\d+)$", d)))
    panels = [read_png(os.path.join(base, "iter_%d" % iters[-1], "grid_pixelda_source.png"))]
    panels += [read_png(os.path.join(base, "iter_%d" % i, "grid_pixelda_transferred.png")) for i in iters]
    gap, h = 6, max(len(p) for p in panels)
    rows = []
    for y in range(h):
        row = []
        for k, p in enumerate(panels):
            row += p[y] if y < len(p) else [(255, 255, 255)] * len(p[0])
            if k + 1 < len(panels):
                row += [(255, 255, 255)] * gap
        rows.append(row)
    write_png(out, rows)
    print("panels: source, then transferred at iterations", iters)


if __name__ == "__main__":
    main()
