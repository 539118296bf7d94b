"""Partner of numpy_interop.cpp: opens the C++ program's segment as a NumPy array -- the segment is
an .npy file, so np.load(..., mmap_mode='r+') is a zero-copy view of the same memory -- checks it,
and changes it in place for the C++ side to see.

    python3 numpy_interop.py <segment name>
Exit codes: 0 done, 1 unexpected contents, 77 NumPy is not installed.
"""
import sys

try:
    import numpy as np
except ImportError:
    print("python: NumPy is not installed for " + sys.executable, file=sys.stderr)
    sys.exit(77)

name = sys.argv[1]
a = np.load("/dev/shm/" + name, mmap_mode="r+")
rows, cols = a.shape
expected = np.arange(rows)[:, None] * 10 + np.arange(cols)[None, :]
if a.dtype != np.float64 or not np.array_equal(a, expected):
    print("python: unexpected contents:", a.dtype, a, file=sys.stderr)
    sys.exit(1)
print(f"python: np.load('/dev/shm/{name}', mmap_mode='r+') -> {a.dtype} {a.shape}, sum {a.sum():g}")
a *= -1           # in place: writes go straight to the shared memory
a[0, 0] = 12345.0
a.flush()
print("python: negated every element and set a[0, 0] = 12345")
