#!/usr/bin/python3
"""Check files written by tests/test_h5out.c where users open them: h5py,
xarray with engine="h5netcdf" (group by group, as ArviZ's from_netcdf does)
and, when installed, netCDF-C through netCDF4 / engine="netcdf4".

usage: check_h5out.py MODE FILE [ARGS...]
  noattr FILE NAME      the root has no attribute NAME
  layout FILE           the layout test file (keep in sync with write_layout)
  chunks FILE           chunk shapes of the chunking test file
  attrs FILE            replaced attributes
  compress FILE         shuffle+deflate settings and round trip
  crash PATH:N ...      files of SIGKILLed writers: >= N records, all correct
Exit status 0 when every check passes; failures are listed on stderr.
"""
import datetime
import sys
import warnings

import h5py
import numpy as np

warnings.simplefilter("ignore")

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
    return cond


def finish(mode):
    if FAILS:
        for f in FAILS:
            print("check_h5out %s: FAIL %s" % (mode, f), file=sys.stderr)
        sys.exit(1)
    print("check_h5out %s: ok" % mode)


def groups(f):
    """Every group path in the file (ArviZ opens each one)."""
    out = []
    f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Group) else None)
    return out


TRACKED_INDEXED = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED


def is_vlen_utf8_scalar(obj, name):
    a = obj.attrs.get_id(name)
    info = h5py.check_string_dtype(a.dtype)
    return a.shape == () and info is not None and info.length is None and info.encoding == "utf-8"


def check_netcdf_rules(f):
    """Dimension scales, _Netcdf4Dimid, _Netcdf4Coordinates, creation order."""
    # A reopened file reports the root group's settings on the root, not
    # on its fcpl.
    root = f["/"].id.get_create_plist()
    check(root.get_link_creation_order() == TRACKED_INDEXED, "root link creation order")
    check(root.get_attr_creation_order() == TRACKED_INDEXED, "root attr creation order")
    fcpl = f.id.get_create_plist()
    check(fcpl.get_version()[0] == 0, "superblock version %r (want 0)" % (fcpl.get_version(),))
    dimids = {}
    for g in [""] + groups(f):
        grp = f[g] if g else f
        if g:
            gcpl = grp.id.get_create_plist()
            check(gcpl.get_link_creation_order() == TRACKED_INDEXED, "%s link order" % g)
            check(gcpl.get_attr_creation_order() == TRACKED_INDEXED, "%s attr order" % g)
            for k in ("created_at", "inference_library", "inference_library_version"):
                check(k in grp.attrs and is_vlen_utf8_scalar(grp, k), "%s lacks %s" % (g, k))
            check(grp.attrs.get("inference_library") == "pflow", "%s inference_library" % g)
            ts = grp.attrs.get("created_at", "")
            try:
                t = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
                check(t.tzinfo is not None, "%s created_at not UTC" % g)
            except ValueError:
                check(False, "%s created_at %r not ISO 8601" % (g, ts))
        for name, ds in grp.items():
            if not isinstance(ds, h5py.Dataset):
                continue
            path = ds.name
            check(ds.id.get_create_plist().get_attr_creation_order() == TRACKED_INDEXED,
                  "%s attr order" % path)
            if h5py.h5ds.is_scale(ds.id):
                a = ds.attrs.get_id("_Netcdf4Dimid") if "_Netcdf4Dimid" in ds.attrs else None
                if check(a is not None, "%s lacks _Netcdf4Dimid" % path):
                    check(a.shape == () and a.dtype == np.int32, "%s _Netcdf4Dimid type" % path)
                    dimids[path] = int(ds.attrs["_Netcdf4Dimid"])
                check(ds.dtype == np.int64 and ds.ndim == 1, "%s coordinate not 1-D int64" % path)
                check(h5py.h5ds.get_scale_name(ds.id) == name.encode(), "%s scale name" % path)
        for name, ds in grp.items():
            if not isinstance(ds, h5py.Dataset) or h5py.h5ds.is_scale(ds.id):
                continue
            path = ds.name
            for ax in range(ds.ndim):
                check(len(ds.dims[ax]) == 1, "%s axis %d has %d scales" % (path, ax, len(ds.dims[ax])))
            if ds.ndim:
                coords = ds.attrs.get("_Netcdf4Coordinates")
                if check(coords is not None, "%s lacks _Netcdf4Coordinates" % path):
                    want = [dimids.get(ds.dims[ax][0].name) for ax in range(ds.ndim)]
                    check(coords.dtype == np.int32 and list(coords) == want,
                          "%s _Netcdf4Coordinates %r != %r" % (path, list(coords), want))
    check(len(set(dimids.values())) == len(dimids), "dimension ids not distinct: %r" % dimids)
    return dimids


# ------------------------------------------------------------------ layout
NC, ND, NX, NP, NREC, LATE = 2, 5, 3, 4, 7, 3


def expected_layout():
    c, d, k = np.meshgrid(np.arange(NC), np.arange(ND), np.arange(NX), indexing="ij")
    post_x = c * 100 + d * 10 + k + 0.25
    c2, d2 = np.meshgrid(np.arange(NC), np.arange(ND), indexing="ij")
    c4, r4, p4, k4 = np.meshgrid(np.arange(NC), np.arange(NREC), np.arange(NP),
                                 np.arange(NX), indexing="ij")
    cr, rr = np.meshgrid(np.arange(NC), np.arange(NREC), indexing="ij")
    energy = 2.0 * cr + rr
    energy[:, :LATE] = np.nan
    it = 10 * np.arange(NREC)
    return {
        "posterior": ({"chain": NC, "draw": ND, "x_dim_0": NX}, {"x": post_x}),
        "sample_stats": ({"chain": NC, "draw": ND}, {
            "lp": -(c2 * 10 + d2) - 0.5,
            "diverging": ((c2 + d2) % 2).astype(np.int8),
            "n_steps": (c2 * 1000 + d2).astype(np.int64)}),
        "trajectory": ({"chain": NC, "iteration": NREC, "particle": NP, "x_dim_0": NX},
                       {"x": c4 * 1e4 + r4 * 100 + p4 * 10 + k4}),
        "diagnostics": ({"chain": NC, "iteration": NREC},
                        {"ksd": cr + 1.0 / (rr + 1), "energy": energy}),
    }, it


def check_dataset(ds, g, dims, vars_, it, engine):
    where = "%s[%s]" % (g, engine)
    check(dict(ds.sizes) == dims, "%s dims %r != %r" % (where, dict(ds.sizes), dims))
    for dim, n in dims.items():
        if check(dim in ds.coords, "%s lacks coordinate %s" % (where, dim)):
            want = it if dim == "iteration" else np.arange(n)
            check(np.array_equal(ds[dim].values, want), "%s coord %s = %r" % (where, dim, ds[dim].values))
    check(set(ds.data_vars) == set(vars_), "%s vars %r" % (where, sorted(ds.data_vars)))
    for name, want in vars_.items():
        if name not in ds:
            continue
        got = ds[name].values
        check(got.dtype == want.dtype, "%s %s dtype %s != %s" % (where, name, got.dtype, want.dtype))
        check(np.array_equal(got, want, equal_nan=want.dtype.kind == "f"),
              "%s %s values differ:\n%r\n%r" % (where, name, got, want))
    check(ds.attrs.get("inference_library") == "pflow", "%s group attrs %r" % (where, ds.attrs))


def mode_layout(path):
    import xarray as xr

    with h5py.File(path, "r") as f:
        check_netcdf_rules(f)
        check(set(groups(f)) == {"posterior", "sample_stats", "trajectory", "diagnostics"},
              "groups %r" % groups(f))
        a = f.attrs
        check(a.get("status") == "complete", "status %r" % a.get("status"))
        check(is_vlen_utf8_scalar(f, "status"), "status not a scalar UTF-8 string")
        check(a.get("seed") == 42 and a.get_id("seed").dtype == np.int64, "seed %r" % a.get("seed"))
        check(a.get("step_size") == 0.125 and a.get_id("step_size").dtype == np.float64, "step_size")
        check(a.get("config") == "seed: 42\nsampler:\n  n: 5\n", "config %r" % a.get("config"))
        check(a.get("note") == "\u00b5-test \u2713", "UTF-8 note %r" % a.get("note"))
        check(a.get("inference_library") == "pflow", "root inference_library")
        check(f["posterior/x"].attrs.get("units") == "m", "posterior/x units")
        check(f["trajectory/iteration"].maxshape == (None,), "iteration not unlimited")
        check(f["trajectory/x"].maxshape == (NC, None, NP, NX), "trajectory/x maxshape")
        check(f["trajectory/x"].chunks is not None, "trajectory/x not chunked")
        check(f["posterior/x"].fillvalue != f["posterior/x"].fillvalue, "float fill is not NaN")

    want, it = expected_layout()
    for g, (dims, vars_) in want.items():
        with xr.open_dataset(path, group=g, engine="h5netcdf") as ds:
            check_dataset(ds, g, dims, vars_, it, "h5netcdf")
    with xr.open_dataset(path, group="posterior", engine="h5netcdf") as ds:
        check(ds["x"].attrs.get("units") == "m", "x units via xarray")
    # netCDF-C, when the Debian package is there (it is not a pflow dependency).
    try:
        import netCDF4
    except ImportError:
        print("check_h5out: netCDF4 not installed; netCDF-C checks skipped")
    else:
        with netCDF4.Dataset(path) as nc:
            check(nc["trajectory"].dimensions["iteration"].isunlimited(), "netCDF4: iteration limited")
            check(not nc["trajectory"].dimensions["particle"].isunlimited(), "netCDF4: particle unlimited")
            check(nc.getncattr("status") == "complete", "netCDF4 root attr")
            check(nc["trajectory"]["x"].dimensions == ("chain", "iteration", "particle", "x_dim_0"),
                  "netCDF4 x dims %r" % (nc["trajectory"]["x"].dimensions,))
        for g, (dims, vars_) in want.items():
            with xr.open_dataset(path, group=g, engine="netcdf4", mask_and_scale=False) as ds:
                check_dataset(ds, g, dims, vars_, it, "netcdf4")
    finish("layout")


# ------------------------------------------------------------------ chunks
def mode_chunks(path):
    with h5py.File(path, "r") as f:
        check_netcdf_rules(f)
        want = {
            "small/x": (2, 524288 // 192, 4, 3),  # 192-byte records
            "small/loss": (2, 4096),  # 16-byte records: capped at 4096
            "small/iteration": (4096,),
            "big/x": (1, 1, 37500, 2),  # 4.8 MB record split to <= 1 MiB
            "mid/x": (1, 1, 100000, 2),  # 1.6 MB record, one per chunk
        }
        for name, ch in want.items():
            check(f[name].chunks == ch, "%s chunks %r != %r" % (name, f[name].chunks, ch))
            check(f[name].compression is None, "%s compressed" % name)
        for g in ("big", "mid"):
            x = f[g + "/x"]
            check(x.shape[1] == 2, "%s/x records %d" % (g, x.shape[1]))
            flat = x[...].reshape(2, -1)
            for r in range(2):
                check(np.array_equal(flat[r], r * 1e6 + np.arange(flat.shape[1])),
                      "%s/x record %d values" % (g, r))
            check(list(f[g + "/iteration"][...]) == [0, 1], "%s iteration" % g)
    finish("chunks")


# ------------------------------------------------------------------- attrs
def mode_attrs(path):
    with h5py.File(path, "r") as f:
        check_netcdf_rules(f)
        check(f.attrs.get("status") == "complete", "status %r" % f.attrs.get("status"))
        check(is_vlen_utf8_scalar(f, "status"), "status type")
        check(f.attrs.get("changes_type") == "now a string", "changes_type %r" % f.attrs.get("changes_type"))
        check(is_vlen_utf8_scalar(f, "changes_type"), "changes_type type")
        check(f.attrs.get("empty") == "", "empty %r" % f.attrs.get("empty"))
        check(f["posterior"].attrs.get("r") == -2.25, "posterior r")
        check(f["posterior"].attrs.get("inference_library_version") == "9.9", "replaced group attr")
        order = list(f.attrs)
        check(order[-1] == "empty" and order.index("status") < order.index("changes_type"),
              "root attribute creation order %r" % order)
    import xarray as xr
    with xr.open_dataset(path, group="posterior", engine="h5netcdf") as ds:
        check(ds.attrs.get("r") == -2.25, "xarray group attr")
    finish("attrs")


# ---------------------------------------------------------------- compress
def mode_compress(path):
    with h5py.File(path, "r") as f:
        check_netcdf_rules(f)
        px = f["posterior/x"]
        check(px.compression == "gzip" and px.compression_opts == 4 and px.shuffle,
              "posterior/x filters %r %r %r" % (px.compression, px.compression_opts, px.shuffle))
        check(np.array_equal(px[...].ravel(), np.arange(8000) % 97), "posterior/x values")
        check(px.id.get_storage_size() < px.nbytes / 4,
              "posterior/x not compressed: %d of %d bytes" % (px.id.get_storage_size(), px.nbytes))
        tx = f["trajectory/x"]
        check(tx.compression == "gzip" and tx.shuffle, "trajectory/x filters")
        check(tx.chunks == (1, 1, 1000, 2), "trajectory/x chunks %r" % (tx.chunks,))
        check(tx.id.get_storage_size() < tx.nbytes / 4, "trajectory/x not compressed")
        raw = f["trajectory/raw"]
        check(raw.compression is None, "trajectory/raw compressed after level 0")
        check(f["trajectory/loss"].compression is None, "small records compressed")
        for r in range(5):
            want = r + (np.arange(2000) % 10)
            check(np.array_equal(tx[0, r].ravel(), want), "trajectory/x record %d" % r)
            check(np.array_equal(raw[0, r].ravel(), want), "trajectory/raw record %d" % r)
        check(np.array_equal(f["trajectory/loss"][0], 0.5 * np.arange(5)), "loss")
    import xarray as xr
    for g in ("posterior", "trajectory"):
        with xr.open_dataset(path, group=g, engine="h5netcdf") as ds:
            ds.load()
    finish("compress")


# ------------------------------------------------------------------- crash
CP, CX, CC = 1000, 3, 2


def crash_x(lo, hi):
    c, r, p, k = np.meshgrid(np.arange(CC), np.arange(lo, hi), np.arange(CP), np.arange(CX),
                             indexing="ij")
    return c * 1e7 + r * 1e3 + p + k * 0.25


def crash_loss(lo, hi):
    r = np.arange(lo, hi)
    return np.stack([0.5 * r, 0.5 * r + 1])


def check_tail(path, name, read, want, axes):
    """Records past the last completed flush (those of the flush the kill
    interrupted): HDF5 1.10 cannot write a flush atomically, so they may be
    unreadable or read as the fill value (NaN); if they read, they must be
    right.  Returns True when they all read back correctly."""
    try:
        got = read()
    except OSError as e:
        print("check_h5out crash: %s: %s: records of the interrupted flush unreadable (%s)"
              % (path, name, e))
        return False
    good = got == want
    fill = np.isnan(got).all(axis=axes, keepdims=True)
    check((good | fill).all(), "%s: %s: wrong values past the last flush" % (path, name))
    return bool(good.all())


def mode_crash(specs):
    """The contract: a file left by SIGKILL opens with h5py and holds every
    record up to the last completed pf_h5_flush (N, reported by the child),
    with correct values."""
    import xarray as xr

    for spec in specs:
        path, n = spec.rsplit(":", 1)
        n = int(n)
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            check(False, "%s does not open: %s" % (path, e))
            continue
        clean = True
        with f:
            it, x = f["trajectory/iteration"], f["trajectory/x"]
            dit, loss = f["diagnostics/iteration"], f["diagnostics/loss"]
            nit, nx = it.shape[0], x.shape[1]
            if not check(min(nit, nx, dit.shape[0], loss.shape[1]) >= n,
                         "%s: %d flushed records, file has iteration %d, x %d, diagnostics %d, loss %d"
                         % (path, n, nit, nx, dit.shape[0], loss.shape[1])):
                continue
            try:
                check(np.array_equal(it[:n], 10 * np.arange(n)), "%s iteration values" % path)
                check(np.array_equal(dit[:n], 10 * np.arange(n)), "%s diagnostics iteration" % path)
                check(np.array_equal(x[:, :n], crash_x(0, n)), "%s trajectory/x values" % path)
                check(np.array_equal(loss[:, :n], crash_loss(0, n)), "%s loss values" % path)
            except OSError as e:
                check(False, "%s: flushed records unreadable: %s" % (path, e))
                continue
            clean &= check_tail(path, "iteration", lambda: it[n:nit].astype(float),
                                10.0 * np.arange(n, nit), (0,)) if nit > n else True
            nrec = min(nit, nx)
            if nrec > n:
                clean &= check_tail(path, "trajectory/x", lambda: x[:, n:nrec], crash_x(n, nrec),
                                    (0, 2, 3))
            nl = min(dit.shape[0], loss.shape[1])
            if nl > n:
                clean &= check_tail(path, "loss", lambda: loss[:, n:nl], crash_loss(n, nl), (0,))
            try:
                st = f.attrs.get("status")
                check(st in ("running", "running!"), "%s status %r" % (path, st))
            except OSError as e:
                clean = False
                print("check_h5out crash: %s: status unreadable (%s)" % (path, e))
        # xarray reads every coordinate value, so it needs the tail readable.
        if clean:
            for g in ("trajectory", "diagnostics"):
                try:
                    with xr.open_dataset(path, group=g, engine="h5netcdf") as ds:
                        check(ds.sizes["iteration"] >= n, "%s xarray %s" % (path, g))
                        ds.load()
                except Exception as e:  # noqa: BLE001 -- report any reader failure
                    check(False, "%s: xarray cannot load group %s: %r" % (path, g, e))
        print("check_h5out crash: %s: %d flushed, %d in file%s"
              % (path, n, nrec, "" if clean else " (interrupted flush)"))
    finish("crash")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    mode = argv[1]
    if mode == "noattr":
        with h5py.File(argv[2], "r") as f:
            check(argv[3] not in f.attrs, "attribute %s present" % argv[3])
        finish(mode)
    elif mode == "layout":
        mode_layout(argv[2])
    elif mode == "chunks":
        mode_chunks(argv[2])
    elif mode == "attrs":
        mode_attrs(argv[2])
    elif mode == "compress":
        mode_compress(argv[2])
    elif mode == "crash":
        mode_crash(argv[2:])
    else:
        print("unknown mode %s" % mode, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
