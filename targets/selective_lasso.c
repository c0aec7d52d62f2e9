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
#include <stdlib.h>

#include "../postsel/selection_target.h"
#include "pflow/error.h"
#include "pflow/postsel.h"
#include "pflow/target.h"

static int sl_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  char *path = NULL;
  pf_regdata *d = NULL;
  pf_selection *s = NULL;
  PF_TRY(pf__selection_from_config(cfg, &d, &s, &path));
  if (s->k == 0) {
    long long seed;
    PF_TRY_GOTO(rc, pf_cfg_int(cfg, "randomization_seed", &seed), done);
    rc = pf__config_raise(cfg,
                          pf_cfg_has(cfg, "lambda") ? "lambda" : "lambda_frac",
                          PF_ECONFIG, __FILE__, __LINE__,
                          "the randomized Lasso on '%s' selected nothing "
                          "(lambda = %g, eps = %g, tau = %g, "
                          "randomization_seed %lld): the selective density "
                          "has dimension 0; lower lambda (or lambda_frac)",
                          path, s->lambda, s->eps, s->tau, seed);
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
