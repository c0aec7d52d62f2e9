#!/usr/bin/env python3
"""Cross-check of core/chains.c against an independent numpy/scipy
implementation of the same definitions (Vehtari et al. 2021: split chains,
rank normalization with average ranks and Blom's offset, folded R-hat,
Geyer's initial monotone sequence with Stan's bookkeeping; tail ESS from
the 5%/95% quantile indicators).  ArviZ is not packaged in Debian 12, so
the reference is written here with vectorized numpy (FFT autocovariance,
scipy's rankdata and ndtri) rather than the loops of the C code.

usage: check_chains.py FILE      (FILE written by tests/test_chains.c)
FILE holds doubles: a count K of chain cases, then per case m, n, the
m x n draws, and the C results rhat, rhat_bulk, rhat_tail, ess_bulk,
ess_tail, ess_plain (no split/rank), rhat_split (no rank); then a count P of
probabilities, the P values and C's Phi^-1 of each; then a count L of log
weights, the L values and C's normalized ESS.
Exit status 0 when everything agrees; prints the disagreements otherwise.
"""
import sys

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata


def split(x):
    n = x.shape[1]
    h = n // 2
    return np.concatenate([x[:, :h], x[:, n - h:]], axis=0)


def z_scale(x):
    r = rankdata(x, method="average").reshape(x.shape)
    return ndtri((r - 0.375) / (x.size + 0.25))


def rhat_plain(y):
    m, h = y.shape
    w = y.var(axis=1, ddof=1).mean()
    b_over_h = y.mean(axis=1).var(ddof=1) if m > 1 else 0.0
    if not w > 0:
        return np.nan
    return np.sqrt(((h - 1) / h * w + b_over_h) / w)


def autocov(y):
    """Biased (1/h) autocovariance of each row, all lags, via the FFT."""
    m, h = y.shape
    c = y - y.mean(axis=1, keepdims=True)
    size = 2 * h
    f = np.fft.rfft(c, n=size, axis=1)
    ac = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :h]
    return ac / h


def ess_geyer(y):
    m, h = y.shape
    if h < 5 or not np.all(np.isfinite(y)):
        return np.nan
    ac = autocov(y).mean(axis=0)
    w = ac[0] * h / (h - 1)
    var_plus = w * (h - 1) / h
    if m > 1:
        var_plus += y.mean(axis=1).var(ddof=1)
    if not var_plus > 0:
        return np.nan
    rho_all = 1.0 - (w - ac) / var_plus
    rho_all[0] = 1.0
    rho = np.zeros(h)
    rho[:2] = rho_all[:2]
    even, odd = rho_all[0], rho_all[1]
    t = 1
    while t < h - 3 and even + odd > 0:
        even, odd = rho_all[t + 1], rho_all[t + 2]
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    # pair sums made non-increasing
    pairs = rho[: max_t + 1].copy()
    for k in range(1, max_t - 1, 2):
        if pairs[k + 1] + pairs[k + 2] > pairs[k - 1] + pairs[k]:
            pairs[k + 1] = pairs[k + 2] = 0.5 * (pairs[k - 1] + pairs[k])
    tau = -1.0 + 2.0 * pairs.sum() + rho[max_t + 1]
    s = m * h
    tau = max(tau, 1.0 / np.log10(s))
    return s / tau


def stats(x):
    if not np.all(np.isfinite(x)):
        return [np.nan] * 5
    s = split(x)
    if s.min() == s.max():
        return [np.nan] * 5
    zb = z_scale(s)
    rb = rhat_plain(zb)
    eb = ess_geyer(zb)
    tails = []
    for p in (0.05, 0.95):
        q = np.quantile(s, p)
        tails.append(ess_geyer((s <= q).astype(float)))
    et = np.nan if np.any(np.isnan(tails)) else min(tails)
    folded = np.abs(x - np.median(x))
    rt = rhat_plain(z_scale(split(folded)))
    return [max(rb, rt), rb, rt, eb, et]


def close(a, b, rtol):
    if np.isnan(a) and np.isnan(b):
        return True
    return abs(a - b) <= rtol * max(1.0, abs(b))


def main():
    v = np.fromfile(sys.argv[1], dtype="<f8")
    pos = 0

    def take(k):
        nonlocal pos
        out = v[pos:pos + k]
        pos += k
        return out

    bad = 0
    ncases = int(take(1)[0])
    names = ["rhat", "rhat_bulk", "rhat_tail", "ess_bulk", "ess_tail",
             "ess_plain", "rhat_split"]
    for case in range(ncases):
        m, n = (int(u) for u in take(2))
        x = take(m * n).reshape(m, n)
        got = take(7)
        want = stats(x) + [ess_geyer(x) if n >= 5 else np.nan,
                           rhat_plain(split(x))]
        for name, g, w in zip(names, got, want):
            if not close(g, w, 1e-9):
                print("check_chains: case %d (%d x %d) %s: C %.17g, numpy "
                      "%.17g" % (case, m, n, name, g, w), file=sys.stderr)
                bad += 1
    npr = int(take(1)[0])
    p = take(npr)
    z = take(npr)
    ref = ndtri(p)
    err = np.abs(z - ref) / np.maximum(np.abs(ref), 1e-300)
    err[ref == 0] = np.abs(z[ref == 0])
    if err.max() > 4e-15:
        i = int(err.argmax())
        print("check_chains: Phi^-1(%.17g) = %.17g, scipy %.17g (rel %.2g)"
              % (p[i], z[i], ref[i], err[i]), file=sys.stderr)
        bad += 1
    nl = int(take(1)[0])
    lw = take(nl)
    got = take(1)[0]
    w = np.exp(lw - lw.max())
    want = w.sum() ** 2 / (nl * (w * w).sum())
    if not close(got, want, 1e-12):
        print("check_chains: weighted ESS C %.17g numpy %.17g" % (got, want),
              file=sys.stderr)
        bad += 1
    if pos != v.size:
        print("check_chains: %d values left over" % (v.size - pos),
              file=sys.stderr)
        bad += 1
    print("check_chains: %d cases, max Phi^-1 rel. error %.2g, %s"
          % (ncases, err.max(), "ok" if not bad else "%d mismatches" % bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
