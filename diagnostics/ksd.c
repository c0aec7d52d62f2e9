/* `ksd`: kernel Stein discrepancy of the particles w.r.t. the target, from
 * the particles' scores (Gorham & Mackey 2017; Liu, Lee & Jordan 2016):
 *
 *   u(x, y) = k s_x.s_y + s_x.grad_y k + s_y.grad_x k + tr(grad_x grad_y k)
 *   KSD^2_V = (1/n^2) sum_{i,j} u(x_i, x_j)          (>= 0, biased)
 *   KSD^2_U = (1/(n(n-1))) sum_{i != j} u(x_i, x_j)   (unbiased, may be < 0)
 *
 * Outputs: ksd = sqrt(KSD^2_V) and ksd2_u = KSD^2_U.  Kernel by default IMQ
 * (1 + |x-y|^2)^(-1/2) (c = 1, beta = -1/2, fixed h = 1, as Gorham & Mackey
 * recommend; a median bandwidth would make the value drift as the particles
 * move).  Scores are the cached p->grad (set rescore: true to re-evaluate
 * the target at the particles instead). */
#include <math.h>
#include <stdlib.h>

#include "pflow/diagnostic.h"
#include "pflow/error.h"
#include "pflow/kernel.h"

typedef struct ksd {
  pf_target *target;
  pf_kernel *k;
  pf_pairwise *w;
  size_t n, d;
  int rescore;
  double *score; /* rescore workspace, n x d */
} ksd;

static void ksd_destroy(void *ctx)
{
  ksd *s = ctx;
  if (!s) return;
  pf_kernel_destroy(&s->k);
  pf_pairwise_destroy(&s->w);
  free(s->score);
  free(s);
}

extern const pf_kernel_ops pf_kernel_imq;

/* The kernel from the validated `diagnostics.ksd.kernel` section, or the
 * default IMQ (c = 1, beta = -1/2, h = 1) when there is none. */
static int ksd_kernel(const pf_node *sec, size_t max_n, pf_kernel **k)
{
  const pf_node *kc = sec ? pf_node_get(sec, "kernel") : NULL;
  if (kc) PF_TRY(pf_kernel_create(kc, max_n, k));
  else PF_TRY(pf_kernel_create_ops(&pf_kernel_imq, NULL, PF_BW_FIXED, 1.0,
                                   NULL, 0, 0, k));
  return 0;
}

static int ksd_create(const pf_node *cfg, const pf_diag_env *env, void **ctx)
{
  int rc = 0;
  const pf_node *sec = pf_node_get(cfg, "ksd");
  if (env->target && !pf_target_has_density(env->target))
    PF_CFG_RAISE(cfg, "metrics", PF_ECONFIG,
                 "metric 'ksd' needs the target's score; target '%s' is known "
                 "only by samples", pf_target_ops_of(env->target)->base.name);
  ksd *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the ksd diagnostic");
  s->target = env->target;
  s->n = env->n;
  s->d = env->d;
  if (sec && pf_cfg_has(sec, "rescore"))
    PF_TRY_GOTO(rc, pf_cfg_bool(sec, "rescore", &s->rescore), fail);
  PF_TRY_GOTO(rc, ksd_kernel(sec, env->n, &s->k), fail);
  PF_TRY_GOTO(rc, pf_pairwise_create(env->n, 0, env->d, &s->w), fail);
  if (s->rescore) {
    s->score = pf_alloc_doubles(env->n * env->d);
    PF_CHECK_GOTO(rc, s->score, PF_ENOMEM, fail, "allocating ksd scores");
  }
  *ctx = s;
  return 0;
fail:
  ksd_destroy(s);
  return rc;
}

static int ksd_compute(void *ctx, const pf_particles *p, double *out)
{
  ksd *s = ctx;
  const size_t n = p->n;
  const double *S = p->grad;
  if (s->rescore) {
    PF_TRY(pf_target_logp_grad(s->target, n, p->x, NULL, s->score));
    S = s->score;
  }
  PF_TRY(pf_kernel_fit(s->k, n, p->d, p->x));
  double sum[2];
  PF_TRY(pf_pair_stein_sum(s->w, s->k, n, p->x, S, sum));
  double v = (sum[0] + sum[1]) / ((double)n * (double)n);
  out[0] = sqrt(v > 0.0 ? v : 0.0);
  out[1] = n > 1 ? sum[0] / ((double)n * (double)(n - 1)) : NAN;
  return 0;
}

static const char *const ksd_outputs[] = {"ksd", "ksd2_u"};

static const pf_param ksd_params[] = {
    {"kernel", PF_P_PLUGIN, "{name: imq, bandwidth: 1, c: 1, beta: -0.5}",
     NULL, "base kernel of the Stein kernel (see `pflow list kernels`)", 0,
     NULL, &pf_kernels},
    {"rescore", PF_P_BOOL, "false", NULL,
     "re-evaluate the target's score at the particles instead of using the "
     "sampler's cached scores", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_diagnostic_ops pf_diagnostic_ksd = {
    .base = {"ksd",
             "ksd = sqrt(V-statistic KSD^2), ksd2_u = U-statistic KSD^2: "
             "kernel Stein discrepancy (IMQ kernel by default) from the "
             "particles' scores",
             ksd_params},
    .outputs = ksd_outputs,
    .n_outputs = 2,
    .create = ksd_create,
    .destroy = ksd_destroy,
    .compute = ksd_compute,
};
