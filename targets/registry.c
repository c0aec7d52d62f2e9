/* The registry of targets: one line per target. */
#include "pflow/registry.h"
#include "pflow/target.h"

extern const pf_target_ops pf_target_gaussian;
extern const pf_target_ops pf_target_logistic_regression;
extern const pf_target_ops pf_target_plugin;
extern const pf_target_ops pf_target_gmm;
extern const pf_target_ops pf_target_banana;
extern const pf_target_ops pf_target_funnel;
extern const pf_target_ops pf_target_many_well;
extern const pf_target_ops pf_target_double_well;
extern const pf_target_ops pf_target_dirichlet;
extern const pf_target_ops pf_target_quadratic_simplex;
extern const pf_target_ops pf_target_uniform;
extern const pf_target_ops pf_target_truncated_gaussian;
extern const pf_target_ops pf_target_empirical;
extern const pf_target_ops pf_target_selective_lasso;

static const pf_plugin *const items[] = {
    &pf_target_gaussian.base,
    &pf_target_logistic_regression.base,
    &pf_target_plugin.base,
    &pf_target_gmm.base,
    &pf_target_banana.base,
    &pf_target_funnel.base,
    &pf_target_many_well.base,
    &pf_target_double_well.base,
    &pf_target_dirichlet.base,
    &pf_target_quadratic_simplex.base,
    &pf_target_uniform.base,
    &pf_target_truncated_gaussian.base,
    &pf_target_empirical.base,
    &pf_target_selective_lasso.base,
};

const pf_registry pf_targets = {"target", "targets", items,
                                sizeof items / sizeof items[0], NULL};
