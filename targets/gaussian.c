/* `gaussian`: multivariate normal N(mean, cov) with dense or diagonal
 * covariance.  Normalized, so log_z = 0; exact sampler and moments known. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/target.h"

typedef struct gaussian {
  size_t d;
  int diagonal;
  double *mean; /* d */
  double *cov;  /* d x d */
  double *chol; /* lower Cholesky factor of cov, d x d */
  double *prec; /* precision (cov^-1), d x d; diagonal case: its diagonal */
  double lognorm; /* -(d/2) log(2 pi) - (1/2) log det cov */
} gaussian;

static void gaussian_destroy(void *ctx)
{
  gaussian *g = ctx;
  if (!g) return;
  free(g->mean);
  free(g->cov);
  free(g->chol);
  free(g->prec);
  free(g);
}

/* Fill g->cov from `cov`, `cov_diag` or the identity, checking shapes. */
static int read_cov(const pf_node *cfg, gaussian *g)
{
  size_t d = g->d;
  int has_cov = pf_cfg_has(cfg, "cov"), has_diag = pf_cfg_has(cfg, "cov_diag");
  if (has_cov && has_diag)
    PF_CFG_RAISE(cfg, "cov_diag", PF_ECONFIG,
                 "give either cov or cov_diag, not both");
  g->cov = calloc(d * d, sizeof(double));
  PF_CHECK(g->cov, PF_ENOMEM, "allocating a %zu x %zu covariance", d, d);
  if (has_cov) {
    double *m;
    size_t r, c;
    PF_TRY(pf_cfg_matrix(cfg, "cov", &m, &r, &c));
    if (r != d || c != d) {
      free(m);
      PF_CFG_RAISE(cfg, "cov", PF_ECONFIG,
                   "expected a %zu x %zu matrix (the mean has %zu entries), "
                   "found %zu x %zu", d, d, d, r, c);
    }
    memcpy(g->cov, m, d * d * sizeof(double));
    free(m);
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < i; j++) {
        double a = g->cov[i * d + j], b = g->cov[j * d + i];
        if (fabs(a - b) > 1e-12 * (fabs(a) + fabs(b)))
          PF_CFG_RAISE(cfg, "cov", PF_ECONFIG,
                       "not symmetric: entry [%zu][%zu] = %g but [%zu][%zu] "
                       "= %g", i, j, a, j, i, b);
      }
    g->diagonal = 0;
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < d; j++)
        if (i != j && g->cov[i * d + j] != 0.0) return 0;
    g->diagonal = 1;
    return 0;
  }
  g->diagonal = 1;
  if (has_diag) {
    double *v;
    size_t n;
    PF_TRY(pf_cfg_reals(cfg, "cov_diag", &v, &n));
    if (n != d && n != 1) {
      free(v);
      PF_CFG_RAISE(cfg, "cov_diag", PF_ECONFIG,
                   "expected %zu variances (or one for all), found %zu", d, n);
    }
    for (size_t i = 0; i < d; i++) g->cov[i * d + i] = v[n == 1 ? 0 : i];
    free(v);
    return 0;
  }
  for (size_t i = 0; i < d; i++) g->cov[i * d + i] = 1.0;
  return 0;
}

static int gaussian_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  size_t nmean = 0;
  double *mean = NULL;
  long long ddim = 0;
  gaussian *g = calloc(1, sizeof *g);
  PF_CHECK(g, PF_ENOMEM, "allocating the gaussian target");
  if (pf_cfg_has(cfg, "mean"))
    PF_TRY_GOTO(rc, pf_cfg_reals(cfg, "mean", &mean, &nmean), fail);
  if (pf_cfg_has(cfg, "dim"))
    PF_TRY_GOTO(rc, pf_cfg_int(cfg, "dim", &ddim), fail);
  if (ddim > 0 && nmean > 1 && (size_t)ddim != nmean) {
    rc = pf__config_raise(cfg, "dim", PF_ECONFIG, __FILE__, __LINE__,
                          "dim is %lld but the mean has %zu entries", ddim,
                          nmean);
    goto fail;
  }
  g->d = ddim > 0 ? (size_t)ddim : nmean;
  if (g->d == 0) {
    rc = pf__config_raise(cfg, NULL, PF_ECONFIG, __FILE__, __LINE__,
                          "target 'gaussian' needs a mean or a dim");
    goto fail;
  }
  size_t d = g->d;
  g->mean = calloc(d, sizeof(double));
  g->chol = calloc(d * d, sizeof(double));
  g->prec = calloc(d * d, sizeof(double));
  PF_CHECK_GOTO(rc, g->mean && g->chol && g->prec, PF_ENOMEM, fail,
                "allocating the gaussian target (d = %zu)", d);
  for (size_t i = 0; i < d; i++)
    g->mean[i] = nmean == 0 ? 0.0 : mean[nmean == 1 ? 0 : i];
  PF_TRY_GOTO(rc, read_cov(cfg, g), fail);

  memcpy(g->chol, g->cov, d * d * sizeof(double));
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d,
                                   g->chol, (lapack_int)d);
  if (info != 0) {
    rc = pf__config_raise(cfg, pf_cfg_has(cfg, "cov") ? "cov" : "cov_diag",
                          PF_ECONFIG, __FILE__, __LINE__,
                          "covariance is not positive definite (Cholesky "
                          "failed at column %d)", (int)info);
    goto fail;
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = i + 1; j < d; j++) g->chol[i * d + j] = 0.0;
  double logdet = 0.0;
  for (size_t i = 0; i < d; i++) logdet += 2.0 * log(g->chol[i * d + i]);
  const double log_2pi = 1.8378770664093454836;
  g->lognorm = -0.5 * (double)d * log_2pi - 0.5 * logdet;

  memcpy(g->prec, g->chol, d * d * sizeof(double));
  info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, g->prec,
                        (lapack_int)d);
  PF_CHECK_GOTO(rc, info == 0, PF_ELINALG, fail,
                "inverting the covariance failed (dpotri info %d)", (int)info);
  for (size_t i = 0; i < d; i++)
    for (size_t j = i + 1; j < d; j++) g->prec[i * d + j] = g->prec[j * d + i];
  free(mean);
  *ctx = g;
  *dim = d;
  return 0;
fail:
  free(mean);
  gaussian_destroy(g);
  return rc;
}

typedef double pf__v4 __attribute__((vector_size(32)));

static inline pf__v4 v4_load(const double *p)
{
  pf__v4 v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* G[r] = P (x_r - mu) for rows [i0, i0 + nr), nr <= 4, written to G (row
 * stride d).  P is symmetric, so column k of P is its row k: the outer
 * product form streams P's rows once per 4 particles.  Every output is
 * summed over j in order with separate multiply and add (ISO C, no
 * contraction), in the vector lanes and in the tail alike, so a row's bits
 * do not depend on the block it is in or on n. */
static void dense_block(const gaussian *g, const double *X, size_t nr,
                        double *G)
{
  const size_t d = g->d, d8 = d - d % 8;
  const double *P = g->prec, *mu = g->mean;
  if (nr == 4) { /* the common case, with the accumulators in registers */
    const double *x0 = X, *x1 = X + d, *x2 = X + 2 * d, *x3 = X + 3 * d;
    for (size_t k0 = 0; k0 < d8; k0 += 8) {
      pf__v4 a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0},
             a30 = {0}, a31 = {0};
      for (size_t j = 0; j < d; j++) {
        const pf__v4 p0 = v4_load(P + j * d + k0);
        const pf__v4 p1 = v4_load(P + j * d + k0 + 4);
        const double r0 = x0[j] - mu[j], r1 = x1[j] - mu[j];
        const double r2 = x2[j] - mu[j], r3 = x3[j] - mu[j];
        a00 += r0 * p0;
        a01 += r0 * p1;
        a10 += r1 * p0;
        a11 += r1 * p1;
        a20 += r2 * p0;
        a21 += r2 * p1;
        a30 += r3 * p0;
        a31 += r3 * p1;
      }
      memcpy(G + k0, &a00, 32);
      memcpy(G + k0 + 4, &a01, 32);
      memcpy(G + d + k0, &a10, 32);
      memcpy(G + d + k0 + 4, &a11, 32);
      memcpy(G + 2 * d + k0, &a20, 32);
      memcpy(G + 2 * d + k0 + 4, &a21, 32);
      memcpy(G + 3 * d + k0, &a30, 32);
      memcpy(G + 3 * d + k0 + 4, &a31, 32);
    }
  }
  for (size_t k0 = 0; k0 < d8 && nr < 4; k0 += 8) {
    pf__v4 a[4][2];
    memset(a, 0, sizeof a);
    for (size_t j = 0; j < d; j++) {
      const pf__v4 p0 = v4_load(P + j * d + k0), p1 = v4_load(P + j * d + k0 + 4);
      for (size_t r = 0; r < nr; r++) {
        const double rj = X[r * d + j] - mu[j];
        a[r][0] += rj * p0;
        a[r][1] += rj * p1;
      }
    }
    for (size_t r = 0; r < nr; r++) {
      memcpy(G + r * d + k0, &a[r][0], sizeof a[r][0]);
      memcpy(G + r * d + k0 + 4, &a[r][1], sizeof a[r][1]);
    }
  }
  for (size_t k = d8; k < d; k++)
    for (size_t r = 0; r < nr; r++) {
      double acc = 0.0;
      for (size_t j = 0; j < d; j++) acc += (X[r * d + j] - mu[j]) * P[j * d + k];
      G[r * d + k] = acc;
    }
}

static int gaussian_logp_grad(void *ctx, size_t n, const double *X,
                              double *logp, double *grad)
{
  const gaussian *g = ctx;
  const size_t d = g->d;
  const double *mu = g->mean, *P = g->prec;
  if (!g->diagonal && grad) {
    const size_t nb = (n + 3) / 4;
    /* Blocks of 4 rows are independent: a static split gives the same bits
     * for any thread count. */
#pragma omp parallel for schedule(static) if (n * d * d > 32768)
    for (size_t b = 0; b < nb; b++) {
      const size_t i0 = 4 * b, nr = n - i0 < 4 ? n - i0 : 4;
      dense_block(g, X + i0 * d, nr, grad + i0 * d);
      for (size_t r = 0; r < nr; r++) {
        const double *x = X + (i0 + r) * d;
        double *gi = grad + (i0 + r) * d, q = 0.0;
        for (size_t k = 0; k < d; k++) {
          q += (x[k] - mu[k]) * gi[k];
          gi[k] = -gi[k];
        }
        if (logp) logp[i0 + r] = g->lognorm - 0.5 * q;
      }
    }
    return 0;
  }
  /* Rows are independent, so a static split gives the same bits for any
   * thread count. */
#pragma omp parallel for schedule(static) if (n * d * (g->diagonal ? 1 : d) > 32768)
  for (size_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double *gi = grad ? grad + i * d : NULL;
    double q = 0.0;
    if (g->diagonal) {
      for (size_t k = 0; k < d; k++) {
        double r = x[k] - mu[k];
        double pr = P[k * d + k] * r;
        q += r * pr;
        if (gi) gi[k] = -pr;
      }
    } else {
      /* the same sums as dense_block, P symmetric: P[j][k] = P[k][j] */
      for (size_t k = 0; k < d; k++) {
        double pr = 0.0;
        for (size_t j = 0; j < d; j++) pr += (x[j] - mu[j]) * P[j * d + k];
        q += (x[k] - mu[k]) * pr;
      }
    }
    if (logp) logp[i] = g->lognorm - 0.5 * q;
  }
  return 0;
}

static int gaussian_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const gaussian *g = ctx;
  const size_t d = g->d;
  double *z = malloc((d + 1) * sizeof(double));
  PF_CHECK(z, PF_ENOMEM, "allocating a sample buffer");
  for (size_t i = 0; i < n; i++) {
    pf_rng_normal(rng, d, z);
    for (size_t k = 0; k < d; k++) {
      double s = g->mean[k];
      for (size_t j = 0; j <= k; j++) s += g->chol[k * d + j] * z[j];
      X[i * d + k] = s;
    }
  }
  free(z);
  return 0;
}

static int gaussian_moments(void *ctx, double *mean, double *cov)
{
  const gaussian *g = ctx;
  if (mean) memcpy(mean, g->mean, g->d * sizeof(double));
  if (cov) memcpy(cov, g->cov, g->d * g->d * sizeof(double));
  return 0;
}

static int gaussian_log_z(void *ctx, double *out)
{
  (void)ctx;
  *out = 0.0;
  return 0;
}

static const pf_param gaussian_params[] = {
    {"dim", PF_P_INT, NULL, "[1,1e7]",
     "dimension (default: length of mean)", 0, NULL, NULL},
    {"mean", PF_P_REALS, NULL, NULL,
     "mean vector (one value is repeated; default 0)", 0, NULL, NULL},
    {"cov", PF_P_MATRIX, NULL, NULL,
     "dense covariance matrix (symmetric positive definite)", 0, NULL, NULL},
    {"cov_diag", PF_P_REALS, NULL, NULL,
     "diagonal covariance (variances); default identity", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_gaussian = {
    .base = {"gaussian", "multivariate normal, dense or diagonal covariance",
             gaussian_params},
    .example = "{name: gaussian, mean: [1.0, -0.5], cov: [[2.0, 0.6], [0.6, 1.0]]}",
    .create = gaussian_create,
    .destroy = gaussian_destroy,
    .logp_grad = gaussian_logp_grad,
    .sample = gaussian_sample,
    .moments = gaussian_moments,
    .log_z = gaussian_log_z,
};
