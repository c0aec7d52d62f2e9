/* The target object: an ops table from the registry plus its context. */
#include "pflow/target.h"

#include <omp.h>
#include <stdlib.h>

#include "pflow/error.h"

struct pf_target {
  const pf_target_ops *ops;
  void *ctx;
  size_t dim;
  const pf_domain *domain; /* the target's own, or `own` */
  pf_domain *own;          /* unconstrained domain when the target has none */
  int nthr;                /* threads the dual workspace is sized for */
  size_t wlen;             /* doubles of workspace per thread */
  double *work;            /* nthr x wlen, for the generic dual evaluation */
};

/* Domain and dual-evaluation workspace, after ops->create succeeded. */
static int attach_domain(pf_target *t)
{
  t->domain = t->ops->domain ? t->ops->domain(t->ctx) : NULL;
  if (!t->domain) {
    PF_TRY(pf_domain_create_free(t->dim, &t->own));
    t->domain = t->own;
  }
  PF_CHECK(pf_domain_dim(t->domain) == t->dim, PF_EINVAL,
           "target '%s' has dimension %zu but its domain '%s' has %zu",
           t->ops->base.name, t->dim, pf_domain_name(t->domain),
           pf_domain_dim(t->domain));
  if (pf_domain_mirror(t->domain) && !t->ops->logp_grad_dual) {
    t->nthr = omp_get_max_threads();
    t->wlen = 2 * t->dim + pf_domain_work_len(t->domain);
    t->work = calloc((size_t)t->nthr * t->wlen, sizeof(double));
    PF_CHECK(t->work, PF_ENOMEM, "allocating the dual-coordinate workspace");
  }
  return 0;
}

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
  rc = attach_domain(t);
  if (rc < 0) {
    pf_target_destroy(&t);
    return rc;
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
  pf_domain_destroy(&(*pt)->own);
  free((*pt)->work);
  free(*pt);
  *pt = NULL;
}

size_t pf_target_dim(const pf_target *t) { return t->dim; }
const pf_target_ops *pf_target_ops_of(const pf_target *t) { return t->ops; }

int pf_target_state(pf_target *t, struct pf_state_visitor *v)
{
  return t->ops->state ? t->ops->state(t->ctx, v) : 0;
}

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

int pf_target_fisher(pf_target *t, size_t n, const double *X, double *F,
                     double *dF, double *n_data)
{
  PF_CHECK(t->ops->fisher, PF_ENOTSUP, "target '%s' has no Fisher metric",
           t->ops->base.name);
  return t->ops->fisher(t->ctx, n, X, F, dF, n_data);
}

int pf_target_heldout(pf_target *t, size_t n, const double *X,
                      double *loglik, double *accuracy)
{
  PF_CHECK(t->ops->heldout, PF_ENOTSUP, "target '%s' has no held-out data",
           t->ops->base.name);
  return t->ops->heldout(t->ctx, n, X, loglik, accuracy);
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

const char *pf_target_sample_method(pf_target *t)
{
  if (!t->ops->sample) return NULL;
  return t->ops->sample_method ? t->ops->sample_method(t->ctx) : "exact";
}

const pf_domain *pf_target_domain(const pf_target *t) { return t->domain; }

int pf_target_samples(pf_target *t, const double **X, size_t *m)
{
  PF_CHECK(t->ops->samples, PF_ENOTSUP,
           "target '%s' has a density, not a sample set", t->ops->base.name);
  return t->ops->samples(t->ctx, X, m);
}

int pf_target_has_density(const pf_target *t) { return !t->ops->samples; }

int pf_target_logp_grad_dual(pf_target *t, size_t n, const double *Eta,
                             double *X, double *logp, double *grad)
{
  const pf_mirror_ops *m = pf_domain_mirror(t->domain);
  PF_CHECK(m, PF_ENOTSUP, "domain '%s' of target '%s' has no mirror map",
           pf_domain_name(t->domain), t->ops->base.name);
  if (t->ops->logp_grad_dual)
    return t->ops->logp_grad_dual(t->ctx, n, Eta, X, logp, grad);
  const void *dc = pf_domain_ctx(t->domain);
  const size_t d = t->dim;
  int rc = 0;
  /* Rows are independent and each thread has its own slice of the
   * workspace, so the bits do not depend on the thread count. */
#pragma omp parallel for schedule(static) num_threads(t->nthr) reduction(min : rc)
  for (size_t i = 0; i < n; i++) {
    double *w = t->work + (size_t)omp_get_thread_num() * t->wlen;
    int r = m->grad_psi_star(dc, Eta + i * d, X + i * d, w + 2 * d);
    if (r < rc) rc = r;
  }
  if (rc < 0) return pf__error_push(rc, __FILE__, __LINE__, "mirror map");
  PF_TRY(t->ops->logp_grad(t->ctx, n, X, logp, grad));
#pragma omp parallel for schedule(static) num_threads(t->nthr) reduction(min : rc)
  for (size_t i = 0; i < n; i++) {
    double *w = t->work + (size_t)omp_get_thread_num() * t->wlen;
    double *hg = w, *gl = w + d, *ws = w + 2 * d, ld;
    const double *x = X + i * d;
    int r = 0;
    if (grad) r = m->hess_psi_inv_vec(dc, x, grad + i * d, hg, ws);
    if (r == 0)
      r = m->logdet_hess_psi_star(dc, x, &ld, grad ? gl : NULL, ws);
    if (r < rc) rc = r;
    if (r < 0) continue;
    if (logp) logp[i] += ld;
    if (grad)
      for (size_t k = 0; k < d; k++) grad[i * d + k] = hg[k] + gl[k];
  }
  if (rc < 0) return pf__error_push(rc, __FILE__, __LINE__, "mirror map");
  return 0;
}
