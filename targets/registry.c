/* The registry of targets: one line per target. */
#include "pflow/registry.h"
#include "pflow/target.h"

extern const pf_target_ops pf_target_gaussian;

static const pf_plugin *const items[] = {
    &pf_target_gaussian.base,
};

const pf_registry pf_targets = {"target", "targets", items,
                                sizeof items / sizeof items[0], NULL};
