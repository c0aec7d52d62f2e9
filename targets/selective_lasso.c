/* `selective_lasso`: the selective density of the optimization variables
 * o = |beta_E| after a randomized Lasso on a CSV data set (Tian & Taylor
 * 2018; the experiment of Shi, Liu & Mackey 2022), a Gaussian restricted to
 * the nonnegative orthant (include/pflow/postsel.h has the model).
 *
 * create: read and standardize the data, draw lambda, eps, tau by the
 * selectiveInference recipe (pf_lasso_defaults; lambda times
 * `lambda_sigma`, the recipe's sigma_est = 1 by default, which suits unit
 * noise; a response in its own units such as diabetes's needs its noise
 * level, `lambda_sigma: 0` estimates it) unless given, fit the
 * randomized Lasso with omega ~ N(0, tau^2 I) and build the selection.
 * Randomness: run seed `randomization_seed`, PCG stream index 0 for omega
 * and stream index 1 for the Monte Carlo estimate of lambda
 * (pf_rng_stream), so the selection never depends on the sampler's seed.
 * Nothing selected is a config error (a 0-dimensional target cannot be
 * sampled); the postsel workflow reports that case as an empty result. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../postsel/selection_target.h"
#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/postsel.h"
#include "pflow/target.h"

/* Stream indices under randomization_seed (documented in the spec). */
enum { SL_STREAM_OMEGA = 0, SL_STREAM_LAMBDA = 1 };

/* Re-raise the current error as a config error at `key`, keeping its
 * message (which names the file and line for data problems). */
static int raise_at(const pf_node *cfg, const char *key, int code)
{
  char msg[1400];
  snprintf(msg, sizeof msg, "%s", pf_error_message());
  return pf__config_raise(cfg, key, code, __FILE__, __LINE__, "%s", msg);
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

static int sl_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  char *path = NULL;
  pf_regdata *d = NULL;
  pf_selection *s = NULL;
  PF_TRY(pf_input_path(cfg, "data", PF_EIO, &path));
  const char *std_s = pf_cfg_str(cfg, "standardize");
  pf_standardize std = strcmp(std_s, "none") == 0 ? PF_STD_NONE
                       : strcmp(std_s, "sd") == 0 ? PF_STD_SD
                                                  : PF_STD_UNIT_NORM;
  const char *resp = pf_cfg_str(cfg, "response");
  rc = pf_regdata_read_csv(path, resp, std, &d);
  if (rc < 0) {
    const char *key =
        strstr(pf_error_message(), "no response column") ? "response" : "data";
    rc = raise_at(cfg, key, rc == PF_ENOMEM ? rc : PF_ECONFIG);
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
  pf_rng_stream(&rl, (uint64_t)seed, SL_STREAM_LAMBDA);
  pf_rng_stream(&ro, (uint64_t)seed, SL_STREAM_OMEGA);
  PF_TRY_GOTO(rc, pf_lasso_defaults(d->n, d->p, d->X, d->y, frac,
                                    (size_t)n_mc, &rl, has_l ? NULL : &lambda,
                                    &eps, &tau),
              done);
  if (!has_l) {
    double ls;
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "lambda_sigma", &ls), done);
    if (ls <= 0.0) {
      rc = full_ols_sigma(d, std != PF_STD_NONE, &ls);
      if (rc < 0) {
        rc = raise_at(cfg, "lambda_sigma", rc == PF_ENOMEM ? rc : PF_ECONFIG);
        goto done;
      }
    }
    lambda *= ls;
  }
  if (has_l) PF_TRY_GOTO(rc, pf_cfg_real(cfg, "lambda", &lambda), done);
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
                           &ro, &s);
  if (rc < 0) {
    const char *m = pf_error_message();
    const char *key = strstr(m, "eps = 0") ? "eps"
                      : strstr(m, "give sigma") ? "sigma"
                                                : "data";
    rc = raise_at(cfg, key, rc == PF_ENOMEM ? rc : PF_ECONFIG);
    goto done;
  }
  if (s->k == 0) {
    rc = pf__config_raise(cfg, has_l ? "lambda" : "lambda_frac", PF_ECONFIG,
                          __FILE__, __LINE__,
                          "the randomized Lasso on '%s' selected nothing "
                          "(lambda = %g, eps = %g, tau = %g, "
                          "randomization_seed %lld): the selective density "
                          "has dimension 0; lower lambda (or lambda_frac)",
                          path, lambda, eps, tau, seed);
    goto done;
  }
  PF_TRY_GOTO(rc, pf__seltarget_create(s, s, NULL, ctx, dim), done);
  s = NULL; /* owned by the context now */
done:
  pf_selection_destroy(&s);
  pf_regdata_destroy(&d);
  free(path);
  return rc;
}

static const pf_param sl_params[] = {
    {"data", PF_P_STRING, NULL, NULL,
     "CSV file with a header row: the response and the predictors "
     "(relative paths: working directory, then the config's directory)",
     PF_PARAM_REQUIRED, NULL, NULL},
    {"response", PF_P_STRING, NULL, NULL,
     "name of the response column (default: the last column); every other "
     "column is a predictor", 0, NULL, NULL},
    {"standardize", PF_P_STRING, "unit_norm", "unit_norm|sd|none",
     "predictors centred and scaled to unit Euclidean norm (unit_norm, "
     "selectiveInference's scale = TRUE) or unit sample sd (sd), y centred; "
     "none leaves both as read", 0, NULL, NULL},
    {"lambda_frac", PF_P_REAL, "0.7", "(0,inf)",
     "lambda = lambda_frac * lambda_sigma * E max_j |X_j'z|, z ~ N(0, I_n) "
     "(Monte Carlo, n_mc draws), unless lambda is given", 0, NULL, NULL},
    {"lambda_sigma", PF_P_REAL, "1", NULL,
     "noise level sigma_est the lambda recipe is multiplied by: 1 as in "
     "selectiveInference and the coverage study (responses with unit "
     "noise); <= 0 estimates it as the residual sd of the full OLS fit "
     "(n > p), for a response in its own units (diabetes: 54.2)",
     0, NULL, NULL},
    {"lambda", PF_P_REAL, NULL, "(0,inf)",
     "Lasso penalty (overrides lambda_frac)", 0, NULL, NULL},
    {"eps", PF_P_REAL, NULL, "[0,inf)",
     "ridge term (default sqrt(mean_j |X_j|^2) sd(y) / sqrt(n))", 0, NULL,
     NULL},
    {"tau", PF_P_REAL, NULL, "(0,inf)",
     "randomization scale, omega ~ N(0, tau^2 I) (default 0.25 sd(y) "
     "sqrt(mean_j |X_j|^2))", 0, NULL, NULL},
    {"sigma", PF_P_REAL, "0", NULL,
     "noise level of the selected model; <= 0 estimates it from the OLS "
     "residuals on the selected columns", 0, NULL, NULL},
    {"randomization_seed", PF_P_INT, "1", "[0,1e18]",
     "seed of the randomization: PCG stream 0 of this seed draws omega, "
     "stream 1 the Monte Carlo draws of the lambda recipe", 0, NULL, NULL},
    {"n_mc", PF_P_INT, "1000", "[1,1e9]",
     "Monte Carlo draws for the lambda recipe", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_selective_lasso = {
    .base = {"selective_lasso",
             "selective density of the randomized Lasso's optimization "
             "variables (a Gaussian on the orthant)",
             sl_params},
    .example = "{name: selective_lasso, data: data/diabetes.csv}",
    .create = sl_create,
    .destroy = pf__seltarget_destroy,
    .logp_grad = pf__seltarget_logp_grad,
    .sample = pf__seltarget_sample,
    .domain = pf__seltarget_domain,
    .sample_method = pf__seltarget_sample_method,
};
