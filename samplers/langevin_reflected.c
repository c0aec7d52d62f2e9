/* `reflected_langevin`: an Euler (ULA) step kept inside the domain by
 *   rule: reflect     the domain's reflection of the step (folding for the
 *                     box, billiard elsewhere): the reflected SDE's scheme;
 *   rule: symmetrize  2 P(y) - y for a step y that left (P the projection),
 *                     P(y) when that is outside too;
 *   rule: reject      stay in place when the step leaves (Fishman et al.
 *                     2023, "Diffusion models for constrained domains"). */
#include <string.h>

#include "langevin.h"
#include "pflow/sampler.h"

static int rl_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                     void **state)
{
  const char *rule = pf_cfg_str(cfg, "rule");
  pf__lgv_opts o = {.boundary = PF__LGV_REFLECT};
  if (strcmp(rule, "symmetrize") == 0) o.boundary = PF__LGV_SYMMETRIZE;
  if (strcmp(rule, "reject") == 0) o.boundary = PF__LGV_REJECT;
  return pf__lgv_create(cfg, t, n, d, &o, state);
}

static const pf_param rl_params[] = {
    {"rule", PF_P_STRING, "reflect", "reflect|symmetrize|reject",
     "how a step that leaves the domain is brought back", 0, NULL, NULL},
    PF__LGV_PARAM_STEP,
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_reflected_langevin = {
    .base = {"reflected_langevin",
             "ULA step reflected (or symmetrized, or rejected) at the "
             "domain's boundary",
             rl_params},
    .example = "{name: reflected_langevin, n_particles: 2000, n_iter: 400, "
               "step_size: 0.05}",
    .create = rl_create,
    PF__LGV_OPS,
};
