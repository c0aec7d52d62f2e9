/* The selection event of the randomized Lasso and its selective density
 * (include/pflow/postsel.h has the model).  Everything is built once with
 * CBLAS/LAPACKE; the density is evaluated row by row, in parallel over
 * rows with identical per-row arithmetic (same bits for any thread
 * count). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../targets/truncated_gaussian.h"
#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/postsel.h"
#include "pflow/target.h"
#include "selection_target.h"

void pf_selection_destroy(pf_selection **ps)
{
  if (!ps || !*ps) return;
  pf_selection *s = *ps;
  free(s->active);
  free(s->signs);
  free(s->beta);
  free(s->omega);
  free(s->B);
  free(s->c);
  free(s->R);
  free(s->r);
  free(s->o_obs);
  free(s->t_hat);
  free(s->Sigma);
  free(s->crosscov);
  free(s);
  *ps = NULL;
}

static int all_finite(size_t n, const double *v)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

/* Lasso solve accuracy: KKT violation below 1e-10 |X'y|_inf, far below
 * anything that could flip a coordinate in or out of the active set except
 * for a coefficient within ~1e-10 of zero. */
#define SEL_TOL 1e-10
#define SEL_MAX_SWEEPS 200000

/* The selected-model quantities: t_hat, Sigma, sigma2, crosscov, from
 * XtXE = X'X_E (p x k) and X_E (n x k). */
static int selected_model(pf_selection *s, const double *XE,
                          const double *XtXE, const double *y, double sigma)
{
  const size_t n = s->n, p = s->p, k = s->k;
  int rc = 0;
  double *G = malloc(k * k * sizeof(double)), *res = malloc(n * sizeof(double));
  PF_CHECK_GOTO(rc, G && res, PF_ENOMEM, done, "allocating the OLS workspace");
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b < k; b++) G[a * k + b] = XtXE[s->active[a] * k + b];
  lapack_int info =
      LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)k, G, (lapack_int)k);
  PF_CHECK_GOTO(rc, info == 0, PF_EINVAL, done,
                "the %zu selected columns are collinear: X_E'X_E is singular "
                "(Cholesky pivot %d), so their OLS coefficients are not "
                "defined", k, (int)info);
  cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)k, 1.0, XE, (int)k, y,
              1, 0.0, s->t_hat, 1);
  LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', (lapack_int)k, 1, G, (lapack_int)k,
                 s->t_hat, 1);
  LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)k, G, (lapack_int)k);
  for (size_t a = 0; a < k; a++)
    for (size_t b = a + 1; b < k; b++) G[a * k + b] = G[b * k + a];
  if (sigma > 0.0) {
    s->sigma2 = sigma * sigma;
  } else {
    memcpy(res, y, n * sizeof(double));
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, -1.0, XE, (int)k,
                s->t_hat, 1, 1.0, res, 1);
    double rss = 0.0;
    for (size_t i = 0; i < n; i++) rss += res[i] * res[i];
    s->sigma2 = rss / (double)(n - k);
    PF_CHECK_GOTO(rc, s->sigma2 > 0.0, PF_EINVAL, done,
                  "the selected model fits y exactly (residual sum of "
                  "squares %g): the noise level cannot be estimated; give "
                  "sigma", rss);
  }
  for (size_t i = 0; i < k * k; i++) s->Sigma[i] = s->sigma2 * G[i];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)k,
              (int)k, -1.0, XtXE, (int)k, s->Sigma, (int)k, 0.0, s->crosscov,
              (int)k);
done:
  free(G);
  free(res);
  return rc;
}

/* B, c, R, r, o_obs of a selection with k >= 1 (active set, signs, beta,
 * omega filled), and the selected model. */
static int build(pf_selection *s, const double *X, const double *y,
                 double sigma)
{
  const size_t n = s->n, p = s->p, k = s->k;
  int rc = 0;
  double *XE = malloc(n * k * sizeof(double));
  double *XtXE = malloc(p * k * sizeof(double));
  double *Xty = malloc(p * sizeof(double));
  double *BtB = malloc(k * k * sizeof(double));
  PF_CHECK_GOTO(rc, XE && XtXE && Xty && BtB, PF_ENOMEM, done,
                "allocating the selection workspace (p = %zu, k = %zu)", p, k);
  for (size_t i = 0; i < n; i++)
    for (size_t a = 0; a < k; a++) XE[i * k + a] = X[i * p + s->active[a]];
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)k, (int)n,
              1.0, X, (int)p, XE, (int)k, 0.0, XtXE, (int)k);
  cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)p, 1.0, X, (int)p, y, 1,
              0.0, Xty, 1);
  /* B = (X'X_E + eps I_{.,E}) diag(s_E). */
  for (size_t j = 0; j < p; j++)
    for (size_t a = 0; a < k; a++)
      s->B[j * k + a] =
          (XtXE[j * k + a] + (j == s->active[a] ? s->eps : 0.0)) * s->signs[a];
  /* c = u - X'y: u_E = lambda s_E; on the inactive rows the observed
   * subgradient lambda z_j = x_j'(y - X beta) + omega_j, so that
   * c_j = omega_j - (X'X_E beta_E)_j and omega = B o_obs + c holds there
   * exactly (on E up to the solver's KKT tolerance). */
  for (size_t a = 0; a < k; a++) s->o_obs[a] = fabs(s->beta[s->active[a]]);
  for (size_t j = 0, a = 0; j < p; j++) {
    if (a < k && s->active[a] == j) {
      s->c[j] = s->lambda * s->signs[a] - Xty[j];
      a++;
    } else {
      double t = 0.0;
      for (size_t b = 0; b < k; b++)
        t += XtXE[j * k + b] * s->beta[s->active[b]];
      s->c[j] = s->omega[j] - t;
    }
  }
  /* R = chol(B'B), upper; r = R^{-T} B'c. */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)k, (int)p,
              1.0, s->B, (int)k, s->B, (int)k, 0.0, BtB, (int)k);
  memcpy(s->R, BtB, k * k * sizeof(double));
  lapack_int info =
      LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)k, s->R, (lapack_int)k);
  PF_CHECK_GOTO(rc, info == 0, PF_EINVAL, done,
                "B'B of the %zu selected columns is singular (Cholesky pivot "
                "%d): the selective density is degenerate", k, (int)info);
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b < a; b++) s->R[a * k + b] = 0.0;
  cblas_dgemv(CblasRowMajor, CblasTrans, (int)p, (int)k, 1.0, s->B, (int)k,
              s->c, 1, 0.0, s->r, 1);
  LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, 'U', 'T', 'N', (lapack_int)k, 1, s->R,
                 (lapack_int)k, s->r, 1);
  PF_TRY_GOTO(rc, selected_model(s, XE, XtXE, y, sigma), done);
done:
  free(XE);
  free(XtXE);
  free(Xty);
  free(BtB);
  return rc;
}

int pf_selection_create(size_t n, size_t p, const double *X, const double *y,
                        double lambda, double eps, double tau, double sigma,
                        pf_rng *rng, pf_selection **out)
{
  *out = NULL;
  PF_CHECK(n >= 2 && p >= 1, PF_EINVAL,
           "selection: need n >= 2 rows and p >= 1 columns (%zu x %zu)", n,
           p);
  PF_CHECK(all_finite(n * p, X) && all_finite(n, y), PF_EINVAL,
           "selection: the design or the response has non-finite values");
  PF_CHECK(lambda > 0.0 && isfinite(lambda), PF_EINVAL,
           "selection: lambda = %g must be finite and > 0", lambda);
  PF_CHECK(eps >= 0.0 && isfinite(eps), PF_EINVAL,
           "selection: ridge eps = %g must be finite and >= 0", eps);
  PF_CHECK(tau > 0.0 && isfinite(tau), PF_EINVAL,
           "selection: randomization scale tau = %g must be finite and > 0",
           tau);
  PF_CHECK(!(n < p && eps == 0.0), PF_EINVAL,
           "selection: n = %zu rows < p = %zu columns with ridge eps = 0: "
           "the Lasso solution need not be unique; use eps > 0", n, p);
  int rc = 0;
  pf_selection *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating a selection");
  s->n = n;
  s->p = p;
  s->lambda = lambda;
  s->eps = eps;
  s->tau = tau;
  s->beta = calloc(p, sizeof(double));
  s->omega = malloc(p * sizeof(double));
  PF_CHECK_GOTO(rc, s->beta && s->omega, PF_ENOMEM, fail,
                "allocating a selection (p = %zu)", p);
  pf_rng_normal(rng, p, s->omega);
  for (size_t j = 0; j < p; j++) s->omega[j] *= tau;
  PF_TRY_GOTO(rc, pf_lasso_solve(n, p, X, y, lambda, s->omega, eps, SEL_TOL,
                                 SEL_MAX_SWEEPS, s->beta, &s->kkt),
              fail);
  size_t k = 0;
  for (size_t j = 0; j < p; j++) k += s->beta[j] != 0.0;
  s->k = k;
  const size_t kk = k ? k : 1;
  s->active = malloc(kk * sizeof(size_t));
  s->signs = malloc(kk * sizeof(int));
  s->B = calloc(p * kk, sizeof(double));
  s->c = calloc(p, sizeof(double));
  s->R = calloc(kk * kk, sizeof(double));
  s->r = calloc(kk, sizeof(double));
  s->o_obs = calloc(kk, sizeof(double));
  s->t_hat = calloc(kk, sizeof(double));
  s->Sigma = calloc(kk * kk, sizeof(double));
  s->crosscov = calloc(p * kk, sizeof(double));
  PF_CHECK_GOTO(rc, s->active && s->signs && s->B && s->c && s->R && s->r &&
                        s->o_obs && s->t_hat && s->Sigma && s->crosscov,
                PF_ENOMEM, fail, "allocating a selection (p = %zu, k = %zu)",
                p, k);
  for (size_t j = 0, a = 0; j < p; j++)
    if (s->beta[j] != 0.0) {
      s->active[a] = j;
      s->signs[a] = s->beta[j] > 0.0 ? 1 : -1;
      a++;
    }
  if (k == 0) { /* nothing selected: not an error; c = -X'y + lambda z */
    for (size_t j = 0; j < p; j++) s->c[j] = s->omega[j];
    *out = s;
    return 0;
  }
  PF_CHECK_GOTO(rc, sigma > 0.0 || n > k, PF_EINVAL, fail,
                "selection: %zu variables selected from n = %zu rows: the "
                "noise level cannot be estimated from the residuals (n <= k); "
                "give sigma or raise lambda", k, n);
  PF_TRY_GOTO(rc, build(s, X, y, sigma), fail);
  *out = s;
  return 0;
fail:
  pf_selection_destroy(&s);
  return rc;
}

/* ---- the selective density ------------------------------------------- */

/* log p and score of one point: v = R o + r, log p = -|v|^2 / (2 tau^2),
 * score = -R'v / tau^2.  v is kept in grad and turned into the score in
 * place from the last coordinate down (score_b needs v_a for a <= b only),
 * so no scratch is needed. */
static void logp_one(const pf_selection *s, const double *o, double *logp,
                     double *grad)
{
  const size_t k = s->k;
  const double *R = s->R, inv = 1.0 / (s->tau * s->tau);
  for (size_t a = 0; a < k; a++)
    if (!(o[a] >= 0.0)) {
      if (logp) *logp = -INFINITY;
      if (grad) memset(grad, 0, k * sizeof(double));
      return;
    }
  double q = 0.0;
  for (size_t a = 0; a < k; a++) {
    double t = s->r[a];
    for (size_t b = a; b < k; b++) t += R[a * k + b] * o[b];
    if (grad) grad[a] = t;
    q += t * t;
  }
  if (logp) *logp = -0.5 * inv * q;
  if (grad)
    for (size_t b = k; b-- > 0;) {
      double t = 0.0;
      for (size_t a = 0; a <= b; a++) t += R[a * k + b] * grad[a];
      grad[b] = -inv * t;
    }
}

/* Parallel over rows when the batch is worth it (a row costs ~k^2 flops);
 * every row is computed the same way whatever the split. */
void pf_selection_logp_grad(const pf_selection *s, size_t m, const double *O,
                            double *logp, double *grad)
{
  const size_t k = s->k;
  if (k == 0) {
    if (logp)
      for (size_t i = 0; i < m; i++) logp[i] = 0.0;
    return;
  }
#pragma omp parallel for schedule(static) if (m * k * k > 32768)
  for (size_t i = 0; i < m; i++)
    logp_one(s, O + i * k, logp ? logp + i : NULL, grad ? grad + i * k : NULL);
}

/* ---- the target -------------------------------------------------------- */

typedef struct seltarget {
  const pf_selection *s;
  pf_selection *own;
  pf_target *tg; /* the equivalent truncated normal: sampler and domain */
} seltarget;

void pf__seltarget_destroy(void *ctx)
{
  seltarget *t = ctx;
  if (!t) return;
  pf_target_destroy(&t->tg);
  pf_selection_destroy(&t->own);
  free(t);
}

int pf__seltarget_create(const pf_selection *s, pf_selection *own,
                         const char *options, void **ctx, size_t *dim)
{
  PF_CHECK(s && s->k >= 1, PF_EINVAL,
           "the selective density of an empty selection (nothing selected) "
           "has dimension 0 and cannot be sampled");
  const size_t k = s->k;
  int rc = 0;
  seltarget *t = calloc(1, sizeof *t);
  double *mean = malloc(k * sizeof(double));
  double *Ri = malloc(k * k * sizeof(double));
  double *cov = malloc(k * k * sizeof(double));
  PF_CHECK_GOTO(rc, t && mean && Ri && cov, PF_ENOMEM, fail,
                "allocating the selective target (k = %zu)", k);
  t->s = s;
  /* Precision R'R / tau^2, mean -R^{-1} r: cov = tau^2 R^{-1} R^{-T}. */
  for (size_t a = 0; a < k; a++) mean[a] = -s->r[a];
  LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, 'U', 'N', 'N', (lapack_int)k, 1, s->R,
                 (lapack_int)k, mean, 1);
  memcpy(Ri, s->R, k * k * sizeof(double));
  lapack_int info = LAPACKE_dtrtri(LAPACK_ROW_MAJOR, 'U', 'N', (lapack_int)k,
                                   Ri, (lapack_int)k);
  PF_CHECK_GOTO(rc, info == 0, PF_ELINALG, fail,
                "inverting R of the selective density failed (info %d)",
                (int)info);
  for (size_t a = 0; a < k; a++)
    for (size_t b = a; b < k; b++) {
      double v = 0.0;
      for (size_t c = b; c < k; c++) v += Ri[a * k + c] * Ri[b * k + c];
      cov[a * k + b] = cov[b * k + a] = s->tau * s->tau * v;
    }
  PF_TRY_GOTO(rc, pf__truncated_gaussian_create(k, mean, cov, options,
                                                &t->tg),
              fail);
  t->own = own;
  free(mean);
  free(Ri);
  free(cov);
  *ctx = t;
  *dim = k;
  return 0;
fail:
  free(mean);
  free(Ri);
  free(cov);
  pf__seltarget_destroy(t);
  return rc;
}

int pf__seltarget_logp_grad(void *ctx, size_t n, const double *X,
                            double *logp, double *grad)
{
  const seltarget *t = ctx;
  pf_selection_logp_grad(t->s, n, X, logp, grad);
  return 0;
}

int pf__seltarget_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  seltarget *t = ctx;
  return pf_target_sample(t->tg, rng, n, X);
}

const pf_domain *pf__seltarget_domain(void *ctx)
{
  return pf_target_domain(((seltarget *)ctx)->tg);
}

const char *pf__seltarget_sample_method(void *ctx)
{
  return pf_target_sample_method(((seltarget *)ctx)->tg);
}

/* pf_selection_target: the ops' create cannot take the selection as an
 * argument, so it is handed over through a thread-local slot set just
 * around pf_target_create_ops. */
static _Thread_local const pf_selection *pending_selection;

static int borrowed_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  (void)cfg;
  return pf__seltarget_create(pending_selection, NULL, NULL, ctx, dim);
}

static const pf_target_ops selection_target_ops = {
    .base = {"selective_density",
             "selective density of a randomized Lasso selection", NULL},
    .example = NULL,
    .create = borrowed_create,
    .destroy = pf__seltarget_destroy,
    .logp_grad = pf__seltarget_logp_grad,
    .sample = pf__seltarget_sample,
    .domain = pf__seltarget_domain,
    .sample_method = pf__seltarget_sample_method,
};

int pf_selection_target(const pf_selection *s, pf_target **out)
{
  *out = NULL;
  PF_CHECK(s, PF_EINVAL, "pf_selection_target: no selection");
  PF_CHECK(s->k >= 1, PF_EINVAL,
           "nothing was selected (lambda = %g): the selective density has "
           "dimension 0 and cannot be sampled", s->lambda);
  pending_selection = s;
  int rc = pf_target_create_ops(&selection_target_ops, NULL, out);
  pending_selection = NULL;
  return rc;
}

/* ---- the selection of a selective_lasso config section -------------- */

/* Re-raise the current error as a config error at `key`, keeping its
 * message (which names the file and line for data problems). */
static int raise_at(const pf_node *cfg, const char *key, int code)
{
  char msg[1400];
  snprintf(msg, sizeof msg, "%s", pf_error_message());
  if (code == PF_ENOMEM) return code;
  return pf__config_raise(cfg, key, PF_ECONFIG, __FILE__, __LINE__, "%s",
                          msg);
}

/* Residual standard deviation of the OLS fit of y on all columns (with
 * the intercept the centring stands for when `centred`), for the lambda
 * recipe's noise level. */
static int full_ols_sigma(const pf_regdata *d, int centred, double *out)
{
  const size_t n = d->n, p = d->p, df = n - p - (centred ? 1 : 0);
  PF_CHECK(n > p + (centred ? 1 : 0), PF_EINVAL,
           "estimating the noise level from the full OLS fit needs more rows "
           "than columns (n = %zu, p = %zu); give lambda_sigma > 0", n, p);
  double *A = malloc(n * p * sizeof(double)), *b = malloc(n * sizeof(double));
  if (!A || !b) {
    free(A);
    free(b);
    PF_RAISE(PF_ENOMEM, "allocating the OLS fit");
  }
  memcpy(A, d->X, n * p * sizeof(double));
  memcpy(b, d->y, n * sizeof(double));
  lapack_int info = LAPACKE_dgels(LAPACK_ROW_MAJOR, 'N', (lapack_int)n,
                                  (lapack_int)p, 1, A, (lapack_int)p, b, 1);
  double rss = 0.0;
  for (size_t i = p; i < n; i++) rss += b[i] * b[i];
  free(A);
  free(b);
  PF_CHECK(info == 0, PF_EINVAL,
           "the design is rank deficient (LAPACK dgels info %d): the noise "
           "level cannot be estimated; give lambda_sigma > 0", (int)info);
  *out = sqrt(rss / (double)df);
  PF_CHECK(*out > 0.0, PF_EINVAL,
           "the full OLS fit is exact: the noise level cannot be estimated; "
           "give lambda_sigma > 0");
  return 0;
}

/* Stream indices under randomization_seed (documented in the
 * selective_lasso spec). */
enum { SEL_STREAM_OMEGA = 0, SEL_STREAM_LAMBDA = 1 };

int pf__selection_from_config(const pf_node *cfg, pf_regdata **pd,
                              pf_selection **ps, char **ppath)
{
  int rc = 0;
  char *path = NULL;
  pf_regdata *d = NULL;
  *pd = NULL;
  *ps = NULL;
  if (ppath) *ppath = NULL;
  PF_TRY(pf_input_path(cfg, "data", PF_EIO, &path));
  const char *std_s = pf_cfg_str(cfg, "standardize");
  pf_standardize std = strcmp(std_s, "none") == 0 ? PF_STD_NONE
                       : strcmp(std_s, "sd") == 0 ? PF_STD_SD
                                                  : PF_STD_UNIT_NORM;
  rc = pf_regdata_read_csv(path, pf_cfg_str(cfg, "response"), std, &d);
  if (rc < 0) {
    const char *key =
        strstr(pf_error_message(), "no response column") ? "response" : "data";
    rc = raise_at(cfg, key, rc);
    goto done;
  }
  double frac, sigma, lambda, eps, tau;
  long long seed, n_mc;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "lambda_frac", &frac), done);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "sigma", &sigma), done);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "randomization_seed", &seed), done);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "n_mc", &n_mc), done);
  const int has_l = pf_cfg_has(cfg, "lambda"), has_e = pf_cfg_has(cfg, "eps"),
            has_t = pf_cfg_has(cfg, "tau");
  pf_rng rl, ro;
  pf_rng_stream(&rl, (uint64_t)seed, SEL_STREAM_LAMBDA);
  pf_rng_stream(&ro, (uint64_t)seed, SEL_STREAM_OMEGA);
  PF_TRY_GOTO(rc, pf_lasso_defaults(d->n, d->p, d->X, d->y, frac,
                                    (size_t)n_mc, &rl, has_l ? NULL : &lambda,
                                    &eps, &tau),
              done);
  if (has_l) {
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "lambda", &lambda), done);
  } else {
    double ls;
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "lambda_sigma", &ls), done);
    if (ls <= 0.0) {
      rc = full_ols_sigma(d, std != PF_STD_NONE, &ls);
      if (rc < 0) {
        rc = raise_at(cfg, "lambda_sigma", rc);
        goto done;
      }
    }
    lambda *= ls;
  }
  if (has_e) PF_TRY_GOTO(rc, pf_cfg_real(cfg, "eps", &eps), done);
  if (has_t) PF_TRY_GOTO(rc, pf_cfg_real(cfg, "tau", &tau), done);
  if (!(tau > 0.0)) {
    rc = pf__config_raise(cfg, has_t ? "tau" : "data", PF_ECONFIG, __FILE__,
                          __LINE__,
                          "randomization scale tau = %g: the response of "
                          "'%s' has no spread; give tau > 0", tau, path);
    goto done;
  }
  rc = pf_selection_create(d->n, d->p, d->X, d->y, lambda, eps, tau, sigma,
                           &ro, ps);
  if (rc < 0) {
    const char *m = pf_error_message();
    const char *key = strstr(m, "eps = 0")      ? "eps"
                      : strstr(m, "give sigma") ? "sigma"
                                                : "data";
    rc = raise_at(cfg, key, rc);
    goto done;
  }
done:
  if (rc < 0) {
    pf_regdata_destroy(&d);
    free(path);
    return rc;
  }
  *pd = d;
  if (ppath)
    *ppath = path;
  else
    free(path);
  return 0;
}
