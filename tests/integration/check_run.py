#!/usr/bin/env python3
"""Check a pflow output file the way users open it: h5py for the raw layout,
xarray (engine h5netcdf) for every group, as ArviZ's from_netcdf does.

usage: check_run.py FILE --n-iter N --particles P --dim D --traj-every T
                    --diag-every E [--status S] [--final name=value ...]
                    [--partial]
--partial: the run was killed; check only that the flushed part is sound.
Exit status 0 when every check passes; prints what failed otherwise.
"""
import argparse
import sys

import h5py
import numpy as np
import xarray as xr


def fail(msg):
    print("check_run: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--n-iter", type=int, required=True)
    ap.add_argument("--particles", type=int, required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--traj-every", type=int, required=True)
    ap.add_argument("--diag-every", type=int, required=True)
    ap.add_argument("--status", default="completed")
    ap.add_argument("--final", nargs="*", default=[])
    ap.add_argument("--partial", action="store_true")
    a = ap.parse_args()

    with h5py.File(a.file, "r") as f:
        attrs = f.attrs
        if attrs["inference_library"] != "pflow":
            fail("inference_library is %r" % attrs["inference_library"])
        status = attrs["status"]
        status = status.decode() if isinstance(status, bytes) else status
        if status != a.status:
            fail("status %r, expected %r" % (status, a.status))
        for key in ("created_at", "config", "seed", "threads", "simd_isa"):
            if key not in attrs:
                fail("root attribute %s missing" % key)
        groups = [g for g in f.keys() if isinstance(f[g], h5py.Group)]
        traj_it = f["trajectory/iteration"][:]
        diag_it = f["diagnostics/iteration"][:]
        tx = f["trajectory/x"]
        if tx.shape[0] != 1 or tx.shape[2:] != (a.particles, a.dim):
            fail("trajectory/x shape %s" % (tx.shape,))
        if tx.shape[1] != len(traj_it):
            fail("trajectory/x has %d iterations, coordinate %d"
                 % (tx.shape[1], len(traj_it)))
        if not np.all(np.isfinite(tx[...])):
            fail("trajectory/x has non-finite values")
        want_traj = np.arange(0, a.n_iter + 1, a.traj_every)
        want_diag = list(range(0, a.n_iter + 1, a.diag_every))
        if want_diag[-1] != a.n_iter:
            want_diag.append(a.n_iter)
        if a.partial:
            if len(traj_it) < 1 or not np.array_equal(
                    traj_it, want_traj[:len(traj_it)]):
                fail("partial trajectory coordinate %s" % traj_it[:10])
            if not np.array_equal(diag_it, np.array(want_diag[:len(diag_it)])):
                fail("partial diagnostics coordinate %s" % diag_it[:10])
        else:
            if not np.array_equal(traj_it, want_traj):
                fail("trajectory iterations %s..." % traj_it[:5])
            if not np.array_equal(diag_it, np.array(want_diag)):
                fail("diagnostics iterations %s..." % diag_it[:5])
            px = f["posterior/x"]
            if "warmup" in f["posterior"].attrs:
                # chain samplers: (chain = particle, draw, dim) after warm-up,
                # every thin-th iteration, the last draw = the final state
                w = int(f["posterior"].attrs["warmup"])
                th = int(f["posterior"].attrs["thin"])
                want = np.arange(w + th, a.n_iter + 1, th)
                if px.shape != (a.particles, len(want), a.dim):
                    fail("posterior/x shape %s" % (px.shape,))
                if not np.array_equal(f["posterior/draw"][:], want):
                    fail("posterior draws %s..." % f["posterior/draw"][:5])
                last = px[:, -1, :]
                lp_shape = (a.particles, len(want))
                for st in ("acceptance_rate", "step_size", "diverging"):
                    if f["sample_stats/" + st].shape != lp_shape:
                        fail("sample_stats/%s shape" % st)
            else:
                if px.shape != (1, a.particles, a.dim):
                    fail("posterior/x shape %s" % (px.shape,))
                last = px[0]
                lp_shape = (1, a.particles)
            if a.n_iter % a.traj_every == 0 and not np.array_equal(
                    last, tx[0, -1]):
                fail("posterior/x differs from the last trajectory snapshot")
            if f["sample_stats/lp"].shape != lp_shape:
                fail("sample_stats/lp shape")
            for kv in a.final:
                name, value = kv.split("=")
                got = f["diagnostics/" + name][0, -1]
                if abs(got - float(value)) > 1e-5 * max(1.0, abs(got)):
                    fail("diagnostics/%s last value %r, run printed %s"
                         % (name, got, value))

    for g in groups:
        ds = xr.open_dataset(a.file, group=g, engine="h5netcdf")
        for v in ds.data_vars:
            for dim in ds[v].dims:
                if dim not in ds.coords:
                    fail("%s/%s: dimension %s has no coordinate" % (g, v, dim))
        if g == "trajectory":
            if ds["x"].dims != ("chain", "iteration", "particle", "x_dim_0"):
                fail("trajectory dims %s" % (ds["x"].dims,))
            if not np.array_equal(ds["iteration"].values, traj_it):
                fail("xarray trajectory iteration coordinate differs")
        if g == "posterior" and ds["x"].dims != ("chain", "draw", "x_dim_0"):
            fail("posterior dims %s" % (ds["x"].dims,))
        if g == "diagnostics":
            for v in ds.data_vars:
                if ds[v].dims != ("chain", "iteration"):
                    fail("diagnostics/%s dims %s" % (v, ds[v].dims))
        ds.close()
    print("check_run: ok (%d groups)" % len(groups))


if __name__ == "__main__":
    main()
