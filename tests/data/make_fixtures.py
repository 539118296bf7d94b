#!/usr/bin/python3
"""Writes the .npy fixtures the header-parser tests read. Run once with Debian's python3-numpy
(`/usr/bin/python3 tests/data/make_fixtures.py`); the files are committed. Each file's values are
arange(n) cast to the dtype, so the tests can check the data too."""
import os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
dtypes = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float32", "float64", "complex64", "complex128"]
shapes = {"0d": (), "1d": (7,), "3d": (2, 3, 4)}
for dt in dtypes:
    for tag, shape in shapes.items():
        n = int(np.prod(shape)) if shape else 1
        a = (np.arange(n) % 2 == 1) if dt == "bool" else np.arange(n).astype(dt)
        a = a.reshape(shape)
        np.save(os.path.join(here, f"{dt}_{tag}.npy"), a)
# Fortran order, and the other format versions NumPy writes.
f = np.asfortranarray(np.arange(24, dtype="float64").reshape(2, 3, 4))
np.save(os.path.join(here, "float64_3d_fortran.npy"), f)
from numpy.lib import format as fmt
for version in [(2, 0), (3, 0)]:
    with open(os.path.join(here, f"float64_3d_v{version[0]}.npy"), "wb") as fh:
        fmt.write_array(fh, np.arange(24, dtype="float64").reshape(2, 3, 4), version=version)
