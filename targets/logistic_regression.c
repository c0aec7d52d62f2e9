/* `logistic_regression`: Bayesian logistic regression, the posterior of
 * theta (p = features + intercept) under a N(0, prior_var I) prior and a
 * Bernoulli likelihood with P(y = 1 | x) = sigmoid(x . theta), data from a
 * CSV file.
 *
 * The n particles are evaluated together, as two GEMMs per block (the cost
 * is all in them): Z = Theta X^T gives every particle's logits on every
 * data row, then per entry (pf_vm_exp_neg and log1p_unit below, stable for any
 * |z|) with u = s z,
 * s = 2y - 1:
 *   log sigmoid(u)  = min(u, 0) - log1p(exp(-|u|)),
 *   d/dz           = s sigmoid(-u) = s (u > 0 ? e : 1) / (1 + e),
 *                    e = exp(-|u|),
 * and grad = R X (R the n x N matrix of those derivatives) minus
 * theta / prior_var.
 *
 * Workspaces and threads: the particles are cut into sub-chunks of SP
 * (OpenMP over sub-chunks, static schedule), the data into blocks of DB
 * rows and the features into blocks of FB, so each thread's buffers have
 * sizes fixed at create time (SP x DB logits, padded SP x p copies, two
 * rows) and nothing is allocated in logp_grad whatever n -- better than
 * allocating when n first grows or trusting a max_particles hint.
 *
 * Bits: every GEMM call is at most SP x DB x FB = 131072 multiply-adds,
 * below the size at which OpenBLAS threads a GEMM (65536 x
 * GEMM_MULTITHREAD_THRESHOLD, 4 by default), so each runs in the calling
 * thread with no internal split of any dimension.  OpenBLAS's own threading
 * would make the bits depend on the thread count (it splits the particle
 * columns between threads, and a remainder tile goes through a kernel with
 * another summation order); blocking the inner dimensions ourselves and
 * summing the blocks in a fixed order avoids that.  Within one thread the
 * x86-64 dgemm kernels (OpenBLAS 0.3.21, Haswell/Zen) give a column of C
 * the same bits at any position except a lone remainder column (odd N), so
 * sub-chunks are padded with zero particles to a multiple of PAD.
 * tests/test_logreg.c checks batched against one-at-a-time calls and 1
 * against 2 threads bit for bit.
 *
 * Minibatches (minibatch = B > 0): each call draws B distinct rows (a
 * partial Fisher-Yates shuffle from the target's own pf_rng stream, seeded
 * from minibatch_seed) shared by all particles of the call, and scales the
 * likelihood terms by N / B.  Both logp and grad are then unbiased
 * stochastic estimates (the prior term is exact), and every call, even a
 * logp-only one, advances the stream: the target is no longer a
 * deterministic function (finite-difference checks do not apply).
 *
 * Held-out rows (test_fraction f > 0): round(f N) rows chosen by a
 * Fisher-Yates shuffle from split_seed's stream are removed from the
 * likelihood (kept in file order) and serve the `heldout` op (the
 * heldout_loglik diagnostic).  Standardization uses every row of the file
 * (before the split), so f = 0 keeps the former behaviour exactly.
 *
 * Fisher op (svng): per particle F = (1/B) sum_i sigma_i (1 - sigma_i)
 * z_i z_i^T on the last call's rows (minibatch, else every training row),
 * and dF = (1/B) sum_i sigma_i (1 - sigma_i) (1 - 2 sigma_i) z_i (x) z_i
 * (x) z_i, as GEMMs (Z^T diag(w) Z and [z_i (x) z_i]^T diag(w') Z), one
 * particle per OpenMP iteration with OpenBLAS pinned to one thread for the
 * call, so the bits do not depend on the thread count.  The labels do not
 * enter: for this model the Fisher is minus the Hessian of the per-row
 * mean log-likelihood. */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/checkpoint.h"
#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/registry.h"
#include "pflow/target.h"
#include "pflow/vmath.h"

enum {
  SP = 32,  /* particles per sub-chunk (one thread's GEMM width) */
  DB = 128, /* data rows per block */
  FB = 32,  /* features per block */
  PAD = 8   /* sub-chunks are padded to a multiple of this */
};

typedef struct logreg {
  size_t N, p;        /* data rows; dimension (features + intercept) */
  double *X;          /* N x p design, intercept column first */
  double *s;          /* N labels as signs 2y - 1 */
  double inv_var;     /* 1 / prior_var */
  double lognorm;     /* log normalizer of the prior */
  size_t batch;       /* minibatch size, 0 = full data */
  pf_rng rng;         /* minibatch stream */
  size_t *perm;       /* N: row permutation for minibatch draws */
  double *Xb, *sb;    /* batch x p and batch: the current minibatch */
  size_t Nt;          /* held-out rows */
  double *Xt, *st;    /* Nt x p and Nt: held-out design and signs */
  double *hl;         /* Nt: per-row held-out log predictive */
  double *ZZ;         /* rows x p^2: z_i (x) z_i of the Fisher rows */
  double *fwork;      /* nthr x 2 rows x p: weighted copies of Z */
  int nthr;           /* threads the workspace is sized for */
  size_t wlen;        /* doubles of workspace per thread */
  double *work;       /* nthr x wlen, see eval_sub */
} logreg;

static void logreg_destroy(void *ctx)
{
  logreg *g = ctx;
  if (!g) return;
  free(g->X);
  free(g->s);
  free(g->perm);
  free(g->Xb);
  free(g->sb);
  free(g->Xt);
  free(g->st);
  free(g->hl);
  free(g->ZZ);
  free(g->fwork);
  free(g->work);
  free(g);
}

/* Column index of the label: `label` as a column name, else as a 0-based
 * index; absent: the last column. */
static int label_column(const pf_node *cfg, const pf_csv *t, const char *path,
                        size_t *out)
{
  const char *lab = pf_cfg_str(cfg, "label");
  if (!lab) {
    *out = t->cols - 1;
    return 0;
  }
  size_t j = pf_csv_column(t, lab);
  if (j < t->cols) {
    *out = j;
    return 0;
  }
  char *end;
  long long idx = strtoll(lab, &end, 10);
  if (end != lab && *end == '\0') {
    if (idx < 0 || (size_t)idx >= t->cols)
      PF_CFG_RAISE(cfg, "label", PF_ECONFIG,
                   "column index %lld is out of range: '%s' has %zu columns "
                   "(indices 0..%zu)", idx, path, t->cols, t->cols - 1);
    *out = (size_t)idx;
    return 0;
  }
  char valid[2048];
  pf_names_join((const char *const *)t->names, t->cols, valid, sizeof valid);
  size_t s = pf_suggest(lab, (const char *const *)t->names, t->cols);
  if (s < t->cols)
    PF_CFG_RAISE(cfg, "label", PF_ECONFIG,
                 "no column '%s' in '%s'; did you mean '%s'? (%s)", lab, path,
                 t->names[s], valid);
  PF_CFG_RAISE(cfg, "label", PF_ECONFIG, "no column '%s' in '%s' (%s)", lab,
               path, valid);
}

/* Build the design matrix and the signs from the table. */
static int load_data(const pf_node *cfg, logreg *g, const pf_csv *t,
                     const char *path)
{
  size_t lc;
  int stdz, icpt;
  PF_TRY(label_column(cfg, t, path, &lc));
  PF_TRY(pf_cfg_bool(cfg, "standardize", &stdz));
  PF_TRY(pf_cfg_bool(cfg, "intercept", &icpt));
  if (t->cols < 2 && !icpt)
    PF_CFG_RAISE(cfg, "data", PF_ECONFIG,
                 "'%s' has no feature columns besides the label and "
                 "intercept is false: nothing to fit", path);
  const size_t N = t->rows, off = icpt ? 1 : 0, p = t->cols - 1 + off;
  g->N = N;
  g->p = p;
  g->X = malloc(N * p * sizeof(double));
  g->s = malloc(N * sizeof(double));
  PF_CHECK(g->X && g->s, PF_ENOMEM, "allocating a %zu x %zu design", N, p);
  for (size_t i = 0; i < N; i++) {
    const double *row = t->data + i * t->cols;
    double y = row[lc];
    if (y != 0.0 && y != 1.0 && y != -1.0)
      PF_CFG_RAISE(cfg, "data", PF_ECONFIG,
                   "%s:%ld: column '%s': label %g is not 0 or 1 (nor -1 or "
                   "1)", path, t->lines[i], t->names[lc], y);
    g->s[i] = y == 1.0 ? 1.0 : -1.0;
    double *x = g->X + i * p;
    if (icpt) x[0] = 1.0;
    for (size_t j = 0, k = off; j < t->cols; j++)
      if (j != lc) x[k++] = row[j];
  }
  if (!stdz) return 0;
  /* z-scores with the population sd (ddof 0, as scikit-learn's
   * StandardScaler); a constant column is only centred (it becomes 0). */
  for (size_t k = off; k < p; k++) {
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < N; i++) m += g->X[i * p + k];
    m /= (double)N;
    for (size_t i = 0; i < N; i++) {
      double r = g->X[i * p + k] - m;
      v += r * r;
    }
    double sd = sqrt(v / (double)N);
    double inv = sd > 0.0 ? 1.0 / sd : 1.0;
    for (size_t i = 0; i < N; i++)
      g->X[i * p + k] = (g->X[i * p + k] - m) * inv;
  }
  return 0;
}

/* Move round(f N) rows picked by the split stream to the held-out set. */
static int split_rows(const pf_node *cfg, logreg *g, const char *path)
{
  double f;
  long long seed;
  PF_TRY(pf_cfg_real(cfg, "test_fraction", &f));
  PF_TRY(pf_cfg_int(cfg, "split_seed", &seed));
  const size_t N = g->N, p = g->p, Nt = (size_t)floor(f * (double)N + 0.5);
  if (Nt == 0) return 0;
  if (Nt >= N)
    PF_CFG_RAISE(cfg, "test_fraction", PF_ECONFIG,
                 "%g of the %zu rows of '%s' leaves no training row", f, N,
                 path);
  size_t *perm = malloc(N * sizeof(size_t));
  unsigned char *test = calloc(N, 1);
  g->Xt = malloc(Nt * p * sizeof(double));
  g->st = malloc(Nt * sizeof(double));
  g->hl = malloc(Nt * sizeof(double));
  if (!perm || !test || !g->Xt || !g->st || !g->hl) {
    free(perm);
    free(test);
    PF_RAISE(PF_ENOMEM, "allocating the train/test split");
  }
  pf_rng r;
  pf_rng_stream(&r, (uint64_t)seed, 0);
  for (size_t i = 0; i < N; i++) perm[i] = i;
  for (size_t k = 0; k < Nt; k++) {
    size_t j = k + (size_t)(pf_rng_uniform(&r) * (double)(N - k));
    if (j >= N) j = N - 1;
    size_t tmp = perm[k];
    perm[k] = perm[j];
    perm[j] = tmp;
    test[perm[k]] = 1;
  }
  size_t a = 0, b = 0;
  for (size_t i = 0; i < N; i++) {
    const double *x = g->X + i * p;
    if (test[i]) {
      memcpy(g->Xt + a * p, x, p * sizeof(double));
      g->st[a++] = g->s[i];
    } else {
      memmove(g->X + b * p, x, p * sizeof(double));
      g->s[b++] = g->s[i];
    }
  }
  free(perm);
  free(test);
  g->Nt = Nt;
  g->N = N - Nt;
  return 0;
}

static int logreg_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  char *path = NULL;
  pf_csv *t = NULL;
  logreg *g = calloc(1, sizeof *g);
  PF_CHECK(g, PF_ENOMEM, "allocating the logistic_regression target");
  PF_TRY_GOTO(rc, pf_input_path(cfg, "data", PF_EIO, &path), fail);
  PF_TRY_GOTO(rc, pf_csv_read(path, &t), fail);
  PF_TRY_GOTO(rc, load_data(cfg, g, t, path), fail);
  PF_TRY_GOTO(rc, split_rows(cfg, g, path), fail);

  double var;
  long long B, seed;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "prior_var", &var), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "minibatch", &B), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "minibatch_seed", &seed), fail);
  g->inv_var = 1.0 / var;
  const double log_2pi = 1.8378770664093454836;
  g->lognorm = -0.5 * (double)g->p * (log_2pi + log(var));
  if (B > 0 && (size_t)B >= g->N) {
    rc = pf__config_raise(cfg, "minibatch", PF_ECONFIG, __FILE__, __LINE__,
                          "%lld is not smaller than the %zu data rows of "
                          "'%s' (0 means the full data)", B, g->N, path);
    goto fail;
  }
  g->batch = (size_t)B;
  if (g->batch) {
    pf_rng_stream(&g->rng, (uint64_t)seed, 0);
    g->perm = malloc(g->N * sizeof(size_t));
    g->Xb = malloc(g->batch * g->p * sizeof(double));
    g->sb = malloc(g->batch * sizeof(double));
    PF_CHECK_GOTO(rc, g->perm && g->Xb && g->sb, PF_ENOMEM, fail,
                  "allocating the minibatch workspace");
    for (size_t i = 0; i < g->N; i++) g->perm[i] = i;
  }
  g->nthr = omp_get_max_threads();
  g->wlen = (size_t)SP * DB + 2 * (size_t)SP * g->p + SP + 2 * (size_t)DB;
  g->work = malloc((size_t)g->nthr * g->wlen * sizeof(double));
  PF_CHECK_GOTO(rc, g->work, PF_ENOMEM, fail,
                "allocating the logistic_regression workspace");
  {
    const size_t rows = g->batch ? g->batch : g->N, p = g->p;
    g->ZZ = malloc(rows * p * p * sizeof(double));
    g->fwork = malloc((size_t)g->nthr * 2 * rows * p * sizeof(double));
    PF_CHECK_GOTO(rc, g->ZZ && g->fwork, PF_ENOMEM, fail,
                  "allocating the Fisher workspace (%zu rows, p = %zu)", rows,
                  p);
  }
  free(path);
  pf_csv_destroy(&t);
  *ctx = g;
  *dim = g->p;
  return 0;
fail:
  free(path);
  pf_csv_destroy(&t);
  logreg_destroy(g);
  return rc;
}

/* Draw a minibatch: the first `batch` entries of a partial Fisher-Yates
 * shuffle are a uniform random subset whatever perm's current order, so
 * every row is in it with probability batch / N. */
static void draw_batch(logreg *g)
{
  const size_t N = g->N, B = g->batch, p = g->p;
  for (size_t k = 0; k < B; k++) {
    size_t m = N - k, j = k + (size_t)(pf_rng_uniform(&g->rng) * (double)m);
    if (j >= N) j = N - 1;
    size_t tmp = g->perm[k];
    g->perm[k] = g->perm[j];
    g->perm[j] = tmp;
    memcpy(g->Xb + k * p, g->X + g->perm[k] * p, p * sizeof(double));
    g->sb[k] = g->s[g->perm[k]];
  }
}

/* log1p(e) for e in [0, 1] (NaN propagates), four lanes, within 1 ulp
 * (checked against glibc's log1p on 2e7 points): fdlibm's reduction and
 * minimax coefficients Lg1..Lg7 for log(1 + f) = f - hfsq + s (hfsq +
 * R(s^2)), s = f / (2 + f), with 1 + e halved above sqrt 2 (f = (e - 1) / 2)
 * so |f| <= sqrt 2 - 1.  Inline and branch-free, several times faster than
 * SLEEF's general log1p, which was the largest cost of an evaluation. */
static inline __m256d log1p_unit4(__m256d e)
{
#define LG_C(x) _mm256_set1_pd(x)
  const __m256d big = _mm256_cmp_pd(e, LG_C(0.41421356237309503), _CMP_GT_OQ);
  const __m256d f = _mm256_blendv_pd(
      e, _mm256_mul_pd(LG_C(0.5), _mm256_sub_pd(e, LG_C(1.0))), big);
  const __m256d k = _mm256_and_pd(big, LG_C(1.0));
  const __m256d s = _mm256_div_pd(f, _mm256_add_pd(LG_C(2.0), f));
  const __m256d z = _mm256_mul_pd(s, s);
  __m256d R = _mm256_fmadd_pd(z, LG_C(1.479819860511658591e-01),
                              LG_C(1.531383769920937332e-01));
  R = _mm256_fmadd_pd(z, R, LG_C(1.818357216161805012e-01));
  R = _mm256_fmadd_pd(z, R, LG_C(2.222219843214978396e-01));
  R = _mm256_fmadd_pd(z, R, LG_C(2.857142874366239149e-01));
  R = _mm256_fmadd_pd(z, R, LG_C(3.999999999940941908e-01));
  R = _mm256_fmadd_pd(z, R, LG_C(6.666666666666735130e-01));
  R = _mm256_mul_pd(z, R);
  const __m256d hfsq = _mm256_mul_pd(LG_C(0.5), _mm256_mul_pd(f, f));
  const __m256d t = _mm256_fmadd_pd(s, _mm256_add_pd(hfsq, R),
                                    _mm256_mul_pd(k, LG_C(1.90821492927058770002e-10)));
  return _mm256_sub_pd(_mm256_mul_pd(k, LG_C(6.93147180369123816490e-01)),
                       _mm256_sub_pd(_mm256_sub_pd(hfsq, t), f));
#undef LG_C
}

/* l = log1p(e) for n entries of e in [0, 1]; a short tail goes through the
 * same four-lane code (lanes are independent: same bits). */
static void log1p_unit(size_t n, const double *e, double *l)
{
  size_t i = 0;
  for (; i + 8 <= n; i += 8) { /* two independent chains in flight */
    const __m256d a = log1p_unit4(_mm256_loadu_pd(e + i));
    const __m256d b = log1p_unit4(_mm256_loadu_pd(e + i + 4));
    _mm256_storeu_pd(l + i, a);
    _mm256_storeu_pd(l + i + 4, b);
  }
  for (; i + 4 <= n; i += 4)
    _mm256_storeu_pd(l + i, log1p_unit4(_mm256_loadu_pd(e + i)));
  if (i < n) {
    double t[4] = {0.0, 0.0, 0.0, 0.0};
    memcpy(t, e + i, (n - i) * sizeof(double));
    _mm256_storeu_pd(t, log1p_unit4(_mm256_loadu_pd(t)));
    memcpy(l + i, t, (n - i) * sizeof(double));
  }
}

/* One sub-chunk of nc <= SP particles (rows Th, nc x p) against the data
 * D (nd x p) with signs s, likelihood terms scaled by c, in the calling
 * thread with workspace w.  lp (nc) and G (nc x p) may be NULL; G gets
 * only the likelihood part. */
static void eval_sub(const logreg *g, double *w, size_t nc, const double *Th,
                     const double *D, const double *s, size_t nd, double c,
                     double *lp, double *G)
{
  const size_t p = g->p, np = (nc + PAD - 1) / PAD * PAD;
  double *Z = w, *Tp = Z + (size_t)SP * DB, *Gp = Tp + (size_t)SP * p;
  double *lacc = Gp + (size_t)SP * p, *e = lacc + SP, *l = e + DB;
  const double *T = Th;
  double *Gw = G;
  if (np != nc) {
    /* Zero particles: their logits are 0 and stay 0 in Z (the row loop
     * skips them), so they add nothing; their gradient rows land in Gp and
     * are dropped. */
    memcpy(Tp, Th, nc * p * sizeof(double));
    memset(Tp + nc * p, 0, (np - nc) * p * sizeof(double));
    T = Tp;
    if (G) Gw = Gp;
  }
  memset(lacc, 0, nc * sizeof(double));
  for (size_t i0 = 0; i0 < nd; i0 += DB) {
    const size_t db = nd - i0 < DB ? nd - i0 : DB;
    const double *Dk = D + i0 * p, *sk = s + i0;
    for (size_t f0 = 0; f0 < p; f0 += FB) {
      const size_t fb = p - f0 < FB ? p - f0 : FB;
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)np, (int)db,
                  (int)fb, 1.0, T + f0, (int)p, Dk + f0, (int)p,
                  f0 ? 1.0 : 0.0, Z, (int)db);
    }
    for (size_t j = 0; j < nc; j++) {
      double *z = Z + j * db;
      /* omp simd: -O2 does not vectorize loops of unknown length, and a
       * branch on the sign of u would be mispredicted half the time. */
#pragma omp simd
      for (size_t i = 0; i < db; i++) {
        double u = sk[i] * z[i];
        z[i] = u;
        e[i] = -fabs(u);
      }
      pf_vm_exp_neg(db, e, e);
      if (lp) {
        log1p_unit(db, e, l);
        /* Four partial sums in a fixed pattern (vectorizable, and the
         * same order for every row and call). */
        double a[4] = {0.0, 0.0, 0.0, 0.0};
        size_t i = 0;
        for (; i + 4 <= db; i += 4)
#pragma omp simd
          for (int k = 0; k < 4; k++) {
            double u = z[i + k];
            a[k] += (u < 0.0 ? u : 0.0) - l[i + k];
          }
        for (; i < db; i++) a[0] += (z[i] < 0.0 ? z[i] : 0.0) - l[i];
        lacc[j] += (a[0] + a[1]) + (a[2] + a[3]);
      }
      if (G)
#pragma omp simd
        for (size_t i = 0; i < db; i++) {
          double num = z[i] > 0.0 ? e[i] : 1.0;
          z[i] = sk[i] * (num / (1.0 + e[i]));
        }
    }
    if (G)
      for (size_t f0 = 0; f0 < p; f0 += FB) {
        const size_t fb = p - f0 < FB ? p - f0 : FB;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)np,
                    (int)fb, (int)db, c, Z, (int)db, Dk + f0, (int)p,
                    i0 ? 1.0 : 0.0, Gw + f0, (int)p);
      }
  }
  if (G && Gw != G) memcpy(G, Gw, nc * p * sizeof(double));
  if (lp)
    for (size_t j = 0; j < nc; j++) lp[j] = c * lacc[j];
}

static int logreg_logp_grad(void *ctx, size_t n, const double *X,
                            double *logp, double *grad)
{
  logreg *g = ctx;
  const size_t p = g->p, nsub = (n + SP - 1) / SP;
  const double *D = g->X, *s = g->s;
  size_t nd = g->N;
  double c = 1.0;
  if (g->batch) {
    draw_batch(g);
    D = g->Xb;
    s = g->sb;
    nd = g->batch;
    c = (double)g->N / (double)g->batch;
  }
  /* Sub-chunks are independent and each thread has its own workspace, so
   * the bits do not depend on the thread count. */
#pragma omp parallel for schedule(static) num_threads(g->nthr) if (nsub > 1)
  for (size_t b = 0; b < nsub; b++) {
    const size_t j0 = b * SP, nc = n - j0 < SP ? n - j0 : SP;
    double *w = g->work + (size_t)omp_get_thread_num() * g->wlen;
    eval_sub(g, w, nc, X + j0 * p, D, s, nd, c, logp ? logp + j0 : NULL,
             grad ? grad + j0 * p : NULL);
  }
  /* The prior: exact in both modes. */
  for (size_t j = 0; j < n; j++) {
    const double *th = X + j * p;
    double q = 0.0;
    for (size_t k = 0; k < p; k++) q += th[k] * th[k];
    if (logp) logp[j] += g->lognorm - 0.5 * g->inv_var * q;
    if (grad)
      for (size_t k = 0; k < p; k++) grad[j * p + k] -= g->inv_var * th[k];
  }
  return 0;
}

static double sigmoid(double z)
{
  if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
  const double e = exp(z);
  return e / (1.0 + e);
}

static int logreg_fisher(void *ctx, size_t n, const double *X, double *F,
                         double *dF, double *n_data)
{
  logreg *g = ctx;
  const size_t p = g->p, pp = p * p;
  const double *D = g->batch ? g->Xb : g->X;
  const size_t B = g->batch ? g->batch : g->N;
  const double inv = 1.0 / (double)B;
  *n_data = (double)g->N;
  if (dF)
#pragma omp parallel for schedule(static) num_threads(g->nthr)
    for (size_t i = 0; i < B; i++) {
      const double *z = D + i * p;
      double *o = g->ZZ + i * pp;
      for (size_t a = 0; a < p; a++)
        for (size_t b = 0; b < p; b++) o[a * p + b] = z[a] * z[b];
    }
  const int old = openblas_get_num_threads();
  if (old != 1) openblas_set_num_threads(1);
#pragma omp parallel for schedule(static) num_threads(g->nthr)
  for (size_t j = 0; j < n; j++) {
    double *W1 = g->fwork + (size_t)omp_get_thread_num() * 2 * B * p;
    double *W2 = W1 + B * p;
    const double *th = X + j * p;
    for (size_t i = 0; i < B; i++) {
      const double *z = D + i * p;
      double u = 0.0;
      for (size_t k = 0; k < p; k++) u += z[k] * th[k];
      const double sg = sigmoid(u), v = sg * (1.0 - sg) * inv;
      const double v2 = v * (1.0 - 2.0 * sg);
      for (size_t k = 0; k < p; k++) {
        W1[i * p + k] = v * z[k];
        W2[i * p + k] = v2 * z[k];
      }
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)p,
                (int)B, 1.0, W1, (int)p, D, (int)p, 0.0, F + j * pp, (int)p);
    /* Exactly symmetric (the GEMM's two triangles round differently). */
    for (size_t a = 0; a < p; a++)
      for (size_t b = a + 1; b < p; b++) F[j * pp + a * p + b] = F[j * pp + b * p + a];
    if (dF)
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)pp, (int)p,
                  (int)B, 1.0, g->ZZ, (int)pp, W2, (int)p, 0.0,
                  dF + j * pp * p, (int)p);
  }
  if (old != 1) openblas_set_num_threads(old);
  return 0;
}

/* log sigmoid(u), stable for any |u|. */
static double log_sigmoid(double u)
{
  return (u < 0.0 ? u : 0.0) - log1p(exp(-fabs(u)));
}

static int logreg_heldout(void *ctx, size_t n, const double *X,
                          double *loglik, double *accuracy)
{
  logreg *g = ctx;
  PF_CHECK(g->Nt > 0, PF_ENOTSUP,
           "logistic_regression has no held-out rows (set test_fraction)");
  PF_CHECK(n > 0, PF_EINVAL, "heldout: no particles");
  const size_t p = g->p;
  const double logn = log((double)n);
  /* Per row: log mean_j p(y | x, theta_j) by log-sum-exp in particle
   * order; the row sums run in row order afterwards. */
#pragma omp parallel for schedule(static) num_threads(g->nthr)
  for (size_t i = 0; i < g->Nt; i++) {
    const double *z = g->Xt + i * p;
    double mx = -INFINITY, acc = 0.0;
    for (int pass = 0; pass < 2; pass++)
      for (size_t j = 0; j < n; j++) {
        const double *th = X + j * p;
        double u = 0.0;
        for (size_t k = 0; k < p; k++) u += z[k] * th[k];
        const double l = log_sigmoid(g->st[i] * u);
        if (pass == 0) {
          if (l > mx) mx = l;
        } else {
          acc += exp(l - mx);
        }
      }
    g->hl[i] = mx + log(acc) - logn;
  }
  double s = 0.0, c = 0.0;
  for (size_t i = 0; i < g->Nt; i++) {
    s += g->hl[i];
    if (g->hl[i] > -0.69314718055994530942) c += 1.0; /* p > 1/2 */
  }
  *loglik = s / (double)g->Nt;
  *accuracy = c / (double)g->Nt;
  return 0;
}

static const pf_param logreg_params[] = {
    {"data", PF_P_STRING, NULL, NULL,
     "CSV file (header row, numeric columns); relative to the working "
     "directory, then to the config file's directory; $VAR expanded",
     PF_PARAM_REQUIRED, NULL, NULL},
    {"label", PF_P_STRING, NULL, NULL,
     "label column: name, or 0-based index (default: the last column); "
     "values 0/1 or -1/1", 0, NULL, NULL},
    {"standardize", PF_P_BOOL, "true", NULL,
     "z-score the feature columns (mean, population sd of the data)", 0,
     NULL, NULL},
    {"intercept", PF_P_BOOL, "true", NULL,
     "prepend a column of ones (coordinate 0; not standardized; same prior)",
     0, NULL, NULL},
    {"prior_var", PF_P_REAL, "1", "(0,inf)",
     "variance of the N(0, prior_var I) prior on every coefficient", 0, NULL,
     NULL},
    {"minibatch", PF_P_INT, "0", "[0,1e12]",
     "0: full data; B > 0: each call uses B random rows scaled by N/B "
     "(stochastic logp and gradient)", 0, NULL, NULL},
    {"minibatch_seed", PF_P_INT, "0", "[0,1e18]",
     "seed of the minibatch stream", 0, NULL, NULL},
    {"test_fraction", PF_P_REAL, "0", "[0,1)",
     "fraction of the rows held out of the likelihood (for the "
     "heldout_loglik diagnostic); 0: every row trains", 0, NULL, NULL},
    {"split_seed", PF_P_INT, "0", "[0,1e18]",
     "seed of the stream choosing the held-out rows", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

/* Checkpoints: the minibatch stream, the permutation it shuffles in place
 * and the current batch (the Fisher op reads the last call's rows). */
static int logreg_state(void *ctx, pf_state_visitor *v)
{
  logreg *g = ctx;
  if (!g->batch) return 0;
  PF_TRY(pf_state_rng(v, "minibatch_rng", &g->rng, 1));
  PF_TRY(pf_state_size(v, "minibatch_perm", g->perm, g->N));
  PF_TRY(pf_state_f64(v, "minibatch_x", g->Xb, g->batch * g->p));
  PF_TRY(pf_state_f64(v, "minibatch_s", g->sb, g->batch));
  return 0;
}

const pf_target_ops pf_target_logistic_regression = {
    .base = {"logistic_regression",
             "Bayesian logistic regression on a CSV data set, N(0, v I) "
             "prior", logreg_params},
    .example = "{name: logistic_regression, data: data/breast_cancer.csv}",
    .create = logreg_create,
    .destroy = logreg_destroy,
    .logp_grad = logreg_logp_grad,
    .fisher = logreg_fisher,
    .heldout = logreg_heldout,
    .state = logreg_state,
};
