/* core/chains.c: the inverse normal CDF, rank-normalized split R-hat, bulk
 * and tail ESS on chains with known behaviour (iid, AR(1), shifted and
 * scaled chains), the ESS of weighted samples, and a cross-check against
 * an independent numpy/scipy implementation (tests/integration/
 * check_chains.py; ArviZ is not packaged in Debian 12). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/chains.h"
#include "pflow/error.h"
#include "pflow/rng.h"

int pf__chains_ess_fft(const double *x, size_t m, size_t n, double *ess);

/* m chains of n draws of a stationary Gaussian AR(1) with coefficient rho
 * and unit marginal variance; chain c uses PCG stream (seed, c). */
static double *ar1(size_t m, size_t n, double rho, uint64_t seed)
{
  double *x = malloc(m * n * sizeof *x);
  if (!x) return NULL;
  const double s = sqrt(1.0 - rho * rho);
  for (size_t c = 0; c < m; c++) {
    pf_rng r;
    double *y = x + c * n;
    pf_rng_stream(&r, seed, c);
    pf_rng_normal(&r, n, y);
    for (size_t i = 1; i < n; i++) y[i] = rho * y[i - 1] + s * y[i];
  }
  return x;
}

static int norm_quantile_values(void)
{
  /* Known quantiles: Phi^-1(0.975) = 1.95996398454005423552...; AS241's
   * relative error is ~1e-16, a few ulps after rounding. */
  PF_T_NEAR(pf_norm_quantile(0.975), 1.9599639845400542, 1e-15);
  PF_T_NEAR(pf_norm_quantile(0.5), 0.0, 0.0);
  PF_T_NEAR(pf_norm_quantile(0.8413447460685429), 1.0, 2e-15);
  PF_T_ASSERT(pf_norm_quantile(0.0) == -INFINITY &&
                  pf_norm_quantile(1.0) == INFINITY &&
                  isnan(pf_norm_quantile(-0.1)) &&
                  isnan(pf_norm_quantile(1.5)) && isnan(pf_norm_quantile(NAN)),
              "edge values");
  /* Round trip through Phi(z) = erfc(-z/sqrt 2)/2 over 1e-300 .. 1/2 (and
   * the mirrored upper half, exact in binary for p >= 1/4): a relative
   * error e in z moves p by about p z^2 e in the tail, so 1e-14 (1 + z^2)
   * allows e ~ 1e-14 including erfc's own rounding. */
  for (double lp = -300.0; lp <= log10(0.5); lp += 0.37) {
    double p = pow(10.0, lp), z = pf_norm_quantile(p);
    double back = 0.5 * erfc(-z / sqrt(2.0));
    PF_T_ASSERT(fabs(back - p) <= 1e-14 * (1.0 + z * z) * p,
                "p %.17g: z %.17g gives %.17g", p, z, back);
    if (p >= 0.25) {
      double zu = pf_norm_quantile(1.0 - p);
      PF_T_ASSERT(zu == -z, "symmetry at %.17g: %.17g vs %.17g", p, zu, z);
    }
  }
  return 0;
}

/* iid N(0,1): bulk and tail ESS ~ N, R-hat ~ 1.  Over 40 seeds the
 * numpy reference gave bulk/N = 0.989 +- 0.025 and tail/N = 0.975 +- 0.027
 * for 4 x 2500 draws: 10% and 12% are 4 standard deviations. */
static int iid_chains(void)
{
  const size_t m = 4, n = 2500;
  double *x = ar1(m, n, 0.0, 11);
  PF_T_ASSERT(x, "alloc");
  pf_chain_stats s;
  int rc = pf_chain_stats_compute(x, m, n, &s);
  double plain;
  int rc2 = pf_chains_ess(x, m, n, &plain);
  free(x);
  PF_T_ASSERT(rc == 0 && rc2 == 0, "rc %d %d", rc, rc2);
  const double N = (double)(m * n);
  PF_T_NEAR(s.ess_bulk / N, 1.0, 0.10);
  PF_T_NEAR(s.ess_tail / N, 1.0, 0.12);
  PF_T_NEAR(plain / N, 1.0, 0.10);
  PF_T_ASSERT(s.rhat < 1.01 && s.rhat >= s.rhat_bulk &&
                  s.rhat >= s.rhat_tail && s.rhat_bulk > 0.99,
              "rhat %g bulk %g tail %g", s.rhat, s.rhat_bulk, s.rhat_tail);
  return 0;
}

/* AR(1): ESS -> N (1 - rho) / (1 + rho).  The numpy reference's spread
 * over 40 seeds: 2.3% (rho 0.5, 4 x 25000) and 3.6% (rho 0.9, 4 x 25000;
 * here 4 x 50000, about 2.5%), so 10% is about 4 standard deviations. */
static int ar1_chains(void)
{
  static const double rhos[] = {0.5, 0.9};
  static const size_t ns[] = {25000, 50000};
  for (int k = 0; k < 2; k++) {
    const size_t m = 4, n = ns[k];
    const double rho = rhos[k];
    double *x = ar1(m, n, rho, 21 + (uint64_t)k);
    PF_T_ASSERT(x, "alloc");
    pf_chain_stats s;
    double plain, plain_fft;
    int rc = pf_chain_stats_compute(x, m, n, &s);
    if (rc == 0) rc = pf_chains_ess(x, m, n, &plain);
    if (rc == 0) rc = pf__chains_ess_fft(x, m, n, &plain_fft);
    free(x);
    PF_T_ASSERT(rc == 0, "rc %d", rc);
    const double want = (double)(m * n) * (1.0 - rho) / (1.0 + rho);
    PF_T_NEAR(s.ess_bulk / want, 1.0, 0.10);
    PF_T_NEAR(plain / want, 1.0, 0.10);
    /* Direct sums (first 64 lags) and FFT agree to rounding. */
    PF_T_NEAR(plain_fft / plain, 1.0, 1e-10);
    PF_T_ASSERT(s.rhat < 1.01, "rho %g: rhat %g", rho, s.rhat);
    /* Indicators of a correlated chain are correlated too. */
    PF_T_ASSERT(s.ess_tail < 0.8 * (double)(m * n), "tail ESS %g",
                s.ess_tail);
  }
  return 0;
}

/* One chain shifted by 2 sd: R-hat ~ 1.3 (the numpy reference gives 1.09-
 * 1.11 already for a 1 sd shift).  One chain with 3x the spread: the bulk
 * R-hat misses it (< 1.01), the folded one catches it (1.12-1.16 over 20
 * seeds in the reference). */
static int disagreeing_chains(void)
{
  const size_t m = 4, n = 1000;
  double *x = ar1(m, n, 0.0, 31);
  PF_T_ASSERT(x, "alloc");
  pf_chain_stats s;
  for (size_t i = 0; i < n; i++) x[3 * n + i] += 2.0;
  int rc = pf_chain_stats_compute(x, m, n, &s);
  PF_T_ASSERT(rc == 0 && s.rhat > 1.1, "shifted: rc %d rhat %g", rc, s.rhat);
  for (size_t i = 0; i < n; i++) x[3 * n + i] = 3.0 * (x[3 * n + i] - 2.0);
  rc = pf_chain_stats_compute(x, m, n, &s);
  free(x);
  PF_T_ASSERT(rc == 0 && s.rhat_bulk < 1.01 && s.rhat_tail > 1.05 &&
                  s.rhat == s.rhat_tail,
              "scaled: rc %d bulk %g tail %g", rc, s.rhat_bulk, s.rhat_tail);
  return 0;
}

static int edge_cases(void)
{
  double x[40], e;
  pf_chain_stats s;
  for (int i = 0; i < 40; i++) x[i] = 1.5;
  PF_T_OK(pf_chain_stats_compute(x, 4, 10, &s));
  PF_T_ASSERT(isnan(s.rhat) && isnan(s.ess_bulk) && isnan(s.ess_tail),
              "constant draws: %g %g %g", s.rhat, s.ess_bulk, s.ess_tail);
  for (int i = 0; i < 40; i++) x[i] = sin(1.0 + i * i);
  x[7] = NAN;
  PF_T_OK(pf_chain_stats_compute(x, 4, 10, &s));
  PF_T_ASSERT(isnan(s.rhat) && isnan(s.ess_bulk), "NaN draw");
  x[7] = 0.25;
  /* 8 draws: split chains of 4, R-hat defined, ESS not. */
  PF_T_OK(pf_chain_stats_compute(x, 5, 8, &s));
  PF_T_ASSERT(isfinite(s.rhat) && isnan(s.ess_bulk) && isnan(s.ess_tail),
              "8 draws: rhat %g ess %g", s.rhat, s.ess_bulk);
  PF_T_OK(pf_chains_ess(x, 8, 5, &e));
  PF_T_ASSERT(isfinite(e) && e > 0, "5 draws, plain ESS %g", e);
  PF_T_ASSERT(pf_chain_stats_compute(x, 10, 3, &s) == PF_EINVAL &&
                  pf_chain_stats_compute(x, 0, 10, &s) == PF_EINVAL &&
                  pf_chain_stats_compute(NULL, 4, 10, &s) == PF_EINVAL,
              "bad arguments accepted");
  double v[] = {1, 2, 3, 4};
  PF_T_NEAR(pf_quantile_sorted(v, 4, 0.5), 2.5, 0);
  PF_T_NEAR(pf_quantile_sorted(v, 4, 0.05), 1.15, 1e-15);
  PF_T_NEAR(pf_quantile_sorted(v, 4, 1.0), 4.0, 0);
  return 0;
}

/* (sum w)^2 / (n sum w^2) from log weights. */
static int weighted_ess(void)
{
  enum { N = 100000 };
  double *l = malloc(N * sizeof *l), f;
  PF_T_ASSERT(l, "alloc");
  for (int i = 0; i < 10; i++) l[i] = 1e4; /* huge but equal */
  PF_T_OK(pf_ess_log_weights(l, 10, &f));
  PF_T_NEAR(f, 1.0, 1e-15);
  for (int i = 0; i < 10; i++) l[i] = i == 3 ? 0.0 : -INFINITY; /* one-hot */
  PF_T_OK(pf_ess_log_weights(l, 10, &f));
  PF_T_NEAR(f, 0.1, 1e-15);
  l[0] = -1e6; /* negligible but finite */
  l[5] = log(3.0) - 800.0;
  l[3] = -800.0; /* weights 1 and 3 at a tiny scale: 16 / (10 * 10) */
  PF_T_OK(pf_ess_log_weights(l, 10, &f));
  PF_T_NEAR(f, 0.16, 1e-14);
  /* Reflected_mmd_diagnostics.md D7: target N(0,1), proposal N(0,4):
   * ESS/N -> sqrt(2 s^2 - 1) / s^2 = sqrt(7)/4 = 0.661438.  The delta
   * method puts the relative sd at ~0.4% for N = 1e5 (Var w^2 = 2.15,
   * E w^2 = 1.51); 2% is 5 sd. */
  pf_rng r;
  pf_rng_stream(&r, 5, 0);
  pf_rng_normal(&r, N, l);
  for (int i = 0; i < N; i++) {
    double x = 2.0 * l[i];
    l[i] = -0.5 * x * x - (-0.5 * x * x / 4.0 - log(2.0));
  }
  PF_T_OK(pf_ess_log_weights(l, N, &f));
  PF_T_NEAR(f, sqrt(7.0) / 4.0, 0.02 * 0.661438);
  l[2] = NAN;
  int rc = pf_ess_log_weights(l, N, &f);
  for (int i = 0; i < 4; i++) l[i] = -INFINITY;
  int rc2 = pf_ess_log_weights(l, 4, &f);
  free(l);
  PF_T_ASSERT(rc == PF_ENONFINITE && rc2 == PF_EINVAL, "rc %d %d", rc, rc2);
  return 0;
}

static int put(FILE *f, const double *v, size_t n)
{
  return fwrite(v, sizeof *v, n, f) == n ? 0 : -1;
}

/* Cases for the numpy cross-check: iid, AR(1) of several strengths (the
 * 0.97 one uses the FFT for lags beyond 64), odd n, ties, a single chain,
 * heavy tails, shifted chains, the minimum sizes. */
static int numpy_cross_check(void)
{
  static const struct {
    size_t m, n;
    double rho;
    int kind; /* 0 AR(1), 1 ties, 2 Cauchy-like, 3 shifted */
  } cases[] = {{4, 1000, 0.0, 0}, {3, 501, 0.97, 0}, {2, 3000, 0.99, 0},
               {5, 40, 0.3, 1},   {1, 10, 0.0, 0},   {4, 200, 0.0, 2},
               {4, 300, 0.5, 3},  {6, 11, 0.2, 0},   {1000, 25, 0.8, 0},
               {3, 64, 0.0, 1}};
  const size_t K = sizeof cases / sizeof cases[0];
  char path[512];
  snprintf(path, sizeof path, "%s/chains.bin", pf_test_tmpdir());
  FILE *f = fopen(path, "wb");
  PF_T_ASSERT(f, "open %s", path);
  double k = (double)K;
  int bad = put(f, &k, 1);
  for (size_t c = 0; c < K && !bad; c++) {
    const size_t m = cases[c].m, n = cases[c].n;
    double *x = ar1(m, n, cases[c].rho, 100 + c);
    if (!x) break;
    for (size_t i = 0; i < m * n; i++) {
      if (cases[c].kind == 1) x[i] = floor(2.0 * x[i]);
      if (cases[c].kind == 2) x[i] = x[i] / (0.05 + fabs(sin(7.0 * i)));
      if (cases[c].kind == 3) x[i] += (double)(i / n) * 0.5;
    }
    pf_chain_stats s;
    double res[7], mn[2] = {(double)m, (double)n};
    int rc = pf_chain_stats_compute(x, m, n, &s);
    if (rc == 0) rc = pf_chains_ess(x, m, n, &res[5]);
    if (rc == 0) rc = pf_chains_rhat_split(x, m, n, &res[6]);
    res[0] = s.rhat;
    res[1] = s.rhat_bulk;
    res[2] = s.rhat_tail;
    res[3] = s.ess_bulk;
    res[4] = s.ess_tail;
    bad = rc || put(f, mn, 2) || put(f, x, m * n) || put(f, res, 7);
    free(x);
  }
  /* Phi^-1 over (0, 1): tails down to 1e-300, both central cut-offs. */
  enum { P = 400 };
  double p[P], z[P], np = P;
  for (int i = 0; i < P; i++) {
    if (i < 100)
      p[i] = pow(10.0, -300.0 + 3.0 * i);
    else if (i < 300)
      p[i] = (i - 99.5) / 200.0;
    else
      p[i] = 1.0 - pow(10.0, -1.0 - 0.15 * (i - 300));
    z[i] = pf_norm_quantile(p[i]);
  }
  bad = bad || put(f, &np, 1) || put(f, p, P) || put(f, z, P);
  double lw[257], nl = 257, ess;
  for (int i = 0; i < 257; i++) lw[i] = 40.0 * sin(0.37 * i) - 700.0;
  bad = bad || pf_ess_log_weights(lw, 257, &ess) || put(f, &nl, 1) ||
        put(f, lw, 257) || put(f, &ess, 1);
  fclose(f);
  PF_T_ASSERT(!bad, "writing %s", path);
  int rc = pf_test_sh("%s tests/integration/check_chains.py %s",
                      pf_test_python(), path);
  PF_T_ASSERT(rc == 0, "check_chains.py: exit %d", rc);
  return 0;
}

const pf_test_case pf_tests_chains[] = {
    {"norm_quantile_values", norm_quantile_values},
    {"iid_chains", iid_chains},
    {"ar1_chains", ar1_chains},
    {"disagreeing_chains", disagreeing_chains},
    {"edge_cases", edge_cases},
    {"weighted_ess", weighted_ess},
    {"numpy_cross_check", numpy_cross_check},
    {NULL, NULL}};
