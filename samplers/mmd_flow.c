/* `mmd_flow`: MMD gradient flow toward a target known by samples (Arbel,
 * Korba, Salim & Gretton, NeurIPS 2019), with or without noise injection,
 * full batch or minibatches of the target samples; and the engine shared
 * with `mmd_flow_multilevel` (see mmd_flow.h).
 *
 * Objective F(nu) = MMD^2(nu, mu) / 2 with the empirical measures of the n
 * particles and the M target samples; witness f(z) = (1/n) sum_j k(z, x_j)
 * - (1/M) sum_l k(z, y_l).  Step t:
 *   z_i = x_i + beta_t u_i (u_i ~ N(0, I) from particle i's stream; z = x
 *   without noise),  x_i <- x_i - gamma grad f(z_i).
 * Energy decrease (noiseless): x -> x - gamma grad f is gradient descent on
 * E(x_1..x_n) = MMD^2_V / 2 with rate gamma n (dE/dx_i = grad f(x_i) / n).
 * The Hessian of E has norm <= 2 K2 / n, K2 = sup |hess k|, which is 2/h
 * for exp(-r2/h) (attained at r = 0).  The descent lemma then gives
 *   E(x') <= E(x) - (gamma / n) (1 - 2 gamma / h) sum_i |grad f(x_i)|^2,
 * so E decreases at every step for gamma < h/2.  For a sum of Gaussians
 * and for the IMQ the same holds with h_eff = -1/f'(0) (see step_unit):
 * with step_relative (gamma = step_size h_eff) every kernel here decreases
 * E at each step for step_size < 1/2.  tests/test_mmd_flow.c checks the
 * inequality.
 *
 * Target samples: the target's own set (pf_target_samples, e.g.
 * `empirical`), else n_target exact draws made at init.  Sampler-level
 * randomness (those draws, minibatches) uses the stream PF__MMDF_STREAM of
 * a seed taken from a copy of particle 0's generator at init (particle 0's
 * own stream is not advanced), so it depends only on the run seed and the
 * config.  Kernel bandwidth: fitted once at init on the target samples
 * (median rules) and then frozen, so the objective does not move.
 *
 * MPI (replicated particles, include/pflow/comm.h): on the low-dimensional
 * witness path each rank evaluates only its block of the evaluation rows
 * (inside pf_witness_grad) and the rows' directions and per-row kernel sums
 * are all-gathered; the sums are then added in global row order, as one
 * rank does, so the output is bitwise the same for any rank count.  Above
 * PF_WITNESS_LOWD the tiled engine splits its rows itself. */
#include "mmd_flow.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/checkpoint.h"
#include "pflow/error.h"
#include "pflow/sampler.h"

extern const pf_kernel_ops pf_kernel_rbf;

/* ASCII "MMDFLOW!" */
#define PF__MMDF_STREAM 0x4D4D44464C4F5721ULL

/* Levels at most (multilevel). */
#define PF__MMDF_MAX_LEVELS 1000

const char *const pf__mmdf_info[PF__MMDF_N_INFO_ML] = {
    "flow_mmd2", "beta", "step_size", "bandwidth", "sigma", "level"};

typedef struct mmdf {
  pf_target *t;
  size_t n, d;
  int multilevel;
  pf_kernel *k;          /* the configured (base) kernel */
  pf_witness *w;
  const double *Y;       /* M target samples (owned by the target or Yown) */
  size_t M;
  double *Yown;
  long long n_target;
  size_t batch;          /* 0: full */
  size_t *perm;
  double *Yb;            /* batch x d */
  pf_rng rng;            /* sampler stream */
  double *Z, *V, *Xold;  /* n x d */
  double step;
  int step_rel;
  double h;              /* step unit h_eff = -1/f'(0) (see step_unit) */
  double kyy;            /* sum_{l,l'} k(y_l, y_l') over the full set */
  long long mmd2_every, n_iter;
  pf_nonfinite_policy policy;
  long long max_backoff;
  double backoff;        /* step multiplier after non-finite backoffs */
  /* noise injection (mmd_flow) */
  pf__mmdf_noise noise;
  double beta0, decay;
  long long every;
  /* levels (multilevel) */
  pf__mmdf_levels lv;
  size_t nlev;
  double *sigma, *hl;    /* per level: noise level, bandwidth h0 + 4 s^2 */
  pf_kernel **kl;        /* per level: exp(-r2 / hl) */
  double *kyyl;          /* per level: sum k over the full target set */
} mmdf;

void pf__mmdf_destroy(void *state)
{
  mmdf *s = state;
  if (!s) return;
  pf_kernel_destroy(&s->k);
  pf_witness_destroy(&s->w);
  free(s->Yown);
  free(s->perm);
  free(s->Yb);
  free(s->Z);
  free(s->V);
  free(s->Xold);
  free(s->sigma);
  free(s->hl);
  if (s->kl)
    for (size_t l = 0; l < s->nlev; l++) pf_kernel_destroy(&s->kl[l]);
  free(s->kl);
  free(s->kyyl);
  free(s);
}

static int read_noise(const pf_node *cfg, mmdf *s)
{
  const char *sch = pf_cfg_str(cfg, "noise_schedule");
  s->noise = !strcmp(sch, "none")       ? PF__NOISE_NONE
             : !strcmp(sch, "constant") ? PF__NOISE_CONSTANT
             : !strcmp(sch, "step")     ? PF__NOISE_STEP
                                        : PF__NOISE_POWER;
  PF_TRY(pf_cfg_real(cfg, "noise_level", &s->beta0));
  PF_TRY(pf_cfg_real(cfg, "noise_decay", &s->decay));
  PF_TRY(pf_cfg_int(cfg, "noise_every", &s->every));
  if (s->noise == PF__NOISE_STEP && !(s->decay <= 1.0))
    PF_CFG_RAISE(cfg, "noise_decay", PF_ECONFIG,
                 "the step schedule multiplies beta by noise_decay every "
                 "noise_every iterations: expected a factor <= 1, found %g",
                 s->decay);
  if (s->beta0 == 0.0) s->noise = PF__NOISE_NONE;
  return 0;
}

int pf__mmdf_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                    int multilevel, void **state)
{
  int rc = 0;
  mmdf *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating an MMD flow");
  s->t = t;
  s->n = n;
  s->d = d;
  s->multilevel = multilevel;
  s->backoff = 1.0;
  long long batch;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "step_size", &s->step), fail);
  PF_TRY_GOTO(rc, pf_cfg_bool(cfg, "step_relative", &s->step_rel), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "batch_size", &batch), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "n_target", &s->n_target), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "mmd2_every", &s->mmd2_every), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "n_iter", &s->n_iter), fail);
  PF_TRY_GOTO(rc, pf_sampler_policy(cfg, &s->policy), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "max_backoff", &s->max_backoff), fail);
  if (!multilevel) PF_TRY_GOTO(rc, read_noise(cfg, s), fail);

  /* The target samples: the target's own set, or exact draws at init. */
  if (pf_target_ops_of(t)->samples) {
    PF_TRY_GOTO(rc, pf_target_samples(t, &s->Y, &s->M), fail);
    PF_CHECK_GOTO(rc, s->M > 0, PF_ECONFIG, fail,
                  "target '%s' has an empty sample set",
                  pf_target_ops_of(t)->base.name);
  } else if (pf_target_ops_of(t)->sample) {
    s->M = (size_t)s->n_target;
    s->Yown = pf_alloc_doubles(s->M * d);
    PF_CHECK_GOTO(rc, s->Yown, PF_ENOMEM, fail, "target samples %zu x %zu",
                  s->M, d);
    s->Y = s->Yown;
  } else {
    rc = pf__config_raise(cfg, "name", PF_ECONFIG, __FILE__, __LINE__,
                          "an MMD flow needs target samples: target '%s' "
                          "has neither a sample set (use target 'empirical') "
                          "nor an exact sampler",
                          pf_target_ops_of(t)->base.name);
    goto fail;
  }
  if (batch > 0 && (size_t)batch >= s->M) {
    rc = pf__config_raise(cfg, "batch_size", PF_ECONFIG, __FILE__, __LINE__,
                          "%lld is not smaller than the %zu target samples "
                          "(0 means all of them)", batch, s->M);
    goto fail;
  }
  s->batch = (size_t)batch;
  if (s->batch) {
    s->perm = malloc(s->M * sizeof(size_t));
    s->Yb = pf_alloc_doubles(s->batch * d);
    PF_CHECK_GOTO(rc, s->perm && s->Yb, PF_ENOMEM, fail,
                  "allocating the minibatch");
    for (size_t i = 0; i < s->M; i++) s->perm[i] = i;
  }

  const pf_node *kc = pf_node_get(cfg, "kernel");
  PF_TRY_GOTO(rc, pf_kernel_create(kc, PF_MEDIAN_MAX_POINTS, &s->k), fail);
  if (multilevel && pf_kernel_ops_of(s->k) != &pf_kernel_rbf) {
    rc = pf__config_raise(cfg, "kernel", PF_ECONFIG, __FILE__, __LINE__,
                          "the noise-level identity needs a Gaussian kernel "
                          "(name: rbf), found '%s'",
                          pf_kernel_ops_of(s->k)->base.name);
    goto fail;
  }
  /* Rows: particles, and for the initial kyy the target set itself. */
  size_t rows = n > s->M ? n : s->M;
  PF_TRY_GOTO(rc, pf_witness_create(rows, rows, d, &s->w), fail);
  s->Z = pf_alloc_doubles(n * d);
  s->V = pf_alloc_doubles(n * d);
  s->Xold = pf_alloc_doubles(n * d);
  PF_CHECK_GOTO(rc, s->Z && s->V && s->Xold, PF_ENOMEM, fail,
                "allocating MMD flow buffers (n = %zu, d = %zu)", n, d);
  *state = s;
  return 0;
fail:
  pf__mmdf_destroy(s);
  return rc;
}

void pf__mmdf_set_levels(void *state, const pf__mmdf_levels *lv)
{
  ((mmdf *)state)->lv = *lv;
}

/* The step unit h_eff = -1 / f'(0) (f as a function of r2): h for
 * exp(-r2/h), (sum_b 1/h_b)^-1 for a sum of Gaussians, h / (|beta|
 * c^(2 beta - 2)) for the IMQ.  For these completely monotone profiles the
 * largest Hessian norm of k is at r = 0, K2 = 2 |f'(0)| = 2 / h_eff, so
 * the noiseless energy decreases for gamma < h_eff / 2 (see the top).
 * *one_rbf: a one-scale Gaussian (the multilevel identity needs it). */
static double step_unit(const pf_kernel *k, int *one_rbf)
{
  double z = 0.0, f0, f10, kw[PF_KERNEL_WORK];
  pf_kernel_eval(k, 1, &z, &f0, &f10, NULL, kw);
  *one_rbf = pf_kernel_ops_of(k) == &pf_kernel_rbf && f0 == 1.0;
  return f10 < 0.0 ? -1.0 / f10 : pf_kernel_bandwidth(k);
}

/* Per-level kernels of the multilevel flow: sigma_l geometric from
 * sigma_max to sigma_min, h_l = h0 + 4 sigma_l^2 (l_t^2 = l0^2 + 2 s^2 in
 * the exp(-r2 / (2 l^2)) convention; see mmd_flow_multilevel.c). */
static int make_levels(mmdf *s)
{
  pf__mmdf_levels *lv = &s->lv;
  const size_t d = s->d, M = s->M;
  if (!(lv->sigma_max > 0)) {
    /* automatic: the pooled per-coordinate standard deviation of the
     * target samples (the spread a N(0, I) start must cover) */
    double tot = 0.0;
    for (size_t k = 0; k < d; k++) {
      double mu = 0.0, v = 0.0;
      for (size_t i = 0; i < M; i++) mu += s->Y[i * d + k];
      mu /= (double)M;
      for (size_t i = 0; i < M; i++)
        v += (s->Y[i * d + k] - mu) * (s->Y[i * d + k] - mu);
      tot += v / (double)M;
    }
    lv->sigma_max = sqrt(tot / (double)d);
    if (!(lv->sigma_max > 0)) lv->sigma_max = 1.0;
  }
  if (!(lv->sigma_min > 0)) lv->sigma_min = lv->sigma_max / 100.0;
  s->nlev = (size_t)lv->n_levels;
  s->sigma = malloc(s->nlev * sizeof(double));
  s->hl = malloc(s->nlev * sizeof(double));
  s->kl = calloc(s->nlev, sizeof(pf_kernel *));
  s->kyyl = malloc(s->nlev * sizeof(double));
  PF_CHECK(s->sigma && s->hl && s->kl && s->kyyl, PF_ENOMEM,
           "allocating %zu levels", s->nlev);
  for (size_t l = 0; l < s->nlev; l++) {
    double u = s->nlev > 1 ? (double)l / (double)(s->nlev - 1) : 1.0;
    s->sigma[l] = lv->sigma_max * pow(lv->sigma_min / lv->sigma_max, u);
    s->hl[l] = s->h + 4.0 * s->sigma[l] * s->sigma[l];
    PF_TRY(pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_FIXED, s->hl[l],
                                NULL, 0, 0, &s->kl[l]));
    double ks[2];
    if (!s->batch) {
      PF_TRY(pf_witness_grad(s->w, s->kl[l], M, s->Y, M, s->Y, 0.0, 0, NULL,
                             0.0, NULL, ks));
      s->kyyl[l] = ks[0];
    }
  }
  return 0;
}

int pf__mmdf_init(void *state, pf_particles *p)
{
  mmdf *s = state;
  const size_t d = s->d;
  pf_rng tmp = p->rng[0];
  pf_rng_stream(&s->rng, pf_rng_next(&tmp), PF__MMDF_STREAM);
  if (s->Yown) PF_TRY(pf_target_sample(s->t, &s->rng, s->M, s->Yown));
  for (size_t i = 0; i < s->M * d; i++)
    PF_CHECK(isfinite(s->Y[i]), PF_ENONFINITE,
             "target sample %zu is not finite", i / d);
  PF_TRY(pf_kernel_fit(s->k, s->M, d, s->Y));
  int one_rbf;
  s->h = step_unit(s->k, &one_rbf);
  if (s->multilevel) {
    PF_CHECK(one_rbf, PF_ECONFIG,
             "mmd_flow_multilevel needs a one-bandwidth Gaussian kernel "
             "(kernel.scales with one entry)");
    PF_TRY(make_levels(s));
  } else if (!s->batch) {
    double ks[2];
    PF_TRY(pf_witness_grad(s->w, s->k, s->M, s->Y, s->M, s->Y, 0.0, 0, NULL,
                           0.0, NULL, ks));
    s->kyy = ks[0];
  }
  return 0;
}

static double noise_beta(const mmdf *s, long iter)
{
  const double t = (double)(iter - 1);
  switch (s->noise) {
  case PF__NOISE_NONE: return 0.0;
  case PF__NOISE_CONSTANT: return s->beta0;
  case PF__NOISE_STEP:
    return s->beta0 * pow(s->decay, floor(t / (double)s->every));
  case PF__NOISE_POWER:
    return s->beta0 * pow(1.0 + t / (double)s->every, -s->decay);
  }
  return 0.0;
}

/* The first `batch` entries of a partial Fisher-Yates shuffle: a uniform
 * subset whatever perm's current order. */
static void draw_batch(mmdf *s)
{
  const size_t M = s->M, B = s->batch, d = s->d;
  for (size_t k = 0; k < B; k++) {
    size_t j = k + (size_t)(pf_rng_uniform(&s->rng) * (double)(M - k));
    if (j >= M) j = M - 1;
    size_t tmp = s->perm[k];
    s->perm[k] = s->perm[j];
    s->perm[j] = tmp;
    memcpy(s->Yb + k * d, s->Y + s->perm[k] * d, d * sizeof(double));
  }
}

static int row_finite(const double *v, size_t d)
{
  for (size_t k = 0; k < d; k++)
    if (!isfinite(v[k])) return 0;
  return 1;
}

int pf__mmdf_step(void *state, long iter, pf_particles *p, double *info)
{
  mmdf *s = state;
  const size_t n = s->n, d = s->d;
  size_t lev = 0;
  const pf_kernel *k = s->k;
  double h = s->h, beta, sigma = 0.0, kyy = s->kyy;
  if (s->multilevel) {
    long long spl = s->lv.steps_per_level;
    lev = (size_t)((iter - 1) / spl);
    if (lev >= s->nlev) lev = s->nlev - 1;
    k = s->kl[lev];
    h = s->hl[lev];
    sigma = s->sigma[lev];
    kyy = s->kyyl[lev];
    beta = s->lv.inject ? s->lv.noise_level * sigma : 0.0;
  } else {
    beta = noise_beta(s, iter);
  }
  const double *Y = s->Y;
  size_t mb = s->M;
  if (s->batch) {
    draw_batch(s);
    Y = s->Yb;
    mb = s->batch;
  }
  const int track = s->mmd2_every > 0 &&
                    (iter % s->mmd2_every == 0 || iter == s->n_iter);
  double ks[2] = {0, 0};
  const double *Z = p->x;
  if (beta > 0.0) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
      double *z = s->Z + i * d;
      const double *x = p->x + i * d;
      pf_rng_normal(&p->rng[i], d, z);
      for (size_t c = 0; c < d; c++) z[c] = x[c] + beta * z[c];
    }
    Z = s->Z;
    if (track)
      PF_TRY(pf_witness_grad(s->w, k, n, p->x, n, p->x, 0.0, mb, Y, 0.0,
                             NULL, ks));
  }
  PF_TRY(pf_witness_grad(s->w, k, n, Z, n, p->x, 1.0 / (double)n, mb, Y,
                         -1.0 / (double)mb, s->V,
                         track && beta == 0.0 ? ks : NULL));
  double mmd2 = NAN;
  if (track) {
    if (s->batch) { /* the batch's own sum (B^2 pairs, B < M) */
      double ky[2];
      PF_TRY(pf_witness_grad(s->w, k, mb, Y, mb, Y, 0.0, 0, NULL, 0.0, NULL,
                             ky));
      kyy = ky[0];
    }
    const double dn = (double)n, dm = (double)mb;
    mmd2 = ks[0] / (dn * dn) + kyy / (dm * dm) - 2.0 * ks[1] / (dn * dm);
  }

  memcpy(s->Xold, p->x, n * d * sizeof(double));
  double gamma = 0.0;
  for (long long tries = 0;; tries++) {
    gamma = s->step * s->backoff * (s->step_rel ? h : 1.0);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n * d; i++) p->x[i] = s->Xold[i] - gamma * s->V[i];
    PF_TRY(pf_target_logp_grad(s->t, n, p->x, p->logp, p->grad));
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
      if (!row_finite(p->x + i * d, d) || !isfinite(p->logp[i]) ||
          !row_finite(p->grad + i * d, d))
        bad = i;
    if (bad == n) break;
    memcpy(p->x, s->Xold, n * d * sizeof(double));
    PF_TRY(pf_target_logp_grad(s->t, n, p->x, p->logp, p->grad));
    if (s->policy == PF_NONFINITE_ABORT || tries >= s->max_backoff)
      PF_RAISE(PF_ENONFINITE,
               "iteration %ld: particle %zu reached a non-finite position, "
               "log density or score with step %g%s", iter, bad, gamma,
               s->policy == PF_NONFINITE_ABORT
                   ? " (on_nonfinite: abort; the last good state is kept)"
                   : " after the maximum number of step halvings");
    s->backoff *= 0.5;
  }
  info[0] = mmd2;
  info[1] = beta;
  info[2] = gamma;
  info[3] = h;
  if (s->multilevel) {
    info[4] = sigma;
    info[5] = (double)lev;
  }
  return 0;
}

/* Checkpoints: the sampler's own stream (minibatches), the permutation it
 * shuffles in place, the backoff multiplier, the bandwidth.  The target
 * samples, kyy and the levels are rebuilt by init from the same streams. */
int pf__mmdf_state(void *state, pf_state_visitor *v)
{
  mmdf *s = state;
  PF_TRY(pf_state_rng(v, "rng", &s->rng, 1));
  if (s->perm) PF_TRY(pf_state_size(v, "perm", s->perm, s->M));
  PF_TRY(pf_state_f64(v, "backoff", &s->backoff, 1));
  PF_TRY(pf_kernel_state(s->k, "bandwidth", v));
  return 0;
}

/* ---- mmd_flow ----------------------------------------------------------- */

static int mmd_flow_create(const pf_node *cfg, pf_target *t, size_t n,
                           size_t d, void **state)
{
  return pf__mmdf_create(cfg, t, n, d, 0, state);
}

static const pf_param mmd_flow_params[] = {
    {"kernel", PF_P_PLUGIN, "{name: rbf, bandwidth: median}", NULL,
     "kernel (see `pflow list kernels`; scales: [..] for a multi-bandwidth "
     "sum); a median bandwidth is taken once over the target samples", 0,
     NULL, &pf_kernels},
    PF__MMDF_PARAMS_COMMON,
    {"noise_schedule", PF_P_STRING, "step", "none|constant|step|power",
     "noise injection beta_t (Arbel et al. 2019): none; constant beta0; "
     "step: beta0 noise_decay^floor((t-1)/noise_every) (their code: 0.5 "
     "every 1000); power: beta0 (1 + (t-1)/noise_every)^-noise_decay", 0,
     NULL, NULL},
    {"noise_level", PF_P_REAL, "1", "[0,inf)",
     "beta0, the standard deviation of the injected noise (absolute units; "
     "0 turns injection off)", 0, NULL, NULL},
    {"noise_decay", PF_P_REAL, "0.5", "[0,inf)",
     "step: factor per noise_every iterations; power: exponent (1/2 keeps "
     "sum beta_t^2 infinite, as the paper's condition wants)", 0, NULL,
     NULL},
    {"noise_every", PF_P_INT, "1000", "[1,1e12]",
     "iterations per noise decay step (step) or time scale (power)", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_mmd_flow = {
    .base = {"mmd_flow",
             "MMD gradient flow toward target samples, with noise injection "
             "(Arbel et al. 2019)",
             mmd_flow_params},
    .example = "{name: mmd_flow, n_particles: 400, n_iter: 300, "
               "n_target: 2000, step_size: 0.45, kernel: {name: imq, "
               "bandwidth: median}, noise_schedule: power, noise_level: 0.2, "
               "noise_every: 50}",
    .info_names = pf__mmdf_info,
    .n_info = PF__MMDF_N_INFO_FLOW,
    .create = mmd_flow_create,
    .destroy = pf__mmdf_destroy,
    .init = pf__mmdf_init,
    .step = pf__mmdf_step,
    .state = pf__mmdf_state,
};
