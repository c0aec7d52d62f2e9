/* `svng`: Stein variational natural gradient (Shi, Liu & Mackey, ICLR 2022,
 * the official code's unconstrained/svmd.py + lr.py): SVMD (svmd.h) with
 * the mirror map's hess psi replaced by a per-particle metric H, a running
 * average of the target's (minibatch) Fisher information plus a ridge.
 *
 * Each step t = 1, 2, ... (the last logp_grad call's minibatch is the one
 * the Fisher is taken on, so score and metric see the same rows):
 *   1. refit the kernel bandwidth (RBF, median of all n^2 squared distances
 *      by default: the reference code's rule),
 *   2. per particle F, dF = the target's Fisher op (mean per data row, and
 *      its derivative dF[a][b][c] = d F_ab / d theta_c),
 *      rho = min(1 - 1/t, 0.95), G = rho G + (1 - rho) F, same for dG,
 *      H = G + ridge I, H^-1 by Cholesky (dpotrf/dpotri),
 *      div H^-1 = sum_c d_c (H^-1)_{:,c} = -sum_c [H^-1 dG_c H^-1]_{:,c}
 *               = -H^-1 u, u_b = sum_{e,c} dG[b][e][c] (H^-1)_{e,c},
 *      s = H^-1 grad log p + div H^-1,
 *   3. g = the SVMD direction with metrics H, H^-1 and dual scores s
 *      (eigen threshold tau = 0.98, Gram jitter 0 by default),
 *   4. theta += step(H^-1 g / N) with N the number of training rows (the
 *      score is N times a per-row mean, the Fisher a per-row mean); the
 *      plain rule (SGD) as in the reference, then log p and its score at
 *      the new points (a new minibatch).
 * Targets without a Fisher op (e.g. the gaussian of the conformance suite):
 * the metric is the identity, H = H^-1 = I, dG = 0, N = 1, so svng is the
 * SVMD direction under the Euclidean metric (SVGD with the square-root
 * kernel).  Chosen over a finite-difference negative Hessian because that
 * is neither positive definite nor smooth in general, and the identity
 * keeps svng usable on any target.
 * Bits: the Fisher op and the engine give thread-count independent bits;
 * the per-particle loops here are OpenMP over particles with OpenBLAS /
 * LAPACK pinned to one thread.
 * MPI (replicated particles): step 2, the per-particle Fisher op and
 * metric work (most of a step: on the logistic regression of
 * configs/logreg_svng.yaml the SVMD direction is only 12% of a step at 200
 * particles and 4% at 20), runs on this rank's block of particles only;
 * H, H^-1 and s are all-gathered, and G, dG hold only the rank's rows
 * between checkpoints (the state op gathers them).  Each particle's
 * arithmetic is the same on any rank, so the bits do not depend on the
 * rank count. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer.h"
#include "pflow/checkpoint.h"
#include "pflow/comm.h"
#include "pflow/error.h"
#include "pflow/particles.h"
#include "pflow/sampler.h"
#include "svmd.h"

static const char *const svng_info[] = {"step_size", "rank", "bandwidth"};

typedef struct svng {
  pf_target *t;
  size_t n, d;
  double tau, jitter, ridge;
  int fisher;          /* the target has a Fisher op */
  double n_data;       /* N (1 without a Fisher op) */
  pf_kernel *k;
  pf__opt *opt;
  pf__svmd *w;
  double *G, *dG;      /* n x d^2, n x d^3: running averages */
  double *F, *dF;      /* this step's Fisher and derivative */
  double *H, *Hinv;    /* n x d^2 */
  double *S, *g, *dir; /* n x d */
  double *Xp, *lpp, *Sp; /* proposal */
  int nthr;
  double *u;           /* nthr x d */
} svng;

static void svng_destroy(void *state)
{
  svng *s = state;
  if (!s) return;
  pf_kernel_destroy(&s->k);
  pf__opt_destroy(&s->opt);
  pf__svmd_destroy(&s->w);
  free(s->G);
  free(s->dG);
  free(s->F);
  free(s->dF);
  free(s->H);
  free(s->Hinv);
  free(s->S);
  free(s->g);
  free(s->dir);
  free(s->Xp);
  free(s->lpp);
  free(s->Sp);
  free(s->u);
  free(s);
}

static int svng_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                       void **state)
{
  int rc = 0;
  svng *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the svng sampler");
  s->t = t;
  s->n = n;
  s->d = d;
  s->fisher = pf_target_ops_of(t)->fisher != NULL;
  s->n_data = 1.0;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "eigen_threshold", &s->tau), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "jitter", &s->jitter), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "ridge", &s->ridge), fail);
  PF_TRY_GOTO(rc, pf_kernel_create(pf_node_get(cfg, "kernel"), n, &s->k),
              fail);
  PF_TRY_GOTO(rc, pf__opt_create(cfg, n, d, &s->opt), fail);
  PF_TRY_GOTO(rc, pf__svmd_create(n, d, &s->w), fail);
  const size_t nd = n * d, ndd = nd * d;
  s->H = pf_alloc_doubles(ndd);
  s->Hinv = pf_alloc_doubles(ndd);
  s->S = pf_alloc_doubles(nd);
  s->g = pf_alloc_doubles(nd);
  s->dir = pf_alloc_doubles(nd);
  s->Xp = pf_alloc_doubles(nd);
  s->Sp = pf_alloc_doubles(nd);
  s->lpp = pf_alloc_doubles(n);
  s->nthr = omp_get_max_threads();
  s->u = pf_alloc_doubles((size_t)s->nthr * d);
  PF_CHECK_GOTO(rc, s->H && s->Hinv && s->S && s->g && s->dir && s->Xp &&
                        s->Sp && s->lpp && s->u,
                PF_ENOMEM, fail, "allocating svng buffers (n = %zu, d = %zu)",
                n, d);
  if (s->fisher) {
    s->G = pf_alloc_doubles(ndd);
    s->F = pf_alloc_doubles(ndd);
    s->dG = pf_alloc_doubles(ndd * d);
    s->dF = pf_alloc_doubles(ndd * d);
    PF_CHECK_GOTO(rc, s->G && s->F && s->dG && s->dF, PF_ENOMEM, fail,
                  "allocating the svng metric averages (n = %zu, d = %zu: "
                  "%zu doubles for the derivative)", n, d, 2 * ndd * d);
  } else {
    /* Identity metric, fixed. */
    memset(s->H, 0, ndd * sizeof(double));
    for (size_t i = 0; i < n; i++)
      for (size_t a = 0; a < d; a++) s->H[i * d * d + a * d + a] = 1.0;
    memcpy(s->Hinv, s->H, ndd * sizeof(double));
  }
  *state = s;
  return 0;
fail:
  svng_destroy(s);
  return rc;
}

static int svng_init(void *state, pf_particles *p)
{
  (void)state;
  size_t bad = pf_particles_find_nonfinite(p);
  PF_CHECK(bad == p->n, PF_ENONFINITE,
           "svng: initial particle %zu has a non-finite log density or "
           "score", bad);
  return 0;
}

static int all_finite(const double *v, size_t m)
{
  for (size_t i = 0; i < m; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

/* Steps 2 of the header: averages, H, H^-1 and the dual scores S, for
 * this rank's particles [lo, hi) (all of them on one rank), then gathered.
 * Collective under MPI. */
static int metric_update(svng *s, long iter, const pf_particles *p)
{
  const size_t n = s->n, d = s->d, dd = d * d, ddd = dd * d;
  size_t lo, hi;
  pf_comm_tiles(n, &lo, &hi); /* one-particle tiles: the block of n */
  /* (an empty block still calls the op: it sets N) */
  PF_TRY(pf_comm_agree(pf_target_fisher(s->t, hi - lo, p->x + lo * d,
                                        s->F + lo * dd, s->dF + lo * ddd,
                                        &s->n_data)));
  const double rho = fmin(1.0 - 1.0 / (double)iter, 0.95);
  for (size_t i = lo * dd; i < hi * dd; i++)
    s->G[i] = rho * s->G[i] + (1.0 - rho) * s->F[i];
  for (size_t i = lo * ddd; i < hi * ddd; i++)
    s->dG[i] = rho * s->dG[i] + (1.0 - rho) * s->dF[i];
  int rc = 0;
  const int old = pf__blas_serial_begin();
#pragma omp parallel for schedule(static) num_threads(s->nthr) reduction(min : rc)
  for (size_t m = lo; m < hi; m++) {
    double *H = s->H + m * dd, *Hi = s->Hinv + m * dd;
    const double *G = s->G + m * dd, *dG = s->dG + m * ddd;
    const double *gr = p->grad + m * d;
    double *u = s->u + (size_t)omp_get_thread_num() * d, *sc = s->S + m * d;
    for (size_t a = 0; a < dd; a++) H[a] = G[a];
    for (size_t a = 0; a < d; a++) H[a * d + a] += s->ridge;
    memcpy(Hi, H, dd * sizeof(double));
    lapack_int info = LAPACKE_dpotrf_work(LAPACK_ROW_MAJOR, 'L',
                                          (lapack_int)d, Hi, (lapack_int)d);
    if (info == 0)
      info = LAPACKE_dpotri_work(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, Hi,
                                 (lapack_int)d);
    if (info != 0) {
      rc = PF_ELINALG;
      continue;
    }
    for (size_t a = 0; a < d; a++)
      for (size_t b = a + 1; b < d; b++) Hi[a * d + b] = Hi[b * d + a];
    /* u_b = sum_{e,c} dG[b][e][c] Hinv[e][c]. */
    for (size_t b = 0; b < d; b++) {
      double acc = 0.0;
      const double *db = dG + b * dd;
      for (size_t ec = 0; ec < dd; ec++) acc += db[ec] * Hi[ec];
      u[b] = acc;
    }
    /* s = H^-1 (grad - u). */
    for (size_t a = 0; a < d; a++) {
      double acc = 0.0;
      for (size_t b = 0; b < d; b++) acc += Hi[a * d + b] * (gr[b] - u[b]);
      sc[a] = acc;
    }
  }
  pf__blas_serial_end(old);
  if (rc != 0)
    rc = pf__error_set(PF_ELINALG, __FILE__, __LINE__,
                       "svng: iteration %ld: a metric G + ridge I is not "
                       "positive definite (ridge %g)", iter, s->ridge);
  PF_TRY(pf_comm_agree(rc));
  PF_TRY(pf_comm_share_tiles(s->H, n, dd, 1));
  PF_TRY(pf_comm_share_tiles(s->Hinv, n, dd, 1));
  PF_TRY(pf_comm_share_tiles(s->S, n, d, 1));
  return 0;
}

/* Checkpoints: step rule, bandwidth, the running Fisher averages G, dG
 * (H and H^-1 are rebuilt from them every step) and N.  Under MPI every
 * rank saves alike (collective): G and dG are first gathered from the
 * ranks that own their rows. */
static int svng_state(void *state, pf_state_visitor *v)
{
  svng *s = state;
  const size_t ndd = s->n * s->d * s->d;
  if (s->G && !v->loading) {
    PF_TRY(pf_comm_share_tiles(s->G, s->n, s->d * s->d, 1));
    PF_TRY(pf_comm_share_tiles(s->dG, s->n, s->d * s->d * s->d, 1));
  }
  PF_TRY(pf__opt_state(s->opt, v));
  PF_TRY(pf_kernel_state(s->k, "bandwidth", v));
  PF_TRY(pf_state_f64(v, "n_data", &s->n_data, 1));
  if (s->G) {
    PF_TRY(pf_state_f64(v, "fisher_avg", s->G, ndd));
    PF_TRY(pf_state_f64(v, "fisher_deriv_avg", s->dG, ndd * s->d));
  }
  return 0;
}

static int svng_step(void *state, long iter, pf_particles *p, double *info)
{
  svng *s = state;
  const size_t n = s->n, d = s->d, nd = n * d, dd = d * d;
  size_t r = 0;
  PF_TRY(pf_kernel_fit(s->k, n, d, p->x));
  if (s->fisher)
    PF_TRY(metric_update(s, iter, p));
  else
    memcpy(s->S, p->grad, nd * sizeof(double));
  PF_TRY(pf__svmd_direction(s->w, s->k, p->x, s->S, s->H, s->Hinv,
                            s->jitter, s->tau, s->g, &r));
  const double scale = 1.0 / s->n_data;
#pragma omp parallel for schedule(static) num_threads(s->nthr)
  for (size_t m = 0; m < n; m++) {
    const double *Hi = s->Hinv + m * dd, *gm = s->g + m * d;
    for (size_t a = 0; a < d; a++) {
      double acc = 0.0;
      for (size_t b = 0; b < d; b++) acc += Hi[a * d + b] * gm[b];
      s->dir[m * d + a] = scale * acc;
    }
  }
  PF_CHECK(all_finite(s->dir, nd), PF_ENONFINITE,
           "svng: iteration %ld: the direction is not finite", iter);
  const double lr = pf__opt_lr(s->opt);
  pf__opt_propose(s->opt, p->x, s->dir, s->Xp);
  PF_TRY(pf_target_logp_grad(s->t, n, s->Xp, s->lpp, s->Sp));
  for (size_t i = 0; i < n; i++)
    PF_CHECK(isfinite(s->lpp[i]) && all_finite(s->Xp + i * d, d) &&
                 all_finite(s->Sp + i * d, d),
             PF_ENONFINITE,
             "svng: iteration %ld: particle %zu reached a non-finite "
             "position, log density or score with step size %g (the last "
             "good state is kept)", iter, i, lr);
  pf__opt_commit(s->opt);
  memcpy(p->x, s->Xp, nd * sizeof(double));
  memcpy(p->grad, s->Sp, nd * sizeof(double));
  memcpy(p->logp, s->lpp, n * sizeof(double));
  info[0] = lr;
  info[1] = (double)r;
  info[2] = pf_kernel_bandwidth(s->k);
  return 0;
}

static const pf_param svng_params[] = {
    {"kernel", PF_P_PLUGIN, "{name: rbf, bandwidth: median_ref}", NULL,
     "scalar kernel (see `pflow list kernels`); a median bandwidth is "
     "refitted every step", 0, NULL, &pf_kernels},
    PF__SVMD_PARAM_TAU("0.98"),
    PF__SVMD_PARAM_JITTER("0"),
    {"ridge", PF_P_REAL, "0.01", "[0,inf)",
     "H = (running Fisher average) + ridge I (targets with a Fisher op)", 0,
     NULL, NULL},
    PF__OPT_PARAMS("plain", "0.1"),
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_svng = {
    .base = {"svng",
             "Stein variational natural gradient (Shi, Liu & Mackey 2022): "
             "SVMD with a running-average Fisher metric plus a ridge "
             "(identity metric when the target has no Fisher op)",
             svng_params},
    .example = "{name: svng, n_particles: 100, n_iter: 300, step_size: 0.1}",
    .info_names = svng_info,
    .n_info = sizeof svng_info / sizeof svng_info[0],
    .create = svng_create,
    .destroy = svng_destroy,
    .init = svng_init,
    .step = svng_step,
    .state = svng_state,
};
