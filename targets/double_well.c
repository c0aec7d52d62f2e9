/* `double_well`: log rho(x) = -a ((x_1 - shift)^2 - delta)^2
 * - 1/2 sum_{i>1} x_i^2 on R^dim.  The defaults (dim 1, a 1, delta 2,
 * shift 1.5) are the "dw_shift" target of the learned-diffusion benchmarks
 * (Richter & Berner 2024, sde_sampler), log Z = 0.29300173666.
 * Unnormalized: with u = a^(1/4) (x_1 - shift) the first factor is the
 * quartic well exp(-(u^2 - sqrt(a) delta)^2), so
 * log Z = log Z1(sqrt(a) delta) - (1/4) log a + (dim - 1)/2 log(2 pi), Z1 by
 * quadrature (well1d.c).  Exact sampler by rejection; moments by
 * quadrature. */
#include <math.h>
#include <stdlib.h>

#include "pflow/error.h"
#include "pflow/target.h"
#include "well1d.h"

typedef struct double_well {
  size_t d;
  double a, delta, shift;
  double scale; /* a^(-1/4): x_1 = shift + scale u */
  pf__well1d w;
} double_well;

static void double_well_destroy(void *ctx) { free(ctx); }

static int double_well_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  long long d;
  double a, delta, shift;
  PF_TRY(pf_cfg_int(cfg, "dim", &d));
  PF_TRY(pf_cfg_real(cfg, "a", &a));
  PF_TRY(pf_cfg_real(cfg, "delta", &delta));
  PF_TRY(pf_cfg_real(cfg, "shift", &shift));
  double_well *t = calloc(1, sizeof *t);
  PF_CHECK(t, PF_ENOMEM, "allocating the double_well target");
  t->d = (size_t)d;
  t->a = a;
  t->delta = delta;
  t->shift = shift;
  t->scale = pow(a, -0.25);
  int rc = pf__well1d_init(&t->w, sqrt(a) * delta);
  if (rc < 0) {
    free(t);
    return pf__error_push(rc, __FILE__, __LINE__, "pf__well1d_init");
  }
  *ctx = t;
  *dim = t->d;
  return 0;
}

static int double_well_logp_grad(void *ctx, size_t n, const double *X,
                                 double *logp, double *grad)
{
  const double_well *t = ctx;
  const size_t d = t->d;
  const double a = t->a, delta = t->delta, c = t->shift;
  /* Rows are independent: the same bits for any thread count. */
#pragma omp parallel for schedule(static) if (n * d > 65536)
  for (size_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double *g = grad ? grad + i * d : NULL;
    double y = x[0] - c, e = y * y - delta, lq = 0.0;
    if (g) g[0] = -4.0 * a * y * e;
    for (size_t k = 1; k < d; k++) {
      lq += x[k] * x[k];
      if (g) g[k] = -x[k];
    }
    if (logp) logp[i] = -a * e * e - 0.5 * lq;
  }
  return 0;
}

static int double_well_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const double_well *t = ctx;
  const size_t d = t->d;
  for (size_t i = 0; i < n; i++) {
    double *x = X + i * d;
    x[0] = t->shift + t->scale * pf__well1d_draw(&t->w, rng);
    if (d > 1) pf_rng_normal(rng, d - 1, x + 1);
  }
  return 0;
}

static int double_well_moments(void *ctx, double *mean, double *cov)
{
  const double_well *t = ctx;
  const size_t d = t->d;
  for (size_t k = 0; k < d; k++) {
    if (mean) mean[k] = k == 0 ? t->shift : 0.0;
    if (cov)
      for (size_t j = 0; j < d; j++)
        cov[k * d + j] =
            j != k ? 0.0 : k == 0 ? t->scale * t->scale * t->w.m2 : 1.0;
  }
  return 0;
}

static int double_well_log_z(void *ctx, double *out)
{
  const double_well *t = ctx;
  const double log_2pi = 1.8378770664093454836;
  *out = t->w.log_z + log(t->scale) + 0.5 * (double)(t->d - 1) * log_2pi;
  return 0;
}

static const char *double_well_sample_method(void *ctx)
{
  (void)ctx;
  return "rejection";
}

static const pf_param double_well_params[] = {
    {"dim", PF_P_INT, "1", "[1,1e7]",
     "dimension; coordinates after the first are standard normal factors",
     0, NULL, NULL},
    {"a", PF_P_REAL, "1", "(0,1e6]", "barrier scale a", 0, NULL, NULL},
    {"delta", PF_P_REAL, "2", "[-100,1e4]",
     "modes at x_1 = shift +- sqrt(delta), barrier height a delta^2", 0,
     NULL, NULL},
    {"shift", PF_P_REAL, "1.5", NULL, "centre of the two wells in x_1", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_double_well = {
    .base = {"double_well",
             "double well -a((x_1-shift)^2-delta)^2 - |x_{>1}|^2/2",
             double_well_params},
    .example = "{name: double_well, dim: 2, a: 2, delta: 1.5, shift: 0.5}",
    .create = double_well_create,
    .destroy = double_well_destroy,
    .logp_grad = double_well_logp_grad,
    .sample = double_well_sample,
    .moments = double_well_moments,
    .log_z = double_well_log_z,
    .sample_method = double_well_sample_method,
};
