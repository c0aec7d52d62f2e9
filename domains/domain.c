/* The domain object: an ops table from the registry plus its context. */
#include "pflow/domain.h"

#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"

struct pf_domain {
  const pf_domain_ops *ops;
  void *ctx;
  size_t dim;
};

extern const pf_domain_ops pf_domain_unconstrained;

static int create_ops(const pf_domain_ops *ops, const pf_node *cfg,
                      size_t dim, pf_domain **out)
{
  *out = NULL;
  pf_domain *d = calloc(1, sizeof *d);
  PF_CHECK(d, PF_ENOMEM, "allocating a domain");
  d->ops = ops;
  int rc = ops->create(cfg, dim, &d->ctx, &d->dim);
  if (rc < 0) {
    free(d);
    return pf__error_push(rc, __FILE__, __LINE__, ops->base.name);
  }
  *out = d;
  return 0;
}

int pf_domain_create(const pf_node *cfg, size_t dim, pf_domain **out)
{
  const pf_plugin *p;
  *out = NULL;
  if (!cfg) return create_ops(&pf_domain_unconstrained, NULL, dim, out);
  PF_TRY(pf_registry_find(&pf_domains, pf_cfg_str(cfg, "name"), &p));
  return create_ops((const pf_domain_ops *)p, cfg, dim, out);
}

int pf_domain_create_free(size_t dim, pf_domain **out)
{
  return create_ops(&pf_domain_unconstrained, NULL, dim, out);
}

int pf_domain_create_str(const char *yaml, size_t dim, const char *what,
                         pf_domain **out)
{
  static const pf_param spec[] = {
      {"domain", PF_P_PLUGIN, NULL, NULL, "the domain", 0, NULL, &pf_domains},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  *out = NULL;
  char *text = malloc(strlen(yaml) + 16);
  PF_CHECK(text, PF_ENOMEM, "allocating a domain description");
  strcpy(text, "domain: ");
  strcat(text, yaml);
  pf_config *c = NULL;
  int rc = pf_config_load_string(text, what, &c);
  free(text);
  if (rc == 0) rc = pf_config_validate(c, spec);
  if (rc == 0)
    rc = pf_domain_create(pf_node_get(pf_config_root(c), "domain"), dim, out);
  pf_config_destroy(&c);
  return rc;
}

void pf_domain_destroy(pf_domain **pd)
{
  if (!pd || !*pd) return;
  if ((*pd)->ops->destroy) (*pd)->ops->destroy((*pd)->ctx);
  free(*pd);
  *pd = NULL;
}

const pf_domain_ops *pf_domain_ops_of(const pf_domain *d) { return d->ops; }
const char *pf_domain_name(const pf_domain *d) { return d->ops->base.name; }
size_t pf_domain_dim(const pf_domain *d) { return d->dim; }
const void *pf_domain_ctx(const pf_domain *d) { return d->ctx; }
const pf_mirror_ops *pf_domain_mirror(const pf_domain *d)
{
  if (d->ops->mirror_of) return d->ops->mirror_of(d->ctx);
  return d->ops->mirror;
}

size_t pf_domain_work_len(const pf_domain *d)
{
  return d->ops->work_len ? d->ops->work_len(d->ctx) : 0;
}

int pf_domain_bounded(const pf_domain *d)
{
  return d->ops->bounded ? d->ops->bounded(d->ctx) : 0;
}

int pf_domain_is_free(const pf_domain *d)
{
  return d->ops == &pf_domain_unconstrained;
}

int pf_domain_contains(const pf_domain *d, const double *x, double tol)
{
  return d->ops->contains(d->ctx, x, tol);
}

int pf_domain_project(const pf_domain *d, double *x, double *work)
{
  return d->ops->project(d->ctx, x, work);
}

int pf_domain_reflect(const pf_domain *d, double *x, const double *v,
                      double *work, pf_reflect_info *info)
{
  pf_reflect_info dummy;
  return d->ops->reflect(d->ctx, x, v, work, info ? info : &dummy);
}

int pf_domain_chord(const pf_domain *d, const double *x, const double *u,
                    double *tlo, double *thi)
{
  return d->ops->chord(d->ctx, x, u, tlo, thi);
}

int pf_domain_interior(const pf_domain *d, pf_rng *rng, double *x,
                       double *work)
{
  if (!d->ops->interior) return d->ops->sample_uniform(d->ctx, rng, 1, x, work);
  return d->ops->interior(d->ctx, rng, x, work);
}

int pf_domain_sample_uniform(const pf_domain *d, pf_rng *rng, size_t n,
                             double *X, double *work)
{
  PF_CHECK(d->ops->sample_uniform, PF_ENOTSUP,
           "domain '%s' has no exact uniform sampler", d->ops->base.name);
  return d->ops->sample_uniform(d->ctx, rng, n, X, work);
}

int pf_domain_log_volume(const pf_domain *d, double *out)
{
  PF_CHECK(d->ops->log_volume, PF_ENOTSUP,
           "domain '%s' has no known volume", d->ops->base.name);
  return d->ops->log_volume(d->ctx, out);
}
