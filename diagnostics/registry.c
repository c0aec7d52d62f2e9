/* The registry of diagnostics: one line per diagnostic. */
#include "pflow/diagnostic.h"
#include "pflow/registry.h"

extern const pf_diagnostic_ops pf_diagnostic_moments;

static const pf_plugin *const items[] = {
    &pf_diagnostic_moments.base,
};

const pf_registry pf_diagnostics = {"diagnostic", "diagnostics", items,
                                    sizeof items / sizeof items[0], NULL};
