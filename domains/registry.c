/* The registry of domains: one line per domain. */
#include "pflow/domain.h"
#include "pflow/registry.h"

extern const pf_domain_ops pf_domain_unconstrained;
extern const pf_domain_ops pf_domain_box;
extern const pf_domain_ops pf_domain_orthant;
extern const pf_domain_ops pf_domain_ball;
extern const pf_domain_ops pf_domain_simplex;
extern const pf_domain_ops pf_domain_polytope;

static const pf_plugin *const items[] = {
    &pf_domain_unconstrained.base,
    &pf_domain_box.base,
    &pf_domain_orthant.base,
    &pf_domain_ball.base,
    &pf_domain_simplex.base,
    &pf_domain_polytope.base,
};

const pf_registry pf_domains = {"domain", "domains", items,
                                sizeof items / sizeof items[0], NULL};
