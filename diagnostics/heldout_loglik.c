/* `heldout_loglik`: predictive quality on the target's held-out rows
 * (targets with the `heldout` op, e.g. logistic_regression with
 * test_fraction > 0), the metrics of the mirrored Stein logistic-regression
 * experiment (Shi, Liu & Mackey 2022): heldout_loglik = mean over held-out
 * rows of log (mean over particles of p(y | x, theta_j)), heldout_accuracy =
 * the fraction of held-out rows whose label that averaged predictive
 * probability gets right.  The target computes both in a fixed order, so
 * the values do not depend on the thread count. */
#include <stdlib.h>

#include "pflow/diagnostic.h"
#include "pflow/error.h"

static int heldout_create(const pf_node *cfg, const pf_diag_env *env,
                          void **ctx)
{
  pf_target *t = env->target;
  if (!pf_target_ops_of(t)->heldout)
    PF_CFG_RAISE(cfg, "metrics", PF_ECONFIG,
                 "metric 'heldout_loglik' needs a target with held-out data "
                 "(e.g. logistic_regression with test_fraction > 0); "
                 "target '%s' has none", pf_target_ops_of(t)->base.name);
  /* Probe once at the origin: an instance without held-out rows is a
   * configuration error, not a failure at the first evaluation. */
  double *z = calloc(env->d, sizeof(double)), ll, acc;
  PF_CHECK(z, PF_ENOMEM, "allocating the heldout_loglik probe");
  int rc = pf_target_heldout(t, 1, z, &ll, &acc);
  free(z);
  if (rc == PF_ENOTSUP) {
    pf_error_clear();
    PF_CFG_RAISE(cfg, "metrics", PF_ECONFIG,
                 "metric 'heldout_loglik': target '%s' has no held-out rows "
                 "(set its test_fraction > 0)",
                 pf_target_ops_of(t)->base.name);
  }
  PF_TRY(rc);
  *ctx = t;
  return 0;
}

static void heldout_destroy(void *ctx) { (void)ctx; }

static int heldout_compute(void *ctx, const pf_particles *p, double *out)
{
  return pf_target_heldout(ctx, p->n, p->x, &out[0], &out[1]);
}

static const char *const heldout_outputs[] = {"heldout_loglik",
                                              "heldout_accuracy"};

const pf_diagnostic_ops pf_diagnostic_heldout_loglik = {
    .base = {"heldout_loglik",
             "heldout_loglik, heldout_accuracy: log of the particle-averaged "
             "predictive probability and accuracy on the target's held-out "
             "rows", NULL},
    .outputs = heldout_outputs,
    .n_outputs = 2,
    .create = heldout_create,
    .destroy = heldout_destroy,
    .compute = heldout_compute,
};
