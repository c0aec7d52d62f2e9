/* Domain conformance (every registered domain, from its example, plus extra
 * configurations) and shape-specific checks: exact uniform moments and
 * volumes, box folding against the reflected-Brownian transition density,
 * the closed-form ball billiard against a step-by-step one, simplex
 * reflection and near-face mirror evaluations, config errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/domain.h"
#include "pflow/error.h"
#include "pflow/registry.h"
#include "pflow/rng.h"

/* ---- helpers ------------------------------------------------------------- */

static double dist(size_t d, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t k = 0; k < d; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
  return sqrt(s);
}

static double norm(size_t d, const double *a)
{
  double s = 0.0;
  for (size_t k = 0; k < d; k++) s += a[k] * a[k];
  return sqrt(s);
}

static int all_finite(size_t d, const double *a)
{
  for (size_t k = 0; k < d; k++)
    if (!isfinite(a[k])) return 0;
  return 1;
}

/* log det of a symmetric positive definite d x d matrix (Cholesky in place);
 * NaN if not positive definite. */
static double chol_logdet(size_t d, double *A)
{
  double ld = 0.0;
  for (size_t j = 0; j < d; j++) {
    double s = A[j * d + j];
    for (size_t k = 0; k < j; k++) s -= A[j * d + k] * A[j * d + k];
    if (!(s > 0.0)) return NAN;
    const double l = sqrt(s);
    A[j * d + j] = l;
    ld += 2.0 * log(l);
    for (size_t i = j + 1; i < d; i++) {
      double t = A[i * d + j];
      for (size_t k = 0; k < j; k++) t -= A[i * d + k] * A[j * d + k];
      A[i * d + j] = t / l;
    }
  }
  return ld;
}

typedef struct dom_stats {
  unsigned long steps, fallbacks;
  double bounces;
} dom_stats;

/* ---- the conformance checks ---------------------------------------------- */

enum { NPTS = 64, NREFL = 100000 };

/* Every contract of pf_domain_ops on the domain built from `flow` for a
 * target of dimension dim. */
static int check_domain(const char *flow, size_t dim, dom_stats *st)
{
  pf_domain *dm = NULL;
  PF_T_OK(pf_domain_create_str(flow, dim, "<test>", &dm));
  const size_t d = pf_domain_dim(dm);
  const size_t wl = pf_domain_work_len(dm) + 1;
  double *work = malloc(wl * sizeof(double));
  double *P = malloc(NPTS * d * sizeof(double));
  double *x = malloc(d * sizeof(double)), *y = malloc(d * sizeof(double));
  double *z = malloc(d * sizeof(double)), *u = malloc(d * sizeof(double));
  double *v = malloc(d * sizeof(double)), *w2 = malloc(d * sizeof(double));
  double *H = malloc(d * d * sizeof(double));
  double *g = malloc(d * sizeof(double)), *eta = malloc(d * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 2024, 1);
  const int bounded = pf_domain_bounded(dm);
  const char *name = pf_domain_name(dm);

  /* Interior points are inside; the domain's size is their spread. */
  for (size_t i = 0; i < NPTS; i++) {
    PF_T_OK(pf_domain_interior(dm, &r, P + i * d, work));
    PF_T_ASSERT(pf_domain_contains(dm, P + i * d, PF_DOMAIN_TOL),
                "%s: interior point %zu is not inside", flow, i);
  }
  double size = 0.0;
  for (size_t i = 0; i < NPTS; i++)
    for (size_t j = 0; j < i; j++) {
      const double s = dist(d, P + i * d, P + j * d);
      if (s > size) size = s;
    }
  PF_T_ASSERT(size > 0.0, "%s: interior points coincide", flow);
  const double tin = 1e-9 * (size > 1.0 ? size : 1.0); /* "inside" tol */

  /* Chords along differences of interior points (directions within the
   * affine hull, so `coords: full` is covered): the ends are on the
   * boundary, and clearly beyond them is outside. */
  int n_outside = 0;
  for (size_t i = 0; i + 1 < NPTS; i++) {
    const double *a = P + i * d, *b = P + (i + 1) * d;
    for (size_t k = 0; k < d; k++) u[k] = b[k] - a[k];
    const double un = norm(d, u);
    for (size_t k = 0; k < d; k++) u[k] /= un;
    double lo, hi;
    PF_T_OK(pf_domain_chord(dm, a, u, &lo, &hi));
    PF_T_ASSERT(lo <= 0.0 && hi >= 0.0, "%s: chord [%g, %g] misses 0", flow,
                lo, hi);
    if (bounded)
      PF_T_ASSERT(isfinite(lo) && isfinite(hi), "%s: bounded domain with an "
                  "infinite chord [%g, %g]", flow, lo, hi);
    const double ends[2] = {lo, hi}, sgn[2] = {-1.0, 1.0};
    for (int e = 0; e < 2; e++) {
      if (!isfinite(ends[e])) continue;
      for (size_t k = 0; k < d; k++) z[k] = a[k] + ends[e] * u[k];
      PF_T_ASSERT(pf_domain_contains(dm, z, tin),
                  "%s: chord end t = %g is not inside", flow, ends[e]);
      for (size_t k = 0; k < d; k++)
        z[k] = a[k] + (ends[e] + sgn[e] * 1e-6 * size) * u[k];
      PF_T_ASSERT(!pf_domain_contains(dm, z, 0.0),
                  "%s: just beyond the chord end t = %g is inside", flow,
                  ends[e]);
      for (size_t k = 0; k < d; k++)
        z[k] = a[k] + (ends[e] + sgn[e] * 0.5 * size) * u[k];
      PF_T_ASSERT(!pf_domain_contains(dm, z, PF_DOMAIN_TOL),
                  "%s: a point %g outside is accepted", flow, 0.5 * size);
      n_outside++;
    }
  }
  if (bounded)
    PF_T_ASSERT(n_outside == 2 * (NPTS - 1), "%s: outside points tested %d",
                flow, n_outside);

  /* Projection: inside, idempotent, nonexpansive, fixes inside points, and
   * is the Euclidean one: (y - Py).(q - Py) <= 0 for every q in the set. */
  double ctr[64] = {0};
  PF_T_ASSERT(d <= 64, "test limited to d <= 64");
  for (size_t i = 0; i < NPTS; i++)
    for (size_t k = 0; k < d; k++) ctr[k] += P[i * d + k] / NPTS;
  const double scales[] = {0.05, 0.5, 2.0, 30.0, 1e3};
  for (size_t rep = 0; rep < 400; rep++) {
    const double s1 = scales[rep % 5] * size, s2 = scales[(rep / 5) % 5] * size;
    pf_rng_normal(&r, d, y);
    pf_rng_normal(&r, d, z);
    for (size_t k = 0; k < d; k++) {
      y[k] = ctr[k] + s1 * y[k];
      z[k] = ctr[k] + s2 * z[k];
    }
    memcpy(x, y, d * sizeof(double));
    memcpy(v, z, d * sizeof(double));
    PF_T_OK(pf_domain_project(dm, x, work));
    PF_T_OK(pf_domain_project(dm, v, work));
    PF_T_ASSERT(pf_domain_contains(dm, x, tin), "%s: projection outside",
                flow);
    const double dxy = dist(d, y, z), dp = dist(d, x, v);
    PF_T_ASSERT(dp <= dxy * (1.0 + 1e-12) + 1e-15 * size,
                "%s: projection expands %.17g -> %.17g", flow, dxy, dp);
    memcpy(w2, x, d * sizeof(double));
    PF_T_OK(pf_domain_project(dm, w2, work));
    PF_T_ASSERT(dist(d, w2, x) <= 1e-12 * size,
                "%s: projection not idempotent (%g)", flow, dist(d, w2, x));
    for (size_t i = 0; i < NPTS; i += 7) {
      const double *q = P + i * d;
      double ip = 0.0, ny = 0.0;
      for (size_t k = 0; k < d; k++) {
        ip += (y[k] - x[k]) * (q[k] - x[k]);
        ny += (y[k] - x[k]) * (y[k] - x[k]);
      }
      PF_T_ASSERT(ip <= 1e-10 * (sqrt(ny) + size) * size,
                  "%s: projection is not the nearest point "
                  "((y-Py).(q-Py) = %g)", flow, ip);
    }
  }
  for (size_t i = 0; i < NPTS; i++) {
    memcpy(x, P + i * d, d * sizeof(double));
    PF_T_OK(pf_domain_project(dm, x, work));
    PF_T_ASSERT(dist(d, x, P + i * d) <= 1e-14 * size,
                "%s: projection moves an inside point by %g", flow,
                dist(d, x, P + i * d));
  }

  /* Reflection: a small step inside is plain addition ... */
  for (size_t i = 0; i + 1 < NPTS; i++) {
    const double *a = P + i * d, *b = P + (i + 1) * d;
    double lo, hi;
    for (size_t k = 0; k < d; k++) u[k] = b[k] - a[k];
    PF_T_OK(pf_domain_chord(dm, a, u, &lo, &hi));
    const double t = 0.5 * (hi < 1.0 ? hi : 1.0);
    pf_reflect_info info;
    memcpy(x, a, d * sizeof(double));
    for (size_t k = 0; k < d; k++) v[k] = t * u[k];
    PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
    for (size_t k = 0; k < d; k++) z[k] = a[k] + v[k];
    PF_T_ASSERT(dist(d, x, z) <= 1e-14 * (size + norm(d, z)) &&
                    info.bounces == 0 && info.fallback == 0,
                "%s: small step differs from x + v by %g (bounces %u)", flow,
                dist(d, x, z), info.bounces);
  }
  /* ... and 1e5 steps of length up to 100 sizes (log-uniform from 1e-3)
   * stay inside: chains of 50 steps from interior points. */
  for (unsigned long i = 0; i < NREFL; i++) {
    if (i % 50 == 0) memcpy(x, P + ((i / 50) % NPTS) * d, d * sizeof(double));
    double e = -3.0 + 5.0 * pf_rng_uniform(&r);
    pf_rng_normal(&r, d, v);
    const double f = size * pow(10.0, e) / sqrt((double)d);
    for (size_t k = 0; k < d; k++) v[k] *= f;
    pf_reflect_info info;
    PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
    PF_T_ASSERT(pf_domain_contains(dm, x, tin),
                "%s: reflection step %lu (|v| = %g) ends outside", flow, i,
                norm(d, v));
    st->steps++;
    st->fallbacks += info.fallback;
    st->bounces += info.bounces;
  }

  /* Exact uniform draws are inside; the volume is finite. */
  if (pf_domain_ops_of(dm)->sample_uniform) {
    double *U = malloc(1000 * d * sizeof(double)), lv;
    PF_T_OK(pf_domain_sample_uniform(dm, &r, 1000, U, work));
    for (size_t i = 0; i < 1000; i++)
      PF_T_ASSERT(pf_domain_contains(dm, U + i * d, PF_DOMAIN_TOL),
                  "%s: uniform draw %zu outside", flow, i);
    free(U);
    PF_T_OK(pf_domain_log_volume(dm, &lv));
    PF_T_ASSERT(isfinite(lv), "%s: log volume %g", flow, lv);
  }

  /* Mirror map identities at interior points. */
  const pf_mirror_ops *m = pf_domain_mirror(dm);
  const void *c = pf_domain_ctx(dm);
  for (size_t i = 0; m && i < 24; i++) {
    const double *a = P + i * d;
    PF_T_OK(m->grad_psi(c, a, eta, work));
    PF_T_OK(m->grad_psi_star(c, eta, x, work));
    for (size_t k = 0; k < d; k++)
      PF_T_ASSERT(fabs(x[k] - a[k]) <= 1e-10 * (fabs(a[k]) + size),
                  "%s/%s: round trip x_%zu %.17g -> %.17g", name, m->name, k,
                  a[k], x[k]);
    /* hess psi (hess psi^-1 v) = v */
    pf_rng_normal(&r, d, v);
    PF_T_OK(m->hess_psi_inv_vec(c, a, v, y, work));
    PF_T_OK(m->hess_psi_vec(c, a, y, z, work));
    /* The residual is ~eps cond(hess psi): interior points can lie within
     * ~1e-3 of a face (hit-and-run on the polytope), where the log-barrier
     * Hessian's condition number reaches ~1e6. */
    PF_T_ASSERT(dist(d, z, v) <= 1e-9 * norm(d, v),
                "%s/%s: hess psi hess psi^-1 v - v = %g", name, m->name,
                dist(d, z, v));
    /* log det against the dense hess psi: log det hess psi* = -log det H */
    double val, fd;
    PF_T_OK(m->logdet_hess_psi_star(c, a, &val, g, work));
    for (size_t j = 0; j < d; j++) {
      memset(u, 0, d * sizeof(double));
      u[j] = 1.0;
      PF_T_OK(m->hess_psi_vec(c, a, u, H + j * d, work));
    }
    const double ldH = chol_logdet(d, H);
    PF_T_ASSERT(fabs(val + ldH) <= 1e-9 * (1.0 + fabs(val)),
                "%s/%s: log det hess psi* = %.15g but -log det hess psi = "
                "%.15g", name, m->name, val, -ldH);
    /* Gradient in eta by central differences (step 1e-5 (1 + |eta|):
     * truncation ~1e-10, rounding ~1e-11 |val|). */
    for (size_t j = 0; j < d; j++) {
      double lp, lm;
      const double h = 1e-5 * (1.0 + fabs(eta[j]));
      memcpy(y, eta, d * sizeof(double));
      y[j] = eta[j] + h;
      PF_T_OK(m->grad_psi_star(c, y, z, work));
      PF_T_OK(m->logdet_hess_psi_star(c, z, &lp, NULL, work));
      y[j] = eta[j] - h;
      PF_T_OK(m->grad_psi_star(c, y, z, work));
      PF_T_OK(m->logdet_hess_psi_star(c, z, &lm, NULL, work));
      fd = (lp - lm) / (2.0 * h);
      /* log_barrier's grad psi* is a Newton solve accurate to ~1e-12
       * relative, which the difference quotient amplifies by ~1/h; near a
       * face the conditioning adds more: 2e-5 there, 1e-6 elsewhere. */
      const double tol = strcmp(m->name, "log_barrier") == 0 ? 2e-5 : 1e-6;
      PF_T_ASSERT(fabs(fd - g[j]) <= tol * (1.0 + fabs(g[j])),
                  "%s/%s: d logdet / d eta_%zu = %.12g, finite difference "
                  "%.12g", name, m->name, j, g[j], fd);
    }
    /* Gradient = row divergence of hess psi^-1, by central differences in
     * x with steps 1e-4 of the distance to the boundary along e_j. */
    memset(w2, 0, d * sizeof(double));
    for (size_t j = 0; j < d; j++) {
      double lo, hi;
      memset(u, 0, d * sizeof(double));
      u[j] = 1.0;
      PF_T_OK(pf_domain_chord(dm, a, u, &lo, &hi));
      double room = -lo < hi ? -lo : hi;
      if (!isfinite(room) || room > 1.0 + fabs(a[j])) room = 1.0 + fabs(a[j]);
      const double h = 1e-4 * room;
      memcpy(y, a, d * sizeof(double));
      y[j] = a[j] + h;
      PF_T_OK(m->hess_psi_inv_vec(c, y, u, z, work));
      for (size_t k = 0; k < d; k++) w2[k] += z[k] / (2.0 * h);
      y[j] = a[j] - h;
      PF_T_OK(m->hess_psi_inv_vec(c, y, u, z, work));
      for (size_t k = 0; k < d; k++) w2[k] -= z[k] / (2.0 * h);
    }
    for (size_t k = 0; k < d; k++)
      PF_T_ASSERT(fabs(w2[k] - g[k]) <= 1e-6 * (1.0 + fabs(g[k])),
                  "%s/%s: grad logdet_%zu = %.12g but div hess psi^-1 = "
                  "%.12g", name, m->name, k, g[k], w2[k]);
  }

  pf_domain_destroy(&dm);
  PF_T_ASSERT(dm == NULL, "destroy clears the pointer");
  pf_domain_destroy(&dm); /* NULL-safe */
  free(work);
  free(P);
  free(x);
  free(y);
  free(z);
  free(u);
  free(v);
  free(w2);
  free(H);
  free(g);
  free(eta);
  return 0;
}

static void report(const char *what, const dom_stats *st)
{
  printf("    %-58s reflections %lu, mean bounces %.2f, fallbacks %lu\n",
         what, st->steps, st->steps ? st->bounces / (double)st->steps : 0.0,
         st->fallbacks);
}

static int conformance_all_domains(void)
{
  PF_T_ASSERT(pf_domains.n >= 5, "only %zu domains registered", pf_domains.n);
  for (size_t i = 0; i < pf_domains.n; i++) {
    const pf_domain_ops *ops = (const pf_domain_ops *)pf_domains.items[i];
    PF_T_ASSERT(ops->example && ops->example_dim > 0, "domain %s: no example",
                ops->base.name);
    dom_stats st = {0, 0, 0.0};
    if (check_domain(ops->example, ops->example_dim, &st)) {
      fprintf(stderr, "    failed for domain %s: %s\n", ops->base.name,
              ops->example);
      return 1;
    }
    report(ops->example, &st);
  }
  return 0;
}

static int conformance_more_configs(void)
{
  static const struct {
    const char *flow;
    size_t dim;
  } c[] = {
      {"{name: simplex, coords: full}", 4},
      {"{name: simplex, coords: full}", 2},
      {"{name: simplex}", 1},
      {"{name: simplex, dim: 9}", 0},
      {"{name: box, lower: -3, upper: 7}", 2},
      {"{name: box, lower: 0.25, upper: 0.5, dim: 1}", 0},
      {"{name: ball}", 1},
      {"{name: ball, radius: 0.01}", 6},
      {"{name: orthant}", 1},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    dom_stats st = {0, 0, 0.0};
    char what[128];
    if (check_domain(c[i].flow, c[i].dim, &st)) return 1;
    snprintf(what, sizeof what, "%s (dim %zu)", c[i].flow, c[i].dim);
    report(what, &st);
  }
  return 0;
}

/* ---- exact uniform laws -------------------------------------------------- */

/* The sample means of x_k and x_k^2 (n = 1e5 exact draws) against the exact
 * values, within 5 standard errors estimated from the draws (failure
 * probability < 1e-6 per statistic). */
static int check_moments(const char *flow, size_t dim, const double *m1,
                         const double *m2)
{
  pf_domain *dm = NULL;
  PF_T_OK(pf_domain_create_str(flow, dim, "<test>", &dm));
  const size_t d = pf_domain_dim(dm), n = 100000;
  double *X = malloc(n * d * sizeof(double));
  double *work = malloc((pf_domain_work_len(dm) + 1) * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 99, 5);
  PF_T_OK(pf_domain_sample_uniform(dm, &r, n, X, work));
  for (size_t k = 0; k < d; k++)
    for (int p = 1; p <= 2; p++) {
      double s = 0.0, ss = 0.0;
      for (size_t i = 0; i < n; i++) {
        const double f = p == 1 ? X[i * d + k] : X[i * d + k] * X[i * d + k];
        s += f;
        ss += f * f;
      }
      const double mean = s / (double)n, var = ss / (double)n - mean * mean;
      const double se = sqrt(var / (double)n), ex = p == 1 ? m1[k] : m2[k];
      PF_T_ASSERT(fabs(mean - ex) <= 5.0 * se,
                  "%s: E x_%zu^%d = %.6g, exact %.6g (se %.2g)", flow, k, p,
                  mean, ex, se);
    }
  free(X);
  free(work);
  pf_domain_destroy(&dm);
  return 0;
}

static int uniform_moments(void)
{
  {
    const double l[3] = {-1, 0, 2}, u[3] = {1, 0.5, 5};
    double m1[3], m2[3];
    for (int k = 0; k < 3; k++) {
      m1[k] = 0.5 * (l[k] + u[k]);
      m2[k] = (l[k] * l[k] + l[k] * u[k] + u[k] * u[k]) / 3.0;
    }
    if (check_moments("{name: box, lower: [-1, 0, 2], upper: [1, 0.5, 5]}", 3,
                      m1, m2))
      return 1;
  }
  {
    /* Uniform ball in d = 3: E x = c, Var x_k = R^2 / (d + 2). */
    const double c[3] = {1, -1, 0.5}, R = 2.0;
    double m1[3], m2[3];
    for (int k = 0; k < 3; k++) {
      m1[k] = c[k];
      m2[k] = c[k] * c[k] + R * R / 5.0;
    }
    if (check_moments("{name: ball, center: [1, -1, 0.5], radius: 2}", 3, m1,
                      m2))
      return 1;
  }
  {
    /* Flat Dirichlet with D components: E = 1/D, E x^2 = 2 / (D (D+1)). */
    double m1[5], m2[5];
    for (int k = 0; k < 5; k++) {
      m1[k] = 1.0 / 5.0;
      m2[k] = 2.0 / 30.0;
    }
    if (check_moments("{name: simplex}", 4, m1, m2)) return 1;
    if (check_moments("{name: simplex, coords: full}", 5, m1, m2)) return 1;
  }
  return 0;
}

/* Volumes: hit-and-miss in the bounding box [c - R, c + R]^d (ball) or
 * [0, 1]^d (reduced simplex), n = 2e5, within 5 binomial standard errors;
 * full-coordinate simplex areas against elementary geometry. */
static int volumes(void)
{
  static const struct {
    const char *flow;
    size_t dim;
  } c[] = {{"{name: ball, radius: 2}", 3},
           {"{name: ball, radius: 0.5}", 5},
           {"{name: simplex}", 3}};
  pf_rng r;
  pf_rng_stream(&r, 5, 5);
  for (size_t i = 0; i < 3; i++) {
    pf_domain *dm = NULL;
    double lv, x[8];
    PF_T_OK(pf_domain_create_str(c[i].flow, c[i].dim, "<test>", &dm));
    PF_T_OK(pf_domain_log_volume(dm, &lv));
    const int isball = i < 2;
    const double R = i == 0 ? 2.0 : 0.5, side = isball ? 2.0 * R : 1.0;
    const size_t d = c[i].dim, n = 200000;
    size_t hits = 0;
    for (size_t j = 0; j < n; j++) {
      for (size_t k = 0; k < d; k++)
        x[k] = side * pf_rng_uniform(&r) - (isball ? R : 0.0);
      hits += (size_t)pf_domain_contains(dm, x, 0.0);
    }
    const double p = exp(lv) / pow(side, (double)d), ph = (double)hits / n;
    PF_T_ASSERT(fabs(ph - p) <= 5.0 * sqrt(p * (1 - p) / n),
                "%s (d %zu): volume fraction %.5f, hit-and-miss %.5f",
                c[i].flow, d, p, ph);
    pf_domain_destroy(&dm);
  }
  /* Full coordinates: the segment (1,0)-(0,1) has length sqrt 2; the
   * triangle with sides sqrt 2 has area sqrt 3 / 2. */
  pf_domain *dm = NULL;
  double lv;
  PF_T_OK(pf_domain_create_str("{name: simplex, coords: full}", 2, "t", &dm));
  PF_T_OK(pf_domain_log_volume(dm, &lv));
  PF_T_NEAR(lv, 0.5 * log(2.0), 1e-14);
  pf_domain_destroy(&dm);
  PF_T_OK(pf_domain_create_str("{name: simplex, coords: full}", 3, "t", &dm));
  PF_T_OK(pf_domain_log_volume(dm, &lv));
  PF_T_NEAR(lv, log(sqrt(3.0) / 2.0), 1e-14);
  pf_domain_destroy(&dm);
  return 0;
}

/* ---- box folding = reflected Brownian motion ------------------------------ */

static double Phi(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* P(a < Y < b) for Brownian motion from x0 run for variance s^2 and
 * reflected in [l, u]: the method of images, sources at x0 + 2 j w and
 * 2 l - x0 + 2 j w (w = u - l). */
static double rbm_bin(double a, double b, double x0, double s, double l,
                      double u)
{
  const double w = u - l;
  const long J = (long)ceil(12.0 * s / (2.0 * w)) + 2;
  double p = 0.0;
  for (long j = -J; j <= J; j++) {
    const double m1 = x0 + 2.0 * (double)j * w;
    const double m2 = 2.0 * l - x0 + 2.0 * (double)j * w;
    p += Phi((b - m1) / s) - Phi((a - m1) / s);
    p += Phi((b - m2) / s) - Phi((a - m2) / s);
  }
  return p;
}

/* Fold x0 + s Z for n = 2e5 normals; every one of 25 bins within 5
 * binomial standard errors of the exact probability, and the chi-square
 * statistic (24 df: mean 24, sd 6.9) below 24 + 5 sd = 59. */
static int box_fold_brownian(void)
{
  const double l = -2.0, u = 3.0, x0 = -1.2;
  const double sds[] = {0.3, 2.0, 7.0, 60.0};
  enum { B = 25 };
  const size_t n = 200000;
  pf_domain *dm = NULL;
  PF_T_OK(pf_domain_create_str("{name: box, lower: -2, upper: 3}", 1, "t",
                               &dm));
  pf_rng r;
  pf_rng_stream(&r, 31, 0);
  double *Z = malloc(n * sizeof(double));
  for (size_t t = 0; t < sizeof sds / sizeof sds[0]; t++) {
    size_t cnt[B] = {0};
    pf_rng_normal(&r, n, Z);
    for (size_t i = 0; i < n; i++) {
      double x = x0, v = sds[t] * Z[i];
      pf_reflect_info info;
      PF_T_OK(pf_domain_reflect(dm, &x, &v, NULL, &info));
      PF_T_ASSERT(x >= l && x <= u, "folded point %g outside", x);
      int b = (int)floor((x - l) / (u - l) * B);
      if (b == B) b = B - 1;
      cnt[b]++;
    }
    double chi2 = 0.0, tot = 0.0;
    for (int b = 0; b < B; b++) {
      const double a0 = l + (u - l) * b / B, a1 = l + (u - l) * (b + 1) / B;
      const double p = rbm_bin(a0, a1, x0, sds[t], l, u);
      const double ph = (double)cnt[b] / (double)n;
      tot += p;
      PF_T_ASSERT(fabs(ph - p) <= 5.0 * sqrt(p * (1.0 - p) / (double)n),
                  "sd %g, bin %d: frequency %.5f, exact %.5f", sds[t], b, ph,
                  p);
      chi2 += (ph - p) * (ph - p) / p * (double)n;
    }
    PF_T_NEAR(tot, 1.0, 1e-12);
    PF_T_ASSERT(chi2 < 59.0, "sd %g: chi-square %g (24 df)", sds[t], chi2);
  }
  free(Z);
  pf_domain_destroy(&dm);
  return 0;
}

/* Bounce counts of the fold are the faces crossed. */
static int box_fold_counts(void)
{
  pf_domain *dm = NULL;
  PF_T_OK(pf_domain_create_str("{name: box, lower: 0, upper: 1}", 1, "t", &dm));
  const struct {
    double x, v, end;
    unsigned faces;
  } c[] = {{0.5, 0.25, 0.75, 0},  {0.5, 0.75, 0.75, 1}, {0.5, -0.75, 0.25, 1},
           {0.5, 2.25, 0.75, 2},  {0.5, -2.75, 0.25, 3}, {0.25, 10.0, 0.25, 10},
           {0.25, -10.5, 0.25, 11}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    double x = c[i].x, v = c[i].v;
    pf_reflect_info info;
    PF_T_OK(pf_domain_reflect(dm, &x, &v, NULL, &info));
    PF_T_ASSERT(x == c[i].end && info.bounces == c[i].faces,
                "fold %g + %g: got %.17g (%u faces), expected %g (%u)",
                c[i].x, c[i].v, x, info.bounces, c[i].end, c[i].faces);
  }
  pf_domain_destroy(&dm);
  return 0;
}

/* ---- billiards against independent references ----------------------------- */

/* Step-by-step specular billiard in the ball (the obvious loop). */
static unsigned naive_ball(size_t d, const double *c, double R, double *x,
                           const double *v0)
{
  double p[8], v[8], tau = 1.0;
  unsigned hits = 0;
  for (size_t k = 0; k < d; k++) {
    p[k] = x[k] - c[k];
    v[k] = v0[k];
  }
  for (;;) {
    double a = 0, b = 0, cc = -R * R;
    for (size_t k = 0; k < d; k++) {
      a += v[k] * v[k];
      b += p[k] * v[k];
      cc += p[k] * p[k];
    }
    const double sq = sqrt(fmax(b * b - a * cc, 0.0));
    double t = b > 0 ? -cc / (b + sq) : (sq - b) / a;
    if (t < 0) t = 0;
    if (t >= tau) {
      for (size_t k = 0; k < d; k++) p[k] += tau * v[k];
      break;
    }
    double vn = 0.0, nn = 0.0;
    for (size_t k = 0; k < d; k++) {
      p[k] += t * v[k];
      nn += p[k] * p[k];
    }
    nn = sqrt(nn);
    for (size_t k = 0; k < d; k++) {
      p[k] *= R / nn;
      vn += v[k] * p[k] / R;
    }
    for (size_t k = 0; k < d; k++) v[k] -= 2.0 * vn * p[k] / R;
    tau -= t;
    hits++;
  }
  for (size_t k = 0; k < d; k++) x[k] = c[k] + p[k];
  return hits;
}

static int ball_billiard_exact(void)
{
  const double c[4] = {0.5, -1.0, 2.0, 0.0}, R = 1.5;
  pf_domain *dm = NULL;
  PF_T_OK(pf_domain_create_str(
      "{name: ball, center: [0.5, -1, 2, 0], radius: 1.5}", 4, "t", &dm));
  double work[8], x[4], y[4], v[4];
  pf_rng r;
  pf_rng_stream(&r, 8, 8);
  double worst = 0.0;
  unsigned maxhits = 0;
  for (int i = 0; i < 20000; i++) {
    PF_T_OK(pf_domain_interior(dm, &r, x, work));
    memcpy(y, x, sizeof x);
    pf_rng_normal(&r, 4, v);
    const double f = R * pow(10.0, -1.0 + 2.5 * pf_rng_uniform(&r));
    for (int k = 0; k < 4; k++) v[k] *= f;
    pf_reflect_info info;
    PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
    const unsigned hits = naive_ball(4, c, R, y, v);
    const double e = dist(4, x, y);
    if (e > worst) worst = e;
    if (hits > maxhits) maxhits = hits;
    PF_T_ASSERT(e <= 1e-9 * R && info.bounces == hits && !info.fallback,
                "step %d: closed form and loop differ by %g (hits %u vs %u)",
                i, e, info.bounces, hits);
  }
  printf("    ball billiard: closed form vs loop max |diff| %.2g (up to %u "
         "bounces)\n", worst, maxhits);
  pf_domain_destroy(&dm);
  return 0;
}

/* Grazing paths: tangent on the sphere (L = 0) and nearly tangent (about
 * 5e6 chords) end on the great circle at arc length |v|; bad steps are
 * refused by every domain. */
static int ball_grazing_and_bad_steps(void)
{
  pf_domain *dm = NULL;
  PF_T_OK(pf_domain_create_str("{name: ball, center: [1, 2, 3], radius: 2}", 3,
                               "t", &dm));
  double work[6], x[3], v[3];
  const double R = 2.0, c[3] = {1, 2, 3}, inset[2] = {0.0, 1e-12};
  for (int i = 0; i < 2; i++) {
    x[0] = c[0] + R - inset[i];
    x[1] = c[1];
    x[2] = c[2];
    v[0] = 0.0;
    v[1] = 10.0 * R;
    v[2] = 0.0;
    pf_reflect_info info;
    PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
    const double ex[3] = {c[0] + R * cos(10.0), c[1] + R * sin(10.0), c[2]};
    PF_T_ASSERT(dist(3, x, ex) <= 1e-6 * R && !info.fallback &&
                    info.bounces > 1000000,
                "grazing %d: (%g, %g, %g) vs (%g, %g, %g), %u bounces", i,
                x[0], x[1], x[2], ex[0], ex[1], ex[2], info.bounces);
  }
  pf_domain_destroy(&dm);
  for (size_t i = 0; i < pf_domains.n; i++) {
    const pf_domain_ops *ops = (const pf_domain_ops *)pf_domains.items[i];
    PF_T_OK(pf_domain_create_str(ops->example, ops->example_dim, "t", &dm));
    const size_t d = pf_domain_dim(dm);
    double *w = malloc((pf_domain_work_len(dm) + 1) * sizeof(double));
    double *y = malloc(d * sizeof(double)), *s = calloc(d, sizeof(double));
    pf_rng r;
    pf_rng_stream(&r, 1, 1);
    PF_T_OK(pf_domain_interior(dm, &r, y, w));
    s[0] = NAN;
    pf_reflect_info info;
    const int rc = pf_domain_reflect(dm, y, s, w, &info);
    if (strcmp(ops->base.name, "unconstrained") != 0)
      PF_T_ASSERT(rc == PF_ENONFINITE, "%s: NaN step gave rc %d",
                  ops->base.name, rc);
    free(w);
    free(y);
    free(s);
    pf_domain_destroy(&dm);
  }
  return 0;
}

/* In one dimension the ball, the reduced simplex (D = 2) and the box are
 * the same interval: their reflections must agree with the exact fold. */
static int one_dim_reflections_agree(void)
{
  pf_domain *bx = NULL, *bl = NULL, *sx = NULL;
  PF_T_OK(pf_domain_create_str("{name: box, lower: 0, upper: 1}", 1, "t", &bx));
  PF_T_OK(pf_domain_create_str("{name: ball, center: 0.5, radius: 0.5}", 1,
                               "t", &bl));
  PF_T_OK(pf_domain_create_str("{name: simplex}", 1, "t", &sx));
  pf_rng r;
  pf_rng_stream(&r, 3, 3);
  double work[4];
  for (int i = 0; i < 20000; i++) {
    const double x0 = pf_rng_uniform(&r);
    const double v = (2.0 * pf_rng_uniform(&r) - 1.0) *
                     pow(10.0, -2.0 + 4.0 * pf_rng_uniform(&r));
    double a = x0, b = x0, s = x0;
    pf_reflect_info ia, ib, is;
    PF_T_OK(pf_domain_reflect(bx, &a, &v, work, &ia));
    PF_T_OK(pf_domain_reflect(bl, &b, &v, work, &ib));
    PF_T_OK(pf_domain_reflect(sx, &s, &v, work, &is));
    PF_T_ASSERT(fabs(a - b) <= 1e-11 && fabs(a - s) <= 1e-11,
                "x0 %g v %g: box %.17g ball %.17g simplex %.17g", x0, v, a, b,
                s);
    PF_T_ASSERT(ia.bounces == ib.bounces && ia.bounces == is.bounces,
                "x0 %g v %g: bounces box %u ball %u simplex %u", x0, v,
                ia.bounces, ib.bounces, is.bounces);
  }
  pf_domain_destroy(&bx);
  pf_domain_destroy(&bl);
  pf_domain_destroy(&sx);
  return 0;
}

/* ---- simplex specifics ------------------------------------------------------ */

static int simplex_full_sum(void)
{
  pf_domain *dm = NULL;
  PF_T_OK(pf_domain_create_str("{name: simplex, coords: full}", 6, "t", &dm));
  PF_T_ASSERT(pf_domain_mirror(dm) == NULL, "full coords: no mirror map");
  double work[12], x[6], v[6];
  pf_rng r;
  pf_rng_stream(&r, 4, 4);
  PF_T_OK(pf_domain_interior(dm, &r, x, work));
  double worst = 0.0;
  unsigned long fb = 0;
  for (int i = 0; i < 100000; i++) {
    pf_rng_normal(&r, 6, v);
    const double f = pow(10.0, -3.0 + 4.0 * pf_rng_uniform(&r));
    for (int k = 0; k < 6; k++) v[k] *= f; /* off-plane part is dropped */
    pf_reflect_info info;
    PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
    fb += info.fallback;
    double s = 0.0;
    for (int k = 0; k < 6; k++) {
      PF_T_ASSERT(x[k] >= 0.0, "x_%d = %g < 0", k, x[k]);
      s += x[k];
    }
    if (fabs(s - 1.0) > worst) worst = fabs(s - 1.0);
  }
  PF_T_ASSERT(worst <= 1e-12, "sum x drifted by %g", worst);
  printf("    simplex full (D = 6): max |sum x - 1| %.2g, fallbacks %lu\n",
         worst, fb);
  /* Projection of known points. */
  double y[6] = {1, 1, 0, -3, 0.2, 0.1};
  PF_T_OK(pf_domain_project(dm, y, work));
  const double ex[6] = {0.5, 0.5, 0, 0, 0, 0};
  for (int k = 0; k < 6; k++) PF_T_NEAR(y[k], ex[k], 1e-15);
  pf_domain_destroy(&dm);

  PF_T_OK(pf_domain_create_str("{name: simplex}", 3, "t", &dm));
  PF_T_ASSERT(pf_domain_mirror(dm) != NULL, "reduced coords: mirror map");
  const double q[3][3] = {{-1, 0.2, 0.3}, {0.9, 0.6, -2}, {2, 2, 2}};
  const double e[3][3] = {{0, 0.2, 0.3}, {0.65, 0.35, 0},
                          {1.0 / 3, 1.0 / 3, 1.0 / 3}};
  for (int i = 0; i < 3; i++) {
    memcpy(y, q[i], 3 * sizeof(double));
    PF_T_OK(pf_domain_project(dm, y, work));
    for (int k = 0; k < 3; k++) PF_T_NEAR(y[k], e[i][k], 1e-15);
  }
  pf_domain_destroy(&dm);
  return 0;
}

/* A cap of one bounce forces counted fallbacks, and the point is still
 * inside. */
static int simplex_fallback_counted(void)
{
  pf_domain *dm = NULL;
  PF_T_OK(pf_domain_create_str("{name: simplex, max_bounces: 1}", 2, "t", &dm));
  double work[4], x[2] = {0.2, 0.3}, v[2] = {-5.0, 0.1};
  pf_reflect_info info;
  PF_T_OK(pf_domain_reflect(dm, x, v, work, &info));
  PF_T_ASSERT(info.fallback == 1 && info.bounces == 1,
              "fallback %u bounces %u", info.fallback, info.bounces);
  PF_T_ASSERT(pf_domain_contains(dm, x, PF_DOMAIN_TOL), "outside");
  pf_domain_destroy(&dm);
  return 0;
}

/* Mirror evaluations a hair from a face stay finite; exactly on a face the
 * log-determinant is the true limit -inf, never NaN. */
static int near_face_mirror(void)
{
  pf_domain *dm = NULL;
  double work[16], x[3], eta[3], out[3], g[3], val;
  const double one[3] = {1, 1, 1};
  PF_T_OK(pf_domain_create_str("{name: simplex}", 3, "t", &dm));
  const pf_mirror_ops *m = pf_domain_mirror(dm);
  const void *c = pf_domain_ctx(dm);
  const double th[3] = {1e-300, 0.3, 0.2};
  PF_T_OK(m->grad_psi(c, th, eta, work));
  PF_T_ASSERT(all_finite(3, eta), "grad psi at theta_1 = 1e-300");
  PF_T_OK(m->grad_psi_star(c, eta, x, work));
  for (int k = 0; k < 3; k++)
    PF_T_ASSERT(fabs(x[k] - th[k]) <= 1e-12 * th[k], "round trip %.17g %.17g",
                x[k], th[k]);
  PF_T_OK(m->hess_psi_vec(c, th, one, out, work));
  PF_T_ASSERT(all_finite(3, out), "hess psi");
  PF_T_OK(m->hess_psi_inv_vec(c, th, one, out, work));
  PF_T_ASSERT(all_finite(3, out), "hess psi^-1");
  PF_T_OK(m->logdet_hess_psi_star(c, th, &val, g, work));
  PF_T_NEAR(val, log(1e-300) + log(0.3) + log(0.2) + log(0.5), 1e-12);
  PF_T_ASSERT(all_finite(3, g), "logdet gradient");
  const double e1[3] = {-700, 0, 1}, e2[3] = {-1e4, 0, 1}, e3[3] = {700, 700, 0},
               e4[3] = {1e4, -1e4, 3};
  const double *es[4] = {e1, e2, e3, e4};
  for (int i = 0; i < 4; i++) {
    PF_T_OK(m->grad_psi_star(c, es[i], x, work));
    PF_T_ASSERT(all_finite(3, x) && pf_domain_contains(dm, x, PF_DOMAIN_TOL),
                "eta case %d: x = (%g, %g, %g)", i, x[0], x[1], x[2]);
    PF_T_OK(m->logdet_hess_psi_star(c, x, &val, g, work));
    PF_T_ASSERT(!isnan(val) && all_finite(3, g), "eta case %d: logdet %g", i,
                val);
    PF_T_OK(m->hess_psi_inv_vec(c, x, one, out, work));
    PF_T_ASSERT(all_finite(3, out), "eta case %d: hess psi^-1", i);
  }
  /* eta_1 = -700: theta_1 = e^-700 / (1 + e + e^0) is a normal double. */
  PF_T_OK(m->grad_psi_star(c, e1, x, work));
  PF_T_OK(m->logdet_hess_psi_star(c, x, &val, NULL, work));
  const double lse = log(1.0 + 1.0 + exp(1.0));
  PF_T_NEAR(val, (-700.0 - lse) + (0.0 - lse) + (1.0 - lse) + (0.0 - lse),
            1e-9);
  pf_domain_destroy(&dm);

  /* Box [0, 2]: the lower face at 0 keeps subnormal distances. */
  PF_T_OK(pf_domain_create_str("{name: box, lower: 0, upper: 2}", 1, "t", &dm));
  m = pf_domain_mirror(dm);
  c = pf_domain_ctx(dm);
  const double be[4] = {-700.0, 700.0, -1e4, 40.0};
  for (int i = 0; i < 4; i++) {
    PF_T_OK(m->grad_psi_star(c, &be[i], x, work));
    PF_T_ASSERT(isfinite(x[0]) && x[0] >= 0.0 && x[0] <= 2.0, "x = %g", x[0]);
    PF_T_OK(m->logdet_hess_psi_star(c, x, &val, g, work));
    PF_T_ASSERT(!isnan(val) && isfinite(g[0]), "eta %g: logdet %g grad %g",
                be[i], val, g[0]);
    /* log(w sigma(eta) sigma(-eta)) = log 2 - |eta| - 2 log1p(e^-|eta|) */
    const double exact = log(2.0) - fabs(be[i]) - 2.0 * log1p(exp(-fabs(be[i])));
    if (i == 0) PF_T_NEAR(val, exact, 1e-12 * fabs(exact));
    /* Past the resolution of the face's doubles x is the face itself (at
     * u = 2 already for eta = 40): the value is then the limit -inf. */
    if (i != 0) PF_T_ASSERT(val == -INFINITY, "on the face: %g", val);
  }
  const double tiny = 1e-300;
  PF_T_OK(m->grad_psi(c, &tiny, eta, work));
  PF_T_OK(m->grad_psi_star(c, eta, x, work));
  PF_T_ASSERT(isfinite(eta[0]) && fabs(x[0] - tiny) <= 1e-12 * tiny,
              "box round trip at 1e-300: eta %g x %g", eta[0], x[0]);
  pf_domain_destroy(&dm);

  PF_T_OK(pf_domain_create_str("{name: orthant}", 1, "t", &dm));
  m = pf_domain_mirror(dm);
  c = pf_domain_ctx(dm);
  PF_T_OK(m->grad_psi(c, &tiny, eta, work));
  PF_T_OK(m->logdet_hess_psi_star(c, &tiny, &val, g, work));
  PF_T_ASSERT(isfinite(eta[0]) && isfinite(val) && g[0] == 1.0, "orthant");
  pf_domain_destroy(&dm);
  return 0;
}

/* ---- configuration errors ------------------------------------------------- */

static int bad_configs(void)
{
  static const struct {
    const char *flow;
    size_t dim;
    const char *key;
  } c[] = {
      {"{name: box, lower: 1, upper: 0}", 2, "upper"},
      {"{name: box, lower: [0, 0, 0], upper: [1, 1]}", 0, "upper"},
      {"{name: box, lower: [0, 0]}", 3, "lower"},
      {"{name: box, dim: 4}", 3, "dim"},
      {"{name: box}", 0, "dim"},
      {"{name: box, lower: [0, 2], upper: [1, 2]}", 2, "upper"},
      {"{name: ball, radius: 0}", 2, "radius"},
      {"{name: ball, radius: -1}", 2, "radius"},
      {"{name: ball, center: [0, 0]}", 3, "center"},
      {"{name: simplex, coords: bogus}", 3, "coords"},
      {"{name: simplex, dim: 5}", 3, "dim"},
      {"{name: simplex, coords: full}", 1, "coords"},
      {"{name: simplex}", 0, "dim"},
      {"{name: orthant, dim: 2}", 3, "dim"},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    pf_domain *dm = NULL;
    const int rc = pf_domain_create_str(c[i].flow, c[i].dim, "cfg.yaml", &dm);
    PF_T_ASSERT(rc == PF_ECONFIG && dm == NULL, "%s: rc %d", c[i].flow, rc);
    char want[64];
    snprintf(want, sizeof want, "%s'", c[i].key);
    PF_T_ASSERT(strstr(pf_error_message(), want),
                "%s: message '%s' does not name key '%s'", c[i].flow,
                pf_error_message(), c[i].key);
  }
  return 0;
}

const pf_test_case pf_tests_domains[] = {
    {"conformance_all_domains", conformance_all_domains},
    {"conformance_more_configs", conformance_more_configs},
    {"uniform_moments", uniform_moments},
    {"volumes", volumes},
    {"box_fold_brownian", box_fold_brownian},
    {"box_fold_counts", box_fold_counts},
    {"ball_billiard_exact", ball_billiard_exact},
    {"ball_grazing_and_bad_steps", ball_grazing_and_bad_steps},
    {"one_dim_reflections_agree", one_dim_reflections_agree},
    {"simplex_full_sum_and_projection", simplex_full_sum},
    {"simplex_fallback_counted", simplex_fallback_counted},
    {"near_face_mirror", near_face_mirror},
    {"bad_configs", bad_configs},
    {NULL, NULL}};
