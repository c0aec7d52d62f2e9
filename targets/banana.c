/* `banana`: the twisted Gaussian of Haario, Saksman & Tamminen (1999,
 * Comput. Statist. 14:375): p = f o phi_b with f = N(0, diag(s, 1, ..., 1))
 * (s = `scale`, 100 in the paper) and
 * phi_b(x) = (x_1, x_2 + b x_1^2 - s b, x_3, ..., x_d).  phi_b has unit
 * Jacobian, so p is normalized (log_z = 0).  Exact draws: y ~ f, then
 * x = phi_b^-1(y): x_1 = y_1, x_2 = y_2 - b (y_1^2 - s).  Moments in closed
 * form: E x = 0 (the -s b recentres x_2 since E y_1^2 = s); Var x_1 = s;
 * Var x_2 = 1 + b^2 Var(y_1^2) = 1 + 2 b^2 s^2; Cov(x_1, x_2) =
 * -b E y_1^3 = 0; the other coordinates are independent N(0, 1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/target.h"

typedef struct banana {
  size_t d;
  double b, s;
  double lognorm; /* -(d/2) log(2 pi) - (1/2) log s */
} banana;

static void banana_destroy(void *ctx) { free(ctx); }

static int banana_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  long long d;
  double b, s;
  PF_TRY(pf_cfg_int(cfg, "dim", &d));
  PF_TRY(pf_cfg_real(cfg, "b", &b));
  PF_TRY(pf_cfg_real(cfg, "scale", &s));
  banana *t = calloc(1, sizeof *t);
  PF_CHECK(t, PF_ENOMEM, "allocating the banana target");
  const double log_2pi = 1.8378770664093454836;
  t->d = (size_t)d;
  t->b = b;
  t->s = s;
  t->lognorm = -0.5 * (double)d * log_2pi - 0.5 * log(s);
  *ctx = t;
  *dim = t->d;
  return 0;
}

static int banana_logp_grad(void *ctx, size_t n, const double *X,
                            double *logp, double *grad)
{
  const banana *t = ctx;
  const size_t d = t->d;
  const double b = t->b, s = t->s;
  /* Rows are independent: the same bits for any thread count. */
#pragma omp parallel for schedule(static) if (n * d > 65536)
  for (size_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double *g = grad ? grad + i * d : NULL;
    double y2 = x[1] + b * (x[0] * x[0] - s);
    double q = x[0] * x[0] / s + y2 * y2;
    for (size_t k = 2; k < d; k++) q += x[k] * x[k];
    if (logp) logp[i] = t->lognorm - 0.5 * q;
    if (g) {
      g[0] = -x[0] / s - 2.0 * b * x[0] * y2;
      g[1] = -y2;
      for (size_t k = 2; k < d; k++) g[k] = -x[k];
    }
  }
  return 0;
}

static int banana_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const banana *t = ctx;
  const size_t d = t->d;
  const double sd = sqrt(t->s);
  for (size_t i = 0; i < n; i++) {
    double *x = X + i * d;
    pf_rng_normal(rng, d, x);
    x[0] *= sd;
    x[1] -= t->b * (x[0] * x[0] - t->s);
  }
  return 0;
}

static int banana_moments(void *ctx, double *mean, double *cov)
{
  const banana *t = ctx;
  const size_t d = t->d;
  if (mean) memset(mean, 0, d * sizeof(double));
  if (cov) {
    memset(cov, 0, d * d * sizeof(double));
    for (size_t k = 0; k < d; k++) cov[k * d + k] = 1.0;
    cov[0] = t->s;
    cov[d + 1] = 1.0 + 2.0 * t->b * t->b * t->s * t->s;
  }
  return 0;
}

static int banana_log_z(void *ctx, double *out)
{
  (void)ctx;
  *out = 0.0;
  return 0;
}

static const pf_param banana_params[] = {
    {"dim", PF_P_INT, "2", "[2,1e7]", "dimension (>= 2)", 0, NULL, NULL},
    {"b", PF_P_REAL, "0.1", "[0,inf)",
     "twist (nonlinearity); 0.03 (moderate) and 0.1 (strong) are the "
     "usual choices", 0, NULL, NULL},
    {"scale", PF_P_REAL, "100", "(0,inf)",
     "variance s of x_1 (100 in Haario et al.); the twist is recentred by "
     "-b s", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_banana = {
    .base = {"banana",
             "twisted Gaussian of Haario et al. (1999), normalized",
             banana_params},
    .example = "{name: banana, dim: 3, b: 0.05, scale: 100}",
    .create = banana_create,
    .destroy = banana_destroy,
    .logp_grad = banana_logp_grad,
    .sample = banana_sample,
    .moments = banana_moments,
    .log_z = banana_log_z,
};
