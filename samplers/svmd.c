/* `svmd`: Stein variational mirror descent (Shi, Liu & Mackey, ICLR 2022),
 * and the direction engine it shares with svng (see svmd.h for the
 * formulas and their matrix form).
 *
 * The sampler keeps the dual points eta = grad psi(theta) of the target
 * domain's mirror map; each step
 *   1. refits a median bandwidth on the primal points,
 *   2. builds hess psi and hess psi^-1 at every particle (d matrix-vector
 *      products each, from the mirror map),
 *   3. the SVMD direction g (svmd.h) with the dual scores
 *      s = hess psi^-1 grad log p + div hess psi^-1 (what
 *      pf_target_logp_grad_dual returns, stable near faces),
 *   4. eta += step(g) (optimizer.h; RMSProp in the paper's experiments),
 *      theta = grad psi*(eta), one batched dual evaluation; a non-finite
 *      result aborts (state kept) or halves the step size and retries. */
#include "svmd.h"

#include <cblas.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer.h"
#include "pflow/checkpoint.h"
#include "pflow/comm.h"
#include "pflow/error.h"
#include "pflow/particles.h"
#include "pflow/sampler.h"

/* ---- the direction engine ----------------------------------------------- */

struct pf__svmd {
  size_t n, d;
  int nthr;
  double *Xc;         /* n x d: points minus their mean */
  double *nrm;        /* n: |xc_i|^2 */
  double *F, *F1;     /* n x n: k and dk/dr2 on the pairs */
  double *A;          /* n x n: G + jitter I, then its tridiagonal form */
  double *Z;          /* n x r (column-major): the kept eigenvectors */
  double *lam;        /* n eigenvalues, ascending (dsterf) */
  double *lamz;       /* the kept eigenvalues, ascending (dstemr) */
  int subset;         /* may compute only the kept eigenvectors (dstemr 'I') */
  double *td, *te, *td2, *te2, *tau; /* tridiagonal and reflectors */
  lapack_int *isuppz;
  double *F1U;        /* n x d: F' [H_l^-1 xc_l] */
  double *Q, *q;      /* n x d: H_l^-1 xc_l and M_p xc_p */
  double *M;          /* n x d(d+1)/2: M_p = sum_l f'_pl H_l^-1 (packed) */
  double *Hp;         /* n x d(d+1)/2: H_l^-1 packed (upper triangle) */
  double *W1, *W2, *B; /* r x d */
  double *T;          /* n x d */
  double *rows;       /* nthr x (PF_KERNEL_WORK + 1) n: kernel scratch */
  double *lwork, *lwork2; /* lwork2: the second dormtr block */
  lapack_int *iwork;
  lapack_int nlwork, nliwork;
  /* Block Krylov (krylov_kept): basis rows V (mcap x n), their images AV,
   * the projected matrix Tm = V A V^T (mcap x mcap), its reduction Tw, the
   * Ritz vectors Y, the new block Wb (kb x n) with its R factor Bq and
   * projections C (mcap x kb). */
  int method;         /* PF__SVMD_AUTO / _DENSE / _KRYLOV (tests) */
  size_t kb, mcap;
  double *V, *AV, *Tm, *Tw, *Y, *C, *Wb, *Bq, *wref;
  double *Vt, *Yt;    /* n x 8: a block and its image, transposed */
  double *kd, *ke, *ktau, *kd2, *ke2, *kth;
  int last_krylov;    /* the path the last call took (1 Krylov, 0 dense) */
  size_t last_m;      /* Krylov basis size at convergence */
  const double *kept_ut, *kept_lr; /* the last call's kept pairs */
};

int pf__blas_serial_begin(void)
{
  int old = openblas_get_num_threads();
  if (old != 1) openblas_set_num_threads(1);
  return old;
}

void pf__blas_serial_end(int old)
{
  if (old != 1) openblas_set_num_threads(old);
}

void pf__svmd_destroy(pf__svmd **pw)
{
  if (!pw || !*pw) return;
  pf__svmd *w = *pw;
  free(w->Xc);
  free(w->nrm);
  free(w->F);
  free(w->F1);
  free(w->A);
  free(w->Z);
  free(w->lam);
  free(w->lamz);
  free(w->td);
  free(w->te);
  free(w->td2);
  free(w->te2);
  free(w->tau);
  free(w->isuppz);
  free(w->F1U);
  free(w->Q);
  free(w->q);
  free(w->M);
  free(w->Hp);
  free(w->W1);
  free(w->W2);
  free(w->B);
  free(w->T);
  free(w->rows);
  free(w->lwork);
  free(w->lwork2);
  free(w->iwork);
  free(w->V);
  free(w->AV);
  free(w->Tm);
  free(w->Tw);
  free(w->Y);
  free(w->C);
  free(w->Wb);
  free(w->Bq);
  free(w->wref);
  free(w->kd);
  free(w->ke);
  free(w->ktau);
  free(w->kd2);
  free(w->ke2);
  free(w->kth);
  free(w->Vt);
  free(w->Yt);
  free(w);
  *pw = NULL;
}

int pf__svmd_create(size_t n, size_t d, pf__svmd **out)
{
  int rc = 0;
  PF_CHECK(n >= 1 && d >= 1, PF_EINVAL, "svmd: n = %zu, d = %zu", n, d);
  pf__svmd *w = calloc(1, sizeof *w);
  PF_CHECK(w, PF_ENOMEM, "allocating the svmd workspace");
  w->n = n;
  w->d = d;
  w->nthr = omp_get_max_threads();
  w->subset = 1;
  const size_t nn = n * n, nd = n * d, np = n * (d * (d + 1) / 2);
  w->Xc = pf_alloc_doubles(nd);
  w->nrm = pf_alloc_doubles(n);
  w->F = pf_alloc_doubles(nn);
  w->F1 = pf_alloc_doubles(nn);
  w->A = pf_alloc_doubles(nn);
  w->Z = pf_alloc_doubles(nn);
  w->lam = pf_alloc_doubles(n);
  w->lamz = pf_alloc_doubles(n);
  w->td = pf_alloc_doubles(n);
  w->te = pf_alloc_doubles(n);
  w->td2 = pf_alloc_doubles(n);
  w->te2 = pf_alloc_doubles(n);
  w->tau = pf_alloc_doubles(n);
  w->isuppz = calloc(2 * n, sizeof(lapack_int));
  w->F1U = pf_alloc_doubles(nd);
  w->Q = pf_alloc_doubles(nd);
  w->q = pf_alloc_doubles(nd);
  w->M = pf_alloc_doubles(np);
  w->Hp = pf_alloc_doubles(np);
  w->W1 = pf_alloc_doubles(nd);
  w->W2 = pf_alloc_doubles(nd);
  w->B = pf_alloc_doubles(nd);
  w->T = pf_alloc_doubles(nd);
  w->rows = pf_alloc_doubles((size_t)w->nthr * (PF_KERNEL_WORK + 1) * n);
  PF_CHECK_GOTO(rc, w->Xc && w->nrm && w->F && w->F1 && w->A && w->lam &&
                        w->Z && w->lamz && w->td && w->te && w->td2 &&
                        w->te2 && w->tau && w->isuppz && w->F1U && w->Q &&
                        w->q && w->M && w->Hp && w->W1 && w->W2 && w->B &&
                        w->T && w->rows,
                PF_ENOMEM, fail,
                "allocating the svmd workspace (n = %zu, d = %zu)", n, d);
  /* Only the leading r eigenvectors are needed and r is known only from
   * the eigenvalues, so: tridiagonalize (dsytrd), every eigenpair of the
   * tridiagonal matrix (MRRR, dstemr: O(n^2)), then back-transform only the
   * r kept vectors (dormtr, 2 n^2 r instead of dsyevd's ~n^3 after the
   * reduction).  Workspaces are the maxima of the three queries. */
  double wq = 0.0, wq2 = 0.0, wq3 = 0.0;
  lapack_int iwq = 0, m = 0, tryrac = 1;
  const lapack_int N = (lapack_int)n;
  lapack_int info = LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'L', N, w->A, N,
                                        w->td, w->te, w->tau, &wq, -1);
  if (info == 0)
    info = LAPACKE_dstemr_work(LAPACK_COL_MAJOR, 'V', 'A', N, w->td, w->te,
                               0.0, 0.0, 1, N, &m, w->lamz, w->Z, N, N,
                               w->isuppz, &tryrac, &wq2, -1, &iwq, -1);
  if (info == 0)
    info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'L', 'N', N, N, w->A,
                               N, w->tau, w->Z, N, &wq3, -1);
  PF_CHECK_GOTO(rc, info == 0, PF_ELINALG, fail,
                "svmd: eigensolver workspace query failed (info %d)",
                (int)info);
  if (wq2 > wq) wq = wq2;
  if (wq3 > wq) wq = wq3;
  w->nlwork = (lapack_int)wq + 1;
  w->nliwork = iwq + 1;
  w->lwork = pf_alloc_doubles((size_t)w->nlwork);
  w->lwork2 = pf_alloc_doubles((size_t)w->nlwork);
  w->iwork = calloc((size_t)w->nliwork, sizeof(lapack_int));
  PF_CHECK_GOTO(rc, w->lwork && w->lwork2 && w->iwork, PF_ENOMEM, fail,
                "allocating the eigensolver workspace");
  /* The Krylov path (n >= PF__SVMD_KRYLOV_MIN_N): a basis of at most n/2
   * vectors (r <= n/4 needs about 2r); LAPACK's workspaces for the m x m
   * projected problem are below the n x n ones queried above. */
  w->kb = PF__SVMD_KRYLOV_BLOCK;
  w->mcap = n / 2;
  if (n >= PF__SVMD_KRYLOV_MIN_N) {
    const size_t mc = w->mcap, b = w->kb;
    w->V = pf_alloc_doubles(mc * n);
    w->AV = pf_alloc_doubles(mc * n);
    w->Tm = pf_alloc_doubles(mc * mc);
    w->Tw = pf_alloc_doubles(mc * mc);
    w->Y = pf_alloc_doubles(mc * mc);
    w->C = pf_alloc_doubles(mc * b);
    w->Wb = pf_alloc_doubles(b * n);
    w->Bq = pf_alloc_doubles(b * b);
    w->wref = pf_alloc_doubles(b);
    w->kd = pf_alloc_doubles(mc);
    w->ke = pf_alloc_doubles(mc);
    w->ktau = pf_alloc_doubles(mc);
    w->kd2 = pf_alloc_doubles(mc);
    w->ke2 = pf_alloc_doubles(mc);
    w->kth = pf_alloc_doubles(mc);
    w->Vt = pf_alloc_doubles(8 * n);
    w->Yt = pf_alloc_doubles(8 * n);
    PF_CHECK_GOTO(rc, w->V && w->AV && w->Tm && w->Tw && w->Y && w->C &&
                          w->Wb && w->Bq && w->wref && w->kd && w->ke &&
                          w->ktau && w->kd2 && w->ke2 && w->kth && w->Vt &&
                          w->Yt,
                  PF_ENOMEM, fail, "allocating the svmd Krylov workspace");
  }
  *out = w;
  return 0;
fail:
  pf__svmd_destroy(&w);
  return rc;
}

/* out = M v for a d x d row-major M. */
static void matvec(size_t d, const double *M, const double *v, double *out)
{
  for (size_t a = 0; a < d; a++) {
    const double *Ma = M + a * d;
    double acc = 0.0;
    for (size_t b = 0; b < d; b++) acc += Ma[b] * v[b];
    out[a] = acc;
  }
}

/* F = k(x_i, x_j), F1 = dk/dr2 with r2 from dot products of centered
 * points (one GEMM), the diagonal exactly r2 = 0. */
static void gram(pf__svmd *w, const pf_kernel *k, const double *X)
{
  const size_t n = w->n, d = w->d;
  double *Xc = w->Xc;
  for (size_t c = 0; c < d; c++) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m += X[i * d + c];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) Xc[i * d + c] = X[i * d + c] - m;
  }
  for (size_t i = 0; i < n; i++) {
    double s = 0.0;
    for (size_t c = 0; c < d; c++) s += Xc[i * d + c] * Xc[i * d + c];
    w->nrm[i] = s;
  }
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)d,
              1.0, Xc, (int)d, Xc, (int)d, 0.0, w->A, (int)n);
#pragma omp parallel for schedule(static) num_threads(w->nthr)
  for (size_t i = 0; i < n; i++) {
    double *r2 = w->rows + (size_t)omp_get_thread_num() *
                               (PF_KERNEL_WORK + 1) * n;
    const double *dot = w->A + i * n;
    /* The upper triangle only (half the kernel evaluations), mirrored
     * below: F and F' are then exactly symmetric. */
    for (size_t j = i; j < n; j++) {
      double v = w->nrm[i] + w->nrm[j] - 2.0 * dot[j];
      r2[j - i] = v > 0.0 ? v : 0.0;
    }
    r2[0] = 0.0;
    pf_kernel_eval(k, n - i, r2, w->F + i * n + i, w->F1 + i * n + i, NULL,
                   r2 + n);
  }
  /* Mirror in 32 x 32 tiles (a column walk would miss the cache on every
   * element). */
  const size_t nb = (n + 31) / 32;
#pragma omp parallel for schedule(static) num_threads(w->nthr)
  for (size_t bi = 0; bi < nb; bi++)
    for (size_t bj = 0; bj <= bi; bj++) {
      const size_t i1 = (bi + 1) * 32 < n ? (bi + 1) * 32 : n;
      const size_t j1 = (bj + 1) * 32 < n ? (bj + 1) * 32 : n;
      for (size_t i = bi * 32; i < i1; i++)
        for (size_t j = bj * 32; j < j1 && j < i; j++) {
          w->F[i * n + j] = w->F[j * n + i];
          w->F1[i * n + j] = w->F1[j * n + i];
        }
    }
}

/* The kept eigenpairs of A = G + jitter I (A is overwritten by its
 * tridiagonal form).  Every eigenvalue of the tridiagonal matrix by dqds
 * (dsterf, O(n^2)) gives r; then the kept vectors by MRRR: only those r
 * (dstemr range 'I') when r <= n/4, where that is 2-3x cheaper than all n
 * (measured at n = 500, r = 40: 5 vs 14 ms), else all n (range 'A': a
 * large subset would use bisection, 3x slower than 'A' at r = 439); only
 * the r kept vectors are back-transformed (dormtr).  On return *ut points
 * to r eigenvectors (each n long, ascending eigenvalues *lr).  0, or
 * 1 + LAPACK info in *info: 1 eigensolver, 2 no positive eigenvalue,
 * 3 back-transformation. */
static int eigen_kept(pf__svmd *w, double tau, size_t *rank,
                      const double **ut, const double **lr, int *info_out)
{
  const size_t n = w->n;
  const lapack_int NL = (lapack_int)n;
  lapack_int info = LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'L', NL, w->A, NL,
                                        w->td, w->te, w->tau, w->lwork,
                                        w->nlwork);
  if (info == 0) {
    memcpy(w->td2, w->td, n * sizeof(double));
    memcpy(w->te2, w->te, n * sizeof(double));
    info = LAPACKE_dsterf_work(NL, w->td2, w->te2);
    memcpy(w->lam, w->td2, n * sizeof(double));
  }
  *info_out = (int)info;
  if (info != 0) return 1;
  /* r = 1 + #{cumulative normalized mass < tau}, descending order, positive
   * eigenvalues only. */
  double total = 0.0;
  for (size_t j = 0; j < n; j++) total += w->lam[j];
  size_t r = 0;
  double cum = 0.0;
  for (size_t j = 0; j < n; j++) {
    const double l = w->lam[n - 1 - j];
    if (!(l > 0.0)) break;
    r++;
    cum += l;
    if (!(cum / total < tau)) break;
  }
  if (r == 0) return 2;
  const int sub = w->subset && 4 * r <= n;
  lapack_int m = 0, tryrac = 1;
  memcpy(w->td2, w->td, n * sizeof(double));
  memcpy(w->te2, w->te, n * sizeof(double));
  info = LAPACKE_dstemr_work(LAPACK_COL_MAJOR, 'V', sub ? 'I' : 'A', NL,
                             w->td2, w->te2, 0.0, 0.0,
                             sub ? NL - (lapack_int)r + 1 : 1, NL, &m,
                             w->lamz, w->Z, NL, NL, w->isuppz, &tryrac,
                             w->lwork, w->nlwork, w->iwork, w->nliwork);
  if (info == 0 && (size_t)m != (sub ? r : n)) info = -1000;
  *info_out = (int)info;
  if (info != 0) return 1;
  double *Ut = sub ? w->Z : w->Z + (n - r) * n;
  const double *l = sub ? w->lamz : w->lamz + (n - r);
  /* dqds and MRRR may disagree in the last bits at 0 (jitter 0): keep only
   * what MRRR calls positive. */
  while (r > 0 && !(l[0] > 0.0)) {
    Ut += n;
    l++;
    r--;
  }
  if (r == 0) return 2;
  /* Two fixed column blocks (the first holds r / 2 vectors, at least 64,
   * else all), one per thread: each vector's back-transformation is
   * independent of the others, and the split depends only on r. */
  const size_t r1 = r >= 128 ? r / 2 : r;
  lapack_int inf2[2] = {0, 0};
#pragma omp parallel for schedule(static) num_threads(r1 < r ? w->nthr : 1)
  for (int h = 0; h < 2; h++) {
    const size_t c0 = h ? r1 : 0, c1 = h ? r : r1;
    if (c1 > c0)
      inf2[h] = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'L', 'N', NL,
                                    (lapack_int)(c1 - c0), w->A, NL, w->tau,
                                    Ut + c0 * n, NL,
                                    h ? w->lwork2 : w->lwork, w->nlwork);
  }
  info = inf2[0] ? inf2[0] : inf2[1];
  *info_out = (int)info;
  if (info != 0) return 3;
  *rank = r;
  *ut = Ut;
  *lr = l;
  return 0;
}

/* C = alpha op(A) op(B) + beta C (row-major) as serial dgemm calls on
 * fixed blocks of PF__SVMD_GEMM_BLOCK output rows (by_rows) or columns,
 * OpenMP over the blocks: the blocks depend only on the dimensions, so the
 * bits do not depend on the thread count, and the products of the
 * eigensolver use every thread instead of one. */
#define PF__SVMD_GEMM_BLOCK 128
static void pgemm(int nthr, int by_rows, CBLAS_TRANSPOSE ta,
                  CBLAS_TRANSPOSE tb, size_t M, size_t N, size_t K,
                  double alpha, const double *A, size_t lda, const double *B,
                  size_t ldb, double beta, double *C, size_t ldc)
{
  const size_t len = by_rows ? M : N, T = PF__SVMD_GEMM_BLOCK;
  const size_t nb = (len + T - 1) / T;
#pragma omp parallel for schedule(static) num_threads(nb > 1 ? nthr : 1)
  for (size_t b = 0; b < nb; b++) {
    const size_t s = b * T, e = s + T < len ? s + T : len;
    if (by_rows)
      cblas_dgemm(CblasRowMajor, ta, tb, (int)(e - s), (int)N, (int)K, alpha,
                  ta == CblasNoTrans ? A + s * lda : A + s, (int)lda, B,
                  (int)ldb, beta, C + s * ldc, (int)ldc);
    else
      cblas_dgemm(CblasRowMajor, ta, tb, (int)M, (int)(e - s), (int)K, alpha,
                  A, (int)lda, tb == CblasNoTrans ? B + s : B + s * ldb,
                  (int)ldb, beta, C + s, (int)ldc);
  }
}

/* Y = Vb A for a block Vb of k <= 8 rows (k x n) and the symmetric n x n
 * A, as Y^T = A Vb^T: four rows of A at a time against the block stored
 * transposed (n x 8, zero-padded), whose 8 entries per row sit in two
 * 4-lane registers; 8 accumulators, every entry of A read once.  A dgemm
 * call with 8 rows spends more time packing A than multiplying (OpenBLAS
 * copies the whole n x n operand per call).  Sums run over i = 0..n-1 in
 * order, OpenMP over fixed groups of rows: the bits depend neither on the
 * thread count nor on the split. */
static void block_product(pf__svmd *w, size_t k, const double *Vb, double *Y)
{
  const size_t n = w->n;
  const double *A = w->A;
  double *Vt = w->Vt, *Yt = w->Yt;
  for (size_t i = 0; i < n; i++)
    for (size_t c = 0; c < 8; c++) Vt[i * 8 + c] = c < k ? Vb[c * n + i] : 0.0;
  const size_t ng = (n + 3) / 4;
#pragma omp parallel for schedule(static) num_threads(w->nthr)
  for (size_t g = 0; g < ng; g++) {
    const size_t j0 = 4 * g, nr = n - j0 < 4 ? n - j0 : 4;
    const double *r[4];
    for (size_t t = 0; t < 4; t++) r[t] = A + (j0 + (t < nr ? t : 0)) * n;
#if defined(__AVX2__) && defined(__FMA__)
    const double *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
    __m256d a0 = _mm256_setzero_pd(), b0 = a0, a1 = a0, b1 = a0, a2 = a0,
            b2 = a0, a3 = a0, b3 = a0;
    for (size_t i = 0; i < n; i++) {
      const __m256d lo = _mm256_loadu_pd(Vt + i * 8),
                    hi = _mm256_loadu_pd(Vt + i * 8 + 4);
      __m256d x = _mm256_broadcast_sd(r0 + i);
      a0 = _mm256_fmadd_pd(x, lo, a0);
      b0 = _mm256_fmadd_pd(x, hi, b0);
      x = _mm256_broadcast_sd(r1 + i);
      a1 = _mm256_fmadd_pd(x, lo, a1);
      b1 = _mm256_fmadd_pd(x, hi, b1);
      x = _mm256_broadcast_sd(r2 + i);
      a2 = _mm256_fmadd_pd(x, lo, a2);
      b2 = _mm256_fmadd_pd(x, hi, b2);
      x = _mm256_broadcast_sd(r3 + i);
      a3 = _mm256_fmadd_pd(x, lo, a3);
      b3 = _mm256_fmadd_pd(x, hi, b3);
    }
    const __m256d out[8] = {a0, b0, a1, b1, a2, b2, a3, b3};
    for (size_t t = 0; t < nr; t++) {
      _mm256_storeu_pd(Yt + (j0 + t) * 8, out[2 * t]);
      _mm256_storeu_pd(Yt + (j0 + t) * 8 + 4, out[2 * t + 1]);
    }
#else
    double acc[4][8] = {{0.0}};
    for (size_t i = 0; i < n; i++)
      for (size_t t = 0; t < 4; t++)
        for (size_t c = 0; c < 8; c++) acc[t][c] += r[t][i] * Vt[i * 8 + c];
    for (size_t t = 0; t < nr; t++)
      memcpy(Yt + (j0 + t) * 8, acc[t], 8 * sizeof(double));
#endif
  }
  for (size_t c = 0; c < k; c++)
    for (size_t j = 0; j < n; j++) Y[c * n + j] = Yt[j * 8 + c];
}

/* ---- the leading eigenpairs by block Krylov ----------------------------- */

/* Deterministic start vectors (no global random source): column 0 the
 * constant vector (close to the Gram matrix's leading eigenvector), the
 * others splitmix64 hashes of (i, c) mapped to [-1, 1). */
static double start_entry(size_t i, size_t c)
{
  if (c == 0) return 1.0;
  unsigned long long z = 0x9e3779b97f4a7c15ULL * (unsigned long long)(i + 1) +
                         0xbf58476d1ce4e5b9ULL * (unsigned long long)c;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-52 - 1.0;
}

static double dot(size_t n, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Orthonormalize the k rows of W (each already orthogonal to the m basis
 * rows of V) among themselves by Gram-Schmidt twice; B (k x k, row j =
 * coefficients on q_j) gets W_i = sum_j B_ji q_j.  A row whose norm falls
 * to <= drop * ref[i] is linearly dependent (an invariant subspace): it
 * becomes zero, its B diagonal keeps the tiny norm.  A row that lost more
 * than 99% to the in-block projections is projected off V once more (its
 * orthogonality to V degrades by the ratio).  Returns the number of rows
 * kept. */
static size_t block_qr(size_t n, size_t k, double *W, double *B,
                       const double *ref, double drop, const double *V,
                       size_t m, int *dropped)
{
  size_t kept = 0;
  memset(B, 0, k * k * sizeof(double));
  for (size_t i = 0; i < k; i++) {
    double *wi = W + i * n;
    const double n0 = sqrt(dot(n, wi, wi));
    for (int pass = 0; pass < 2; pass++)
      for (size_t j = 0; j < i; j++) {
        if (dropped[j]) continue;
        const double *qj = W + j * n, c = dot(n, qj, wi);
        for (size_t t = 0; t < n; t++) wi[t] -= c * qj[t];
        B[j * k + i] += c;
      }
    double nr = sqrt(dot(n, wi, wi));
    if (m > 0 && nr < 1e-2 * n0 && nr > drop * ref[i]) {
      for (size_t j = 0; j < m; j++) {
        const double *vj = V + j * n, c = dot(n, vj, wi);
        for (size_t t = 0; t < n; t++) wi[t] -= c * vj[t];
      }
      for (size_t j = 0; j < i; j++) {
        if (dropped[j]) continue;
        const double *qj = W + j * n, c = dot(n, qj, wi);
        for (size_t t = 0; t < n; t++) wi[t] -= c * qj[t];
        B[j * k + i] += c;
      }
      nr = sqrt(dot(n, wi, wi));
    }
    B[i * k + i] = nr;
    if (!(nr > drop * ref[i])) {
      dropped[i] = 1;
      memset(wi, 0, n * sizeof(double));
    } else {
      dropped[i] = 0;
      const double inv = 1.0 / nr;
      for (size_t t = 0; t < n; t++) wi[t] *= inv;
      kept++;
    }
  }
  return kept;
}

/* The leading eigenpairs of A = G + jitter I (n x n, intact) by block
 * Lanczos with full reorthogonalization, in the form: basis rows V (blocks
 * of kb), their images AV = V A (one GEMM per block), the projected matrix
 * Tm = V A V^T filled explicitly (so nothing relies on the three-term
 * recurrence), the next block = A V_last projected off V twice (classical
 * Gram-Schmidt as two GEMMs) and orthonormalized.  Rayleigh-Ritz on Tm
 * gives Ritz pairs (theta, V^T y); the residual A V^T y - theta V^T y is
 * (I - V^T V) A V_last^T y_last (the older blocks' images lie in the basis),
 * i.e. its norm is |B y_last| with B the next block's R factor.
 *
 * Stopping: trace(A) = sum of the diagonal is exact, so the eigenvalue mass
 * a prefix holds is known.  With theta_1 >= theta_2 >= ... the Ritz values
 * and rr the smallest count with theta_1 + ... + theta_rr >= tau trace(A),
 * the method stops once the rr leading Ritz pairs all have residual norm
 * <= tol theta_1.  Then r = rr is the dense path's r: every Ritz value is
 * within its residual of an eigenvalue (and below the matching eigenvalue by
 * Cauchy interlacing, theta_j <= lambda_j), so the partial sums differ from
 * the exact ones by at most rr tol theta_1 and the count can differ only if
 * the exact cumulative mass at r or r - 1 lies within that of tau (a tie at
 * the threshold, where the dense path is itself decided by rounding).  This
 * assumes no eigenvalue above theta_rr was missed: a block Krylov space
 * holds at most kb vectors of any eigenspace, so multiplicities up to kb = 8
 * are found (symmetric layouts such as grids give 2), and a start block
 * orthogonal to an eigenvector is a measure-zero event.
 * Returns 0 with the kept pairs (ascending, as eigen_kept), or 1 when the
 * dense path must decide: the basis would exceed mcap (r > ~n/4), an
 * invariant subspace without enough mass, a kept Ritz value <= 0, or a
 * LAPACK failure. */
static int krylov_kept(pf__svmd *w, double tau, double tol, size_t *rank,
                       const double **ut, const double **lr)
{
  const size_t n = w->n, b = w->kb, cap = w->mcap;
  const double *A = w->A;
  double trace = 0.0;
  for (size_t i = 0; i < n; i++) trace += A[i * n + i];
  if (!(trace > 0.0)) return 1;
  int dropped[PF__SVMD_KRYLOV_BLOCK];
  double *V = w->V, *AV = w->AV, *T = w->Tm;
  /* The start block. */
  for (size_t c = 0; c < b; c++) {
    for (size_t i = 0; i < n; i++) w->Wb[c * n + i] = start_entry(i, c);
    w->wref[c] = sqrt(dot(n, w->Wb + c * n, w->Wb + c * n));
  }
  size_t k = block_qr(n, b, w->Wb, w->Bq, w->wref, 1e-12, V, 0, dropped);
  size_t m = 0;
  for (size_t c = 0; c < b; c++)
    if (!dropped[c]) memcpy(V + (m++) * n, w->Wb + c * n, n * sizeof(double));
  w->last_m = 0;
  size_t m_try = 0;
  for (;;) {
    const size_t m0 = m - k; /* the new block is rows m0 .. m-1 */
    block_product(w, k, V + m0 * n, AV + m0 * n);
    /* C = V AV_new^T (m x k): the new columns of Tm. */
    pgemm(w->nthr, 1, CblasNoTrans, CblasTrans, m, k, n, 1.0, V, n,
          AV + m0 * n, n, 0.0, w->C, k);
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < k; j++) {
        double v = w->C[i * k + j];
        if (i >= m0) v = 0.5 * (v + w->C[(m0 + j) * k + (i - m0)]);
        T[i * cap + m0 + j] = v;
        T[(m0 + j) * cap + i] = v;
      }
    /* The next block: A V_new projected off the basis twice. */
    memcpy(w->Wb, AV + m0 * n, k * n * sizeof(double));
    for (size_t j = 0; j < k; j++)
      w->wref[j] = sqrt(dot(n, w->Wb + j * n, w->Wb + j * n));
    pgemm(w->nthr, 0, CblasTrans, CblasNoTrans, k, n, m, -1.0, w->C, k, V, n,
          1.0, w->Wb, n);
    pgemm(w->nthr, 1, CblasNoTrans, CblasTrans, m, k, n, 1.0, V, n, w->Wb, n,
          0.0, w->C, k);
    pgemm(w->nthr, 0, CblasTrans, CblasNoTrans, k, n, m, -1.0, w->C, k, V, n,
          1.0, w->Wb, n);
    const size_t knew =
        block_qr(n, k, w->Wb, w->Bq, w->wref, 1e-12, V, m, dropped);
    /* Rayleigh-Ritz once the Ritz values can hold the mass (their sum is
     * trace(Tm)). */
    double trT = 0.0;
    for (size_t i = 0; i < m; i++) trT += T[i * cap + i];
    if (m >= PF__SVMD_KRYLOV_PROBE * b && m0 < PF__SVMD_KRYLOV_PROBE * b &&
        1.0 - trT / trace > PF__SVMD_KRYLOV_MISS * (1.0 - tau))
      /* Choosing the path (results agree either way): the mass the first
       * 48 Krylov vectors miss tracks r closely (sparse Dirichlet and box
       * at n = 500, tau = 0.998: r = 62-91 at 5.2-5.8 (1 - tau), r >= 106
       * at >= 7 (1 - tau)); beyond that the basis would outgrow mcap or
       * cost more than the dense path. */
      return 1;
    if (trT >= tau * trace && m >= m_try) {
      /* After a failed check the next one waits for ~12% more basis: the
       * m x m eigenproblem costs O(m^3), as much as a product at m ~ n/4. */
      m_try = m + (m / 8 > b ? m / 8 : b);
      const lapack_int Ml = (lapack_int)m;
      for (size_t i = 0; i < m; i++)
        memcpy(w->Tw + i * m, T + i * cap, m * sizeof(double));
      lapack_int info = LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'L', Ml, w->Tw,
                                            Ml, w->kd, w->ke, w->ktau,
                                            w->lwork, w->nlwork);
      if (info != 0) return 1;
      memcpy(w->kd2, w->kd, m * sizeof(double));
      memcpy(w->ke2, w->ke, m * sizeof(double));
      if (LAPACKE_dsterf_work(Ml, w->kd2, w->ke2) != 0) return 1;
      size_t rr = 0;
      double cum = 0.0;
      for (size_t j = 0; j < m; j++) {
        const double l = w->kd2[m - 1 - j];
        if (!(l > 0.0)) return 1;
        rr++;
        cum += l;
        if (!(cum / trace < tau)) break;
      }
      /* The leading rr pairs converged at m = 2.4-2.7 rr in every case
       * measured (uniform box, sparse Dirichlet, grids): check next there. */
      if (m_try < (5 * rr) / 2) m_try = (5 * rr) / 2;
      /* So the Ritz vectors (and their residuals) wait for m >= 2.4 rr:
       * one vector check per call in the usual case instead of two, each
       * ~1.5 ms at m ~ 100 (the bits depend only on the inputs still). */
      if (!(cum / trace < tau) && 5 * m >= 12 * rr) {
        lapack_int mf = 0, tryrac = 1;
        memcpy(w->kd2, w->kd, m * sizeof(double));
        memcpy(w->ke2, w->ke, m * sizeof(double));
        /* Every pair (range 'A'; the kept ones are ~40% of m): range 'I'
         * finds its eigenvalues by bisection, which took most of the time
         * of this check (measured at m = 130-250). */
        info = LAPACKE_dstemr_work(
            LAPACK_COL_MAJOR, 'V', 'A', Ml, w->kd2, w->ke2, 0.0, 0.0, 1, Ml,
            &mf, w->kth, w->Y, Ml, Ml, w->isuppz, &tryrac, w->lwork,
            w->nlwork, w->iwork, w->nliwork);
        if (info != 0 || (size_t)mf != m) return 1;
        memmove(w->Y, w->Y + (m - rr) * m, rr * m * sizeof(double));
        memmove(w->kth, w->kth + (m - rr), rr * sizeof(double));
        if (!(w->kth[0] > 0.0)) return 1;
        info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'L', 'N', Ml,
                                   (lapack_int)rr, w->Tw, Ml, w->ktau, w->Y,
                                   Ml, w->lwork, w->nlwork);
        if (info != 0) return 1;
        const double lim = tol * w->kth[rr - 1];
        int conv = 1;
        for (size_t j = 0; j < rr && conv; j++) {
          const double *y = w->Y + j * m + m0;
          double s2 = 0.0;
          for (size_t a = 0; a < k; a++) {
            double acc = 0.0;
            for (size_t c = a; c < k; c++) acc += w->Bq[a * k + c] * y[c];
            s2 += acc * acc;
          }
          conv = sqrt(s2) <= lim;
        }
        if (conv) {
          /* Eigenvectors: rows of Y^T V (rr x n). */
          pgemm(w->nthr, 0, CblasNoTrans, CblasNoTrans, rr, n, m, 1.0, w->Y,
                m, V, n, 0.0, w->Z, n);
          *rank = rr;
          *ut = w->Z;
          *lr = w->kth;
          w->last_m = m;
          return 0;
        }
      }
    }
    if (knew == 0 || m + knew > cap) return 1;
    for (size_t c = 0; c < k; c++)
      if (!dropped[c])
        memcpy(V + (m++) * n, w->Wb + c * n, n * sizeof(double));
    k = knew;
  }
}

/* Rows [*lo, *hi) of the n x . products F' [...] this MPI rank computes:
 * its block of PF_PAIR_TILE-row tiles (all rows on one rank or outside
 * replicated mode).  Tile-aligned blocks matter: OpenBLAS computes a row of
 * a GEMM with the same operations whatever the row count only when the
 * blocks start at multiples of its register block (4 to 16 rows); at an
 * arbitrary start the bits differ (measured, OpenBLAS 0.3.21). */
static void my_rows(size_t n, size_t *lo, size_t *hi)
{
  const size_t T = PF_PAIR_TILE;
  pf_comm_tiles((n + T - 1) / T, lo, hi);
  *lo = *lo * T < n ? *lo * T : n;
  *hi = *hi * T < n ? *hi * T : n;
}

/* How H_l^-1 is structured, checked exactly on every entry: 1 when every
 * H_l^-1 is diagonal (the box's and the orthant's maps), 2 when its
 * off-diagonal entries are exactly -x_a x_b for the primal point x = X_l
 * (the simplex's entropic map diag(x) - x x^T, whose hess_psi_inv_vec
 * gives exactly that product), 0 otherwise. */
static int hinv_structure(size_t n, size_t d, const double *X,
                          const double *Hinv)
{
  int diag = 1, dxx = 1;
  for (size_t l = 0; l < n && (diag || dxx); l++) {
    const double *h = Hinv + l * d * d, *x = X + l * d;
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b < d; b++) {
        if (a == b) continue;
        if (h[a * d + b] != 0.0) diag = 0;
        if (h[a * d + b] != -(x[a] * x[b])) dxx = 0;
      }
  }
  return diag ? 1 : dxx ? 2 : 0;
}

/* The terms that need H^-1 but no eigenpair: Q_l = H_l^-1 xc_l and
 * q_p = M_p xc_p with M_p = sum_l f'_pl H_l^-1.  In general one GEMM on
 * the packed upper triangles (d(d+1)/2 columns instead of d^2; F' is
 * symmetric): n^2 d(d+1) flops.  When H_l^-1 = diag(a_l) - b_l b_l^T with
 * b_l = x_l or 0 (hinv_structure, d >= 3),
 *   q_p = (F' A)_p o xc_p - sum_l f'_pl (xc_p . x_l) x_l,
 * three n^2 d GEMMs (F' A; P = Xc X^T, then (F' o P) X) with A the rows
 * a_l = diag(H_l^-1) + x_l o x_l: 6 n^2 d flops, 3.3x fewer at d = 19
 * (sparse Dirichlet).  Z (n x n) serves as scratch for P, M for A and F' A.
 * Under MPI only this rank's rows p of M and q (my_rows; the caller
 * gathers q). */
static void metric_terms(pf__svmd *w, const double *X, const double *Hinv)
{
  const size_t n = w->n, d = w->d, dd = d * d, P = d * (d + 1) / 2;
  size_t lo, hi;
  my_rows(n, &lo, &hi);
  const int st = d >= 3 ? hinv_structure(n, d, X, Hinv) : 0;
  double *Ad = w->M, *FA = w->M + n * d;
#pragma omp parallel for schedule(static) num_threads(w->nthr)
  for (size_t l = 0; l < n; l++) {
    const double *Hl = Hinv + l * dd, *x = X + l * d;
    if (st) {
      for (size_t a = 0; a < d; a++)
        Ad[l * d + a] = Hl[a * d + a] + (st == 2 ? x[a] * x[a] : 0.0);
    } else {
      double *hp = w->Hp + l * P;
      for (size_t a = 0, k = 0; a < d; a++)
        for (size_t b = a; b < d; b++) hp[k++] = Hl[a * d + b];
    }
    matvec(d, Hl, w->Xc + l * d, w->Q + l * d);
  }
  if (hi <= lo) return;
  if (st) {
    const size_t m = hi - lo;
    pgemm(w->nthr, 1, CblasNoTrans, CblasNoTrans, m, d, n, 1.0,
          w->F1 + lo * n, n, Ad, d, 0.0, FA + lo * d, d);
    if (st == 2) {
      double *Pm = w->Z;
      pgemm(w->nthr, 1, CblasNoTrans, CblasTrans, m, n, d, 1.0,
            w->Xc + lo * d, d, X, d, 0.0, Pm + lo * n, n);
#pragma omp parallel for schedule(static) num_threads(w->nthr)
      for (size_t p = lo; p < hi; p++)
        for (size_t l = 0; l < n; l++) Pm[p * n + l] *= w->F1[p * n + l];
      pgemm(w->nthr, 1, CblasNoTrans, CblasNoTrans, m, d, n, -1.0,
            Pm + lo * n, n, X, d, 0.0, w->q + lo * d, d);
    }
#pragma omp parallel for schedule(static) num_threads(w->nthr)
    for (size_t p = lo; p < hi; p++)
      for (size_t a = 0; a < d; a++) {
        const double v = FA[p * d + a] * w->Xc[p * d + a];
        w->q[p * d + a] = st == 2 ? w->q[p * d + a] + v : v;
      }
    return;
  }
  pgemm(w->nthr, 1, CblasNoTrans, CblasNoTrans, hi - lo, P, n, 1.0,
        w->F1 + lo * n, n, w->Hp, P, 0.0, w->M + lo * P, P);
#pragma omp parallel for schedule(static) num_threads(w->nthr)
  for (size_t p = lo; p < hi; p++) {
    const double *mp = w->M + p * P, *x = w->Xc + p * d;
    double *out = w->q + p * d;
    /* Row a of the symmetric M_p: entries (a, b >= a) in order, (b < a, a)
     * above; summed in the fixed order b = 0..d-1. */
    for (size_t a = 0; a < d; a++) {
      double acc = 0.0;
      for (size_t b = 0; b < d; b++) {
        const size_t lo = a < b ? a : b, hi = a < b ? b : a;
        acc += mp[lo * d - lo * (lo - 1) / 2 + (hi - lo)] * x[b];
      }
      out[a] = acc;
    }
  }
}

/* The Krylov path when it applies (tau < 1, n >= PF__SVMD_KRYLOV_MIN_N)
 * and succeeds, else the dense path. */
static int eigen_leading(pf__svmd *w, double tau, size_t *rank,
                         const double **ut, const double **lr, int *info)
{
  if (w->V && tau < 1.0 && w->method != PF__SVMD_DENSE &&
      krylov_kept(w, tau, PF__SVMD_KRYLOV_TOL, rank, ut, lr) == 0) {
    w->last_krylov = 1;
    *info = 0;
    return 0;
  }
  w->last_krylov = 0;
  int rc = eigen_kept(w, tau, rank, ut, lr, info);
  return rc;
}

void pf__svmd_set_subset(pf__svmd *w, int on) { w->subset = on; }

void pf__svmd_set_method(pf__svmd *w, int method) { w->method = method; }

int pf__svmd_last_krylov(const pf__svmd *w, size_t *basis)
{
  if (basis) *basis = w->last_m;
  return w->last_krylov;
}

void pf__svmd_kept(const pf__svmd *w, const double **ut, const double **lr)
{
  *ut = w->kept_ut;
  *lr = w->kept_lr;
}

int pf__svmd_direction(pf__svmd *w, const pf_kernel *k, const double *X,
                       const double *S, const double *H, const double *Hinv,
                       double jitter, double tau, double *g, size_t *rank)
{
  const size_t n = w->n, d = w->d, dd = d * d;
  const int old = pf__blas_serial_begin();
  gram(w, k, X);
  memcpy(w->A, w->F, n * n * sizeof(double));
  for (size_t i = 0; i < n; i++) w->A[i * n + i] += jitter;
  /* The H^-1 terms, then the eigensolver, each spread over the threads
   * with fixed blocks (pgemm); metric_terms may use Z as scratch before the
   * eigensolver writes it. */
  size_t r = 0;
  const double *Ut = NULL, *lr = NULL;
  int info = 0;
  metric_terms(w, X, Hinv);
  const int why = eigen_leading(w, tau, &r, &Ut, &lr, &info);
  if (why != 0) {
    pf__blas_serial_end(old);
    if (why == 2)
      PF_RAISE(PF_ELINALG, "svmd: the Gram matrix has no positive "
               "eigenvalue (largest %g); use a positive jitter",
               w->lam[n - 1]);
    PF_RAISE(PF_ELINALG, "svmd: the Gram eigendecomposition failed (LAPACK "
             "info %d%s)", info, why == 3 ? ", back-transformation" : "");
  }
  *rank = r;
  w->kept_ut = Ut;
  w->kept_lr = lr;
  const int N = (int)n, D = (int)d, R = (int)r;

  /* W1 = (F' U)^T [H_l^-1 xc_l] = U^T (F' [H_l^-1 xc_l]) (F' symmetric):
   * n^2 d instead of n^2 r flops.  Under MPI each rank forms its rows of
   * F' [H^-1 xc] and of q (metric_terms), and both are all-gathered; the
   * eigenpairs and the O(n r d) rest are computed by every rank (the
   * eigensolver does not split; see docs/scale.md). */
  size_t lo, hi;
  my_rows(n, &lo, &hi);
  if (hi > lo)
    pgemm(w->nthr, 1, CblasNoTrans, CblasNoTrans, hi - lo, d, n, 1.0,
          w->F1 + lo * n, n, w->Q, d, 0.0, w->F1U + lo * d, d);
  int crc = pf_comm_share_tiles(w->q, n, d, PF_PAIR_TILE);
  if (crc == 0) crc = pf_comm_share_tiles(w->F1U, n, d, PF_PAIR_TILE);
  if (crc != 0) {
    pf__blas_serial_end(old);
    return crc;
  }
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, D, N, 1.0, Ut, N,
              w->F1U, D, 0.0, w->W1, D);
  /* W2 = U^T [M_p xc_p] (metric_terms). */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, D, N, 1.0, Ut, N,
              w->q, D, 0.0, w->W2, D);
  /* B = diag(sqrt mu) (U^T S + W / sqrt n), W / sqrt n = (2 / lambda)
   * (W1 - W2); T = U B. */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, D, N, 1.0, Ut, N,
              S, D, 0.0, w->B, D);
  for (size_t j = 0; j < r; j++) {
    const double c = 2.0 / lr[j], sm = sqrt(lr[j] / (double)n);
    double *b = w->B + j * d;
    const double *a1 = w->W1 + j * d, *a2 = w->W2 + j * d;
    for (size_t c2 = 0; c2 < d; c2++)
      b[c2] = sm * (b[c2] + c * (a1[c2] - a2[c2]));
  }
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, D, R, 1.0, Ut, N,
              w->B, D, 0.0, w->T, D);
  /* g = U diag(sqrt mu) U^T [H_m T_m]. */
#pragma omp parallel for schedule(static) num_threads(w->nthr)
  for (size_t m = 0; m < n; m++)
    matvec(d, H + m * dd, w->T + m * d, w->Q + m * d);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, D, N, 1.0, Ut, N,
              w->Q, D, 0.0, w->B, D);
  for (size_t j = 0; j < r; j++) {
    const double sm = sqrt(lr[j] / (double)n);
    for (size_t c2 = 0; c2 < d; c2++) w->B[j * d + c2] *= sm;
  }
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, D, R, 1.0, Ut, N,
              w->B, D, 0.0, g, D);
  pf__blas_serial_end(old);
  return 0;
}

/* ---- the svmd sampler --------------------------------------------------- */

static const char *const svmd_info[] = {"step_size", "rank", "bandwidth",
                                        "backoffs"};

typedef struct svmd {
  pf_target *t;
  const pf_domain *dom;
  const pf_mirror_ops *mir;
  const void *mctx;
  size_t n, d;
  double tau, jitter;
  pf_nonfinite_policy policy;
  long long max_backoff;
  double backoffs;
  pf_kernel *k;
  pf__opt *opt;
  pf__svmd *w;
  double *E, *Ep, *Xp, *lpp, *Sp; /* eta; proposal's eta, theta, logp, s */
  double *H, *Hinv;               /* n x d x d */
  double *g;
  int nthr;
  size_t wlen;
  double *work; /* nthr x (wlen + d) */
} svmd;

static void svmd_destroy(void *state)
{
  svmd *s = state;
  if (!s) return;
  pf_kernel_destroy(&s->k);
  pf__opt_destroy(&s->opt);
  pf__svmd_destroy(&s->w);
  free(s->E);
  free(s->Ep);
  free(s->Xp);
  free(s->lpp);
  free(s->Sp);
  free(s->H);
  free(s->Hinv);
  free(s->g);
  free(s->work);
  free(s);
}

static int svmd_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                       void **state)
{
  int rc = 0;
  svmd *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the svmd sampler");
  s->t = t;
  s->dom = pf_target_domain(t);
  s->mir = pf_domain_mirror(s->dom);
  s->mctx = pf_domain_ctx(s->dom);
  s->n = n;
  s->d = d;
  if (!s->mir) {
    rc = pf__config_raise(cfg, "name", PF_ECONFIG, __FILE__, __LINE__,
                          "svmd needs a target whose domain has a mirror "
                          "map; domain '%s' has none",
                          pf_domain_name(s->dom));
    goto fail;
  }
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "eigen_threshold", &s->tau), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "jitter", &s->jitter), fail);
  PF_TRY_GOTO(rc, pf_sampler_policy(cfg, &s->policy), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "max_backoff", &s->max_backoff), fail);
  PF_TRY_GOTO(rc, pf_kernel_create(pf_node_get(cfg, "kernel"), n, &s->k),
              fail);
  PF_TRY_GOTO(rc, pf__opt_create(cfg, n, d, &s->opt), fail);
  PF_TRY_GOTO(rc, pf__svmd_create(n, d, &s->w), fail);
  const size_t nd = n * d;
  s->E = pf_alloc_doubles(nd);
  s->Ep = pf_alloc_doubles(nd);
  s->Xp = pf_alloc_doubles(nd);
  s->Sp = pf_alloc_doubles(nd);
  s->g = pf_alloc_doubles(nd);
  s->lpp = pf_alloc_doubles(n);
  s->H = pf_alloc_doubles(nd * d);
  s->Hinv = pf_alloc_doubles(nd * d);
  s->nthr = omp_get_max_threads();
  s->wlen = pf_domain_work_len(s->dom) + 1;
  s->work = pf_alloc_doubles((size_t)s->nthr * (s->wlen + 2 * d));
  PF_CHECK_GOTO(rc, s->E && s->Ep && s->Xp && s->Sp && s->g && s->lpp &&
                        s->H && s->Hinv && s->work,
                PF_ENOMEM, fail, "allocating svmd buffers (n = %zu, d = %zu)",
                n, d);
  *state = s;
  return 0;
fail:
  svmd_destroy(s);
  return rc;
}

static int svmd_init(void *state, pf_particles *p)
{
  svmd *s = state;
  const size_t n = s->n, d = s->d;
  int rc = 0;
#pragma omp parallel for schedule(static) num_threads(s->nthr) reduction(min : rc)
  for (size_t i = 0; i < n; i++) {
    double *wk = s->work + (size_t)omp_get_thread_num() * (s->wlen + 2 * d);
    int r = s->mir->grad_psi(s->mctx, p->x + i * d, s->E + i * d, wk);
    if (r < rc) rc = r;
  }
  PF_TRY(rc);
  PF_TRY(pf_target_logp_grad_dual(s->t, n, s->E, p->x, p->logp, p->grad));
  size_t bad = pf_particles_find_nonfinite(p);
  PF_CHECK(bad == n, PF_ENONFINITE,
           "svmd: initial particle %zu has a non-finite dual log density or "
           "score", bad);
  return 0;
}

/* hess psi and its inverse at every particle, as explicit symmetric
 * matrices: column c is the map applied to e_c. */
static int build_metrics(svmd *s, const double *X)
{
  const size_t n = s->n, d = s->d, dd = d * d;
  int rc = 0;
#pragma omp parallel for schedule(static) num_threads(s->nthr) reduction(min : rc)
  for (size_t i = 0; i < n; i++) {
    double *wk = s->work + (size_t)omp_get_thread_num() * (s->wlen + 2 * d);
    double *e = wk + s->wlen, *col = e + d;
    const double *x = X + i * d;
    memset(e, 0, d * sizeof(double));
    for (size_t c = 0; c < d; c++) {
      e[c] = 1.0;
      int r1 = s->mir->hess_psi_vec(s->mctx, x, e, col, wk);
      for (size_t a = 0; a < d; a++) s->H[i * dd + a * d + c] = col[a];
      int r2 = s->mir->hess_psi_inv_vec(s->mctx, x, e, col, wk);
      for (size_t a = 0; a < d; a++) s->Hinv[i * dd + a * d + c] = col[a];
      e[c] = 0.0;
      if (r1 < rc) rc = r1;
      if (r2 < rc) rc = r2;
    }
  }
  return rc;
}

static int all_finite(const double *v, size_t m)
{
  for (size_t i = 0; i < m; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

static int svmd_step(void *state, long iter, pf_particles *p, double *info)
{
  svmd *s = state;
  const size_t n = s->n, d = s->d, nd = n * d;
  size_t r = 0;
  PF_TRY(pf_kernel_fit(s->k, n, d, p->x));
  PF_TRY(build_metrics(s, p->x));
  PF_TRY(pf__svmd_direction(s->w, s->k, p->x, p->grad, s->H, s->Hinv,
                            s->jitter, s->tau, s->g, &r));
  PF_CHECK(all_finite(s->g, nd), PF_ENONFINITE,
           "svmd: iteration %ld: the direction is not finite (a particle at "
           "the domain's boundary?)", iter);
  double lr = pf__opt_lr(s->opt);
  for (long long tries = 0;; tries++) {
    lr = pf__opt_lr(s->opt);
    pf__opt_propose(s->opt, s->E, s->g, s->Ep);
    PF_TRY(pf_target_logp_grad_dual(s->t, n, s->Ep, s->Xp, s->lpp, s->Sp));
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
      if (!isfinite(s->lpp[i]) || !all_finite(s->Ep + i * d, d) ||
          !all_finite(s->Xp + i * d, d) || !all_finite(s->Sp + i * d, d))
        bad = i;
    if (bad == n) break;
    if (s->policy == PF_NONFINITE_ABORT || tries >= s->max_backoff)
      PF_RAISE(PF_ENONFINITE,
               "svmd: iteration %ld: particle %zu reached a non-finite "
               "position, log density or score with step size %g%s",
               iter, bad, lr,
               s->policy == PF_NONFINITE_ABORT
                   ? " (on_nonfinite: abort; the last good state is kept)"
                   : " after the maximum number of step-size halvings");
    pf__opt_set_lr(s->opt, 0.5 * lr);
    s->backoffs += 1.0;
  }
  pf__opt_commit(s->opt);
  memcpy(s->E, s->Ep, nd * sizeof(double));
  memcpy(p->x, s->Xp, nd * sizeof(double));
  memcpy(p->grad, s->Sp, nd * sizeof(double));
  memcpy(p->logp, s->lpp, n * sizeof(double));
  info[0] = lr;
  info[1] = (double)r;
  info[2] = pf_kernel_bandwidth(s->k);
  info[3] = s->backoffs;
  return 0;
}

/* Checkpoints: dual positions, step rule, bandwidth, counters. */
static int svmd_state(void *state, pf_state_visitor *v)
{
  svmd *s = state;
  PF_TRY(pf__opt_state(s->opt, v));
  PF_TRY(pf_kernel_state(s->k, "bandwidth", v));
  PF_TRY(pf_state_f64(v, "backoffs", &s->backoffs, 1));
  PF_TRY(pf_state_f64(v, "eta", s->E, s->n * s->d));
  return 0;
}

static const pf_param svmd_params[] = {
    {"kernel", PF_P_PLUGIN, "{name: imq, bandwidth: median}", NULL,
     "scalar kernel on the primal points (see `pflow list kernels`); a "
     "median bandwidth is refitted every step", 0, NULL, &pf_kernels},
    PF__SVMD_PARAM_TAU("0.98"),
    PF__SVMD_PARAM_JITTER("1e-5"),
    PF__OPT_PARAMS("rmsprop", "0.1"),
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_svmd = {
    .base = {"svmd",
             "Stein variational mirror descent (Shi, Liu & Mackey 2022): "
             "adaptive matrix kernel from the Gram eigendecomposition, steps "
             "in the mirror map's dual coordinates",
             svmd_params},
    .example = "{name: svmd, n_particles: 100, n_iter: 300, optimizer: "
               "plain, step_size: 0.1}",
    .info_names = svmd_info,
    .n_info = sizeof svmd_info / sizeof svmd_info[0],
    .create = svmd_create,
    .destroy = svmd_destroy,
    .init = svmd_init,
    .step = svmd_step,
    .state = svmd_state,
};
