/* The registry of diagnostics: one line per diagnostic. */
#include "pflow/diagnostic.h"
#include "pflow/registry.h"

extern const pf_diagnostic_ops pf_diagnostic_moments;
extern const pf_diagnostic_ops pf_diagnostic_ksd;
extern const pf_diagnostic_ops pf_diagnostic_mmd2;
extern const pf_diagnostic_ops pf_diagnostic_energy;
extern const pf_diagnostic_ops pf_diagnostic_kl_knn;
extern const pf_diagnostic_ops pf_diagnostic_renyi_knn;
extern const pf_diagnostic_ops pf_diagnostic_sliced_w2;
extern const pf_diagnostic_ops pf_diagnostic_heldout_loglik;

static const pf_plugin *const items[] = {
    &pf_diagnostic_moments.base,
    &pf_diagnostic_ksd.base,
    &pf_diagnostic_mmd2.base,
    &pf_diagnostic_energy.base,
    &pf_diagnostic_kl_knn.base,
    &pf_diagnostic_renyi_knn.base,
    &pf_diagnostic_sliced_w2.base,
    &pf_diagnostic_heldout_loglik.base,
};

const pf_registry pf_diagnostics = {"diagnostic", "diagnostics", items,
                                    sizeof items / sizeof items[0], NULL};
