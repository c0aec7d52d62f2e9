/* Diagnostics: plug-ins computing named scalars from the particle set
 * (against the target's known moments, its scores, or a reference set),
 * every `diagnostics.every` iterations, written to /diagnostics/<output>. */
#ifndef PFLOW_DIAGNOSTIC_H
#define PFLOW_DIAGNOSTIC_H

#include <stddef.h>

#include "pflow/config.h"
#include "pflow/particles.h"
#include "pflow/registry.h"
#include "pflow/target.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_diagnostic_ops {
  pf_plugin base;
  const char *const *outputs; /* output names, n_outputs of them */
  size_t n_outputs;
  /* cfg is the validated `diagnostics` section; n, d the particle set's
   * size.  Raise PF_ECONFIG (via PF_CFG_RAISE) when the target lacks what
   * the diagnostic needs. */
  int (*create)(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                void **ctx);
  void (*destroy)(void *ctx);
  /* Fill out[0..n_outputs-1]. */
  int (*compute)(void *ctx, const pf_particles *p, double *out);
} pf_diagnostic_ops;

#ifdef __cplusplus
}
#endif
#endif
