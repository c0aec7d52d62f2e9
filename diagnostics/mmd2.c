/* `mmd2`: squared maximum mean discrepancy between the particles X (n) and
 * the reference set Y (m) (Gretton et al. 2012):
 *
 *   mmd2   = sum_{i!=j} k(x_i,x_j)/(n(n-1)) + sum_{i!=j} k(y_i,y_j)/(m(m-1))
 *            - 2 sum_{i,j} k(x_i,y_j)/(n m)     (unbiased U-statistic)
 *   mmd2_v = same with the diagonals and 1/n^2, 1/m^2 (biased V-statistic)
 *
 * Kernel: Gaussian exp(-|x-y|^2 / h) by default with h = the median of the
 * reference set's squared pairwise distances (pairs i < j), computed once at
 * create and then frozen, so the metric does not change as the particles
 * move (a pooled median would).  Note the convention: exp(-r2/(2 l^2)) is
 * h = 2 l^2.  The reference-only sums are computed once at create. */
#include <math.h>
#include <stdlib.h>

#include "pflow/diagnostic.h"
#include "pflow/error.h"
#include "pflow/kernel.h"

extern const pf_kernel_ops pf_kernel_rbf;

typedef struct mmd2 {
  pf_kernel *k;
  pf_pairwise *w;
  const double *ref;
  size_t m;
  double kyy_off, kyy_diag;
} mmd2;

static void mmd2_destroy(void *ctx)
{
  mmd2 *s = ctx;
  if (!s) return;
  pf_kernel_destroy(&s->k);
  pf_pairwise_destroy(&s->w);
  free(s);
}

static int mmd2_create(const pf_node *cfg, const pf_diag_env *env,
                       void **ctx)
{
  int rc = 0;
  if (!env->ref || env->m == 0)
    PF_CFG_RAISE(cfg, "reference", PF_ECONFIG,
                 "metric 'mmd2' compares the particles with a reference set "
                 "and needs diagnostics.reference (source: exact or file)");
  const pf_node *sec = pf_node_get(cfg, "mmd2");
  const pf_node *kc = sec ? pf_node_get(sec, "kernel") : NULL;
  mmd2 *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the mmd2 diagnostic");
  s->ref = env->ref;
  s->m = env->m;
  /* max_n 0: the median workspace is only needed once, here. */
  if (kc)
    PF_TRY_GOTO(rc, pf_kernel_create(kc, 0, &s->k), fail);
  else
    PF_TRY_GOTO(rc, pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_MEDIAN,
                                         1.0, NULL, 0, 0, &s->k), fail);
  PF_TRY_GOTO(rc, pf_kernel_fit(s->k, env->m, env->d, env->ref), fail);
  size_t mx = env->n > env->m ? env->n : env->m;
  PF_TRY_GOTO(rc, pf_pairwise_create(mx, env->m, env->d, &s->w), fail);
  double kyy[2];
  PF_TRY_GOTO(rc, pf_pair_kernel_sum(s->w, s->k, env->m, env->ref, 0, NULL,
                                     kyy), fail);
  s->kyy_off = kyy[0];
  s->kyy_diag = kyy[1];
  *ctx = s;
  return 0;
fail:
  mmd2_destroy(s);
  return rc;
}

static int mmd2_compute(void *ctx, const pf_particles *p, double *out)
{
  mmd2 *s = ctx;
  const size_t n = p->n, m = s->m;
  double kxx[2], kxy[2];
  PF_TRY(pf_pair_kernel_sum(s->w, s->k, n, p->x, 0, NULL, kxx));
  PF_TRY(pf_pair_kernel_sum(s->w, s->k, n, p->x, m, s->ref, kxy));
  const double dn = (double)n, dm = (double)m, cross = 2.0 * kxy[0] / (dn * dm);
  out[0] = n > 1 && m > 1 ? kxx[0] / (dn * (dn - 1.0)) +
                                s->kyy_off / (dm * (dm - 1.0)) - cross
                          : NAN;
  out[1] = (kxx[0] + kxx[1]) / (dn * dn) +
           (s->kyy_off + s->kyy_diag) / (dm * dm) - cross;
  return 0;
}

static const char *const mmd2_outputs[] = {"mmd2", "mmd2_v"};

static const pf_param mmd2_params[] = {
    {"kernel", PF_P_PLUGIN, "{name: rbf, bandwidth: median}", NULL,
     "kernel (see `pflow list kernels`); a median bandwidth is taken over "
     "the reference set once", 0, NULL, &pf_kernels},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_diagnostic_ops pf_diagnostic_mmd2 = {
    .base = {"mmd2",
             "mmd2 (unbiased) and mmd2_v (biased): squared MMD between the "
             "particles and the reference set (Gaussian kernel, median "
             "bandwidth of the reference by default)",
             mmd2_params},
    .outputs = mmd2_outputs,
    .n_outputs = 2,
    .create = mmd2_create,
    .destroy = mmd2_destroy,
    .compute = mmd2_compute,
};
