/* The registry of samplers: one line per sampler. */
#include "pflow/registry.h"
#include "pflow/sampler.h"

extern const pf_sampler_ops pf_sampler_ula;
extern const pf_sampler_ops pf_sampler_mala;
extern const pf_sampler_ops pf_sampler_preconditioned;
extern const pf_sampler_ops pf_sampler_projected_langevin;
extern const pf_sampler_ops pf_sampler_reflected_langevin;
extern const pf_sampler_ops pf_sampler_mirror_langevin;
extern const pf_sampler_ops pf_sampler_reflected_sde;

static const pf_plugin *const items[] = {
    &pf_sampler_ula.base,
    &pf_sampler_mala.base,
    &pf_sampler_preconditioned.base,
    &pf_sampler_projected_langevin.base,
    &pf_sampler_reflected_langevin.base,
    &pf_sampler_mirror_langevin.base,
    &pf_sampler_reflected_sde.base,
};

const pf_registry pf_samplers = {"sampler", "samplers", items,
                                 sizeof items / sizeof items[0],
                                 pf_sampler_common_params};
