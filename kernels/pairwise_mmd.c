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
 *    with the inlined base-2 exp of include/pflow/vmath.h (the points
 *    pre-scaled so that the kernel is 2^(-r2); tested against libm in
 *    tests/test_vmath.c), because at d = 2 the exp is the whole cost and
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

#include "pflow/comm.h"
#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/particles.h"
#include "pflow/vmath.h"

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

/* ---- low-dimensional path ----------------------------------------------- */

/* A d x cap SoA copy of the cnt rows of A times sc, zero padded. */
static void pack_soa(size_t cnt, size_t d, const double *A, double sc,
                     double *T, size_t cap)
{
  for (size_t k = 0; k < d; k++) {
    double *t = T + k * cap;
    for (size_t j = 0; j < cnt; j++) t[j] = sc * A[j * d + k];
    for (size_t j = cnt; j < round4(cnt); j++) t[j] = 0.0;
  }
}

/* Gaussian single-bandwidth kernel, one row, with the points and z stored
 * pre-scaled by sc = sqrt(ih log2 e) so that exp(-ih r2) = 2^(-r2'):
 * acc[k] = sum_j e_j (p'_jk - z'_k), *s = sum_j e_j over the cnt points of
 * Pt (SoA, cap).  Folding ih and log2 e into the coordinates leaves the
 * exponent's range reduction a single rounding; at d = 2 the exp is
 * nearly all the work. */
#ifdef PF_WIT_AVX2
static inline __attribute__((always_inline)) __m256d
rbf_neg_r2(const size_t D, const __m256d *zb, const double *Pt, size_t cap,
           size_t j, __m256d *dk)
{
  __m256d t = _mm256_setzero_pd();
#pragma GCC unroll 8
  for (size_t k = 0; k < D; k++) {
    dk[k] = _mm256_sub_pd(_mm256_load_pd(Pt + k * cap + j), zb[k]);
    t = _mm256_fnmadd_pd(dk[k], dk[k], t);
  }
  return t;
}

static inline __attribute__((always_inline)) void
rbf_row(const size_t D, const double *z, const double *Pt, size_t cap,
        size_t cnt, int want_grad, double *acc, double *s)
{
  __m256d zb[PF_WITNESS_LOWD] = {0}, av[PF_WITNESS_LOWD] = {0},
          dk[PF_WITNESS_LOWD] = {0};
#pragma GCC unroll 8
  for (size_t k = 0; k < D; k++) zb[k] = _mm256_set1_pd(z[k]);
  __m256d as = _mm256_setzero_pd();
  const size_t full = cnt / 4 * 4;
  if (want_grad) {
    for (size_t j = 0; j < full; j += 4) {
      const __m256d e = pf_vm_exp2_neg4_notnan(rbf_neg_r2(D, zb, Pt, cap, j, dk));
      as = _mm256_add_pd(as, e);
#pragma GCC unroll 8
      for (size_t k = 0; k < D; k++) av[k] = _mm256_fmadd_pd(e, dk[k], av[k]);
    }
  } else {
    for (size_t j = 0; j < full; j += 4)
      as = _mm256_add_pd(
          as, pf_vm_exp2_neg4_notnan(rbf_neg_r2(D, zb, Pt, cap, j, dk)));
  }
  if (full < cnt) {
    const __m256i lane = _mm256_set_epi64x(3, 2, 1, 0);
    const __m256d mask = _mm256_castsi256_pd(_mm256_cmpgt_epi64(
        _mm256_set1_epi64x((long long)(cnt - full)), lane));
    const __m256d e = _mm256_and_pd(
        pf_vm_exp2_neg4_notnan(rbf_neg_r2(D, zb, Pt, cap, full, dk)), mask);
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

static int all_finite(size_t len, const double *a)
{
  double acc = 0.0; /* stays finite iff every a[i] is (0 * inf is NaN) */
#pragma omp simd reduction(+ : acc)
  for (size_t i = 0; i < len; i++) acc += 0.0 * a[i];
  return acc == 0.0;
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
 * switch, so the D-arrays live in registers); sc as in rbf_row. */
static inline __attribute__((always_inline)) void
rbf_both(const size_t D, const pf_witness *w, const double *z, double sc,
         double g, size_t nx, double a, size_t m, double b, double *v,
         double *rows)
{
  double acc[PF_WITNESS_LOWD] = {0}, accy[PF_WITNESS_LOWD] = {0},
         zs[PF_WITNESS_LOWD] = {0}, sx = 0.0, sy = 0.0;
  for (size_t c = 0; c < D; c++) zs[c] = sc * z[c];
  if (nx) rbf_row(D, zs, w->xt, w->capx, nx, v != NULL, acc, &sx);
  if (m) rbf_row(D, zs, w->yt, w->capy, m, v != NULL, accy, &sy);
  if (v)
    for (size_t c = 0; c < D; c++)
      v[c] = (nx ? a * g * acc[c] : 0.0) + (m ? b * g * accy[c] : 0.0);
  rows[0] = sx;
  rows[1] = sy;
}

/* grad_z exp(-ih |z - p|^2) = 2 ih (p - z) k = (2 ih / sc) (p' - z') k. */
static void lowd_rbf(pf_witness *w, double sc, double g, size_t i0,
                     size_t i1, const double *Z, size_t nx, double a,
                     size_t m, double b, double *V, int nthr)
{
  const size_t d = w->d;
#pragma omp parallel for schedule(static) num_threads(nthr)
  for (size_t i = i0; i < i1; i++) {
    const double *z = Z + i * d;
    double *v = V ? V + i * d : NULL, *rows = w->rows + 2 * i;
    switch (d) {
#define CASE(D) \
  case D: rbf_both(D, w, z, sc, g, nx, a, m, b, v, rows); break;
      CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: break;
    }
  }
}
#endif

static void lowd_generic(pf_witness *w, const pf_kernel *k, size_t i0,
                         size_t i1, const double *Z, size_t nx, double a,
                         size_t m, double b, double *V, int nthr)
{
  const size_t d = w->d;
#pragma omp parallel num_threads(nthr)
  {
    double *buf = w->tbuf + w->tstride * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
    for (size_t i = i0; i < i1; i++) {
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
  /* Under MPI with replicated particles this rank evaluates its block of
   * rows [i0, i1) (one-row tiles); V and the per-row sums are all-gathered
   * below, and the sums added in row order as one process adds them.  (The
   * tiled engine above splits its own rows.) */
  const int split = pf_comm_replicated() && pf_comm_size() > 1;
  size_t i0 = 0, i1 = n;
  if (split) pf_comm_tiles(n, &i0, &i1);
  double ih;
  /* The Gaussian path's exp assumes no NaN argument (an integer add
   * scales it): with a non-finite coordinate anywhere the generic path,
   * which propagates NaN, takes the call. */
  if (rbf_single(k, &ih) && all_finite(n * d, Z) && all_finite(nx * d, X) &&
      all_finite(m * d, Y)) {
#ifdef PF_WIT_AVX2
    const double sc = sqrt(ih * 1.4426950408889634074);
    if (nx) pack_soa(nx, d, X, sc, w->xt, w->capx);
    if (m) pack_soa(m, d, Y, sc, w->yt, w->capy);
    lowd_rbf(w, sc, 2.0 * ih / sc, i0, i1, Z, nx, a, m, b, V, nthr);
#endif
  } else {
    if (nx) pack_soa(nx, d, X, 1.0, w->xt, w->capx);
    if (m) pack_soa(m, d, Y, 1.0, w->yt, w->capy);
    lowd_generic(w, k, i0, i1, Z, nx, a, m, b, V, nthr);
  }
  if (split) {
    if (V) PF_TRY(pf_comm_share_tiles(V, n, d, 1));
    if (ks) PF_TRY(pf_comm_share_tiles(w->rows, n, 2, 1));
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
