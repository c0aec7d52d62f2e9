/* `rbf`: Gaussian profile phi(t) = exp(-t), k(x, y) = exp(-|x-y|^2 / h).
 * (The exp(-r2 / (2 l^2)) convention is h = 2 l^2.) */
#include <math.h>
#include <stddef.h>

#include "pflow/config.h"
#include "pflow/kernel.h"
#include "pflow/vmath.h"

static void rbf_profile(const void *ctx, size_t n, const double *r2,
                        double ih, double *f, double *f1, double *f2)
{
  (void)ctx;
  const double m = -ih, ih2 = ih * ih;
#pragma omp simd
  for (size_t i = 0; i < n; i++) f[i] = m * r2[i];
  /* The inlined exp for non-positive arguments (include/pflow/vmath.h:
   * within 1.4 ulp measured, about twice SLEEF's throughput here); it stops at
   * exp(-708), so the rare smaller arguments (subnormal or zero results)
   * take libm, after a vectorized test for any. */
  int tiny = 0;
#pragma omp simd reduction(| : tiny)
  for (size_t i = 0; i < n; i++) tiny |= f[i] < -708.0;
  pf_vm_exp_neg(n, f, f);
  if (tiny)
    for (size_t i = 0; i < n; i++)
      if (m * r2[i] < -708.0) f[i] = exp(m * r2[i]);
  if (f1 && f2)
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      f1[i] = m * f[i];
      f2[i] = ih2 * f[i];
    }
  else if (f1)
#pragma omp simd
    for (size_t i = 0; i < n; i++) f1[i] = m * f[i];
  else if (f2)
#pragma omp simd
    for (size_t i = 0; i < n; i++) f2[i] = ih2 * f[i];
}

static const pf_param rbf_params[] = {
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_kernel_ops pf_kernel_rbf = {
    .base = {"rbf", "Gaussian kernel exp(-|x-y|^2 / h)", rbf_params},
    .example = "{name: rbf, bandwidth: median}",
    .create = NULL,
    .destroy = NULL,
    .profile = rbf_profile,
};
