/* User target plug-ins: a density written in C (or anything with a C ABI),
 * compiled to a shared object, and used from a config without rebuilding
 * pflow:
 *
 *   target:
 *     name: plugin
 *     plugin: ./my_target.so       # relative to the working directory,
 *                                  # then to the config file's directory
 *     options: "{scale: 2.0}"      # YAML text, validated against the
 *                                  # plug-in's own parameter spec
 *
 * What a plug-in exports (write PF_TARGET_PLUGIN(my_ops) once, at file
 * scope, after defining `static const pf_target_ops my_ops = {...}`):
 *   - `const unsigned pflow_plugin_abi`: PF_PLUGIN_ABI of the headers it
 *     was compiled with.  pflow refuses a plug-in whose value differs from
 *     its own, naming both numbers (rebuild the plug-in).
 *   - `const pf_target_ops *pflow_target_plugin(void)`: its ops table, with
 *     the whole target contract of pflow/target.h: base.name, base.params
 *     (the spec `options` is validated and default-filled against; NULL:
 *     no options), create (gets the validated options mapping), destroy,
 *     logp_grad (batched over n particles), and optionally sample, moments,
 *     log_z, domain, sample_method.  logp_grad_dual is not used for
 *     plug-ins (the generic mirror-map composition applies).  `example`
 *     is not used.
 *
 * What a plug-in may call: the functions declared in pflow/error.h
 * (pf__error_set, pf__error_push and the PF_CHECK/PF_TRY/PF_RAISE macros),
 * pflow/config.h (pf_cfg_*, pf_node_*, pf__config_raise and
 * PF_CFG_RAISE), pflow/rng.h (pf_rng_*), pflow/vmath.h (pf_vm_*) and
 * pflow/domain.h's pf_domain_create_str / pf_domain_create_free /
 * pf_domain_destroy.  They are resolved at load time against the pflow
 * executable, which exports its symbols (linked with -rdynamic; a program
 * embedding libpflow.a must do the same).  A plug-in links against nothing
 * of pflow: an unresolved symbol makes the load fail with the dynamic
 * loader's message.  Nothing else of pflow is part of the plug-in ABI.
 *
 * Build (from the pflow source tree; any C11 compiler flags of your own):
 *
 *   cc -std=c11 -O2 -fPIC -shared -Iinclude -o my_target.so my_target.c
 *
 * Loading: dlopen(RTLD_NOW | RTLD_LOCAL) when the target is created;
 * dlclose after the plug-in's destroy.  The options config lives until
 * destroy, so the plug-in may keep pointers into it.  A plug-in's
 * logp_grad must follow target.h: same bits for any thread count, no
 * allocation per call. */
#ifndef PFLOW_PLUGIN_H
#define PFLOW_PLUGIN_H

#include "pflow/config.h"
#include "pflow/domain.h"
#include "pflow/error.h"
#include "pflow/rng.h"
#include "pflow/target.h"
#include "pflow/vmath.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the plug-in binary interface: the layout of pf_target_ops,
 * pf_plugin, pf_param, pf_rng and pf_mark, the PF_E* codes, and the
 * signatures of the callable functions listed above.  Bumped whenever one
 * of them changes. */
#define PF_PLUGIN_ABI 1u

/* Symbol names the loader looks up. */
#define PF_PLUGIN_ABI_SYMBOL "pflow_plugin_abi"
#define PF_PLUGIN_ENTRY_SYMBOL "pflow_target_plugin"

/* Entry point type. */
typedef const pf_target_ops *(*pf_target_plugin_fn)(void);

#define PF_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Define the two exported symbols for the ops table `ops` (an object of
 * type pf_target_ops, usually static const).  Use once per plug-in. */
#define PF_TARGET_PLUGIN(ops)                                          \
  PF_PLUGIN_EXPORT extern const unsigned pflow_plugin_abi;             \
  PF_PLUGIN_EXPORT const unsigned pflow_plugin_abi = PF_PLUGIN_ABI;    \
  PF_PLUGIN_EXPORT const pf_target_ops *pflow_target_plugin(void);     \
  PF_PLUGIN_EXPORT const pf_target_ops *pflow_target_plugin(void)      \
  {                                                                    \
    return &(ops);                                                     \
  }

#ifdef __cplusplus
}
#endif
#endif
