/* `gmm`: Gaussian mixture sum_k w_k N(mu_k, Sigma_k) on R^d, normalized
 * (log_z = 0).  The covariances are given by exactly one of
 *   var:      isotropic variances, one per component (or one for all),
 *   cov_diag: diagonal variances, a K x d matrix (or 1 x d for all),
 *   cov:      one full d x d covariance shared by every component,
 * since a list of matrices is not a config type; default var 1.  Presets:
 *   grid9: 9 equal modes at {-5, 0, 5}^2, variance 0.3 per axis (the "gmm"
 *          target of the learned-diffusion benchmarks, Richter & Berner
 *          2024 / sde_sampler);
 *   ring8: 8 equal modes at radius 5, angles 2 pi k / 8 (k = 0..7, the
 *          first at (5, 0)), variance 0.1 per axis: the 8-Gaussians ring of
 *          the GAN literature rescaled to grid9's size (our choice).
 * log p is a log-sum-exp shifted by the largest component term and the
 * score is the responsibility-weighted sum of component scores, both
 * accumulated in one pass with a running maximum, so they stay finite far
 * from every mode (|x| = 1e3 and beyond, until the squared distances
 * overflow). */
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/target.h"
#include "gaussian.h"

typedef struct gmm {
  size_t d, K;
  int full;      /* shared full covariance (else diagonal per component) */
  double *w;     /* K weights, normalized */
  double *cumw;  /* K cumulative weights, last exactly 1 */
  double *mu;    /* K x d */
  double *iv;    /* diagonal: K x d inverse variances */
  double *sd;    /* diagonal: K x d standard deviations */
  double *cov;   /* full: d x d */
  double *prec;  /* full: d x d precision */
  double *chol;  /* full: lower Cholesky factor of cov */
  double *lc;    /* K: log w_k - (1/2) log det Sigma_k - (d/2) log 2 pi */
  int nthr;      /* threads the workspace is sized for */
  double *work;  /* full: nthr x 2d */
} gmm;

static void gmm_destroy(void *ctx)
{
  gmm *g = ctx;
  if (!g) return;
  free(g->w);
  free(g->cumw);
  free(g->mu);
  free(g->iv);
  free(g->sd);
  free(g->cov);
  free(g->prec);
  free(g->chol);
  free(g->lc);
  free(g->work);
  free(g);
}

/* Arrays for K components in dimension d; the diagonal variance table
 * (K x d) goes into g->iv until finish() inverts it. */
static int gmm_alloc(gmm *g, size_t K, size_t d, int full)
{
  g->K = K;
  g->d = d;
  g->full = full;
  g->w = calloc(K, sizeof(double));
  g->cumw = calloc(K, sizeof(double));
  g->mu = calloc(K * d, sizeof(double));
  g->lc = calloc(K, sizeof(double));
  if (full) {
    g->cov = calloc(d * d, sizeof(double));
    g->prec = calloc(d * d, sizeof(double));
    g->chol = calloc(d * d, sizeof(double));
  } else {
    g->iv = calloc(K * d, sizeof(double));
    g->sd = calloc(K * d, sizeof(double));
  }
  PF_CHECK(g->w && g->cumw && g->mu && g->lc &&
               (full ? g->cov && g->prec && g->chol : g->iv && g->sd),
           PF_ENOMEM, "allocating a %zu-component mixture in dimension %zu",
           K, d);
  return 0;
}

static void set_preset(gmm *g, const char *preset)
{
  if (strcmp(preset, "grid9") == 0) {
    for (size_t k = 0; k < 9; k++) {
      g->mu[2 * k] = -5.0 + 5.0 * (double)(k / 3);
      g->mu[2 * k + 1] = -5.0 + 5.0 * (double)(k % 3);
      g->iv[2 * k] = g->iv[2 * k + 1] = 0.3;
      g->w[k] = 1.0;
    }
  } else { /* ring8 */
    for (size_t k = 0; k < 8; k++) {
      double a = 0.78539816339744830962 * (double)k; /* 2 pi k / 8 */
      g->mu[2 * k] = 5.0 * cos(a);
      g->mu[2 * k + 1] = 5.0 * sin(a);
      g->iv[2 * k] = g->iv[2 * k + 1] = 0.1;
      g->w[k] = 1.0;
    }
  }
}

/* Read the covariance keys into g (allocated with the right `full`). */
static int read_covariances(const pf_node *cfg, gmm *g)
{
  const size_t K = g->K, d = g->d;
  int rc = 0;
  double *m = NULL;
  size_t r, c;
  if (g->full) {
    PF_TRY(pf_cfg_matrix(cfg, "cov", &m, &r, &c));
    if (r != d || c != d) {
      free(m);
      PF_CFG_RAISE(cfg, "cov", PF_ECONFIG,
                   "expected a %zu x %zu matrix (the means have %zu columns), "
                   "found %zu x %zu", d, d, d, r, c);
    }
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < i; j++) {
        double a = m[i * d + j], b = m[j * d + i];
        if (fabs(a - b) > 1e-12 * (fabs(a) + fabs(b))) {
          free(m);
          PF_CFG_RAISE(cfg, "cov", PF_ECONFIG,
                       "not symmetric: entry [%zu][%zu] = %g but [%zu][%zu] "
                       "= %g", i, j, a, j, i, b);
        }
      }
    memcpy(g->cov, m, d * d * sizeof(double));
    free(m);
    return 0;
  }
  if (pf_cfg_has(cfg, "cov_diag")) {
    PF_TRY(pf_cfg_matrix(cfg, "cov_diag", &m, &r, &c));
    if ((r != K && r != 1) || c != d) {
      free(m);
      PF_CFG_RAISE(cfg, "cov_diag", PF_ECONFIG,
                   "expected a %zu x %zu matrix of variances (one row per "
                   "component, or one row for all), found %zu x %zu", K, d, r,
                   c);
    }
    for (size_t k = 0; k < K; k++)
      for (size_t j = 0; j < d; j++) g->iv[k * d + j] = m[(r == 1 ? 0 : k) * d + j];
  } else {
    size_t n = 0;
    if (pf_cfg_has(cfg, "var")) {
      PF_TRY(pf_cfg_reals(cfg, "var", &m, &n));
      if (n != K && n != 1) {
        free(m);
        PF_CFG_RAISE(cfg, "var", PF_ECONFIG,
                     "expected %zu variances (one per component) or one for "
                     "all, found %zu", K, n);
      }
    }
    for (size_t k = 0; k < K; k++)
      for (size_t j = 0; j < d; j++)
        g->iv[k * d + j] = n == 0 ? 1.0 : m[n == 1 ? 0 : k];
  }
  free(m);
  const char *key = pf_cfg_has(cfg, "cov_diag") ? "cov_diag" : "var";
  for (size_t i = 0; i < K * d; i++)
    if (!(g->iv[i] > 0.0 && isfinite(g->iv[i])))
      PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                   "variance %g of component %zu (coordinate %zu) is not a "
                   "positive finite number", g->iv[i], i / d, i % d);
  return rc;
}

/* Normalize weights, factor or invert covariances, per-component log
 * constants, workspace.  `cfg` locates errors. */
static int finish(const pf_node *cfg, gmm *g)
{
  const size_t K = g->K, d = g->d;
  const double log_2pi = 1.8378770664093454836;
  double wsum = 0.0;
  for (size_t k = 0; k < K; k++) {
    if (!(g->w[k] > 0.0 && isfinite(g->w[k])))
      PF_CFG_RAISE(cfg, "weights", PF_ECONFIG,
                   "weight %zu is %g; weights must be positive and finite", k,
                   g->w[k]);
    wsum += g->w[k];
  }
  double acc = 0.0;
  for (size_t k = 0; k < K; k++) {
    g->w[k] /= wsum;
    acc += g->w[k];
    g->cumw[k] = acc;
  }
  g->cumw[K - 1] = 1.0;
  if (g->full) {
    memcpy(g->chol, g->cov, d * d * sizeof(double));
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d,
                                     g->chol, (lapack_int)d);
    if (info != 0)
      PF_CFG_RAISE(cfg, "cov", PF_ECONFIG,
                   "covariance is not positive definite (Cholesky failed at "
                   "column %d)", (int)info);
    for (size_t i = 0; i < d; i++)
      for (size_t j = i + 1; j < d; j++) g->chol[i * d + j] = 0.0;
    double logdet = 0.0;
    for (size_t i = 0; i < d; i++) logdet += 2.0 * log(g->chol[i * d + i]);
    memcpy(g->prec, g->chol, d * d * sizeof(double));
    info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, g->prec,
                          (lapack_int)d);
    PF_CHECK(info == 0, PF_ELINALG,
             "inverting the covariance failed (dpotri info %d)", (int)info);
    for (size_t i = 0; i < d; i++)
      for (size_t j = i + 1; j < d; j++) g->prec[i * d + j] = g->prec[j * d + i];
    for (size_t k = 0; k < K; k++)
      g->lc[k] = log(g->w[k]) - 0.5 * logdet - 0.5 * (double)d * log_2pi;
    g->nthr = omp_get_max_threads();
    g->work = calloc((size_t)g->nthr * 2 * d, sizeof(double));
    PF_CHECK(g->work, PF_ENOMEM, "allocating the mixture workspace");
  } else {
    for (size_t k = 0; k < K; k++) {
      double logdet = 0.0;
      for (size_t j = 0; j < d; j++) {
        double v = g->iv[k * d + j];
        logdet += log(v);
        g->sd[k * d + j] = sqrt(v);
        g->iv[k * d + j] = 1.0 / v;
      }
      g->lc[k] = log(g->w[k]) - 0.5 * logdet - 0.5 * (double)d * log_2pi;
    }
    g->nthr = omp_get_max_threads();
  }
  return 0;
}

static int gmm_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  static const char *const keys[] = {"weights", "means", "var", "cov_diag",
                                     "cov"};
  int rc = 0;
  double *m = NULL, *wts = NULL;
  gmm *g = calloc(1, sizeof *g);
  PF_CHECK(g, PF_ENOMEM, "allocating the gmm target");
  const char *preset = pf_cfg_str(cfg, "preset");
  if (preset && strcmp(preset, "none") != 0) {
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
      if (pf_cfg_has(cfg, keys[i])) {
        rc = pf__config_raise(cfg, keys[i], PF_ECONFIG, __FILE__, __LINE__,
                              "preset '%s' defines the whole mixture; remove "
                              "'%s' or the preset", preset, keys[i]);
        goto fail;
      }
    size_t K = strcmp(preset, "grid9") == 0 ? 9 : 8;
    PF_TRY_GOTO(rc, gmm_alloc(g, K, 2, 0), fail);
    set_preset(g, preset);
  } else {
    size_t K, d, nw = 0;
    if (!pf_cfg_has(cfg, "means")) {
      rc = pf__config_raise(cfg, NULL, PF_ECONFIG, __FILE__, __LINE__,
                            "target 'gmm' needs 'means' (a K x d matrix) or "
                            "a 'preset'");
      goto fail;
    }
    PF_TRY_GOTO(rc, pf_cfg_matrix(cfg, "means", &m, &K, &d), fail);
    if (K == 0 || d == 0) {
      rc = pf__config_raise(cfg, "means", PF_ECONFIG, __FILE__, __LINE__,
                            "expected a K x d matrix with K, d >= 1, found "
                            "%zu x %zu", K, d);
      goto fail;
    }
    int ncov = pf_cfg_has(cfg, "var") + pf_cfg_has(cfg, "cov_diag") +
               pf_cfg_has(cfg, "cov");
    if (ncov > 1) {
      rc = pf__config_raise(cfg, pf_cfg_has(cfg, "cov") ? "cov" : "cov_diag",
                            PF_ECONFIG, __FILE__, __LINE__,
                            "give only one of var, cov_diag and cov");
      goto fail;
    }
    PF_TRY_GOTO(rc, gmm_alloc(g, K, d, pf_cfg_has(cfg, "cov")), fail);
    memcpy(g->mu, m, K * d * sizeof(double));
    for (size_t i = 0; i < K * d; i++)
      if (!isfinite(m[i])) {
        rc = pf__config_raise(cfg, "means", PF_ECONFIG, __FILE__, __LINE__,
                              "entry [%zu][%zu] is not finite", i / d, i % d);
        goto fail;
      }
    if (pf_cfg_has(cfg, "weights")) {
      PF_TRY_GOTO(rc, pf_cfg_reals(cfg, "weights", &wts, &nw), fail);
      if (nw != K) {
        rc = pf__config_raise(cfg, "weights", PF_ECONFIG, __FILE__, __LINE__,
                              "expected %zu weights (one per row of means), "
                              "found %zu", K, nw);
        goto fail;
      }
    }
    for (size_t k = 0; k < K; k++) g->w[k] = wts ? wts[k] : 1.0;
    PF_TRY_GOTO(rc, read_covariances(cfg, g), fail);
  }
  PF_TRY_GOTO(rc, finish(cfg, g), fail);
  free(m);
  free(wts);
  *ctx = g;
  *dim = g->d;
  return 0;
fail:
  free(m);
  free(wts);
  gmm_destroy(g);
  return rc;
}

/* One row: log p and score by a single pass over the components with a
 * running maximum M of the component terms l_k: S = sum_k e^{l_k - M} and
 * G = sum_k e^{l_k - M} s_k are rescaled by e^{M_old - M_new} when M grows,
 * so no exponential overflows and log p = M + log S, score = G / S. */
static void gmm_row(const gmm *g, const double *x, double *logp, double *gr,
                    double *work)
{
  const size_t K = g->K, d = g->d;
  double M = -INFINITY, S = 0.0;
  if (gr) memset(gr, 0, d * sizeof(double));
  for (size_t k = 0; k < K; k++) {
    const double *mu = g->mu + k * d;
    double q = 0.0;
    if (g->full) {
      double *r = work, *pr = work + d;
      for (size_t j = 0; j < d; j++) r[j] = x[j] - mu[j];
      for (size_t i = 0; i < d; i++) {
        const double *P = g->prec + i * d;
        double s = 0.0;
        for (size_t j = 0; j < d; j++) s += P[j] * r[j];
        pr[i] = s;
        q += r[i] * s;
      }
    } else {
      const double *iv = g->iv + k * d;
      for (size_t j = 0; j < d; j++) {
        double r = x[j] - mu[j];
        q += r * r * iv[j];
      }
    }
    double l = g->lc[k] - 0.5 * q, e = 1.0;
    if (l > M) {
      double sc = exp(M - l); /* 0 on the first component */
      S *= sc;
      if (gr)
        for (size_t j = 0; j < d; j++) gr[j] *= sc;
      M = l;
    } else {
      e = exp(l - M);
    }
    S += e;
    if (gr) {
      if (g->full) {
        const double *pr = work + d;
        for (size_t j = 0; j < d; j++) gr[j] -= e * pr[j];
      } else {
        const double *iv = g->iv + k * d;
        for (size_t j = 0; j < d; j++) gr[j] -= e * (x[j] - mu[j]) * iv[j];
      }
    }
  }
  if (logp) *logp = M + log(S);
  if (gr)
    for (size_t j = 0; j < d; j++) gr[j] /= S;
}

static int gmm_logp_grad(void *ctx, size_t n, const double *X, double *logp,
                         double *grad)
{
  const gmm *g = ctx;
  const size_t d = g->d;
  /* Rows are independent and each thread has its own workspace slice: the
   * same bits for any thread count. */
#pragma omp parallel for schedule(static) num_threads(g->nthr) \
    if (n * g->K * d * (g->full ? d : 1) > 65536)
  for (size_t i = 0; i < n; i++) {
    double *w = g->full ? g->work + (size_t)omp_get_thread_num() * 2 * d : NULL;
    gmm_row(g, X + i * d, logp ? logp + i : NULL, grad ? grad + i * d : NULL,
            w);
  }
  return 0;
}

static int gmm_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const gmm *g = ctx;
  const size_t d = g->d, K = g->K;
  for (size_t i = 0; i < n; i++) {
    double u = pf_rng_uniform(rng);
    size_t k = 0;
    while (k + 1 < K && u >= g->cumw[k]) k++;
    const double *mu = g->mu + k * d;
    double *x = X + i * d;
    pf_rng_normal(rng, d, x);
    if (g->full) {
      pf__gaussian_affine(d, mu, g->chol, x);
    } else {
      const double *sd = g->sd + k * d;
      for (size_t a = 0; a < d; a++) x[a] = mu[a] + sd[a] * x[a];
    }
  }
  return 0;
}

/* Mixture mean sum_k w_k mu_k and covariance
 * sum_k w_k (Sigma_k + (mu_k - m)(mu_k - m)^T). */
static int gmm_moments(void *ctx, double *mean, double *cov)
{
  const gmm *g = ctx;
  const size_t d = g->d, K = g->K;
  double *m = calloc(d, sizeof(double));
  PF_CHECK(m, PF_ENOMEM, "allocating the mixture mean");
  for (size_t k = 0; k < K; k++)
    for (size_t j = 0; j < d; j++) m[j] += g->w[k] * g->mu[k * d + j];
  if (mean) memcpy(mean, m, d * sizeof(double));
  if (cov) {
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b < d; b++) {
        double s = g->full ? g->cov[a * d + b] : 0.0;
        for (size_t k = 0; k < K; k++) {
          const double *mu = g->mu + k * d;
          double c = (mu[a] - m[a]) * (mu[b] - m[b]);
          if (!g->full && a == b) c += 1.0 / g->iv[k * d + a];
          s += g->w[k] * c;
        }
        cov[a * d + b] = s;
      }
  }
  free(m);
  return 0;
}

static int gmm_log_z(void *ctx, double *out)
{
  (void)ctx;
  *out = 0.0;
  return 0;
}

static const pf_param gmm_params[] = {
    {"preset", PF_P_STRING, "none", "none|grid9|ring8",
     "a predefined 2-D mixture (grid9: 9 modes on {-5,0,5}^2, var 0.3; "
     "ring8: 8 modes at radius 5, var 0.1); excludes the keys below", 0,
     NULL, NULL},
    {"means", PF_P_MATRIX, NULL, NULL,
     "component means, K x d (required without preset)", 0, NULL, NULL},
    {"weights", PF_P_REALS, NULL, NULL,
     "K positive weights, normalized internally (default equal)", 0, NULL,
     NULL},
    {"var", PF_P_REALS, NULL, NULL,
     "isotropic variance per component (K values, or one for all; default "
     "1)", 0, NULL, NULL},
    {"cov_diag", PF_P_MATRIX, NULL, NULL,
     "diagonal variances, K x d (or 1 x d for all components)", 0, NULL,
     NULL},
    {"cov", PF_P_MATRIX, NULL, NULL,
     "one full d x d covariance (symmetric positive definite) shared by all "
     "components", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_gmm = {
    .base = {"gmm", "Gaussian mixture (weights, means, var/cov_diag/cov; "
                    "presets grid9, ring8), normalized",
             gmm_params},
    .example = "{name: gmm, weights: [1, 2, 1], means: [[-3, 0], [0, 2], "
               "[3, -1]], cov_diag: [[0.5, 1.0], [1.0, 0.3], [0.8, 0.8]]}",
    .create = gmm_create,
    .destroy = gmm_destroy,
    .logp_grad = gmm_logp_grad,
    .sample = gmm_sample,
    .moments = gmm_moments,
    .log_z = gmm_log_z,
};
