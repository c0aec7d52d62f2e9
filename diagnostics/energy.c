/* `energy`: energy distance between the particles X (n) and the reference
 * set Y (m) (Szekely & Rizzo 2013), the MMD of the distance kernel:
 *
 *   energy   = 2 mean|X - Y| - mean|X - X'| - mean|Y - Y'|
 *              (V-statistic: the self means over all n^2 / m^2 pairs,
 *              diagonal zeros included, as in the mirror-Stein experiments;
 *              >= 0)
 *   energy_u = 2 mean|X - Y| - sum_{i!=j}|x_i-x_j|/(n(n-1))
 *              - sum_{i!=j}|y_i-y_j|/(m(m-1))   (unbiased; may be < 0)
 *
 * In 1-D, energy = 2 int (F_X - F_Y)^2 and scipy.stats.energy_distance
 * returns its square root.  mean|Y - Y'| is computed once at create. */
#include <math.h>
#include <stdlib.h>

#include "pflow/diagnostic.h"
#include "pflow/error.h"
#include "pflow/kernel.h"

typedef struct energy {
  pf_pairwise *w;
  const double *ref;
  size_t m;
  double dyy; /* sum_{i != j} |y_i - y_j| */
} energy;

static void energy_destroy(void *ctx)
{
  energy *s = ctx;
  if (!s) return;
  pf_pairwise_destroy(&s->w);
  free(s);
}

static int energy_create(const pf_node *cfg, const pf_diag_env *env,
                         void **ctx)
{
  int rc = 0;
  if (!env->ref || env->m == 0)
    PF_CFG_RAISE(cfg, "reference", PF_ECONFIG,
                 "metric 'energy' compares the particles with a reference "
                 "set and needs diagnostics.reference (source: exact or "
                 "file)");
  energy *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the energy diagnostic");
  s->ref = env->ref;
  s->m = env->m;
  size_t mx = env->n > env->m ? env->n : env->m;
  PF_TRY_GOTO(rc, pf_pairwise_create(mx, env->m, env->d, &s->w), fail);
  PF_TRY_GOTO(rc, pf_pair_dist_sum(s->w, env->m, env->ref, 0, NULL, &s->dyy),
              fail);
  *ctx = s;
  return 0;
fail:
  energy_destroy(s);
  return rc;
}

static int energy_compute(void *ctx, const pf_particles *p, double *out)
{
  energy *s = ctx;
  const size_t n = p->n, m = s->m;
  double dxx, dxy;
  PF_TRY(pf_pair_dist_sum(s->w, n, p->x, 0, NULL, &dxx));
  PF_TRY(pf_pair_dist_sum(s->w, n, p->x, m, s->ref, &dxy));
  const double dn = (double)n, dm = (double)m, cross = 2.0 * dxy / (dn * dm);
  out[0] = cross - dxx / (dn * dn) - s->dyy / (dm * dm);
  out[1] = n > 1 && m > 1
               ? cross - dxx / (dn * (dn - 1.0)) - s->dyy / (dm * (dm - 1.0))
               : NAN;
  return 0;
}

static const char *const energy_outputs[] = {"energy", "energy_u"};

static const pf_param energy_params[] = {
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_diagnostic_ops pf_diagnostic_energy = {
    .base = {"energy",
             "energy (V-statistic, as in the mirror-Stein experiments) and "
             "energy_u (unbiased): energy distance between the particles and "
             "the reference set",
             energy_params},
    .outputs = energy_outputs,
    .n_outputs = 2,
    .create = energy_create,
    .destroy = energy_destroy,
    .compute = energy_compute,
};
