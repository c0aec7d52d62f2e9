/* Vector math: thin array wrappers over SLEEF's AVX2+FMA functions (u10:
 * at most 1.0 ULP error; the ISA is fixed at build time so results are the
 * same on every run of a build, whatever the thread count).  Outputs may
 * alias inputs.  Thread-safe. */
#ifndef PFLOW_VMATH_H
#define PFLOW_VMATH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Documented maximum error of the wrapped SLEEF functions, in ULP. */
#define PF_VM_ULP 1.0

void pf_vm_exp(size_t n, const double *x, double *y);
void pf_vm_log(size_t n, const double *x, double *y);
void pf_vm_log1p(size_t n, const double *x, double *y);
void pf_vm_expm1(size_t n, const double *x, double *y);
/* exp(x) for x <= 0 only (kernel values, logistic terms), through
 * pf_vm_exp_neg4 below: within 2 ulp; below -708 it returns exp(-708). */
void pf_vm_exp_neg(size_t n, const double *x, double *y);
void pf_vm_sincos(size_t n, const double *x, double *s, double *c);

/* In place Box-Muller: pairs (u[2k], u[2k+1]) of uniforms in (0, 1] become
 * two independent standard normals sqrt(-2 log u1) * (cos, sin)(2 pi u2). */
void pf_vm_box_muller(size_t npairs, double *u);

/* SIMD instruction set the wrappers were built for ("avx2"). */
const char *pf_vm_isa(void);

/* ---- inline four-lane exponentials for hot loops (AVX2 + FMA builds) ----
 * Kernel values exp(-c r2) and logistic terms exp(-|u|) only need
 * non-positive arguments, so these skip SLEEF's range and special-case
 * handling.  Both reduce the argument to a polynomial fitted on
 * Chebyshev nodes (mpmath chebyfit; truncation error below 1.4e-17, far
 * under half an ulp) times 2^n built in the exponent field.  exp: within 2 ulp, exp2:
 * within 2.5 (tests/test_vmath.c; 1.2 and 2.1 measured).  Arguments
 * below the clamp (exp: -708, exp2: -1021) return the clamp's value
 * (< 3.4e-308, an absolute error no caller can see); NaN stays NaN. */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* A degree-11 polynomial, coefficients c[0] (highest degree) to c[11]
 * (constant), as c[11] + r T(r) with T by Estrin's scheme: a dependency
 * chain of 6 instead of Horner's 11, which is what an array loop of
 * exponentials waits on, while the O(1) sum is still rounded once (at
 * |r| <= 0.35, T's own rounding reaches the result scaled by |r|). */
static inline __m256d pf__vm_poly11(__m256d r, const double *c)
{
#define PF__T(k) _mm256_set1_pd(c[10 - (k)]) /* T's coefficient of r^k */
  const __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2),
                r8 = _mm256_mul_pd(r4, r4);
  const __m256d p01 = _mm256_fmadd_pd(PF__T(1), r, PF__T(0)),
                p23 = _mm256_fmadd_pd(PF__T(3), r, PF__T(2)),
                p45 = _mm256_fmadd_pd(PF__T(5), r, PF__T(4)),
                p67 = _mm256_fmadd_pd(PF__T(7), r, PF__T(6)),
                p89 = _mm256_fmadd_pd(PF__T(9), r, PF__T(8));
  const __m256d q0 = _mm256_fmadd_pd(p23, r2, p01),
                q1 = _mm256_fmadd_pd(p67, r2, p45),
                q2 = _mm256_fmadd_pd(PF__T(10), r2, p89);
#undef PF__T
  const __m256d t = _mm256_fmadd_pd(q2, r8, _mm256_fmadd_pd(q1, r4, q0));
  return _mm256_fmadd_pd(t, r, _mm256_set1_pd(c[11]));
}

/* exp(x), x <= 0: x = n ln2 + r with n = round(x log2 e) (one fused
 * multiply-add into 1.5 2^52 rounds it), r by Cody and Waite's two-part
 * ln 2, |r| <= ln2/2. */
static inline __m256d pf_vm_exp_neg4(__m256d x)
{
  static const double c[12] = {
      2.511003760627545e-08,  2.763263963944634e-07, 2.7557240918578127e-06,
      2.4801485482327396e-05, 0.00019841269890047116, 0.0013888888952314775,
      0.008333333333319601,   0.0416666666664881,     0.1666666666666668,
      0.5000000000000019,     1.0,                    1.0};
  const __m256d magic = _mm256_set1_pd(6755399441055744.0); /* 1.5 2^52 */
  x = _mm256_max_pd(_mm256_set1_pd(-708.0), x); /* NaN: second operand */
  const __m256d tm =
      _mm256_fmadd_pd(x, _mm256_set1_pd(1.4426950408889634074), magic);
  const __m256d n = _mm256_sub_pd(tm, magic);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), x);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
  const __m256d p = pf__vm_poly11(r, c);
  /* the low bits of tm hold n; (n + 1023) << 52 is 2^n */
  const __m256i e = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_castpd_si256(tm), _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(p, _mm256_castsi256_pd(e));
}

/* 2^t, t <= 0: t = n + f, n = round(t), |f| <= 1/2 (exact), and 2^f as
 * the square of 2^(f/2), a degree-9 polynomial fitted on |f/2| <= 1/4
 * (error 1.3e-17; the 1/2 is folded into its coefficients, exactly), by
 * Horner's rule: the fewest multiply-adds found, for the MMD witness loop
 * (kernels/pairwise_mmd.c), which is bound by their count, not their
 * latency.  Returns 2^f; *tm holds n + 1023 in its low bits. */
static inline __m256d pf__vm_exp2_frac(__m256d t, __m256i *tm)
{
  /* c_k 2^-k, c_k the fit of 2^u on |u| <= 1/4, highest degree first */
  static const double c[10] = {
      1.0185034335929399e-07 / 512, 1.3226514165404125e-06 / 256,
      1.5252730003814915e-05 / 128, 0.00015403524362075355 / 64,
      0.0013333558147276751 / 32,   0.009618129108974822 / 16,
      0.05550410866482092 / 8,      0.2402265069590902 / 4,
      0.6931471805599453 / 2,       1.0};
  /* 1.5 2^52 + 1023: adding it rounds t, leaving n + 1023 in the low bits */
  const __m256d magic = _mm256_set1_pd(6755399441056767.0);
  t = _mm256_max_pd(_mm256_set1_pd(-1021.0), t); /* NaN: second operand */
  const __m256d m = _mm256_add_pd(t, magic);
  const __m256d f = _mm256_sub_pd(t, _mm256_sub_pd(m, magic));
  __m256d q = _mm256_set1_pd(c[0]);
#pragma GCC unroll 9
  for (int k = 1; k < 10; k++) q = _mm256_fmadd_pd(q, f, _mm256_set1_pd(c[k]));
  *tm = _mm256_castpd_si256(m);
  return _mm256_mul_pd(q, q);
}

/* 2^t for t <= 0 (NaN stays NaN). */
static inline __m256d pf_vm_exp2_neg4(__m256d t)
{
  __m256i tm;
  const __m256d p = pf__vm_exp2_frac(t, &tm);
  return _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_slli_epi64(tm, 52)));
}

/* 2^t for t <= 0, t not NaN (the caller has checked its inputs): 2^n is
 * added into the exponent field, an integer add instead of a multiply; a
 * NaN t would give a finite garbage value. */
static inline __m256d pf_vm_exp2_neg4_notnan(__m256d t)
{
  __m256i tm;
  const __m256d p = pf__vm_exp2_frac(t, &tm);
  /* (n + 1023) << 52 is 2^n's bits; p in [1/sqrt 2, sqrt 2] has biased
   * exponent 1022 or 1023, so adding n << 52 scales it by 2^n exactly
   * (n >= -1021 keeps the result normal) */
  const __m256i n52 = _mm256_slli_epi64(
      _mm256_sub_epi64(tm, _mm256_set1_epi64x(1023)), 52);
  return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), n52));
}
#endif

#ifdef __cplusplus
}
#endif
#endif
