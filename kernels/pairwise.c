/* The fused, tiled pairwise engine (see include/pflow/kernel.h).
 *
 * Layout.  Each call packs its point sets once: rows shifted by the mean of
 * X (distances are translation invariant and dot products of centered
 * points lose far less to cancellation), padded to a multiple of 8 rows and
 * of 4 columns (dp), both row-major (n x dp) and transposed (dp x n), with
 * squared row norms.  A tile (I, J) of T x T pairs then takes:
 *   1. dot-product blocks from a 4 x 8 register-blocked FMA micro-kernel
 *      (A rows broadcast, B^T columns as vectors),
 *   2. r2 = |x_i|^2 + |y_j|^2 - 2 x_i.y_j, clamped at 0, exactly 0 on the
 *      diagonal of a self tile,
 *   3. f, f' (and f'') over the whole tile in one SLEEF call,
 *   4. either a tile sum (kernel, Stein, distance sums) or a GEMM-shaped
 *      accumulation [F | 2F'] [S_J ; Y_J] into the rows of I (SVGD, kernel
 *      gradients; for a one-bandwidth rbf F [S_J + 2m Y_J], f' = m f).
 * Nothing of size n x n is stored, except by pf_pair_svgd_fit for d >= 16
 * (the upper r2 tiles of one step, read back instead of recomputed; see the
 * end of this file).
 *
 * Error of r2 from dot products: with centered points, |r2 - |x-y|^2| <=
 * ~(d + 2) u (|x_i|^2 + |y_j|^2) (u = 2^-53), i.e. relative to the spread
 * of the points, not to |x - y|^2: pairs much closer than ~1e-7 times the
 * spread get r2 that is noise at that level (clamped >= 0).  Smooth kernels
 * do not care (f(r2) moves by |f'| times that); the distance sum uses exact
 * differences instead because sqrt turns an absolute error e into sqrt(e).
 *
 * Determinism.  OpenMP splits i-tiles statically; every row (SVGD) or
 * i-tile (sums) accumulates its j in a fixed order into its own slot, and
 * slots are added in index order after the parallel loop.  The per-tile
 * arithmetic does not depend on which thread runs it, so results are
 * bitwise identical for any thread count.  Self sums (Y = X) visit only
 * tiles J >= I and count off-diagonal tiles twice (the summands are
 * symmetric in i, j). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#define PF_PAIR_AVX2 1
#include <immintrin.h>
#endif

#include "pflow/comm.h"
#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/particles.h"

#define T PF_PAIR_TILE

enum { NTILE = 7 }; /* G, SS, SX, XS, F, F1, F2 */

typedef struct packed {
  double *p, *t, *nrm; /* rows (cap x dp), transposed (dp x cap), |row|^2 */
  size_t cap;
} packed;

struct pf_pairwise {
  size_t max_n, max_m, d, dp;
  packed x, y, s;
  packed a, b, u; /* pf_pair_svgd_matrix: A, B, U (see reserve_matrix) */
  int mat;        /* those and acc2 are allocated */
  size_t acc2;    /* offset of the second row accumulator in a tile buffer */
  double *sx;    /* s_i . x_i (centered), max rows */
  double *shift; /* d */
  double *part;  /* per-tile partial sums: 2 per i-tile */
  int nthreads;
  double *tbuf; /* per thread: NTILE T^2 tile blocks, PF_KERNEL_WORK T^2
                   kernel work, T x dp row accumulators, T row sums */
  size_t tstride;
  /* pf_pair_svgd_fit (see pf_pairwise_reserve_fit) */
  double *rt;         /* upper-triangle r2 tiles, T^2 doubles each */
  uint32_t *hist;     /* per thread: radix-selection counts */
  double *coll;       /* per thread + 1: collected candidates */
  double *tmin;       /* per thread: smallest value above the bucket */
  size_t *ncoll;      /* per thread: number collected */
  double *wcoll;      /* window gathering: FIT_WTOTAL, split by thread */
  const double *rsrc; /* set: pair_rows reads r2 tiles from rt */
  double *bs;         /* rbf rows s_j + 2 m y_j (see pair_rows) */
};

static size_t round_up(size_t a, size_t b) { return (a + b - 1) / b * b; }

static void packed_free(packed *p)
{
  free(p->p);
  free(p->t);
  free(p->nrm);
}

static int packed_alloc(packed *p, size_t rows, size_t dp)
{
  p->cap = round_up(rows ? rows : 1, 8);
  p->p = pf_alloc_doubles(p->cap * dp);
  p->t = pf_alloc_doubles(p->cap * dp);
  p->nrm = pf_alloc_doubles(p->cap);
  PF_CHECK(p->p && p->t && p->nrm, PF_ENOMEM,
           "allocating pairwise workspace (%zu x %zu)", p->cap, dp);
  return 0;
}

void pf_pairwise_destroy(pf_pairwise **w)
{
  if (!w || !*w) return;
  packed_free(&(*w)->x);
  packed_free(&(*w)->y);
  packed_free(&(*w)->s);
  packed_free(&(*w)->a);
  packed_free(&(*w)->b);
  packed_free(&(*w)->u);
  free((*w)->sx);
  free((*w)->shift);
  free((*w)->part);
  free((*w)->tbuf);
  free((*w)->rt);
  free((*w)->bs);
  free((*w)->hist);
  free((*w)->coll);
  free((*w)->tmin);
  free((*w)->ncoll);
  free((*w)->wcoll);
  free(*w);
  *w = NULL;
}

int pf_pairwise_create(size_t max_n, size_t max_m, size_t d,
                       pf_pairwise **out)
{
  int rc = 0;
  PF_CHECK(out && d > 0, PF_EINVAL, "pf_pairwise_create: d must be > 0");
  pf_pairwise *w = calloc(1, sizeof *w);
  PF_CHECK(w, PF_ENOMEM, "allocating the pairwise engine");
  w->max_n = max_n;
  w->max_m = max_m;
  w->d = d;
  w->dp = round_up(d, 4);
  size_t mx = max_n > max_m ? max_n : max_m;
  PF_TRY_GOTO(rc, packed_alloc(&w->x, max_n, w->dp), fail);
  PF_TRY_GOTO(rc, packed_alloc(&w->y, max_m, w->dp), fail);
  PF_TRY_GOTO(rc, packed_alloc(&w->s, mx, w->dp), fail);
  w->sx = pf_alloc_doubles(round_up(mx ? mx : 1, 8));
  w->bs = pf_alloc_doubles(round_up(mx ? mx : 1, 8) * w->dp);
  w->shift = pf_alloc_doubles(d);
  w->part = pf_alloc_doubles(2 * (max_n / T + 1));
  w->nthreads = omp_get_max_threads();
  if (w->nthreads < 1) w->nthreads = 1;
  w->tstride = round_up((NTILE + PF_KERNEL_WORK) * T * T + T * w->dp + T, 8);
  w->tbuf = pf_alloc_doubles(w->tstride * (size_t)w->nthreads);
  PF_CHECK_GOTO(rc, w->sx && w->bs && w->shift && w->part && w->tbuf,
                PF_ENOMEM, fail,
                "allocating pairwise tile buffers (%d threads)", w->nthreads);
  *out = w;
  return 0;
fail:
  pf_pairwise_destroy(&w);
  return rc;
}

/* ---- packing ------------------------------------------------------------ */

/* shift = mean of the n rows of X, summed in row order. */
static void mean_rows(size_t n, size_t d, const double *X, double *shift)
{
  memset(shift, 0, d * sizeof(double));
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < d; k++) shift[k] += X[i * d + k];
  for (size_t k = 0; k < d; k++) shift[k] = n ? shift[k] / (double)n : 0.0;
}

/* Rows of A minus shift (NULL: none) into P, zero padding included. */
static void pack(size_t n, size_t d, size_t dp, const double *A,
                 const double *shift, packed *P, int nthr)
{
  const size_t cap = P->cap, np = round_up(n ? n : 1, 8);
#pragma omp parallel for schedule(static) num_threads(nthr)
  for (size_t i = 0; i < np; i++) {
    double *row = P->p + i * dp, s = 0.0;
    for (size_t k = 0; k < dp; k++) {
      double v = i < n && k < d ? A[i * d + k] - (shift ? shift[k] : 0.0)
                                : 0.0;
      row[k] = v;
      P->t[k * cap + i] = v;
      s += v * v;
    }
    P->nrm[i] = s;
  }
}

/* ---- micro-kernels ------------------------------------------------------ */

/* The AVX2 kernels name every accumulator (no arrays): GCC at -O2 keeps
 * named __m256d locals in registers but would leave arrays on the stack. */
#ifdef PF_PAIR_AVX2
#define LD(p) _mm256_loadu_pd(p)
#define ST(p, v) _mm256_storeu_pd((p), (v))
#define BC(p) _mm256_broadcast_sd(p)
#define FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#endif

/* C (ni x nj, ldc) = A (ni rows, stride lda) . Bt (d x nj, stride ldb),
 * over k < d.  ni % 4 == 0, nj % 8 == 0.  diff: C = sum_k (a - b)^2. */
static void mk_dot(size_t ni, size_t nj, size_t d, const double *A,
                   size_t lda, const double *Bt, size_t ldb, double *C,
                   size_t ldc, int diff)
{
#ifdef PF_PAIR_AVX2
  for (size_t r = 0; r < ni; r += 4)
    for (size_t c = 0; c < nj; c += 8) {
      __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00,
              c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      const double *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda,
                   *a3 = a2 + lda, *b = Bt + c;
      if (diff) {
        for (size_t k = 0; k < d; k++, b += ldb) {
          __m256d b0 = LD(b), b1 = LD(b + 4), e0, e1, av;
#define DSTEP(ap, x0, x1)                                     \
  av = BC(ap + k);                                            \
  e0 = _mm256_sub_pd(av, b0);                                 \
  e1 = _mm256_sub_pd(av, b1);                                 \
  x0 = FMA(e0, e0, x0);                                       \
  x1 = FMA(e1, e1, x1);
          DSTEP(a0, c00, c01) DSTEP(a1, c10, c11) DSTEP(a2, c20, c21)
          DSTEP(a3, c30, c31)
#undef DSTEP
        }
      } else {
        for (size_t k = 0; k < d; k++, b += ldb) {
          __m256d b0 = LD(b), b1 = LD(b + 4), av;
#define PSTEP(ap, x0, x1)                                     \
  av = BC(ap + k);                                            \
  x0 = FMA(av, b0, x0);                                       \
  x1 = FMA(av, b1, x1);
          PSTEP(a0, c00, c01) PSTEP(a1, c10, c11) PSTEP(a2, c20, c21)
          PSTEP(a3, c30, c31)
#undef PSTEP
        }
      }
      double *o = C + r * ldc + c;
      ST(o, c00), ST(o + 4, c01), o += ldc;
      ST(o, c10), ST(o + 4, c11), o += ldc;
      ST(o, c20), ST(o + 4, c21), o += ldc;
      ST(o, c30), ST(o + 4, c31);
    }
#else
  for (size_t r = 0; r < ni; r++)
    for (size_t c = 0; c < nj; c++) {
      double s = 0.0;
      for (size_t k = 0; k < d; k++) {
        double a = A[r * lda + k], b = Bt[k * ldb + c];
        s += diff ? (a - b) * (a - b) : a * b;
      }
      C[r * ldc + c] = s;
    }
#endif
}

/* r2 block: C = xn_r + yn_c - 2 A.Bt, clamped at 0 (tile_r2 without the
 * diagonal), with the epilogue in registers: the same operations as
 * mk_dot + tile_r2, one pass over C less.  ni % 4 == 0, nj % 8 == 0. */
static void mk_r2(size_t ni, size_t nj, size_t d, const double *A, size_t lda,
                  const double *Bt, size_t ldb, const double *xn,
                  const double *yn, double *C, size_t ldc)
{
#ifdef PF_PAIR_AVX2
  const __m256d zero = _mm256_setzero_pd(), two = _mm256_set1_pd(2.0);
  for (size_t r = 0; r < ni; r += 4)
    for (size_t c = 0; c < nj; c += 8) {
      __m256d c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero,
              c21 = zero, c30 = zero, c31 = zero;
      const double *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda,
                   *a3 = a2 + lda, *b = Bt + c;
      for (size_t k = 0; k < d; k++, b += ldb) {
        __m256d b0 = LD(b), b1 = LD(b + 4), av;
#define PSTEP(ap, x0, x1)                                     \
  av = BC(ap + k);                                            \
  x0 = FMA(av, b0, x0);                                       \
  x1 = FMA(av, b1, x1);
        PSTEP(a0, c00, c01) PSTEP(a1, c10, c11) PSTEP(a2, c20, c21)
        PSTEP(a3, c30, c31)
#undef PSTEP
      }
      const __m256d y0 = LD(yn + c), y1 = LD(yn + c + 4);
      double *o = C + r * ldc + c;
#define R2ST(q, x0, x1)                                                   \
  {                                                                       \
    const __m256d xa = _mm256_set1_pd(xn[r + (q)]);                       \
    __m256d v0 = _mm256_sub_pd(_mm256_add_pd(xa, y0), _mm256_mul_pd(two, x0)); \
    __m256d v1 = _mm256_sub_pd(_mm256_add_pd(xa, y1), _mm256_mul_pd(two, x1)); \
    v0 = _mm256_andnot_pd(_mm256_cmp_pd(v0, zero, _CMP_LT_OQ), v0);       \
    v1 = _mm256_andnot_pd(_mm256_cmp_pd(v1, zero, _CMP_LT_OQ), v1);       \
    ST(o + (q) * ldc, v0), ST(o + (q) * ldc + 4, v1);                     \
  }
      R2ST(0, c00, c01) R2ST(1, c10, c11) R2ST(2, c20, c21) R2ST(3, c30, c31)
#undef R2ST
    }
#else
  mk_dot(ni, nj, d, A, lda, Bt, ldb, C, ldc, 0);
  for (size_t r = 0; r < ni; r++)
    for (size_t c = 0; c < nj; c++) {
      double v = xn[r] + yn[c] - 2.0 * C[r * ldc + c];
      C[r * ldc + c] = v < 0.0 ? 0.0 : v;
    }
#endif
}

/* C (ni x nc, ldc) += A1 (ni x kk, lda) . B1 (kk x nc, ldb)
 *                   + A2 . B2 (when A2 != NULL; same shapes).
 * ni % 4 == 0, nc % 4 == 0.  Column blocks of 8 take 4 rows at a time, a
 * last block of 4 columns takes 8 rows: always 8 independent accumulator
 * chains to cover the FMA latency. */
static void mk_gemm_acc(size_t ni, size_t kk, size_t nc, const double *A1,
                        const double *B1, const double *A2, const double *B2,
                        size_t lda, size_t ldb, double *C, size_t ldc)
{
#ifdef PF_PAIR_AVX2
  size_t c = 0;
  /* rows [0, r6) in blocks of 6 (12 accumulator chains), the rest
   * (a multiple of 4) in blocks of 4; every C entry sums its j in order
   * either way */
  const size_t r6 = ni / 12 * 12;
  for (; c + 8 <= nc; c += 8) {
    for (size_t r = 0; r < r6; r += 6) {
      double *o = C + r * ldc + c;
      __m256d c00 = LD(o), c01 = LD(o + 4), c10 = LD(o + ldc),
              c11 = LD(o + ldc + 4), c20 = LD(o + 2 * ldc),
              c21 = LD(o + 2 * ldc + 4), c30 = LD(o + 3 * ldc),
              c31 = LD(o + 3 * ldc + 4), c40 = LD(o + 4 * ldc),
              c41 = LD(o + 4 * ldc + 4), c50 = LD(o + 5 * ldc),
              c51 = LD(o + 5 * ldc + 4);
      for (int pass = 0; pass < 2; pass++) {
        const double *A = pass ? A2 : A1, *B = pass ? B2 : B1;
        if (!A) break;
        const double *a0 = A + r * lda, *b = B + c;
        for (size_t j = 0; j < kk; j++, b += ldb) {
          __m256d b0 = LD(b), b1 = LD(b + 4), av;
#define GSTEP6(q, x0, x1)                                     \
  av = BC(a0 + (q) * lda + j);                                \
  x0 = FMA(av, b0, x0);                                       \
  x1 = FMA(av, b1, x1);
          GSTEP6(0, c00, c01) GSTEP6(1, c10, c11) GSTEP6(2, c20, c21)
          GSTEP6(3, c30, c31) GSTEP6(4, c40, c41) GSTEP6(5, c50, c51)
#undef GSTEP6
        }
      }
      ST(o, c00), ST(o + 4, c01), o += ldc;
      ST(o, c10), ST(o + 4, c11), o += ldc;
      ST(o, c20), ST(o + 4, c21), o += ldc;
      ST(o, c30), ST(o + 4, c31), o += ldc;
      ST(o, c40), ST(o + 4, c41), o += ldc;
      ST(o, c50), ST(o + 4, c51);
    }
    for (size_t r = r6; r < ni; r += 4) {
      double *o = C + r * ldc + c;
      __m256d c00 = LD(o), c01 = LD(o + 4), c10 = LD(o + ldc),
              c11 = LD(o + ldc + 4), c20 = LD(o + 2 * ldc),
              c21 = LD(o + 2 * ldc + 4), c30 = LD(o + 3 * ldc),
              c31 = LD(o + 3 * ldc + 4);
      for (int pass = 0; pass < 2; pass++) {
        const double *A = pass ? A2 : A1, *B = pass ? B2 : B1;
        if (!A) break;
        const double *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda,
                     *a3 = a2 + lda, *b = B + c;
        for (size_t j = 0; j < kk; j++, b += ldb) {
          __m256d b0 = LD(b), b1 = LD(b + 4), av;
#define GSTEP(ap, x0, x1)                                     \
  av = BC(ap + j);                                            \
  x0 = FMA(av, b0, x0);                                       \
  x1 = FMA(av, b1, x1);
          GSTEP(a0, c00, c01) GSTEP(a1, c10, c11) GSTEP(a2, c20, c21)
          GSTEP(a3, c30, c31)
#undef GSTEP
        }
      }
      ST(o, c00), ST(o + 4, c01), o += ldc;
      ST(o, c10), ST(o + 4, c11), o += ldc;
      ST(o, c20), ST(o + 4, c21), o += ldc;
      ST(o, c30), ST(o + 4, c31);
    }
  }
  if (c < nc) {
    for (size_t r = 0; r < ni; r += 8) {
      const int full = r + 8 <= ni; /* else 4 rows */
      double *o = C + r * ldc + c;
      __m256d z = _mm256_setzero_pd();
      __m256d c0 = LD(o), c1 = LD(o + ldc), c2 = LD(o + 2 * ldc),
              c3 = LD(o + 3 * ldc), c4 = full ? LD(o + 4 * ldc) : z,
              c5 = full ? LD(o + 5 * ldc) : z,
              c6 = full ? LD(o + 6 * ldc) : z,
              c7 = full ? LD(o + 7 * ldc) : z;
      for (int pass = 0; pass < 2; pass++) {
        const double *A = pass ? A2 : A1, *B = pass ? B2 : B1;
        if (!A) break;
        const double *a = A + r * lda, *b = B + c;
        if (full)
          for (size_t j = 0; j < kk; j++, b += ldb) {
            __m256d b0 = LD(b);
            c0 = FMA(BC(a + j), b0, c0);
            c1 = FMA(BC(a + lda + j), b0, c1);
            c2 = FMA(BC(a + 2 * lda + j), b0, c2);
            c3 = FMA(BC(a + 3 * lda + j), b0, c3);
            c4 = FMA(BC(a + 4 * lda + j), b0, c4);
            c5 = FMA(BC(a + 5 * lda + j), b0, c5);
            c6 = FMA(BC(a + 6 * lda + j), b0, c6);
            c7 = FMA(BC(a + 7 * lda + j), b0, c7);
          }
        else
          for (size_t j = 0; j < kk; j++, b += ldb) {
            __m256d b0 = LD(b);
            c0 = FMA(BC(a + j), b0, c0);
            c1 = FMA(BC(a + lda + j), b0, c1);
            c2 = FMA(BC(a + 2 * lda + j), b0, c2);
            c3 = FMA(BC(a + 3 * lda + j), b0, c3);
          }
      }
      ST(o, c0), ST(o + ldc, c1), ST(o + 2 * ldc, c2), ST(o + 3 * ldc, c3);
      if (full)
        ST(o + 4 * ldc, c4), ST(o + 5 * ldc, c5), ST(o + 6 * ldc, c6),
            ST(o + 7 * ldc, c7);
    }
  }
#else
  for (int pass = 0; pass < 2; pass++) {
    const double *A = pass ? A2 : A1, *B = pass ? B2 : B1;
    if (!A) break;
    for (size_t r = 0; r < ni; r++)
      for (size_t j = 0; j < kk; j++) {
        double a = A[r * lda + j];
        for (size_t c = 0; c < nc; c++) C[r * ldc + c] += a * B[j * ldb + c];
      }
  }
#endif
}

/* ---- tile helpers ------------------------------------------------------- */

typedef struct tile {
  size_t i0, j0, ni, nj, ni4, nj8; /* ld of every block is nj8 */
  int diag;                        /* self tile on the diagonal (I == J) */
} tile;

static tile tile_at(size_t it, size_t jt, size_t n, size_t m, int self)
{
  tile t;
  t.i0 = it * T;
  t.j0 = jt * T;
  t.ni = n - t.i0 < T ? n - t.i0 : T;
  t.nj = m - t.j0 < T ? m - t.j0 : T;
  t.ni4 = round_up(t.ni, 4);
  t.nj8 = round_up(t.nj, 8);
  t.diag = self && it == jt;
  return t;
}

/* r2 block from the dot block G (in place), clamped, 0 on the diagonal. */
static void tile_r2(const tile *t, const double *xn, const double *yn,
                    double *G)
{
  const size_t ld = t->nj8;
  for (size_t r = 0; r < t->ni4; r++) {
    const double a = xn[t->i0 + r];
    const double *b = yn + t->j0;
    double *g = G + r * ld;
#pragma omp simd
    for (size_t c = 0; c < ld; c++) {
      double v = a + b[c] - 2.0 * g[c];
      g[c] = v < 0.0 ? 0.0 : v; /* clamp rounding; NaN stays NaN */
    }
  }
  if (t->diag)
    for (size_t r = 0; r < t->ni; r++) G[r * ld + r] = 0.0;
}

/* Sum of V over the valid part of a tile: off-diagonal and diagonal parts
 * (diagonal only for diag tiles).  Rows in order; within a row a fixed
 * (build-determined) vector order. */
static void tile_sum(const tile *t, double *V, double *off, double *dg)
{
  const size_t ld = t->nj8;
  double so = 0.0, sd = 0.0;
  for (size_t r = 0; r < t->ni; r++) {
    double *v = V + r * ld;
    double s = 0.0;
    if (t->diag) { /* set the diagonal aside: off and diag sums exact */
      sd += v[r];
      v[r] = 0.0;
    }
#pragma omp simd reduction(+ : s)
    for (size_t c = 0; c < t->nj; c++) s += v[c];
    so += s;
  }
  *off = so;
  *dg = sd;
}

static int nthreads(const pf_pairwise *w)
{
  int n = omp_get_max_threads();
  return n < w->nthreads ? n : w->nthreads;
}

static int check_sizes(const pf_pairwise *w, size_t n, size_t m,
                       const double *Y)
{
  PF_CHECK(n <= w->max_n && n > 0, PF_EINVAL,
           "pairwise: %zu points, workspace made for 1..%zu", n, w->max_n);
  PF_CHECK(!Y || (m <= w->max_m && m > 0), PF_EINVAL,
           "pairwise: %zu second-set points, workspace made for 1..%zu", m,
           w->max_m);
  return 0;
}

/* Pack X (and Y, S) centered on the mean of X. */
static void prep(pf_pairwise *w, size_t n, const double *X, size_t m,
                 const double *Y, const double *S, size_t sn, int nthr)
{
  mean_rows(n, w->d, X, w->shift);
  pack(n, w->d, w->dp, X, w->shift, &w->x, nthr);
  if (Y) pack(m, w->d, w->dp, Y, w->shift, &w->y, nthr);
  if (S) pack(sn, w->d, w->dp, S, NULL, &w->s, nthr);
}

/* Add the per-i-tile partial sums in order. */
static void sum_parts(const double *part, size_t nt, double out[2])
{
  double a = 0.0, b = 0.0;
  for (size_t i = 0; i < nt; i++) {
    a += part[2 * i];
    b += part[2 * i + 1];
  }
  out[0] = a;
  out[1] = b;
}

/* ---- scalar sums -------------------------------------------------------- */

enum { SUM_KERNEL, SUM_DIST, SUM_STEIN };

static void sum_tile(pf_pairwise *w, const pf_kernel *k, int what,
                     const tile *t, const packed *X, const packed *Y,
                     double *buf, double *off, double *dg)
{
  const size_t d = w->d, dp = w->dp, ld = t->nj8, n4 = t->ni4 * ld;
  double *G = buf, *SS = buf + T * T, *SX = buf + 2 * T * T,
         *XS = buf + 3 * T * T, *F = buf + 4 * T * T, *F1 = buf + 5 * T * T,
         *F2 = buf + 6 * T * T, *kw = buf + NTILE * T * T;
  const double *xa = X->p + t->i0 * dp, *yt = Y->t + t->j0;
  if (what == SUM_DIST) {
    mk_dot(t->ni4, t->nj8, d, xa, dp, yt, Y->cap, G, ld, 1);
    if (t->diag)
      for (size_t r = 0; r < t->ni; r++) G[r * ld + r] = 0.0;
    pf__vsqrt(n4, G, F);
    tile_sum(t, F, off, dg);
    return;
  }
  mk_dot(t->ni4, t->nj8, d, xa, dp, yt, Y->cap, G, ld, 0);
  tile_r2(t, X->nrm, Y->nrm, G);
  if (what == SUM_KERNEL) {
    pf_kernel_eval(k, n4, G, F, NULL, NULL, kw);
    tile_sum(t, F, off, dg);
    return;
  }
  /* Stein: u = f s_i.s_j + 2 f' (s_i.(x_j - x_i) + s_j.(x_i - x_j))
   *            - 2 d f' - 4 f'' r2. */
  const packed *S = &w->s;
  const double *sa = S->p + t->i0 * dp, *st = S->t + t->j0;
  mk_dot(t->ni4, t->nj8, d, sa, dp, st, S->cap, SS, ld, 0);
  mk_dot(t->ni4, t->nj8, d, sa, dp, yt, Y->cap, SX, ld, 0);
  mk_dot(t->ni4, t->nj8, d, xa, dp, st, S->cap, XS, ld, 0);
  pf_kernel_eval(k, n4, G, F, F1, F2, kw);
  const double dd = 2.0 * (double)d;
  const double *sxi = w->sx + t->i0, *sxj = w->sx + t->j0;
  for (size_t r = 0; r < t->ni4; r++) {
    const size_t o = r * ld;
    const double a = sxi[r];
#pragma omp simd
    for (size_t c = 0; c < ld; c++) {
      double f1 = F1[o + c];
      F[o + c] = F[o + c] * SS[o + c] +
                 2.0 * f1 * ((SX[o + c] - a) + (XS[o + c] - sxj[c])) -
                 dd * f1 - 4.0 * F2[o + c] * G[o + c];
    }
  }
  if (t->diag) { /* exact diagonal: u(x, x) = f(0) |s|^2 - 2 d f'(0) */
    double f0, f10, z = 0.0;
    pf_kernel_eval(k, 1, &z, &f0, &f10, NULL, kw);
    for (size_t r = 0; r < t->ni; r++)
      F[r * ld + r] = f0 * S->nrm[t->i0 + r] - dd * f10;
  }
  tile_sum(t, F, off, dg);
}

static int pair_sum(pf_pairwise *w, const pf_kernel *k, int what, size_t n,
                    const double *X, size_t m, const double *Y,
                    const double *S, double out[2])
{
  PF_TRY(check_sizes(w, n, m, Y));
  const int nthr = nthreads(w), self = Y == NULL;
  prep(w, n, X, m, Y, S, n, nthr);
  if (S) {
    /* s_i . x_i (centered), in fixed k order. */
    for (size_t i = 0; i < round_up(n, 8); i++) {
      double s = 0.0;
      for (size_t c = 0; c < w->dp; c++)
        s += w->s.p[i * w->dp + c] * w->x.p[i * w->dp + c];
      w->sx[i] = s;
    }
  }
  const packed *PY = self ? &w->x : &w->y;
  const size_t mm = self ? n : m, nti = (n + T - 1) / T,
               ntj = (mm + T - 1) / T;
  double *part = w->part;
#pragma omp parallel num_threads(nthr)
  {
    double *buf = w->tbuf + w->tstride * (size_t)omp_get_thread_num();
#pragma omp for schedule(static, 1)
    for (size_t it = 0; it < nti; it++) {
      double so = 0.0, sd = 0.0;
      for (size_t jt = self ? it : 0; jt < ntj; jt++) {
        tile t = tile_at(it, jt, n, mm, self);
        double o, g;
        sum_tile(w, k, what, &t, &w->x, PY, buf, &o, &g);
        so += self && !t.diag ? 2.0 * o : o;
        sd += g;
      }
      part[2 * it] = so;
      part[2 * it + 1] = sd;
    }
  }
  sum_parts(part, nti, out);
  return 0;
}

int pf_pair_kernel_sum(pf_pairwise *w, const pf_kernel *k, size_t n,
                       const double *X, size_t m, const double *Y,
                       double out[2])
{
  PF_TRY(pair_sum(w, k, SUM_KERNEL, n, X, m, Y, NULL, out));
  return 0;
}

int pf_pair_dist_sum(pf_pairwise *w, size_t n, const double *X, size_t m,
                     const double *Y, double *out)
{
  double o[2];
  PF_TRY(pair_sum(w, NULL, SUM_DIST, n, X, m, Y, NULL, o));
  *out = o[0];
  return 0;
}

int pf_pair_stein_sum(pf_pairwise *w, const pf_kernel *k, size_t n,
                      const double *X, const double *S, double out[2])
{
  PF_CHECK(S, PF_EINVAL, "pf_pair_stein_sum: NULL scores");
  PF_TRY(pair_sum(w, k, SUM_STEIN, n, X, 0, NULL, S, out));
  return 0;
}

/* ---- row accumulations (SVGD, kernel gradients) ------------------------- */

/* Slot of the stored upper tile (I, J), J >= I, of nt tiles a side. */
static double *fit_slot(const pf_pairwise *w, size_t I, size_t J, size_t nt)
{
  return w->rt + (I * nt - I * (I - 1) / 2 + (J - I)) * (size_t)(T * T);
}

/* The r2 block of tile t from the stored upper tiles (pf_pair_svgd_fit):
 * the slot itself above the diagonal, its transpose (into G) below. */
static const double *fit_tile(const pf_pairwise *w, const tile *t, size_t nt,
                              double *G)
{
  const size_t I = t->i0 / T, J = t->j0 / T;
  if (J >= I) return fit_slot(w, I, J, nt);
  /* tile (J, I) is full (T rows); its ld is I's column count rounded */
  const double *R = fit_slot(w, J, I, nt);
  const size_t lds = round_up(t->ni, 8), ld = t->nj8;
  for (size_t r = 0; r < t->ni4; r++)
    for (size_t c = 0; c < ld; c++) G[r * ld + c] = R[c * lds + r];
  return G;
}

/* out_i = scale (sum_j [f_ij s_j + 2 f'_ij y_j] - (sum_j 2 f'_ij) x_i)
 * with sign: grad mode uses -(...) (grad_x k = 2 f' (x - y)).
 * A one-bandwidth rbf kernel has f' = m f (m = -1/h), so the two products
 * are one: sum_j f_ij (s_j + 2 m y_j), with the rows s_j + 2 m y_j formed
 * once per call (half the accumulation flops, one tile pass less). */
static int pair_rows(pf_pairwise *w, const pf_kernel *k, size_t n,
                     const double *X, size_t m, const double *Y,
                     const double *S, double scale, double *out)
{
  PF_TRY(check_sizes(w, n, m, Y));
  const int nthr = nthreads(w), self = Y == NULL;
  const size_t mm = self ? n : m;
  prep(w, n, X, m, Y, S, mm, nthr);
  const packed *PY = self ? &w->x : &w->y;
  const size_t d = w->d, dp = w->dp, nti = (n + T - 1) / T,
               ntj = (mm + T - 1) / T;
  /* Under MPI (replicated particles) this rank's i-tiles only; the tiles
   * and each row's j order are the serial ones (include/pflow/comm.h). */
  size_t it_lo, it_hi;
  pf_comm_tiles(nti, &it_lo, &it_hi);
  double em = 0.0;
  const int ex = pf__kernel_exp_rate(k, &em);
  if (ex) {
    const double m2 = 2.0 * em;
    const size_t np = round_up(mm, 8);
#pragma omp parallel for schedule(static) num_threads(nthr)
    for (size_t j = 0; j < np; j++)
      for (size_t c = 0; c < dp; c++)
        w->bs[j * dp + c] =
            (S ? w->s.p[j * dp + c] : 0.0) + m2 * PY->p[j * dp + c];
  }
#pragma omp parallel num_threads(nthr)
  {
    double *buf = w->tbuf + w->tstride * (size_t)omp_get_thread_num();
    double *G = buf, *F = buf + 4 * T * T, *F1 = buf + 5 * T * T,
           *kw = buf + NTILE * T * T, *acc = kw + PF_KERNEL_WORK * T * T,
           *s1 = acc + T * dp;
#pragma omp for schedule(static)
    for (size_t it = it_lo; it < it_hi; it++) {
      memset(acc, 0, T * dp * sizeof(double));
      memset(s1, 0, T * sizeof(double));
      size_t ni = 0, i0 = it * T;
      for (size_t jt = 0; jt < ntj; jt++) {
        tile t = tile_at(it, jt, n, mm, self);
        const size_t ld = t.nj8, n4 = t.ni4 * ld;
        ni = t.ni;
        const double *R2 = G;
        if (w->rsrc)
          R2 = fit_tile(w, &t, nti, G);
        else {
          mk_r2(t.ni4, t.nj8, d, w->x.p + t.i0 * dp, dp, PY->t + t.j0,
                PY->cap, w->x.nrm + t.i0, PY->nrm + t.j0, G, ld);
          if (t.diag)
            for (size_t r = 0; r < t.ni; r++) G[r * ld + r] = 0.0;
        }
        if (ex) { /* acc += F [S_J + 2 m Y_J], s1 += row sums of F */
          pf_kernel_eval(k, n4, R2, F, NULL, NULL, kw);
          for (size_t r = 0; r < t.ni; r++) {
            const double *f = F + r * ld;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (size_t c = 0; c < t.nj; c++) s += f[c];
            s1[r] += s;
          }
          mk_gemm_acc(t.ni4, t.nj8, dp, F, w->bs + t.j0 * dp, NULL, NULL, ld,
                      dp, acc, dp);
          continue;
        }
        pf_kernel_eval(k, n4, R2, F, F1, NULL, kw);
        for (size_t r = 0; r < t.ni4; r++) {
          double *f1 = F1 + r * ld, s = 0.0;
          /* padded columns have zero B rows but must not enter s1 */
#pragma omp simd reduction(+ : s)
          for (size_t c = 0; c < ld; c++) {
            f1[c] *= 2.0;
            s += c < t.nj ? f1[c] : 0.0;
          }
          s1[r] += s;
        }
        /* acc += [F | 2F'] [S_J ; Y_J] */
        mk_gemm_acc(t.ni4, t.nj8, dp, F1, PY->p + t.j0 * dp, S ? F : NULL,
                    S ? w->s.p + t.j0 * dp : NULL, ld, dp, acc, dp);
      }
      for (size_t r = 0; r < ni; r++) {
        const double *xr = w->x.p + (i0 + r) * dp;
        const double sr = ex ? 2.0 * em * s1[r] : s1[r];
        double *o = out + (i0 + r) * d;
        for (size_t c = 0; c < d; c++)
          o[c] = scale * (acc[r * dp + c] - sr * xr[c]);
      }
    }
  }
  return pf_comm_share_tiles(out, n, d, T);
}

int pf_pair_svgd(pf_pairwise *w, const pf_kernel *k, size_t n,
                 const double *X, size_t m, const double *Y,
                 const double *S, double *phi)
{
  const size_t mm = Y ? m : n;
  PF_TRY(pair_rows(w, k, n, X, m, Y, S, 1.0 / (double)(mm ? mm : 1), phi));
  return 0;
}

/* ---- SVGD with a matrix on the repulsive term ----------------------------- */

int pf_pairwise_reserve_matrix(pf_pairwise *w)
{
  if (w->mat) return 0;
  PF_TRY(packed_alloc(&w->a, w->max_n, w->dp));
  PF_TRY(packed_alloc(&w->b, w->max_n, w->dp));
  PF_TRY(packed_alloc(&w->u, w->max_n, w->dp));
  /* The second accumulator goes after everything pair_rows uses. */
  const size_t off = w->tstride, stride = round_up(off + T * w->dp, 8);
  double *tb = pf_alloc_doubles(stride * (size_t)w->nthreads);
  PF_CHECK(tb, PF_ENOMEM, "allocating matrix-SVGD tile buffers");
  free(w->tbuf);
  w->tbuf = tb;
  w->tstride = stride;
  w->acc2 = off;
  w->mat = 1;
  return 0;
}

int pf_pair_svgd_matrix(pf_pairwise *w, const pf_kernel *k, size_t n,
                        const double *X, const double *S, const double *A,
                        const double *U, double sigma, double *phi)
{
  PF_CHECK(w->mat, PF_EINVAL,
           "pf_pair_svgd_matrix: call pf_pairwise_reserve_matrix first");
  PF_TRY(check_sizes(w, n, 0, NULL));
  const int nthr = nthreads(w);
  const size_t d = w->d, dp = w->dp, nti = (n + T - 1) / T,
               np = round_up(n, 8);
  const double scale = 1.0 / (double)n;
  prep(w, n, X, 0, NULL, S, n, nthr);
  size_t it_lo, it_hi; /* this rank's i-tiles (as in pair_rows) */
  pf_comm_tiles(nti, &it_lo, &it_hi);
  if (A) pack(n, d, dp, A, NULL, &w->a, nthr);
  if (U) pack(n, d, dp, U, NULL, &w->u, nthr);
  /* B_j = A_j o x_j + sigma (U_j . x_j) U_j on centered x (differences
   * x_j - x_i are all that enter, so the shift cancels). */
#pragma omp parallel for schedule(static) num_threads(nthr)
  for (size_t j = 0; j < np; j++) {
    const double *xr = w->x.p + j * dp;
    double *br = w->b.p + j * dp, ux = 0.0;
    if (U) {
      const double *ur = w->u.p + j * dp;
      for (size_t c = 0; c < dp; c++) ux += ur[c] * xr[c];
      ux *= sigma;
    }
    for (size_t c = 0; c < dp; c++)
      br[c] = (A ? w->a.p[j * dp + c] : 1.0) * xr[c] +
              (U ? ux * w->u.p[j * dp + c] : 0.0);
  }
#pragma omp parallel num_threads(nthr)
  {
    double *buf = w->tbuf + w->tstride * (size_t)omp_get_thread_num();
    double *G = buf, *DU = buf + T * T, *F = buf + 4 * T * T,
           *F1 = buf + 5 * T * T, *kw = buf + NTILE * T * T,
           *acc = kw + PF_KERNEL_WORK * T * T, *s1 = acc + T * dp,
           *acc2 = buf + w->acc2;
#pragma omp for schedule(static)
    for (size_t it = it_lo; it < it_hi; it++) {
      memset(acc, 0, T * dp * sizeof(double));
      memset(acc2, 0, T * dp * sizeof(double));
      memset(s1, 0, T * sizeof(double));
      size_t ni = 0, i0 = it * T;
      for (size_t jt = 0; jt < nti; jt++) {
        tile t = tile_at(it, jt, n, n, 1);
        const size_t ld = t.nj8, n4 = t.ni4 * ld;
        const double *xi = w->x.p + t.i0 * dp;
        ni = t.ni;
        mk_dot(t.ni4, t.nj8, d, xi, dp, w->x.t + t.j0, w->x.cap, G, ld, 0);
        tile_r2(&t, w->x.nrm, w->x.nrm, G);
        pf_kernel_eval(k, n4, G, F, F1, NULL, kw);
        for (size_t r = 0; r < t.ni4; r++) {
          double *f1 = F1 + r * ld, s = 0.0;
#pragma omp simd reduction(+ : s)
          for (size_t c = 0; c < ld; c++) {
            f1[c] *= 2.0;
            s += c < t.nj ? f1[c] : 0.0;
          }
          s1[r] += s;
        }
        /* acc += [F | W] [S_J ; B_J], acc2 += W A_J (W = 2F') */
        mk_gemm_acc(t.ni4, t.nj8, dp, F1, w->b.p + t.j0 * dp, S ? F : NULL,
                    S ? w->s.p + t.j0 * dp : NULL, ld, dp, acc, dp);
        if (A)
          mk_gemm_acc(t.ni4, t.nj8, dp, F1, w->a.p + t.j0 * dp, NULL, NULL,
                      ld, dp, acc2, dp);
        if (U) { /* acc -= sigma (W o (X_I U_J^T)) U_J */
          mk_dot(t.ni4, t.nj8, d, xi, dp, w->u.t + t.j0, w->u.cap, DU, ld, 0);
#pragma omp simd
          for (size_t q = 0; q < n4; q++) DU[q] *= -sigma * F1[q];
          mk_gemm_acc(t.ni4, t.nj8, dp, DU, w->u.p + t.j0 * dp, NULL, NULL,
                      ld, dp, acc, dp);
        }
      }
      for (size_t r = 0; r < ni; r++) {
        const double *xr = w->x.p + (i0 + r) * dp;
        double *o = phi + (i0 + r) * d;
        for (size_t c = 0; c < d; c++)
          o[c] = scale * (acc[r * dp + c] -
                          (A ? acc2[r * dp + c] : s1[r]) * xr[c]);
      }
    }
  }
  return pf_comm_share_tiles(phi, n, d, T);
}

int pf_pair_kgrad(pf_pairwise *w, const pf_kernel *k, size_t n,
                  const double *X, size_t m, const double *Y, double *G)
{
  /* grad_x k(x, y) = 2 f' (x - y) = -(2 f' (y - x)). */
  PF_TRY(pair_rows(w, k, n, X, m, Y, NULL, -1.0, G));
  return 0;
}

/* ---- SVGD with the median bandwidth on the step's own distances --------- *
 *
 * The median rules need every pair's r2, and so does the direction, so the
 * fit selects the median from the r2 tiles of the step itself (dot-product
 * blocks as above; an r2 tile and its transpose are bitwise equal, so the
 * upper tiles hold every pair).  For d >= FIT_STORE_D the upper tiles are
 * stored once and pair_rows reads them back instead of recomputing them
 * (the dot products are a third of the flops); for smaller d recomputing a
 * tile is cheaper than reading it from memory.
 *
 * Selection: a deterministic sample of FIT_SAMPLE pairs (exact differences)
 * brackets the wanted rank in a window [lo, hi) holding a few percent of
 * the pairs.  When the window's expected count fits FIT_WTOTAL / 2 (n up to
 * about 2500), one tile pass counts the pairs below lo and gathers the
 * window's values (and the smallest value above it), and quickselect ends:
 * a single pass before the direction's.  Otherwise the tile pass counts
 * the pairs below lo and histograms the window into FIT_NB equal buckets;
 * a second pass collects the one bucket holding the rank (and the smallest
 * value above it) and quickselect ends.
 * When the sample misses (rank outside the window, or a bucket too full:
 * many equal distances) a radix selection on the bit patterns takes over
 * (non-negative doubles order like their bits): 16 bits per pass until at
 * most FIT_MAXC candidates remain.  Either way the result is the exact
 * order statistic of the stored values; counts are integers and the k-th
 * value does not depend on the order of the candidates, so the bandwidth is
 * bitwise the same for any thread count (the sample only affects speed). */

enum {
  FIT_BITS = 16,
  FIT_NB = 1 << FIT_BITS,
  FIT_MAXC = 1 << 14,
  FIT_SAMPLE = 8192,
  FIT_STORE_D = 16,
  FIT_WTOTAL = 1 << 18
};

int pf_pairwise_reserve_fit(pf_pairwise *w)
{
  if (w->hist) return 0;
  const size_t nt = (w->max_n + T - 1) / T, nu = nt * (nt + 1) / 2,
               nth = (size_t)w->nthreads;
  if (w->d >= FIT_STORE_D) {
    PF_CHECK(nu * T * T * sizeof(double) <= PF_PAIR_FIT_MAX_BYTES, PF_ENOMEM,
             "pairwise fit: %zu points need %zu MiB of distance tiles (limit "
             "%zu MiB)", w->max_n, nu * T * T * sizeof(double) >> 20,
             (size_t)PF_PAIR_FIT_MAX_BYTES >> 20);
    w->rt = pf_alloc_doubles(nu * T * T);
    PF_CHECK(w->rt, PF_ENOMEM, "allocating pairwise distance tiles");
  }
  w->hist = malloc(nth * FIT_NB * sizeof(uint32_t));
  w->coll = pf_alloc_doubles((nth + 1) * FIT_MAXC + FIT_SAMPLE);
  w->tmin = pf_alloc_doubles(nth);
  w->ncoll = malloc(2 * nth * sizeof(size_t));
  w->wcoll = pf_alloc_doubles(FIT_WTOTAL);
  PF_CHECK(w->hist && w->coll && w->tmin && w->ncoll && w->wcoll, PF_ENOMEM,
           "allocating the pairwise fit workspace (%zu points)", w->max_n);
  return 0;
}

static uint64_t dbits(double v)
{
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

/* Selection state of one fit. */
typedef struct fitsel {
  size_t n, nt;
  int store, nthr;
  double lo, hi, inv; /* the window and its bucket scale */
  double wfrac;       /* the sample's fraction of pairs in the window */
  size_t b;           /* window bucket being collected */
  double flo, fhi;    /* bounds around bucket b, widened for rounding */
  int fixed;          /* radix: top bits fixed (0: none) */
  uint64_t prefix;
} fitsel;

static size_t wbucket(const fitsel *f, double v)
{
  size_t b = (size_t)((v - f->lo) * f->inv);
  return b < FIT_NB ? b : FIT_NB - 1;
}

/* The r2 tile (I, J >= I): stored, or computed into G (and stored when
 * `put`). */
static const double *fit_r2(pf_pairwise *w, const fitsel *f, const tile *t,
                            double *G, int put)
{
  const size_t I = t->i0 / T, J = t->j0 / T;
  double *R = f->store ? fit_slot(w, I, J, f->nt) : G;
  if (f->store && !put) return R;
  mk_r2(t->ni4, t->nj8, w->d, w->x.p + t->i0 * w->dp, w->dp, w->x.t + t->j0,
        w->x.cap, w->x.nrm + t->i0, w->x.nrm + t->j0, R, t->nj8);
  if (t->diag)
    for (size_t r = 0; r < t->ni; r++) R[r * t->nj8 + r] = 0.0;
  return R;
}

enum { PASS_WGATHER, PASS_WINDOW, PASS_WCOLLECT, PASS_RADIX, PASS_RCOLLECT };

/* One pass over the valid pairs i < j of the upper tiles:
 *  PASS_WGATHER:  count v < lo (ncoll[t + nthr]), gather the values in
 *                 [lo, hi) (at most FIT_WTOTAL / nthr per thread, at
 *                 wcoll + t FIT_WTOTAL / nthr) and the smallest >= hi;
 *  PASS_WINDOW:   count v < lo (ncoll[t + nthr]) and histogram [lo, hi);
 *  PASS_WCOLLECT: collect the values of window bucket b;
 *  PASS_RADIX:    histogram the next 16 bits of values with the prefix;
 *  PASS_RCOLLECT: collect the values with the prefix;
 * collecting passes keep at most FIT_MAXC per thread (ncoll[t] counts all)
 * and the smallest value above the collected ones (tmin[t]).  `put`: the
 * tiles are computed and stored in this pass. */
static void fit_pass(pf_pairwise *w, const fitsel *f, int what, int put)
{
  const int nthr = f->nthr, sh = 64 - f->fixed, sh2 = sh - FIT_BITS;
  const double lo = f->lo, hi = f->hi, flo = f->flo, fhi = f->fhi;
  const uint64_t prefix = f->prefix;
#pragma omp parallel num_threads(nthr)
  {
    const size_t tid = (size_t)omp_get_thread_num();
    uint32_t *h = w->hist + tid * FIT_NB;
    double *cl = w->coll + tid * FIT_MAXC, amin = INFINITY,
           *G = w->tbuf + w->tstride * tid;
    const size_t wcap = FIT_WTOTAL / (size_t)nthr;
    double *wl = w->wcoll + tid * wcap;
    size_t nc = 0, below = 0;
    if (what == PASS_WINDOW || what == PASS_RADIX)
      memset(h, 0, FIT_NB * sizeof(uint32_t));
#pragma omp for schedule(dynamic, 1)
    for (size_t I = 0; I < f->nt; I++)
      for (size_t J = I; J < f->nt; J++) {
        tile t = tile_at(I, J, f->n, f->n, 1);
        const double *R = fit_r2(w, f, &t, G, put);
        for (size_t r = 0; r < t.ni; r++) {
          const double *v = R + r * t.nj8;
          const size_t c0 = t.diag ? r + 1 : 0, c1 = t.nj;
          if (what == PASS_WGATHER) {
            size_t c = c0;
#ifdef PF_PAIR_AVX2
            const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi),
                          inf = _mm256_set1_pd(INFINITY);
            __m256i nb = _mm256_setzero_si256();
            __m256d mn = inf;
            for (; c + 4 <= c1; c += 4) {
              const __m256d x = LD(v + c);
              const __m256d lt = _mm256_cmp_pd(x, vlo, _CMP_LT_OQ),
                            ge = _mm256_cmp_pd(x, vhi, _CMP_GE_OQ);
              nb = _mm256_sub_epi64(nb, _mm256_castpd_si256(lt));
              mn = _mm256_min_pd(mn, _mm256_blendv_pd(inf, x, ge));
              int m = _mm256_movemask_pd(_mm256_andnot_pd(
                  _mm256_or_pd(lt, ge), _mm256_cmp_pd(x, x, _CMP_ORD_Q)));
              while (m) {
                if (nc < wcap) wl[nc] = v[c + (size_t)__builtin_ctz((unsigned)m)];
                nc++;
                m &= m - 1;
              }
            }
            int64_t q[4];
            _mm256_storeu_si256((__m256i *)q, nb);
            below += (size_t)(q[0] + q[1] + q[2] + q[3]);
            double qm[4];
            ST(qm, mn);
            for (int e = 0; e < 4; e++) amin = qm[e] < amin ? qm[e] : amin;
#endif
            for (; c < c1; c++) {
              below += v[c] < lo;
              if (v[c] >= hi && v[c] < amin) amin = v[c];
              if (v[c] >= lo && v[c] < hi) {
                if (nc < wcap) wl[nc] = v[c];
                nc++;
              }
            }
          } else if (what == PASS_WINDOW) {
            size_t c = c0;
#ifdef PF_PAIR_AVX2
            /* 4 lanes: count below lo, visit the (few) lanes in window */
            const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi);
            __m256i nb = _mm256_setzero_si256();
            for (; c + 4 <= c1; c += 4) {
              const __m256d x = LD(v + c);
              const __m256d lt = _mm256_cmp_pd(x, vlo, _CMP_LT_OQ);
              nb = _mm256_sub_epi64(nb, _mm256_castpd_si256(lt));
              int m = _mm256_movemask_pd(
                  _mm256_and_pd(_mm256_cmp_pd(x, vlo, _CMP_GE_OQ),
                                _mm256_cmp_pd(x, vhi, _CMP_LT_OQ)));
              while (m) {
                h[wbucket(f, v[c + (size_t)__builtin_ctz((unsigned)m)])]++;
                m &= m - 1;
              }
            }
            int64_t q[4];
            _mm256_storeu_si256((__m256i *)q, nb);
            below += (size_t)(q[0] + q[1] + q[2] + q[3]);
#endif
            for (; c < c1; c++) {
              below += v[c] < lo;
              if (v[c] >= lo && v[c] < hi) h[wbucket(f, v[c])]++;
            }
          } else if (what == PASS_WCOLLECT) {
            size_t c = c0;
#ifdef PF_PAIR_AVX2
            const __m256d vfl = _mm256_set1_pd(flo), vfh = _mm256_set1_pd(fhi),
                          inf = _mm256_set1_pd(INFINITY);
            __m256d mn = inf;
            for (; c + 4 <= c1; c += 4) {
              const __m256d x = LD(v + c);
              const __m256d gt = _mm256_cmp_pd(x, vfh, _CMP_GT_OQ);
              mn = _mm256_min_pd(mn, _mm256_blendv_pd(inf, x, gt));
              int m = _mm256_movemask_pd(
                  _mm256_and_pd(_mm256_cmp_pd(x, vfl, _CMP_GE_OQ),
                                _mm256_cmp_pd(x, vfh, _CMP_LE_OQ)));
              while (m) {
                const double x1 = v[c + (size_t)__builtin_ctz((unsigned)m)];
                const size_t bb = x1 < lo   ? 0
                                  : x1 >= hi ? FIT_NB
                                             : wbucket(f, x1);
                if (x1 >= lo && bb == f->b) {
                  if (nc < FIT_MAXC) cl[nc] = x1;
                  nc++;
                } else if (bb > f->b && x1 < amin)
                  amin = x1;
                m &= m - 1;
              }
            }
            double q[4];
            ST(q, mn);
            for (int e = 0; e < 4; e++) amin = q[e] < amin ? q[e] : amin;
#endif
            for (; c < c1; c++)
              if (v[c] > fhi && v[c] < amin)
                amin = v[c];
              else if (v[c] >= flo && v[c] <= fhi) {
                const double x = v[c];
                const size_t bb = x < lo ? 0 : x >= hi ? FIT_NB : wbucket(f, x);
                if (x >= lo && bb == f->b) {
                  if (nc < FIT_MAXC) cl[nc] = x;
                  nc++;
                } else if (bb > f->b && x < amin)
                  amin = x;
              }
          } else {
            for (size_t c = c0; c < c1; c++) {
              const double x = v[c];
              const uint64_t u = dbits(x), top = f->fixed ? u >> sh : 0;
              if (top == prefix) {
                if (what == PASS_RADIX)
                  h[(u >> sh2) & (FIT_NB - 1)]++;
                else {
                  if (nc < FIT_MAXC) cl[nc] = x;
                  nc++;
                }
              } else if (top > prefix && x < amin)
                amin = x;
            }
          }
        }
      }
    w->tmin[tid] = amin;
    w->ncoll[tid] = nc;
    w->ncoll[tid + (size_t)nthr] = below;
  }
}

/* Merge the per-thread histograms into thread 0's; return the bucket
 * holding rank *k (counted from the histogram's start) and reduce *k to a
 * rank inside it; FIT_NB if the histogram holds fewer than *k + 1. */
static size_t fit_bucket(pf_pairwise *w, int nthr, size_t *k, size_t *cnt)
{
  uint32_t *h = w->hist;
  for (int t = 1; t < nthr; t++)
    for (size_t b = 0; b < FIT_NB; b++) h[b] += h[(size_t)t * FIT_NB + b];
  size_t b = 0, below = 0;
  while (b < FIT_NB && below + h[b] <= *k) below += h[b++];
  if (b == FIT_NB) return b;
  *k -= below;
  *cnt = h[b];
  return b;
}

/* k-th smallest of a[0..n-1] (reorders a so that a[k] is in place, the
 * smaller ones before, the others after): quickselect, middle pivot. */
static double qselect(double *a, size_t n, size_t k)
{
  size_t l = 0, r = n - 1;
  while (l < r) {
    const double p = a[l + (r - l) / 2];
    size_t i = l, j = r;
    for (;;) {
      while (a[i] < p) i++;
      while (p < a[j]) j--;
      if (i >= j) break;
      double s = a[i];
      a[i] = a[j], a[j] = s;
      i++, j--;
    }
    /* a[l..j] <= p <= a[j+1..r] */
    if (k <= j)
      r = j;
    else
      l = j + 1;
  }
  return a[k];
}

/* The k-th smallest of a[0..m-1] (reordered) and with next the (k+1)-th
 * among a and `above` (the smallest value known to rank after all of a). */
static double qselect_next(double *a, size_t m, size_t k, double above,
                           double *next)
{
  const double v = qselect(a, m, k);
  if (next) {
    double nx = above;
    for (size_t i = k + 1; i < m; i++) /* qselect left them after a[k] */
      if (a[i] < nx) nx = a[i];
    *next = nx;
  }
  return v;
}

/* After a collecting pass: the k-th smallest collected value, and with
 * next the (k+1)-th among collected and above-bucket values.  -1 if a
 * thread collected more than FIT_MAXC. */
static int fit_finish(pf_pairwise *w, int nthr, size_t k, double *v,
                      double *next)
{
  double *a = w->coll + (size_t)nthr * FIT_MAXC, above = INFINITY;
  size_t m = 0;
  for (int t = 0; t < nthr; t++) {
    if (w->ncoll[t] > FIT_MAXC) return -1;
    memcpy(a + m, w->coll + (size_t)t * FIT_MAXC,
           w->ncoll[t] * sizeof(double));
    m += w->ncoll[t];
    if (w->tmin[t] < above) above = w->tmin[t];
  }
  if (m > FIT_MAXC || k >= m) return -1;
  *v = qselect_next(a, m, k, above, next);
  return 0;
}

/* Sample window [lo, hi) expected to hold rank k of np pairs: quantiles of
 * FIT_SAMPLE pairs (i, j) from a fixed hash sequence, k / np +- 5 sample
 * standard deviations.  0 if no useful window. */
static int fit_window(pf_pairwise *w, fitsel *f, size_t k, size_t np)
{
  const size_t n = f->n, d = w->d, dp = w->dp, s = FIT_SAMPLE;
  double *a = w->coll + (size_t)(f->nthr + 1) * FIT_MAXC;
  uint64_t z = 0x9E3779B97F4A7C15u;
  for (size_t q = 0; q < s; q++) {
    z += 0x9E3779B97F4A7C15u; /* splitmix64 */
    uint64_t u = z;
    u = (u ^ (u >> 30)) * 0xBF58476D1CE4E5B9u;
    u = (u ^ (u >> 27)) * 0x94D049BB133111EBu;
    u ^= u >> 31;
    /* multiply-shift maps 32 random bits to [0, n) without a division */
    size_t i = (size_t)(((u & 0xffffffffu) * (uint64_t)n) >> 32),
           j = (size_t)(((u >> 32) * (uint64_t)n) >> 32);
    if (i == j) j = (j + 1) % n;
    const double *xi = w->x.p + i * dp, *xj = w->x.p + j * dp;
    double r = 0.0;
    for (size_t c = 0; c < d; c++) r += (xi[c] - xj[c]) * (xi[c] - xj[c]);
    a[q] = r;
  }
  const double p = (double)k / (double)np,
               del = 5.0 * sqrt(p * (1.0 - p) / (double)s) + 2.0 / (double)s;
  const double ql = (p - del) * (double)s, qh = (p + del) * (double)s;
  if (ql < 0.0 || qh >= (double)(s - 1)) return 0;
  const size_t il = (size_t)ql, ih = (size_t)qh + 1;
  f->wfrac = (double)(ih - il + 1) / (double)s;
  f->lo = qselect(a, s, il);
  f->hi = qselect(a + il, s - il, ih - il);
  if (!(f->hi > f->lo) || !isfinite(f->hi)) return 0;
  f->inv = (double)FIT_NB / (f->hi - f->lo);
  return isfinite(f->inv) && f->inv > 0.0;
}

/* The kk-th smallest of the m gathered window values (and with next the
 * (kk+1)-th, `above` if none is left): the values are bucketed by
 * (v - lo) inv, which is monotone in v, into FIT_NB buckets (a counting
 * pass without data-dependent branches, where quickselect mispredicts
 * every other comparison), then the one bucket holding the rank is
 * selected exactly.  Uses the histogram of thread 0 and the collection
 * area of the bucket path. */
static double wselect(pf_pairwise *w, const fitsel *f, size_t m, size_t kk,
                      double above, double *next)
{
  double *a = w->wcoll;
  uint32_t *h = w->hist;
  memset(h, 0, FIT_NB * sizeof(uint32_t));
  for (size_t i = 0; i < m; i++) h[wbucket(f, a[i])]++;
  size_t b = 0, before = 0;
  while (before + h[b] <= kk) before += h[b++];
  /* bucket b holds ranks [before, before + h[b]) of the window */
  double *c = w->coll;
  const size_t cnt = h[b];
  if (cnt > (size_t)(f->nthr + 1) * FIT_MAXC) /* many equal values */
    return qselect_next(a, m, kk, above, next);
  double nx = above; /* the smallest value in later buckets */
  size_t q = 0;
  for (size_t i = 0; i < m; i++) {
    const size_t bi = wbucket(f, a[i]);
    if (bi == b) c[q++] = a[i];
    else if (bi > b && a[i] < nx) nx = a[i];
  }
  return qselect_next(c, cnt, kk - before, nx, next);
}

/* The one-pass selection (PASS_WGATHER): -1 if the rank is outside the
 * window or a thread's share overflowed. */
static int fit_gather(pf_pairwise *w, fitsel *f, size_t k, int put, double *v,
                      double *next)
{
  fit_pass(w, f, PASS_WGATHER, put);
  const size_t wcap = FIT_WTOTAL / (size_t)f->nthr;
  size_t below = 0, m = 0;
  double above = INFINITY;
  for (int t = 0; t < f->nthr; t++) {
    below += w->ncoll[t + f->nthr];
    if (w->ncoll[t] > wcap) return -1;
    if (w->tmin[t] < above) above = w->tmin[t];
  }
  for (int t = 0; t < f->nthr; t++) { /* compact the shares in thread order */
    memmove(w->wcoll + m, w->wcoll + (size_t)t * wcap,
            w->ncoll[t] * sizeof(double));
    m += w->ncoll[t];
  }
  if (k < below || k - below >= m) return -1;
  *v = wselect(w, f, m, k - below, above, next);
  return 0;
}

/* The k-th smallest pair r2 (k < n(n-1)/2 = np) and with next the (k+1)-th;
 * stores the tiles on the way when f->store. */
static double fit_select(pf_pairwise *w, fitsel *f, size_t k, size_t np,
                         double *next)
{
  int put = f->store;
  double v;
  if (np > 4 * FIT_SAMPLE && fit_window(w, f, k, np)) {
    if (f->wfrac * (double)np <= 0.5 * FIT_WTOTAL) {
      if (fit_gather(w, f, k, put, &v, next) == 0) return v;
      put = 0; /* the tiles are stored */
    }
    fit_pass(w, f, PASS_WINDOW, put);
    put = 0;
    size_t below = 0, kk, cnt = 0;
    for (int t = 0; t < f->nthr; t++) below += w->ncoll[t + f->nthr];
    if (below <= k) {
      kk = k - below;
      f->b = fit_bucket(w, f->nthr, &kk, &cnt);
      if (f->b < FIT_NB && cnt <= FIT_MAXC) {
        /* bucket b holds lo + [b, b + 1) / inv up to rounding */
        const double wd = 1e-9 * (fabs(f->lo) + fabs(f->hi));
        f->flo = f->lo + (double)f->b / f->inv - wd;
        f->fhi = f->lo + (double)(f->b + 1) / f->inv + wd;
        fit_pass(w, f, PASS_WCOLLECT, 0);
        if (fit_finish(w, f->nthr, kk, &v, next) == 0) return v;
      }
    }
  }
  /* radix selection */
  f->fixed = 0;
  f->prefix = 0;
  for (;;) {
    size_t cnt = 0;
    fit_pass(w, f, PASS_RADIX, put);
    put = 0;
    const size_t b = fit_bucket(w, f->nthr, &k, &cnt);
    if (b == FIT_NB) return NAN; /* NaN distances: h falls back to 1 */
    f->prefix = f->prefix << FIT_BITS | b;
    f->fixed += FIT_BITS;
    if (cnt <= FIT_MAXC || f->fixed == 64) {
      fit_pass(w, f, PASS_RCOLLECT, 0);
      if (cnt <= FIT_MAXC && fit_finish(w, f->nthr, k, &v, next) == 0)
        return v;
      /* more than FIT_MAXC copies of one value */
      double above = INFINITY;
      for (int t = 0; t < f->nthr; t++)
        if (w->tmin[t] < above) above = w->tmin[t];
      memcpy(&v, &f->prefix, sizeof v);
      if (next) *next = k + 1 < cnt ? v : above;
      return v;
    }
  }
}

int pf_pair_svgd_fit(pf_pairwise *w, pf_kernel *k, size_t n, const double *X,
                     const double *S, double *phi)
{
  PF_CHECK(w->hist, PF_EINVAL,
           "pf_pair_svgd_fit: call pf_pairwise_reserve_fit first");
  PF_TRY(check_sizes(w, n, 0, NULL));
  const pf_bw_rule rule = pf_kernel_rule(k);
  if (rule != PF_BW_FIXED) {
    fitsel f = {0};
    f.n = n;
    f.nt = (n + T - 1) / T;
    f.nthr = nthreads(w);
    f.store = w->rt != NULL;
    const size_t np = n * (n - 1) / 2, N = n * n, idx = N - N / 2;
    double med = 0.0, hi;
    prep(w, n, X, 0, NULL, NULL, n, f.nthr);
    if (n < 2 || (rule == PF_BW_MEDIAN_REF && idx < n))
      med = 0.0;
    else if (rule == PF_BW_MEDIAN_REF)
      med = fit_select(w, &f, (idx - n) / 2, np, NULL);
    else {
      med = fit_select(w, &f, (np - 1) / 2, np, np % 2 ? NULL : &hi);
      if (np % 2 == 0) med = 0.5 * (med + hi);
    }
    pf__kernel_set_median(k, n, med);
    w->rsrc = n > 1 && f.store ? w->rt : NULL;
  }
  const int rc = pair_rows(w, k, n, X, 0, NULL, S, 1.0 / (double)n, phi);
  w->rsrc = NULL;
  return rc;
}
