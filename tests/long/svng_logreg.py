"""svng vs a long svgd run on breast cancer (tests/long/svng_logreg.sh).

The plateau is the mean held-out log-likelihood of the svgd run over its
last third; a run "reaches" it at the first evaluation where the moving
average of 5 consecutive evaluations (50 iterations) is within DELTA of it.
Passes when svgd needs at least RATIO times the iterations svng needs."""
import sys

import h5py
import numpy as np

DELTA, RATIO, W = 0.005, 5.0, 5


def load(path):
    with h5py.File(path, "r") as f:
        d = f["diagnostics"]
        return d["iteration"][:], d["heldout_loglik"][0]


def reach(it, ll, thr):
    m = np.convolve(ll, np.ones(W) / W, "valid")
    idx = np.nonzero(m >= thr)[0]
    return int(it[idx[0] + W - 1]) if len(idx) else None


it_g, ll_g = load(sys.argv[1])
it_n, ll_n = load(sys.argv[2])
plateau = float(ll_g[-len(ll_g) // 3:].mean())
thr = plateau - DELTA
t_g, t_n = reach(it_g, ll_g, thr), reach(it_n, ll_n, thr)
print(f"svgd plateau {plateau:.4f} (threshold {thr:.4f}); iterations to "
      f"reach it: svgd {t_g}, svng {t_n}; svng final-third mean "
      f"{ll_n[-len(ll_n) // 3:].mean():.4f}")
if t_n is None or t_g is None:
    print("FAIL: a run never reached the plateau")
    sys.exit(1)
ratio = t_g / t_n
print(f"ratio {ratio:.2f} (required >= {RATIO})")
sys.exit(0 if ratio >= RATIO else 1)
