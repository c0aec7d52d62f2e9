/* Post-selection inference foundation (postsel/regdata.c, lasso.c,
 * selection.c; targets/selective_lasso.c): the Lasso against closed forms
 * and scikit-learn, its KKT conditions, the tuning recipe, the identities
 * of the selection object, data errors, simulated designs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/postsel.h"
#include "pflow/target.h"
#include "../postsel/selection_target.h"

/* A random n x p design and response from stream (seed, 0). */
static void random_problem(size_t n, size_t p, uint64_t seed, double *X,
                           double *y)
{
  pf_rng r;
  pf_rng_stream(&r, seed, 0);
  pf_rng_normal(&r, n * p, X);
  pf_rng_normal(&r, n, y);
  for (size_t i = 0; i < n; i++) y[i] += 2.0 * X[i * p] - 1.5 * X[i * p + 1];
}

/* Independent KKT check of a randomized Lasso solution. */
static double kkt_of(size_t n, size_t p, const double *X, const double *y,
                     double lambda, const double *omega, double eps,
                     const double *beta)
{
  double worst = 0.0;
  for (size_t j = 0; j < p; j++) {
    double g = omega ? omega[j] : 0.0;
    for (size_t i = 0; i < n; i++) {
      double r = y[i];
      for (size_t l = 0; l < p; l++) r -= X[i * p + l] * beta[l];
      g += X[i * p + j] * r;
    }
    g -= eps * beta[j];
    double v = beta[j] > 0 ? fabs(g - lambda)
               : beta[j] < 0 ? fabs(g + lambda)
                             : fmax(fabs(g) - lambda, 0.0);
    worst = fmax(worst, v);
  }
  return worst;
}

/* Orthogonal columns (a scaled 8 x 4 Hadamard block, column norms^2 of
 * 8, 2, 0.5, 32): the problem separates, beta_j = S(x_j'y + omega_j,
 * lambda) / (|x_j|^2 + eps) exactly. */
static int lasso_orthogonal(void)
{
  const size_t n = 8, p = 4;
  static const int H[8][4] = {{1, 1, 1, 1},   {1, -1, 1, -1}, {1, 1, -1, -1},
                              {1, -1, -1, 1}, {1, 1, 1, 1},   {1, -1, 1, -1},
                              {1, 1, -1, -1}, {1, -1, -1, 1}};
  const double sc[4] = {1.0, 0.5, 0.25, 2.0};
  double X[32], y[8] = {3.0, -1.0, 2.5, 0.3, -0.7, 1.9, 4.2, -2.2};
  const double omega[4] = {0.4, -0.3, 0.05, -1.0}, lambda = 1.3, eps = 0.6;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < p; j++) X[i * p + j] = sc[j] * H[i][j];
  for (int pass = 0; pass < 2; pass++) {
    const double e = pass ? eps : 0.0;
    const double *om = pass ? omega : NULL;
    double beta[4] = {0, 0, 0, 0}, kkt;
    PF_T_OK(pf_lasso_solve(n, p, X, y, lambda, om, e, 1e-12, 1000, beta,
                           &kkt));
    int nz = 0;
    for (size_t j = 0; j < p; j++) {
      double z = om ? om[j] : 0.0, nrm = 0.0;
      for (size_t i = 0; i < n; i++) {
        z += X[i * p + j] * y[i];
        nrm += X[i * p + j] * X[i * p + j];
      }
      double want = z > lambda    ? (z - lambda) / (nrm + e)
                    : z < -lambda ? (z + lambda) / (nrm + e)
                                  : 0.0;
      nz += want != 0.0;
      PF_T_NEAR(beta[j], want, 1e-12 * fmax(1.0, fabs(want)));
    }
    /* The data make the test meaningful: some but not all coordinates are
     * thresholded to zero. */
    PF_T_ASSERT(nz > 0 && nz < (int)p, "nz = %d", nz);
  }
  return 0;
}

/* Write X (n x p) and y as CSV (header x0..x{p-1},y) for Python. */
static int write_csv(const char *path, size_t n, size_t p, const double *X,
                     const double *y)
{
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  for (size_t j = 0; j < p; j++) fprintf(f, "x%zu,", j);
  fprintf(f, "y\n");
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < p; j++) fprintf(f, "%.17g,", X[i * p + j]);
    fprintf(f, "%.17g\n", y[i]);
  }
  return fclose(f);
}

/* The unrandomized path (omega = 0) against scikit-learn: Lasso with
 * alpha = lambda / n (its objective is ours divided by n), and with a
 * ridge ElasticNet with alpha = (lambda + eps) / n, l1_ratio =
 * lambda / (lambda + eps), at tol 1e-12.  Both solutions are unique (n > p,
 * strictly convex), so they agree to the solvers' accuracy (1e-8 here). */
static int lasso_sklearn(void)
{
  enum { N = 60, P = 8 };
  double X[N * P], y[N];
  random_problem(N, P, 11, X, y);
  char csv[512], out[512];
  snprintf(csv, sizeof csv, "%s/postsel_lasso.csv", pf_test_tmpdir());
  snprintf(out, sizeof out, "%s/postsel_lasso.out", pf_test_tmpdir());
  PF_T_ASSERT(write_csv(csv, N, P, X, y) == 0, "writing %s", csv);
  const double lambda = 25.0, eps = 7.0;
  int st = pf_test_sh(
      "%s -c \"import numpy as np; from sklearn.linear_model import Lasso, "
      "ElasticNet; d = np.loadtxt('%s', delimiter=',', skiprows=1); "
      "X, y = d[:, :-1], d[:, -1]; n = len(y); "
      "a = Lasso(alpha=%.17g / n, fit_intercept=False, tol=1e-12, "
      "max_iter=1000000).fit(X, y).coef_; "
      "b = ElasticNet(alpha=(%.17g + %.17g) / n, l1_ratio=%.17g / (%.17g + "
      "%.17g), fit_intercept=False, tol=1e-12, max_iter=1000000).fit(X, "
      "y).coef_; np.savetxt('%s', np.concatenate([a, b]), fmt='%%.17g')\"",
      pf_test_python(), csv, lambda, lambda, eps, lambda, lambda, eps, out);
  PF_T_ASSERT(st == 0, "python/sklearn failed (status %d)", st);
  FILE *f = fopen(out, "r");
  PF_T_ASSERT(f, "no output %s", out);
  double ref[2 * P];
  for (int j = 0; j < 2 * P; j++)
    if (fscanf(f, "%lf", &ref[j]) != 1) {
      fclose(f);
      PF_T_FAIL("short output in %s", out);
    }
  fclose(f);
  int nz = 0;
  for (int pass = 0; pass < 2; pass++) {
    double beta[P] = {0}, kkt;
    PF_T_OK(pf_lasso_solve(N, P, X, y, lambda, NULL, pass ? eps : 0.0, 1e-12,
                           10000, beta, &kkt));
    for (int j = 0; j < P; j++) {
      PF_T_NEAR(beta[j], ref[pass * P + j], 1e-8);
      nz += beta[j] != 0.0;
    }
  }
  PF_T_ASSERT(nz > 0 && nz < 2 * P, "degenerate test problem (nz = %d)", nz);
  return 0;
}

/* Randomized, ridged, n < p: the returned KKT violation is below the
 * threshold and agrees with an independent computation; warm starts from
 * the solution converge at once; max_iter too small is PF_ENOCONV. */
static int lasso_kkt(void)
{
  enum { N = 30, P = 50 };
  double X[N * P], y[N], omega[P], beta[P] = {0}, kkt;
  random_problem(N, P, 12, X, y);
  pf_rng r;
  pf_rng_stream(&r, 12, 1);
  pf_rng_normal(&r, P, omega);
  const double lambda = 4.0, eps = 0.5, tol = 1e-10;
  PF_T_OK(pf_lasso_solve(N, P, X, y, lambda, omega, eps, tol, 100000, beta,
                         &kkt));
  double xty = 0.0;
  for (int j = 0; j < P; j++) {
    double t = 0;
    for (int i = 0; i < N; i++) t += X[i * P + j] * y[i];
    xty = fmax(xty, fabs(t));
  }
  double mine = kkt_of(N, P, X, y, lambda, omega, eps, beta);
  PF_T_ASSERT(kkt <= tol * fmax(1, xty), "kkt %g", kkt);
  PF_T_NEAR(mine, kkt, 1e-9 * fmax(1, xty));
  int nz = 0;
  for (int j = 0; j < P; j++) nz += beta[j] != 0.0;
  PF_T_ASSERT(nz > 0 && nz < P, "nz = %d", nz);
  double b2[P];
  memcpy(b2, beta, sizeof b2);
  PF_T_OK(pf_lasso_solve(N, P, X, y, lambda, omega, eps, tol, 1, b2, &kkt));
  double b3[P] = {0};
  int rc = pf_lasso_solve(N, P, X, y, lambda, omega, eps, 1e-14, 1, b3, NULL);
  PF_T_ASSERT(rc == PF_ENOCONV, "rc %d", rc);
  PF_T_ASSERT(strstr(pf_error_message(), "after 1 sweeps"), "%s",
              pf_error_message());
  return 0;
}

/* The recipe: tau = 0.25 sd(y) sqrt(m2), eps = sqrt(m2) sd(y) / sqrt(n)
 * exactly; lambda against E max_j |z_j| for the design X = 2 I_n (so
 * X_j'z = 2 z_j): E max of n iid |N(0,1)| = int_0^inf 1 - (2 Phi(t) - 1)^n
 * dt, integrated here by the trapezoid rule (error < 1e-7).  With n_mc =
 * 20000 draws the Monte Carlo standard error is sd(max)/sqrt(n_mc) < 0.005
 * (sd(max) < 0.7 for n = 10); allowed 5 se. */
static int lasso_defaults_recipe(void)
{
  enum { N = 10 };
  double X[N * N] = {0}, y[N];
  for (int i = 0; i < N; i++) {
    X[i * N + i] = 2.0;
    y[i] = (double)(i * i % 7) - 0.5 * i;
  }
  double m = 0, ss = 0;
  for (int i = 0; i < N; i++) m += y[i];
  m /= N;
  for (int i = 0; i < N; i++) ss += (y[i] - m) * (y[i] - m);
  const double sdy = sqrt(ss / (N - 1)), m2 = 4.0;
  pf_rng r;
  pf_rng_stream(&r, 5, 1);
  double lambda, eps, tau;
  PF_T_OK(pf_lasso_defaults(N, N, X, y, 0.7, 20000, &r, &lambda, &eps, &tau));
  PF_T_NEAR(tau, 0.25 * sdy * sqrt(m2), 1e-14 * tau);
  PF_T_NEAR(eps, sqrt(m2) * sdy / sqrt((double)N), 1e-14 * eps);
  double emax = 0.0, h = 1e-4;
  for (double t = 0.5 * h; t < 12.0; t += h)
    emax += h * (1.0 - pow(erf(t / sqrt(2.0)), N));
  PF_T_NEAR(lambda, 0.7 * 2.0 * emax, 0.7 * 2.0 * 5 * 0.005);
  /* NULL outputs are skipped. */
  PF_T_OK(pf_lasso_defaults(N, N, X, y, 0.7, 10, &r, NULL, NULL, &tau));
  return 0;
}

/* A selection on simulated data (n = 80, p = 12, rho = 0.3, unit-norm
 * columns, two true signals), with the default recipe. */
static int make_selection(pf_regdata **d, pf_selection **s, double sigma)
{
  double beta[12] = {0};
  beta[0] = 4.0;
  beta[3] = -3.0;
  pf_rng r;
  pf_rng_stream(&r, 21, 0);
  PF_TRY(pf_regdata_simulate(80, 12, 0.3, 1.0, beta, PF_STD_UNIT_NORM, &r, d));
  double lambda, eps, tau;
  pf_rng_stream(&r, 21, 1);
  PF_TRY(pf_lasso_defaults((*d)->n, (*d)->p, (*d)->X, (*d)->y, 0.7, 1000, &r,
                           &lambda, &eps, &tau));
  pf_rng_stream(&r, 21, 2);
  return pf_selection_create((*d)->n, (*d)->p, (*d)->X, (*d)->y, lambda, eps,
                             tau, sigma, &r, s);
}

static double rel_err(size_t m, const double *a, const double *b)
{
  double num = 0, den = 0;
  for (size_t i = 0; i < m; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return sqrt(num / fmax(den, 1e-300));
}

/* Identities of the selection object: R upper triangular with R'R = B'B;
 * omega = B o_obs + c; o_obs > 0 and the Lasso's KKT; log p(o) differs
 * from the p-dimensional -|B o + c|^2 / (2 tau^2) by a constant; the score
 * matches finite differences; -inf outside the orthant; the OLS normal
 * equations and crosscov = -X'X_E Sigma. */
static int selection_identities(void)
{
  pf_regdata *d = NULL;
  pf_selection *s = NULL;
  PF_T_OK(make_selection(&d, &s, 0.0));
  const size_t n = s->n, p = s->p, k = s->k;
  PF_T_ASSERT(k >= 2 && k < p, "k = %zu (want a proper subset)", k);
  double *BtB = calloc(k * k, sizeof(double)), *RtR = calloc(k * k, sizeof(double));
  PF_T_ASSERT(BtB && RtR, "alloc");
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b < k; b++) {
      for (size_t j = 0; j < p; j++) BtB[a * k + b] += s->B[j * k + a] * s->B[j * k + b];
      for (size_t c = 0; c < k; c++) RtR[a * k + b] += s->R[c * k + a] * s->R[c * k + b];
      if (a > b) PF_T_ASSERT(s->R[a * k + b] == 0.0, "R not upper");
    }
  PF_T_ASSERT(rel_err(k * k, RtR, BtB) < 1e-12, "R'R vs B'B %g",
              rel_err(k * k, RtR, BtB));
  free(BtB);
  free(RtR);
  double wmax = 0;
  for (size_t j = 0; j < p; j++) {
    double w = s->c[j];
    for (size_t a = 0; a < k; a++) w += s->B[j * k + a] * s->o_obs[a];
    wmax = fmax(wmax, fabs(w - s->omega[j]) / s->tau);
  }
  PF_T_ASSERT(wmax < 1e-8, "omega = B o + c off by %g tau", wmax);
  for (size_t a = 0; a < k; a++) {
    PF_T_ASSERT(s->o_obs[a] > 0, "o_obs[%zu] = %g", a, s->o_obs[a]);
    PF_T_ASSERT(s->beta[s->active[a]] * s->signs[a] > 0, "sign");
    PF_T_ASSERT(a == 0 || s->active[a] > s->active[a - 1], "order");
  }
  double kk = kkt_of(n, p, d->X, d->y, s->lambda, s->omega, s->eps, s->beta);
  PF_T_ASSERT(kk < 1e-7, "KKT %g", kk);
  /* log p vs the p-dimensional form at points in the orthant. */
  enum { M = 16 };
  double *O = malloc(M * k * sizeof(double)), lp[M];
  double *G = malloc(M * k * sizeof(double));
  PF_T_ASSERT(O && G, "alloc");
  pf_rng r;
  pf_rng_stream(&r, 3, 0);
  pf_rng_uniforms_open(&r, M * k, O);
  for (size_t i = 0; i < M * k; i++) O[i] *= 3.0 * s->o_obs[i % k] + 0.1;
  memcpy(O, s->o_obs, k * sizeof(double));
  pf_selection_logp_grad(s, M, O, lp, G);
  double c0 = 0;
  for (int i = 0; i < M; i++) {
    double q = 0;
    for (size_t j = 0; j < p; j++) {
      double w = s->c[j];
      for (size_t a = 0; a < k; a++) w += s->B[j * k + a] * O[i * k + a];
      q += w * w;
    }
    double diff = lp[i] + 0.5 * q / (s->tau * s->tau);
    if (i == 0) c0 = diff;
    PF_T_NEAR(diff, c0, 1e-9 * fmax(1.0, fabs(lp[i])));
  }
  /* Score vs central differences (log p is quadratic: exact up to
   * rounding of ~1e-16 |log p| / h). */
  for (int i = 0; i < 4; i++)
    for (size_t a = 0; a < k; a++) {
      double x[64], hi, lo, h = 1e-4;
      memcpy(x, O + i * k, k * sizeof(double));
      x[a] += h;
      pf_selection_logp_grad(s, 1, x, &hi, NULL);
      x[a] -= 2 * h;
      pf_selection_logp_grad(s, 1, x, &lo, NULL);
      PF_T_NEAR((hi - lo) / (2 * h), G[i * k + a],
                1e-6 * fmax(1.0, fabs(G[i * k + a])) + 1e-11 * fabs(lp[i]) / h);
    }
  O[1] = -1e-12;
  pf_selection_logp_grad(s, 1, O, lp, G);
  PF_T_ASSERT(lp[0] == -INFINITY && G[1] == 0.0, "outside: %g", lp[0]);
  /* OLS: X_E'(y - X_E t_hat) = 0, Sigma = sigma2 (X_E'X_E)^-1, crosscov. */
  double res_max = 0;
  for (size_t a = 0; a < k; a++) {
    double g = 0;
    for (size_t i = 0; i < n; i++) {
      double res = d->y[i];
      for (size_t b = 0; b < k; b++) res -= d->X[i * p + s->active[b]] * s->t_hat[b];
      g += d->X[i * p + s->active[a]] * res;
    }
    res_max = fmax(res_max, fabs(g));
  }
  PF_T_ASSERT(res_max < 1e-10, "normal equations off by %g", res_max);
  for (size_t j = 0; j < p; j++)
    for (size_t a = 0; a < k; a++) {
      /* crosscov = -X'X_E Sigma; (X'X_E)(Sigma / sigma2) picks column j of
       * X'X_E (X_E'X_E)^-1: for j in E it is the unit vector. */
      double t = 0;
      for (size_t b = 0; b < k; b++) {
        double g = 0;
        for (size_t i = 0; i < n; i++) g += d->X[i * p + j] * d->X[i * p + s->active[b]];
        t += g * s->Sigma[b * k + a];
      }
      PF_T_NEAR(s->crosscov[j * k + a], -t, 1e-12 * fmax(1.0, fabs(t)));
      for (size_t b = 0; b < k; b++)
        if (s->active[b] == j)
          PF_T_NEAR(t / s->sigma2, a == b ? 1.0 : 0.0, 1e-10);
    }
  free(O);
  free(G);
  pf_selection_destroy(&s);
  /* A known sigma is used as is. */
  pf_regdata_destroy(&d);
  PF_T_OK(make_selection(&d, &s, 2.0));
  PF_T_NEAR(s->sigma2, 4.0, 0.0);
  pf_selection_destroy(&s);
  pf_selection_destroy(&s); /* NULL-safe */
  pf_regdata_destroy(&d);
  pf_regdata_destroy(&d);
  return 0;
}

/* The borrowed target: dimension k, orthant, the selection's density,
 * draws inside the orthant; nothing selected gives k = 0 and a refused
 * target. */
static int selection_target(void)
{
  pf_regdata *d = NULL;
  pf_selection *s = NULL;
  pf_target *t = NULL;
  PF_T_OK(make_selection(&d, &s, 0.0));
  PF_T_OK(pf_selection_target(s, &t));
  const size_t k = s->k;
  PF_T_ASSERT(pf_target_dim(t) == k, "dim");
  PF_T_ASSERT(strcmp(pf_domain_name(pf_target_domain(t)), "orthant") == 0,
              "domain %s", pf_domain_name(pf_target_domain(t)));
  PF_T_ASSERT(pf_target_sample_method(t) != NULL, "no sampler");
  enum { M = 200 };
  double *X = malloc(M * k * sizeof(double)), lp[M], lq[M];
  PF_T_ASSERT(X, "alloc");
  pf_rng r;
  pf_rng_stream(&r, 4, 0);
  PF_T_OK(pf_target_sample(t, &r, M, X));
  for (size_t i = 0; i < M * k; i++) PF_T_ASSERT(X[i] >= 0.0, "draw outside");
  PF_T_OK(pf_target_logp_grad(t, M, X, lp, NULL));
  pf_selection_logp_grad(s, M, X, lq, NULL);
  PF_T_ASSERT(memcmp(lp, lq, sizeof lp) == 0, "target density differs");
  free(X);
  pf_target_destroy(&t);
  pf_selection_destroy(&s);
  /* A huge lambda selects nothing: not an error, but no target. */
  pf_rng_stream(&r, 4, 1);
  PF_T_OK(pf_selection_create(d->n, d->p, d->X, d->y, 1e6, 0.1, 0.5, 0.0, &r,
                              &s));
  PF_T_ASSERT(s->k == 0, "k = %zu", s->k);
  int rc = pf_selection_target(s, &t);
  PF_T_ASSERT(rc == PF_EINVAL && t == NULL, "rc %d", rc);
  PF_T_ASSERT(strstr(pf_error_message(), "nothing was selected"), "%s",
              pf_error_message());
  pf_selection_destroy(&s);
  /* n < p without ridge is refused with a clear message. */
  rc = pf_selection_create(5, d->p, d->X, d->y, 1.0, 0.0, 0.5, 0.0, &r, &s);
  PF_T_ASSERT(rc == PF_EINVAL && strstr(pf_error_message(), "eps = 0"),
              "rc %d: %s", rc, pf_error_message());
  pf_regdata_destroy(&d);
  return 0;
}

/* data/diabetes.csv with unit-norm standardization: 442 x 10, names,
 * centred unit-norm columns, centred y; sd and none. */
static int regdata_diabetes(void)
{
  pf_regdata *d;
  PF_T_OK(pf_regdata_read_csv("data/diabetes.csv", NULL, PF_STD_UNIT_NORM, &d));
  PF_T_ASSERT(d->n == 442 && d->p == 10, "%zu x %zu", d->n, d->p);
  PF_T_ASSERT(strcmp(d->names[0], "age") == 0 && strcmp(d->names[9], "s6") == 0,
              "names");
  double my = 0;
  for (size_t i = 0; i < d->n; i++) my += d->y[i];
  PF_T_NEAR(my, 0.0, 1e-9);
  for (size_t j = 0; j < d->p; j++) {
    double m = 0, ss = 0;
    for (size_t i = 0; i < d->n; i++) {
      m += d->X[i * d->p + j];
      ss += d->X[i * d->p + j] * d->X[i * d->p + j];
    }
    PF_T_NEAR(m, 0.0, 1e-12);
    PF_T_NEAR(ss, 1.0, 1e-12);
  }
  pf_regdata_destroy(&d);
  PF_T_OK(pf_regdata_read_csv("data/diabetes.csv", "bmi", PF_STD_SD, &d));
  double ss = 0;
  for (size_t i = 0; i < d->n; i++) ss += d->X[i * d->p] * d->X[i * d->p];
  PF_T_NEAR(ss / (double)(d->n - 1), 1.0, 1e-12);
  PF_T_ASSERT(strcmp(d->names[9], "y") == 0, "response bmi moves y in");
  pf_regdata_destroy(&d);
  PF_T_OK(pf_regdata_read_csv("data/diabetes.csv", NULL, PF_STD_NONE, &d));
  PF_T_NEAR(d->X[0], 59.0, 0.0);
  PF_T_NEAR(d->y[0], 151.0, 0.0);
  pf_regdata_destroy(&d);
  return 0;
}

static int write_text(const char *name, const char *text, char *path,
                      size_t cap)
{
  snprintf(path, cap, "%s/%s", pf_test_tmpdir(), name);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

/* Data problems give errors that name the file, the line and column. */
static int regdata_errors(void)
{
  char path[512];
  pf_regdata *d = NULL;
  PF_T_ASSERT(write_text("ps_bad.csv", "a,b,y\n1,2,3\n4,x7,6\n7,8,10\n", path,
                         sizeof path) == 0, "write");
  int rc = pf_regdata_read_csv(path, NULL, PF_STD_UNIT_NORM, &d);
  const char *m = pf_error_message();
  PF_T_ASSERT(rc < 0 && d == NULL, "rc %d", rc);
  PF_T_ASSERT(strstr(m, path) && strstr(m, ":3") && strstr(m, "'b'") &&
                  strstr(m, "x7"), "message: %s", m);
  PF_T_ASSERT(write_text("ps_const.csv", "a,sex,y\n1,2,3\n4,2,6\n7,2,10\n",
                         path, sizeof path) == 0, "write");
  rc = pf_regdata_read_csv(path, NULL, PF_STD_SD, &d);
  m = pf_error_message();
  PF_T_ASSERT(rc == PF_EINVAL && strstr(m, path) && strstr(m, "'sex'") &&
                  strstr(m, "constant"), "rc %d: %s", rc, m);
  /* Unstandardized, a constant column is allowed (an intercept). */
  PF_T_OK(pf_regdata_read_csv(path, NULL, PF_STD_NONE, &d));
  pf_regdata_destroy(&d);
  rc = pf_regdata_read_csv(path, "yy", PF_STD_NONE, &d);
  m = pf_error_message();
  PF_T_ASSERT(rc == PF_EINVAL && strstr(m, "no response column 'yy'") &&
                  strstr(m, "did you mean 'y'"), "rc %d: %s", rc, m);
  PF_T_ASSERT(write_text("ps_short.csv", "a,y\n1,2\n", path, sizeof path) == 0,
              "write");
  rc = pf_regdata_read_csv(path, NULL, PF_STD_NONE, &d);
  PF_T_ASSERT(rc == PF_EINVAL && strstr(pf_error_message(), "2 data rows"),
              "rc %d: %s", rc, pf_error_message());
  rc = pf_regdata_read_csv("/nonexistent/x.csv", NULL, PF_STD_NONE, &d);
  PF_T_ASSERT(rc == PF_EIO && strstr(pf_error_message(), "/nonexistent/x.csv"),
              "rc %d", rc);
  return 0;
}

/* The selective_lasso target: config errors name their keys (nothing
 * selected -> lambda; unknown response -> response; constant column ->
 * data), and the example builds. */
static int selective_lasso_config(void)
{
  pf_config *cfg = NULL;
  pf_target *t = NULL;
  int rc = pf_test_target(
      "{name: selective_lasso, data: data/diabetes.csv, lambda: 1e7}", &cfg,
      &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "lambda'") &&
                  strstr(pf_error_message(), "selected nothing") &&
                  strstr(pf_error_message(), "diabetes.csv"),
              "rc %d: %s", rc, pf_error_message());
  rc = pf_test_target(
      "{name: selective_lasso, data: data/diabetes.csv, response: Y}", &cfg,
      &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "response'"),
              "rc %d: %s", rc, pf_error_message());
  char path[512], flow[700];
  PF_T_ASSERT(write_text("ps_const2.csv", "a,c,y\n1,2,3\n4,2,6\n7,2,1\n",
                         path, sizeof path) == 0, "write");
  snprintf(flow, sizeof flow, "{name: selective_lasso, data: '%s'}", path);
  rc = pf_test_target(flow, &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "data'") &&
                  strstr(pf_error_message(), "'c'"),
              "rc %d: %s", rc, pf_error_message());
  PF_T_OK(pf_test_target("{name: selective_lasso, data: data/diabetes.csv, "
                         "lambda_sigma: 0}", &cfg, &t));
  PF_T_ASSERT(pf_target_dim(t) >= 1 && pf_target_dim(t) <= 10, "dim %zu",
              pf_target_dim(t));
  /* The workflow builds its selection with the target's own recipe
   * (pf__selection_from_config): same k, and lambda_sigma <= 0 scales the
   * unit-noise recipe (lambda_sigma 1) by the full OLS residual sd (54.2,
   * the spec's figure, so the ratio is in [50, 60]). */
  {
    pf_regdata *d = NULL, *d1 = NULL;
    pf_selection *s = NULL, *s1 = NULL;
    pf_config *c1 = NULL;
    pf_target *t1 = NULL;
    const pf_node *node = pf_node_get(pf_config_root(cfg), "target");
    PF_T_OK(pf__selection_from_config(node, &d, &s, NULL));
    PF_T_ASSERT(s->k == pf_target_dim(t), "k %zu vs dim %zu", s->k,
                pf_target_dim(t));
    PF_T_OK(pf_test_target("{name: selective_lasso, data: data/diabetes.csv, "
                           "lambda_frac: 0.01}", &c1, &t1));
    PF_T_OK(pf__selection_from_config(pf_node_get(pf_config_root(c1), "target"),
                                      &d1, &s1, NULL));
    const double ratio = s->lambda / (s1->lambda / 0.01 * 0.7);
    PF_T_ASSERT(ratio > 50.0 && ratio < 60.0, "lambda %g vs %g: ratio %g",
                s->lambda, s1->lambda, ratio);
    pf_selection_destroy(&s);
    pf_selection_destroy(&s1);
    pf_regdata_destroy(&d);
    pf_regdata_destroy(&d1);
    pf_target_destroy(&t1);
    pf_config_destroy(&c1);
  }
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* Equicorrelated design without standardization: the sample covariance of
 * n = 4000 rows matches Sigma_rho (1 on the diagonal, rho off it) within 5
 * standard errors (Var of a sample covariance entry of Gaussian data:
 * (Sigma_jj Sigma_ll + Sigma_jl^2) / n, i.e. 2/n on the diagonal and
 * (1 + rho^2)/n off it); y = X beta + sigma z has residual variance
 * sigma^2 within 5 se (sqrt(2/n) sigma^2).  Unit-norm standardization
 * gives unit-norm centred columns. */
static int regdata_simulate(void)
{
  const size_t n = 4000, p = 5;
  const double rho = 0.3, sigma = 0.5, beta[5] = {1, -1, 0.5, 0, 2};
  pf_rng r;
  pf_rng_stream(&r, 8, 0);
  pf_regdata *d;
  PF_T_OK(pf_regdata_simulate(n, p, rho, sigma, beta, PF_STD_NONE, &r, &d));
  PF_T_ASSERT(d->names == NULL, "names");
  for (size_t j = 0; j < p; j++)
    for (size_t l = 0; l < p; l++) {
      double s = 0;
      for (size_t i = 0; i < n; i++) s += d->X[i * p + j] * d->X[i * p + l];
      s /= (double)n; /* the mean is 0 by construction */
      double want = j == l ? 1.0 : rho;
      double se = sqrt((j == l ? 2.0 : 1.0 + rho * rho) / (double)n);
      PF_T_NEAR(s, want, 5 * se);
    }
  double rss = 0;
  for (size_t i = 0; i < n; i++) {
    double e = d->y[i];
    for (size_t j = 0; j < p; j++) e -= d->X[i * p + j] * beta[j];
    rss += e * e;
  }
  PF_T_NEAR(rss / (double)n, sigma * sigma, 5 * sqrt(2.0 / n) * sigma * sigma);
  pf_regdata_destroy(&d);
  PF_T_OK(pf_regdata_simulate(100, 40, rho, 1.0, NULL, PF_STD_UNIT_NORM, &r,
                              &d));
  for (size_t j = 0; j < 40; j++) {
    double m = 0, ss = 0;
    for (size_t i = 0; i < 100; i++) {
      m += d->X[i * 40 + j];
      ss += d->X[i * 40 + j] * d->X[i * 40 + j];
    }
    PF_T_NEAR(m, 0.0, 1e-12);
    PF_T_NEAR(ss, 1.0, 1e-12);
  }
  pf_regdata_destroy(&d);
  int rc = pf_regdata_simulate(10, 3, 1.0, 1.0, NULL, PF_STD_NONE, &r, &d);
  PF_T_ASSERT(rc == PF_EINVAL, "rho = 1 accepted");
  return 0;
}

const pf_test_case pf_tests_postsel[] = {
    {"lasso_orthogonal", lasso_orthogonal},
    {"lasso_sklearn", lasso_sklearn},
    {"lasso_kkt", lasso_kkt},
    {"lasso_defaults_recipe", lasso_defaults_recipe},
    {"selection_identities", selection_identities},
    {"selection_target", selection_target},
    {"regdata_diabetes", regdata_diabetes},
    {"regdata_errors", regdata_errors},
    {"selective_lasso_config", selective_lasso_config},
    {"regdata_simulate", regdata_simulate},
    {NULL, NULL}};
