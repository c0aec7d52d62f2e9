/* The Stein variational engine (see svgd.h) and the `svgd` sampler: Stein
 * variational gradient descent (Liu & Wang, NeurIPS 2016),
 *   x_i <- x_i + step(phi_i),
 *   phi_i = (1/n) sum_j [k(x_j, x_i) grad log p(x_j) + grad_{x_j} k(x_j, x_i)],
 * with the fused pairwise engine (pf_pair_svgd).  The direction is a fixed
 * order computation (see kernel.h) and the step rule is elementwise, so the
 * particles are bitwise identical for any thread count. */
#include "svgd.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/checkpoint.h"
#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/sampler.h"

const char *const pf__svgd_info[PF__SVGD_N_INFO_PROJECT] = {
    "step_size", "bandwidth", "phi_norm", "backoffs", "projections"};

/* How the mirror-mode repulsive term hess psi(theta_j)^-1 grad k is
 * computed. */
typedef enum rep_kind {
  REP_IDENTITY, /* hess psi = I: plain pf_pair_svgd (bitwise SVGD) */
  REP_DIAG,     /* diagonal: A_j = hess psi^-1(theta_j) 1 */
  REP_SIMPLEX,  /* entropic simplex: diag(theta) - theta theta^T */
  REP_GENERIC   /* any map: the mirror op per pair (see generic_phi) */
} rep_kind;

typedef struct svgd {
  pf_target *t;
  const pf_domain *dom;
  const pf_mirror_ops *mir;
  const void *mctx;
  pf__svgd_mode mode;
  rep_kind rep;
  int fused; /* median refits inside the direction (pf_pair_svgd_fit) */
  size_t n, d;
  pf_kernel *k;
  pf_pairwise *pw;
  pf__opt *opt;
  long long every;
  pf_nonfinite_policy policy;
  long long max_backoff;
  double backoffs;
  double *phi;                 /* n x d direction */
  double *E;                   /* mirror: eta (n x d) */
  double *Y, *Ylogp, *Ygrad, *YX; /* proposal and its evaluation */
  double *A, *U;               /* mirror: matrix factors (n x d) */
  unsigned char *proj;         /* project: row was projected */
  int nthr;
  size_t wlen, rlen;
  double *work;                /* nthr x wlen: domain scratch */
  double *rows;                /* nthr x rlen: generic fallback rows */
} svgd;

void pf__svgd_destroy(void *state)
{
  svgd *s = state;
  if (!s) return;
  pf_kernel_destroy(&s->k);
  pf_pairwise_destroy(&s->pw);
  pf__opt_destroy(&s->opt);
  free(s->phi);
  free(s->E);
  free(s->Y);
  free(s->Ylogp);
  free(s->Ygrad);
  free(s->YX);
  free(s->A);
  free(s->U);
  free(s->proj);
  free(s->work);
  free(s->rows);
  free(s);
}

/* The structured forms known to be exact for the built-in maps; anything
 * else takes the generic path.  init() double-checks the choice on a
 * particle. */
static rep_kind classify(const pf_domain *dom, const pf_mirror_ops *m)
{
  const char *dn = pf_domain_name(dom);
  if (!strcmp(m->name, "identity")) return REP_IDENTITY;
  if ((!strcmp(dn, "orthant") && !strcmp(m->name, "entropic")) ||
      (!strcmp(dn, "box") && !strcmp(m->name, "tanh")))
    return REP_DIAG;
  if (!strcmp(dn, "simplex") && !strcmp(m->name, "entropic"))
    return REP_SIMPLEX;
  return REP_GENERIC;
}

int pf__svgd_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                    pf__svgd_mode mode, void **state)
{
  int rc = 0;
  svgd *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating a Stein sampler");
  s->t = t;
  s->dom = pf_target_domain(t);
  s->mode = mode;
  s->n = n;
  s->d = d;
  s->every = 1;
  s->max_backoff = 20;
  PF_TRY_GOTO(rc, pf_sampler_policy(cfg, &s->policy), fail);
  if (pf_cfg_has(cfg, "max_backoff"))
    PF_TRY_GOTO(rc, pf_cfg_int(cfg, "max_backoff", &s->max_backoff), fail);
  if (pf_cfg_has(cfg, "bandwidth_every"))
    PF_TRY_GOTO(rc, pf_cfg_int(cfg, "bandwidth_every", &s->every), fail);
  const pf_node *kc = pf_node_get(cfg, "kernel");
  if (!kc) {
    rc = pf__config_raise(cfg, "kernel", PF_ECONFIG, __FILE__, __LINE__,
                          "a kernel section is required");
    goto fail;
  }
  PF_TRY_GOTO(rc, pf_kernel_create(kc, n, &s->k), fail);
  PF_TRY_GOTO(rc, pf_pairwise_create(n, 0, d, &s->pw), fail);
  PF_TRY_GOTO(rc, pf__opt_create(cfg, n, d, &s->opt), fail);
  const size_t nd = n * d;
  s->phi = pf_alloc_doubles(nd);
  s->Y = pf_alloc_doubles(nd);
  s->Ygrad = pf_alloc_doubles(nd);
  s->Ylogp = pf_alloc_doubles(n);
  s->proj = calloc(n, 1);
  PF_CHECK_GOTO(rc, s->phi && s->Y && s->Ygrad && s->Ylogp && s->proj,
                PF_ENOMEM, fail, "allocating Stein buffers (n = %zu, d = %zu)",
                n, d);
  s->nthr = omp_get_max_threads();
  s->wlen = pf_domain_work_len(s->dom) + 1;
  if (mode == PF__SVGD_MIRROR) {
    s->mir = pf_domain_mirror(s->dom);
    if (!s->mir) {
      rc = pf__config_raise(cfg, "name", PF_ECONFIG, __FILE__, __LINE__,
                            "needs a target whose domain has a mirror map; "
                            "domain '%s' has none", pf_domain_name(s->dom));
      goto fail;
    }
    s->mctx = pf_domain_ctx(s->dom);
    s->rep = classify(s->dom, s->mir);
    const char *how = pf_cfg_str(cfg, "repulsive");
    if (how && !strcmp(how, "generic")) s->rep = REP_GENERIC;
    s->E = pf_alloc_doubles(nd);
    s->YX = pf_alloc_doubles(nd);
    s->A = pf_alloc_doubles(nd);
    s->U = pf_alloc_doubles(nd);
    /* generic rows: r2, f, f1, kernel work (n each), v, Mv (d each) */
    s->rlen = (3 + PF_KERNEL_WORK) * n + 4 * d + 8;
    s->rows = pf_alloc_doubles(s->rlen * (size_t)s->nthr);
    PF_CHECK_GOTO(rc, s->E && s->YX && s->A && s->U && s->rows, PF_ENOMEM,
                  fail, "allocating mirror buffers");
    PF_TRY_GOTO(rc, pf_pairwise_reserve_matrix(s->pw), fail);
  }
  s->work = pf_alloc_doubles((size_t)s->nthr * s->wlen);
  PF_CHECK_GOTO(rc, s->work, PF_ENOMEM, fail, "allocating domain scratch");
  /* Median bandwidth on the direction's own distances when the kernel is
   * evaluated on the particles themselves (exact over all n; the separate
   * pf_kernel_fit looks at PF_MEDIAN_MAX_POINTS).  Too many particles for
   * the distance store: the separate fit. */
  if (pf_kernel_rule(s->k) != PF_BW_FIXED &&
      (mode != PF__SVGD_MIRROR || s->rep == REP_IDENTITY)) {
    s->fused = pf_pairwise_reserve_fit(s->pw) == 0;
    if (!s->fused) pf_error_clear();
  }
  *state = s;
  return 0;
fail:
  pf__svgd_destroy(s);
  return rc;
}

static double *wbuf(const svgd *s)
{
  return s->work + (size_t)omp_get_thread_num() * s->wlen;
}

/* Does the structured form match the map's own hess psi^-1 at particle 0?
 * (Guards the name-based classification.) */
static int check_structure(svgd *s, const double *x)
{
  const size_t d = s->d;
  double *v = s->rows, *o1 = v + d, *a = o1 + d, *o2 = a + d;
  for (size_t c = 0; c < d; c++) v[c] = 1.0;
  if (s->mir->hess_psi_inv_vec(s->mctx, x, v, a, s->work) < 0) return 0;
  for (size_t c = 0; c < d; c++) v[c] = 0.5 + 0.37 * (double)((c * 7) % 5);
  if (s->mir->hess_psi_inv_vec(s->mctx, x, v, o1, s->work) < 0) return 0;
  double tv = 0.0, err = 0.0, nrm = 0.0;
  for (size_t c = 0; c < d; c++) tv += x[c] * v[c];
  for (size_t c = 0; c < d; c++) {
    o2[c] = s->rep == REP_SIMPLEX ? x[c] * v[c] - x[c] * tv : a[c] * v[c];
    err += fabs(o2[c] - o1[c]);
    nrm += fabs(o1[c]);
  }
  return err <= 1e-10 * (nrm + 1e-300);
}

int pf__svgd_init(void *state, pf_particles *p)
{
  svgd *s = state;
  const size_t n = s->n, d = s->d;
  if (s->mode != PF__SVGD_MIRROR) return 0;
  int rc = 0;
#pragma omp parallel for schedule(static) num_threads(s->nthr) reduction(min : rc)
  for (size_t i = 0; i < n; i++) {
    int r = s->mir->grad_psi(s->mctx, p->x + i * d, s->E + i * d, wbuf(s));
    if (r < rc) rc = r;
  }
  PF_TRY(rc);
  PF_TRY(pf_target_logp_grad_dual(s->t, n, s->E, p->x, p->logp, p->grad));
  size_t bad = pf_particles_find_nonfinite(p);
  PF_CHECK(bad == n, PF_ENONFINITE,
           "initial particle %zu has a non-finite dual log density or score",
           bad);
  if ((s->rep == REP_DIAG || s->rep == REP_SIMPLEX) &&
      !check_structure(s, p->x))
    s->rep = REP_GENERIC;
  return 0;
}

/* Mirror direction by the per-pair fallback: row i computes exact squared
 * distances to every j, the kernel and its derivative along the row, and
 * applies the map's hess psi^-1 to each 2 f'_ij (theta_j - theta_i).  Cost
 * n^2 (3 d + one hess_psi_inv_vec) per step, no GEMM; O(n) scratch per
 * thread. */
static int generic_phi(svgd *s, const double *X, const double *S, double *phi)
{
  const size_t n = s->n, d = s->d;
  const double inv = 1.0 / (double)n;
  int rc = 0;
#pragma omp parallel for schedule(static) num_threads(s->nthr) reduction(min : rc)
  for (size_t i = 0; i < n; i++) {
    double *r2 = s->rows + (size_t)omp_get_thread_num() * s->rlen,
           *f = r2 + n, *f1 = f + n, *kw = f1 + n, *v = kw + PF_KERNEL_WORK * n,
           *mv = v + d, *o = phi + i * d;
    const double *xi = X + i * d;
    for (size_t j = 0; j < n; j++) {
      const double *xj = X + j * d;
      double q = 0.0;
      for (size_t c = 0; c < d; c++) q += (xj[c] - xi[c]) * (xj[c] - xi[c]);
      r2[j] = q;
    }
    pf_kernel_eval(s->k, n, r2, f, f1, NULL, kw);
    memset(o, 0, d * sizeof(double));
    for (size_t j = 0; j < n; j++) {
      const double *xj = X + j * d, *sj = S + j * d;
      for (size_t c = 0; c < d; c++) v[c] = 2.0 * f1[j] * (xj[c] - xi[c]);
      int r = s->mir->hess_psi_inv_vec(s->mctx, xj, v, mv, wbuf(s));
      if (r < rc) rc = r;
      for (size_t c = 0; c < d; c++) o[c] += f[j] * sj[c] + mv[c];
    }
    for (size_t c = 0; c < d; c++) o[c] *= inv;
  }
  return rc;
}

static int direction(svgd *s, pf_particles *p, int refit)
{
  const size_t n = s->n, d = s->d;
  if (refit && s->fused)
    return pf_pair_svgd_fit(s->pw, s->k, n, p->x, p->grad, s->phi);
  if (s->mode != PF__SVGD_MIRROR || s->rep == REP_IDENTITY)
    return pf_pair_svgd(s->pw, s->k, n, p->x, 0, NULL, p->grad, s->phi);
  if (s->rep == REP_GENERIC) return generic_phi(s, p->x, p->grad, s->phi);
  if (s->rep == REP_SIMPLEX)
    return pf_pair_svgd_matrix(s->pw, s->k, n, p->x, p->grad, p->x, p->x,
                               -1.0, s->phi);
  /* diagonal: A_j = hess psi^-1(theta_j) applied to ones */
  int rc = 0;
#pragma omp parallel for schedule(static) num_threads(s->nthr) reduction(min : rc)
  for (size_t i = 0; i < n; i++) {
    double *a = s->A + i * d;
    for (size_t c = 0; c < d; c++) s->U[i * d + c] = 1.0;
    int r = s->mir->hess_psi_inv_vec(s->mctx, p->x + i * d, s->U + i * d, a,
                                     wbuf(s));
    if (r < rc) rc = r;
  }
  PF_TRY(rc);
  return pf_pair_svgd_matrix(s->pw, s->k, n, p->x, p->grad, s->A, NULL, 0.0,
                             s->phi);
}

static int row_finite(const double *v, size_t d)
{
  for (size_t k = 0; k < d; k++)
    if (!isfinite(v[k])) return 0;
  return 1;
}

int pf__svgd_step(void *state, long iter, pf_particles *p, double *info)
{
  svgd *s = state;
  const size_t n = s->n, d = s->d, nd = n * d;
  const int refit = (iter - 1) % s->every == 0;
  if (refit && !s->fused) PF_TRY(pf_kernel_fit(s->k, n, d, p->x));
  PF_TRY(direction(s, p, refit));
  const int mirror = s->mode == PF__SVGD_MIRROR;
  double *X = mirror ? s->E : p->x;
  double nproj = 0.0;
  for (long long tries = 0;; tries++) {
    pf__opt_propose(s->opt, X, s->phi, s->Y);
    if (s->mode == PF__SVGD_PROJECT) {
#pragma omp parallel for schedule(static) num_threads(s->nthr)
      for (size_t i = 0; i < n; i++) {
        double *y = s->Y + i * d;
        s->proj[i] = 0;
        if (row_finite(y, d) && !pf_domain_contains(s->dom, y, 0.0)) {
          s->proj[i] = 1;
          pf_domain_project(s->dom, y, wbuf(s));
        }
      }
      nproj = 0.0;
      for (size_t i = 0; i < n; i++) nproj += s->proj[i];
    }
    if (mirror)
      PF_TRY(pf_target_logp_grad_dual(s->t, n, s->Y, s->YX, s->Ylogp,
                                      s->Ygrad));
    else
      PF_TRY(pf_target_logp_grad(s->t, n, s->Y, s->Ylogp, s->Ygrad));
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
      if (!isfinite(s->Ylogp[i]) || !row_finite(s->Y + i * d, d) ||
          !row_finite(s->Ygrad + i * d, d) ||
          (mirror && !row_finite(s->YX + i * d, d)))
        bad = i;
    if (bad == n) break;
    if (s->policy == PF_NONFINITE_ABORT || tries >= s->max_backoff)
      PF_RAISE(PF_ENONFINITE,
               "iteration %ld: particle %zu reached a non-finite position, "
               "log density or score with step size %g%s", iter, bad,
               pf__opt_lr(s->opt),
               s->policy == PF_NONFINITE_ABORT
                   ? " (on_nonfinite: abort; the last good state is kept)"
                   : " after the maximum number of step-size halvings");
    pf__opt_set_lr(s->opt, 0.5 * pf__opt_lr(s->opt));
    s->backoffs += 1.0;
  }
  pf__opt_commit(s->opt);
  memcpy(X, s->Y, nd * sizeof(double));
  memcpy(p->grad, s->Ygrad, nd * sizeof(double));
  memcpy(p->logp, s->Ylogp, n * sizeof(double));
  if (mirror) memcpy(p->x, s->YX, nd * sizeof(double));
  /* RMS of phi, scaled by its largest entry so huge directions (scores
   * near faces) do not overflow the sum of squares. */
  double mx = 0.0, q = 0.0;
  for (size_t k = 0; k < nd; k++)
    if (fabs(s->phi[k]) > mx) mx = fabs(s->phi[k]);
  if (mx > 0.0 && isfinite(mx))
    for (size_t k = 0; k < nd; k++) q += (s->phi[k] / mx) * (s->phi[k] / mx);
  info[0] = pf__opt_lr(s->opt);
  info[1] = pf_kernel_bandwidth(s->k);
  info[2] = isfinite(mx) ? mx * sqrt(q / (double)nd) : mx;
  info[3] = s->backoffs;
  if (s->mode == PF__SVGD_PROJECT) info[4] = nproj;
  return 0;
}

/* Checkpoints: step rule (lr after backoffs, moments), the bandwidth (kept
 * between refits when bandwidth_every > 1), counters and, in mirror mode,
 * the dual positions. */
int pf__svgd_state(void *state, pf_state_visitor *v)
{
  svgd *s = state;
  PF_TRY(pf__opt_state(s->opt, v));
  PF_TRY(pf_kernel_state(s->k, "bandwidth", v));
  PF_TRY(pf_state_f64(v, "backoffs", &s->backoffs, 1));
  if (s->E) PF_TRY(pf_state_f64(v, "eta", s->E, s->n * s->d));
  return 0;
}

/* ---- the `svgd` sampler --------------------------------------------------- */

static int svgd_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                       void **state)
{
  return pf__svgd_create(cfg, t, n, d, PF__SVGD_PLAIN, state);
}

static const pf_param svgd_params[] = {
    PF__SVGD_PARAM_KERNEL("{name: rbf, bandwidth: median_log}"),
    PF__SVGD_PARAM_EVERY,
    PF__OPT_PARAMS("adagrad", "0.05"),
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_svgd = {
    .base = {"svgd",
             "Stein variational gradient descent (Liu & Wang 2016) on the "
             "fused pairwise engine",
             svgd_params},
    .example = "{name: svgd, n_particles: 300, n_iter: 400, kernel: {name: "
               "rbf, bandwidth: median_log}, optimizer: adagrad, step_size: "
               "0.1, init_scale: 2}",
    .info_names = pf__svgd_info,
    .n_info = PF__SVGD_N_INFO,
    .create = svgd_create,
    .destroy = pf__svgd_destroy,
    .init = pf__svgd_init,
    .step = pf__svgd_step,
    .state = pf__svgd_state,
};
