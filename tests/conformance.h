/* Shared helpers of the conformance suites: build a registered component
 * from its example config, run a sampler in process. */
#ifndef PF_CONFORMANCE_H
#define PF_CONFORMANCE_H

#include "pflow/config.h"
#include "pflow/particles.h"
#include "pflow/sampler.h"
#include "pflow/target.h"

/* Validate "<kind>: <flow>" (kind "target" or "sampler") and return the
 * config and its section.  The caller destroys *cfg. */
int pf_test_section(const char *kind, const char *flow, pf_config **cfg,
                    const pf_node **sec);

/* Build a target from a flow mapping, e.g. "{name: gaussian, mean: [0]}". */
int pf_test_target(const char *flow, pf_config **cfg, pf_target **t);

/* Run the sampler described by `sampler_flow` on target t for its n_iter
 * iterations from its init, with the given seed and thread count (0: leave
 * as is).  *out receives the final particles (caller destroys). */
int pf_test_run_sampler(const char *sampler_flow, pf_target *t,
                        unsigned long long seed, int threads,
                        pf_particles **out);

/* Sample mean (d) and covariance (d x d, 1/(n-1)) of n x d rows. */
void pf_test_moments(size_t n, size_t d, const double *X, double *mean,
                     double *cov);

#endif
