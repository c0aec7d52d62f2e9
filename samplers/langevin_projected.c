/* `projected_langevin`: an Euler (ULA) step, then the Euclidean projection
 * onto the target's domain (Bubeck, Eldan & Lehec 2018).  Weak error about
 * O(sqrt(h)) near the boundary. */
#include "langevin.h"
#include "pflow/sampler.h"

static int pl_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                     void **state)
{
  static const pf__lgv_opts o = {.boundary = PF__LGV_PROJECT};
  return pf__lgv_create(cfg, t, n, d, &o, state);
}

static const pf_param pl_params[] = {
    PF__LGV_PARAM_STEP,
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_projected_langevin = {
    .base = {"projected_langevin",
             "ULA step then Euclidean projection onto the domain",
             pl_params},
    .example = "{name: projected_langevin, n_particles: 2000, n_iter: 400, "
               "step_size: 0.05}",
    .create = pl_create,
    PF__LGV_OPS,
};
