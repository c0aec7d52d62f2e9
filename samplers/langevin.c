/* The Langevin engine (see langevin.h).  Chains are rows; each row draws
 * its noise and its acceptance uniform from its own stream and all per-row
 * work is independent, so the bits do not depend on the thread count.  The
 * only cross-chain quantities (mean acceptance for step-size adaptation,
 * the adapted metric) are summed in chain order. */
#include "langevin.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/comm.h"
#include "pflow/checkpoint.h"
#include "pflow/error.h"
#include "pflow/sampler.h"

const char *const pf__lgv_info[PF__LGV_N_INFO] = {
    "step_size", "acceptance_rate", "diverging",
    "boundary_events", "fallbacks", "backoffs"};

const char *const pf__lgv_chain_stats[PF__LGV_N_CHAIN_STATS] = {
    "acceptance_rate", "step_size", "diverging", "boundary_events"};

typedef struct lgv {
  pf_target *t;
  const pf_domain *dom;
  pf__lgv_opts o;
  size_t n, d;
  double h, target_accept;
  double h_used; /* step size of the last step (before adaptation) */
  long long warmup;
  double dt, t_end, sigma, sig_min, sig_max, beta_min, beta_max;
  int adapt_h;
  pf_nonfinite_policy policy;
  long long max_backoff;
  double backoffs;
  double *M, *L;         /* metric and its lower Cholesky factor (d x d) */
  double *E;             /* dual mode: eta positions (n x d) */
  double *MG, *MGy;      /* M grad at the current and proposed rows */
  double *Y, *Ylogp, *Ygrad, *YX, *V;
  double *acc, *zz;      /* per chain: acceptance probability, |z|^2 */
  unsigned char *outside; /* per chain: proposal left the domain */
  double *div;           /* per chain: the last proposal diverged */
  double *events, *fallbk; /* per chain: boundary events, fallbacks */
  int nthr;
  size_t wlen;
  double *work;          /* nthr x wlen domain scratch */
  double *vrow;          /* nthr x d: a thread's step / residual row */
  size_t chunk;          /* chains per pass of a chunked (MALA) step */
} lgv;

void pf__lgv_destroy(void *state)
{
  lgv *s = state;
  if (!s) return;
  free(s->M);
  free(s->L);
  free(s->E);
  free(s->MG);
  free(s->MGy);
  free(s->Y);
  free(s->Ylogp);
  free(s->Ygrad);
  free(s->YX);
  free(s->V);
  free(s->acc);
  free(s->zz);
  free(s->outside);
  free(s->div);
  free(s->events);
  free(s->fallbk);
  free(s->work);
  free(s->vrow);
  free(s);
}

/* L = chol(M) in place of s->L; 0 or the LAPACK info. */
static int factor_metric(lgv *s)
{
  const size_t d = s->d;
  memcpy(s->L, s->M, d * d * sizeof(double));
  /* OpenBLAS's bits depend on its own thread count (OMP_NUM_THREADS):
   * pinned to one thread, the chains are the same for any count. */
  const int blas_thr = openblas_get_num_threads();
  if (blas_thr != 1) openblas_set_num_threads(1);
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, s->L,
                                   (lapack_int)d);
  if (blas_thr != 1) openblas_set_num_threads(blas_thr);
  if (info != 0) return (int)info;
  for (size_t i = 0; i < d; i++)
    for (size_t j = i + 1; j < d; j++) s->L[i * d + j] = 0.0;
  return 0;
}

static int read_metric(const pf_node *cfg, lgv *s)
{
  const size_t d = s->d;
  int has_m = pf_cfg_has(cfg, "metric"), has_d = pf_cfg_has(cfg, "metric_diag");
  if (has_m && has_d)
    PF_CFG_RAISE(cfg, "metric_diag", PF_ECONFIG,
                 "give either metric or metric_diag, not both");
  if (!has_m && !has_d)
    PF_CFG_RAISE(cfg, "metric", PF_ECONFIG,
                 "needs a metric (d x d SPD matrix), a metric_diag, or "
                 "adapt_metric: true");
  const char *key = has_m ? "metric" : "metric_diag";
  if (has_m) {
    double *m;
    size_t r, c;
    PF_TRY(pf_cfg_matrix(cfg, "metric", &m, &r, &c));
    if (r != d || c != d) {
      free(m);
      PF_CFG_RAISE(cfg, "metric", PF_ECONFIG,
                   "expected a %zu x %zu matrix (the target's dimension), "
                   "found %zu x %zu", d, d, r, c);
    }
    memcpy(s->M, m, d * d * sizeof(double));
    free(m);
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < i; j++)
        if (fabs(s->M[i * d + j] - s->M[j * d + i]) >
            1e-12 * (fabs(s->M[i * d + j]) + fabs(s->M[j * d + i])))
          PF_CFG_RAISE(cfg, "metric", PF_ECONFIG,
                       "not symmetric at [%zu][%zu]", i, j);
  } else {
    double *v;
    size_t m;
    PF_TRY(pf_cfg_reals(cfg, "metric_diag", &v, &m));
    if (m != d && m != 1) {
      free(v);
      PF_CFG_RAISE(cfg, "metric_diag", PF_ECONFIG,
                   "expected %zu entries (or one for all), found %zu", d, m);
    }
    for (size_t i = 0; i < d; i++) s->M[i * d + i] = v[m == 1 ? 0 : i];
    free(v);
  }
  int info = factor_metric(s);
  if (info != 0)
    PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                 "not positive definite (Cholesky failed at column %d)", info);
  return 0;
}

int pf__lgv_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                   const pf__lgv_opts *opts, void **state)
{
  int rc = 0;
  long long n_iter = 0;
  lgv *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating a Langevin sampler");
  s->t = t;
  s->dom = pf_target_domain(t);
  s->o = *opts;
  s->n = n;
  s->d = d;
  s->target_accept = 0.574;
  s->adapt_h = opts->adjust;
  s->warmup = -1;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "step_size", &s->h), fail);
  PF_TRY_GOTO(rc, pf_sampler_policy(cfg, &s->policy), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "max_backoff", &s->max_backoff), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "n_iter", &n_iter), fail);
  if (pf_cfg_has(cfg, "warmup"))
    PF_TRY_GOTO(rc, pf_cfg_int(cfg, "warmup", &s->warmup), fail);
  if (s->warmup < 0) s->warmup = n_iter / 2;
  if (opts->adjust && pf_cfg_has(cfg, "target_accept"))
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "target_accept", &s->target_accept),
                fail);
  if (opts->adjust && pf_cfg_has(cfg, "adapt_step_size"))
    PF_TRY_GOTO(rc, pf_cfg_bool(cfg, "adapt_step_size", &s->adapt_h), fail);
  if (opts->schedule != PF__LGV_FIXED) {
    static const struct {
      const char *key;
      size_t off;
      double def;
    } keys[] = {{"t_end", offsetof(lgv, t_end), 1.0},
                {"sigma", offsetof(lgv, sigma), 1.4142135623730951},
                {"sigma_min", offsetof(lgv, sig_min), 0.01},
                {"sigma_max", offsetof(lgv, sig_max), 10.0},
                {"beta_min", offsetof(lgv, beta_min), 0.1},
                {"beta_max", offsetof(lgv, beta_max), 20.0}};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
      double *v = (double *)((char *)s + keys[k].off);
      *v = keys[k].def;
      if (pf_cfg_has(cfg, keys[k].key))
        PF_TRY_GOTO(rc, pf_cfg_real(cfg, keys[k].key, v), fail);
    }
    s->dt = n_iter > 0 ? s->t_end / (double)n_iter : 0.0;
  }
  if (opts->dual && !pf_domain_mirror(s->dom)) {
    rc = pf__config_raise(cfg, "name", PF_ECONFIG, __FILE__, __LINE__,
                          "needs a target whose domain has a mirror map; "
                          "domain '%s' has none", pf_domain_name(s->dom));
    goto fail;
  }
  const size_t nd = n * d;
  s->Y = pf_alloc_doubles(nd);
  s->Ygrad = pf_alloc_doubles(nd);
  s->V = pf_alloc_doubles(nd);
  s->Ylogp = pf_alloc_doubles(n);
  s->acc = pf_alloc_doubles(n);
  s->zz = pf_alloc_doubles(n);
  s->events = pf_alloc_doubles(n);
  s->fallbk = pf_alloc_doubles(n);
  s->outside = calloc(n, 1);
  s->div = pf_alloc_doubles(n);
  PF_CHECK_GOTO(rc, s->Y && s->Ygrad && s->V && s->Ylogp && s->acc && s->zz &&
                        s->events && s->fallbk && s->outside && s->div,
                PF_ENOMEM, fail, "allocating Langevin buffers (n = %zu, "
                "d = %zu)", n, d);
  if (opts->dual) {
    s->E = pf_alloc_doubles(nd);
    s->YX = pf_alloc_doubles(nd);
    PF_CHECK_GOTO(rc, s->E && s->YX, PF_ENOMEM, fail,
                  "allocating dual-coordinate buffers");
  }
  if (opts->metric != PF__LGV_IDENTITY) {
    s->M = pf_alloc_doubles(d * d);
    s->L = pf_alloc_doubles(d * d);
    s->MG = pf_alloc_doubles(nd);
    s->MGy = pf_alloc_doubles(nd);
    PF_CHECK_GOTO(rc, s->M && s->L && s->MG && s->MGy, PF_ENOMEM, fail,
                  "allocating the metric");
    if (opts->metric == PF__LGV_GIVEN) {
      PF_TRY_GOTO(rc, read_metric(cfg, s), fail);
    } else {
      for (size_t i = 0; i < d; i++) s->M[i * d + i] = s->L[i * d + i] = 1.0;
    }
  }
  if (opts->metric == PF__LGV_ADAPT && pf_comm_size() > 1)
    PF_CHECK_GOTO(rc, 0, PF_ECONFIG, fail,
                  "sampler.adapt_metric: the warm-up metric estimate is not "
                  "available with more than one MPI rank (yet); give the "
                  "metric or run on one rank");
  s->nthr = omp_get_max_threads();
  /* MALA steps run over chunks of about 512 KB per n x d buffer (x,
   * score, proposal, its score: 2 MB a chunk, about the two cores' L2),
   * pipelined (pf__lgv_step), so the passes over a chunk's rows mostly
   * hit L2; with 2 MB per buffer (the last-level cache) a step took about
   * 1.3x the CPU time at d = 100, n = 10^4 (one thread, loaded machine).
   * The per-chain results do not depend on the chunking: each row's
   * evaluation does not depend on the batch (tests/test_targets.c
   * conformance_batch). */
  s->chunk = n;
  if (opts->adjust && !opts->dual && opts->metric == PF__LGV_IDENTITY) {
    size_t c = ((size_t)1 << 16) / (d ? d : 1);
    if (c < 256) c = 256;
    if (c < n) s->chunk = c;
  }
  s->wlen = pf_domain_work_len(s->dom) + 1;
  s->work = pf_alloc_doubles((size_t)s->nthr * s->wlen);
  /* one row per thread, a multiple of 8 doubles apart (no false sharing) */
  s->vrow = pf_alloc_doubles((size_t)s->nthr * ((d + 7) / 8 * 8));
  PF_CHECK_GOTO(rc, s->work && s->vrow, PF_ENOMEM, fail,
                "allocating domain scratch");
  *state = s;
  return 0;
fail:
  pf__lgv_destroy(s);
  return rc;
}

/* MG = G M for all rows (M symmetric): one GEMM. */
static void apply_metric(const lgv *s, const double *G, double *MG)
{
  /* one OpenBLAS thread: its threaded split changes the bits with
   * OMP_NUM_THREADS */
  const int blas_thr = openblas_get_num_threads();
  if (blas_thr != 1) openblas_set_num_threads(1);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->n, (int)s->d,
              (int)s->d, 1.0, G, (int)s->d, s->M, (int)s->d, 0.0, MG,
              (int)s->d);
  if (blas_thr != 1) openblas_set_num_threads(blas_thr);
}

static double *positions(const lgv *s, pf_particles *p)
{
  return s->o.dual ? s->E : p->x;
}

int pf__lgv_init(void *state, pf_particles *p)
{
  lgv *s = state;
  const size_t n = s->n, d = s->d;
  if (s->o.dual) {
    const pf_mirror_ops *m = pf_domain_mirror(s->dom);
    const void *mc = pf_domain_ctx(s->dom);
    int rc = 0;
#pragma omp parallel for schedule(static) num_threads(s->nthr) reduction(min : rc)
    for (size_t i = 0; i < n; i++) {
      double *w = s->work + (size_t)omp_get_thread_num() * s->wlen;
      int r = m->grad_psi(mc, p->x + i * d, s->E + i * d, w);
      if (r < rc) rc = r;
    }
    PF_TRY(rc);
    PF_TRY(pf_target_logp_grad_dual(s->t, n, s->E, p->x, p->logp, p->grad));
    size_t bad = pf_particles_find_nonfinite(p);
    PF_CHECK(bad == n, PF_ENONFINITE,
             "initial particle %zu has a non-finite dual log density or "
             "score", bad);
  }
  if (s->MG) apply_metric(s, p->grad, s->MG);
  return 0;
}

/* M = regularized covariance of the chains' current positions (Stan's
 * shrinkage toward 1e-3 I with weight 5 / (n + 5)); kept unchanged when
 * the estimate is not positive definite. */
static void adapt_metric(lgv *s, pf_particles *p)
{
  const size_t n = s->n, d = s->d;
  const double *X = positions(s, p);
  /* Scratch from the proposal buffers (n x d each, so n >= d is needed for
   * a d x d matrix; with fewer chains the estimate is singular anyway). */
  if (n < 2 || n < d) return;
  double *mu = s->Y, *C = s->V, *Mold = s->Ygrad;
  memset(mu, 0, d * sizeof(double));
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < d; k++) mu[k] += X[i * d + k];
  for (size_t k = 0; k < d; k++) mu[k] /= (double)n;
  memset(C, 0, d * d * sizeof(double));
  for (size_t i = 0; i < n; i++)
    for (size_t a = 0; a < d; a++) {
      double xa = X[i * d + a] - mu[a];
      for (size_t b = 0; b <= a; b++) C[a * d + b] += xa * (X[i * d + b] - mu[b]);
    }
  const double w = (double)n / ((double)n + 5.0);
  const double r = 1e-3 * 5.0 / ((double)n + 5.0);
  memcpy(Mold, s->M, d * d * sizeof(double));
  for (size_t a = 0; a < d; a++)
    for (size_t b = 0; b <= a; b++) {
      double c = w * C[a * d + b] / (double)(n - 1) + (a == b ? r : 0.0);
      s->M[a * d + b] = s->M[b * d + a] = c;
    }
  if (factor_metric(s) != 0) {
    memcpy(s->M, Mold, d * d * sizeof(double));
    factor_metric(s);
  }
  apply_metric(s, p->grad, s->MG);
}

/* Propose y for chain i (noise, drift, boundary rule) into row i - yb of
 * s->Y. */
static void propose(lgv *s, size_t i, size_t yb, const double *x,
                    const double *drift, pf_rng *rng, double h, double *w,
                    double *v)
{
  const size_t d = s->d;
  const double sd = sqrt(2.0 * h);
  double *y = s->Y + (i - yb) * d, zz = 0.0;
  pf_rng_normal(rng, d, v);
  {
    /* four lanes in a fixed pattern (vectorizes), then the rest */
    const size_t d4 = d - d % 4;
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    for (size_t k = 0; k < d4; k += 4)
#pragma omp simd
      for (size_t c = 0; c < 4; c++) a[c] += v[k + c] * v[k + c];
    for (size_t k = d4; k < d; k++) a[0] += v[k] * v[k];
    zz = (a[0] + a[1]) + (a[2] + a[3]);
  }
  s->zz[i] = zz;
  if (s->L) /* v <- L v in place, bottom row first */
    for (size_t k = d; k-- > 0;) {
      const double *Lk = s->L + k * d;
      double acc = 0.0;
      for (size_t j = 0; j <= k; j++) acc += Lk[j] * v[j];
      v[k] = acc;
    }
  switch (s->o.drift) {
  case PF__LGV_SCORE:
#pragma omp simd
    for (size_t k = 0; k < d; k++) v[k] = h * drift[k] + sd * v[k];
    break;
  case PF__LGV_OU:
    for (size_t k = 0; k < d; k++) v[k] = -h * x[k] + sd * v[k];
    break;
  case PF__LGV_ZERO:
    for (size_t k = 0; k < d; k++) v[k] = sd * v[k];
    break;
  }
  s->outside[i] = 0;
  s->events[i] = 0.0;
  s->fallbk[i] = 0.0;
  const pf_domain *dom = s->dom;
  switch (s->o.boundary) {
  case PF__LGV_REFLECT: {
    pf_reflect_info ri = {0, 0};
    memcpy(y, x, d * sizeof(double));
    if (pf_domain_reflect(dom, y, v, w, &ri) < 0) ri.fallback = 1;
    s->events[i] = ri.bounces;
    s->fallbk[i] = ri.fallback;
    return;
  }
  case PF__LGV_PROJECT:
    for (size_t k = 0; k < d; k++) y[k] = x[k] + v[k];
    if (!pf_domain_contains(dom, y, 0.0)) {
      s->events[i] = 1.0;
      if (pf_domain_project(dom, y, w) < 0) s->fallbk[i] = 1.0;
    }
    return;
  case PF__LGV_SYMMETRIZE: {
    for (size_t k = 0; k < d; k++) y[k] = x[k] + v[k];
    if (pf_domain_contains(dom, y, 0.0)) return;
    double *py = s->Ygrad + (i - yb) * d; /* overwritten later */
    memcpy(py, y, d * sizeof(double));
    s->events[i] = 1.0;
    if (pf_domain_project(dom, py, w) < 0) s->fallbk[i] = 1.0;
    for (size_t k = 0; k < d; k++) y[k] = 2.0 * py[k] - y[k];
    if (!pf_domain_contains(dom, y, PF_DOMAIN_TOL)) {
      memcpy(y, py, d * sizeof(double));
      s->fallbk[i] = 1.0;
    }
    return;
  }
  case PF__LGV_REJECT:
  case PF__LGV_NONE:
#pragma omp simd
    for (size_t k = 0; k < d; k++) y[k] = x[k] + v[k];
    /* Adjusted chains and the reject rule never leave the support: a
     * proposal outside is rejected (and evaluated at x, harmlessly). */
    if ((s->o.boundary == PF__LGV_REJECT || s->o.adjust) && !s->o.dual &&
        !pf_domain_is_free(dom) && !pf_domain_contains(dom, y, 0.0)) {
      s->outside[i] = 1;
      s->events[i] = 1.0;
      memcpy(y, x, d * sizeof(double));
    }
    return;
  }
}

static int row_finite(const double *v, size_t d)
{
  /* v * 0 is 0 (or -0) when v is finite, NaN otherwise; no branch per
   * entry, so it vectorizes */
  double t = 0.0;
#pragma omp simd reduction(+ : t)
  for (size_t k = 0; k < d; k++) t += v[k] * 0.0;
  return t == 0.0;
}

/* log q(x | y) + 1/2 |z|^2 ... the MH log ratio for chain i (its proposal
 * in row i - yb). */
static double log_ratio(const lgv *s, size_t i, size_t yb, const double *x,
                        double lpx, double h, double *r, double *rr_out)
{
  const size_t d = s->d;
  const size_t row = i - yb;
  const double *y = s->Y + row * d;
  const double *dy = s->MGy ? s->MGy + row * d : s->Ygrad + row * d;
  double rr = 0.0;
  if (s->L) {
    for (size_t k = 0; k < d; k++) r[k] = x[k] - y[k] - h * dy[k];
    /* r <- L^-1 r by forward substitution */
    for (size_t k = 0; k < d; k++) {
      const double *Lk = s->L + k * d;
      double acc = r[k];
      for (size_t j = 0; j < k; j++) acc -= Lk[j] * r[j];
      r[k] = acc / Lk[k];
    }
    for (size_t k = 0; k < d; k++) rr += r[k] * r[k];
  } else {
    /* four lanes in a fixed pattern (vectorizes), then the rest */
    const size_t d4 = d - d % 4;
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    for (size_t k = 0; k < d4; k += 4)
#pragma omp simd
      for (size_t c = 0; c < 4; c++) {
        const double t = x[k + c] - y[k + c] - h * dy[k + c];
        a[c] += t * t;
      }
    for (size_t k = d4; k < d; k++) {
      const double t = x[k] - y[k] - h * dy[k];
      a[0] += t * t;
    }
    rr = (a[0] + a[1]) + (a[2] + a[3]);
  }
  /* forward: (y - x - h M g_x) = sqrt(2h) L z, so its M^-1 norm over 4h is
   * |z|^2 / 2 */
  *rr_out = rr;
  return s->Ylogp[row] - lpx - rr / (4.0 * h) + 0.5 * s->zz[i];
}

/* Propose chains [c0, c0 + nc) into rows c0 - yb.. of the Y buffers: a
 * work-shared loop, called inside a parallel region.  A chain's proposal
 * depends only on its own rows and stream, so any assignment of chains to
 * threads gives the same bits; dynamic chunks keep every thread busy when
 * another process takes a core for a while (a static split waits for the
 * slowest thread). */
static void propose_rows(lgv *s, pf_particles *p, const double *X, size_t c0,
                         size_t nc, size_t yb, double h)
{
  const size_t d = s->d, vstride = (d + 7) / 8 * 8;
  const double *drift = s->MG ? s->MG : p->grad;
  const size_t tid = (size_t)omp_get_thread_num();
  double *w = s->work + tid * s->wlen, *v = s->vrow + tid * vstride;
#pragma omp for schedule(dynamic, 16) nowait
  for (size_t i = c0; i < c0 + nc; i++)
    propose(s, i, yb, X + i * d, drift + i * d, &p->rng[i], h, w, v);
}

/* The target at rows [j0, j0 + nc) of the Y buffers: one batched call. */
static int eval_rows(lgv *s, size_t j0, size_t nc)
{
  const size_t d = s->d;
  if (s->o.dual)
    PF_TRY(pf_target_logp_grad_dual(s->t, nc, s->Y + j0 * d, s->YX + j0 * d,
                                    s->Ylogp + j0, s->Ygrad + j0 * d));
  else
    PF_TRY(pf_target_logp_grad(s->t, nc, s->Y + j0 * d, s->Ylogp + j0,
                               s->Ygrad + j0 * d));
  if (s->MGy) apply_metric(s, s->Ygrad, s->MGy);
  return 0;
}


/* The Metropolis-Hastings test (adjusted chains, with their finiteness
 * check) and the accepted rows' copy for chains [c0, c0 + nc) (proposals
 * in rows c0 - yb..): one pass over the rows while they are in cache.  A
 * work-shared loop (see propose_rows), called inside a parallel region. */
static void mh_rows_ws(lgv *s, pf_particles *p, double *X, size_t c0,
                       size_t nc, size_t yb, double h)
{
  const size_t d = s->d, vstride = (d + 7) / 8 * 8;
  double *r = s->vrow + (size_t)omp_get_thread_num() * vstride;
#pragma omp for schedule(dynamic, 16) nowait
  for (size_t i = c0; i < c0 + nc; i++) {
    const size_t j = i - yb;
    double *x = X + i * d;
    const double *y = s->Y + j * d, *gy = s->Ygrad + j * d;
    if (s->o.adjust) {
      s->div[i] = 0.0;
      s->acc[i] = 0.0;
      if (s->outside[i]) continue;
      double rr, lr = log_ratio(s, i, yb, x, p->logp[i], h, r, &rr);
      /* |x - y - h g_y|^2 is finite only if every y_k and g_y,k is (an
       * infinite entry makes its term infinite or NaN), so the scans run
       * only when it is not (or the metric mixes the entries). */
      if (!(isfinite(s->Ylogp[j]) &&
            ((isfinite(rr) && !s->MGy) || (row_finite(gy, d) && row_finite(y, d))))) {
        s->div[i] = 1.0;
        continue;
      }
      s->acc[i] = lr >= 0.0 ? 1.0 : exp(lr);
      double u = pf_rng_uniform(&p->rng[i]);
      if (!(u < s->acc[i])) continue;
    } else if (s->acc[i] == 0.0) {
      continue;
    }
    memcpy(x, y, d * sizeof(double));
    memcpy(p->grad + i * d, gy, d * sizeof(double));
    p->logp[i] = s->Ylogp[j];
    if (s->o.dual) memcpy(p->x + i * d, s->YX + j * d, d * sizeof(double));
    if (s->MG) memcpy(s->MG + i * d, s->MGy + j * d, d * sizeof(double));
  }
}

int pf__lgv_step(void *state, long iter, pf_particles *p, double *info)
{
  lgv *s = state;
  const size_t n = s->n, d = s->d;
  const int warm = iter <= s->warmup;
  if (s->o.metric == PF__LGV_ADAPT && s->warmup >= 2 &&
      iter == s->warmup / 2 + 1)
    adapt_metric(s, p);
  if (s->o.schedule != PF__LGV_FIXED) {
    /* g(t)^2 at the left end of the step */
    const double t = (double)(iter - 1) * s->dt, u = t / s->t_end;
    double g2 = s->sigma * s->sigma;
    if (s->o.schedule == PF__LGV_VE) {
      double sg = s->sig_min * pow(s->sig_max / s->sig_min, u);
      g2 = 2.0 * sg * sg * log(s->sig_max / s->sig_min) / s->t_end;
    } else if (s->o.schedule == PF__LGV_VP) {
      g2 = s->beta_min + u * (s->beta_max - s->beta_min);
    }
    s->h = 0.5 * g2 * s->dt;
  }
  double *X = positions(s, p);
  double h = s->h, diverging = 0.0;
  if (s->o.adjust) {
    /* No backoff (a non-finite proposal is rejected), so the step can run
     * chunk by chunk, pipelined: chunk k's proposals go to slab k % 2 of
     * the Y buffers (rows from (k % 2) * chunk; a row never exceeds its
     * chain's index, so n rows suffice), and one parallel region runs the
     * MH test of chunk k - 1 and then (nowait) the proposals of chunk k:
     * two fork/joins per chunk (this one and the target's).  Per chain
     * the stream order is unchanged: normals of a proposal, then its
     * uniform. */
    const size_t ch = s->chunk, nch = (n + ch - 1) / ch;
    for (size_t k = 0; k <= nch; k++) {
      const size_t c0 = k * ch, yb = c0 - (k % 2) * ch;
      const size_t nc = k < nch ? (n - c0 < ch ? n - c0 : ch) : 0;
      const size_t pc0 = k > 0 ? c0 - ch : 0, pyb = pc0 - ((k + 1) % 2) * ch;
      const size_t pnc = k > 0 ? (n - pc0 < ch ? n - pc0 : ch) : 0;
#pragma omp parallel num_threads(s->nthr)
      {
        if (pnc) mh_rows_ws(s, p, X, pc0, pnc, pyb, h);
        if (nc) propose_rows(s, p, X, c0, nc, yb, h);
      }
      if (nc) PF_TRY(eval_rows(s, c0 - yb, nc));
    }
    for (size_t i = 0; i < n; i++) diverging += s->div[i];
  } else {
    for (long long tries = 0;; tries++) {
      h = s->h;
      /* all chains at once, chain i in row i of the Y buffers */
#pragma omp parallel num_threads(s->nthr)
      propose_rows(s, p, X, 0, n, 0, h);
      PF_TRY(eval_rows(s, 0, n));
      size_t bad = n;
#pragma omp parallel for schedule(static) num_threads(s->nthr) reduction(min : bad)
      for (size_t i = 0; i < n; i++) {
        s->div[i] = 0.0;
        int fin = isfinite(s->Ylogp[i]) && row_finite(s->Ygrad + i * d, d) &&
                  row_finite(s->Y + i * d, d);
        if (s->outside[i]) {
          s->acc[i] = 0.0;
        } else if (!fin) {
          s->acc[i] = 0.0;
          s->div[i] = 1.0;
          if (i < bad) bad = i;
        } else {
          s->acc[i] = 1.0;
        }
      }
      /* Under MPI every rank takes the same decision: the first bad chain
       * overall (include/pflow/comm.h). */
      const unsigned long long gbad =
          pf_comm_min_u64(bad == n ? ~0ULL : p->first + bad);
      if (gbad == ~0ULL) break;
      if (s->policy == PF_NONFINITE_ABORT || tries >= s->max_backoff)
        PF_RAISE(PF_ENONFINITE,
                 "iteration %ld: chain %llu reached a non-finite position, "
                 "log density or score with step size %g%s", iter, gbad, h,
                 s->policy == PF_NONFINITE_ABORT
                     ? " (on_nonfinite: abort; the last good state is kept)"
                     : " after the maximum number of step-size halvings");
      s->h *= 0.5;
      s->backoffs += 1.0;
    }
#pragma omp parallel num_threads(s->nthr)
    mh_rows_ws(s, p, X, 0, n, 0, h);
  }
  double acc = 0.0, ev = 0.0, fb = 0.0;
  size_t n_all = n;
  for (size_t i = 0; i < n; i++) {
    ev += s->events[i];
    fb += s->fallbk[i];
  }
  /* Sharded over MPI ranks: the mean acceptance is summed in global chain
   * order (bitwise the serial sum); the others are counts (exact sums). */
  PF_TRY(pf_comm_ordered_sum(s->acc, n, &acc, &n_all));
  ev = pf_comm_sum_counts(ev);
  fb = pf_comm_sum_counts(fb);
  diverging = pf_comm_sum_counts(diverging);
  acc /= (double)n_all;
  /* Robbins-Monro on log h toward the target acceptance, warm-up only;
   * the mean over n chains makes the signal smooth. */
  if (s->o.adjust && s->adapt_h && warm)
    s->h *= exp((acc - s->target_accept) * pow((double)iter, -0.6));
  s->h_used = h;
  info[0] = h;
  info[1] = acc;
  info[2] = diverging;
  info[3] = ev / (double)n_all;
  info[4] = fb;
  info[5] = s->backoffs;
  return 0;
}

long long pf__lgv_warmup(const void *state)
{
  return ((const lgv *)state)->warmup;
}

int pf__lgv_chain_stat_values(const void *state, double *out)
{
  const lgv *s = state;
  const size_t n = s->n;
  memcpy(out, s->acc, n * sizeof(double));
  for (size_t i = 0; i < n; i++) out[n + i] = s->h_used;
  memcpy(out + 2 * n, s->div, n * sizeof(double));
  memcpy(out + 3 * n, s->events, n * sizeof(double));
  return 0;
}

/* Checkpoints: the adapted step size and metric, the dual positions (the
 * primary coordinates in dual mode), M grad, counters and the last step's
 * per-chain statistics. */
int pf__lgv_state(void *state, pf_state_visitor *v)
{
  lgv *s = state;
  const size_t n = s->n, d = s->d;
  PF_TRY(pf_state_f64(v, "h", &s->h, 1));
  PF_TRY(pf_state_f64(v, "h_used", &s->h_used, 1));
  PF_TRY(pf_state_f64(v, "backoffs", &s->backoffs, 1));
  if (s->M) {
    PF_TRY(pf_state_f64(v, "metric", s->M, d * d));
    PF_TRY(pf_state_f64(v, "metric_chol", s->L, d * d));
    PF_TRY(pf_state_f64(v, "metric_grad", s->MG, n * d));
  }
  if (s->E) PF_TRY(pf_state_f64(v, "eta", s->E, n * d));
  PF_TRY(pf_state_f64(v, "accept", s->acc, n));
  PF_TRY(pf_state_f64(v, "diverging", s->div, n));
  PF_TRY(pf_state_f64(v, "events", s->events, n));
  PF_TRY(pf_state_f64(v, "fallbacks", s->fallbk, n));
  return 0;
}
