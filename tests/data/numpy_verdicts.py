"""NumPy's verdicts on .npy descrs and headers, for tests/test_numpy_interop.cpp (issue 13).

Usage: /usr/bin/python3 numpy_verdicts.py descrs
  One line per candidate descr string:  HEX  DTYPE  V1  V3
    HEX    the descr's bytes (UTF-8), hex
    DTYPE  np.dtype(descr): its dtype.str, '-' when NumPy refuses it, or a class of what NumPy
           accepts but shmarray refuses on purpose: 'struct' (a structured or subarray dtype),
           'grammar' (comma/subarray syntax read as a plain dtype: '1f8', 'f8,'), 'divisor'
           ('M8[ns/2]'), 'wraps' (an item size NumPy keeps in a C int and wraps around)
    V1/V3  the verdict of NumPy's own header reader (format._read_array_header) on a format 1.0 /
           3.0 header holding the descr, same notation; 'x' when the descr cannot be written in
           such a header without escapes (quotes, backslashes, NUL, line ends).
Usage: /usr/bin/python3 numpy_verdicts.py headers MAJOR:HEX...
  For each header text (after the length field, hex) of format MAJOR.0, np.load's verdict on the
  file it starts (followed by 4096 zero bytes of data): 'OK <dtype.str> (<shape>)' or 'ERR'.
"""
import io
import re
import struct
import sys
import warnings

import numpy as np
from numpy.lib import format as npformat

warnings.simplefilter("ignore")


def dtype_verdict(c):
    try:
        d = np.dtype(c)
    except Exception:
        return "-"
    if d.names is not None or d.subdtype is not None:
        return "struct"
    if "," in c or "(" in c or (c[:1].isdigit()):
        return "grammar"
    if "/" in c:
        return "divisor"
    big = [int(x) for x in re.findall(r"\d+", c)]
    if d.itemsize < 0 or "-" in d.str or any(x > 2147483647 for x in big) or (
            d.kind == "U" and any(x > 536870911 for x in big)):
        return "wraps"
    return d.str


def header(major, text):
    n = len(text)
    return (b"\x93NUMPY" + bytes([major, 0]) +
            (struct.pack("<H", n) if major == 1 else struct.pack("<I", n)) + text)


def header_verdict(major, raw):
    if any(b in (0, 0x0a, 0x0d, 0x27, 0x5c) for b in raw):
        return "x"
    text = b"{'descr': '" + raw + b"', 'fortran_order': False, 'shape': (0,), }\n"
    try:
        fp = io.BytesIO(header(major, text)[8:])
        npformat._read_array_header(fp, (major, 0))
    except Exception:
        return "-"
    # The reader took it: classify the text it decoded (latin-1 before format 3.0), as np.dtype's.
    return dtype_verdict(raw.decode("utf-8" if major == 3 else "latin-1"))


def candidates():
    orders = ["", "<", ">", "|", "="]
    codes = [chr(i) for i in range(128)] + ["é", "μ", "８"]
    sizes = [""] + [str(i) for i in range(34)] + [
        "64", "128", "256", "01", "08", "004", " 8", "  8", "\t8", "+8", "-0", "-5", " +8", "+ 8",
        "8 ", "8x", "0x8", "1_0", "2147483647", "2147483648", "536870911", "536870912",
        "4294967296", "99999999999999999999"]
    for o in orders:
        for k in codes:
            for z in sizes:
                yield o + k + z
    bases = ["M8", "m8", "datetime64", "timedelta64", "M", "m", "M08", "M+8", "M 8", "M4"]
    units = ["", "[ns]", "[25ns]", "[generic]", "[2generic]", "[]", "[B]", "[μs]", "[µs]",
             "[ ns]", "[ 5s]", "[+5s]", "[-5s]", "[5 s]", "[0ns]", "[00ns]", "[2147483647Y]",
             "[2147483648ns]", "[ns/2]", "[s/1000]", "[ns", "ns]", "[ns][ns]", "[NS]", "[ns]x",
             "[10Y]", "[3M]", "8", " [ns]"] + ["[%s]" % u for u in (
                 "Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ps", "fs", "as")]
    for o in orders:
        for b in bases:
            for u in units:
                yield o + b + u
    names = sorted(k for k in np.sctypeDict if isinstance(k, str)) + [
        "str", "bytes", "int", "float", "complex", "bool", "object", "Float64", "Int32",
        "string", "float64 ", " float64", "float96", "complex192", "int128", "float80"]
    for o in orders:
        for n in names:
            yield o + n
    yield from ["", " ", "i4,f8", "(2,)f8", "2f8", "1f8", "f8,", "()f8", "0f8", "(2,3)f8",
                "f8, i4", "<f8<", "<<f8", "f8<"]


def main():
    if sys.argv[1] == "descrs":
        seen = set()
        out = []
        for c in candidates():
            if c in seen:
                continue
            seen.add(c)
            raw = c.encode("utf-8")
            out.append("%s %s %s %s" % (raw.hex() or "empty", dtype_verdict(c),
                                        header_verdict(1, raw), header_verdict(3, raw)))
        sys.stdout.write("\n".join(out) + "\n")
    elif sys.argv[1] == "headers":
        for arg in sys.argv[2:]:
            major, hexed = arg.split(":")
            text = bytes.fromhex(hexed)
            try:
                a = np.load(io.BytesIO(header(int(major), text) + b"\0" * 4096))
                print("OK", a.dtype.str, "(" + ",".join(str(x) for x in a.shape) + ")")
            except Exception:
                print("ERR")


main()
