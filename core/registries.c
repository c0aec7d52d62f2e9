/* Every built-in registry, for `pflow list`. */
#include "pflow/registry.h"

const pf_registry *const pf_all_registries[] = {&pf_targets, &pf_samplers,
                                                &pf_diagnostics, &pf_domains,
                                                &pf_kernels, NULL};
