/* The target object: an ops table from the registry plus its context. */
#include "pflow/target.h"

#include <stdlib.h>

#include "pflow/error.h"

struct pf_target {
  const pf_target_ops *ops;
  void *ctx;
  size_t dim;
};

int pf_target_create_ops(const pf_target_ops *ops, const pf_node *cfg,
                         pf_target **out)
{
  *out = NULL;
  pf_target *t = calloc(1, sizeof *t);
  PF_CHECK(t, PF_ENOMEM, "allocating a target");
  t->ops = ops;
  int rc = ops->create(cfg, &t->ctx, &t->dim);
  if (rc < 0) {
    free(t);
    return pf__error_push(rc, __FILE__, __LINE__, ops->base.name);
  }
  *out = t;
  return 0;
}

int pf_target_create(const pf_node *cfg, pf_target **out)
{
  const pf_plugin *p;
  *out = NULL;
  PF_TRY(pf_registry_find(&pf_targets, pf_cfg_str(cfg, "name"), &p));
  return pf_target_create_ops((const pf_target_ops *)p, cfg, out);
}

void pf_target_destroy(pf_target **pt)
{
  if (!pt || !*pt) return;
  if ((*pt)->ops->destroy) (*pt)->ops->destroy((*pt)->ctx);
  free(*pt);
  *pt = NULL;
}

size_t pf_target_dim(const pf_target *t) { return t->dim; }
const pf_target_ops *pf_target_ops_of(const pf_target *t) { return t->ops; }

int pf_target_logp_grad(pf_target *t, size_t n, const double *X, double *logp,
                        double *grad)
{
  return t->ops->logp_grad(t->ctx, n, X, logp, grad);
}

int pf_target_sample(pf_target *t, pf_rng *rng, size_t n, double *X)
{
  PF_CHECK(t->ops->sample, PF_ENOTSUP, "target '%s' has no exact sampler",
           t->ops->base.name);
  return t->ops->sample(t->ctx, rng, n, X);
}

int pf_target_moments(pf_target *t, double *mean, double *cov)
{
  PF_CHECK(t->ops->moments, PF_ENOTSUP,
           "target '%s' has no known mean and covariance", t->ops->base.name);
  return t->ops->moments(t->ctx, mean, cov);
}

int pf_target_log_z(pf_target *t, double *out)
{
  PF_CHECK(t->ops->log_z, PF_ENOTSUP,
           "target '%s' has no known normalizing constant", t->ops->base.name);
  return t->ops->log_z(t->ctx, out);
}
