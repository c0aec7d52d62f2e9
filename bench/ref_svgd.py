"""Reference SVGD steps in NumPy and PyTorch (CPU, float64) for `make bench`.

One step on a standard normal target (score -x), as bench_svgd times pflow's
`svgd` sampler: RBF kernel k = exp(-r2 / h) with h the median of the squared
distances over pairs i < j (pflow's `bandwidth: median`), the direction
phi_i = (1/n) sum_j [k_ij s_j + (2 / h) k_ij (x_i - x_j)] from the dense
n x n kernel matrix, and x += lr phi.  Written for this benchmark: the
vectorized form most SVGD codes use (squared distances from a Gram matrix,
one kernel matrix, two matrix products).

Prints one line per (n, d): "n d numpy_seconds torch_seconds" (best of a few
steps after a warm-up)."""
import sys
import time

import numpy as np

try:
    import torch
except ImportError:  # torch column reported as nan
    torch = None

SIZES = [(n, d) for n in (1000, 2000, 5000) for d in (2, 10, 100)]


def np_step(x, lr):
    n = x.shape[0]
    s = -x
    sq = np.einsum("ij,ij->i", x, x)
    r2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(r2, 0.0, out=r2)
    tri = r2[np.triu_indices(n, 1)]
    m = tri.size
    lo = np.partition(tri, [(m - 1) // 2, m // 2])
    h = 0.5 * (lo[(m - 1) // 2] + lo[m // 2])
    if not h > 0:
        h = 1.0
    k = np.exp(-r2 / h)
    phi = (k @ s + (2.0 / h) * (k.sum(1)[:, None] * x - k @ x)) / n
    x += lr * phi
    return x


def torch_step(x, lr):
    n = x.shape[0]
    s = -x
    sq = (x * x).sum(1)
    r2 = (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).clamp_min_(0.0)
    iu = torch.triu_indices(n, n, 1)
    tri = r2[iu[0], iu[1]]
    m = tri.numel()
    a = torch.kthvalue(tri, (m - 1) // 2 + 1).values
    b = torch.kthvalue(tri, m // 2 + 1).values
    h = float(0.5 * (a + b))
    if not h > 0:
        h = 1.0
    k = torch.exp(-r2 / h)
    phi = (k @ s + (2.0 / h) * (k.sum(1)[:, None] * x - k @ x)) / n
    x += lr * phi
    return x


def best(fn, x, reps):
    fn(x, 1e-3)  # warm-up
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(x, 1e-3)
        t = min(t, time.perf_counter() - t0)
    return t


def main():
    sizes = SIZES
    if len(sys.argv) > 1:  # "n,d n,d ..." to restrict
        sizes = [tuple(int(v) for v in a.split(",")) for a in sys.argv[1:]]
    if torch is not None:
        torch.set_num_threads(2)
    rng = np.random.default_rng(1)
    for n, d in sizes:
        x = rng.standard_normal((n, d))
        reps = 3 if n <= 2000 else 2
        tn = best(np_step, x.copy(), reps)
        tt = float("nan")
        if torch is not None:
            tt = best(torch_step, torch.from_numpy(x.copy()), reps)
        print("%d %d %.6g %.6g" % (n, d, tn, tt), flush=True)


if __name__ == "__main__":
    main()
