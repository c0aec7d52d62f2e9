/* `unconstrained`: all of R^d.  Projection and reflection are the identity
 * and plain addition; the mirror map is psi = |x|^2 / 2 (grad psi = id), so
 * mirrored samplers reduce to their Euclidean versions here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/domain.h"
#include "pflow/error.h"

typedef struct freedom {
  size_t d;
} freedom;

static int free_create(const pf_node *cfg, size_t dim, void **ctx,
                       size_t *dim_out)
{
  long long cd = 0;
  if (cfg && pf_cfg_has(cfg, "dim")) {
    PF_TRY(pf_cfg_int(cfg, "dim", &cd));
    if (dim && (size_t)cd != dim)
      PF_CFG_RAISE(cfg, "dim", PF_ECONFIG,
                   "dim is %lld but the target has dimension %zu", cd, dim);
  }
  freedom *f = malloc(sizeof *f);
  PF_CHECK(f, PF_ENOMEM, "allocating a domain");
  f->d = dim ? dim : (size_t)cd;
  if (f->d == 0) {
    free(f);
    if (cfg) PF_CFG_RAISE(cfg, "dim", PF_ECONFIG, "needs a dimension");
    PF_RAISE(PF_EINVAL, "the unconstrained domain needs a dimension");
  }
  *ctx = f;
  *dim_out = f->d;
  return 0;
}

static void free_destroy(void *ctx) { free(ctx); }

static int free_contains(const void *ctx, const double *x, double tol)
{
  const freedom *f = ctx;
  (void)tol;
  for (size_t k = 0; k < f->d; k++)
    if (!isfinite(x[k])) return 0;
  return 1;
}

static int free_project(const void *ctx, double *x, double *work)
{
  (void)ctx, (void)x, (void)work;
  return 0;
}

static int free_reflect(const void *ctx, double *x, const double *v,
                        double *work, pf_reflect_info *info)
{
  const freedom *f = ctx;
  (void)work;
  for (size_t k = 0; k < f->d; k++) x[k] += v[k];
  info->bounces = 0;
  info->fallback = 0;
  return 0;
}

static int free_chord(const void *ctx, const double *x, const double *u,
                      double *tlo, double *thi)
{
  (void)ctx, (void)x, (void)u;
  *tlo = -INFINITY;
  *thi = INFINITY;
  return 0;
}

/* A standard normal point: there is no uniform law on R^d. */
static int free_interior(const void *ctx, pf_rng *rng, double *x,
                         double *work)
{
  const freedom *f = ctx;
  (void)work;
  pf_rng_normal(rng, f->d, x);
  return 0;
}

static int free_bounded(const void *ctx)
{
  (void)ctx;
  return 0;
}

static int id_map(const void *ctx, const double *x, double *y, double *work)
{
  const freedom *f = ctx;
  (void)work;
  memmove(y, x, f->d * sizeof(double));
  return 0;
}

static int id_hess(const void *ctx, const double *x, const double *v,
                   double *out, double *work)
{
  const freedom *f = ctx;
  (void)x, (void)work;
  memmove(out, v, f->d * sizeof(double));
  return 0;
}

static int id_logdet(const void *ctx, const double *x, double *val,
                     double *grad, double *work)
{
  const freedom *f = ctx;
  (void)x, (void)work;
  *val = 0.0;
  if (grad) memset(grad, 0, f->d * sizeof(double));
  return 0;
}

static const pf_mirror_ops identity_map = {
    .name = "identity",
    .grad_psi = id_map,
    .grad_psi_star = id_map,
    .hess_psi_vec = id_hess,
    .hess_psi_inv_vec = id_hess,
    .logdet_hess_psi_star = id_logdet,
};

static const pf_param free_params[] = {
    {"dim", PF_P_INT, NULL, "[1,1e9]",
     "dimension (default: the target's)", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_domain_ops pf_domain_unconstrained = {
    .base = {"unconstrained", "all of R^d (identity mirror map)", free_params},
    .example = "{name: unconstrained}",
    .example_dim = 3,
    .create = free_create,
    .destroy = free_destroy,
    .contains = free_contains,
    .project = free_project,
    .reflect = free_reflect,
    .chord = free_chord,
    .interior = free_interior,
    .bounded = free_bounded,
    .mirror = &identity_map,
};
