/* An example user target plug-in: N(shift, scale^2 I), normalized, with an
 * exact sampler and known moments (so pflow's sampler checks can use it).
 * Build it from the pflow source tree with
 *
 *   cc -std=c11 -O2 -fPIC -shared -Iinclude \
 *      -o shifted_gaussian.so examples/plugin_target/shifted_gaussian.c
 *
 * (`make` builds it as $(BUILD)/examples/shifted_gaussian.so) and use it as
 *
 *   target: {name: plugin, plugin: shifted_gaussian.so,
 *            options: "{shift: [1, -2], scale: 0.5}"}
 *
 * It calls only the plug-in API of pflow/plugin.h (pf_cfg_*, PF_CHECK,
 * pf_rng_normal), resolved against the pflow executable at load time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/plugin.h"

typedef struct sg {
  size_t d;
  double *shift;
  double scale, inv_var, lognorm;
} sg;

static void sg_destroy(void *ctx)
{
  sg *g = ctx;
  if (!g) return;
  free(g->shift);
  free(g);
}

static int sg_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  sg *g = calloc(1, sizeof *g);
  PF_CHECK(g, PF_ENOMEM, "allocating the shifted_gaussian plug-in");
  int rc = pf_cfg_reals(cfg, "shift", &g->shift, &g->d);
  if (rc == 0) rc = pf_cfg_real(cfg, "scale", &g->scale);
  if (rc == 0 && g->d == 0)
    rc = pf__config_raise(cfg, "shift", PF_ECONFIG, __FILE__, __LINE__,
                          "needs at least one entry (it sets the dimension)");
  if (rc < 0) {
    sg_destroy(g);
    return rc;
  }
  g->inv_var = 1.0 / (g->scale * g->scale);
  g->lognorm = -0.5 * (double)g->d * log(2.0 * 3.14159265358979323846 *
                                          g->scale * g->scale);
  *ctx = g;
  *dim = g->d;
  return 0;
}

static int sg_logp_grad(void *ctx, size_t n, const double *X, double *logp,
                        double *grad)
{
  const sg *g = ctx;
  const size_t d = g->d;
  for (size_t i = 0; i < n; i++) {
    double q = 0.0;
    for (size_t k = 0; k < d; k++) {
      double r = X[i * d + k] - g->shift[k];
      q += r * r;
      if (grad) grad[i * d + k] = -g->inv_var * r;
    }
    if (logp) logp[i] = g->lognorm - 0.5 * g->inv_var * q;
  }
  return 0;
}

static int sg_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const sg *g = ctx;
  pf_rng_normal(rng, n * g->d, X);
  for (size_t i = 0; i < n * g->d; i++)
    X[i] = g->shift[i % g->d] + g->scale * X[i];
  return 0;
}

static int sg_moments(void *ctx, double *mean, double *cov)
{
  const sg *g = ctx;
  const size_t d = g->d;
  if (mean) memcpy(mean, g->shift, d * sizeof(double));
  if (cov)
    for (size_t i = 0; i < d * d; i++)
      cov[i] = i % (d + 1) == 0 ? g->scale * g->scale : 0.0;
  return 0;
}

static int sg_log_z(void *ctx, double *out)
{
  (void)ctx;
  *out = 0.0;
  return 0;
}

static const pf_param sg_params[] = {
    {"shift", PF_P_REALS, "[1.0, -2.0]", NULL,
     "mean vector (its length is the dimension)", 0, NULL, NULL},
    {"scale", PF_P_REAL, "1", "(0,inf)", "standard deviation of every "
     "coordinate", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static const pf_target_ops sg_ops = {
    .base = {"shifted_gaussian", "N(shift, scale^2 I) (example plug-in)",
             sg_params},
    .create = sg_create,
    .destroy = sg_destroy,
    .logp_grad = sg_logp_grad,
    .sample = sg_sample,
    .moments = sg_moments,
    .log_z = sg_log_z,
};

PF_TARGET_PLUGIN(sg_ops)
