/* The randomized Lasso
 *   min_beta 1/2 |y - X beta|^2 + lambda |beta|_1 - omega' beta
 *            + eps/2 |beta|^2
 * by cyclic coordinate descent (Friedman, Hastie & Tibshirani 2010, "Regularization
 * paths for generalized linear models via coordinate descent", J. Stat.
 * Softw. 33(1)): sweeps over the active set until it settles, then a full
 * KKT check over all coordinates and a full sweep when it fails.
 * Coordinate j minimizes exactly:
 *   beta_j = S(x_j'r + |x_j|^2 beta_j + omega_j, lambda) / (|x_j|^2 + eps),
 * S the soft threshold, r = y - X beta kept up to date.  Single-threaded
 * and deterministic (fixed coordinate order). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/postsel.h"

/* Largest KKT violation at beta, with the residual r = y - X beta
 * recomputed from scratch (Xc column-major) so rounding drift of the
 * incremental updates never hides a violation. */
static double kkt_violation(size_t n, size_t p, const double *Xc,
                            const double *y, double lambda,
                            const double *omega, double eps,
                            const double *beta, double *r)
{
  memcpy(r, y, n * sizeof(double));
  for (size_t j = 0; j < p; j++)
    if (beta[j] != 0.0) {
      const double *x = Xc + j * n, b = beta[j];
      for (size_t i = 0; i < n; i++) r[i] -= x[i] * b;
    }
  double worst = 0.0;
  for (size_t j = 0; j < p; j++) {
    const double *x = Xc + j * n;
    double g = 0.0;
    for (size_t i = 0; i < n; i++) g += x[i] * r[i];
    g += (omega ? omega[j] : 0.0) - eps * beta[j];
    double v;
    if (beta[j] > 0.0)
      v = fabs(g - lambda);
    else if (beta[j] < 0.0)
      v = fabs(g + lambda);
    else
      v = fmax(fabs(g) - lambda, 0.0);
    if (!(v <= worst)) worst = v; /* NaN propagates */
  }
  return worst;
}

/* One coordinate update of beta_j; returns |change| scaled by the
 * coordinate's curvature (the change of its gradient). */
static double update(size_t n, const double *x, double nrm2, double *r,
                     double lambda, double om, double eps, double *bj)
{
  const double den = nrm2 + eps;
  if (!(den > 0.0)) { /* a zero column without ridge: beta_j = 0 */
    double old = *bj;
    *bj = 0.0;
    return fabs(old);
  }
  double g = 0.0;
  for (size_t i = 0; i < n; i++) g += x[i] * r[i];
  const double z = g + nrm2 * *bj + om;
  double nb = 0.0;
  if (z > lambda)
    nb = (z - lambda) / den;
  else if (z < -lambda)
    nb = (z + lambda) / den;
  const double delta = nb - *bj;
  if (delta != 0.0) {
    for (size_t i = 0; i < n; i++) r[i] -= x[i] * delta;
    *bj = nb;
  }
  return fabs(delta) * den;
}

int pf_lasso_solve(size_t n, size_t p, const double *X, const double *y,
                   double lambda, const double *omega, double eps,
                   double tol, int max_iter, double *beta, double *kkt)
{
  PF_CHECK(n >= 1 && p >= 1, PF_EINVAL, "lasso: empty design (%zu x %zu)", n,
           p);
  PF_CHECK(lambda >= 0.0 && isfinite(lambda), PF_EINVAL,
           "lasso: lambda = %g must be finite and >= 0", lambda);
  PF_CHECK(eps >= 0.0 && isfinite(eps), PF_EINVAL,
           "lasso: ridge eps = %g must be finite and >= 0", eps);
  PF_CHECK(tol > 0.0, PF_EINVAL, "lasso: tol = %g must be > 0", tol);
  double *Xc = malloc(n * p * sizeof(double));
  double *nrm2 = malloc(p * sizeof(double));
  double *r = malloc(n * sizeof(double));
  if (!Xc || !nrm2 || !r) {
    free(Xc);
    free(nrm2);
    free(r);
    PF_RAISE(PF_ENOMEM, "lasso: allocating a %zu x %zu workspace", n, p);
  }
  /* Column-major copy: every update reads one column contiguously. */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < p; j++) Xc[j * n + i] = X[i * p + j];
  double xty = 0.0;
  for (size_t j = 0; j < p; j++) {
    const double *x = Xc + j * n;
    double s = 0.0, t = 0.0;
    for (size_t i = 0; i < n; i++) {
      s += x[i] * x[i];
      t += x[i] * y[i];
    }
    nrm2[j] = s;
    xty = fmax(xty, fabs(t));
  }
  const double thr = tol * fmax(1.0, xty);
  int rc = 0, sweeps = 0;
  double viol = 0.0;
  for (;;) {
    viol = kkt_violation(n, p, Xc, y, lambda, omega, eps, beta, r);
    if (!isfinite(viol)) {
      rc = pf__error_set(PF_ENONFINITE, __FILE__, __LINE__,
                         "lasso: non-finite gradient (non-finite data?)");
      break;
    }
    if (viol <= thr) break;
    if (sweeps >= max_iter) {
      rc = pf__error_set(PF_ENOCONV, __FILE__, __LINE__,
                         "lasso: KKT violation %.3g > %.3g after %d sweeps "
                         "(lambda %g, eps %g)", viol, thr, sweeps, lambda,
                         eps);
      break;
    }
    /* A full sweep (may change the active set), then sweeps over the
     * nonzero coordinates until their largest gradient change is below
     * the threshold. */
    for (size_t j = 0; j < p; j++)
      update(n, Xc + j * n, nrm2[j], r, lambda, omega ? omega[j] : 0.0, eps,
             beta + j);
    sweeps++;
    while (sweeps < max_iter) {
      double chg = 0.0;
      for (size_t j = 0; j < p; j++)
        if (beta[j] != 0.0)
          chg = fmax(chg, update(n, Xc + j * n, nrm2[j], r, lambda,
                                 omega ? omega[j] : 0.0, eps, beta + j));
      sweeps++;
      if (chg <= 0.1 * thr) break;
    }
  }
  if (kkt) *kkt = viol;
  free(Xc);
  free(nrm2);
  free(r);
  return rc;
}

/* Sample standard deviation (n - 1). */
static double sample_sd(size_t n, const double *y)
{
  double m = 0.0, ss = 0.0;
  for (size_t i = 0; i < n; i++) m += y[i];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) ss += (y[i] - m) * (y[i] - m);
  return sqrt(ss / (double)(n - 1));
}

int pf_lasso_defaults(size_t n, size_t p, const double *X, const double *y,
                      double lambda_frac, size_t n_mc, pf_rng *rng,
                      double *lambda, double *eps, double *tau)
{
  PF_CHECK(n >= 2 && p >= 1, PF_EINVAL,
           "lasso defaults: need n >= 2 rows and p >= 1 columns (%zu x %zu)",
           n, p);
  double m2 = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < p; j++) m2 += X[i * p + j] * X[i * p + j];
  m2 /= (double)p;
  const double sdy = sample_sd(n, y);
  if (tau) *tau = 0.25 * sdy * sqrt(m2);
  if (eps) *eps = sqrt(m2) * sdy / sqrt((double)n);
  if (!lambda) return 0;
  PF_CHECK(n_mc >= 1, PF_EINVAL, "lasso defaults: n_mc must be >= 1");
  PF_CHECK(lambda_frac > 0.0 && isfinite(lambda_frac), PF_EINVAL,
           "lasso defaults: lambda_frac = %g must be > 0", lambda_frac);
  double *z = malloc((n + p) * sizeof(double)), *t = z + n;
  PF_CHECK(z, PF_ENOMEM, "allocating a Monte Carlo draw");
  /* E max_j |X_j'z|, z ~ N(0, I_n): draw after draw from the one stream;
   * X'z accumulated row by row (X is row-major). */
  double sum = 0.0;
  for (size_t s = 0; s < n_mc; s++) {
    pf_rng_normal(rng, n, z);
    memset(t, 0, p * sizeof(double));
    for (size_t i = 0; i < n; i++) {
      const double *x = X + i * p, zi = z[i];
      for (size_t j = 0; j < p; j++) t[j] += x[j] * zi;
    }
    double mx = 0.0;
    for (size_t j = 0; j < p; j++) mx = fmax(mx, fabs(t[j]));
    sum += mx;
  }
  free(z);
  *lambda = lambda_frac * sum / (double)n_mc;
  return 0;
}
