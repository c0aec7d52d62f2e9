/* The registry of samplers: one line per sampler. */
#include "pflow/registry.h"
#include "pflow/sampler.h"

extern const pf_sampler_ops pf_sampler_ula;
extern const pf_sampler_ops pf_sampler_exact;
extern const pf_sampler_ops pf_sampler_mala;
extern const pf_sampler_ops pf_sampler_preconditioned;
extern const pf_sampler_ops pf_sampler_projected_langevin;
extern const pf_sampler_ops pf_sampler_reflected_langevin;
extern const pf_sampler_ops pf_sampler_mirror_langevin;
extern const pf_sampler_ops pf_sampler_pis;
extern const pf_sampler_ops pf_sampler_dis;
extern const pf_sampler_ops pf_sampler_svgd;
extern const pf_sampler_ops pf_sampler_projected_svgd;
extern const pf_sampler_ops pf_sampler_msvgd;
extern const pf_sampler_ops pf_sampler_svmd;
extern const pf_sampler_ops pf_sampler_svng;
extern const pf_sampler_ops pf_sampler_reflected_sde;
extern const pf_sampler_ops pf_sampler_mmd_flow;
extern const pf_sampler_ops pf_sampler_mmd_flow_multilevel;

static const pf_plugin *const items[] = {
    &pf_sampler_ula.base,
    &pf_sampler_exact.base,
    &pf_sampler_mala.base,
    &pf_sampler_preconditioned.base,
    &pf_sampler_projected_langevin.base,
    &pf_sampler_reflected_langevin.base,
    &pf_sampler_mirror_langevin.base,
    &pf_sampler_pis.base,
    &pf_sampler_dis.base,
    &pf_sampler_svgd.base,
    &pf_sampler_projected_svgd.base,
    &pf_sampler_msvgd.base,
    &pf_sampler_svmd.base,
    &pf_sampler_svng.base,
    &pf_sampler_reflected_sde.base,
    &pf_sampler_mmd_flow.base,
    &pf_sampler_mmd_flow_multilevel.base,
};

const pf_registry pf_samplers = {"sampler", "samplers", items,
                                 sizeof items / sizeof items[0],
                                 pf_sampler_common_params};
