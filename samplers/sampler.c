/* What every sampler shares: the common parameters and the non-finite
 * policy. */
#include <string.h>

#include "pflow/error.h"
#include "pflow/sampler.h"

const pf_param pf_sampler_common_params[] = {
    {"n_particles", PF_P_INT, "100", "[1,1e9]",
     "number of particles (or independent chains)", 0, NULL, NULL},
    {"n_iter", PF_P_INT, "1000", "[0,1e12]", "number of iterations", 0, NULL,
     NULL},
    {"init", PF_P_STRING, "normal", "normal|exact",
     "initial particles: N(init_loc, init_scale^2 I), or the target's exact "
     "sampler", 0, NULL, NULL},
    {"init_loc", PF_P_REAL, "0", NULL, "mean of the normal initialization", 0,
     NULL, NULL},
    {"init_scale", PF_P_REAL, "1", "[0,inf)",
     "standard deviation of the normal initialization", 0, NULL, NULL},
    {"on_nonfinite", PF_P_STRING, "abort", "abort|backoff",
     "non-finite position, log density or score: abort with the last good "
     "state saved, or halve the step size and retry", 0, NULL, NULL},
    {"max_backoff", PF_P_INT, "20", "[0,1000]",
     "retries (halvings) per iteration before giving up under backoff", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

int pf_sampler_policy(const pf_node *cfg, pf_nonfinite_policy *out)
{
  const char *s = pf_cfg_str(cfg, "on_nonfinite");
  *out = (s && strcmp(s, "backoff") == 0) ? PF_NONFINITE_BACKOFF
                                          : PF_NONFINITE_ABORT;
  return 0;
}
