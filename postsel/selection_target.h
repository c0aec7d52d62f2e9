/* Internal: the target of the selective density of a pf_selection (the
 * context behind pf_selection_target and the `selective_lasso` target,
 * postsel/selection.c).  Not a public interface. */
#ifndef PF_POSTSEL_SELECTION_TARGET_H
#define PF_POSTSEL_SELECTION_TARGET_H

#include <stddef.h>

#include "pflow/config.h"
#include "pflow/postsel.h"
#include "pflow/target.h"

/* Build the context for selection s (k >= 1): logp_grad through
 * pf_selection_logp_grad, the orthant domain and the exact sampler of the
 * equivalent truncated normal N(-R^{-1} r, tau^2 (R'R)^{-1}) on the orthant
 * (targets/truncated_gaussian.c: rejection when the pilot acceptance is
 * high, else exact coordinate Gibbs).  `own` (may be NULL) is s itself when
 * the context takes ownership (destroyed with it); otherwise s must outlive
 * the context.  `options`: extra entries for the truncated_gaussian section
 * (NULL: its defaults).  Raises PF_EINVAL for k = 0. */
int pf__seltarget_create(const pf_selection *s, pf_selection *own,
                         const char *options, void **ctx, size_t *dim);
void pf__seltarget_destroy(void *ctx);
int pf__seltarget_logp_grad(void *ctx, size_t n, const double *X,
                            double *logp, double *grad);
int pf__seltarget_sample(void *ctx, pf_rng *rng, size_t n, double *X);
const pf_domain *pf__seltarget_domain(void *ctx);
const char *pf__seltarget_sample_method(void *ctx);

/* The selection of a `selective_lasso` config section cfg, the one recipe
 * shared by the target (targets/selective_lasso.c) and the postsel
 * workflow: read and standardize `data` (`response`, `standardize`), take
 * lambda, eps, tau from the keys or the selectiveInference defaults
 * (pf_lasso_defaults; lambda times `lambda_sigma`, <= 0: the full OLS
 * residual sd), and fit the randomized Lasso.  Randomness: PCG stream 0 of
 * `randomization_seed` draws omega, stream 1 the lambda Monte Carlo, so
 * the selection never depends on the sampler's seed.  On success *pd (the
 * data), *ps (the selection, possibly k = 0) and, when ppath is not NULL,
 * *ppath (the resolved path, free()) are owned by the caller; on failure
 * all are NULL.  Data problems are config errors naming the key. */
int pf__selection_from_config(const pf_node *cfg, pf_regdata **pd,
                              pf_selection **ps, char **ppath);

#endif
