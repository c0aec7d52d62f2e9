/* Diagnostics: plug-ins computing named scalars from the particle set
 * (against the target's known moments, its scores, or a reference set),
 * every `diagnostics.every` iterations, written to /diagnostics/<output>. */
#ifndef PFLOW_DIAGNOSTIC_H
#define PFLOW_DIAGNOSTIC_H

#include <stddef.h>
#include <stdint.h>

#include "pflow/config.h"
#include "pflow/particles.h"
#include "pflow/registry.h"
#include "pflow/target.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a diagnostic is computed against. */
typedef struct pf_diag_env {
  pf_target *target;
  size_t n, d;       /* the particle set's size */
  const double *ref; /* reference set (m x d, row-major), NULL if none; owned
                        by the run, valid until the diagnostic is destroyed */
  size_t m;
  uint64_t seed;     /* for diagnostics that draw random numbers (own
                        stream derived from it) */
} pf_diag_env;

typedef struct pf_diagnostic_ops {
  pf_plugin base;
  const char *const *outputs; /* output names, n_outputs of them */
  size_t n_outputs;
  /* cfg is the validated `diagnostics` section.  Raise PF_ECONFIG (via
   * PF_CFG_RAISE) when the target or the reference set lacks what the
   * diagnostic needs.  All workspaces are allocated here. */
  int (*create)(const pf_node *cfg, const pf_diag_env *env, void **ctx);
  void (*destroy)(void *ctx);
  /* Fill out[0..n_outputs-1]. */
  int (*compute)(void *ctx, const pf_particles *p, double *out);
} pf_diagnostic_ops;

#ifdef __cplusplus
}
#endif
#endif
