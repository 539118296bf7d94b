#!/usr/bin/python3
"""Writes the seed corpora of the fuzzers from headers NumPy itself writes.

corpus/npy_header/: .npy headers (format 1.0, 2.0, 3.0) for every dtype shmarray maps, several
shapes, both orders, plus a few hand-written variants NumPy accepts (key order, spacing).
corpus/attach/: whole segments as shmarray lays them out: the .npy bytes NumPy writes for an array,
padded to 64 bytes, then the 64-byte shmarray trailer; also plain .npy files (no trailer) and an
unpublished one (byte 0 still zero).

Run: /usr/bin/python3 fuzz/make_corpus.py   (needs NumPy; rewrites both directories)
"""
import hashlib
import io
import os
import shutil
import struct

import numpy as np
from numpy.lib import format as npformat

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = ["?", "i1", "u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8", "<c8", "<c16"]
SHAPES = [(), (0,), (1,), (5,), (2, 3), (3, 0, 2), (2, 2, 2, 2), (1,) * 32]


def npy_bytes(arr, version):
    buf = io.BytesIO()
    npformat.write_array(buf, arr, version=version, allow_pickle=False)
    return buf.getvalue()


def header_only(arr, version):
    buf = io.BytesIO()
    d = npformat.header_data_from_array_1_0(arr)
    if version == (1, 0):
        npformat.write_array_header_1_0(buf, d)
    else:
        npformat.write_array_header_2_0(buf, d)
    raw = buf.getvalue()
    if version == (3, 0):  # same layout as 2.0, UTF-8 allowed in the dict
        raw = raw[:6] + b"\x03\x00" + raw[8:]
    return raw


def trailer(data_offset, data_bytes, elem_size):
    # shmarray's control block: magic, version, flags, creator pid, start time, elem size,
    # type hash (only checked for |V types), data offset, data bytes. Native (little) endian.
    return struct.pack("<8sIIQQQQQQ", b"SHMARRAY", 1, 0, 1, 0, elem_size, 0, data_offset,
                       data_bytes)


def segment(arr):
    raw = npy_bytes(arr, (1, 0))
    off = raw.index(b"\n") + 1
    end = len(raw)
    pad = (-end) % 64
    return raw + b"\0" * pad + trailer(off, arr.nbytes, arr.dtype.itemsize)


def write(dirname, name, data):
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)


def main():
    hdir = os.path.join(HERE, "corpus", "npy_header")
    adir = os.path.join(HERE, "corpus", "attach")
    for d in (hdir, adir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    rng = np.random.default_rng(7)
    for dt in DTYPES:
        for i, shape in enumerate(SHAPES):
            for order in ("C", "F"):
                arr = np.zeros(shape, dtype=dt, order=order)
                tag = f"{np.dtype(dt).str.replace('|', '').replace('<', '')}_{i}_{order}"
                for ver in ((1, 0), (2, 0), (3, 0)):
                    if ver != (1, 0) and (order == "F" or dt not in ("<f8", "u1")):
                        continue
                    write(hdir, f"{tag}_v{ver[0]}", header_only(arr, ver))
                if order == "F" and len(shape) < 2:
                    continue
                if arr.size <= 64:
                    arr = rng.integers(0, 3, size=shape).astype(dt).copy(order=order)
                    write(adir, f"{tag}_seg", segment(arr))
                    if i in (2, 4):
                        write(adir, f"{tag}_npy", npy_bytes(arr, (1, 0)))
    # Hand-written headers NumPy also accepts: other key orders, no trailing comma, Python 2 longs;
    # descr spellings it reads (issue 13: no byte order, type codes and names, datetime units), and
    # a few it refuses ('<f3', '6l').
    for j, d in enumerate([
        b"{'shape': (3, 4), 'fortran_order': False, 'descr': '<f8'}",
        b"{ 'descr' : '<f8' , 'fortran_order' : True , 'shape' : ( 2 , ) , }",
        b"{'descr': '<i8', 'fortran_order': False, 'shape': (2L, 3L), }",
        b'{"descr": "|u1", "fortran_order": False, "shape": (7,)}',
        b"{'descr': 'f8', 'fortran_order': False, 'shape': (3,), }",
        b"{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }",
        b"{'descr': 'b', 'fortran_order': False, 'shape': (3,), }",
        b"{'descr': '>M8[25ns]', 'fortran_order': False, 'shape': (3,), }",
        b"{'descr': 'datetime64[D]', 'fortran_order': False, 'shape': (3,), }",
        b"{'descr': 'f 08', 'fortran_order': False, 'shape': (3,), }",
        b"{'descr': '\x07', 'fortran_order': False, 'shape': (3,), }",
        b"{'descr': '<f3', 'fortran_order': False, 'shape': (3,), }",
        b"{'descr': '<f8', 'fortran_order': False, 'shape': (6l,), }",
    ]):
        d = d + b" " * ((-(10 + len(d) + 1)) % 64) + b"\n"
        write(hdir, f"variant_{j}", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d)
    # A 3.0 header whose descr spells a unit in UTF-8 ('μs'), and one longer than max_header_size.
    d = "{'descr': '<M8[\u03bcs]', 'fortran_order': False, 'shape': (3,), }".encode() + b" " * 52
    write(hdir, "variant_utf8", b"\x93NUMPY\x03\x00" + struct.pack("<I", len(d) + 1) + d + b"\n")
    d = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }".ljust(10005) + b"\n"
    write(hdir, "variant_long", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d)
    # An unpublished segment (byte 0 still zero) and a 2.0 header over real data.
    seg = bytearray(segment(np.arange(6, dtype="<f8")))
    seg[0] = 0
    write(adir, "unpublished", bytes(seg))
    write(adir, "v2_npy", npy_bytes(np.arange(12, dtype="<i4").reshape(3, 4), (2, 0)))
    names = sorted(os.listdir(hdir)) + sorted(os.listdir(adir))
    digest = hashlib.sha256(b"".join(n.encode() for n in names)).hexdigest()[:12]
    print(f"npy_header: {len(os.listdir(hdir))} seeds, attach: {len(os.listdir(adir))} seeds "
          f"(names digest {digest})")


if __name__ == "__main__":
    main()
