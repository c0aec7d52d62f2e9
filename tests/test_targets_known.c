/* Known values of the benchmark targets (gmm, banana, funnel, many_well,
 * double_well): normalizing constants against quadratures written here
 * (Simpson, independent of the trapezoid rule in targets/well1d.c) and
 * against the published values, exact samplers against analytic moments
 * and quadrature CDFs, stability far from the modes, config errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"

/* Composite Simpson rule of exp(-a((x - c)^2 - delta)^2) (x - c)^p over
 * [c - 10, c + 10] with 2^18 intervals: for the cases used here (a >= 1,
 * -5 <= delta <= 30) the integrand is below e^-4900 at the ends, and the
 * O(h^4 f'''') error with h = 7.6e-5 is below 1e-12 relative (wells of
 * standard deviation >= 0.02, 260 steps each). */
static double simpson_well(double a, double delta, double c, int p)
{
  const size_t n = 1u << 18;
  const double lo = c - 10.0, h = 20.0 / (double)n;
  double s = 0.0;
  for (size_t i = 0; i <= n; i++) {
    double x = lo + (double)i * h, y = (x - c) * (x - c) - delta;
    double f = exp(-a * y * y) * (p == 2 ? (x - c) * (x - c) : 1.0);
    s += f * (i == 0 || i == n ? 1.0 : i % 2 ? 4.0 : 2.0);
  }
  return s * h / 3.0;
}

static int open_target(const char *flow, pf_config **cfg, pf_target **t)
{
  int rc = pf_test_target(flow, cfg, t);
  if (rc < 0)
    fprintf(stderr, "    %s: %s\n%s", flow, pf_error_message(),
            pf_error_trace());
  return rc;
}

static int many_well_log_z(void)
{
  pf_config *cfg;
  pf_target *t;
  double lz;
  const double log_2pi = log(2 * M_PI);
  PF_T_OK(open_target("{name: many_well, dim: 5, m: 5, delta: 4}", &cfg, &t));
  PF_T_OK(pf_target_log_z(t, &lz));
  /* Our Simpson value, then the issue's -0.5410555 (= 5 log 0.8974381,
   * seven decimals; scipy's adaptive quad gives Z1 = 0.8974381249323). */
  PF_T_NEAR(lz, 5 * log(simpson_well(1, 4, 0, 0)), 1e-12);
  PF_T_NEAR(lz, -0.5410555, 5e-8);
  PF_T_NEAR(lz, 5 * log(0.8974381249323021), 1e-12);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  /* "mw_50d" of the learned-diffusion benchmarks: 42.8172 (4 decimals). */
  PF_T_OK(open_target("{name: many_well, dim: 50, m: 5, delta: 2}", &cfg, &t));
  PF_T_OK(pf_target_log_z(t, &lz));
  PF_T_NEAR(lz, 5 * log(simpson_well(1, 2, 0, 0)) + 22.5 * log_2pi, 1e-11);
  PF_T_NEAR(lz, 42.8172, 5e-5);
  /* Moments: the well coordinates' variance is the quadrature ratio. */
  double *C = malloc(50 * 50 * sizeof(double)), *m = malloc(50 * sizeof(double));
  PF_T_ASSERT(C && m, "alloc");
  PF_T_OK(pf_target_moments(t, m, C));
  double v = simpson_well(1, 2, 0, 2) / simpson_well(1, 2, 0, 0);
  PF_T_NEAR(C[0], v, 1e-12 * v);
  PF_T_NEAR(C[4 * 50 + 4], v, 1e-12 * v);
  PF_T_NEAR(C[5 * 50 + 5], 1.0, 0.0);
  PF_T_NEAR(C[1], 0.0, 0.0);
  free(C);
  free(m);
  /* Other well shapes: deep narrow wells and a single (delta < 0) well. */
  const double deltas[2] = {30.0, -5.0};
  for (int i = 0; i < 2; i++) {
    pf_config *c2;
    pf_target *t2;
    char flow[96];
    double l2;
    snprintf(flow, sizeof flow, "{name: many_well, dim: 3, m: 2, delta: %g}",
             deltas[i]);
    PF_T_OK(open_target(flow, &c2, &t2));
    PF_T_OK(pf_target_log_z(t2, &l2));
    PF_T_NEAR(l2, 2 * log(simpson_well(1, deltas[i], 0, 0)) + 0.5 * log_2pi,
              1e-11);
    pf_target_destroy(&t2);
    pf_config_destroy(&c2);
  }
  /* Values: log rho and score at one point, by hand. */
  double x[50] = {1.0, -2.0, 0.5}, lp, g[50];
  x[7] = 3.0;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  /* (1-2)^2 + (4-2)^2 + (0.25-2)^2 + 2 * (0-2)^2 = 1 + 4 + 3.0625 + 8 */
  PF_T_NEAR(lp, -(1 + 4 + 3.0625 + 8) - 4.5, 1e-12);
  PF_T_NEAR(g[0], -4.0 * 1.0 * (1.0 - 2.0), 1e-12);
  PF_T_NEAR(g[1], -4.0 * -2.0 * (4.0 - 2.0), 1e-12);
  PF_T_NEAR(g[7], -3.0, 0.0);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

static int double_well_log_z(void)
{
  static const struct {
    const char *flow;
    double a, delta, c;
    int d;
  } cases[] = {
      {"{name: double_well}", 1, 2, 1.5, 1},
      {"{name: double_well, dim: 3, a: 2, delta: 1.5, shift: 0.5}", 2, 1.5,
       0.5, 3},
      {"{name: double_well, a: 3, delta: 0.2, shift: -1}", 3, 0.2, -1, 1},
      {"{name: double_well, a: 1, delta: -1, shift: 0}", 1, -1, 0, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pf_config *cfg;
    pf_target *t;
    double lz, mean[3], cov[9];
    PF_T_OK(open_target(cases[i].flow, &cfg, &t));
    PF_T_OK(pf_target_log_z(t, &lz));
    double z = simpson_well(cases[i].a, cases[i].delta, cases[i].c, 0);
    double v = simpson_well(cases[i].a, cases[i].delta, cases[i].c, 2) / z;
    PF_T_NEAR(lz, log(z) + 0.5 * (cases[i].d - 1) * log(2 * M_PI), 1e-12);
    PF_T_OK(pf_target_moments(t, mean, cov));
    PF_T_NEAR(mean[0], cases[i].c, 0.0);
    PF_T_NEAR(cov[0], v, 1e-12 * v);
    /* The defaults are "dw_shift" of the learned-diffusion benchmarks,
     * log Z = 0.29300 (5 decimals). */
    if (i == 0) PF_T_NEAR(lz, 0.29300, 5e-6);
    pf_target_destroy(&t);
    pf_config_destroy(&cfg);
  }
  return 0;
}

/* Kolmogorov-Smirnov at 801 grid points: the 1-D rejection sampler against
 * the CDF of exp(-a((x - c)^2 - delta)^2) by cumulative Simpson-free
 * trapezoid on a 2e-5 grid (error < 1e-9).  The largest deviation over the
 * grid is at most the KS statistic D_n, and P(D_n > 1.95 / sqrt(n)) ~ 0.001
 * for exact draws; envelopes of every kind are exercised: two wells
 * (delta = 2), centred (delta = 0.2 with a = 3 gives sqrt(a) delta = 0.35,
 * and delta = -1). */
static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int double_well_sampler_ks(void)
{
  static const struct {
    const char *flow;
    double a, delta, c;
  } cases[] = {
      {"{name: double_well}", 1, 2, 1.5},
      {"{name: double_well, a: 3, delta: 0.2, shift: -1}", 3, 0.2, -1},
      {"{name: double_well, a: 1, delta: -1, shift: 0}", 1, -1, 0},
      {"{name: double_well, a: 1, delta: 9, shift: 0}", 1, 9, 0},
  };
  const size_t n = 100000, ng = 1000000;
  double *X = malloc(n * sizeof(double)), *F = malloc((ng + 1) * sizeof(double));
  PF_T_ASSERT(X && F, "alloc");
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    pf_config *cfg;
    pf_target *t;
    pf_rng r;
    PF_T_OK(open_target(cases[ci].flow, &cfg, &t));
    pf_rng_stream(&r, 5, ci);
    PF_T_OK(pf_target_sample(t, &r, n, X));
    qsort(X, n, sizeof(double), cmp_double);
    const double a = cases[ci].a, dl = cases[ci].delta, c = cases[ci].c;
    const double lo = c - 10.0, h = 20.0 / (double)ng;
    double prev = 0.0;
    F[0] = 0.0;
    for (size_t i = 1; i <= ng; i++) {
      double x = lo + (double)i * h, y = (x - c) * (x - c) - dl;
      double f = exp(-a * y * y);
      F[i] = F[i - 1] + 0.5 * h * (prev + f);
      prev = f;
    }
    double dmax = 0.0;
    size_t j = 0;
    for (size_t gi = 0; gi <= 800; gi++) {
      double x = c - 4.0 + 0.01 * (double)gi;
      while (j < n && X[j] <= x) j++;
      double Fx = F[(size_t)llround((x - lo) / h)] / F[ng];
      dmax = fmax(dmax, fabs((double)j / (double)n - Fx));
    }
    PF_T_ASSERT(dmax <= 1.95 / sqrt((double)n),
                "%s: KS distance %.4g > %.4g", cases[ci].flow, dmax,
                1.95 / sqrt((double)n));
    pf_target_destroy(&t);
    pf_config_destroy(&cfg);
  }
  free(X);
  free(F);
  return 0;
}

/* E x_0^2 = sigma^2 = 9 for the benchmark funnel (dim 10, sigma 3):
 * x_0^2 / 9 is chi-square(1), so the mean of n draws has standard error
 * sqrt(2 * 81 / n); 5 of them.  The conditional law is checked through
 * x_i^2 e^{-x_0} ~ chi-square(1), iid over i and draws (9n values, standard
 * error sqrt(2 / 9n)).  E x_i^2 = e^{4.5} itself is not tested: its
 * estimator's variance e^{18} makes a 5-sigma band wider than the value. */
static int funnel_moments(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_rng r;
  const size_t n = 200000, d = 10;
  double *X = malloc(n * d * sizeof(double));
  PF_T_ASSERT(X, "alloc");
  PF_T_OK(open_target("{name: funnel}", &cfg, &t));
  PF_T_ASSERT(pf_target_dim(t) == 10, "default dim %zu", pf_target_dim(t));
  pf_rng_stream(&r, 17, 0);
  PF_T_OK(pf_target_sample(t, &r, n, X));
  double s0 = 0.0, s2 = 0.0, sc = 0.0;
  for (size_t i = 0; i < n; i++) {
    double x0 = X[i * d];
    s0 += x0;
    s2 += x0 * x0;
    for (size_t k = 1; k < d; k++) sc += X[i * d + k] * X[i * d + k] * exp(-x0);
  }
  PF_T_NEAR(s2 / n, 9.0, 5 * sqrt(162.0 / n));
  PF_T_NEAR(s0 / n, 0.0, 5 * 3.0 / sqrt((double)n));
  PF_T_NEAR(sc / (9.0 * n), 1.0, 5 * sqrt(2.0 / (9.0 * n)));
  double m[10], C[100], lz;
  PF_T_OK(pf_target_moments(t, m, C));
  PF_T_NEAR(C[0], 9.0, 0.0);
  PF_T_NEAR(C[11], exp(4.5), 1e-12 * exp(4.5));
  PF_T_OK(pf_target_log_z(t, &lz));
  PF_T_NEAR(lz, 0.0, 0.0);
  /* log p at (x_0, x_i) = (1, 0.5 each) by hand. */
  double x[10] = {1.0}, lp, g[10];
  for (size_t k = 1; k < d; k++) x[k] = 0.5;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  double want = -0.5 * log(2 * M_PI * 9) - 1.0 / 18 +
                9 * (-0.5 * log(2 * M_PI * exp(1.0)) - 0.125 * exp(-1.0));
  PF_T_NEAR(lp, want, 1e-12);
  PF_T_NEAR(g[0], -1.0 / 9 + 0.5 * 9 * 0.25 * exp(-1.0) - 4.5, 1e-12);
  PF_T_NEAR(g[3], -0.5 * exp(-1.0), 1e-15);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  free(X);
  return 0;
}

/* Trapezoid rule of exp(log p) over [-12, 12]^2 with h = 0.02: for
 * Gaussian bumps of standard deviation >= 0.3 the rule's error is of order
 * exp(-2 pi^2 sigma^2 / h^2) < e^-4000 and the mass outside the square is
 * below e^-80 (modes at |x_i| <= 5, >= 22 sd from the edge), so the integral
 * must be 1 to rounding (1e-10 allowed for the 1.4e6-term sum). */
static int gmm_presets_log_z(void)
{
  const char *flows[] = {"{name: gmm, preset: grid9}",
                         "{name: gmm, preset: ring8}"};
  const double var[] = {0.3 + 50.0 / 3.0, 0.1 + 12.5};
  const size_t ng = 1201;
  double *X = malloc(ng * 2 * sizeof(double)), *lp = malloc(ng * sizeof(double));
  PF_T_ASSERT(X && lp, "alloc");
  for (int p = 0; p < 2; p++) {
    pf_config *cfg;
    pf_target *t;
    double lz, m[2], C[4];
    PF_T_OK(open_target(flows[p], &cfg, &t));
    PF_T_ASSERT(pf_target_dim(t) == 2, "dim");
    PF_T_OK(pf_target_log_z(t, &lz));
    PF_T_NEAR(lz, 0.0, 0.0);
    double s = 0.0;
    for (size_t i = 0; i < ng; i++) {
      for (size_t j = 0; j < ng; j++) {
        X[2 * j] = -12.0 + 0.02 * (double)i;
        X[2 * j + 1] = -12.0 + 0.02 * (double)j;
      }
      PF_T_OK(pf_target_logp_grad(t, ng, X, lp, NULL));
      for (size_t j = 0; j < ng; j++) s += exp(lp[j]);
    }
    PF_T_NEAR(s * 0.02 * 0.02, 1.0, 1e-10);
    /* Mixture moments: the modes' spread plus the component variance. */
    PF_T_OK(pf_target_moments(t, m, C));
    PF_T_NEAR(m[0], 0.0, 1e-14);
    PF_T_NEAR(m[1], 0.0, 1e-14);
    PF_T_NEAR(C[0], var[p], 1e-12);
    PF_T_NEAR(C[3], var[p], 1e-12);
    PF_T_NEAR(C[1], 0.0, 1e-12);
    /* A mode: grid9 has one at (5, -5), ring8 at (5 cos 45deg, ...). */
    double x[2] = {5.0, -5.0}, g[2], l;
    if (p == 1) x[0] = x[1] = 5.0 * sqrt(0.5);
    PF_T_OK(pf_target_logp_grad(t, 1, x, &l, g));
    PF_T_ASSERT(fabs(g[0]) < 1e-12 && fabs(g[1]) < 1e-12,
                "%s: score at a mode (%g, %g)", flows[p], g[0], g[1]);
    double vc = p == 0 ? 0.3 : 0.1, K = p == 0 ? 9 : 8;
    PF_T_NEAR(l, -log(K) - log(2 * M_PI * vc), 1e-12);
    pf_target_destroy(&t);
    pf_config_destroy(&cfg);
  }
  free(X);
  free(lp);
  return 0;
}

/* The mixture with a shared full covariance (not the conformance example):
 * exact draws against the analytic mixture moments within 5 standard
 * errors estimated from the draws, and the score against central
 * differences (rule as in the conformance suite). */
static int gmm_full_cov_moments(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_rng r;
  const size_t n = 200000, d = 3;
  PF_T_OK(open_target("{name: gmm, weights: [0.2, 0.5, 0.3], means: [[0, 0, "
                      "0], [3, -1, 2], [-2, 2, 1]], cov: [[1.0, 0.4, 0.1], "
                      "[0.4, 0.8, -0.2], [0.1, -0.2, 0.5]]}", &cfg, &t));
  double *X = malloc(n * d * sizeof(double)), *v = malloc(n * sizeof(double));
  double m[3], C[9], em[3], eC[9];
  PF_T_ASSERT(X && v, "alloc");
  pf_rng_stream(&r, 19, 2);
  PF_T_OK(pf_target_sample(t, &r, n, X));
  PF_T_OK(pf_target_moments(t, m, C));
  /* Analytic: mean = 0.2*0 + 0.5*(3,-1,2) + 0.3*(-2,2,1) = (0.9, 0.1, 1.3). */
  PF_T_NEAR(m[0], 0.9, 1e-14);
  PF_T_NEAR(m[1], 0.1, 1e-14);
  PF_T_NEAR(m[2], 1.3, 1e-14);
  pf_test_moments(n, d, X, em, eC);
  for (size_t k = 0; k < d; k++) {
    double se = sqrt(C[k * d + k] / n);
    PF_T_NEAR(em[k], m[k], 5 * se);
    for (size_t j = 0; j < d; j++) {
      double s = 0.0, ss = 0.0;
      for (size_t i = 0; i < n; i++) {
        v[i] = (X[i * d + k] - em[k]) * (X[i * d + j] - em[j]);
        s += v[i];
      }
      s /= n;
      for (size_t i = 0; i < n; i++) ss += (v[i] - s) * (v[i] - s);
      PF_T_NEAR(eC[k * d + j], C[k * d + j], 5 * sqrt(ss / (n - 1.0) / n));
    }
  }
  /* Score vs central differences at a few draws. */
  for (size_t i = 0; i < 5; i++) {
    double *x = X + i * d, lp, g[3], row[3];
    PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
    for (size_t k = 0; k < d; k++) {
      double h = 1e-5 * fmax(1.0, fabs(x[k])), hi, lo;
      memcpy(row, x, sizeof row);
      row[k] += h;
      PF_T_OK(pf_target_logp_grad(t, 1, row, &hi, NULL));
      row[k] -= 2 * h;
      PF_T_OK(pf_target_logp_grad(t, 1, row, &lo, NULL));
      PF_T_NEAR((hi - lo) / (2 * h), g[k],
                1e-6 * fmax(1.0, fabs(g[k])) + 2.2e-14 * (1 + fabs(lp)) / h);
    }
  }
  free(X);
  free(v);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* Far from every mode (|x| ~ 1e3 and 1e5) log p and the score stay finite
 * and equal the nearest component's: the other responsibilities are
 * below e^-1000. */
static int gmm_far_from_modes(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(open_target("{name: gmm, preset: grid9}", &cfg, &t));
  const double xs[3][2] = {{1e3, -1e3}, {-1e5, 3e4}, {1e3, 5.0}};
  const double near[3][2] = {{5, -5}, {-5, 5}, {5, 5}};
  for (int i = 0; i < 3; i++) {
    double lp, g[2];
    PF_T_OK(pf_target_logp_grad(t, 1, xs[i], &lp, g));
    double r0 = xs[i][0] - near[i][0], r1 = xs[i][1] - near[i][1];
    PF_T_ASSERT(isfinite(lp) && isfinite(g[0]) && isfinite(g[1]),
                "non-finite at (%g, %g)", xs[i][0], xs[i][1]);
    double want = -log(9.0) - log(2 * M_PI * 0.3) - 0.5 * (r0 * r0 + r1 * r1) / 0.3;
    PF_T_NEAR(lp, want, 1e-12 * fabs(want));
    PF_T_NEAR(g[0], -r0 / 0.3, 1e-12 * fabs(r0 / 0.3));
    PF_T_NEAR(g[1], -r1 / 0.3, 1e-12 * (1 + fabs(r1 / 0.3)));
  }
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  PF_T_OK(open_target("{name: gmm, means: [[0, 0], [1, 1]], cov: [[1, 0.5], "
                      "[0.5, 2]]}", &cfg, &t));
  double x[2] = {-1e3, 1e3}, lp, g[2];
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  PF_T_ASSERT(isfinite(lp) && isfinite(g[0]) && isfinite(g[1]), "full cov");
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* Banana: log p by hand and the closed-form moments. */
static int banana_values(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(open_target("{name: banana}", &cfg, &t));
  PF_T_ASSERT(pf_target_dim(t) == 2, "default dim");
  double x[2] = {10.0, 3.0}, lp, g[2], m[2], C[4];
  /* y = (10, 3 + 0.1 * 100 - 10) = (10, 3) */
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  PF_T_NEAR(lp, -log(2 * M_PI) - 0.5 * log(100.0) - 0.5 * (1.0 + 9.0), 1e-12);
  PF_T_NEAR(g[0], -0.1 - 2 * 0.1 * 10 * 3, 1e-12);
  PF_T_NEAR(g[1], -3.0, 0.0);
  PF_T_OK(pf_target_moments(t, m, C));
  PF_T_NEAR(C[0], 100.0, 0.0);
  PF_T_NEAR(C[3], 201.0, 1e-12); /* 1 + 2 b^2 s^2 */
  PF_T_NEAR(C[1], 0.0, 0.0);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

static int expect_error(const char *flow, const char *key, const char *what)
{
  pf_config *cfg = NULL;
  pf_target *t = NULL;
  int rc = pf_test_target(flow, &cfg, &t);
  if (rc == 0) {
    pf_target_destroy(&t);
    pf_config_destroy(&cfg);
  }
  PF_T_ASSERT(rc == PF_ECONFIG, "%s: rc %d", flow, rc);
  PF_T_ASSERT(strstr(pf_error_message(), key) &&
                  (!what || strstr(pf_error_message(), what)),
              "%s: message '%s' lacks '%s' / '%s'", flow, pf_error_message(),
              key, what ? what : "");
  return 0;
}

static int config_errors(void)
{
  int bad = 0;
  bad |= expect_error("{name: gmm, weights: [1, 0], means: [[0], [1]]}",
                      "target.weights", "positive");
  bad |= expect_error("{name: gmm, weights: [1, -2], means: [[0], [1]]}",
                      "target.weights", "positive");
  bad |= expect_error("{name: gmm, weights: [1, 2, 3], means: [[0], [1]]}",
                      "target.weights", "expected 2 weights");
  bad |= expect_error("{name: gmm, means: [[0, 0], [1, 1]], cov_diag: [[1, "
                      "1, 1]]}", "target.cov_diag", "2 x 2");
  bad |= expect_error("{name: gmm, means: [[0, 0], [1, 1]], cov_diag: [[1, "
                      "-1]]}", "target.cov_diag", "positive");
  bad |= expect_error("{name: gmm, means: [[0, 0]], cov: [[1, 2], [2, 1]]}",
                      "target.cov", "positive definite");
  bad |= expect_error("{name: gmm, means: [[0, 0]], cov: [[1, 0], [0, 1], "
                      "[0, 0]]}", "target.cov", "2 x 2");
  bad |= expect_error("{name: gmm, means: [[0, 0]], var: [1], cov: [[1, 0], "
                      "[0, 1]]}", "target.cov", "only one");
  bad |= expect_error("{name: gmm, means: [[0, 0]], var: [1, 2]}",
                      "target.var", "expected 1 variances");
  bad |= expect_error("{name: gmm, preset: grid9, means: [[0, 0]]}",
                      "target.means", "preset");
  bad |= expect_error("{name: gmm, preset: ring9}", "target.preset", NULL);
  bad |= expect_error("{name: gmm}", "means", NULL);
  bad |= expect_error("{name: many_well, dim: 3, m: 4}", "target.m",
                      "m <= dim");
  bad |= expect_error("{name: banana, dim: 1}", "target.dim", NULL);
  bad |= expect_error("{name: funnel, sigma: 0}", "target.sigma", NULL);
  bad |= expect_error("{name: double_well, a: -1}", "target.a", NULL);
  return bad;
}

const pf_test_case pf_tests_targets_known[] = {
    {"many_well_log_z", many_well_log_z},
    {"double_well_log_z", double_well_log_z},
    {"double_well_sampler_ks", double_well_sampler_ks},
    {"funnel_moments", funnel_moments},
    {"gmm_presets_log_z", gmm_presets_log_z},
    {"gmm_full_cov_moments", gmm_full_cov_moments},
    {"gmm_far_from_modes", gmm_far_from_modes},
    {"banana_values", banana_values},
    {"config_errors", config_errors},
    {NULL, NULL}};
