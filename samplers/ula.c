/* `ula`: the unadjusted Langevin algorithm, particles as independent chains:
 *   x <- x + h grad log p(x) + sqrt(2h) xi,   xi ~ N(0, I),
 * one batched target call per step, one PCG stream per chain.  For
 * N(0, s^2) its stationary variance is s^2 / (1 - h / (2 s^2)). */
#include "langevin.h"
#include "pflow/sampler.h"

static int ula_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                      void **state)
{
  static const pf__lgv_opts o = {.adjust = 0};
  return pf__lgv_create(cfg, t, n, d, &o, state);
}

static const pf_param ula_params[] = {
    PF__LGV_PARAM_STEP,
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_ula = {
    .base = {"ula", "unadjusted Langevin algorithm (independent chains)",
             ula_params},
    .example = "{name: ula, n_particles: 2000, n_iter: 400, step_size: 0.05}",
    .create = ula_create,
    PF__LGV_OPS,
};
