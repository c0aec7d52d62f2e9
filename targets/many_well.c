/* `many_well`: log rho(x) = -sum_{i<m} (x_i^2 - delta)^2
 * - 1/2 sum_{i>=m} x_i^2 on R^dim (2^m modes at x_i = +-sqrt(delta)), the
 * "mw" targets of the learned-diffusion benchmarks (Richter & Berner 2024;
 * d=5, m=5, delta=4: log Z = 5 log 0.8974381249 = -0.54105551288; d=50,
 * m=5, delta=2: log Z = 42.8172).  Unnormalized: log_z = m log Z1(delta) +
 * (dim - m)/2 log(2 pi), Z1 by quadrature at create.  Exact sampler:
 * coordinate-wise rejection (well1d.c); moments by quadrature. */
#include <math.h>
#include <stdlib.h>

#include "pflow/error.h"
#include "pflow/target.h"
#include "well1d.h"

typedef struct many_well {
  size_t d, m;
  double delta;
  pf__well1d w;
} many_well;

static void many_well_destroy(void *ctx) { free(ctx); }

static int many_well_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  long long d, m = -1;
  double delta;
  PF_TRY(pf_cfg_int(cfg, "dim", &d));
  PF_TRY(pf_cfg_real(cfg, "delta", &delta));
  if (pf_cfg_has(cfg, "m")) PF_TRY(pf_cfg_int(cfg, "m", &m));
  if (m < 0) m = d;
  if (m > d)
    PF_CFG_RAISE(cfg, "m", PF_ECONFIG,
                 "%lld wells requested but dim is %lld (need m <= dim)", m, d);
  many_well *t = calloc(1, sizeof *t);
  PF_CHECK(t, PF_ENOMEM, "allocating the many_well target");
  t->d = (size_t)d;
  t->m = (size_t)m;
  t->delta = delta;
  int rc = pf__well1d_init(&t->w, delta);
  if (rc < 0) {
    free(t);
    return pf__error_push(rc, __FILE__, __LINE__, "pf__well1d_init");
  }
  *ctx = t;
  *dim = t->d;
  return 0;
}

static int many_well_logp_grad(void *ctx, size_t n, const double *X,
                               double *logp, double *grad)
{
  const many_well *t = ctx;
  const size_t d = t->d, m = t->m;
  const double delta = t->delta;
  /* Rows are independent: the same bits for any thread count. */
#pragma omp parallel for schedule(static) if (n * d > 65536)
  for (size_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double *g = grad ? grad + i * d : NULL;
    double lw = 0.0, lq = 0.0;
    for (size_t k = 0; k < m; k++) {
      double e = x[k] * x[k] - delta;
      lw += e * e;
      if (g) g[k] = -4.0 * x[k] * e;
    }
    for (size_t k = m; k < d; k++) {
      lq += x[k] * x[k];
      if (g) g[k] = -x[k];
    }
    if (logp) logp[i] = -lw - 0.5 * lq;
  }
  return 0;
}

static int many_well_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const many_well *t = ctx;
  const size_t d = t->d, m = t->m;
  for (size_t i = 0; i < n; i++) {
    double *x = X + i * d;
    for (size_t k = 0; k < m; k++) x[k] = pf__well1d_draw(&t->w, rng);
    if (d > m) pf_rng_normal(rng, d - m, x + m);
  }
  return 0;
}

static int many_well_moments(void *ctx, double *mean, double *cov)
{
  const many_well *t = ctx;
  const size_t d = t->d;
  for (size_t k = 0; k < d; k++) {
    if (mean) mean[k] = 0.0;
    if (cov)
      for (size_t j = 0; j < d; j++)
        cov[k * d + j] = j != k ? 0.0 : k < t->m ? t->w.m2 : 1.0;
  }
  return 0;
}

static int many_well_log_z(void *ctx, double *out)
{
  const many_well *t = ctx;
  const double log_2pi = 1.8378770664093454836;
  *out = (double)t->m * t->w.log_z + 0.5 * (double)(t->d - t->m) * log_2pi;
  return 0;
}

static const char *many_well_sample_method(void *ctx)
{
  (void)ctx;
  return "rejection";
}

static const pf_param many_well_params[] = {
    {"dim", PF_P_INT, "5", "[1,1e7]", "dimension d", 0, NULL, NULL},
    {"m", PF_P_INT, NULL, "[0,1e7]",
     "number of double-well coordinates (the first m; default: all d)", 0,
     NULL, NULL},
    {"delta", PF_P_REAL, "4", "[-100,1e4]",
     "well position: modes at x_i = +-sqrt(delta), barrier exp(-delta^2)",
     0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_many_well = {
    .base = {"many_well",
             "2^m-mode many-well: -sum_{i<m}(x_i^2-delta)^2 - |x_{>=m}|^2/2",
             many_well_params},
    .example = "{name: many_well, dim: 4, m: 3, delta: 3}",
    .create = many_well_create,
    .destroy = many_well_destroy,
    .logp_grad = many_well_logp_grad,
    .sample = many_well_sample,
    .moments = many_well_moments,
    .log_z = many_well_log_z,
    .sample_method = many_well_sample_method,
};
