/* Array wrappers over SLEEF's AVX2 (+FMA) double-precision functions.
 *
 * The explicitly-AVX2 entry points (Sleef_*d4_*avx2) are called instead of
 * the dispatching ones so the code path, and therefore every result, is
 * fixed by the build, not by the CPU a run lands on.  Full 4-lane blocks
 * are loaded and stored in place; a tail of 1-3 elements is copied into a
 * padded 4-wide temporary, so nothing past the arrays is read or written.
 * SLEEF is elementwise, so an element's result does not depend on its lane,
 * on n, or on whether it fell in the tail.  Each block is loaded before it
 * is stored, so outputs may alias inputs.
 */
#include "pflow/vmath.h"

#include <immintrin.h>
#include <string.h>

#include <sleef.h>

#if !defined(__AVX2__) || !defined(__FMA__)
#error "core/vmath.c needs AVX2 and FMA (build with -march=x86-64-v3)"
#endif

/* y[i] = f(x[i]); the tail is padded with `pad`, a value inside f's
 * domain, so the unused lanes raise no floating-point exceptions. */
#define PF__VM_UNARY(name, fn, pad)                                   \
  void pf_vm_##name(size_t n, const double *x, double *y)            \
  {                                                                   \
    size_t i = 0;                                                     \
    for (; i + 4 <= n; i += 4)                                        \
      _mm256_storeu_pd(y + i, fn(_mm256_loadu_pd(x + i)));            \
    if (i < n) {                                                      \
      double t[4] = {pad, pad, pad, pad};                             \
      memcpy(t, x + i, (n - i) * sizeof *t);                          \
      _mm256_storeu_pd(t, fn(_mm256_loadu_pd(t)));                    \
      memcpy(y + i, t, (n - i) * sizeof *t);                          \
    }                                                                 \
  }

PF__VM_UNARY(exp, Sleef_expd4_u10avx2, 0.0)
PF__VM_UNARY(log, Sleef_logd4_u10avx2, 1.0)

/* SLEEF 3.5's log1p returns +inf for every x > 1e307 (a hard-coded
 * cut-off).  There 1 + x == x in double (x > 2^53), and log1p(x) = log(x) +
 * log1p(1/x) with 1/x far below half an ULP of log(x), so log(x) is the
 * answer to within SLEEF's own bound.  The check costs a compare and a
 * movemask per vector; log runs only for vectors that need it. */
static inline __m256d log1p4(__m256d x)
{
  __m256d y = Sleef_log1pd4_u10avx2(x);
  __m256d big = _mm256_cmp_pd(x, _mm256_set1_pd(1e307), _CMP_GT_OQ);
  if (_mm256_movemask_pd(big))
    y = _mm256_blendv_pd(y, Sleef_logd4_u10avx2(x), big);
  return y;
}

PF__VM_UNARY(log1p, log1p4, 0.0)
PF__VM_UNARY(expm1, Sleef_expm1d4_u10avx2, 0.0)
PF__VM_UNARY(exp_neg, pf_vm_exp_neg4, 0.0)

void pf_vm_sincos(size_t n, const double *x, double *s, double *c)
{
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    Sleef___m256d_2 r = Sleef_sincosd4_u10avx2(_mm256_loadu_pd(x + i));
    _mm256_storeu_pd(s + i, r.x);
    _mm256_storeu_pd(c + i, r.y);
  }
  if (i < n) {
    double t[4] = {0.0, 0.0, 0.0, 0.0}, ts[4], tc[4];
    memcpy(t, x + i, (n - i) * sizeof *t);
    Sleef___m256d_2 r = Sleef_sincosd4_u10avx2(_mm256_loadu_pd(t));
    _mm256_storeu_pd(ts, r.x);
    _mm256_storeu_pd(tc, r.y);
    memcpy(s + i, ts, (n - i) * sizeof *ts);
    memcpy(c + i, tc, (n - i) * sizeof *tc);
  }
}

/* Box-Muller on four pairs: u1 = radius uniforms, u2 = angle uniforms.
 * cos/sin(2 pi u2) come from sincospi(2 u2): 2 u2 is exact and sincospi
 * needs no reduction by an inexact pi (u05: 0.506 ULP). */
static inline void box_muller4(__m256d u1, __m256d u2, __m256d *z1,
                               __m256d *z2)
{
  __m256d rad = _mm256_sqrt_pd(
      _mm256_mul_pd(_mm256_set1_pd(-2.0), Sleef_logd4_u10avx2(u1)));
  Sleef___m256d_2 sc = Sleef_sincospid4_u05avx2(_mm256_add_pd(u2, u2));
  *z1 = _mm256_mul_pd(rad, sc.y);
  *z2 = _mm256_mul_pd(rad, sc.x);
}

/* Four interleaved pairs a = [u1_0 u2_0 u1_1 u2_1], b = [u1_2 u2_2 u1_3
 * u2_3]: unpacklo/hi give the u1 and u2 vectors in lane order (0 2 1 3),
 * and the same unpacks of the results restore the interleaved order, so no
 * cross-lane permute is needed. */
static inline void box_muller_block(double *u)
{
  __m256d a = _mm256_loadu_pd(u), b = _mm256_loadu_pd(u + 4);
  __m256d z1, z2;
  box_muller4(_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b), &z1, &z2);
  _mm256_storeu_pd(u, _mm256_unpacklo_pd(z1, z2));
  _mm256_storeu_pd(u + 4, _mm256_unpackhi_pd(z1, z2));
}

void pf_vm_box_muller(size_t npairs, double *u)
{
  size_t n = 2 * npairs, i = 0;
  for (; i + 8 <= n; i += 8) box_muller_block(u + i);
  if (i < n) {
    double t[8] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    memcpy(t, u + i, (n - i) * sizeof *t);
    box_muller_block(t);
    memcpy(u + i, t, (n - i) * sizeof *t);
  }
}

const char *pf_vm_isa(void) { return "avx2"; }
