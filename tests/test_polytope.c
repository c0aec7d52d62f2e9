/* The `polytope` domain's own checks: Chebyshev center and boundedness,
 * projection (active set and Dykstra) against brute-force enumeration and
 * the KKT conditions, reflection against exact folding in the unit square,
 * large steps in a skinny polytope, the log-barrier mirror map on a random
 * d = 10, m = 30 polytope, hit-and-run interior points, config errors, and
 * timings of one projection / reflection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pf_test.h"
#include "pflow/domain.h"
#include "pflow/error.h"
#include "pflow/rng.h"

int pf__polytope_center(const void *ctx, const double **center, double *radius);

/* ---- helpers ------------------------------------------------------------ */

static double dist(size_t d, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t k = 0; k < d; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
  return sqrt(s);
}

static double dotp(size_t d, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t k = 0; k < d; k++) s += a[k] * b[k];
  return s;
}

/* Build a polytope domain from A (m x d), b and extra YAML keys. */
static int make_poly(size_t m, size_t d, const double *A, const double *b,
                     const char *extra, pf_domain **out)
{
  size_t cap = 64 + 32 * m * (d + 1) + (extra ? strlen(extra) : 0);
  char *s = malloc(cap), *p = s;
  p += sprintf(p, "{name: polytope, A: [");
  for (size_t i = 0; i < m; i++) {
    p += sprintf(p, "%s[", i ? ", " : "");
    for (size_t k = 0; k < d; k++)
      p += sprintf(p, "%s%.17g", k ? ", " : "", A[i * d + k]);
    p += sprintf(p, "]");
  }
  p += sprintf(p, "], b: [");
  for (size_t i = 0; i < m; i++)
    p += sprintf(p, "%s%.17g", i ? ", " : "", b[i]);
  p += sprintf(p, "]%s%s}", extra ? ", " : "", extra ? extra : "");
  int rc = pf_domain_create_str(s, 0, "<test>", out);
  free(s);
  return rc;
}

/* A random polytope: unit normals, b_i in [0.5, 1.5] (contains the ball of
 * radius 0.5 at the origin). */
static void random_poly(pf_rng *r, size_t m, size_t d, double *A, double *b)
{
  for (size_t i = 0; i < m; i++) {
    pf_rng_normal(r, d, A + i * d);
    double n = sqrt(dotp(d, A + i * d, A + i * d));
    for (size_t k = 0; k < d; k++) A[i * d + k] /= n;
    b[i] = 0.5 + pf_rng_uniform(r);
  }
}

/* Solve the k x k system G z = r by Gaussian elimination with partial
 * pivoting (G, r overwritten); 0 if singular. */
static int gauss(size_t k, double *G, double *r)
{
  for (size_t c = 0; c < k; c++) {
    size_t piv = c;
    for (size_t i = c + 1; i < k; i++)
      if (fabs(G[i * k + c]) > fabs(G[piv * k + c])) piv = i;
    if (fabs(G[piv * k + c]) < 1e-10) return 0;
    if (piv != c) {
      for (size_t j = 0; j < k; j++) {
        double t = G[c * k + j];
        G[c * k + j] = G[piv * k + j];
        G[piv * k + j] = t;
      }
      double t = r[c];
      r[c] = r[piv];
      r[piv] = t;
    }
    for (size_t i = c + 1; i < k; i++) {
      double f = G[i * k + c] / G[c * k + c];
      for (size_t j = c; j < k; j++) G[i * k + j] -= f * G[c * k + j];
      r[i] -= f * r[c];
    }
  }
  for (size_t c = k; c-- > 0;) {
    for (size_t j = c + 1; j < k; j++) r[c] -= G[c * k + j] * r[j];
    r[c] /= G[c * k + c];
  }
  return 1;
}

/* Brute force Euclidean projection of x (d <= 3, m <= 8): the nearest
 * feasible point among the projections onto every affine set
 * {a_i.y = b_i, i in S}, |S| <= d (the projection lies on one of them:
 * its active set's relative interior). */
static void brute_project(size_t m, size_t d, const double *A, const double *b,
                          const double *x, double *best)
{
  double bd = INFINITY, y[3], G[9], rr[3];
  size_t S[3];
  for (unsigned mask = 0; mask < (1u << m); mask++) {
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
      if (mask & (1u << i)) {
        if (k == d) {
          k = d + 1;
          break;
        }
        S[k++] = i;
      }
    if (k > d) continue;
    for (size_t a = 0; a < k; a++) {
      rr[a] = dotp(d, A + S[a] * d, x) - b[S[a]];
      for (size_t c = 0; c < k; c++)
        G[a * k + c] = dotp(d, A + S[a] * d, A + S[c] * d);
    }
    if (k && !gauss(k, G, rr)) continue;
    memcpy(y, x, d * sizeof(double));
    for (size_t a = 0; a < k; a++)
      for (size_t j = 0; j < d; j++) y[j] -= rr[a] * A[S[a] * d + j];
    int ok = 1;
    for (size_t i = 0; i < m && ok; i++)
      ok = dotp(d, A + i * d, y) - b[i] <= 1e-10;
    if (ok && dist(d, x, y) < bd) {
      bd = dist(d, x, y);
      memcpy(best, y, d * sizeof(double));
    }
  }
}

/* KKT of y = P(x): y feasible and x - y = sum lam_i a_i over the faces
 * active at y with lam >= 0 (least squares on the active set; fails on
 * degenerate active sets of more than d faces, which random data avoid). */
static int kkt_residual(size_t m, size_t d, const double *A, const double *b,
                        const double *x, const double *y, double *res)
{
  double G[81], rr[9], r[9];
  size_t S[9], k = 0;
  double viol = 0.0;
  for (size_t i = 0; i < m; i++) {
    double na = sqrt(dotp(d, A + i * d, A + i * d));
    double s = (b[i] - dotp(d, A + i * d, y)) / na;
    if (-s > viol) viol = -s;
    if (s <= 1e-9 && k < 9) S[k++] = i;
  }
  if (k > d) return -1;
  for (size_t j = 0; j < d; j++) r[j] = x[j] - y[j];
  for (size_t a = 0; a < k; a++) {
    rr[a] = dotp(d, A + S[a] * d, r);
    for (size_t c = 0; c < k; c++)
      G[a * k + c] = dotp(d, A + S[a] * d, A + S[c] * d);
  }
  if (k && !gauss(k, G, rr)) return -1;
  double neg = 0.0;
  for (size_t a = 0; a < k; a++) {
    if (-rr[a] > neg) neg = -rr[a];
    for (size_t j = 0; j < d; j++) r[j] -= rr[a] * A[S[a] * d + j];
  }
  *res = sqrt(dotp(d, r, r));
  if (neg > *res) *res = neg;
  if (viol > *res) *res = viol;
  return 0;
}

static double now(void)
{
  struct timespec ts;
  /* CPU time: wall time on a shared machine measures the neighbours */
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- tests -------------------------------------------------------------- */

static int center_and_boundedness(void)
{
  pf_domain *dm = NULL;
  const double *c;
  double r;
  /* Unit square with unnormalized rows (scaled by 3): center (1/2, 1/2). */
  const double A[] = {3, 0, -3, 0, 0, 3, 0, -3}, b[] = {3, 0, 3, 0};
  PF_T_OK(make_poly(4, 2, A, b, NULL, &dm));
  pf__polytope_center(pf_domain_ctx(dm), &c, &r);
  PF_T_NEAR(r, 0.5, 1e-14);
  PF_T_NEAR(c[0], 0.5, 1e-14);
  PF_T_NEAR(c[1], 0.5, 1e-14);
  PF_T_ASSERT(pf_domain_bounded(dm) == 1, "the square is bounded");
  pf_domain_destroy(&dm);
  /* Triangle x, y >= 0, x + y <= 1: r = 1 / (2 + sqrt 2), center (r, r). */
  const double At[] = {-1, 0, 0, -1, 1, 1}, bt[] = {0, 0, 1};
  PF_T_OK(make_poly(3, 2, At, bt, NULL, &dm));
  pf__polytope_center(pf_domain_ctx(dm), &c, &r);
  PF_T_NEAR(r, 1.0 / (2.0 + sqrt(2.0)), 1e-14);
  PF_T_NEAR(c[0], r, 1e-14);
  PF_T_NEAR(c[1], r, 1e-14);
  PF_T_ASSERT(pf_domain_bounded(dm) == 1, "the triangle is bounded");
  pf_domain_destroy(&dm);
  /* Unbounded: the orthant, a strip (rank deficient), a wedge with an
   * open side (full rank, A u <= 0 for u = (1, 0)), and a cone that is
   * bounded only once the last face is added. */
  const double Ao[] = {-1, 0, 0, -1}, bo[] = {0, 0};
  PF_T_OK(make_poly(2, 2, Ao, bo, NULL, &dm));
  PF_T_ASSERT(pf_domain_bounded(dm) == 0, "the orthant is unbounded");
  pf__polytope_center(pf_domain_ctx(dm), &c, &r);
  PF_T_ASSERT(r > 0 && c[0] >= r - 1e-14 && c[1] >= r - 1e-14,
              "orthant center (%g, %g) r %g", c[0], c[1], r);
  pf_domain_destroy(&dm);
  const double As[] = {1, 0, -1, 0}, bs[] = {1, 1};
  PF_T_OK(make_poly(2, 2, As, bs, NULL, &dm));
  PF_T_ASSERT(pf_domain_bounded(dm) == 0, "the strip is unbounded");
  pf__polytope_center(pf_domain_ctx(dm), &c, &r);
  PF_T_NEAR(r, 1.0, 1e-14);
  pf_domain_destroy(&dm);
  const double Aw[] = {-1, 1, -1, -1, 0, 1, 0, -1}, bw[] = {0, 0, 1, 1};
  PF_T_OK(make_poly(4, 2, Aw, bw, NULL, &dm));
  PF_T_ASSERT(pf_domain_bounded(dm) == 0, "the open wedge is unbounded");
  pf_domain_destroy(&dm);
  const double Ac[] = {-1, 1, -1, -1, 1, 0}, bc[] = {0, 0, 1};
  PF_T_OK(make_poly(3, 2, Ac, bc, NULL, &dm));
  PF_T_ASSERT(pf_domain_bounded(dm) == 1, "the closed wedge is bounded");
  pf_domain_destroy(&dm);
  return 0;
}

/* 200 random polytopes in d = 2, 3 with 5..8 faces; points at scales 0.3
 * to 10: both projection methods agree with brute-force enumeration and
 * satisfy KKT to 1e-8; a second projection and inside points stay put. */
static int projection_vs_brute_force(void)
{
  pf_rng r;
  pf_rng_stream(&r, 11, 0);
  double A[24], b[8], x[3], y[3], z[3], bf[3], res;
  double worst[2] = {0, 0}, worst_kkt = 0;
  int skipped = 0;
  for (int rep = 0; rep < 200; rep++) {
    const size_t d = 2 + (size_t)(rep % 2), m = 5 + (size_t)(rep % 4);
    random_poly(&r, m, d, A, b);
    pf_domain *dm[2] = {NULL, NULL};
    PF_T_OK(make_poly(m, d, A, b, NULL, &dm[0]));
    /* Dykstra converges only linearly (slowly at sharp corners): give it
     * room; the default cap is for the active-set method. */
    PF_T_OK(make_poly(m, d, A, b, "projection: dykstra, max_iter: 2000000",
                      &dm[1]));
    double *work = malloc(pf_domain_work_len(dm[0]) * sizeof(double));
    for (int k = 0; k < 20; k++) {
      pf_rng_normal(&r, d, x);
      const double sc = 0.3 * pow(10.0, 1.5 * (k % 3) / 2.0);
      for (size_t j = 0; j < d; j++) x[j] *= sc;
      brute_project(m, d, A, b, x, bf);
      for (int meth = 0; meth < 2; meth++) {
        memcpy(y, x, d * sizeof(double));
        PF_T_OK(pf_domain_project(dm[meth], y, work));
        double e = dist(d, y, bf);
        if (e > worst[meth]) worst[meth] = e;
        PF_T_ASSERT(e <= 1e-8 * (1.0 + sc), "method %d: |P(x) - brute| = %g",
                    meth, e);
        if (kkt_residual(m, d, A, b, x, y, &res) < 0) {
          skipped++;
        } else {
          if (res > worst_kkt) worst_kkt = res;
          PF_T_ASSERT(res <= 1e-8 * (1.0 + sc), "method %d: KKT residual %g",
                      meth, res);
        }
        memcpy(z, y, d * sizeof(double));
        PF_T_OK(pf_domain_project(dm[meth], z, work));
        /* Dykstra stops at tol = 1e-12 of the scale, so it is idempotent
         * only to that order (sc + 1.5 bounds |x| + max b). */
        const double itol = meth ? 1e-11 * (1.5 + sc * 3.0) : 1e-12;
        PF_T_ASSERT(dist(d, z, y) <= itol, "method %d not idempotent: %g",
                    meth, dist(d, z, y));
      }
      /* A point inside stays exactly where it is. */
      for (size_t j = 0; j < d; j++) x[j] *= 0.4 / (sc * sqrt((double)d) * 3.0);
      if (pf_domain_contains(dm[0], x, 0.0)) {
        memcpy(y, x, d * sizeof(double));
        PF_T_OK(pf_domain_project(dm[0], y, work));
        PF_T_ASSERT(memcmp(x, y, d * sizeof(double)) == 0, "inside moved");
      }
    }
    free(work);
    pf_domain_destroy(&dm[0]);
    pf_domain_destroy(&dm[1]);
  }
  printf("    max |P - brute|: active set %.2e, Dykstra %.2e; max KKT "
         "residual %.2e (%d degenerate skipped)\n", worst[0], worst[1],
         worst_kkt, skipped);
  return 0;
}

/* Dykstra capped at one sweep on a point needing many returns PF_ENOCONV
 * and leaves a finite iterate. */
static int projection_cap(void)
{
  /* A thin wedge: alternating projections zig-zag slowly into the tip. */
  const double A[] = {1, 20, 1, -20, -1, 0}, b[] = {0, 0, 1};
  pf_domain *dm = NULL;
  PF_T_OK(make_poly(3, 2, A, b, "projection: dykstra, max_iter: 2", &dm));
  double *w = malloc(pf_domain_work_len(dm) * sizeof(double));
  double x[2] = {5.0, 3.0};
  int rc = pf_domain_project(dm, x, w);
  free(w);
  PF_T_ASSERT(rc == PF_ENOCONV && isfinite(x[0]) && isfinite(x[1]),
              "rc %d x (%g, %g)", rc, x[0], x[1]);
  pf_domain_destroy(&dm);
  return 0;
}

/* Unit square: steps that cross exactly one face equal exact folding
 * (bounces = 1); a step into the corner reflects off both faces. */
static int reflect_square_folding(void)
{
  const double A[] = {1, 0, -1, 0, 0, 1, 0, -1}, b[] = {1, 0, 1, 0};
  pf_domain *dm = NULL;
  PF_T_OK(make_poly(4, 2, A, b, NULL, &dm));
  double *work = malloc(pf_domain_work_len(dm) * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 5, 0);
  double worst = 0.0;
  int tested = 0;
  for (int rep = 0; rep < 20000; rep++) {
    double x[2], v[2], y[2], f[2];
    int crossings = 0;
    for (int k = 0; k < 2; k++) {
      x[k] = pf_rng_uniform(&r);
      v[k] = 1.8 * pf_rng_uniform(&r) - 0.9;
      y[k] = x[k] + v[k];
      f[k] = y[k] > 1.0 ? 2.0 - y[k] : (y[k] < 0.0 ? -y[k] : y[k]);
      crossings += y[k] > 1.0 || y[k] < 0.0;
    }
    if (crossings != 1) continue;
    pf_reflect_info info;
    PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
    double e = dist(2, x, f);
    if (e > worst) worst = e;
    PF_T_ASSERT(e <= 1e-12 && info.bounces == 1 && !info.fallback,
                "fold (%g, %g) vs (%g, %g), bounces %u", x[0], x[1], f[0],
                f[1], info.bounces);
    tested++;
  }
  PF_T_ASSERT(tested > 5000, "only %d one-face steps", tested);
  double x[2] = {0.5, 0.5}, v[2] = {0.8, 0.8};
  pf_reflect_info info;
  PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
  PF_T_ASSERT(fabs(x[0] - 0.7) <= 1e-12 && fabs(x[1] - 0.7) <= 1e-12 &&
                  info.bounces == 2,
              "corner: (%.17g, %.17g), bounces %u", x[0], x[1], info.bounces);
  printf("    %d one-face steps, max error vs folding %.2e\n", tested, worst);
  free(work);
  pf_domain_destroy(&dm);
  return 0;
}

/* 1e5 steps of length 1e-3..1e2 in a skinny slanted 3-D prism (width 0.02,
 * length 20, not a box) stay inside; fallbacks are counted and reported.
 * A second run with max_bounces 20 must fall back and still stay inside. */
static int skinny_large_steps(void)
{
  const double s = 0.05;
  const double A[] = {1, 0, 0,  -1, 0, 0,  s, 1, 0,  s, -1, 0,
                      0, 0, 1,  0, 0, -1,  1, 1, 1}, b[] = {10, 10, 0.01, 0.01,
                                                            1, 1, 10.5};
  for (int pass = 0; pass < 2; pass++) {
    pf_domain *dm = NULL;
    PF_T_OK(make_poly(7, 3, A, b, pass ? "max_bounces: 20" : NULL, &dm));
    double *work = malloc(pf_domain_work_len(dm) * sizeof(double));
    pf_rng r;
    pf_rng_stream(&r, 77, (uint64_t)pass);
    double x[3], v[3];
    PF_T_OK(pf_domain_interior(dm, &r, x, work));
    unsigned long fb = 0;
    double bounces = 0.0;
    for (int i = 0; i < 100000; i++) {
      double f = pow(10.0, -3.0 + 5.0 * pf_rng_uniform(&r));
      pf_rng_normal(&r, 3, v);
      for (int k = 0; k < 3; k++) v[k] *= f / sqrt(3.0);
      pf_reflect_info info;
      PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
      PF_T_ASSERT(pf_domain_contains(dm, x, 1e-12), "step %d outside", i);
      fb += info.fallback;
      bounces += info.bounces;
    }
    printf("    skinny prism, max_bounces %s: 1e5 steps, mean bounces %.1f, "
           "fallbacks %lu\n", pass ? "20" : "1000", bounces / 1e5, fb);
    if (pass) PF_T_ASSERT(fb > 0, "the low cap never fell back");
    free(work);
    pf_domain_destroy(&dm);
  }
  return 0;
}

/* Log-barrier mirror map on a random bounded polytope (d = 10, m = 30):
 * round trip, hess hess^-1 = I, log det against a dense Cholesky, the
 * eta-gradient of log det hess psi* by central differences, and the
 * identity gradient = div hess psi^-1 by differences in x. */
static int mirror_log_barrier(void)
{
  enum { D = 10, M = 30 };
  pf_rng r;
  pf_rng_stream(&r, 3, 0);
  double A[M * D], b[M];
  random_poly(&r, M, D, A, b);
  pf_domain *dm = NULL;
  PF_T_OK(make_poly(M, D, A, b, NULL, &dm));
  PF_T_ASSERT(pf_domain_bounded(dm), "random 30-face polytope is bounded");
  const pf_mirror_ops *mo = pf_domain_mirror(dm);
  const void *c = pf_domain_ctx(dm);
  PF_T_ASSERT(mo && strcmp(mo->name, "log_barrier") == 0, "mirror map");
  double *work = malloc(pf_domain_work_len(dm) * sizeof(double));
  double x[D], eta[D], y[D], z[D], v[D], g[D], H[D * D], u[D], e2[D];
  double worst_rt = 0, worst_fd = 0, worst_div = 0;
  for (int rep = 0; rep < 20; rep++) {
    PF_T_OK(pf_domain_interior(dm, &r, x, work));
    if (rep == 0) { /* also a point close to a face */
      double lo, hi;
      pf_rng_normal(&r, D, u);
      PF_T_OK(pf_domain_chord(dm, x, u, &lo, &hi));
      for (int k = 0; k < D; k++) x[k] += (1.0 - 1e-6) * hi * u[k];
    }
    PF_T_OK(mo->grad_psi(c, x, eta, work));
    PF_T_OK(mo->grad_psi_star(c, eta, y, work));
    double e = dist(D, x, y);
    if (e > worst_rt) worst_rt = e;
    /* eta carries rounding of ~eps |eta| (|eta| ~ 1e6 near the face) that
     * H^-1 (norm O(diameter^2) ~ 10) maps to x: 1e-14 |eta| covers it. */
    const double etan = sqrt(dotp(D, eta, eta));
    PF_T_ASSERT(e <= 1e-10 + 1e-14 * etan, "round trip error %g (|eta| %g)",
                e, etan);
    /* H H^-1 v = v (residuals are ~eps cond(H) |v|, so not at the
     * near-face point; see near_face_accuracy for that one). */
    pf_rng_normal(&r, D, v);
    PF_T_OK(mo->hess_psi_inv_vec(c, x, v, y, work));
    PF_T_OK(mo->hess_psi_vec(c, x, y, z, work));
    PF_T_ASSERT(rep == 0 || dist(D, z, v) <= 1e-10 * sqrt(dotp(D, v, v)),
                "H H^-1 v - v = %g", dist(D, z, v));
    double val;
    PF_T_OK(mo->logdet_hess_psi_star(c, x, &val, g, work));
    /* dense H, log det by Cholesky */
    for (int j = 0; j < D; j++) {
      memset(u, 0, sizeof u);
      u[j] = 1.0;
      PF_T_OK(mo->hess_psi_vec(c, x, u, H + j * D, work));
    }
    double ld = 0.0;
    for (int j = 0; j < D; j++) {
      double s = H[j * D + j];
      for (int k = 0; k < j; k++) s -= H[j * D + k] * H[j * D + k];
      PF_T_ASSERT(s > 0, "H not positive definite");
      double l = sqrt(s);
      H[j * D + j] = l;
      ld += 2.0 * log(l);
      for (int i = j + 1; i < D; i++) {
        double t = H[i * D + j];
        for (int k = 0; k < j; k++) t -= H[i * D + k] * H[j * D + k];
        H[i * D + j] = t / l;
      }
    }
    /* (the test's Cholesky of the formed H is itself inaccurate at the
     * near-face point, so compare only elsewhere) */
    if (rep > 0) PF_T_NEAR(val, -ld, 1e-10 * (1.0 + fabs(ld)));
    /* eta-gradient = H^-1 grad_x val: differences of val along
     * u = H^-1 e_j in x (fourth-order stencil, step 3e-3 of the distance
     * to the boundary along u: truncation ~1e-10, rounding ~eps |val| /
     * step; valid at the near-face point too). */
    for (int j = 0; j < D; j++) {
      double f[4], lo, hi;
      const double sh[4] = {1, -1, 2, -2};
      memset(v, 0, sizeof v);
      v[j] = 1.0;
      PF_T_OK(mo->hess_psi_inv_vec(c, x, v, u, work));
      PF_T_OK(pf_domain_chord(dm, x, u, &lo, &hi));
      const double h = 3e-3 * (-lo < hi ? -lo : hi);
      for (int q = 0; q < 4; q++) {
        for (int k = 0; k < D; k++) y[k] = x[k] + sh[q] * h * u[k];
        PF_T_OK(mo->logdet_hess_psi_star(c, y, &f[q], NULL, work));
      }
      double fd = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h);
      double err = fabs(fd - g[j]) / (1.0 + fabs(g[j]));
      if (err > worst_fd) worst_fd = err;
      /* At the near-face point (rep 0) the analytic gradient
       * -H^-1 2 A^T(lev / s^3) sums terms of size 1/s^3 that cancel, so its
       * relative accuracy is ~eps cond(H) there (4.8e-6 seen for one
       * interior draw); elsewhere 1e-6. */
      PF_T_ASSERT(err <= (rep == 0 ? 2e-5 : 1e-6),
                  "d logdet/d eta_%d = %.12g, FD in x %.12g", j, g[j], fd);
    }
    /* ... and directly in eta through grad psi* with h = 1e-5 (1 + |eta|)
     * (not at the near-face point: there such steps leave the linear
     * range, and eta's rounding ~eps |eta| swamps smaller ones). */
    for (int j = 0; rep > 0 && j < D; j++) {
      double lp, lm, h = 1e-5 * (1.0 + fabs(eta[j]));
      memcpy(e2, eta, sizeof e2);
      e2[j] += h;
      PF_T_OK(mo->grad_psi_star(c, e2, y, work));
      PF_T_OK(mo->logdet_hess_psi_star(c, y, &lp, NULL, work));
      e2[j] -= 2 * h;
      PF_T_OK(mo->grad_psi_star(c, e2, y, work));
      PF_T_OK(mo->logdet_hess_psi_star(c, y, &lm, NULL, work));
      double fd = (lp - lm) / (2 * h);
      double err = fabs(fd - g[j]) / (1.0 + fabs(g[j]));
      if (err > worst_fd) worst_fd = err;
      PF_T_ASSERT(err <= 1e-6, "d logdet/d eta_%d = %.12g, FD %.12g", j, g[j],
                  fd);
    }
    /* div_x H^-1: column j of H^-1 differenced along e_j (the same
     * fourth-order stencil and step rule). */
    double div[D] = {0};
    for (int j = 0; j < D; j++) {
      double lo, hi;
      const double sh[4] = {1, -1, 2, -2}, wt[4] = {8, -8, -1, 1};
      memset(u, 0, sizeof u);
      u[j] = 1.0;
      PF_T_OK(pf_domain_chord(dm, x, u, &lo, &hi));
      double h = 3e-3 * (-lo < hi ? -lo : hi);
      for (int q = 0; q < 4; q++) {
        memcpy(y, x, sizeof y);
        y[j] += sh[q] * h;
        PF_T_OK(mo->hess_psi_inv_vec(c, y, u, z, work));
        for (int k = 0; k < D; k++) div[k] += wt[q] * z[k] / (12 * h);
      }
    }
    for (int k = 0; k < D; k++) {
      double err = fabs(div[k] - g[k]) / (1.0 + fabs(g[k]));
      if (err > worst_div) worst_div = err;
      /* At the near-face point (rep 0) the stencil's step along e_k, set by
       * the chord, is coarse against the 1/s^3 variation of H^-1's
       * derivative: the two finite-difference checks there disagree with
       * each other by ~1e-4 while the analytic gradient sits between them,
       * so this check is loose at rep 0. */
      PF_T_ASSERT(err <= (rep == 0 ? 1e-3 : 1e-6), "grad_%d %.12g vs div %.12g",
                  k, g[k], div[k]);
    }
  }
  /* Large dual points (x within ~1e-9 of a face) still invert, to the
   * resolution of eta there: 1/s at s ~ 1e-9 moves by eps |x| / s ~ 2e-7
   * relative between neighbouring doubles x. */
  for (int k = 0; k < D; k++) eta[k] = 1e9 * A[k];
  PF_T_OK(mo->grad_psi_star(c, eta, y, work));
  PF_T_OK(mo->grad_psi(c, y, z, work));
  PF_T_ASSERT(dist(D, z, eta) <= 1e-6 * 1e9, "eta = 1e9 a_0: |grad psi(x) - "
              "eta| = %g", dist(D, z, eta));
  /* Outside points are rejected. */
  for (int k = 0; k < D; k++) y[k] = 100.0;
  PF_T_ASSERT(mo->grad_psi(c, y, z, work) == PF_EDOMAIN, "outside accepted");
  printf("    max round trip %.2e, logdet grad vs FD %.2e, vs div %.2e\n",
         worst_rt, worst_fd, worst_div);
  free(work);
  pf_domain_destroy(&dm);
  return 0;
}

/* A randomly rotated unit cube in d = 5 at a point with slacks down to
 * 1e-12 (cond H ~ 1e24): H = sum_k q_k q_k^T w_k with w_k = 1/s_k+^2 +
 * 1/s_k-^2 over the opposite face pairs, so H^-1 v = sum q_k (q_k.v) / w_k
 * and log det H = sum log w_k up to the rows' rounding (~1e-16 relative).
 * The slacks are recomputed here with the same normalized rows and the
 * same operation order as the domain, so both sides see equal data. */
static int near_face_accuracy(void)
{
  enum { D = 5 };
  pf_rng r;
  pf_rng_stream(&r, 21, 0);
  double Q[D * D], A[2 * D * D], b[2 * D];
  for (int k = 0; k < D; k++) { /* Gram-Schmidt of normal vectors */
    pf_rng_normal(&r, D, Q + k * D);
    for (int l = 0; l < k; l++) {
      double p = dotp(D, Q + k * D, Q + l * D);
      for (int j = 0; j < D; j++) Q[k * D + j] -= p * Q[l * D + j];
    }
    double n = sqrt(dotp(D, Q + k * D, Q + k * D));
    for (int j = 0; j < D; j++) Q[k * D + j] /= n;
  }
  for (int k = 0; k < D; k++)
    for (int j = 0; j < D; j++) {
      A[(2 * k) * D + j] = Q[k * D + j]; /* q_k.x <= 1 */
      A[(2 * k + 1) * D + j] = -Q[k * D + j]; /* -q_k.x <= 0 */
    }
  for (int k = 0; k < D; k++) {
    b[2 * k] = 1.0;
    b[2 * k + 1] = 0.0;
  }
  pf_domain *dm = NULL;
  PF_T_OK(make_poly(2 * D, D, A, b, NULL, &dm));
  const pf_mirror_ops *mo = pf_domain_mirror(dm);
  const void *c = pf_domain_ctx(dm);
  double *work = malloc(pf_domain_work_len(dm) * sizeof(double));
  const double yc[D] = {1e-12, 0.3, 1.0 - 1e-9, 0.5, 1e-6};
  double x[D] = {0}, v[D], y[D], ref[D] = {0}, w[D], An[2 * D * D];
  for (int k = 0; k < D; k++)
    for (int j = 0; j < D; j++) x[j] += yc[k] * Q[k * D + j];
  for (int i = 0; i < 2 * D; i++) { /* the domain's normalization */
    double n = sqrt(dotp(D, A + i * D, A + i * D));
    for (int j = 0; j < D; j++) An[i * D + j] = A[i * D + j] / n;
  }
  double ld = 0.0;
  for (int k = 0; k < D; k++) {
    double sp = b[2 * k] - dotp(D, An + 2 * k * D, x);
    double sm = b[2 * k + 1] - dotp(D, An + (2 * k + 1) * D, x);
    PF_T_ASSERT(sp > 0 && sm > 0, "slacks %g %g", sp, sm);
    w[k] = 1.0 / (sp * sp) + 1.0 / (sm * sm);
    ld += log(w[k]);
  }
  pf_rng_normal(&r, D, v);
  for (int k = 0; k < D; k++) {
    double p = dotp(D, An + 2 * k * D, v) / w[k];
    for (int j = 0; j < D; j++) ref[j] += p * An[2 * k * D + j];
  }
  PF_T_OK(mo->hess_psi_inv_vec(c, x, v, y, work));
  const double e = dist(D, y, ref) / sqrt(dotp(D, ref, ref));
  PF_T_ASSERT(e <= 1e-12, "relative error of H^-1 v: %g", e);
  double val;
  PF_T_OK(mo->logdet_hess_psi_star(c, x, &val, NULL, work));
  PF_T_NEAR(val, -ld, 1e-12 * fabs(ld));
  /* Round trip from this point.  eta ~ 1e12 carries rounding ~eps |eta|
   * in every direction, which H^-1 (norm <= max 1/w_k) maps into x: the
   * x error bound is 4 eps |eta| max(1/w).  In eta-space the relative
   * residual |grad psi(x2) - eta| / |eta| must be small. */
  double eta[D], x2[D], eta2[D], wmin = INFINITY;
  for (int k = 0; k < D; k++) wmin = w[k] < wmin ? w[k] : wmin;
  PF_T_OK(mo->grad_psi(c, x, eta, work));
  PF_T_OK(mo->grad_psi_star(c, eta, x2, work));
  PF_T_OK(mo->grad_psi(c, x2, eta2, work));
  const double en = sqrt(dotp(D, eta, eta)), rt = dist(D, x, x2);
  const double re = dist(D, eta, eta2) / en;
  printf("    rotated cube, slacks to 1e-12: H^-1 v rel. error %.1e, log det "
         "error %.1e, round trip |dx| %.1e (bound %.1e), |d eta|/|eta| "
         "%.1e\n", e, fabs(val + ld), rt, 4 * 2.3e-16 * en / wmin, re);
  PF_T_ASSERT(rt <= 4 * 2.3e-16 * en / wmin, "round trip %g", rt);
  /* 1/s at s = 1e-12 moves by a relative eps |x| / s ~ 1e-4 between
   * neighbouring doubles x: that is all eta can resolve. */
  PF_T_ASSERT(re <= 4 * 2.3e-16 * 2.0 / 1e-12, "eta residual %g", re);
  free(work);
  pf_domain_destroy(&dm);
  return 0;
}

/* Unbounded polytopes: infinite chords, interior points inside the
 * documented ball, no mirror map (grad psi* unsupported if called). */
static int unbounded_polytope(void)
{
  const double A[] = {-1, 0, 0, -1}, b[] = {0, 0};
  pf_domain *dm = NULL;
  PF_T_OK(make_poly(2, 2, A, b, NULL, &dm));
  double *work = malloc(pf_domain_work_len(dm) * sizeof(double));
  const double *c;
  double rad, x[2], eta[2] = {-1, -1}, lo, hi, u[2] = {1, 1};
  pf__polytope_center(pf_domain_ctx(dm), &c, &rad);
  pf_rng r;
  pf_rng_stream(&r, 9, 0);
  for (int i = 0; i < 200; i++) {
    PF_T_OK(pf_domain_interior(dm, &r, x, work));
    PF_T_ASSERT(x[0] > 0 && x[1] > 0 && dist(2, x, c) <= 10 * rad + 1e-12,
                "interior (%g, %g)", x[0], x[1]);
  }
  PF_T_OK(pf_domain_chord(dm, x, u, &lo, &hi));
  PF_T_ASSERT(isinf(hi) && isfinite(lo), "chord [%g, %g]", lo, hi);
  PF_T_ASSERT(pf_domain_mirror(dm) == NULL, "unbounded: no mirror map");
  const pf_mirror_ops *mo = pf_domain_ops_of(dm)->mirror;
  PF_T_ASSERT(mo->grad_psi_star(pf_domain_ctx(dm), eta, x, work) ==
                  PF_ENOTSUP, "grad psi* on an unbounded polytope");
  free(work);
  pf_domain_destroy(&dm);
  return 0;
}

/* Hit-and-run interior points on the triangle x, y >= 0, x + y <= 1 are
 * approximately uniform: the mean of 4000 draws is within 5 standard errors
 * (sd of a coordinate is sqrt(1/18)) of the centroid (1/3, 1/3), and the
 * fraction in the corner triangle x + y <= 1/2 within 5 SE of 1/4. */
static int interior_hit_and_run(void)
{
  const double A[] = {-1, 0, 0, -1, 1, 1}, b[] = {0, 0, 1};
  pf_domain *dm = NULL;
  PF_T_OK(make_poly(3, 2, A, b, NULL, &dm));
  double *work = malloc(pf_domain_work_len(dm) * sizeof(double));
  enum { N = 4000 };
  double mx = 0, my = 0, corner = 0, x[2];
  for (int i = 0; i < N; i++) {
    pf_rng r;
    pf_rng_stream(&r, 42, (uint64_t)i);
    PF_T_OK(pf_domain_interior(dm, &r, x, work));
    PF_T_ASSERT(pf_domain_contains(dm, x, 0.0), "outside");
    mx += x[0] / N;
    my += x[1] / N;
    corner += (x[0] + x[1] <= 0.5) / (double)N;
  }
  const double se = sqrt(1.0 / 18.0 / N), sep = sqrt(0.25 * 0.75 / N);
  PF_T_NEAR(mx, 1.0 / 3.0, 5 * se);
  PF_T_NEAR(my, 1.0 / 3.0, 5 * se);
  PF_T_NEAR(corner, 0.25, 5 * sep);
  free(work);
  pf_domain_destroy(&dm);
  return 0;
}

static int config_errors(void)
{
  static const struct {
    const char *flow;
    size_t dim;
    const char *key, *text;
  } c[] = {
      {"{name: polytope, A: [[1, 0], [0, 1]], b: [1, 1, 1]}", 0, "b",
       "A has 2 rows"},
      {"{name: polytope, A: [[1], [-1]], b: [0, -1]}", 0, "b",
       "empty polytope"},
      {"{name: polytope, A: [[1], [-1]], b: [0, 0]}", 0, "b", "no interior"},
      {"{name: polytope, A: [[1, 1], [-1, -1], [1, 0]], b: [1, -1, 5]}", 0,
       "b", "no interior"},
      {"{name: polytope, A: [[1, 0], [-1, 0]], b: [1, 1], dim: 3}", 0, "dim",
       "A has 2 columns"},
      {"{name: polytope, A: [[1, 0], [-1, 0]], b: [1, 1]}", 3, "A",
       "dimension 3"},
      {"{name: polytope, A: [[1, 0], [0, 0]], b: [1, 1]}", 0, "A",
       "row 1 is zero"},
      {"{name: polytope, A: [], b: []}", 0, "A", "empty"},
      {"{name: polytope, A: [[1, 0]], b: [1], projection: qp}", 0,
       "projection", ""},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    pf_domain *dm = NULL;
    const int rc = pf_domain_create_str(c[i].flow, c[i].dim, "cfg.yaml", &dm);
    PF_T_ASSERT(rc == PF_ECONFIG && dm == NULL, "%s: rc %d", c[i].flow, rc);
    char want[64];
    snprintf(want, sizeof want, "%s'", c[i].key);
    PF_T_ASSERT(strstr(pf_error_message(), want) &&
                    strstr(pf_error_message(), c[i].text),
                "%s: message '%s' lacks key '%s' or '%s'", c[i].flow,
                pf_error_message(), c[i].key, c[i].text);
  }
  return 0;
}

/* Time one projection and one reflection for d = 10, m = 30 (printed). */
static int timings(void)
{
  enum { D = 10, M = 30, N = 2000 };
  pf_rng r;
  pf_rng_stream(&r, 8, 0);
  double A[M * D], b[M];
  random_poly(&r, M, D, A, b);
  pf_domain *dm[2] = {NULL, NULL};
  PF_T_OK(make_poly(M, D, A, b, NULL, &dm[0]));
  PF_T_OK(make_poly(M, D, A, b, "projection: dykstra", &dm[1]));
  double *work = malloc(pf_domain_work_len(dm[0]) * sizeof(double));
  double *X = malloc(N * D * sizeof(double)), x[D], v[D];
  pf_rng_normal(&r, N * D, X); /* |x| ~ 3: almost all outside */
  double tp[2];
  for (int meth = 0; meth < 2; meth++) {
    double t0 = now();
    for (int i = 0; i < N; i++) {
      memcpy(x, X + i * D, sizeof x);
      PF_T_OK(pf_domain_project(dm[meth], x, work));
    }
    tp[meth] = (now() - t0) / N;
  }
  PF_T_OK(pf_domain_interior(dm[0], &r, x, work));
  double t0 = now(), bounces = 0;
  for (int i = 0; i < N; i++) {
    pf_reflect_info info;
    pf_rng_normal(&r, D, v);
    PF_T_OK(pf_domain_reflect(dm[0], x, v, work, &info));
    bounces += info.bounces;
  }
  double tr = (now() - t0) / N;
  /* The mirror map at hit-and-run points: grad psi* (damped Newton from
   * the analytic center) and log det with its gradient. */
  const pf_mirror_ops *mo = pf_domain_mirror(dm[0]);
  const void *c = pf_domain_ctx(dm[0]);
  for (int i = 0; i < 200; i++)
    PF_T_OK(pf_domain_interior(dm[0], &r, X + i * D, work));
  double eta[D], g[D], val, tm[2] = {0, 0};
  for (int i = 0; i < 200; i++) {
    PF_T_OK(mo->grad_psi(c, X + i * D, eta, work));
    t0 = now();
    PF_T_OK(mo->grad_psi_star(c, eta, x, work));
    tm[0] += (now() - t0) / 200;
    t0 = now();
    PF_T_OK(mo->logdet_hess_psi_star(c, x, &val, g, work));
    tm[1] += (now() - t0) / 200;
  }
  printf("    d=10 m=30 (CPU time): projection %.1f us (active set), %.1f us "
         "(Dykstra); reflection of |v| ~ 3.2: %.2f us (%.1f bounces); grad "
         "psi* %.1f us, log det + gradient %.1f us\n", 1e6 * tp[0],
         1e6 * tp[1], 1e6 * tr, bounces / N, 1e6 * tm[0], 1e6 * tm[1]);
  free(X);
  free(work);
  pf_domain_destroy(&dm[0]);
  pf_domain_destroy(&dm[1]);
  return 0;
}

const pf_test_case pf_tests_polytope[] = {
    {"center_and_boundedness", center_and_boundedness},
    {"projection_vs_brute_force", projection_vs_brute_force},
    {"projection_cap", projection_cap},
    {"reflect_square_folding", reflect_square_folding},
    {"skinny_large_steps", skinny_large_steps},
    {"mirror_log_barrier", mirror_log_barrier},
    {"near_face_accuracy", near_face_accuracy},
    {"unbounded_polytope", unbounded_polytope},
    {"interior_hit_and_run", interior_hit_and_run},
    {"config_errors", config_errors},
    {"timings", timings},
    {NULL, NULL}};
