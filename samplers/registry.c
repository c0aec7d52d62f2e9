/* The registry of samplers: one line per sampler. */
#include "pflow/registry.h"
#include "pflow/sampler.h"

extern const pf_sampler_ops pf_sampler_ula;

static const pf_plugin *const items[] = {
    &pf_sampler_ula.base,
};

const pf_registry pf_samplers = {"sampler", "samplers", items,
                                 sizeof items / sizeof items[0],
                                 pf_sampler_common_params};
