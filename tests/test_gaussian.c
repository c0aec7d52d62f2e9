/* Target conformance (every registered target: score vs finite differences,
 * batch consistency, exact sampler vs known moments) and the gaussian
 * target's own checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/registry.h"

/* Central differences with step 1e-5 (1 + |x|) have truncation error
 * O(h^2 f''') and rounding O(eps |f| / h) ~ 1e-11 |f|: 1e-6 relative is a
 * safe but still sharp bound for smooth targets. */
static int check_gradient(pf_target *t, const char *name)
{
  const size_t d = pf_target_dim(t), n = 8;
  double *X = calloc(n * d, sizeof(double)), *G = calloc(n * d, sizeof(double));
  double *lp = calloc(n, sizeof(double)), *row = calloc(d, sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 7, 0);
  int bad = 0;
  if (pf_target_ops_of(t)->sample)
    PF_T_OK(pf_target_sample(t, &r, n, X));
  else
    pf_rng_normal(&r, n * d, X);
  PF_T_OK(pf_target_logp_grad(t, n, X, lp, G));
  for (size_t i = 0; i < n && !bad; i++) {
    for (size_t k = 0; k < d && !bad; k++) {
      double lo, hi, h = 1e-5 * (1.0 + fabs(X[i * d + k]));
      memcpy(row, X + i * d, d * sizeof(double));
      row[k] += h;
      PF_T_OK(pf_target_logp_grad(t, 1, row, &hi, NULL));
      row[k] -= 2 * h;
      PF_T_OK(pf_target_logp_grad(t, 1, row, &lo, NULL));
      double fd = (hi - lo) / (2 * h), g = G[i * d + k];
      if (!(fabs(fd - g) <= 1e-6 * (1.0 + fabs(g) + fabs(lp[i])))) {
        fprintf(stderr, "    target %s: d/dx%zu at particle %zu: score %.12g, "
                        "finite difference %.12g\n", name, k, i, g, fd);
        bad = 1;
      }
    }
  }
  /* Batched and row-by-row calls, logp-only and grad-only, agree bitwise. */
  for (size_t i = 0; i < n && !bad; i++) {
    double l1, l2;
    PF_T_OK(pf_target_logp_grad(t, 1, X + i * d, &l1, row));
    PF_T_OK(pf_target_logp_grad(t, 1, X + i * d, &l2, NULL));
    if (l1 != lp[i] || l2 != lp[i] ||
        memcmp(row, G + i * d, d * sizeof(double)) != 0) {
      fprintf(stderr, "    target %s: row %zu differs between batched and "
                      "single evaluation\n", name, i);
      bad = 1;
    }
  }
  free(X);
  free(G);
  free(lp);
  free(row);
  return bad;
}

/* Exact draws against the known moments: the sample mean's standard error
 * is sqrt(C_kk / n), the sample covariance's about
 * sqrt((C_kk C_jj + C_kj^2) / n); 5 standard errors fail with probability
 * < 1e-6 per entry. */
static int check_exact_sampler(pf_target *t, const char *name)
{
  if (!pf_target_ops_of(t)->sample || !pf_target_ops_of(t)->moments) return 0;
  const size_t d = pf_target_dim(t), n = 100000;
  double *X = malloc(n * d * sizeof(double));
  double *m = malloc(d * sizeof(double)), *C = malloc(d * d * sizeof(double));
  double *em = malloc(d * sizeof(double)), *eC = malloc(d * d * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 11, 3);
  PF_T_OK(pf_target_sample(t, &r, n, X));
  PF_T_OK(pf_target_moments(t, m, C));
  pf_test_moments(n, d, X, em, eC);
  int bad = 0;
  for (size_t k = 0; k < d; k++) {
    if (fabs(em[k] - m[k]) > 5 * sqrt(C[k * d + k] / n)) bad = 1;
    for (size_t j = 0; j < d; j++) {
      double se = sqrt((C[k * d + k] * C[j * d + j] + C[k * d + j] * C[k * d + j]) / n);
      if (fabs(eC[k * d + j] - C[k * d + j]) > 5 * se) bad = 1;
    }
  }
  if (bad) fprintf(stderr, "    target %s: exact draws disagree with moments\n", name);
  free(X);
  free(m);
  free(C);
  free(em);
  free(eC);
  return bad;
}

static int conformance_all_targets(void)
{
  for (size_t i = 0; i < pf_targets.n; i++) {
    const pf_target_ops *ops = (const pf_target_ops *)pf_targets.items[i];
    pf_config *cfg;
    pf_target *t;
    PF_T_ASSERT(ops->example, "target %s has no example", ops->base.name);
    PF_T_OK(pf_test_target(ops->example, &cfg, &t));
    int bad = check_gradient(t, ops->base.name) ||
              check_exact_sampler(t, ops->base.name);
    pf_target_destroy(&t);
    pf_config_destroy(&cfg);
    PF_T_ASSERT(!bad, "target %s failed conformance", ops->base.name);
  }
  return 0;
}

static int gaussian_density_value(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: gaussian, mean: [1, 2], cov: [[4, 1], [1, 2]]}",
                         &cfg, &t));
  /* x = (0, 0): r = (-1, -2); P = [[2, -1], [-1, 4]] / 7; r'Pr = (2 - 4 +
   * 16) / 7 = 2; log det = log 7. */
  double x[2] = {0, 0}, lp, g[2], lz;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  PF_T_NEAR(lp, -log(2 * M_PI) - 0.5 * log(7.0) - 1.0, 1e-12);
  /* grad = -P r = (2*1 - 2, -1 + 8)/7 = (0, 1). */
  PF_T_NEAR(g[0], 0.0, 1e-12);
  PF_T_NEAR(g[1], 1.0, 1e-12);
  PF_T_OK(pf_target_log_z(t, &lz));
  PF_T_NEAR(lz, 0.0, 0.0);
  PF_T_ASSERT(pf_target_dim(t) == 2, "dim");
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);

  PF_T_OK(pf_test_target("{name: gaussian, dim: 3, cov_diag: [1, 4, 9]}", &cfg, &t));
  double y[3] = {1, 2, 3}, gy[3];
  PF_T_OK(pf_target_logp_grad(t, 1, y, &lp, gy));
  PF_T_NEAR(lp, -1.5 * log(2 * M_PI) - 0.5 * log(36.0) - 1.5, 1e-12);
  PF_T_NEAR(gy[2], -3.0 / 9.0, 1e-15);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

static int gaussian_config_errors(void)
{
  pf_config *cfg;
  pf_target *t;
  int rc = pf_test_target("{name: gaussian, mean: [0, 0], cov: [[1, 2], [2, 1]]}",
                          &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG, "rc %d", rc);
  PF_T_ASSERT(strstr(pf_error_message(), "positive definite") &&
                  strstr(pf_error_message(), "target.cov"),
              "message '%s'", pf_error_message());
  rc = pf_test_target("{name: gaussian, mean: [0, 0, 0], cov: [[1, 0], [0, 1]]}",
                      &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "3 x 3"),
              "rc %d '%s'", rc, pf_error_message());
  rc = pf_test_target("{name: gaussian, mean: [0, 0], cov: [[1, 0.5], [0.4, 1]]}",
                      &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "symmetric"),
              "rc %d '%s'", rc, pf_error_message());
  rc = pf_test_target("{name: gaussian}", &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "mean or a dim"),
              "rc %d '%s'", rc, pf_error_message());
  return 0;
}

const pf_test_case pf_tests_gaussian[] = {
    {"conformance_all_targets", conformance_all_targets},
    {"gaussian_density_value", gaussian_density_value},
    {"gaussian_config_errors", gaussian_config_errors},
    {NULL, NULL}};
