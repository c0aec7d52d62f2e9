/* `mala`: Metropolis-adjusted Langevin (Roberts & Tweedie 1996).  The
 * proposal is the ULA step; the acceptance test uses the exact proposal
 * densities in both directions, so the chains target p exactly at any step
 * size.  The step size is adapted toward `target_accept` during warm-up
 * only, then frozen.  Proposals outside a constrained target's domain are
 * rejected. */
#include "langevin.h"
#include "pflow/sampler.h"

static int mala_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                       void **state)
{
  static const pf__lgv_opts o = {.adjust = 1};
  return pf__lgv_create(cfg, t, n, d, &o, state);
}

static const pf_param mala_params[] = {
    PF__LGV_PARAM_STEP, PF__LGV_PARAM_WARMUP, PF__LGV_PARAM_ACCEPT,
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_mala = {
    .base = {"mala", "Metropolis-adjusted Langevin (independent chains)",
             mala_params},
    .example = "{name: mala, n_particles: 2000, n_iter: 400, step_size: 0.5}",
    .create = mala_create,
    PF__LGV_OPS,
};
