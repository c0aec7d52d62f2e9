/* Targets: unnormalized densities on R^d, plug-ins chosen by name from the
 * config (`target: {name: gaussian, ...}`).  A target evaluates log density
 * and score on a whole n x d block per call, so it can use BLAS and OpenMP;
 * samplers never see a target's internals. */
#ifndef PFLOW_TARGET_H
#define PFLOW_TARGET_H

#include <stddef.h>

#include "pflow/config.h"
#include "pflow/registry.h"
#include "pflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_target_ops {
  pf_plugin base;
  /* A config section for the conformance tests and `pflow help`, as a YAML
   * flow mapping including the name. */
  const char *example;
  /* Build from a validated config section; *ctx is owned by the target and
   * released by destroy; *dim receives the dimension. */
  int (*create)(const pf_node *cfg, void **ctx, size_t *dim);
  void (*destroy)(void *ctx);
  /* log p (up to a constant unless log_z says otherwise) and its gradient
   * for the n rows of X (n x dim, row-major).  logp (n) or grad (n x dim)
   * may be NULL.  Must give the same bits whatever the thread count. */
  int (*logp_grad)(void *ctx, size_t n, const double *X, double *logp,
                   double *grad);
  /* Optional (NULL when unknown): n exact draws from one stream; the mean
   * (dim) and covariance (dim x dim); log normalizing constant of exp(logp). */
  int (*sample)(void *ctx, pf_rng *rng, size_t n, double *X);
  int (*moments)(void *ctx, double *mean, double *cov);
  int (*log_z)(void *ctx, double *out);
} pf_target_ops;

typedef struct pf_target pf_target;

/* Create the target named in `cfg` (a validated `target` section).  The
 * caller owns *out. */
int pf_target_create(const pf_node *cfg, pf_target **out);
/* Create from an ops table directly (for tests and embedding). */
int pf_target_create_ops(const pf_target_ops *ops, const pf_node *cfg,
                         pf_target **out);
void pf_target_destroy(pf_target **t);

size_t pf_target_dim(const pf_target *t);
const pf_target_ops *pf_target_ops_of(const pf_target *t);

/* Batched evaluation; see pf_target_ops.logp_grad. */
int pf_target_logp_grad(pf_target *t, size_t n, const double *X,
                        double *logp, double *grad);
/* Optional capabilities; PF_ENOTSUP when the target lacks them. */
int pf_target_sample(pf_target *t, pf_rng *rng, size_t n, double *X);
int pf_target_moments(pf_target *t, double *mean, double *cov);
int pf_target_log_z(pf_target *t, double *out);

#ifdef __cplusplus
}
#endif
#endif
