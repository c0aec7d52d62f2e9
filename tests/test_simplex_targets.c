/* Targets on constrained domains: dirichlet (exact sampler, faces, dual
 * coordinates), quadratic_simplex (the shipped matrix), uniform,
 * truncated_gaussian (rejection, exact Gibbs, far tails), config errors.
 *
 * Monte Carlo tolerances are 5 standard errors (a false failure has
 * probability < 1e-6 per check), with the standard error estimated from the
 * same draws: sd / sqrt(n) for means, sqrt((m4 - var^2) / n) for variances,
 * batch means for the Gibbs chain (see tg_2d_orthant_gibbs). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"

extern const pf_target_ops pf_target_dirichlet;
int pf__dirichlet_sample_log(const double *alpha, size_t D, pf_rng *rng,
                             size_t n, double *logtheta);

/* ---- helpers ---------------------------------------------------------------- */

static const double LN2 = 0.69314718055994530942;

/* digamma and trigamma: recurrence up to x >= 10, then the asymptotic
 * series (Abramowitz & Stegun 6.3.18, 6.4.12); ~1e-13 absolute. */
static double digamma(double x)
{
  double r = 0.0;
  while (x < 10.0) r -= 1.0 / x, x += 1.0;
  double f = 1.0 / (x * x);
  return r + log(x) - 0.5 / x -
         f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

static double trigamma(double x)
{
  double r = 0.0;
  while (x < 10.0) r += 1.0 / (x * x), x += 1.0;
  double f = 1.0 / (x * x);
  return r + 1.0 / x + 0.5 * f +
         f / x * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f / 30)));
}

/* Mean, variance and their standard errors of column k of n x d rows. */
typedef struct col_stats {
  double mean, var, se_mean, se_var;
} col_stats;

static col_stats column(const double *X, size_t n, size_t d, size_t k)
{
  col_stats s;
  double m = 0.0, v = 0.0, m4 = 0.0;
  for (size_t i = 0; i < n; i++) m += X[i * d + k];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) {
    double r = X[i * d + k] - m;
    v += r * r;
    m4 += r * r * r * r;
  }
  v /= (double)(n - 1);
  m4 /= (double)n;
  s.mean = m;
  s.var = v;
  s.se_mean = sqrt(v / (double)n);
  s.se_var = sqrt((m4 - v * v) / (double)n);
  return s;
}

static int all_finite(const double *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* ---- dirichlet -------------------------------------------------------------- */

static int dirichlet_exact_moments(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: dirichlet, alpha: [2, 3, 5]}", &cfg, &t));
  PF_T_ASSERT(pf_target_dim(t) == 2, "dim %zu", pf_target_dim(t));
  PF_T_ASSERT(strcmp(pf_target_sample_method(t), "exact") == 0, "method");
  PF_T_ASSERT(strcmp(pf_domain_name(pf_target_domain(t)), "simplex") == 0,
              "domain");
  /* Analytic: mean alpha / 10, var alpha (10 - alpha) / (100 * 11). */
  const double mean[3] = {0.2, 0.3, 0.5};
  const double var[3] = {0.014545454545454545, 0.019090909090909091,
                         0.022727272727272728};
  double m[2], C[4], lz;
  PF_T_OK(pf_target_moments(t, m, C));
  PF_T_NEAR(m[0], mean[0], 1e-15);
  PF_T_NEAR(m[1], mean[1], 1e-15);
  PF_T_NEAR(C[0], var[0], 1e-15);
  PF_T_NEAR(C[3], var[1], 1e-15);
  PF_T_NEAR(C[1], -2.0 * 3.0 / 1100.0, 1e-15);
  PF_T_OK(pf_target_log_z(t, &lz));
  PF_T_NEAR(lz, 0.0, 0.0);
  /* Normalization: at theta = (0.2, 0.3, 0.5), p = theta1 theta2^2
   * theta3^4 / B(2,3,5), B = 1! 2! 4! / 9! = 48 / 362880. */
  double x[2] = {0.2, 0.3}, lp;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, NULL));
  PF_T_NEAR(lp, log(0.2 * 0.09 * 0.0625 * 362880.0 / 48.0), 1e-12);

  const size_t n = 200000;
  double *X = malloc(n * 3 * sizeof(double)), *Y = malloc(n * 2 * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 2024, 1);
  PF_T_OK(pf_target_sample(t, &r, n, Y));
  for (size_t i = 0; i < n; i++) {
    X[3 * i] = Y[2 * i];
    X[3 * i + 1] = Y[2 * i + 1];
    X[3 * i + 2] = 1.0 - Y[2 * i] - Y[2 * i + 1];
  }
  for (size_t k = 0; k < 3; k++) {
    col_stats s = column(X, n, 3, k);
    PF_T_NEAR(s.mean, mean[k], 5 * s.se_mean);
    PF_T_NEAR(s.var, var[k], 5 * s.se_var);
  }
  free(X);
  free(Y);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* sparse20 near faces: logp and gradient finite and equal to the formula. */
static int sparse20_faces(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: dirichlet, preset: sparse20}", &cfg, &t));
  const size_t d = 19, D = 20;
  PF_T_ASSERT(pf_target_dim(t) == d, "dim %zu", pf_target_dim(t));
  double al[20], A = 0.0, logB = 0.0;
  for (size_t i = 0; i < D; i++) al[i] = 0.1 + (i == 0 ? 90 : i < 3 ? 5 : 0);
  for (size_t i = 0; i < D; i++) A += al[i], logB += lgamma(al[i]);
  logB -= lgamma(A);

  /* (1) theta_i = 1e-300 for i in {4, 7, 12, 19} (1-based), the rest of the
   * mass spread so theta_D = 0.1. */
  double x[19], lp, g[19], lt[20];
  for (size_t k = 0; k < d; k++) x[k] = 0.9 / 15.0;
  const size_t tiny[4] = {3, 6, 11, 18};
  for (size_t j = 0; j < 4; j++) x[tiny[j]] = 1e-300;
  double s = 0.0;
  for (size_t k = 0; k < d; k++) s += x[k];
  for (size_t k = 0; k < d; k++) lt[k] = log(x[k]);
  lt[d] = log1p(-s);
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  double want = -logB;
  for (size_t i = 0; i < D; i++) want += (al[i] - 1) * lt[i];
  PF_T_ASSERT(isfinite(lp) && all_finite(g, d), "lp %g", lp);
  PF_T_NEAR(lp, want, 1e-12 * fabs(want));
  for (size_t k = 0; k < d; k++) {
    double gk = (al[k] - 1) / x[k] - (al[d] - 1) / exp(lt[d]);
    PF_T_NEAR(g[k], gk, 1e-12 * fabs(gk));
  }

  /* (2) theta_D = 2^-1007 (~7e-304) implied exactly by the reduced
   * coordinates: theta_j = 2^(-53(j-1)) (1 - 2^-53) telescopes to
   * 1 - 2^-1007.  A plain sum would give 0 or 1e-16-sized noise. */
  for (size_t j = 0; j < d; j++) {
    x[j] = ldexp(1.0 - ldexp(1.0, -53), -53 * (int)j);
    lt[j] = -53.0 * (double)j * LN2 + log1p(-ldexp(1.0, -53));
  }
  lt[d] = -1007.0 * LN2;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  want = -logB;
  for (size_t i = 0; i < D; i++) want += (al[i] - 1) * lt[i];
  PF_T_ASSERT(isfinite(lp) && all_finite(g, d), "lp %g", lp);
  PF_T_NEAR(lp, want, 1e-12 * fabs(want));
  double gD = (al[d] - 1) / ldexp(1.0, -1007);
  PF_T_NEAR(g[0], (al[0] - 1) / x[0] - gD, 1e-12 * fabs(gD));
  /* (2b) theta_D = 2^-50 - 17e-300 (~8.9e-16, where a compensated sum
   * alone is not trusted): the gradient's last-coordinate term. */
  for (size_t k = 0; k < d; k++) x[k] = 1e-300;
  x[0] = 0.5;
  x[1] = 0.5 - ldexp(1.0, -50);
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  gD = (al[d] - 1) / ldexp(1.0, -50);
  PF_T_NEAR(g[0], (al[0] - 1) / 0.5 - gD, 1e-13 * fabs(gD));

  /* (3) exact zeros (as Euclidean projection makes) and a subnormal:
   * finite (evaluated at the floor); clearly outside: -inf, zero grad. */
  for (size_t k = 0; k < d; k++) x[k] = 0.05;
  x[2] = 0.0;
  x[5] = 4e-320;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  PF_T_ASSERT(isfinite(lp) && all_finite(g, d), "lp %g on a face", lp);
  x[5] = -1e-3;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  PF_T_ASSERT(lp == -INFINITY && g[0] == 0.0, "outside: lp %g", lp);

  /* (4) dual coordinates at extreme eta: finite, and the score is
   * alpha_{1:D-1} - A theta. */
  double eta[3 * 19], X[3 * 19], lpd[3], gd[3 * 19];
  pf_rng r;
  pf_rng_stream(&r, 99, 0);
  pf_rng_normal(&r, 3 * d, eta);
  eta[0] = 700.0, eta[1] = -1e4, eta[2] = -700.0;
  eta[d + 5] = -1e4, eta[d + 6] = -700.0;
  eta[2 * d + 0] = -1e4, eta[2 * d + 18] = 700.0, eta[2 * d + 9] = -1e4;
  PF_T_OK(pf_target_logp_grad_dual(t, 3, eta, X, lpd, gd));
  PF_T_ASSERT(all_finite(lpd, 3) && all_finite(gd, 3 * d) && all_finite(X, 3 * d),
              "dual not finite: %g %g %g", lpd[0], lpd[1], lpd[2]);
  for (size_t i = 0; i < 3; i++)
    for (size_t k = 0; k < d; k++)
      PF_T_NEAR(gd[i * d + k], al[k] - A * X[i * d + k], 1e-12 * A);
  /* log p_H against an independent evaluation: lse([eta, 0]) by sorting
   * is not needed, the max is 700 or 0; sum alpha_i (eta_i - lse). */
  for (size_t i = 0; i < 3; i++) {
    const double *e = eta + i * d;
    double m = 0.0, z = 0.0;
    for (size_t k = 0; k < d; k++) m = e[k] > m ? e[k] : m;
    for (size_t k = 0; k < d; k++) z += exp(e[k] - m);
    double lse = m + log(z + exp(-m)), w = -logB - al[d] * lse;
    for (size_t k = 0; k < d; k++) w += al[k] * (e[k] - lse);
    PF_T_NEAR(lpd[i], w, 1e-12 * fabs(w));
  }

  /* (5) the generic composition through the simplex mirror map (a copy of
   * the ops without logp_grad_dual) agrees at moderate points. */
  pf_target_ops ops2 = pf_target_dirichlet;
  ops2.logp_grad_dual = NULL;
  pf_target *t2;
  PF_T_OK(pf_target_create_ops(&ops2, pf_node_get(pf_config_root(cfg), "target"),
                               &t2));
  const size_t nm = 16;
  double *E = malloc(nm * d * sizeof(double)), *X1 = malloc(nm * d * sizeof(double));
  double *X2 = malloc(nm * d * sizeof(double)), *G1 = malloc(nm * d * sizeof(double));
  double *G2 = malloc(nm * d * sizeof(double)), L1[16], L2[16];
  pf_rng_normal(&r, nm * d, E);
  for (size_t i = 0; i < nm * d; i++) E[i] *= 2.0;
  PF_T_OK(pf_target_logp_grad_dual(t, nm, E, X1, L1, G1));
  PF_T_OK(pf_target_logp_grad_dual(t2, nm, E, X2, L2, G2));
  for (size_t i = 0; i < nm; i++) {
    PF_T_NEAR(L1[i], L2[i], 1e-10 * fabs(L1[i]));
    for (size_t k = 0; k < d; k++) {
      PF_T_NEAR(X1[i * d + k], X2[i * d + k], 1e-13 * X1[i * d + k]);
      PF_T_NEAR(G1[i * d + k], G2[i * d + k], 1e-10 * (1.0 + fabs(G1[i * d + k])));
    }
  }
  free(E);
  free(X1);
  free(X2);
  free(G1);
  free(G2);
  pf_target_destroy(&t2);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* E log theta_i = digamma(alpha_i) - digamma(A); Var log theta_i =
 * trigamma(alpha_i) - trigamma(A) gives the standard error. */
static int check_log_moments(const double *lt, size_t n, size_t D,
                             const double *al)
{
  double A = 0.0;
  for (size_t k = 0; k < D; k++) A += al[k];
  for (size_t k = 0; k < D; k++) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += lt[i * D + k];
    double want = digamma(al[k]) - digamma(A);
    double se = sqrt((trigamma(al[k]) - trigamma(A)) / (double)n);
    PF_T_NEAR(s / (double)n, want, 5 * se);
  }
  return 0;
}

static int dirichlet_small_alpha(void)
{
  /* Primal draws, alpha = 0.1: never an exact zero, log theta finite. */
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: dirichlet, alpha: [0.1, 0.1, 0.1, 0.1]}",
                         &cfg, &t));
  const size_t n = 100000, d = 3;
  double *Y = malloc(n * d * sizeof(double)), *L = malloc(n * 20 * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 5, 5);
  PF_T_OK(pf_target_sample(t, &r, n, Y));
  for (size_t i = 0; i < n * d; i++) {
    PF_T_ASSERT(Y[i] > 0.0 && isfinite(log(Y[i])), "draw %zu is %g", i, Y[i]);
    Y[i] = log(Y[i]);
  }
  double A = 0.4;
  for (size_t k = 0; k < d; k++) {
    col_stats s = column(Y, n, d, k);
    PF_T_NEAR(s.mean, digamma(0.1) - digamma(A),
              5 * sqrt((trigamma(0.1) - trigamma(A)) / (double)n));
  }
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);

  /* Log-space draws: sparse20 and alpha = 1e-3, where U^(1/alpha) in
   * linear space would be exactly 0 for a large share of draws. */
  double al[20];
  for (size_t i = 0; i < 20; i++) al[i] = 0.1 + (i == 0 ? 90 : i < 3 ? 5 : 0);
  PF_T_OK(pf__dirichlet_sample_log(al, 20, &r, n, L));
  PF_T_ASSERT(all_finite(L, n * 20), "non-finite log theta");
  if (check_log_moments(L, n, 20, al)) return 1;
  const double tiny[3] = {1e-3, 1e-3, 1.0};
  PF_T_OK(pf__dirichlet_sample_log(tiny, 3, &r, n, L));
  PF_T_ASSERT(all_finite(L, n * 3), "non-finite log theta");
  size_t under = 0;
  for (size_t i = 0; i < n; i++) under += L[3 * i] < -745.2;
  PF_T_ASSERT(under > n / 3, "only %zu of %zu draws below the double range",
              under, n);
  if (check_log_moments(L, n, 3, tiny)) return 1;
  free(Y);
  free(L);
  return 0;
}

/* ---- quadratic_simplex ---------------------------------------------------- */

static int quadratic_simplex_preset(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: quadratic_simplex, preset: shi2022}", &cfg, &t));
  PF_T_ASSERT(pf_target_dim(t) == 19, "dim %zu", pf_target_dim(t));
  PF_T_ASSERT(!pf_target_sample_method(t), "no sampler expected");
  /* Reference values from numpy on data/quadratic_simplex_A.csv at theta =
   * (0.1, 0.2, 0, ..., 0, 0.3). */
  double x[19] = {0}, lp, g[19];
  x[0] = 0.1, x[1] = 0.2, x[18] = 0.3;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  PF_T_NEAR(lp, -275.6957643194954, 1e-11);
  PF_T_NEAR(g[0], -496.792118, 1e-6);
  PF_T_NEAR(g[1], -263.15172649, 1e-6);
  PF_T_NEAR(g[2], -275.32044195, 1e-6);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  /* The shipped file is what numpy seed 123 gives (provenance check). */
  int rc = pf_test_sh(
      "%s -c \"import numpy as np; np.random.seed(123); "
      "M = np.random.uniform(-1, 1, size=(19, 19)); A = M @ M.T; "
      "A /= np.abs(A).max(); "
      "B = np.loadtxt('data/quadratic_simplex_A.csv', delimiter=','); "
      "raise SystemExit(0 if (A == B).all() else 1)\"",
      pf_test_python());
  PF_T_ASSERT(rc == 0, "data/quadratic_simplex_A.csv differs from numpy (rc %d)",
              rc);
  /* Inline A and a file given by path. */
  PF_T_OK(pf_test_target("{name: quadratic_simplex, A: [[2, 1], [1, 4]], "
                         "sigma2: 2}", &cfg, &t));
  double y[2] = {0.25, 0.5};
  PF_T_OK(pf_target_logp_grad(t, 1, y, &lp, g));
  /* y'Ay = 2/16 + 2 * 0.125 + 4/4 = 1.375; logp = -1.375 / 4. */
  PF_T_NEAR(lp, -1.375 / 4.0, 1e-15);
  PF_T_NEAR(g[1], -(0.25 + 2.0) / 2.0, 1e-15);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  PF_T_OK(pf_test_target("{name: quadratic_simplex, "
                         "A_file: data/quadratic_simplex_A.csv}", &cfg, &t));
  PF_T_ASSERT(pf_target_dim(t) == 19, "dim");
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* ---- uniform -------------------------------------------------------------- */

/* Draws inside and matching the moments op (means and variances). */
static int check_uniform(const char *flow, double want_log_z)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target(flow, &cfg, &t));
  const size_t d = pf_target_dim(t), n = 100000;
  double lz, *m = malloc(d * sizeof(double)), *C = malloc(d * d * sizeof(double));
  double *X = malloc(n * d * sizeof(double)), *lp = malloc(n * sizeof(double));
  PF_T_OK(pf_target_log_z(t, &lz));
  PF_T_NEAR(lz, want_log_z, 1e-12);
  PF_T_ASSERT(strcmp(pf_target_sample_method(t), "exact") == 0, "method");
  PF_T_OK(pf_target_moments(t, m, C));
  pf_rng r;
  pf_rng_stream(&r, 31, 4);
  PF_T_OK(pf_target_sample(t, &r, n, X));
  PF_T_OK(pf_target_logp_grad(t, n, X, lp, NULL));
  for (size_t i = 0; i < n; i++)
    PF_T_ASSERT(lp[i] == 0.0, "draw %zu has logp %g", i, lp[i]);
  for (size_t k = 0; k < d; k++) {
    col_stats s = column(X, n, d, k);
    PF_T_NEAR(s.mean, m[k], 5 * s.se_mean);
    PF_T_NEAR(s.var, C[k * d + k], 5 * s.se_var);
  }
  free(m);
  free(C);
  free(X);
  free(lp);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

static int uniform_domains(void)
{
  if (check_uniform("{name: uniform, domain: {name: box, lower: [-1, 0], "
                    "upper: [1, 3]}}", log(6.0)))
    return 1;
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: uniform, domain: {name: box, lower: [-1, 0], "
                         "upper: [1, 3]}}", &cfg, &t));
  double m[2], C[4], out[2] = {1.5, 1.0}, lp, g[2];
  PF_T_OK(pf_target_moments(t, m, C));
  PF_T_NEAR(m[0], 0.0, 1e-15);
  PF_T_NEAR(m[1], 1.5, 1e-15);
  PF_T_NEAR(C[0], 1.0 / 3.0, 1e-15);
  PF_T_NEAR(C[3], 0.75, 1e-15);
  PF_T_OK(pf_target_logp_grad(t, 1, out, &lp, g));
  PF_T_ASSERT(lp == -INFINITY && g[0] == 0.0, "outside: %g", lp);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  /* Ball: volume pi^(3/2) r^3 / Gamma(5/2); simplex (reduced, D = 4):
   * 1/3!. */
  if (check_uniform("{name: uniform, domain: {name: ball, center: [1, -1, 0.5], "
                    "radius: 2}}", log(4.0 / 3.0 * M_PI * 8.0)))
    return 1;
  if (check_uniform("{name: uniform, domain: {name: simplex, dim: 3}}",
                    -log(6.0)))
    return 1;
  return 0;
}

/* ---- truncated_gaussian ------------------------------------------------------ */

/* 1-D: method, log_z and moments against references computed once with
 * mpmath at 50 digits (quadrature of the density shifted to the interval's
 * end; scipy.stats.truncnorm is off by up to 4e-10 relative here), then
 * draws against the moments. */
static int check_tg_1d(const char *flow, const char *method, double mu,
                       double sd, double ref_mean, double ref_var,
                       double ref_log_z)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target(flow, &cfg, &t));
  PF_T_ASSERT(strcmp(pf_target_sample_method(t), method) == 0, "%s: method %s",
              flow, pf_target_sample_method(t));
  double m, v, lz;
  PF_T_OK(pf_target_moments(t, &m, &v));
  PF_T_NEAR(m, mu + sd * ref_mean, 1e-13 * (1 + fabs(m)));
  PF_T_NEAR(v, sd * sd * ref_var, 1e-12 * v);
  PF_T_OK(pf_target_log_z(t, &lz));
  PF_T_NEAR(lz, ref_log_z, 1e-13 * (1 + fabs(lz)));
  const size_t n = 100000;
  double *X = malloc(n * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 77, 2);
  PF_T_OK(pf_target_sample(t, &r, n, X));
  col_stats s = column(X, n, 1, 0);
  PF_T_NEAR(s.mean, m, 5 * s.se_mean);
  PF_T_NEAR(s.var, v, 5 * s.se_var);
  free(X);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

static int tg_1d_moments(void)
{
  /* N(0.3, 1.5^2) on [-1, 2]: standardized [-0.8667, 1.1333]; rejection. */
  if (check_tg_1d("{name: truncated_gaussian, mean: 0.3, cov_diag: 2.25, "
                  "domain: {name: box, lower: -1, upper: 2}}",
                  "rejection", 0.3, 1.5, 0.09455206768622502,
                  0.29032899919112237, -0.3880174375535538))
    return 1;
  /* N(0, 1) on [5, 6]: pilot acceptance ~3e-7 -> Gibbs, which in 1-D draws
   * the 1-D truncated normal directly (iid). */
  if (check_tg_1d("{name: truncated_gaussian, mean: 0, "
                  "domain: {name: box, lower: 5, upper: 6}, gibbs_thin: 1}",
                  "gibbs", 0.0, 1.0, 5.183147090477173, 0.029452430768483057,
                  -15.068446096529453))
    return 1;
  /* Far beyond erfc's range: N(0, 1) on [40, 41]. */
  if (check_tg_1d("{name: truncated_gaussian, mean: 0, "
                  "domain: {name: box, lower: 40, upper: 41}, gibbs_thin: 1}",
                  "gibbs", 0.0, 1.0, 40.02496884720726,
                  0.0006226683785913863, -804.6084420137538))
    return 1;
  /* One-sided tail: N(-8, 1) on the half line [0, inf) (exponential
   * proposal), i.e. standardized [8, inf). */
  if (check_tg_1d("{name: truncated_gaussian, mean: -8, "
                  "domain: {name: orthant}, gibbs_thin: 1}",
                  "gibbs", -8.0, 1.0, 8.121368112236112, 0.014324883443340911,
                  -35.01343715991455))
    return 1;
  /* Narrow intervals, where the closed-form variance cancels: in a tail
   * (Gibbs) and around the mode (rejection, acceptance ~8e-4 forced). */
  if (check_tg_1d("{name: truncated_gaussian, mean: 0, "
                  "domain: {name: box, lower: 5, upper: 5.001}, gibbs_thin: 1}",
                  "gibbs", 0.0, 1.0, 5.000499583291854, 8.333322636822351e-08,
                  -20.329192936978384))
    return 1;
  if (check_tg_1d("{name: truncated_gaussian, mean: 0, method: gibbs, "
                  "domain: {name: box, lower: -0.001, upper: 0.001}, "
                  "gibbs_thin: 1}",
                  "gibbs", 0.0, 1.0, 0.0, 3.3333328888889104e-07,
                  -7.13354679829352))
    return 1;
  return 0;
}

/* A 2-D correlated normal restricted to a domain: Gibbs against rejection
 * on the first and second moments.  The Gibbs standard error uses batch
 * means: 100 batches of 1000 kept draws (thinning 2), each batch far longer
 * than the chain's autocorrelation time (a few sweeps here), so the batch
 * means are nearly independent and sd(batch means) / sqrt(100) estimates
 * the standard error including autocorrelation.  `base` is the flow
 * mapping without its closing brace. */
static int compare_gibbs_rejection(const char *base, int auto_rejects)
{
  char flow[768];
  pf_config *c1, *c2;
  pf_target *tg, *tr;
  snprintf(flow, sizeof flow, "%s, method: gibbs, gibbs_burnin: 100, "
           "gibbs_thin: 2}", base);
  PF_T_OK(pf_test_target(flow, &c1, &tg));
  snprintf(flow, sizeof flow, "%s, method: %s}", base,
           auto_rejects ? "auto" : "rejection");
  PF_T_OK(pf_test_target(flow, &c2, &tr));
  PF_T_ASSERT(strcmp(pf_target_sample_method(tg), "gibbs") == 0, "gibbs");
  PF_T_ASSERT(strcmp(pf_target_sample_method(tr), "rejection") == 0,
              "%s: auto should pick rejection", base);
  const size_t n = 100000, nb = 100, bs = n / nb;
  double *G = malloc(n * 2 * sizeof(double)), *R = malloc(n * 2 * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 8, 8);
  PF_T_OK(pf_target_sample(tg, &r, n, G));
  PF_T_OK(pf_target_sample(tr, &r, n, R));
  const pf_domain *dom = pf_target_domain(tg);
  for (size_t i = 0; i < n; i++)
    PF_T_ASSERT(pf_domain_contains(dom, G + 2 * i, PF_DOMAIN_TOL) &&
                    pf_domain_contains(dom, R + 2 * i, 0.0),
                "%s: draw %zu outside", base, i);
  /* Functions: x1, x2, x1^2, x2^2, x1 x2. */
  for (int f = 0; f < 5; f++) {
    double sg = 0.0, sr = 0.0, sr2 = 0.0, bm[100], sb = 0.0, sb2 = 0.0;
    for (size_t b = 0; b < nb; b++) {
      double s = 0.0;
      for (size_t i = b * bs; i < (b + 1) * bs; i++) {
        const double *x = G + 2 * i;
        s += f < 2 ? x[f] : f < 4 ? x[f - 2] * x[f - 2] : x[0] * x[1];
      }
      bm[b] = s / (double)bs;
      sg += s;
    }
    for (size_t i = 0; i < n; i++) {
      const double *x = R + 2 * i;
      double v = f < 2 ? x[f] : f < 4 ? x[f - 2] * x[f - 2] : x[0] * x[1];
      sr += v;
      sr2 += v * v;
    }
    sg /= (double)n;
    sr /= (double)n;
    for (size_t b = 0; b < nb; b++) sb += bm[b];
    sb /= (double)nb;
    for (size_t b = 0; b < nb; b++) sb2 += (bm[b] - sb) * (bm[b] - sb);
    double se_g2 = sb2 / (double)(nb - 1) / (double)nb;
    double se_r2 = (sr2 / (double)n - sr * sr) / (double)n;
    if (!(fabs(sg - sr) <= 5 * sqrt(se_g2 + se_r2)))
      PF_T_FAIL("%s: moment %d: gibbs %.6g, rejection %.6g, tolerance %.3g",
                base, f, sg, sr, 5 * sqrt(se_g2 + se_r2));
  }
  free(G);
  free(R);
  pf_target_destroy(&tg);
  pf_target_destroy(&tr);
  pf_config_destroy(&c1);
  pf_config_destroy(&c2);
  return 0;
}

static int tg_2d_gibbs_domains(void)
{
  const char *cov = "mean: [0.2, -0.4], cov: [[1, 0.7], [0.7, 1.5]]";
  char base[512];
  snprintf(base, sizeof base, "{name: truncated_gaussian, %s, domain: "
           "{name: orthant}", cov);
  if (compare_gibbs_rejection(base, 1)) return 1;
  snprintf(base, sizeof base, "{name: truncated_gaussian, %s, domain: "
           "{name: ball, center: [0.5, 0], radius: 1.2}", cov);
  if (compare_gibbs_rejection(base, 1)) return 1;
  snprintf(base, sizeof base, "{name: truncated_gaussian, %s, domain: "
           "{name: polytope, A: [[1, 2], [-1, 0], [0, -1], [1, -1]], "
           "b: [2, 0, 0, 1]}", cov);
  if (compare_gibbs_rejection(base, 0)) return 1;
  if (compare_gibbs_rejection("{name: truncated_gaussian, mean: [0.5, 0.2], "
                              "cov: [[0.09, -0.03], [-0.03, 0.04]], "
                              "domain: {name: simplex}", 1))
    return 1;
  /* Unknown moments outside the box/orthant-diagonal case. */
  pf_config *cfg;
  pf_target *t;
  snprintf(base, sizeof base, "{name: truncated_gaussian, %s}", cov);
  PF_T_OK(pf_test_target(base, &cfg, &t));
  PF_T_ASSERT(pf_target_moments(t, NULL, NULL) == PF_ENOTSUP, "moments");
  PF_T_ASSERT(strcmp(pf_domain_name(pf_target_domain(t)), "orthant") == 0,
              "default domain");
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* ---- config errors ---------------------------------------------------------- */

static int expect_error(const char *flow, const char *k1, const char *k2)
{
  pf_config *cfg = NULL;
  pf_target *t = NULL;
  int rc = pf_test_target(flow, &cfg, &t);
  if (rc == 0) {
    pf_target_destroy(&t);
    pf_config_destroy(&cfg);
  }
  PF_T_ASSERT(rc == PF_ECONFIG, "%s: rc %d (%s)", flow, rc, pf_error_message());
  PF_T_ASSERT(strstr(pf_error_message(), k1) && (!k2 || strstr(pf_error_message(), k2)),
              "%s: message '%s' lacks '%s'/'%s'", flow, pf_error_message(), k1,
              k2 ? k2 : "");
  return 0;
}

static int config_errors(void)
{
  static const struct {
    const char *flow, *k1, *k2;
  } cases[] = {
      {"{name: dirichlet, alpha: [1.5]}", "target.alpha", "at least 2"},
      {"{name: dirichlet, alpha: [1, 0, 2]}", "target.alpha", "> 0"},
      {"{name: dirichlet, alpha: [1, -2]}", "target.alpha", "> 0"},
      {"{name: dirichlet}", "target.alpha", "preset"},
      {"{name: dirichlet, alpha: [1, 2], preset: sparse20}", "target.preset", NULL},
      {"{name: dirichlet, preset: sparse21}", "target.preset", "sparse20"},
      {"{name: quadratic_simplex, A: [[1, 2, 3], [2, 1, 0]]}", "target.A", "square"},
      {"{name: quadratic_simplex, A: [[1, 2], [3, 1]]}", "target.A", "symmetric"},
      {"{name: quadratic_simplex, A_file: no/such.csv}", "target.A_file", "not found"},
      {"{name: quadratic_simplex, sigma2: 1}", "target", "exactly one"},
      {"{name: uniform, domain: {name: orthant, dim: 2}}", "target.domain", "unbounded"},
      {"{name: uniform}", "target.domain", NULL},
      {"{name: truncated_gaussian, mean: [0, 0], cov: [[1, 2], [2, 1]]}",
       "target.cov", "positive definite"},
      {"{name: truncated_gaussian, mean: [0, 0], "
       "domain: {name: box, lower: [0, 0, 0], upper: [1, 1, 1]}}",
       "domain", NULL},
      {"{name: truncated_gaussian, mean: [0, 0, 0], "
       "domain: {name: simplex, coords: full}}", "target.domain", "reduced"},
      {"{name: truncated_gaussian, mean: 0, domain: {name: box, lower: 8, "
       "upper: 9}, method: rejection}", "target.method", "gibbs"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (expect_error(cases[i].flow, cases[i].k1, cases[i].k2)) return 1;
  return 0;
}

const pf_test_case pf_tests_simplex_targets[] = {
    {"dirichlet_exact_moments", dirichlet_exact_moments},
    {"sparse20_faces", sparse20_faces},
    {"dirichlet_small_alpha", dirichlet_small_alpha},
    {"quadratic_simplex_preset", quadratic_simplex_preset},
    {"uniform_domains", uniform_domains},
    {"tg_1d_moments", tg_1d_moments},
    {"tg_2d_gibbs_domains", tg_2d_gibbs_domains},
    {"config_errors", config_errors},
    {NULL, NULL}};
