/* Samplers: plug-ins that move a particle set (or a batch of chains) one
 * iteration at a time.  A sampler's state is created once (all workspaces
 * are allocated there); `step` never allocates.  Each step reports the
 * scalars named in `info_names`, which the runner writes as output columns
 * in /diagnostics. */
#ifndef PFLOW_SAMPLER_H
#define PFLOW_SAMPLER_H

#include <stddef.h>

#include "pflow/config.h"
#include "pflow/particles.h"
#include "pflow/registry.h"
#include "pflow/target.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pf_sampler_ops.flags: the particles are independent Markov chains (the
 * Langevin family), so the run stores post-warm-up draws per chain as the
 * posterior instead of the final particle set. */
#define PF_SAMPLER_CHAINS 1u

struct pf_h5; /* include/pflow/io.h */
struct pf_state_visitor; /* include/pflow/checkpoint.h */

typedef struct pf_sampler_ops {
  pf_plugin base;
  /* A sampler section for the conformance tests (YAML flow mapping). */
  const char *example;
  const char *const *info_names; /* per-step scalars, n_info of them */
  size_t n_info;
  /* Build from the validated `sampler` section for particles of the given
   * size; *state is released by destroy. */
  int (*create)(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                void **state);
  void (*destroy)(void *state);
  /* Called once after the runner drew initial positions into p->x and
   * evaluated p->logp and p->grad there. */
  int (*init)(void *state, pf_particles *p);
  /* Advance from iteration iter-1 to iter (iter >= 1).  On return p->logp
   * and p->grad hold the values at the new positions; info receives n_info
   * scalars.  PF_ENONFINITE (with p restored to the last good state) when
   * the configured policy is abort. */
  int (*step)(void *state, long iter, pf_particles *p, double *info);
  /* Optional (chain samplers).  flags: PF_SAMPLER_CHAINS.  warmup: the
   * number of adaptation iterations (draws are kept after it).  chain_stats
   * fills n_chain_stats x n values (row k: stat chain_stat_names[k] of every
   * chain at the last step), written to /sample_stats with each draw. */
  unsigned flags;
  long long (*warmup)(const void *state);
  const char *const *chain_stat_names;
  size_t n_chain_stats;
  int (*chain_stats)(const void *state, double *out);
  /* Optional: write sampler-specific outputs into the run's file after
   * /posterior and /sample_stats (final-particle runs only), e.g. the
   * learned samplers' /sample_stats/log_weight (chain, draw) and trained
   * parameters.  Called once, also after a failed or interrupted run. */
  int (*write_output)(void *state, struct pf_h5 *h);
  /* Checkpoints (include/pflow/checkpoint.h): name every mutable buffer
   * that a freshly created and initialized state does not already hold
   * (optimizer moments, adapted step sizes and metrics, bandwidths, own
   * PCG streams, counters, network weights...), so that saving after
   * iteration N and loading into a new state continues bit for bit.  The
   * particles are saved by the runner.  Required: tests/test_checkpoint.c
   * checks every registered sampler (2N straight == N + save/load + N). */
  int (*state)(void *state, struct pf_state_visitor *v);
} pf_sampler_ops;

/* Parameters every sampler accepts (n_particles, n_iter, init...). */
extern const pf_param pf_sampler_common_params[];

/* How a sampler treats non-finite positions, log densities or scores. */
typedef enum pf_nonfinite_policy {
  PF_NONFINITE_ABORT,  /* restore the last good state and fail */
  PF_NONFINITE_BACKOFF /* restore, halve the step size, retry */
} pf_nonfinite_policy;

/* Draw the initial particles as the sampler section's common parameters
 * say (`init: normal` from N(init_loc, init_scale^2 I), `init: exact` from
 * the target's exact sampler; particle i uses its own stream) and evaluate
 * p->logp and p->grad there.  Raises PF_ECONFIG when `init: exact` meets a
 * target without an exact sampler, PF_ENONFINITE when an initial log
 * density or score is not finite. */
int pf_sampler_init_particles(const pf_node *cfg, pf_target *t,
                              pf_particles *p);

/* Read `on_nonfinite` from a sampler section. */
int pf_sampler_policy(const pf_node *cfg, pf_nonfinite_policy *out);

#ifdef __cplusplus
}
#endif
#endif
