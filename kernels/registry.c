/* The registry of kernel profiles: one line per kernel. */
#include "pflow/kernel.h"
#include "pflow/registry.h"

extern const pf_kernel_ops pf_kernel_rbf;
extern const pf_kernel_ops pf_kernel_imq;

static const pf_plugin *const items[] = {
    &pf_kernel_rbf.base,
    &pf_kernel_imq.base,
};

const pf_registry pf_kernels = {"kernel", "kernels", items,
                                sizeof items / sizeof items[0],
                                pf_kernel_common_params};
