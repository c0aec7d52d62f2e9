/* `polytope`: the general polyhedron {x : A x <= b} (A: m x d).
 *
 * Rows are normalized at creation (a_i <- a_i/|a_i|, b_i <- b_i/|a_i|) so
 * slacks s_i = b_i - a_i.x are Euclidean distances to the face planes.
 *
 * Creation solves two small linear programs with the dense simplex method
 * below (there is no LP library):
 *  - the Chebyshev center: max r s.t. a_i.x + r <= b_i, r <= rcap.  An
 *    optimum r <= 0 means an empty polytope or one without interior (both
 *    rejected).  rcap = max(1, max_i |b_i|) only matters for unbounded
 *    polytopes (whose largest inscribed ball may be infinite): for a bounded
 *    one 0 is a convex combination of rows, sum w_i a_i = 0, so
 *    r <= sum w_i b_i <= max b_i <= rcap.
 *  - boundedness: P is bounded iff no u != 0 has A u <= 0.  By Stiemke's
 *    lemma that holds iff rank A = d and some y > 0 has A^T y = 0; the LP
 *    max t s.t. A^T y = 0, sum y = 1, y_i >= t decides the second part
 *    (bounded iff t* > 0), an eigenvalue check of A^T A the first.
 *
 * Projection: a primal active-set QP (default; exact in finitely many steps,
 * iterates stay feasible, ~d small Cholesky solves) or Dykstra's algorithm
 * over the half-spaces (Hildreth's dual coordinate ascent: for half-spaces
 * the Dykstra increments are multiples of the normals, so m scalars suffice
 * instead of m*d vectors; simple but only linearly convergent).
 *
 * Mirror map `log_barrier`: psi(x) = -sum log s_i (of the normalized rows; it
 * differs from the raw barrier by a constant).  grad psi is onto R^d only for
 * bounded polytopes, so only they have the map (mirror_of returns NULL for
 * unbounded ones; called directly, grad psi* then returns PF_ENOTSUP). */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/domain.h"
#include "pflow/error.h"

enum { PROJ_ACTIVE_SET, PROJ_DYKSTRA };

/* Damped Newton for grad psi*: iteration cap and the Newton decrement
 * (affine-invariant, so a relative accuracy) at which it stops. */
#define NEWTON_MAX 200
#define NEWTON_TOL 1e-12

typedef struct polytope {
  size_t d, m;
  double *A;      /* m x d normalized rows */
  double *b;      /* m */
  double *center; /* d, Chebyshev center */
  double radius;  /* Chebyshev radius (capped at rcap when unbounded) */
  double *ac;     /* d, analytic center (bounded) or the Chebyshev center */
  double scale;   /* max(1, max |b_i|): the length scale of tolerances */
  int bounded;
  int projection;
  long max_iter;
  double tol;
  unsigned max_bounces;
  double *amax;  /* m, max_j |a_ij| (QR row ordering) */
} polytope;

/* ---- small helpers ------------------------------------------------------ */

static double dot(size_t n, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t k = 0; k < n; k++) s += a[k] * b[k];
  return s;
}

/* s_i = b_i - a_i.x for all rows. */
static void slacks(const polytope *P, const double *x, double *s)
{
  for (size_t i = 0; i < P->m; i++)
    s[i] = P->b[i] - dot(P->d, P->A + i * P->d, x);
}

/* 1 when every slack is > 0 (strictly inside). */
static int strictly_inside(const polytope *P, const double *x)
{
  for (size_t i = 0; i < P->m; i++)
    if (!(P->b[i] - dot(P->d, P->A + i * P->d, x) > 0.0)) return 0;
  return 1;
}

/* ---- dense simplex ---------------------------------------------------------
 * min c.w s.t. M w = h, w >= 0 (M: p x n row-major), two phases on a full
 * tableau with p artificial columns, Bland's rule (no cycling).  The
 * artificial columns are kept up to date in phase 2 so the simplex
 * multipliers pi = c_B B^-1 (the solution of the dual max h.pi s.t.
 * M^T pi <= c) can be read off their reduced costs: d_art_k = -pi_k.
 * Returns 0 optimal, 1 infeasible, 2 unbounded, PF_ENOCONV at the pivot
 * cap, PF_ENOMEM.  Used at creation only (it allocates). */
#define LP_EPS 1e-11

static void lp_pivot(double *T, size_t rows, size_t cols, size_t r, size_t c)
{
  double *pr = T + r * cols, inv = 1.0 / pr[c];
  for (size_t j = 0; j < cols; j++) pr[j] *= inv;
  pr[c] = 1.0;
  for (size_t i = 0; i < rows; i++) {
    if (i == r) continue;
    double *pi = T + i * cols, f = pi[c];
    if (f == 0.0) continue;
    for (size_t j = 0; j < cols; j++) pi[j] -= f * pr[j];
    pi[c] = 0.0;
  }
}

/* Run simplex iterations with entering columns < ncand.  Returns 0 at the
 * optimum, 2 unbounded, PF_ENOCONV at the cap. */
static int lp_iterate(double *T, size_t p, size_t cols, size_t ncand,
                      size_t *basis, long *budget)
{
  const size_t rhs = cols - 1;
  double *obj = T + p * cols;
  for (;;) {
    size_t e = ncand;
    for (size_t j = 0; j < ncand; j++)
      if (obj[j] < -LP_EPS) {
        e = j;
        break;
      }
    if (e == ncand) return 0;
    size_t r = p;
    double best = INFINITY;
    for (size_t i = 0; i < p; i++) {
      double a = T[i * cols + e];
      if (a <= LP_EPS) continue;
      double q = T[i * cols + rhs] / a;
      /* Bland: among (near-)ties leave the smallest basic index. */
      if (r == p || q < best - 1e-14 ||
          (q <= best + 1e-14 && basis[i] < basis[r])) {
        if (q < best) best = q;
        r = i;
      }
    }
    if (r == p) return 2;
    if ((*budget)-- <= 0) return PF_ENOCONV;
    lp_pivot(T, p + 1, cols, r, e);
    basis[r] = e;
  }
}

static int lp_solve(size_t p, size_t n, const double *M, const double *h,
                    const double *c, double *val, double *pi)
{
  const size_t cols = n + p + 1, rhs = cols - 1;
  double *T = calloc((p + 1) * cols, sizeof(double));
  size_t *basis = calloc(p, sizeof(size_t));
  double *sign = calloc(p, sizeof(double));
  int rc = 0;
  long budget = 50 * (long)(n + p) + 1000;
  if (!T || !basis || !sign) {
    rc = PF_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < p; i++) {
    sign[i] = h[i] < 0 ? -1.0 : 1.0;
    for (size_t j = 0; j < n; j++) T[i * cols + j] = sign[i] * M[i * n + j];
    T[i * cols + n + i] = 1.0;
    T[i * cols + rhs] = sign[i] * h[i];
    basis[i] = n + i;
  }
  /* Phase 1: minimize the sum of artificials. */
  double *obj = T + p * cols;
  for (size_t j = 0; j < cols; j++) {
    double s = 0.0;
    for (size_t i = 0; i < p; i++) s += T[i * cols + j];
    obj[j] = (j >= n && j < n + p ? 1.0 : 0.0) - s;
  }
  /* obj[rhs] now holds -(sum of artificials), the tableau's -z. */
  rc = lp_iterate(T, p, cols, n, basis, &budget);
  if (rc < 0) goto done;
  double hs = 1.0;
  for (size_t i = 0; i < p; i++) hs += fabs(h[i]);
  if (-obj[rhs] > 1e-9 * hs) {
    rc = 1;
    goto done;
  }
  /* Drive zero-level artificials out of the basis where possible; rows
   * with no structural entry are redundant and keep their artificial. */
  for (size_t i = 0; i < p; i++) {
    if (basis[i] < n) continue;
    size_t best = n;
    double amax = 1e-9;
    for (size_t j = 0; j < n; j++)
      if (fabs(T[i * cols + j]) > amax) {
        amax = fabs(T[i * cols + j]);
        best = j;
      }
    if (best < n) {
      lp_pivot(T, p + 1, cols, i, best);
      basis[i] = best;
    }
  }
  /* Phase 2: the true costs (artificials cost 0 and never enter). */
  for (size_t j = 0; j < cols; j++) {
    double s = 0.0;
    for (size_t i = 0; i < p; i++)
      if (basis[i] < n) s += c[basis[i]] * T[i * cols + j];
    obj[j] = (j < n ? c[j] : 0.0) - s;
  }
  rc = lp_iterate(T, p, cols, n, basis, &budget);
  if (rc != 0) goto done;
  *val = -obj[rhs];
  for (size_t i = 0; i < p; i++) pi[i] = -sign[i] * obj[n + i];
done:
  free(T);
  free(basis);
  free(sign);
  return rc;
}

/* Chebyshev LP through its dual (standard form, always feasible at
 * y = 0, z = 1): min b.y + rcap z s.t. A^T y = 0, 1.y + z = 1, y, z >= 0.
 * The multipliers are (x, r). */
static int chebyshev(const polytope *P, double rcap, double *x, double *r)
{
  const size_t d = P->d, m = P->m, p = d + 1, n = m + 1;
  double *M = calloc(p * n, sizeof(double)), *h = calloc(p, sizeof(double));
  double *c = calloc(n, sizeof(double)), *pi = calloc(p, sizeof(double));
  int rc = PF_ENOMEM;
  if (M && h && c && pi) {
    for (size_t i = 0; i < m; i++) {
      for (size_t j = 0; j < d; j++) M[j * n + i] = P->A[i * d + j];
      M[d * n + i] = 1.0;
      c[i] = P->b[i];
    }
    M[d * n + m] = 1.0;
    c[m] = rcap;
    h[d] = 1.0;
    double val = 0.0;
    rc = lp_solve(p, n, M, h, c, &val, pi);
    if (rc == 0) {
      memcpy(x, pi, d * sizeof(double));
      *r = val;
    }
  }
  free(M);
  free(h);
  free(c);
  free(pi);
  return rc;
}

/* Boundedness (see the file comment): rank A = d and the LP
 * min -t s.t. A^T (w + t 1) = 0, 1.w + m t = 1, w, t >= 0 has t* > 0. */
static int is_bounded(const polytope *P, int *bounded)
{
  const size_t d = P->d, m = P->m, p = d + 1, n = m + 1;
  *bounded = 0;
  if (m <= d) return 0; /* a bounded polytope needs at least d + 1 faces */
  double *G = calloc(d * d, sizeof(double)), *ev = calloc(d, sizeof(double));
  int rc = 0;
  if (!G || !ev) {
    free(G);
    free(ev);
    PF_RAISE(PF_ENOMEM, "allocating the boundedness check");
  }
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < d; j++)
      for (size_t k = 0; k < d; k++)
        G[j * d + k] += P->A[i * d + j] * P->A[i * d + k];
  lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)d,
                                  G, (lapack_int)d, ev);
  int full_rank = info == 0 && ev[0] > 1e-12 * ev[d - 1];
  free(G);
  free(ev);
  if (info != 0)
    PF_RAISE(PF_ELINALG, "eigenvalues of A^T A (dsyev info %d)", (int)info);
  if (!full_rank) return 0;
  double *M = calloc(p * n, sizeof(double)), *h = calloc(p, sizeof(double));
  double *c = calloc(n, sizeof(double)), *pi = calloc(p, sizeof(double));
  rc = PF_ENOMEM;
  if (M && h && c && pi) {
    for (size_t i = 0; i < m; i++) {
      for (size_t j = 0; j < d; j++) {
        M[j * n + i] = P->A[i * d + j];
        M[j * n + m] += P->A[i * d + j];
      }
      M[d * n + i] = 1.0;
    }
    M[d * n + m] = (double)m;
    c[m] = -1.0;
    h[d] = 1.0;
    double val = 0.0;
    rc = lp_solve(p, n, M, h, c, &val, pi);
    if (rc == 0) *bounded = -val > 1e-12;
    if (rc == 1) rc = 0; /* infeasible: no y >= 0 with A^T y = 0 */
  }
  free(M);
  free(h);
  free(c);
  free(pi);
  if (rc == PF_ENOMEM) PF_RAISE(PF_ENOMEM, "allocating the boundedness LP");
  if (rc != 0) PF_RAISE(PF_ENOCONV, "the boundedness LP failed (code %d)", rc);
  return 0;
}

/* ---- barrier Newton (grad psi*) ----------------------------------------- */

/* The Cholesky factor of H = A^T diag(1/s^2) A, computed as the R of a
 * Householder QR of B = diag(1/s) A (H = B^T B = R^T R; the row order of B
 * does not change B^T B) rather than by Cholesky of the formed H.  Near a
 * face cond(H) ~ (diameter/slack)^2 and forming H squares the condition
 * number; with the rows of B sorted by decreasing max-norm, Householder QR
 * is row-wise backward stable (Cox & Higham, IMA J. Numer. Anal. 18, 1998),
 * so the tiny slacks (exact row scalings) cost no accuracy.  Measured
 * relative error of H^-1 v at slack 1e-6 / 1e-12 of the chord (d = 10,
 * m = 30, vs 60-digit arithmetic): Cholesky of H 4e-4 / fails, unsorted QR
 * 3e-10 / 5e-5, sorted QR 4e-14 / 3e-14.
 * The QR and the triangular solves are plain loops rather than LAPACK:
 * these are per-point calls from inside the samplers' OpenMP loops, and
 * small LAPACK/BLAS calls there cost more in overhead (and in OpenBLAS's
 * own threading) than the ~2 m d^2 flops they do.  Q is not needed.
 * Layout of F (FACTOR_LEN): B column-major m x d (R in its upper triangle,
 * leading dimension m), then 2m for the sort keys. */
#define FACTOR_LEN(P) ((P)->m * (P)->d + 2 * (P)->m)

/* Shell sort of (key, index) pairs by decreasing key (in place, no
 * allocation, deterministic). */
static void sort_pairs_desc(size_t n, double *kv)
{
  static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
  for (size_t gi = 0; gi < sizeof gaps / sizeof gaps[0]; gi++) {
    const size_t gap = gaps[gi];
    for (size_t i = gap; i < n; i++) {
      double k = kv[2 * i], v = kv[2 * i + 1];
      size_t j = i;
      for (; j >= gap && kv[2 * (j - gap)] < k; j -= gap) {
        kv[2 * j] = kv[2 * (j - gap)];
        kv[2 * j + 1] = kv[2 * (j - gap) + 1];
      }
      kv[2 * j] = k;
      kv[2 * j + 1] = v;
    }
  }
}

static int barrier_factor(const polytope *P, const double *s, double *F,
                          double *logdet)
{
  const size_t d = P->d, m = P->m;
  double *kv = F + m * d;
  if (m < d)
    PF_RAISE(PF_ELINALG, "the barrier Hessian is singular: %zu faces in "
             "dimension %zu", m, d);
  for (size_t i = 0; i < m; i++) {
    kv[2 * i] = P->amax[i] / s[i];
    kv[2 * i + 1] = (double)i;
  }
  sort_pairs_desc(m, kv);
  for (size_t r = 0; r < m; r++) {
    const size_t i = (size_t)kv[2 * r + 1];
    const double w = 1.0 / s[i], *a = P->A + i * d;
    for (size_t j = 0; j < d; j++) F[r + j * m] = w * a[j];
  }
  /* Householder: column j below the diagonal becomes v (v_j = x_j - alpha,
   * alpha = -sign(x_j) |x|, so no cancellation); R_jj = alpha. */
  double l = 0.0;
  for (size_t j = 0; j < d; j++) {
    double *x = F + j * m, sc = 0.0, nrm = 0.0;
    for (size_t i = j; i < m; i++)
      if (fabs(x[i]) > sc) sc = fabs(x[i]);
    if (!(sc > 0.0) || !isfinite(sc))
      PF_RAISE(PF_ELINALG, "the barrier Hessian is singular (A needs full "
               "column rank)");
    for (size_t i = j; i < m; i++) nrm += (x[i] / sc) * (x[i] / sc);
    nrm = sc * sqrt(nrm);
    const double alpha = x[j] > 0.0 ? -nrm : nrm;
    const double vj = x[j] - alpha, vtv = 2.0 * nrm * (nrm + fabs(x[j]));
    for (size_t c = j + 1; c < d; c++) {
      double *y = F + c * m, t = vj * y[j];
      for (size_t i = j + 1; i < m; i++) t += x[i] * y[i];
      t *= 2.0 / vtv;
      y[j] -= t * vj;
      for (size_t i = j + 1; i < m; i++) y[i] -= t * x[i];
    }
    x[j] = alpha;
    l += log(nrm);
  }
  if (logdet) *logdet = 2.0 * l;
  return 0;
}

/* v <- R^-T v (forward substitution; R upper, column-major, ld m). */
static void solve_rt(size_t d, size_t m, const double *R, double *v)
{
  for (size_t i = 0; i < d; i++) {
    double t = v[i];
    const double *ri = R + i * m; /* column i: R_ki for k <= i */
    for (size_t k = 0; k < i; k++) t -= ri[k] * v[k];
    v[i] = t / ri[i];
  }
}

/* v <- H^-1 v = R^-1 R^-T v. */
static void factor_solve(const polytope *P, const double *F, double *v)
{
  const size_t d = P->d, m = P->m;
  solve_rt(d, m, F, v);
  for (size_t i = d; i-- > 0;) {
    double t = v[i];
    for (size_t k = i + 1; k < d; k++) t -= F[i + k * m] * v[k];
    v[i] = t / F[i + i * m];
  }
}

/* f(x) = psi(x) - eta.x, +inf outside (s: m scratch). */
static double barrier_f(const polytope *P, const double *eta, const double *x,
                        double *s)
{
  double f = -dot(P->d, eta, x);
  slacks(P, x, s);
  for (size_t i = 0; i < P->m; i++) {
    if (!(s[i] > 0.0)) return INFINITY;
    f -= log(s[i]);
  }
  return f;
}

/* Solve A^T (1/s(x)) = eta by damped Newton on f(x) = psi(x) - eta.x from
 * `start` (f is self-concordant, so steps of 1/(1 + lambda) stay inside and
 * decrease f, and longer Armijo steps are tried first; full steps once
 * lambda < 1/4, where convergence is quadratic; Boyd & Vandenberghe,
 * Convex Optimization, sec. 9.6).  Stops when the Newton decrement lambda
 * (affine invariant: the error of x in the local norm) is <= NEWTON_TOL,
 * or when it has reached the rounding floor lambda_noise three times,
 * returning the iterate with the smallest lambda.  lambda_noise is
 * |dg|_{H^-1} for the componentwise rounding bound dg of the gradient:
 * slack s_i = b_i - a_i.x carries ~eps (|b_i| + |a_i||x|), so 1/s_i carries
 * that over s_i^2 (near a face at slack 1e-12 this floor is ~1e-4, far
 * above NEWTON_TOL).
 * work: m + FACTOR_LEN + 6d. */
static int barrier_newton(const polytope *P, const double *eta,
                          const double *start, double *x, double *work)
{
  const size_t d = P->d, m = P->m;
  double *s = work, *F = s + m, *g = F + FACTOR_LEN(P), *dx = g + d;
  double *xt = dx + d, *e = xt + d, *dg = e + d, *xb = dg + d;
  double lam_best = INFINITY;
  int floor_hits = 0;
  memcpy(e, eta, d * sizeof(double)); /* x may alias eta */
  eta = e;
  memmove(x, start, d * sizeof(double));
  for (int it = 0; it < NEWTON_MAX; it++) {
    slacks(P, x, s);
    for (size_t k = 0; k < d; k++) {
      g[k] = -eta[k];
      dg[k] = DBL_EPSILON * fabs(eta[k]);
    }
    for (size_t i = 0; i < m; i++) {
      const double *a = P->A + i * d, w = 1.0 / s[i];
      double ax = 0.0;
      for (size_t k = 0; k < d; k++) ax += fabs(a[k] * x[k]);
      const double nw =
          DBL_EPSILON * ((fabs(P->b[i]) + ax) * w + (double)m) * w;
      for (size_t k = 0; k < d; k++) {
        g[k] += w * a[k];
        dg[k] += nw * fabs(a[k]);
      }
    }
    PF_TRY(barrier_factor(P, s, F, NULL));
    for (size_t k = 0; k < d; k++) dx[k] = -g[k];
    factor_solve(P, F, dx);
    double lam2 = -dot(d, g, dx), lam = sqrt(lam2 > 0 ? lam2 : 0.0);
    if (!isfinite(lam))
      PF_RAISE(PF_ENONFINITE, "log-barrier inverse map: non-finite Newton "
               "decrement");
    if (lam < lam_best) {
      lam_best = lam;
      memcpy(xb, x, d * sizeof(double));
    }
    if (lam <= NEWTON_TOL) return 0;
    if (lam < 1e-3) {
      memcpy(xt, dg, d * sizeof(double));
      factor_solve(P, F, xt);
      const double noise = sqrt(fabs(dot(d, dg, xt)));
      if (lam <= 4.0 * noise && ++floor_hits >= 3) {
        memcpy(x, xb, d * sizeof(double));
        return 0;
      }
    }
    double alpha = 1.0;
    if (lam >= 0.25) {
      /* Far from the solution: backtrack from the full step on the Armijo
       * condition (often accepted, much faster than the damped step),
       * down to the damped step 1/(1 + lam) that is always acceptable. */
      const double damped = 1.0 / (1.0 + lam), f0 = barrier_f(P, eta, x, s);
      for (; alpha > damped; alpha *= 0.5) {
        for (size_t k = 0; k < d; k++) xt[k] = x[k] + alpha * dx[k];
        if (barrier_f(P, eta, xt, s) <= f0 - 0.25 * alpha * lam2) break;
      }
      if (alpha < damped) alpha = damped;
    }
    for (int h = 0; h < 60; h++, alpha *= 0.5) {
      for (size_t k = 0; k < d; k++) xt[k] = x[k] + alpha * dx[k];
      if (strictly_inside(P, xt)) break;
    }
    if (strictly_inside(P, xt)) memcpy(x, xt, d * sizeof(double));
  }
  PF_RAISE(PF_ENOCONV, "log-barrier inverse map: damped Newton did not "
           "converge in %d iterations", NEWTON_MAX);
}

/* ---- create / destroy --------------------------------------------------- */

static void poly_destroy(void *ctx)
{
  polytope *P = ctx;
  if (!P) return;
  free(P->A);
  free(P->b);
  free(P->center);
  free(P->ac);
  free(P->amax);
  free(P);
}

static size_t poly_work_len(const void *ctx)
{
  const polytope *P = ctx;
  const size_t d = P->d, m = P->m;
  /* The largest user is the log-det gradient (m + FACTOR_LEN + m d); the
   * projection needs d^2 + 6d + m on top of reflection's 2d + m. */
  return 2 * m * d + d * d + 6 * m + 12 * d + 16;
}

#define CFG_FAIL(key, ...)                                                  \
  do {                                                                      \
    rc = pf__config_raise(cfg, (key), PF_ECONFIG, __FILE__, __LINE__,       \
                          __VA_ARGS__);                                     \
    goto fail;                                                              \
  } while (0)

static int poly_create(const pf_node *cfg, size_t dim, void **ctx,
                       size_t *dim_out)
{
  int rc = 0;
  double *A = NULL, *b = NULL, *work = NULL;
  size_t m = 0, d = 0, nb = 0;
  long long cd = 0, ll;
  polytope *P = calloc(1, sizeof *P);
  PF_CHECK(P, PF_ENOMEM, "allocating a polytope");
  PF_TRY_GOTO(rc, pf_cfg_matrix(cfg, "A", &A, &m, &d), fail);
  if (m == 0 || d == 0) CFG_FAIL("A", "needs at least one row (m x d, d >= 1)");
  PF_TRY_GOTO(rc, pf_cfg_reals(cfg, "b", &b, &nb), fail);
  if (nb != m)
    CFG_FAIL("b", "has %zu entries but A has %zu rows", nb, m);
  if (pf_cfg_has(cfg, "dim")) {
    PF_TRY_GOTO(rc, pf_cfg_int(cfg, "dim", &cd), fail);
    if ((size_t)cd != d)
      CFG_FAIL("dim", "dim is %lld but A has %zu columns", cd, d);
  }
  if (dim && dim != d)
    CFG_FAIL("A", "A has %zu columns but the target has dimension %zu", d, dim);
  P->d = d;
  P->m = m;
  P->A = A;
  P->b = b;
  A = b = NULL;
  P->scale = 1.0;
  for (size_t i = 0; i < m; i++) {
    double nrm = sqrt(dot(d, P->A + i * d, P->A + i * d));
    if (!isfinite(nrm) || !isfinite(P->b[i]))
      CFG_FAIL("A", "row %zu (or b[%zu]) is not finite", i, i);
    if (nrm == 0.0) CFG_FAIL("A", "row %zu is zero", i);
    for (size_t k = 0; k < d; k++) P->A[i * d + k] /= nrm;
    P->b[i] /= nrm;
    if (fabs(P->b[i]) > P->scale) P->scale = fabs(P->b[i]);
  }
  const char *proj = pf_cfg_str(cfg, "projection");
  P->projection = proj && strcmp(proj, "dykstra") == 0 ? PROJ_DYKSTRA
                                                       : PROJ_ACTIVE_SET;
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "max_iter", &ll), fail);
  P->max_iter = (long)ll;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "tol", &P->tol), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "max_bounces", &ll), fail);
  P->max_bounces = (unsigned)ll;

  P->center = calloc(d, sizeof(double));
  P->ac = calloc(d, sizeof(double));
  P->amax = calloc(m, sizeof(double));
  PF_CHECK_GOTO(rc, P->center && P->ac && P->amax, PF_ENOMEM, fail,
                "allocating a polytope");
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < d; k++)
      if (fabs(P->A[i * d + k]) > P->amax[i])
        P->amax[i] = fabs(P->A[i * d + k]);
  double r = 0.0;
  int lp = chebyshev(P, P->scale, P->center, &r);
  if (lp == PF_ENOMEM) {
    rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__, "allocating the LP");
    goto fail;
  }
  if (lp != 0)
    CFG_FAIL("A", "the Chebyshev-center LP failed (simplex code %d)", lp);
  /* The simplex solution is exact up to rounding; 1e-11 of the data scale
   * separates a genuinely thin polytope from rounding noise. */
  const double rtol = 1e-11 * P->scale;
  if (r < -rtol)
    CFG_FAIL("b", "empty polytope: no x satisfies A x <= b (the Chebyshev "
             "LP's radius is %g < 0)", r);
  if (r <= rtol)
    CFG_FAIL("b", "no interior: the polytope is contained in a hyperplane "
             "(Chebyshev radius %g)", r);
  P->radius = r;
  PF_TRY_GOTO(rc, is_bounded(P, &P->bounded), fail);
  memcpy(P->ac, P->center, d * sizeof(double));
  if (P->bounded) {
    /* The analytic center (grad psi*(0)) starts every inverse-map Newton
     * solve: it is the barrier's natural origin. */
    work = malloc(poly_work_len(P) * sizeof(double));
    double *eta0 = calloc(d, sizeof(double));
    if (!work || !eta0) free(eta0);
    PF_CHECK_GOTO(rc, work && eta0, PF_ENOMEM, fail, "allocating a polytope");
    int nrc = barrier_newton(P, eta0, P->center, P->ac, work);
    free(eta0);
    if (nrc < 0) memcpy(P->ac, P->center, d * sizeof(double));
    pf_error_clear();
  }
  free(work);
  *ctx = P;
  *dim_out = d;
  return 0;
fail:
  free(A);
  free(b);
  free(work);
  poly_destroy(P);
  return rc;
}

/* ---- membership, chords ------------------------------------------------- */

static int poly_contains(const void *ctx, const double *x, double tol)
{
  const polytope *P = ctx;
  for (size_t i = 0; i < P->m; i++) {
    double v = dot(P->d, P->A + i * P->d, x) - P->b[i];
    if (!(v <= tol)) return 0; /* also rejects NaN */
  }
  return 1;
}

static int poly_chord(const void *ctx, const double *x, const double *u,
                      double *tlo, double *thi)
{
  const polytope *P = ctx;
  double lo = -INFINITY, hi = INFINITY;
  for (size_t i = 0; i < P->m; i++) {
    const double *a = P->A + i * P->d;
    double au = dot(P->d, a, u), s = P->b[i] - dot(P->d, a, x);
    if (s < 0.0) s = 0.0;
    if (au > 0.0) {
      if (s / au < hi) hi = s / au;
    } else if (au < 0.0) {
      if (s / au > lo) lo = s / au;
    }
  }
  *tlo = lo;
  *thi = hi;
  return 0;
}

/* ---- projection --------------------------------------------------------- */

/* Solve G z = r in place (G: n x n symmetric positive definite, row-major,
 * overwritten by its Cholesky factor).  -1 if G is not numerically
 * positive definite (pivot <= 1e-14 of its diagonal entry).  Plain loops:
 * n <= d is small and this runs per point (see barrier_factor). */
static int small_chol_solve(size_t n, double *G, double *r)
{
  for (size_t j = 0; j < n; j++) {
    double t = G[j * n + j];
    for (size_t k = 0; k < j; k++) t -= G[j * n + k] * G[j * n + k];
    if (!(t > 1e-14 * G[j * n + j])) return -1;
    const double l = sqrt(t);
    G[j * n + j] = l;
    for (size_t i = j + 1; i < n; i++) {
      double u = G[i * n + j];
      for (size_t k = 0; k < j; k++) u -= G[i * n + k] * G[j * n + k];
      G[i * n + j] = u / l;
    }
  }
  for (size_t i = 0; i < n; i++) {
    double t = r[i];
    for (size_t k = 0; k < i; k++) t -= G[i * n + k] * r[k];
    r[i] = t / G[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {
    double t = r[i];
    for (size_t k = i + 1; k < n; k++) t -= G[k * n + i] * r[k];
    r[i] = t / G[i * n + i];
  }
  return 0;
}

/* Primal active-set method for min |y - x|^2/2 s.t. A y <= b (Nocedal &
 * Wright, Numerical Optimization, 2nd ed., Alg. 16.3), started at the
 * Chebyshev center with an empty working set W.  Each iteration solves the
 * equality-constrained step p = -(g + A_W^T lam), A_W A_W^T lam = -A_W g
 * with g = y - x, steps to the first blocking face (added to W), or, at a
 * stationary point of W, stops when lam >= 0 (KKT) or drops the most
 * negative multiplier.  W stays linearly independent (a blocking face has
 * a_i.p > 0 with p orthogonal to A_W), so |W| <= d.
 * work: d*d + 6d + m. */
static int project_active_set(const polytope *P, double *x, double *work)
{
  const size_t d = P->d, m = P->m;
  double *y = work, *g = y + d, *p = g + d, *lam = p + d, *wi = lam + d;
  double *G = wi + d, *inw = G + d * d;
  size_t nw = 0;
  int at_min = 0;
  memcpy(y, P->center, d * sizeof(double));
  memset(inw, 0, m * sizeof(double));
  for (long it = 0; it < P->max_iter; it++) {
    for (size_t k = 0; k < d; k++) g[k] = y[k] - x[k];
    double gn = sqrt(dot(d, g, g));
    if (nw > 0) {
      for (size_t a = 0; a < nw; a++) {
        const double *ra = P->A + (size_t)wi[a] * d;
        for (size_t c = 0; c <= a; c++)
          G[a * nw + c] = G[c * nw + a] = dot(d, ra, P->A + (size_t)wi[c] * d);
        lam[a] = -dot(d, ra, g);
      }
      if (small_chol_solve(nw, G, lam) != 0) {
        memcpy(x, y, d * sizeof(double)); /* feasible, not optimal */
        PF_RAISE(PF_ENOCONV, "polytope projection (active set): numerically "
                 "dependent faces in the working set");
      }
    }
    for (size_t k = 0; k < d; k++) p[k] = -g[k];
    for (size_t a = 0; a < nw; a++) {
      const double *ra = P->A + (size_t)wi[a] * d;
      for (size_t k = 0; k < d; k++) p[k] -= lam[a] * ra[k];
    }
    double pn = sqrt(dot(d, p, p));
    if (at_min || pn <= 1e-13 * (1.0 + gn)) {
      size_t jmin = nw;
      double lmin = -1e-12 * (1.0 + gn);
      for (size_t a = 0; a < nw; a++)
        if (lam[a] < lmin) {
          lmin = lam[a];
          jmin = a;
        }
      if (jmin == nw) {
        memcpy(x, y, d * sizeof(double));
        return 0;
      }
      inw[(size_t)wi[jmin]] = 0.0;
      wi[jmin] = wi[--nw];
      at_min = 0;
      continue;
    }
    double alpha = 1.0;
    size_t block = m;
    for (size_t i = 0; i < m; i++) {
      if (inw[i] != 0.0) continue;
      const double *a = P->A + i * d;
      double ap = dot(d, a, p);
      if (!(ap > 1e-14 * pn)) continue;
      double s = P->b[i] - dot(d, a, y);
      if (s < 0.0) s = 0.0;
      if (s < alpha * ap) {
        alpha = s / ap;
        block = i;
      }
    }
    for (size_t k = 0; k < d; k++) y[k] += alpha * p[k];
    if (block < m) {
      inw[block] = 1.0;
      wi[nw++] = (double)block;
      at_min = 0;
    } else {
      at_min = 1;
    }
  }
  memcpy(x, y, d * sizeof(double));
  PF_RAISE(PF_ENOCONV, "polytope projection (active set) did not converge "
           "in %ld iterations", P->max_iter);
}

/* Dykstra's algorithm over the half-spaces H_i = {a_i.y <= b_i}.  The
 * increment of H_i is mu_i a_i (mu_i >= 0), so it is stored as the scalar
 * mu_i: this is Hildreth's method, coordinate ascent on the dual QP.  Stops
 * when a sweep changes no mu_i by more than tol * scale.  work: m. */
static int project_dykstra(const polytope *P, double *x, double *work)
{
  const size_t d = P->d, m = P->m;
  double *mu = work;
  const double stop = P->tol * (P->scale + sqrt(dot(d, x, x)));
  memset(mu, 0, m * sizeof(double));
  for (long it = 0; it < P->max_iter; it++) {
    double change = 0.0;
    for (size_t i = 0; i < m; i++) {
      const double *a = P->A + i * d;
      /* z + mu_i a_i projected onto H_i: new mu = max(0, a.z + mu_i - b). */
      double v = dot(d, a, x) + mu[i] - P->b[i];
      double nmu = v > 0.0 ? v : 0.0, dm = nmu - mu[i];
      if (dm != 0.0)
        for (size_t k = 0; k < d; k++) x[k] -= dm * a[k];
      mu[i] = nmu;
      if (fabs(dm) > change) change = fabs(dm);
    }
    if (change <= stop) return 0;
  }
  PF_RAISE(PF_ENOCONV, "polytope projection (Dykstra) did not converge in "
           "%ld sweeps", P->max_iter);
}

static int poly_project(const void *ctx, double *x, double *work)
{
  const polytope *P = ctx;
  for (size_t k = 0; k < P->d; k++)
    if (!isfinite(x[k]))
      PF_RAISE(PF_ENONFINITE, "projecting a non-finite point onto a polytope");
  if (poly_contains(P, x, 0.0)) return 0;
  return P->projection == PROJ_DYKSTRA ? project_dykstra(P, x, work)
                                       : project_active_set(P, x, work);
}

/* ---- reflection --------------------------------------------------------- */

/* Move x a tiny fraction toward the Chebyshev center: every slack becomes
 * >= (1 - eps) s_i + eps r > 0, so a point left on a face by rounding is
 * pushed strictly inside whatever the corner angle.  eps is a few hundred
 * ulps of the coordinates relative to r; retried larger if rounding still
 * leaves it outside. */
static int nudge_inside(const polytope *P, double *x)
{
  const size_t d = P->d;
  double xn = 0.0;
  for (size_t k = 0; k < d; k++)
    if (fabs(x[k]) > xn) xn = fabs(x[k]);
  double eps = 256.0 * DBL_EPSILON * (P->scale + xn) / P->radius;
  for (int t = 0; t < 8; t++, eps *= 16.0) {
    double e = eps < 0.5 ? eps : 0.5;
    for (size_t k = 0; k < d; k++) x[k] += e * (P->center[k] - x[k]);
    if (poly_contains(P, x, 0.0)) return 1;
  }
  return 0;
}

/* Billiard reflection.  Each leg moves along the remaining displacement vr
 * to the first face hit (smallest t_i = s_i / a_i.vr over faces with
 * a_i.vr > 0), then reflects vr' = vr - 2 (vr.a_i) a_i.  Corners: every face
 * hit within 1e-10 r (Chebyshev radius) of path length after the first is
 * treated as hit at the same point and reflected off in index order (only
 * if vr still points out of it), which for orthogonal faces is the exact
 * corner reflection.  After the bounce cap the unreflected end point x + v
 * is projected instead (info->fallback = 1).  work: 2d + m + projection. */
static int poly_reflect(const void *ctx, double *x, const double *v,
                        double *work, pf_reflect_info *info)
{
  const polytope *P = ctx;
  const size_t d = P->d, m = P->m;
  double *x0 = work, *vr = x0 + d, *t = vr + d, *pw = t + m;
  memcpy(x0, x, d * sizeof(double));
  memcpy(vr, v, d * sizeof(double));
  info->bounces = 0;
  info->fallback = 0;
  for (;;) {
    double thit = 1.0;
    size_t hit = m;
    for (size_t i = 0; i < m; i++) {
      const double *a = P->A + i * d;
      double av = dot(d, a, vr);
      t[i] = INFINITY;
      if (!(av > 0.0)) continue;
      double s = P->b[i] - dot(d, a, x);
      t[i] = (s > 0.0 ? s : 0.0) / av;
      if (t[i] < thit) {
        thit = t[i];
        hit = i;
      }
    }
    if (hit == m) {
      for (size_t k = 0; k < d; k++) x[k] += vr[k];
      break;
    }
    if (info->bounces >= P->max_bounces) goto fallback;
    double vn = sqrt(dot(d, vr, vr));
    double tcut = thit + 1e-10 * P->radius / vn;
    for (size_t k = 0; k < d; k++) {
      x[k] += thit * vr[k];
      vr[k] *= 1.0 - thit;
    }
    for (size_t i = 0; i < m; i++) {
      if (!(t[i] <= tcut)) continue;
      const double *a = P->A + i * d;
      double av = dot(d, a, vr);
      if (!(av > 0.0)) continue;
      for (size_t k = 0; k < d; k++) vr[k] -= 2.0 * av * a[k];
      info->bounces++;
    }
    if (!nudge_inside(P, x)) goto fallback;
  }
  if (poly_contains(P, x, PF_DOMAIN_TOL)) return 0;
fallback:
  info->fallback = 1;
  for (size_t k = 0; k < d; k++) x[k] = x0[k] + v[k];
  return poly_project(P, x, pw);
}

/* ---- interior points ---------------------------------------------------- */

/* Hit-and-run from the Chebyshev center: 10 d + 50 steps, each along a
 * standard-normal direction to a uniform point of the chord.  The chain is
 * started fresh per call, so draws are independent but only approximately
 * uniform (hit-and-run mixes in O*(d^2) steps for well-rounded bodies;
 * 10 d + 50 steps is meant for initialization, not for exact sampling).
 * Unbounded polytopes: the chords are cut to the ball of radius 10 r around
 * the center, so the law is approximately uniform on that intersection. */
static int poly_interior(const void *ctx, pf_rng *rng, double *x, double *work)
{
  const polytope *P = ctx;
  const size_t d = P->d;
  double *u = work, *w = u + d;
  const double R = 10.0 * P->radius;
  memcpy(x, P->center, d * sizeof(double));
  const size_t steps = 10 * d + 50;
  for (size_t st = 0; st < steps; st++) {
    double lo, hi, un;
    pf_rng_normal(rng, d, u);
    poly_chord(P, x, u, &lo, &hi);
    if (!P->bounded) {
      /* |x - c + t u|^2 <= R^2: t in [-q - sqrt(D), -q + sqrt(D)]. */
      un = dot(d, u, u);
      for (size_t k = 0; k < d; k++) w[k] = x[k] - P->center[k];
      double q = dot(d, w, u) / un, D = q * q - (dot(d, w, w) - R * R) / un;
      D = D > 0.0 ? sqrt(D) : 0.0;
      if (-q - D > lo) lo = -q - D;
      if (-q + D < hi) hi = -q + D;
    }
    if (!(hi > lo) || !isfinite(hi - lo)) continue;
    double U;
    pf_rng_uniforms_open(rng, 1, &U);
    double tt = lo + (hi - lo) * U;
    for (size_t k = 0; k < d; k++) w[k] = x[k] + tt * u[k];
    if (strictly_inside(P, w)) memcpy(x, w, d * sizeof(double));
  }
  return 0;
}

static int poly_bounded(const void *ctx)
{
  return ((const polytope *)ctx)->bounded;
}

/* ---- mirror map: log barrier -------------------------------------------- */

/* Slacks at x, raising PF_EDOMAIN unless all are positive. */
static int barrier_slacks(const polytope *P, const double *x, double *s)
{
  slacks(P, x, s);
  for (size_t i = 0; i < P->m; i++)
    if (!(s[i] > 0.0))
      PF_RAISE(PF_EDOMAIN, "log barrier: point not strictly inside the "
               "polytope (slack %g at face %zu)", s[i], i);
  return 0;
}

/* eta = A^T (1/s). work: m. */
static int lb_grad_psi(const void *ctx, const double *x, double *eta,
                       double *work)
{
  const polytope *P = ctx;
  const size_t d = P->d;
  double *s = work;
  PF_TRY(barrier_slacks(P, x, s));
  memset(eta, 0, d * sizeof(double));
  for (size_t i = 0; i < P->m; i++) {
    const double *a = P->A + i * d, w = 1.0 / s[i];
    for (size_t k = 0; k < d; k++) eta[k] += w * a[k];
  }
  return 0;
}

/* x = grad psi*(eta): Newton from the analytic center.
 * work: m + FACTOR_LEN + 6d. */
static int lb_grad_psi_star(const void *ctx, const double *eta, double *x,
                            double *work)
{
  const polytope *P = ctx;
  if (!P->bounded)
    PF_RAISE(PF_ENOTSUP, "the log-barrier mirror map needs a bounded "
             "polytope (grad psi is not onto R^d otherwise)");
  for (size_t k = 0; k < P->d; k++)
    if (!isfinite(eta[k]))
      PF_RAISE(PF_ENONFINITE, "log barrier: non-finite dual point");
  return barrier_newton(P, eta, P->ac, x, work);
}

/* out = A^T ((A v) / s^2), no factorization needed.  work: m. */
static int lb_hess_vec(const void *ctx, const double *x, const double *v,
                       double *out, double *work)
{
  const polytope *P = ctx;
  const size_t d = P->d;
  double *s = work;
  PF_TRY(barrier_slacks(P, x, s));
  /* out may alias v: compute the coefficients first. */
  for (size_t i = 0; i < P->m; i++)
    s[i] = dot(d, P->A + i * d, v) / (s[i] * s[i]);
  memset(out, 0, d * sizeof(double));
  for (size_t i = 0; i < P->m; i++) {
    const double *a = P->A + i * d;
    for (size_t k = 0; k < d; k++) out[k] += s[i] * a[k];
  }
  return 0;
}

/* out = H^-1 v with the QR-based Cholesky factor.  work: m + FACTOR_LEN. */
static int lb_hess_inv_vec(const void *ctx, const double *x, const double *v,
                           double *out, double *work)
{
  const polytope *P = ctx;
  double *s = work, *F = s + P->m;
  PF_TRY(barrier_slacks(P, x, s));
  PF_TRY(barrier_factor(P, s, F, NULL));
  memmove(out, v, P->d * sizeof(double));
  factor_solve(P, F, out);
  return 0;
}

/* val = -log det H(x); grad = -H^-1 grad_x log det H with
 * (grad_x log det H)_k = tr(H^-1 dH/dx_k) = 2 sum_i a_ik lev_i / s_i^3,
 * lev_i = a_i^T H^-1 a_i (dH/dx_k = A^T diag(2 a_ik / s^3) A since
 * ds_i/dx_k = -a_ik).  The chain rule through x = grad psi*(eta),
 * dx/deta = H^-1, gives the eta-gradient; expanding d(H^-1) = -H^-1 dH H^-1
 * shows it equals the row divergence of H^-1.  work: m + FACTOR_LEN + m d. */
static int lb_logdet(const void *ctx, const double *x, double *val,
                     double *grad, double *work)
{
  const polytope *P = ctx;
  const size_t d = P->d, m = P->m;
  double *s = work, *F = s + m, *W = F + FACTOR_LEN(P);
  double ld;
  PF_TRY(barrier_slacks(P, x, s));
  PF_TRY(barrier_factor(P, s, F, &ld));
  *val = -ld;
  if (!grad) return 0;
  /* lev_i = |R^-T a_i|^2, one forward substitution per row. */
  memcpy(W, P->A, m * d * sizeof(double));
  for (size_t i = 0; i < m; i++) solve_rt(d, m, F, W + i * d);
  memset(grad, 0, d * sizeof(double));
  for (size_t i = 0; i < m; i++) {
    const double *wi = W + i * d, *a = P->A + i * d;
    double c = -2.0 * dot(d, wi, wi) / (s[i] * s[i] * s[i]);
    for (size_t k = 0; k < d; k++) grad[k] += c * a[k];
  }
  factor_solve(P, F, grad);
  return 0;
}

static const pf_mirror_ops log_barrier = {
    .name = "log_barrier",
    .grad_psi = lb_grad_psi,
    .grad_psi_star = lb_grad_psi_star,
    .hess_psi_vec = lb_hess_vec,
    .hess_psi_inv_vec = lb_hess_inv_vec,
    .logdet_hess_psi_star = lb_logdet,
};

/* The log-barrier map exists per instance only for bounded polytopes
 * (grad psi is onto R^d exactly then); unbounded ones have no mirror map. */
static const pf_mirror_ops *poly_mirror_of(const void *ctx)
{
  return ((const polytope *)ctx)->bounded ? &log_barrier : NULL;
}

static const pf_param poly_params[] = {
    {"A", PF_P_MATRIX, NULL, NULL,
     "constraint matrix (m x d): the set is {x : A x <= b}", PF_PARAM_REQUIRED,
     NULL, NULL},
    {"b", PF_P_REALS, NULL, NULL, "right-hand sides (m)", PF_PARAM_REQUIRED,
     NULL, NULL},
    {"dim", PF_P_INT, NULL, "[1,1e9]",
     "dimension (checked against A's columns)", 0, NULL, NULL},
    {"projection", PF_P_STRING, "active_set", "active_set|dykstra",
     "Euclidean projection method (exact active-set QP, or Dykstra)", 0, NULL,
     NULL},
    {"max_iter", PF_P_INT, "10000", "[1,1e9]",
     "projection iteration cap (active-set steps or Dykstra sweeps)", 0, NULL,
     NULL},
    {"tol", PF_P_REAL, "1e-12", "(0,1)",
     "Dykstra stopping tolerance (relative to the data scale)", 0, NULL, NULL},
    {"max_bounces", PF_P_INT, "1000", "[1,1e9]",
     "reflection: faces hit before falling back to projection", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_domain_ops pf_domain_polytope = {
    .base = {"polytope", "polyhedron {x : A x <= b} (log-barrier mirror map)",
             poly_params},
    /* An irregular octahedron-like body: 8 faces, bounded, not a box. */
    .example = "{name: polytope, A: [[1, 1, 1], [1, 1, -1], [1, -1, 1], "
               "[-1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1], "
               "[-1, -2, -1]], b: [1.5, 1.2, 1.4, 1.1, 1.3, 1.0, 1.6, 1.2]}",
    .example_dim = 3,
    .create = poly_create,
    .destroy = poly_destroy,
    .work_len = poly_work_len,
    .contains = poly_contains,
    .project = poly_project,
    .reflect = poly_reflect,
    .chord = poly_chord,
    .interior = poly_interior,
    .bounded = poly_bounded,
    .mirror = &log_barrier,
    .mirror_of = poly_mirror_of,
};

/* Accessors for the polytope tests (internal). */
int pf__polytope_center(const void *ctx, const double **center, double *radius);
int pf__polytope_center(const void *ctx, const double **center, double *radius)
{
  const polytope *P = ctx;
  *center = P->center;
  *radius = P->radius;
  return 0;
}
