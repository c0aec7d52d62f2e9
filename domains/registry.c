/* The registry of domains: one line per domain. */
#include "pflow/domain.h"
#include "pflow/registry.h"

extern const pf_domain_ops pf_domain_unconstrained;

static const pf_plugin *const items[] = {
    &pf_domain_unconstrained.base,
};

const pf_registry pf_domains = {"domain", "domains", items,
                                sizeof items / sizeof items[0], NULL};
