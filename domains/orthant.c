/* `orthant`: the nonnegative orthant {x >= 0} of R^d.
 *
 * Projection is max(x, 0); reflection folds each coordinate at 0, i.e. the
 * end point is |x + v| (exact for any step; bounces = coordinates that
 * crossed 0).  There is no uniform law, so interior() draws independent
 * Exp(1) coordinates.  Mirror map "entropic" (Shi, Liu & Mackey 2022):
 * psi = sum x log x - x, grad psi = log x, grad psi* = exp(eta),
 * hess psi^-1 = diag(x), log det hess psi*(eta) = sum eta = sum log x with
 * gradient 1 (= div diag(x)). */
#include <math.h>
#include <stdlib.h>

#include "pflow/domain.h"
#include "pflow/error.h"

typedef struct orthant {
  size_t d;
} orthant;

static int orthant_create(const pf_node *cfg, size_t dim, void **ctx,
                          size_t *dim_out)
{
  long long cd = 0;
  if (cfg && pf_cfg_has(cfg, "dim")) {
    PF_TRY(pf_cfg_int(cfg, "dim", &cd));
    if (dim && (size_t)cd != dim)
      PF_CFG_RAISE(cfg, "dim", PF_ECONFIG,
                   "dim is %lld but the target has dimension %zu", cd, dim);
  }
  size_t d = dim ? dim : (size_t)cd;
  if (d == 0) {
    if (cfg) PF_CFG_RAISE(cfg, "dim", PF_ECONFIG, "needs a dimension");
    PF_RAISE(PF_EINVAL, "the orthant domain needs a dimension");
  }
  orthant *o = malloc(sizeof *o);
  PF_CHECK(o, PF_ENOMEM, "allocating a domain");
  o->d = d;
  *ctx = o;
  *dim_out = d;
  return 0;
}

static void orthant_destroy(void *ctx) { free(ctx); }

static int orthant_contains(const void *ctx, const double *x, double tol)
{
  const orthant *o = ctx;
  for (size_t k = 0; k < o->d; k++)
    if (!(x[k] >= -tol && x[k] < INFINITY)) return 0;
  return 1;
}

static int orthant_project(const void *ctx, double *x, double *work)
{
  const orthant *o = ctx;
  (void)work;
  for (size_t k = 0; k < o->d; k++)
    if (x[k] < 0.0) x[k] = 0.0;
  return 0;
}

static int orthant_reflect(const void *ctx, double *x, const double *v,
                           double *work, pf_reflect_info *info)
{
  const orthant *o = ctx;
  (void)work;
  info->bounces = 0;
  info->fallback = 0;
  for (size_t k = 0; k < o->d; k++)
    PF_CHECK(isfinite(v[k]), PF_ENONFINITE,
             "orthant reflection: step coordinate %zu is %g", k, v[k]);
  for (size_t k = 0; k < o->d; k++) {
    double y = x[k] + v[k];
    if (y < 0.0) {
      y = -y;
      info->bounces++;
    }
    x[k] = y;
  }
  return 0;
}

static int orthant_chord(const void *ctx, const double *x, const double *u,
                         double *tlo, double *thi)
{
  const orthant *o = ctx;
  double lo = -INFINITY, hi = INFINITY;
  for (size_t k = 0; k < o->d; k++) {
    if (u[k] == 0.0) continue;
    const double t = -x[k] / u[k];
    if (u[k] > 0.0 && t > lo) lo = t;
    if (u[k] < 0.0 && t < hi) hi = t;
  }
  *tlo = lo > 0.0 ? 0.0 : lo;
  *thi = hi < 0.0 ? 0.0 : hi;
  return 0;
}

/* Independent Exp(1) coordinates (strictly positive: open uniforms). */
static int orthant_interior(const void *ctx, pf_rng *rng, double *x,
                            double *work)
{
  const orthant *o = ctx;
  (void)work;
  pf_rng_uniforms_open(rng, o->d, x);
  for (size_t k = 0; k < o->d; k++) x[k] = -log(x[k]);
  return 0;
}

static int orthant_bounded(const void *ctx)
{
  (void)ctx;
  return 0;
}

/* ---- mirror map "entropic" ---------------------------------------------- */

static int ent_grad_psi(const void *ctx, const double *x, double *eta,
                        double *work)
{
  const orthant *o = ctx;
  (void)work;
  for (size_t k = 0; k < o->d; k++) eta[k] = log(x[k]);
  return 0;
}

static int ent_grad_psi_star(const void *ctx, const double *eta, double *x,
                             double *work)
{
  const orthant *o = ctx;
  (void)work;
  for (size_t k = 0; k < o->d; k++) x[k] = exp(eta[k]);
  return 0;
}

static int ent_hess_psi_vec(const void *ctx, const double *x, const double *v,
                            double *out, double *work)
{
  const orthant *o = ctx;
  (void)work;
  for (size_t k = 0; k < o->d; k++) out[k] = v[k] / x[k];
  return 0;
}

static int ent_hess_psi_inv_vec(const void *ctx, const double *x,
                                const double *v, double *out, double *work)
{
  const orthant *o = ctx;
  (void)work;
  for (size_t k = 0; k < o->d; k++) out[k] = v[k] * x[k];
  return 0;
}

static int ent_logdet(const void *ctx, const double *x, double *val,
                      double *grad, double *work)
{
  const orthant *o = ctx;
  (void)work;
  double s = 0.0;
  for (size_t k = 0; k < o->d; k++) {
    s += log(x[k]);
    if (grad) grad[k] = 1.0;
  }
  *val = s;
  return 0;
}

static const pf_mirror_ops entropic_map = {
    .name = "entropic",
    .grad_psi = ent_grad_psi,
    .grad_psi_star = ent_grad_psi_star,
    .hess_psi_vec = ent_hess_psi_vec,
    .hess_psi_inv_vec = ent_hess_psi_inv_vec,
    .logdet_hess_psi_star = ent_logdet,
};

static const pf_param orthant_params[] = {
    {"dim", PF_P_INT, NULL, "[1,1e9]", "dimension (default: the target's)", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_domain_ops pf_domain_orthant = {
    .base = {"orthant",
             "the nonnegative orthant x >= 0 (exact folding; entropic map)",
             orthant_params},
    .example = "{name: orthant}",
    .example_dim = 3,
    .create = orthant_create,
    .destroy = orthant_destroy,
    .contains = orthant_contains,
    .project = orthant_project,
    .reflect = orthant_reflect,
    .chord = orthant_chord,
    .interior = orthant_interior,
    .bounded = orthant_bounded,
    .mirror = &entropic_map,
};
