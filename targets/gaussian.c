/* `gaussian`: multivariate normal N(mean, cov) with dense or diagonal
 * covariance.  Normalized, so log_z = 0; exact sampler and moments known. */
#include <cblas.h>
#include <immintrin.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/target.h"
#include "gaussian.h"

/* rows per block of the dense kernel (see dense_kernel) */
#define GS_ROWS 6

typedef struct gaussian {
  size_t d;
  int diagonal;
  double *mean; /* d */
  double *cov;  /* d x d */
  double *chol; /* lower Cholesky factor of cov, d x d */
  double *prec; /* precision (cov^-1), d x d; diagonal case: its diagonal */
  double lognorm; /* -(d/2) log(2 pi) - (1/2) log det cov */
  double *pack;   /* dense: prec in column panels, see dense_kernel */
  int nthr;       /* dense: threads the scratch is sized for */
  double *work;   /* dense: nthr x 2 GS_ROWS x d scratch */
} gaussian;

static void pack_prec(gaussian *g);

static void gaussian_destroy(void *ctx)
{
  gaussian *g = ctx;
  if (!g) return;
  free(g->mean);
  free(g->cov);
  free(g->chol);
  free(g->prec);
  free(g->pack);
  free(g->work);
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
  /* OpenBLAS's threaded factorization and inverse give bits that depend on
   * its thread count (OMP_NUM_THREADS): pinned to one thread, the
   * precision matrix, and so every score, is the same for any count. */
  const int blas_thr = openblas_get_num_threads();
  if (blas_thr != 1) openblas_set_num_threads(1);
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d,
                                   g->chol, (lapack_int)d);
  lapack_int info2 = 0;
  if (info == 0) {
    memcpy(g->prec, g->chol, d * d * sizeof(double));
    for (size_t i = 0; i < d; i++)
      for (size_t j = i + 1; j < d; j++) g->prec[i * d + j] = 0.0;
    info2 = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, g->prec,
                           (lapack_int)d);
  }
  if (blas_thr != 1) openblas_set_num_threads(blas_thr);
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

  PF_CHECK_GOTO(rc, info2 == 0, PF_ELINALG, fail,
                "inverting the covariance failed (dpotri info %d)", (int)info2);
  for (size_t i = 0; i < d; i++)
    for (size_t j = i + 1; j < d; j++) g->prec[i * d + j] = g->prec[j * d + i];
  if (!g->diagonal) {
    g->nthr = omp_get_max_threads();
    g->pack = malloc(d * d * sizeof(double));
    g->work = malloc((size_t)g->nthr * 2 * GS_ROWS * d * sizeof(double));
    PF_CHECK_GOTO(rc, g->pack && g->work, PF_ENOMEM, fail,
                  "allocating the dense gaussian workspace (d = %zu)", d);
    pack_prec(g);
  }
  free(mean);
  *ctx = g;
  *dim = d;
  return 0;
fail:
  free(mean);
  gaussian_destroy(g);
  return rc;
}

/* The dense score: G = -P R for R = X - mu, 6 rows at a time (a 6 x 8 block
 * of FMA accumulators, 12 of the 16 ymm registers, as in the usual AVX2
 * GEMM micro-kernels), against P packed at create time into panels of 8
 * (then 4) columns laid out j-major, so the inner loop streams one
 * contiguous panel.  P is symmetric: column k of P is its row k.  Every
 * output entry is one FMA chain over j = 0..d-1 in order, whatever the
 * block, the panel or the lane, so a row's bits do not depend on n, on its
 * position in the batch or on the thread count; short blocks are padded
 * with zero rows into the thread's scratch. */
static void pack_prec(gaussian *g)
{
  const size_t d = g->d, d8 = d - d % 8, d4 = d - d % 4;
  for (size_t k0 = 0; k0 < d8; k0 += 8)
    for (size_t j = 0; j < d; j++)
      for (size_t c = 0; c < 8; c++)
        g->pack[k0 * d + j * 8 + c] = g->prec[j * d + k0 + c];
  for (size_t k0 = d8; k0 < d4; k0 += 4)
    for (size_t j = 0; j < d; j++)
      for (size_t c = 0; c < 4; c++)
        g->pack[k0 * d + j * 4 + c] = g->prec[j * d + k0 + c];
}

/* G (GS_ROWS rows, stride d) = -P R for the GS_ROWS rows of R (stride d). */
static void dense_kernel(const gaussian *g, const double *R, double *G)
{
  const size_t d = g->d, d8 = d - d % 8, d4 = d - d % 4;
  const __m256d neg = _mm256_set1_pd(-0.0);
  const double *r0 = R, *r1 = R + d, *r2 = R + 2 * d, *r3 = R + 3 * d,
               *r4 = R + 4 * d, *r5 = R + 5 * d;
  for (size_t k0 = 0; k0 < d8; k0 += 8) {
    const double *pp = g->pack + k0 * d;
    __m256d a00 = _mm256_setzero_pd(), a01 = a00, a10 = a00, a11 = a00,
            a20 = a00, a21 = a00, a30 = a00, a31 = a00, a40 = a00, a41 = a00,
            a50 = a00, a51 = a00;
    for (size_t j = 0; j < d; j++, pp += 8) {
      const __m256d p0 = _mm256_loadu_pd(pp), p1 = _mm256_loadu_pd(pp + 4);
      __m256d b = _mm256_broadcast_sd(r0 + j);
      a00 = _mm256_fmadd_pd(b, p0, a00);
      a01 = _mm256_fmadd_pd(b, p1, a01);
      b = _mm256_broadcast_sd(r1 + j);
      a10 = _mm256_fmadd_pd(b, p0, a10);
      a11 = _mm256_fmadd_pd(b, p1, a11);
      b = _mm256_broadcast_sd(r2 + j);
      a20 = _mm256_fmadd_pd(b, p0, a20);
      a21 = _mm256_fmadd_pd(b, p1, a21);
      b = _mm256_broadcast_sd(r3 + j);
      a30 = _mm256_fmadd_pd(b, p0, a30);
      a31 = _mm256_fmadd_pd(b, p1, a31);
      b = _mm256_broadcast_sd(r4 + j);
      a40 = _mm256_fmadd_pd(b, p0, a40);
      a41 = _mm256_fmadd_pd(b, p1, a41);
      b = _mm256_broadcast_sd(r5 + j);
      a50 = _mm256_fmadd_pd(b, p0, a50);
      a51 = _mm256_fmadd_pd(b, p1, a51);
    }
#define GS_PUT(r, lo, hi)                                                    \
  _mm256_storeu_pd(G + (r) * d + k0, _mm256_xor_pd(lo, neg));                \
  _mm256_storeu_pd(G + (r) * d + k0 + 4, _mm256_xor_pd(hi, neg))
    GS_PUT(0, a00, a01);
    GS_PUT(1, a10, a11);
    GS_PUT(2, a20, a21);
    GS_PUT(3, a30, a31);
    GS_PUT(4, a40, a41);
    GS_PUT(5, a50, a51);
#undef GS_PUT
  }
  for (size_t k0 = d8; k0 < d4; k0 += 4) {
    const double *pp = g->pack + k0 * d;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, a4 = a0,
            a5 = a0;
    for (size_t j = 0; j < d; j++, pp += 4) {
      const __m256d p0 = _mm256_loadu_pd(pp);
      a0 = _mm256_fmadd_pd(_mm256_broadcast_sd(r0 + j), p0, a0);
      a1 = _mm256_fmadd_pd(_mm256_broadcast_sd(r1 + j), p0, a1);
      a2 = _mm256_fmadd_pd(_mm256_broadcast_sd(r2 + j), p0, a2);
      a3 = _mm256_fmadd_pd(_mm256_broadcast_sd(r3 + j), p0, a3);
      a4 = _mm256_fmadd_pd(_mm256_broadcast_sd(r4 + j), p0, a4);
      a5 = _mm256_fmadd_pd(_mm256_broadcast_sd(r5 + j), p0, a5);
    }
    _mm256_storeu_pd(G + k0, _mm256_xor_pd(a0, neg));
    _mm256_storeu_pd(G + d + k0, _mm256_xor_pd(a1, neg));
    _mm256_storeu_pd(G + 2 * d + k0, _mm256_xor_pd(a2, neg));
    _mm256_storeu_pd(G + 3 * d + k0, _mm256_xor_pd(a3, neg));
    _mm256_storeu_pd(G + 4 * d + k0, _mm256_xor_pd(a4, neg));
    _mm256_storeu_pd(G + 5 * d + k0, _mm256_xor_pd(a5, neg));
  }
  for (size_t k = d4; k < d; k++) { /* P[j][k] = P[k][j], contiguous */
    const double *Pk = g->prec + k * d;
    for (size_t r = 0; r < GS_ROWS; r++) {
      double acc = 0.0;
      for (size_t j = 0; j < d; j++) acc = fma(R[r * d + j], Pk[j], acc);
      G[r * d + k] = -acc;
    }
  }
}

/* r^T P r = -r . g for one row: four lanes over the first d - d % 4
 * entries, then the rest, in a fixed order. */
static double dense_quad(size_t d, const double *r, const double *gr)
{
  const size_t d4 = d - d % 4;
  __m256d q = _mm256_setzero_pd();
  for (size_t k = 0; k < d4; k += 4)
    q = _mm256_fnmadd_pd(_mm256_loadu_pd(r + k), _mm256_loadu_pd(gr + k), q);
  double l[4], t = 0.0;
  _mm256_storeu_pd(l, q);
  for (size_t k = d4; k < d; k++) t = fma(-r[k], gr[k], t);
  return ((l[0] + l[1]) + (l[2] + l[3])) + t;
}

static int gaussian_logp_grad(void *ctx, size_t n, const double *X,
                              double *logp, double *grad)
{
  const gaussian *g = ctx;
  const size_t d = g->d;
  const double *mu = g->mean, *P = g->prec;
  if (!g->diagonal) {
    const size_t nb = (n + GS_ROWS - 1) / GS_ROWS;
    /* Blocks of rows are independent and each thread has its own scratch,
     * so a block's bits do not depend on which thread computes it: any
     * split gives the same bits for any thread count.  Dynamic (4 blocks
     * at a time) so that a thread slowed by another process does not hold
     * up the others. */
#pragma omp parallel for schedule(dynamic, 4) num_threads(g->nthr) \
    if (n * d * d > 32768)
    for (size_t b = 0; b < nb; b++) {
      const size_t i0 = GS_ROWS * b;
      const size_t nr = n - i0 < GS_ROWS ? n - i0 : GS_ROWS;
      double *R = g->work + (size_t)omp_get_thread_num() * 2 * GS_ROWS * d;
      double *Gs = R + GS_ROWS * d;
      double *G = grad && nr == GS_ROWS ? grad + i0 * d : Gs;
      for (size_t r = 0; r < nr; r++) {
        const double *x = X + (i0 + r) * d;
#pragma omp simd
        for (size_t k = 0; k < d; k++) R[r * d + k] = x[k] - mu[k];
      }
      if (nr < GS_ROWS) memset(R + nr * d, 0, (GS_ROWS - nr) * d * sizeof *R);
      dense_kernel(g, R, G);
      for (size_t r = 0; r < nr; r++) {
        if (logp)
          logp[i0 + r] = g->lognorm - 0.5 * dense_quad(d, R + r * d, G + r * d);
        if (grad && G == Gs)
          memcpy(grad + (i0 + r) * d, Gs + r * d, d * sizeof(double));
      }
    }
    return 0;
  }
  /* Rows are independent, so a static split gives the same bits for any
   * thread count. */
#pragma omp parallel for schedule(static) if (n * d > 32768)
  for (size_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double *gi = grad ? grad + i * d : NULL;
    double q = 0.0;
    for (size_t k = 0; k < d; k++) {
      double r = x[k] - mu[k];
      double pr = P[k * d + k] * r;
      q += r * pr;
      if (gi) gi[k] = -pr;
    }
    if (logp) logp[i] = g->lognorm - 0.5 * q;
  }
  return 0;
}

static int gaussian_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const gaussian *g = ctx;
  const size_t d = g->d;
  for (size_t i = 0; i < n; i++) {
    /* z in the row, then mean + L z in place: no buffer */
    double *x = X + i * d;
    pf_rng_normal(rng, d, x);
    pf__gaussian_affine(d, g->mean, g->chol, x);
  }
  return 0;
}

void pf__gaussian_affine(size_t d, const double *mean, const double *L,
                         double *x)
{
  /* entry k reads z_0..z_k only, so the last entry goes first */
  for (size_t k = d; k-- > 0;) {
    double s = mean[k];
    for (size_t j = 0; j <= k; j++) s += L[k * d + j] * x[j];
    x[k] = s;
  }
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
