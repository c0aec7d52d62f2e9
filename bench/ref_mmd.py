"""MMD flow per-step time: pflow's mmd_flow against a vectorized NumPy
reference of the same step, measured in the same run.

One step (n particles X, m target samples Y, Gaussian k = exp(-r2/h)):
  Z = X + beta U,  U ~ N(0, I)                      (noise injection)
  V = (1/n) sum_j grad_z k(z_i, x_j) - (1/m) sum_l grad_z k(z_i, y_l)
  X <- X - gamma V
with n = m = 2000, d in {2, 100}; "noiseless" is the same with Z = X.  The
reference builds the kernel matrices with one GEMM each (r2 = |z|^2 + |p|^2
- 2 Z P^T), exp over them and the gradient sums with one more GEMM;
OpenBLAS threads = the machine's cores.  Each side is timed ROUNDS times,
alternating, and the best is kept.  pflow's time is the wall_time
column of a run (the loop only: init, which computes the target's kernel
sum and the median, is excluded), mmd2 tracking off.
usage: ref_mmd.py PFLOW OUTDIR
"""
import os, subprocess, sys, time

import h5py
import numpy as np

n = m = 2000
REPS = 20
ROUNDS = 3


def kgrad(Z, P, h):
    zz = (Z * Z).sum(1)
    pp = (P * P).sum(1)
    r2 = zz[:, None] + pp[None, :] - 2.0 * (Z @ P.T)
    np.maximum(r2, 0.0, out=r2)
    K = np.exp(r2 * (-1.0 / h))
    # sum_j grad_z k = -(2/h) (sum_j k_ij z_i - sum_j k_ij p_j)
    return (-2.0 / h) * (K.sum(1)[:, None] * Z - K @ P)


def numpy_step(X, Y, h, gamma, beta, g):
    Z = X + beta * g.standard_normal(X.shape) if beta > 0 else X
    V = kgrad(Z, X, h) / n - kgrad(Z, Y, h) / m
    return X - gamma * V


def time_numpy(d, beta):
    g = np.random.default_rng(1)
    X = g.standard_normal((n, d))
    Y = g.standard_normal((m, d)) + 0.5
    h = 2.0 * d
    numpy_step(X, Y, h, 0.1, beta, g)
    best = float("inf")
    for _ in range(REPS):
        t0 = time.perf_counter()
        X = numpy_step(X, Y, h, 0.1, beta, g)
        best = min(best, time.perf_counter() - t0)
    return best


def time_pflow(pflow, outdir, d, beta):
    path = os.path.join(outdir, f"bench_mmd_d{d}.h5")
    cfg = os.path.join(outdir, f"bench_mmd_d{d}.yaml")
    noise = (f"noise_schedule: constant, noise_level: {beta}" if beta > 0
             else "noise_schedule: none")
    with open(cfg, "w") as f:
        f.write(f"""seed: 1
target: {{name: empirical, n: {m}, from: {{name: gaussian, dim: {d}, mean: [0.5]}}}}
sampler: {{name: mmd_flow, n_particles: {n}, n_iter: {REPS}, step_size: 0.05,
  kernel: {{name: rbf, bandwidth: {2.0 * d}}}, mmd2_every: 0, {noise}}}
diagnostics: {{every: 1}}
output: {{path: {path}, overwrite: true, trajectory_every: 0}}
""")
    subprocess.run([pflow, "run", cfg], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    w = h5py.File(path, "r")["diagnostics/wall_time"][0]
    return float(np.min(np.diff(w[1:])))  # best single step (from it 1)


def main():
    pflow, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    goals = {2: 20.0, 100: 1.5}
    print(f"{'case':<22}{'numpy ms':>10}{'pflow ms':>10}{'ratio':>8}{'goal':>7}")
    for d in (2, 100):
        for beta in (0.5, 0.0):
            # alternate the two, best of ROUNDS each: this VM's speed
            # drifts by tens of percent over a minute
            tn = tp = float("inf")
            for _ in range(ROUNDS):
                tn = min(tn, time_numpy(d, beta))
                tp = min(tp, time_pflow(pflow, outdir, d, beta))
            case = f"d={d} {'noise' if beta > 0 else 'noiseless'}"
            print(f"{case:<22}{tn * 1e3:>10.2f}{tp * 1e3:>10.2f}{tn / tp:>8.1f}"
                  f"{goals[d]:>7.1f}")
            print(f"mmd_step_ratio_d{d}_{'noise' if beta > 0 else 'noiseless'} "
                  f"{tn / tp:.2f}")


if __name__ == "__main__":
    main()
