#!/usr/bin/env python3
"""Compare two pflow outputs bit for bit, except what a resume may change.

usage: compare_resumed.py A.h5 B.h5

Every group, dataset and attribute must exist in both files with identical
bytes (NaNs compare by bit pattern), except:
  - attributes created_at (every group), wall_time and comm_seconds
    (root): timestamps and timings;
  - dataset /diagnostics/wall_time: elapsed seconds per record;
  - attributes REFERENCE_LIST / DIMENSION_LIST: HDF5 object references
    (file addresses), which depend on the allocation history; the
    dimensions they encode are compared through _Netcdf4Coordinates and the
    names of the attached scales instead.
Exit 0 when equal, 1 with the differences listed otherwise.
"""
import sys

import h5py
import numpy as np

SKIP_ATTRS = {"created_at", "wall_time", "comm_seconds", "REFERENCE_LIST",
              "DIMENSION_LIST"}
SKIP_DATA = {"/diagnostics/wall_time"}


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "O":
        return all(x == y for x, y in zip(a.ravel(), b.ravel()))
    return a.tobytes() == b.tobytes()


def walk(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__("/" + name, obj))
    out["/"] = f
    return out


def main():
    fa, fb = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
    oa, ob = walk(fa), walk(fb)
    diffs = []
    for name in sorted(set(oa) | set(ob)):
        if name not in oa or name not in ob:
            diffs.append(f"{name}: only in {'B' if name in ob else 'A'}")
            continue
        a, b = oa[name], ob[name]
        ka = set(a.attrs) - SKIP_ATTRS
        kb = set(b.attrs) - SKIP_ATTRS
        for k in sorted(ka ^ kb):
            diffs.append(f"{name}@{k}: only in {'A' if k in ka else 'B'}")
        for k in sorted(ka & kb):
            if not same(a.attrs[k], b.attrs[k]):
                diffs.append(f"{name}@{k}: {a.attrs[k]!r} != {b.attrs[k]!r}")
        if isinstance(a, h5py.Dataset):
            if name not in SKIP_DATA and not same(a[()], b[()]):
                diffs.append(f"{name}: data differ (shapes {a.shape}, "
                             f"{b.shape})")
            sa = [[s.name for s in d.values()] for d in a.dims]
            sb = [[s.name for s in d.values()] for d in b.dims]
            if sa != sb:
                diffs.append(f"{name}: dimension scales {sa} != {sb}")
    for d in diffs[:40]:
        print(d)
    if diffs:
        print(f"{len(diffs)} differences")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
