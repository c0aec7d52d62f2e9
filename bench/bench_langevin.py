#!/usr/bin/env python3
"""make bench: Langevin steps of pflow against our own vectorized NumPy and
PyTorch (CPU) references, measured in the same run on the same problems.

  mala_dense   MALA on a 100-d Gaussian with a dense precision, 10000 chains
  ula_logreg   ULA on Bayesian logistic regression (1000 synthetic points,
               24 features + intercept = d 25, N(0, I) prior), 10000 chains

pflow is timed end to end from `pflow run` (wall_time attribute / n_iter,
with no trajectory, diagnostics or draws written: the sampler's steps
only, initialization excluded by differencing two run lengths).  The
references run the same update rule in float64 with the same number of
chains; each reports the best of 3 timed repeats of 20 steps.  The whole
comparison runs 5 rounds, alternating, and keeps each side's best.

usage: bench_langevin.py PFLOW WORKDIR
"""
import os
import subprocess
import sys
import time

import h5py
import numpy as np

PFLOW, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
N_CHAINS = 10000
rng = np.random.default_rng(123)

# --- problems ---------------------------------------------------------------
d = 100
B = rng.uniform(-1, 1, (d, d))
cov = B @ B.T / d + 0.5 * np.eye(d)
mean = np.sin(np.arange(d))
prec = np.linalg.inv(cov)
prec = 0.5 * (prec + prec.T)

Nd, p = 1000, 24
Xd = rng.standard_normal((Nd, p))
w_true = rng.standard_normal(p) * 0.5
yd = (rng.uniform(size=Nd) < 1 / (1 + np.exp(-(Xd @ w_true + 0.3)))).astype(int)
csv = os.path.join(WORK, "logreg_synth.csv")
with open(csv, "w") as f:
    f.write(",".join("f%d" % i for i in range(p)) + ",y\n")
    for i in range(Nd):
        f.write(",".join("%.17g" % v for v in Xd[i]) + ",%d\n" % yd[i])
Z = np.hstack([np.ones((Nd, 1)), Xd])  # intercept first, not standardized


def yaml_list(v):
    return "[" + ", ".join("%.17g" % x for x in v) + "]"


def write_cfg(name, target, sampler):
    path = os.path.join(WORK, name + ".yaml")
    with open(path, "w") as f:
        f.write("seed: 1\ntarget:\n%s\nsampler:\n%s\n" % (target, sampler))
        f.write("diagnostics: {every: 1000000, metrics: []}\n")
        f.write("output: {overwrite: true, trajectory_every: 0, draws: final,"
                " flush_every: 1000000}\n")
    return path


gauss_target = "  name: gaussian\n  mean: %s\n  cov:\n%s" % (
    yaml_list(mean), "".join("    - %s\n" % yaml_list(r) for r in cov))
cfg_mala = write_cfg(
    "mala_dense", gauss_target,
    "  name: mala\n  n_particles: %d\n  step_size: 0.05\n  warmup: 0\n"
    "  init: normal\n  init_scale: 0.5" % N_CHAINS)
cfg_ula = write_cfg(
    "ula_logreg",
    "  name: logistic_regression\n  data: %s\n  standardize: false\n"
    "  intercept: true\n  prior_var: 1" % csv,
    "  name: ula\n  n_particles: %d\n  step_size: 0.0005\n  init: normal\n"
    "  init_scale: 0.1" % N_CHAINS)


def pflow_run_seconds(cfg, n):
    """Wall time of the sampling loop of one run of n steps."""
    out = os.path.join(WORK, "b.h5")
    subprocess.run([PFLOW, "run", cfg, "sampler.n_iter=%d" % n,
                    "output.path=" + out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return float(h5py.File(out, "r").attrs["wall_time"])


# --- references ---------------------------------------------------------------
def time_steps(step, state, reps=3, steps=20):
    state = step(state)  # warm caches, JIT-free but allocators
    best = 1e300
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            state = step(state)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def numpy_mala():
    h = 0.05
    x = mean + 0.5 * rng.standard_normal((N_CHAINS, d))
    g = -(x - mean) @ prec
    lp = -0.5 * np.einsum("ij,ij->i", x - mean, -g)

    def step(s):
        x, g, lp = s
        z = rng.standard_normal(x.shape)
        y = x + h * g + np.sqrt(2 * h) * z
        r = y - mean
        gy = -r @ prec
        lpy = 0.5 * np.einsum("ij,ij->i", r, gy)
        fwd = -0.5 * np.einsum("ij,ij->i", z, z)
        rv = x - y - h * gy
        rev = -np.einsum("ij,ij->i", rv, rv) / (4 * h)
        acc = np.log(rng.uniform(size=N_CHAINS)) < lpy - lp + rev - fwd
        x = np.where(acc[:, None], y, x)
        g = np.where(acc[:, None], gy, g)
        lp = np.where(acc, lpy, lp)
        return x, g, lp
    return time_steps(step, (x, g, lp))


def numpy_ula_logreg():
    h = 0.0005
    th = 0.1 * rng.standard_normal((N_CHAINS, p + 1))
    y = yd.astype(float)

    def grad(th):
        u = Z @ th.T                      # N x n
        s = 1 / (1 + np.exp(-u))
        return (Z.T @ (y[:, None] - s)).T - th

    def step(th):
        return th + h * grad(th) + np.sqrt(2 * h) * rng.standard_normal(th.shape)
    return time_steps(step, th)


def torch_refs():
    try:
        import torch
    except ImportError:
        return None, None
    torch.set_grad_enabled(False)
    dt = torch.float64
    P = torch.tensor(prec, dtype=dt)
    mu = torch.tensor(mean, dtype=dt)
    h = 0.05
    x = mu + 0.5 * torch.randn(N_CHAINS, d, dtype=dt)
    g = -(x - mu) @ P
    lp = 0.5 * ((x - mu) * g).sum(1)

    def mstep(s):
        x, g, lp = s
        z = torch.randn_like(x)
        y = x + h * g + (2 * h) ** 0.5 * z
        r = y - mu
        gy = -r @ P
        lpy = 0.5 * (r * gy).sum(1)
        fwd = -0.5 * (z * z).sum(1)
        rv = x - y - h * gy
        rev = -(rv * rv).sum(1) / (4 * h)
        acc = torch.log(torch.rand(N_CHAINS, dtype=dt)) < lpy - lp + rev - fwd
        x = torch.where(acc[:, None], y, x)
        g = torch.where(acc[:, None], gy, g)
        lp = torch.where(acc, lpy, lp)
        return x, g, lp
    tm = time_steps(mstep, (x, g, lp))

    Zt = torch.tensor(Z, dtype=dt)
    yt = torch.tensor(yd, dtype=dt)
    hl = 0.0005
    th = 0.1 * torch.randn(N_CHAINS, p + 1, dtype=dt)

    def ustep(th):
        s = torch.sigmoid(Zt @ th.T)
        gr = (Zt.T @ (yt[:, None] - s)).T - th
        return th + hl * gr + (2 * hl) ** 0.5 * torch.randn_like(th)
    tu = time_steps(ustep, th)
    return tm, tu


# Alternate references and pflow, best of ROUNDS each: this VM's speed
# drifts by tens of percent over a minute.
# pflow's seconds per step come from the best run of each of two lengths
# (their difference removes start-up costs).
ROUNDS = 5
np_mala = np_ula = float("inf")
th_mala = th_ula = None
runs = {(c, n): float("inf") for c, ns in ((cfg_mala, (20, 120)),
                                           (cfg_ula, (10, 60))) for n in ns}
for _ in range(ROUNDS):
    np_mala = min(np_mala, numpy_mala())
    np_ula = min(np_ula, numpy_ula_logreg())
    tm, tu = torch_refs()
    if tm is not None:
        th_mala = tm if th_mala is None else min(th_mala, tm)
        th_ula = tu if th_ula is None else min(th_ula, tu)
    for (c, n) in runs:
        runs[(c, n)] = min(runs[(c, n)], pflow_run_seconds(c, n))
pf_mala = (runs[(cfg_mala, 120)] - runs[(cfg_mala, 20)]) / 100
pf_ula = (runs[(cfg_ula, 60)] - runs[(cfg_ula, 10)]) / 50

threads = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count()))
print("threads %s (pflow OpenMP; NumPy/PyTorch use their default BLAS threads)"
      % threads)
print("%-12s %12s %12s %12s %10s" % ("problem", "pflow ms", "numpy ms",
                                       "torch ms", "speedup"))
for name, a, b, c in (("mala_dense", pf_mala, np_mala, th_mala),
                      ("ula_logreg", pf_ula, np_ula, th_ula)):
    best = min(b, c) if c is not None else b
    print("%-12s %12.2f %12.2f %12s %9.1fx" % (
        name, 1e3 * a, 1e3 * b, "%.2f" % (1e3 * c) if c is not None else "-",
        best / a))
