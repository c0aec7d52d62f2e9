/* Internal: programmatic construction of the `truncated_gaussian` target
 * (targets/truncated_gaussian.c), for code that builds a truncated normal
 * from computed quantities rather than from a config section (the
 * selective density of postsel/selection.c). */
#ifndef PF_TARGETS_TRUNCATED_GAUSSIAN_H
#define PF_TARGETS_TRUNCATED_GAUSSIAN_H

#include <stddef.h>

#include "pflow/target.h"

/* N(mean, cov) (d, d x d row-major, symmetric positive definite) truncated
 * to a domain, with the target's rejection or exact coordinate Gibbs
 * sampler.  `options` (may be NULL) is extra entries of the target's own
 * config section as YAML flow text without braces, e.g.
 * "domain: {name: orthant}, gibbs_thin: 5" (default domain: the orthant).
 * The values are passed through the config layer as %.17g text, which
 * round-trips doubles exactly.  Errors are those of the config section
 * (PF_ECONFIG for a covariance that is not positive definite).  The caller
 * owns *out (pf_target_destroy). */
int pf__truncated_gaussian_create(size_t d, const double *mean,
                                  const double *cov, const char *options,
                                  pf_target **out);

#endif
