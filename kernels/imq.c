/* `imq`: inverse multiquadric profile phi(t) = (c^2 + t)^beta, beta < 0,
 * k(x, y) = (c^2 + |x-y|^2 / h)^beta.  With c = 1, beta = -1/2 and h = 1 it
 * is the kernel of Gorham & Mackey (2017) for KSD. */
#include <math.h>
#include <stdlib.h>

#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/vmath.h"

typedef struct imq {
  double c2, beta;
} imq;

static int imq_create(const pf_node *cfg, void **ctx)
{
  double c = 1.0, beta = -0.5;
  if (cfg && pf_cfg_has(cfg, "c")) PF_TRY(pf_cfg_real(cfg, "c", &c));
  if (cfg && pf_cfg_has(cfg, "beta")) PF_TRY(pf_cfg_real(cfg, "beta", &beta));
  if (!(c > 0) || !isfinite(c))
    PF_CFG_RAISE(cfg, "c", PF_ECONFIG, "expected c > 0, found %g", c);
  if (!(beta < 0) || !isfinite(beta))
    PF_CFG_RAISE(cfg, "beta", PF_ECONFIG, "expected beta < 0, found %g", beta);
  imq *s = malloc(sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the imq kernel");
  s->c2 = c * c;
  s->beta = beta;
  *ctx = s;
  return 0;
}

static void imq_destroy(void *ctx) { free(ctx); }

static void imq_profile(const void *ctx, size_t n, const double *r2,
                        double ih, double *f, double *f1, double *f2)
{
  const imq *s = ctx;
  const double c2 = s->c2, b = s->beta, b1 = b * ih,
               b2 = b * (b - 1.0) * ih * ih;
  /* u = c^2 + t; phi' = beta phi / u, phi'' = beta (beta - 1) phi / u^2 */
#pragma omp simd
  for (size_t i = 0; i < n; i++) f[i] = c2 + ih * r2[i];
  if (b == -0.5) {
    /* The common case without log/exp: phi = u^-1/2 and 1/u = phi^2, so
     * one sqrt and one division per value. */
    pf__vsqrt(n, f, f);
#pragma omp simd
    for (size_t i = 0; i < n; i++) f[i] = 1.0 / f[i];
    if (f1)
#pragma omp simd
      for (size_t i = 0; i < n; i++) f1[i] = b1 * f[i] * f[i] * f[i];
    if (f2)
#pragma omp simd
      for (size_t i = 0; i < n; i++) {
        double q = f[i] * f[i];
        f2[i] = b2 * f[i] * q * q;
      }
    return;
  }
  pf_vm_log(n, f, f);
#pragma omp simd
  for (size_t i = 0; i < n; i++) f[i] *= b;
  pf_vm_exp(n, f, f);
  if (f1)
#pragma omp simd
    for (size_t i = 0; i < n; i++) f1[i] = b1 * f[i] / (c2 + ih * r2[i]);
  if (f2)
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      double iu = 1.0 / (c2 + ih * r2[i]);
      f2[i] = b2 * f[i] * iu * iu;
    }
}

static const pf_param imq_params[] = {
    {"c", PF_P_REAL, "1", "(0,inf)", "offset: k = (c^2 + |x-y|^2/h)^beta", 0,
     NULL, NULL},
    {"beta", PF_P_REAL, "-0.5", "(-inf,0)", "exponent (negative)", 0, NULL,
     NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_kernel_ops pf_kernel_imq = {
    .base = {"imq", "inverse multiquadric (c^2 + |x-y|^2 / h)^beta",
             imq_params},
    .example = "{name: imq, bandwidth: median, c: 1, beta: -0.5}",
    .create = imq_create,
    .destroy = imq_destroy,
    .profile = imq_profile,
};
