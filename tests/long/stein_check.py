"""Check a Stein-sampler reproduction run: python3 stein_check.py FILE.h5
[--energy-below X] [--energy-above X] [--means m1,m2,... --tol T]
Reads /diagnostics/energy at the last recorded iteration and the particle
means of the final draws; prints them and exits 1 when a bound fails."""
import sys
import h5py
import numpy as np

args = sys.argv[1:]
path = args.pop(0)
opts = dict(zip(args[::2], args[1::2]))
with h5py.File(path, "r") as f:
    e = np.asarray(f["diagnostics/energy"][...]).ravel()
    it = np.asarray(f["diagnostics/iteration"][...]).ravel()
    x = np.asarray(f["posterior/x"][...])
x = x.reshape(-1, x.shape[-1])
ok = True
print("energy at iteration %d: %.5f (start %.4f)" % (it[-1], e[-1], e[1] if len(e) > 1 else e[0]))
if "--energy-below" in opts and not e[-1] < float(opts["--energy-below"]):
    print("FAIL: energy not below", opts["--energy-below"]); ok = False
if "--energy-above" in opts and not np.nanmin(e[1:]) > float(opts["--energy-above"]):
    print("FAIL: energy went below", opts["--energy-above"]); ok = False
if "--means" in opts:
    want = np.array([float(v) for v in opts["--means"].split(",")])
    got = x.mean(0)[: len(want)]
    tol = float(opts.get("--tol", "0.01"))
    print("means", np.round(got, 5), "expected", np.round(want, 5),
          "max dev %.5f (tol %g)" % (np.abs(got - want).max(), tol))
    if np.abs(got - want).max() > tol:
        print("FAIL: means"); ok = False
sys.exit(0 if ok else 1)
