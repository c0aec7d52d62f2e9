/* Target conformance: every registered target, built from its `example`,
 * is checked for
 *   - finite log density and score at interior points of its domain
 *     (pf_domain_interior) and at exact draws;
 *   - score vs central finite differences (rule in check_gradient);
 *   - bitwise batch consistency: n rows at once = rows one by one, logp-only
 *     and grad-only calls, and 1 vs 3 OpenMP threads;
 *   - exact draws inside the domain and, when moments are known, their mean
 *     and covariance within 5 Monte Carlo standard errors (estimated from
 *     the draws, by batch means for "gibbs" samplers);
 *   - a known log_z against importance-sampling bounds;
 * and the gaussian target's own values and config errors. */
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/registry.h"

#define NPTS 12 /* evaluation points per target: interior + exact draws */

/* Set while the checks are run on deliberately broken targets. */
static int quiet;
#define SAY(...)                                \
  do {                                          \
    if (!quiet) fprintf(stderr, __VA_ARGS__);   \
  } while (0)

typedef struct tgt {
  const pf_target_ops *ops;
  const char *name;
  pf_config *cfg;
  pf_target *t;
  size_t d;
  const pf_domain *dom;
  double *work; /* domain workspace */
} tgt;

static int tgt_open(const pf_target_ops *ops, tgt *g)
{
  memset(g, 0, sizeof *g);
  g->ops = ops;
  g->name = ops->base.name;
  if (!ops->example) {
    SAY("    target %s has no example\n", g->name);
    return 1;
  }
  int rc;
  if (pf_registry_get(&pf_targets, g->name) == &ops->base) {
    rc = pf_test_target(ops->example, &g->cfg, &g->t);
  } else { /* a test-local target: no validation against a registry */
    char text[1024];
    snprintf(text, sizeof text, "target: %s\n", ops->example);
    rc = pf_config_load_string(text, "<example>", &g->cfg);
    if (rc == 0)
      rc = pf_target_create_ops(
          ops, pf_node_get(pf_config_root(g->cfg), "target"), &g->t);
  }
  if (rc < 0) {
    SAY("    target %s: example '%s' fails: %s\n%s", g->name,
            ops->example, pf_error_message(), pf_error_trace());
    return 1;
  }
  g->d = pf_target_dim(g->t);
  g->dom = pf_target_domain(g->t);
  g->work = calloc(pf_domain_work_len(g->dom) + 1, sizeof(double));
  return g->work == NULL;
}

static void tgt_close(tgt *g)
{
  pf_target_destroy(&g->t);
  pf_config_destroy(&g->cfg);
  free(g->work);
}

/* NPTS points: the first from pf_domain_interior, the rest exact draws when
 * the target has a sampler (where the mass is), else interior too.  Every
 * point must lie in the domain.  Returns the number of failures. */
static int eval_points(tgt *g, double *X)
{
  const size_t d = g->d;
  size_t ni = pf_target_ops_of(g->t)->sample ? NPTS / 2 : NPTS;
  pf_rng r;
  pf_rng_stream(&r, 7, 0);
  for (size_t i = 0; i < ni; i++) {
    int rc = pf_domain_interior(g->dom, &r, X + i * d, g->work);
    if (rc < 0) {
      SAY("    target %s: pf_domain_interior: %s\n", g->name,
              pf_error_message());
      return 1;
    }
  }
  if (ni < NPTS && pf_target_sample(g->t, &r, NPTS - ni, X + ni * d) < 0) {
    SAY("    target %s: sample: %s\n", g->name, pf_error_message());
    return 1;
  }
  for (size_t i = 0; i < NPTS; i++)
    if (!pf_domain_contains(g->dom, X + i * d, PF_DOMAIN_TOL)) {
      SAY("    target %s: evaluation point %zu is outside the "
                      "domain '%s'\n", g->name, i, pf_domain_name(g->dom));
      return 1;
    }
  return 0;
}

/* One central difference of log p at x along u with step h (x +- h u must
 * be inside); row is scratch (d). */
static int central(tgt *g, const double *x, const double *u, double h,
                   double *row, double *fd)
{
  const size_t d = g->d;
  double hi, lo;
  for (size_t k = 0; k < d; k++) row[k] = x[k] + h * u[k];
  PF_TRY(pf_target_logp_grad(g->t, 1, row, &hi, NULL));
  for (size_t k = 0; k < d; k++) row[k] = x[k] - h * u[k];
  PF_TRY(pf_target_logp_grad(g->t, 1, row, &lo, NULL));
  *fd = (hi - lo) / (2 * h);
  return 0;
}

/* Score vs central finite differences, per coordinate direction e_k (or,
 * when the domain has no room along e_k, as for a simplex in full
 * coordinates, the tangent direction e_k - 1/d).  Step
 * h = 1e-5 max(1, |x_k|), at most half the distance to the boundary along
 * the direction (points closer than 1e-9 are skipped).  Rule, with
 * g = score . u and eps = 2^-52:
 *   |fd - g| <= 1e-6 max(1, |g|) + 100 eps (1 + |log p|) / h,
 * the second term bounding the rounding error of the difference of two log
 * densities.  Truncation error O(h^2 f''') is below 1e-8 for the smooth
 * targets here; when the plain difference misses, the Richardson
 * extrapolation (4 fd(h/2) - fd(h)) / 3, accurate to O(h^4), is tried (with
 * three times the rounding allowance) before reporting a failure. */
static int check_gradient(tgt *g, const double *X, const double *lp,
                          const double *G)
{
  const size_t d = g->d;
  const double eps = 2.220446049250313e-16;
  double *u = calloc(d, sizeof(double)), *row = calloc(d, sizeof(double));
  int bad = 0;
  size_t tested = 0;
  for (size_t i = 0; i < NPTS && !bad && u && row; i++) {
    const double *x = X + i * d;
    for (size_t k = 0; k < d && !bad; k++) {
      double tlo = 0, thi = 0;
      int tangent = 0;
      memset(u, 0, d * sizeof(double));
      u[k] = 1.0;
      int rc = pf_domain_chord(g->dom, x, u, &tlo, &thi);
      if (rc < 0 || !(tlo < 0 && thi > 0)) {
        for (size_t j = 0; j < d; j++) u[j] = (j == k) - 1.0 / (double)d;
        tangent = 1;
        rc = pf_domain_chord(g->dom, x, u, &tlo, &thi);
        if (rc < 0 || !(tlo < 0 && thi > 0)) continue;
      }
      double h = 1e-5 * fmax(1.0, fabs(x[k]));
      h = fmin(h, 0.5 * fmin(-tlo, thi));
      if (!(h >= 1e-9)) continue;
      double gu = 0.0, fd, fd2;
      for (size_t j = 0; j < d; j++) gu += G[i * d + j] * u[j];
      double round = 100 * eps * (1.0 + fabs(lp[i])) / h;
      double tol = 1e-6 * fmax(1.0, fabs(gu));
      if (central(g, x, u, h, row, &fd) < 0 ||
          central(g, x, u, 0.5 * h, row, &fd2) < 0) {
        SAY("    target %s: logp failed near point %zu: %s\n",
                g->name, i, pf_error_message());
        bad = 1;
        break;
      }
      double rich = (4 * fd2 - fd) / 3;
      tested++;
      if (!(fabs(fd - gu) <= tol + round) &&
          !(fabs(rich - gu) <= tol + 3 * round)) {
        SAY("    target %s: d/d%s%zu at point %zu: score %.12g, "
                        "finite difference %.12g (Richardson %.12g, h %.3g)\n",
                g->name, tangent ? "(e-1/d)" : "x", k, i, gu, fd, rich, h);
        bad = 1;
      }
    }
  }
  if (!bad && tested < NPTS) {
    SAY("    target %s: only %zu finite-difference checks were "
                    "possible\n", g->name, tested);
    bad = 1;
  }
  free(u);
  free(row);
  return bad;
}

/* Largest |a - b| / max(1, |a|) over n values, to say how far apart two
 * evaluations that should agree bitwise are. */
static double max_rel_diff(size_t n, const double *a, const double *b)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs(a[i] - b[i]) / fmax(1.0, fabs(a[i])));
  return m;
}

static int all_finite(size_t n, const double *v)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

static int run_gradient(const pf_target_ops *ops)
{
  tgt g;
  if (tgt_open(ops, &g)) {
    tgt_close(&g);
    return 1;
  }
  const size_t d = g.d;
  double *X = calloc(NPTS * d, sizeof(double));
  double *G = calloc(NPTS * d, sizeof(double)), lp[NPTS];
  int bad = !X || !G || eval_points(&g, X);
  if (!bad && pf_target_logp_grad(g.t, NPTS, X, lp, G) < 0) {
    SAY("    target %s: logp_grad: %s\n", g.name, pf_error_message());
    bad = 1;
  }
  if (!bad && !(all_finite(NPTS, lp) && all_finite(NPTS * d, G))) {
    SAY("    target %s: non-finite log density or score at interior "
        "points\n", g.name);
    bad = 1;
  }
  /* A target known by samples has no density: its logp_grad is the
   * constant density (log p = 0, score 0; see pf_target_ops.samples), which is
   * checked instead of finite differences. */
  if (!bad && !pf_target_has_density(g.t)) {
    for (size_t i = 0; i < NPTS * d && !bad; i++)
      if (lp[i / d] != 0.0 || G[i] != 0.0) {
        SAY("    target %s: sample-only target with a non-zero log "
            "density or score\n", g.name);
        bad = 1;
      }
  } else if (!bad) {
    bad = check_gradient(&g, X, lp, G);
  }
  free(X);
  free(G);
  tgt_close(&g);
  return bad;
}

static int conformance_gradient(void)
{
  int nbad = 0;
  for (size_t ti = 0; ti < pf_targets.n; ti++)
    nbad += run_gradient((const pf_target_ops *)pf_targets.items[ti]);
  PF_T_ASSERT(nbad == 0, "%d target(s) failed (details above)", nbad);
  return 0;
}

/* Rows evaluated together equal rows evaluated one by one, with and without
 * logp or grad requested, and on a tiled batch big enough to go parallel,
 * for targets created under 1 and under 3 threads: all bitwise. */
static int check_batch(const pf_target_ops *ops)
{
  tgt g1, g3;
  int saved = omp_get_max_threads(), bad = 0;
  omp_set_num_threads(1);
  int e1 = tgt_open(ops, &g1);
  omp_set_num_threads(3);
  int e3 = tgt_open(ops, &g3);
  omp_set_num_threads(saved);
  const size_t d = g1.d;
  /* n d >= 2^17 values: above every target's parallel threshold here. */
  size_t nbig = ((131072 / (d ? d : 1)) / NPTS + 1) * NPTS;
  double *X = calloc(NPTS * d, sizeof(double));
  double *G = calloc(NPTS * d, sizeof(double)), lp[NPTS];
  double *row = calloc(d, sizeof(double));
  double *XB = calloc(nbig * d, sizeof(double));
  double *GB = calloc(nbig * d, sizeof(double));
  double *LB = calloc(nbig, sizeof(double));
  if (e1 || e3 || !X || !G || !row || !XB || !GB || !LB || eval_points(&g1, X)) {
    bad = 1;
    goto done;
  }
  omp_set_num_threads(1);
  if (pf_target_logp_grad(g1.t, NPTS, X, lp, G) < 0) bad = 1;
  for (size_t i = 0; i < NPTS && !bad; i++) {
    double l1, l2;
    if (pf_target_logp_grad(g1.t, 1, X + i * d, &l1, row) < 0 ||
        pf_target_logp_grad(g1.t, 1, X + i * d, &l2, NULL) < 0) {
      bad = 1;
      break;
    }
    if (l1 != lp[i] || l2 != lp[i] || memcmp(row, G + i * d, d * sizeof(double))) {
      SAY("    target %s: row %zu differs between batched and "
                      "single evaluation (log p %.17g vs %.17g, score up to "
                      "%.2g relative)\n", g1.name, i, lp[i], l1,
              max_rel_diff(d, G + i * d, row));
      bad = 1;
    }
    if (pf_target_logp_grad(g1.t, 1, X + i * d, NULL, row) < 0 ||
        memcmp(row, G + i * d, d * sizeof(double))) {
      SAY("    target %s: row %zu: grad-only call differs (up to "
                      "%.2g relative)\n", g1.name, i,
              max_rel_diff(d, G + i * d, row));
      bad = 1;
    }
  }
  for (size_t i = 0; i < nbig; i++)
    memcpy(XB + i * d, X + (i % NPTS) * d, d * sizeof(double));
  for (int pass = 0; pass < 2 && !bad; pass++) {
    tgt *gg = pass == 0 ? &g1 : &g3;
    omp_set_num_threads(pass == 0 ? 1 : 3);
    if (pf_target_logp_grad(gg->t, nbig, XB, LB, GB) < 0) {
      bad = 1;
      break;
    }
    for (size_t i = 0; i < nbig && !bad; i++)
      if (LB[i] != lp[i % NPTS] ||
          memcmp(GB + i * d, G + (i % NPTS) * d, d * sizeof(double))) {
        SAY("    target %s: %d thread(s), batch of %zu: row %zu "
                        "differs from the single-row evaluation\n",
                g1.name, pass == 0 ? 1 : 3, nbig, i);
        bad = 1;
      }
  }
  if (bad && pf_error_message()[0])
    SAY("    target %s: %s\n", g1.name, pf_error_message());
done:
  omp_set_num_threads(saved);
  free(X);
  free(G);
  free(row);
  free(XB);
  free(GB);
  free(LB);
  tgt_close(&g1);
  tgt_close(&g3);
  return bad;
}

static int conformance_batch(void)
{
  int nbad = 0;
  for (size_t ti = 0; ti < pf_targets.n; ti++) {
    pf_error_clear();
    nbad += check_batch((const pf_target_ops *)pf_targets.items[ti]);
  }
  PF_T_ASSERT(nbad == 0, "%d target(s) failed (details above)", nbad);
  return 0;
}

/* Mean and standard error of the n values v: the iid error sd / sqrt(n),
 * and for chains ("gibbs") at least the batch-means error over 50 batches
 * of consecutive draws, which absorbs autocorrelation. */
static void mean_se(size_t n, const double *v, int chain, double *mean,
                    double *se)
{
  double s = 0.0, ss = 0.0;
  for (size_t i = 0; i < n; i++) s += v[i];
  double m = s / (double)n;
  for (size_t i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
  double e = sqrt(ss / (double)(n - 1) / (double)n);
  if (chain) {
    const size_t B = 50, len = n / B;
    double bm[50], bs = 0.0, bv = 0.0;
    for (size_t b = 0; b < B; b++) {
      double t = 0.0;
      for (size_t i = b * len; i < (b + 1) * len; i++) t += v[i];
      bm[b] = t / (double)len;
      bs += bm[b];
    }
    bs /= (double)B;
    for (size_t b = 0; b < B; b++) bv += (bm[b] - bs) * (bm[b] - bs);
    e = fmax(e, sqrt(bv / (double)(B - 1) / (double)B));
  }
  *mean = m;
  *se = e;
}

/* Draws: all inside the domain, finite log density; then mean and
 * covariance entries against the known moments within 5 standard errors
 * estimated from the draws (the covariance entry k,j is the mean of
 * (x_k - m_k)(x_j - m_j), with that mean's standard error): a false alarm
 * has probability < 6e-7 per entry for near-Gaussian errors. */
static int check_sampler(tgt *g, size_t n, const double *X)
{
  const size_t d = g->d;
  const char *method = pf_target_sample_method(g->t);
  int chain = method && strcmp(method, "gibbs") == 0, bad = 0;
  for (size_t i = 0; i < n && !bad; i++)
    if (!pf_domain_contains(g->dom, X + i * d, PF_DOMAIN_TOL)) {
      SAY("    target %s: draw %zu is outside the domain '%s'\n",
              g->name, i, pf_domain_name(g->dom));
      bad = 1;
    }
  if (bad || !pf_target_ops_of(g->t)->moments) return bad;
  double *m = malloc(d * sizeof(double)), *C = malloc(d * d * sizeof(double));
  double *em = malloc(d * sizeof(double)), *v = malloc(n * sizeof(double));
  if (!m || !C || !em || !v || pf_target_moments(g->t, m, C) < 0) {
    bad = 1;
    goto done;
  }
  for (size_t k = 0; k < d && !bad; k++) {
    double se;
    for (size_t i = 0; i < n; i++) v[i] = X[i * d + k];
    mean_se(n, v, chain, &em[k], &se);
    if (!(fabs(em[k] - m[k]) <= 5 * se + 1e-9 * (1 + fabs(m[k])))) {
      SAY("    target %s (%s draws): mean[%zu] = %.6g, known "
                      "%.6g, standard error %.3g\n", g->name,
              method ? method : "exact", k, em[k], m[k], se);
      bad = 1;
    }
  }
  for (size_t k = 0; k < d && !bad; k++)
    for (size_t j = 0; j <= k && !bad; j++) {
      double e, se, c = C[k * d + j];
      for (size_t i = 0; i < n; i++)
        v[i] = (X[i * d + k] - em[k]) * (X[i * d + j] - em[j]);
      mean_se(n, v, chain, &e, &se);
      e *= (double)n / (double)(n - 1);
      if (!(fabs(e - c) <= 5 * se + 1e-9 * (1 + fabs(c)))) {
        SAY("    target %s (%s draws): cov[%zu][%zu] = %.6g, "
                        "known %.6g, standard error %.3g\n", g->name,
                method ? method : "exact", k, j, e, c, se);
        bad = 1;
      }
    }
done:
  free(m);
  free(C);
  free(em);
  free(v);
  return bad;
}

/* log of the mean of exp(lw[i]) and the standard error of that mean
 * relative to it, shifted by the maximum so nothing overflows. */
static void log_mean_exp(size_t n, const double *lw, int chain, double *lm,
                         double *rel_se)
{
  double M = -INFINITY;
  for (size_t i = 0; i < n; i++) M = fmax(M, lw[i]);
  double *w = malloc(n * sizeof(double)), m = 0.0, se = INFINITY;
  if (w && isfinite(M)) {
    for (size_t i = 0; i < n; i++) w[i] = exp(lw[i] - M);
    mean_se(n, w, chain, &m, &se);
  }
  free(w);
  *lm = M + log(m);
  *rel_se = m > 0 ? se / m : INFINITY;
}

/* log_z against importance sampling.  Two estimators, both unbiased:
 *   forward  Z   = E_q[rho / q]   (draws from a proposal q),
 *   reverse  1/Z = E_p[r / rho]   (the target's own draws, r a density),
 * with, on R^d, q a multivariate Student t (5 degrees of freedom) with the
 * draws' mean m and covariance C (tails heavier than the target's, so
 * rho / q stays bounded) and r uniform on the ellipsoid
 * {(y - m)^T C^-1 (y - m) <= d} (compact, so r / rho stays bounded); on a
 * bounded domain with a uniform sampler and known volume both are the
 * uniform law; otherwise the check is skipped.  When the weights are heavy
 * tailed an estimate is typically too small, never typically too large, so
 * each gives a one-sided bound valid in both regimes:
 *   log Z >= log(Zf (1 - 5 rse_f)),   -log Z >= log(Rr (1 - 5 rse_r))
 * (rse: relative standard error estimated from the weights; a bound is
 * dropped when its factor is not positive).  For unimodal targets the two
 * pinch log Z to about 1%. */
static int check_log_z(tgt *g, size_t n, const double *X)
{
  const size_t d = g->d;
  const int nu = 5;
  double lz;
  if (!pf_target_ops_of(g->t)->log_z || pf_target_log_z(g->t, &lz) < 0)
    return 0;
  const char *method = pf_target_sample_method(g->t);
  int chain = method && strcmp(method, "gibbs") == 0, bad = 0, uniform = 0;
  double lvol = 0.0;
  if (!pf_domain_is_free(g->dom)) {
    if (!pf_domain_bounded(g->dom) || pf_domain_log_volume(g->dom, &lvol) < 0 ||
        !pf_domain_ops_of(g->dom)->sample_uniform)
      return 0;
    uniform = 1;
  }
  pf_error_clear();
  double *Y = malloc(n * d * sizeof(double)), *ly = malloc(n * sizeof(double));
  double *lx = malloc(n * sizeof(double)), *lq = malloc(n * sizeof(double));
  double *m = calloc(d, sizeof(double)), *L = calloc(d * d, sizeof(double));
  double *z = calloc(d + nu + 1, sizeof(double));
  if (!Y || !ly || !lx || !lq || !m || !L || !z) {
    bad = 1;
    goto done;
  }
  pf_rng r;
  pf_rng_stream(&r, 23, 1);
  double lnorm = 0.0, lvol_e = 0.0;
  if (uniform) {
    if (pf_domain_sample_uniform(g->dom, &r, n, Y, g->work) < 0) {
      bad = 1;
      goto done;
    }
  } else {
    pf_test_moments(n, d, X, m, L);
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, L,
                       (lapack_int)d) != 0)
      goto done; /* degenerate draws: no proposal, nothing to test */
    for (size_t a = 0; a < d; a++)
      for (size_t b = a + 1; b < d; b++) L[a * d + b] = 0.0;
    lnorm = lgamma(0.5 * (nu + (double)d)) - lgamma(0.5 * nu) -
            0.5 * (double)d * log(nu * M_PI);
    for (size_t a = 0; a < d; a++) lnorm -= log(L[a * d + a]);
    /* volume of {y : |L^-1 (y - m)|^2 <= d} */
    lvol_e = 0.5 * (double)d * log(M_PI * (double)d) - lgamma(0.5 * (double)d + 1);
    for (size_t a = 0; a < d; a++) lvol_e += log(L[a * d + a]);
    for (size_t i = 0; i < n; i++) {
      pf_rng_normal(&r, d + nu, z);
      double w = 0.0;
      for (int j = 0; j < nu; j++) w += z[d + j] * z[d + j];
      double f = sqrt(nu / w);
      for (size_t a = 0; a < d; a++) {
        double s = 0.0;
        for (size_t b = 0; b <= a; b++) s += L[a * d + b] * z[b];
        Y[i * d + a] = m[a] + f * s;
      }
    }
  }
  /* log q at the proposal draws Y (into lq) and at the target draws X
   * (into lx, completed below). */
  for (int pass = 0; pass < 2; pass++) {
    const double *P = pass == 0 ? Y : X;
    double *out = pass == 0 ? lq : lx;
    for (size_t i = 0; i < n; i++) {
      if (uniform) {
        out[i] = -lvol;
        continue;
      }
      double q = 0.0;
      for (size_t a = 0; a < d; a++) { /* z = L^-1 (y - m) */
        double s = P[i * d + a] - m[a];
        for (size_t b = 0; b < a; b++) s -= L[a * d + b] * z[b];
        z[a] = s / L[a * d + a];
        q += z[a] * z[a];
      }
      if (pass == 0)
        out[i] = lnorm - 0.5 * (nu + (double)d) * log1p(q / nu);
      else
        out[i] = q <= (double)d ? -lvol_e : -INFINITY;
    }
  }
  if (pf_target_logp_grad(g->t, n, Y, ly, NULL) < 0) {
    bad = 1;
    goto done;
  }
  for (size_t i = 0; i < n; i++) ly[i] -= lq[i]; /* log rho/q at Y */
  if (pf_target_logp_grad(g->t, n, X, lq, NULL) < 0) {
    bad = 1;
    goto done;
  }
  for (size_t i = 0; i < n; i++) lx[i] -= lq[i]; /* log q/rho at X */
  double lf, rf, lr, rr;
  log_mean_exp(n, ly, 0, &lf, &rf);
  log_mean_exp(n, lx, chain, &lr, &rr);
  if (5 * rf < 1 && lz < lf + log1p(-5 * rf)) {
    SAY("    target %s: log_z %.10g below the importance-sampling "
                    "estimate %.10g (relative standard error %.2g)\n",
            g->name, lz, lf, rf);
    bad = 1;
  }
  if (5 * rr < 1 && -lz < lr + log1p(-5 * rr)) {
    SAY("    target %s: log_z %.10g above the reverse "
                    "importance-sampling estimate %.10g (relative standard "
                    "error %.2g)\n", g->name, lz, -lr, rr);
    bad = 1;
  }
  if (getenv("PF_TEST_VERBOSE"))
    SAY("    target %s: log_z %.8f, IS %.8f (rse %.2g), reverse "
                    "IS %.8f (rse %.2g)\n", g->name, lz, lf, rf, -lr, rr);
done:
  if (bad && pf_error_message()[0])
    SAY("    target %s: %s\n", g->name, pf_error_message());
  free(Y);
  free(ly);
  free(lx);
  free(lq);
  free(m);
  free(L);
  free(z);
  return bad;
}

/* Exact draws (1e5, fewer in high dimension: n d <= 2e6), then the
 * sampler and log_z checks; targets without a sampler pass. */
static int run_sampler(const pf_target_ops *ops)
{
  tgt g;
  if (tgt_open(ops, &g)) {
    tgt_close(&g);
    return 1;
  }
  if (!pf_target_ops_of(g.t)->sample) {
    tgt_close(&g);
    return 0;
  }
  size_t n = 100000;
  if (n * g.d > 2000000) n = 2000000 / g.d;
  double *X = malloc(n * g.d * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 11, 3);
  int bad = !X;
  if (!bad && pf_target_sample(g.t, &r, n, X) < 0) {
    SAY("    target %s: sample: %s\n", g.name, pf_error_message());
    bad = 1;
  }
  if (!bad) bad = check_sampler(&g, n, X);
  if (!bad) bad = check_log_z(&g, n, X);
  free(X);
  tgt_close(&g);
  return bad;
}

static int conformance_sampler(void)
{
  int nbad = 0;
  for (size_t ti = 0; ti < pf_targets.n; ti++)
    nbad += run_sampler((const pf_target_ops *)pf_targets.items[ti]);
  PF_T_ASSERT(nbad == 0, "%d target(s) failed (details above)", nbad);
  return 0;
}

/* ---- the checks must catch broken targets ------------------------------
 * N(0, diag(1, 4)) in 2-D with one planted bug at a time: a score off by
 * 1e-4 relative, a log p that depends on the batch size by 1e-13, draws
 * with variance 1.03 instead of 1 (6.7 standard errors at n = 1e5), a
 * log_z off by +-0.05 (the importance-sampling bounds are ~0.01 wide). */
static int broken_bug;

static int brk_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  (void)cfg;
  int *b = malloc(sizeof *b);
  PF_CHECK(b, PF_ENOMEM, "allocating");
  *b = broken_bug;
  *ctx = b;
  *dim = 2;
  return 0;
}

static void brk_destroy(void *ctx) { free(ctx); }

static int brk_logp_grad(void *ctx, size_t n, const double *X, double *lp,
                         double *g)
{
  const int bug = *(const int *)ctx;
  for (size_t i = 0; i < n; i++) {
    const double *x = X + 2 * i;
    if (lp) {
      lp[i] = -0.5 * (x[0] * x[0] + 0.25 * x[1] * x[1]) - log(4 * M_PI);
      if (bug == 2 && n > 1) lp[i] += 1e-13;
    }
    if (g) {
      g[2 * i] = -x[0] * (bug == 1 ? 1 + 1e-4 : 1.0);
      g[2 * i + 1] = -0.25 * x[1];
    }
  }
  return 0;
}

static int brk_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const int bug = *(const int *)ctx;
  for (size_t i = 0; i < n; i++) {
    pf_rng_normal(rng, 2, X + 2 * i);
    if (bug == 3) X[2 * i] *= sqrt(1.03);
    X[2 * i + 1] *= 2.0;
  }
  return 0;
}

static int brk_moments(void *ctx, double *mean, double *cov)
{
  (void)ctx;
  mean[0] = mean[1] = 0.0;
  cov[0] = 1.0;
  cov[1] = cov[2] = 0.0;
  cov[3] = 4.0;
  return 0;
}

static int brk_log_z(void *ctx, double *out)
{
  const int bug = *(const int *)ctx;
  *out = bug == 4 ? 0.05 : bug == 5 ? -0.05 : 0.0;
  return 0;
}

static const pf_target_ops broken_target = {
    .base = {"broken", "test target with planted bugs", NULL},
    .example = "{name: broken}",
    .create = brk_create,
    .destroy = brk_destroy,
    .logp_grad = brk_logp_grad,
    .sample = brk_sample,
    .moments = brk_moments,
    .log_z = brk_log_z,
};

static int conformance_catches_bugs(void)
{
  /* bug -> which runner must fail (0 gradient, 1 batch, 2 sampler) */
  static const int expect[6] = {-1, 0, 1, 2, 2, 2};
  for (int bug = 0; bug < 6; bug++) {
    broken_bug = bug;
    quiet = 1;
    int fails[3] = {run_gradient(&broken_target), check_batch(&broken_target),
                    run_sampler(&broken_target)};
    quiet = 0;
    for (int c = 0; c < 3; c++)
      PF_T_ASSERT(fails[c] == (c == expect[bug]),
                  "planted bug %d: check %d %s", bug, c,
                  fails[c] ? "failed" : "did not notice");
  }
  return 0;
}

static int gaussian_density_value(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: gaussian, mean: [1, 2], cov: [[4, 1], [1, 2]]}",
                         &cfg, &t));
  /* x = (0, 0): r = (-1, -2); P = [[2, -1], [-1, 4]] / 7; r'Pr = (2 - 4 +
   * 16) / 7 = 2; log det = log 7. */
  double x[2] = {0, 0}, lp, g[2], lz;
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
  PF_T_NEAR(lp, -log(2 * M_PI) - 0.5 * log(7.0) - 1.0, 1e-12);
  /* grad = -P r = (2*1 - 2, -1 + 8)/7 = (0, 1). */
  PF_T_NEAR(g[0], 0.0, 1e-12);
  PF_T_NEAR(g[1], 1.0, 1e-12);
  PF_T_OK(pf_target_log_z(t, &lz));
  PF_T_NEAR(lz, 0.0, 0.0);
  PF_T_ASSERT(pf_target_dim(t) == 2, "dim");
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);

  PF_T_OK(pf_test_target("{name: gaussian, dim: 3, cov_diag: [1, 4, 9]}", &cfg, &t));
  double y[3] = {1, 2, 3}, gy[3];
  PF_T_OK(pf_target_logp_grad(t, 1, y, &lp, gy));
  PF_T_NEAR(lp, -1.5 * log(2 * M_PI) - 0.5 * log(36.0) - 1.5, 1e-12);
  PF_T_NEAR(gy[2], -3.0 / 9.0, 1e-15);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

static int gaussian_config_errors(void)
{
  pf_config *cfg;
  pf_target *t;
  int rc = pf_test_target("{name: gaussian, mean: [0, 0], cov: [[1, 2], [2, 1]]}",
                          &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG, "rc %d", rc);
  PF_T_ASSERT(strstr(pf_error_message(), "positive definite") &&
                  strstr(pf_error_message(), "target.cov"),
              "message '%s'", pf_error_message());
  rc = pf_test_target("{name: gaussian, mean: [0, 0, 0], cov: [[1, 0], [0, 1]]}",
                      &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "3 x 3"),
              "rc %d '%s'", rc, pf_error_message());
  rc = pf_test_target("{name: gaussian, mean: [0, 0], cov: [[1, 0.5], [0.4, 1]]}",
                      &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "symmetric"),
              "rc %d '%s'", rc, pf_error_message());
  rc = pf_test_target("{name: gaussian}", &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "mean or a dim"),
              "rc %d '%s'", rc, pf_error_message());
  return 0;
}

const pf_test_case pf_tests_targets[] = {
    {"conformance_gradient", conformance_gradient},
    {"conformance_batch", conformance_batch},
    {"conformance_sampler", conformance_sampler},
    {"conformance_catches_bugs", conformance_catches_bugs},
    {"gaussian_density_value", gaussian_density_value},
    {"gaussian_config_errors", gaussian_config_errors},
    {NULL, NULL}};
