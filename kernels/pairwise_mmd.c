/* MMD witness gradients (see include/pflow/kernel.h, pf_witness_grad): for
 * the n evaluation points z_i,
 *   V_i = a sum_j grad_z k(z_i, x_j) + b sum_l grad_z k(z_i, y_l),
 * the particle-flow direction of Arbel et al. (2019) with a = 1/N (the
 * particles) and b = -1/M (the target samples), and the kernel sums the
 * flow's MMD^2 needs.
 *
 * Two paths:
 *  - low dimension (d <= PF_WITNESS_LOWD): direct differences, the point
 *    sets stored coordinate-major (SoA) and read 4 at a time; for a
 *    single-bandwidth Gaussian kernel everything stays in AVX2 registers
 *    with an inlined exp (Cody-Waite reduction, degree-12 Taylor
 *    polynomial on |r| <= ln2/2 + 2^-40: truncation < 2e-16 relative, so
 *    within ~2 ulp of the true exp; tested against libm in
 *    tests/test_mmd_flow.c), because at d = 2 the exp is the whole cost and
 *    going through an array call (pf_kernel_eval, SLEEF) costs about as
 *    much again in loads, stores and the call; other kernels use strips of
 *    PF__WSTRIP pairs through pf_kernel_eval.  The dot-product engine would
 *    pad d = 2 to 4 and add GEMM-shaped work that does not pay at d < 8.
 *  - otherwise: two pf_pair_kgrad calls of the tiled engine
 *    (kernels/pairwise.c) and, for the sums, two pf_pair_kernel_sum calls.
 * OpenMP over rows i, schedule(static); each row sums its j in a fixed
 * order (4 lanes, then the lanes in order) and the per-row kernel sums are
 * added in row order: bitwise identical for any thread count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#define PF_WIT_AVX2 1
#include <immintrin.h>
#endif

#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/particles.h"

extern const pf_kernel_ops pf_kernel_rbf;

#define PF__WSTRIP 256

struct pf_witness {
  size_t max_n, max_m, d;
  double *xt, *yt;     /* SoA point sets: d x cap (cap: multiple of 4) */
  size_t capx, capy;
  double *rows;        /* per-row kernel sums: 2 per row (max_n) */
  int nthreads;
  double *tbuf;        /* per thread strip buffers (generic kernels) */
  size_t tstride;
  pf_pairwise *pw;     /* high-d path */
  double *v1;          /* high-d path: n x d */
};

static size_t round4(size_t a) { return (a + 3) / 4 * 4; }

void pf_witness_destroy(pf_witness **w)
{
  if (!w || !*w) return;
  free((*w)->xt);
  free((*w)->yt);
  free((*w)->rows);
  free((*w)->tbuf);
  free((*w)->v1);
  pf_pairwise_destroy(&(*w)->pw);
  free(*w);
  *w = NULL;
}

int pf_witness_create(size_t max_n, size_t max_m, size_t d, pf_witness **out)
{
  int rc = 0;
  PF_CHECK(out && d > 0 && max_n > 0, PF_EINVAL,
           "pf_witness_create: d and max_n must be > 0");
  pf_witness *w = calloc(1, sizeof *w);
  PF_CHECK(w, PF_ENOMEM, "allocating the witness engine");
  w->max_n = max_n;
  w->max_m = max_m;
  w->d = d;
  w->rows = pf_alloc_doubles(2 * max_n);
  PF_CHECK_GOTO(rc, w->rows, PF_ENOMEM, fail, "allocating row sums");
  if (d <= PF_WITNESS_LOWD) {
    w->capx = round4(max_n);
    w->capy = round4(max_m ? max_m : 1);
    w->xt = pf_alloc_doubles(d * w->capx);
    w->yt = pf_alloc_doubles(d * w->capy);
    w->nthreads = omp_get_max_threads();
    if (w->nthreads < 1) w->nthreads = 1;
    /* r2, f, f1 and the kernel's work per strip */
    w->tstride = (3 + PF_KERNEL_WORK) * PF__WSTRIP;
    w->tbuf = pf_alloc_doubles(w->tstride * (size_t)w->nthreads);
    PF_CHECK_GOTO(rc, w->xt && w->yt && w->tbuf, PF_ENOMEM, fail,
                  "allocating witness workspaces (%zu, %zu points)", max_n,
                  max_m);
  } else {
    size_t mx = max_n > max_m ? max_n : max_m;
    PF_TRY_GOTO(rc, pf_pairwise_create(max_n, mx, d, &w->pw), fail);
    w->v1 = pf_alloc_doubles(max_n * d);
    PF_CHECK_GOTO(rc, w->v1, PF_ENOMEM, fail, "allocating witness rows");
  }
  *out = w;
  return 0;
fail:
  pf_witness_destroy(&w);
  return rc;
}

/* ---- the inlined exp (x <= 0) ------------------------------------------- */

#ifdef PF_WIT_AVX2
/* exp(x) for x <= 0 (NaN propagates; below -708 the result is exp(-708),
 * 3.3e-308, which only matters as an absolute 3e-308).  x = n ln2 + r,
 * exp(x) = 2^n exp(r), exp(r) by Taylor to degree 12 (Estrin). */
static inline __m256d exp_neg4(__m256d x)
{
  const __m256d lo = _mm256_set1_pd(-708.0);
  x = _mm256_max_pd(lo, x); /* NaN in x is returned as is */
  __m256d n = _mm256_round_pd(
      _mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634074)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), x);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
#define C(v) _mm256_set1_pd(v)
  __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2),
          r8 = _mm256_mul_pd(r4, r4);
  /* pairs c_k + c_{k+1} r */
  __m256d p01 = _mm256_fmadd_pd(r, C(1.0), C(1.0));
  __m256d p23 = _mm256_fmadd_pd(r, C(1.0 / 6), C(0.5));
  __m256d p45 = _mm256_fmadd_pd(r, C(1.0 / 120), C(1.0 / 24));
  __m256d p67 = _mm256_fmadd_pd(r, C(1.0 / 5040), C(1.0 / 720));
  __m256d p89 = _mm256_fmadd_pd(r, C(1.0 / 362880), C(1.0 / 40320));
  __m256d p1011 = _mm256_fmadd_pd(r, C(1.0 / 39916800), C(1.0 / 3628800));
  __m256d p12 = C(1.0 / 479001600);
  __m256d q0 = _mm256_fmadd_pd(r2, p23, p01);       /* degree 0..3 */
  __m256d q1 = _mm256_fmadd_pd(r2, p67, p45);       /* degree 4..7 */
  __m256d q2 = _mm256_fmadd_pd(r2, p1011, p89);     /* degree 8..11 */
  __m256d s0 = _mm256_fmadd_pd(r4, q1, q0);         /* 0..7 */
  __m256d s1 = _mm256_fmadd_pd(r4, p12, q2);        /* 8..12 */
  __m256d p = _mm256_fmadd_pd(r8, s1, s0);
#undef C
  /* 2^n from the bits of n + 1.5 2^52 (low bits hold n) */
  __m256d t = _mm256_add_pd(n, _mm256_set1_pd(6755399441055744.0));
  __m256i e = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_castpd_si256(t), _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(p, _mm256_castsi256_pd(e));
}
#endif

void pf__exp_neg(size_t n, const double *x, double *y)
{
  size_t i = 0;
#ifdef PF_WIT_AVX2
  for (; i + 4 <= n; i += 4)
    _mm256_storeu_pd(y + i, exp_neg4(_mm256_loadu_pd(x + i)));
  if (i < n) {
    double a[4] = {0, 0, 0, 0}, b[4];
    for (size_t k = 0; i + k < n; k++) a[k] = x[i + k];
    _mm256_storeu_pd(b, exp_neg4(_mm256_loadu_pd(a)));
    for (size_t k = 0; i + k < n; k++) y[i + k] = b[k];
  }
#else
  for (; i < n; i++) y[i] = exp(x[i] < -708.0 ? -708.0 : x[i]);
#endif
}

/* ---- low-dimensional path ----------------------------------------------- */

/* A d x cap SoA copy of the cnt rows of A, zero padded. */
static void pack_soa(size_t cnt, size_t d, const double *A, double *T,
                     size_t cap)
{
  for (size_t k = 0; k < d; k++) {
    double *t = T + k * cap;
    for (size_t j = 0; j < cnt; j++) t[j] = A[j * d + k];
    for (size_t j = cnt; j < round4(cnt); j++) t[j] = 0.0;
  }
}

/* Gaussian single-bandwidth kernel exp(-ih r2), one row: acc[k] = sum_j
 * e_j (p_jk - z_k), *s = sum_j e_j, over the cnt points of Pt (SoA, cap). */
#ifdef PF_WIT_AVX2
static inline __attribute__((always_inline)) void
rbf_row(const size_t D, const double *z, const double *Pt, size_t cap,
        size_t cnt, double mih, int want_grad, double *acc, double *s)
{
  __m256d zb[PF_WITNESS_LOWD] = {0}, av[PF_WITNESS_LOWD] = {0};
  const __m256d m = _mm256_set1_pd(mih);
#pragma GCC unroll 8
  for (size_t k = 0; k < D; k++) {
    zb[k] = _mm256_set1_pd(z[k]);
    av[k] = _mm256_setzero_pd();
  }
  __m256d as = _mm256_setzero_pd();
  const size_t full = cnt / 4 * 4;
  if (want_grad) {
    for (size_t j = 0; j < full; j += 4) {
      __m256d dk[PF_WITNESS_LOWD] = {0}, r2 = _mm256_setzero_pd();
#pragma GCC unroll 8
      for (size_t k = 0; k < D; k++) {
        dk[k] = _mm256_sub_pd(_mm256_load_pd(Pt + k * cap + j), zb[k]);
        r2 = _mm256_fmadd_pd(dk[k], dk[k], r2);
      }
      __m256d e = exp_neg4(_mm256_mul_pd(r2, m));
      as = _mm256_add_pd(as, e);
#pragma GCC unroll 8
      for (size_t k = 0; k < D; k++) av[k] = _mm256_fmadd_pd(e, dk[k], av[k]);
    }
  } else {
    for (size_t j = 0; j < full; j += 4) {
      __m256d r2 = _mm256_setzero_pd();
#pragma GCC unroll 8
      for (size_t k = 0; k < D; k++) {
        __m256d t = _mm256_sub_pd(_mm256_load_pd(Pt + k * cap + j), zb[k]);
        r2 = _mm256_fmadd_pd(t, t, r2);
      }
      as = _mm256_add_pd(as, exp_neg4(_mm256_mul_pd(r2, m)));
    }
  }
  if (full < cnt) {
    const __m256i lane = _mm256_set_epi64x(3, 2, 1, 0);
    const __m256d mask = _mm256_castsi256_pd(_mm256_cmpgt_epi64(
        _mm256_set1_epi64x((long long)(cnt - full)), lane));
    __m256d dk[PF_WITNESS_LOWD] = {0}, r2 = _mm256_setzero_pd();
#pragma GCC unroll 8
    for (size_t k = 0; k < D; k++) {
      dk[k] = _mm256_sub_pd(_mm256_load_pd(Pt + k * cap + full), zb[k]);
      r2 = _mm256_fmadd_pd(dk[k], dk[k], r2);
    }
    __m256d e = _mm256_and_pd(exp_neg4(_mm256_mul_pd(r2, m)), mask);
    as = _mm256_add_pd(as, e);
    if (want_grad)
#pragma GCC unroll 8
      for (size_t k = 0; k < D; k++) av[k] = _mm256_fmadd_pd(e, dk[k], av[k]);
  }
  double o[4];
  _mm256_storeu_pd(o, as);
  *s = (o[0] + o[1]) + (o[2] + o[3]);
  if (want_grad)
#pragma GCC unroll 8
    for (size_t k = 0; k < D; k++) {
      _mm256_storeu_pd(o, av[k]);
      acc[k] = (o[0] + o[1]) + (o[2] + o[3]);
    }
}
#endif

/* Any kernel, one row, through strips of pf_kernel_eval: acc[k] = sum_j
 * (-2 f'_j)(p_jk - z_k) ... returned as sum_j f1_j (p_jk - z_k) in acc and
 * sum_j f_j in *s; the caller applies -2. */
static void generic_row(const pf_kernel *k, size_t d, const double *z,
                        const double *Pt, size_t cap, size_t cnt,
                        int want_grad, double *buf, double *acc, double *s)
{
  double *r2 = buf, *f = buf + PF__WSTRIP, *f1 = buf + 2 * PF__WSTRIP,
         *kw = buf + 3 * PF__WSTRIP;
  double st = 0.0;
  for (size_t c = 0; c < d; c++) acc[c] = 0.0;
  for (size_t j0 = 0; j0 < cnt; j0 += PF__WSTRIP) {
    const size_t len = cnt - j0 < PF__WSTRIP ? cnt - j0 : PF__WSTRIP;
    memset(r2, 0, len * sizeof(double));
    for (size_t c = 0; c < d; c++) {
      const double *p = Pt + c * cap + j0, zc = z[c];
#pragma omp simd
      for (size_t j = 0; j < len; j++) r2[j] += (p[j] - zc) * (p[j] - zc);
    }
    pf_kernel_eval(k, len, r2, f, want_grad ? f1 : NULL, NULL, kw);
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (size_t j = 0; j < len; j++) ss += f[j];
    st += ss;
    if (want_grad)
      for (size_t c = 0; c < d; c++) {
        const double *p = Pt + c * cap + j0, zc = z[c];
        double a = 0.0;
#pragma omp simd reduction(+ : a)
        for (size_t j = 0; j < len; j++) a += f1[j] * (p[j] - zc);
        acc[c] += a;
      }
  }
  *s = st;
}

/* Is k a single-bandwidth Gaussian exp(-ih r2)?  Then *ih. */
static int rbf_single(const pf_kernel *k, double *ih)
{
#ifdef PF_WIT_AVX2
  if (pf_kernel_ops_of(k) != &pf_kernel_rbf) return 0;
  double z = 0.0, f0, f10, kw[PF_KERNEL_WORK];
  pf_kernel_eval(k, 1, &z, &f0, &f10, NULL, kw);
  if (f0 != 1.0) return 0; /* a sum of several bandwidths: f(0) = count */
  *ih = -f10;
  return 1;
#else
  (void)k;
  (void)ih;
  return 0;
#endif
}

#ifdef PF_WIT_AVX2
/* One row for a compile-time dimension D (inlined per case of lowd_rbf's
 * switch, so the D-arrays live in registers). */
static inline __attribute__((always_inline)) void
rbf_both(const size_t D, const pf_witness *w, const double *z, double mih,
         size_t nx, double a, size_t m, double b, double *v, double *rows)
{
  double acc[PF_WITNESS_LOWD] = {0}, accy[PF_WITNESS_LOWD] = {0}, sx = 0.0,
         sy = 0.0;
  const double g = -2.0 * mih; /* grad_z k = 2 ih (p - z) k */
  if (nx) rbf_row(D, z, w->xt, w->capx, nx, mih, v != NULL, acc, &sx);
  if (m) rbf_row(D, z, w->yt, w->capy, m, mih, v != NULL, accy, &sy);
  if (v)
    for (size_t c = 0; c < D; c++)
      v[c] = (nx ? a * g * acc[c] : 0.0) + (m ? b * g * accy[c] : 0.0);
  rows[0] = sx;
  rows[1] = sy;
}

static void lowd_rbf(pf_witness *w, double ih, size_t n, const double *Z,
                     size_t nx, double a, size_t m, double b, double *V,
                     int nthr)
{
  const size_t d = w->d;
  const double mih = -ih;
#pragma omp parallel for schedule(static) num_threads(nthr)
  for (size_t i = 0; i < n; i++) {
    const double *z = Z + i * d;
    double *v = V ? V + i * d : NULL, *rows = w->rows + 2 * i;
    switch (d) {
#define CASE(D) \
  case D: rbf_both(D, w, z, mih, nx, a, m, b, v, rows); break;
      CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: break;
    }
  }
}
#endif

static void lowd_generic(pf_witness *w, const pf_kernel *k, size_t n,
                         const double *Z, size_t nx, double a, size_t m,
                         double b, double *V, int nthr)
{
  const size_t d = w->d;
#pragma omp parallel num_threads(nthr)
  {
    double *buf = w->tbuf + w->tstride * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
    for (size_t i = 0; i < n; i++) {
      double acc[PF_WITNESS_LOWD], accy[PF_WITNESS_LOWD], sx = 0.0, sy = 0.0;
      const double *z = Z + i * d;
      if (nx) generic_row(k, d, z, w->xt, w->capx, nx, V != NULL, buf, acc, &sx);
      if (m) generic_row(k, d, z, w->yt, w->capy, m, V != NULL, buf, accy, &sy);
      /* grad_z k = 2 f' (z - p) = -2 f' (p - z) */
      if (V)
        for (size_t c = 0; c < d; c++)
          V[i * d + c] = (nx ? -2.0 * a * acc[c] : 0.0) +
                         (m ? -2.0 * b * accy[c] : 0.0);
      w->rows[2 * i] = sx;
      w->rows[2 * i + 1] = sy;
    }
  }
}

int pf_witness_grad(pf_witness *w, const pf_kernel *k, size_t n,
                    const double *Z, size_t nx, const double *X, double a,
                    size_t m, const double *Y, double b, double *V,
                    double ks[2])
{
  const size_t d = w->d;
  PF_CHECK(n >= 1 && n <= w->max_n && nx <= w->max_n && m <= w->max_m &&
               (nx == 0 || X) && (m == 0 || Y),
           PF_EINVAL,
           "pf_witness_grad: %zu rows, %zu and %zu points; workspace made "
           "for %zu rows / points and %zu second-set points", n, nx, m,
           w->max_n, w->max_m);
  if (d > PF_WITNESS_LOWD) {
    if (V) {
      if (nx) PF_TRY(pf_pair_kgrad(w->pw, k, n, Z, nx, X, w->v1));
      if (m) PF_TRY(pf_pair_kgrad(w->pw, k, n, Z, m, Y, V));
      for (size_t i = 0; i < n * d; i++)
        V[i] = (nx ? a * w->v1[i] : 0.0) + (m ? b * V[i] : 0.0);
    }
    if (ks) {
      double o[2] = {0, 0};
      ks[0] = ks[1] = 0.0;
      if (nx) PF_TRY(pf_pair_kernel_sum(w->pw, k, n, Z, nx, X, o));
      ks[0] = o[0];
      if (m) PF_TRY(pf_pair_kernel_sum(w->pw, k, n, Z, m, Y, o));
      ks[1] = m ? o[0] : 0.0;
    }
    return 0;
  }
  int nthr = omp_get_max_threads();
  if (nthr > w->nthreads) nthr = w->nthreads;
  if (nx) pack_soa(nx, d, X, w->xt, w->capx);
  if (m) pack_soa(m, d, Y, w->yt, w->capy);
  double ih;
  if (rbf_single(k, &ih)) {
#ifdef PF_WIT_AVX2
    lowd_rbf(w, ih, n, Z, nx, a, m, b, V, nthr);
#endif
  } else {
    lowd_generic(w, k, n, Z, nx, a, m, b, V, nthr);
  }
  if (ks) {
    double s0 = 0.0, s1 = 0.0;
    for (size_t i = 0; i < n; i++) {
      s0 += w->rows[2 * i];
      s1 += w->rows[2 * i + 1];
    }
    ks[0] = s0;
    ks[1] = s1;
  }
  return 0;
}
