"""A tiny NumPy helper for shmarray's change notification: reads a segment's generation counter
and takes a whole snapshot of its array, the way shared_array::snapshot() does (a seqlock read).

Where the counter is (format version 2): the .npy header gives the data offset and size; the
64-byte trailer starts at align_up(data end, 64) (magic b"SHMARRAY", uint32 version at +8); the
sync block follows the trailer, and its first 8 bytes (native byte order) hold
2 * generation, + 1 while a writer is in the middle of an update.

    python3 shm_generation.py <segment name>          prints "generation N" and the array's sum
Exit codes: 0 done, 1 no generation counter (an older or plain .npy segment), 77 no NumPy.
"""
import mmap
import struct
import sys
import time

try:
    import numpy as np
except ImportError:
    print("python: NumPy is not installed for " + sys.executable, file=sys.stderr)
    sys.exit(77)


class Segment:
    """A read-only view of /dev/shm/<name>: the array (zero-copy) and its generation counter."""

    def __init__(self, name):
        path = "/dev/shm/" + name
        self.array = np.load(path, mmap_mode="r")  # the data only: NumPy maps up to its end
        with open(path, "rb") as f:  # the whole segment, trailer and sync block included
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        data_end = self.array.offset + self.array.nbytes
        trailer = (data_end + 63) // 64 * 64
        magic = self._map[trailer:trailer + 8]
        version = struct.unpack_from("=I", self._map, trailer + 8)[0] if len(magic) == 8 else 0
        if magic != b"SHMARRAY" or version < 2:
            raise LookupError(f"'{name}' has no generation counter (not a version-2 segment)")
        self._seq_at = trailer + 64

    def _seq(self):
        return struct.unpack_from("=Q", self._map, self._seq_at)[0]

    def generation(self):
        return self._seq() >> 1

    def snapshot(self, timeout=10.0):
        """(generation, a private copy of the array) taken while no update ran; polls (Python has
        no futex), so give it a timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s1 = self._seq()
            if s1 & 1:  # an update is running
                time.sleep(0.0005)
                continue
            copy = np.array(self.array)
            if self._seq() == s1:
                return s1 >> 1, copy
        raise TimeoutError("no consistent snapshot within the timeout")


if __name__ == "__main__":
    try:
        seg = Segment(sys.argv[1])
    except LookupError as e:
        print("python:", e, file=sys.stderr)
        sys.exit(1)
    g, a = seg.snapshot()
    print(f"python: generation {g}, snapshot {a.dtype} {a.shape}, sum {a.sum():g}")
