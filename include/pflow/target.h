/* Targets: unnormalized densities on R^d, plug-ins chosen by name from the
 * config (`target: {name: gaussian, ...}`).  A target evaluates log density
 * and score on a whole n x d block per call, so it can use BLAS and OpenMP;
 * samplers never see a target's internals. */
#ifndef PFLOW_TARGET_H
#define PFLOW_TARGET_H

#include <stddef.h>

#include "pflow/config.h"
#include "pflow/domain.h"
#include "pflow/registry.h"
#include "pflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pf_state_visitor; /* include/pflow/checkpoint.h */

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
   * (dim) and covariance (dim x dim); log normalizing constant of exp(logp).
   * sample may use scratch kept in ctx (samplers call it every step, where
   * nothing may allocate), so it is not re-entrant: one call at a time per
   * target. */
  int (*sample)(void *ctx, pf_rng *rng, size_t n, double *X);
  int (*moments)(void *ctx, double *mean, double *cov);
  int (*log_z)(void *ctx, double *out);
  /* Optional: the domain the target lives on, owned by ctx (NULL op or NULL
   * result: unconstrained R^dim).  Its dimension must equal dim. */
  const pf_domain *(*domain)(void *ctx);
  /* Optional: how `sample` draws, declared rather than guessed: "exact"
   * (iid by construction), "rejection" (iid), or "gibbs" (an MCMC chain,
   * burnt in and thinned: close to, but not exactly, iid).  NULL op with a
   * sample op means "exact". */
  const char *(*sample_method)(void *ctx);
  /* Optional: the density in the dual coordinates eta of the domain's mirror
   * map, p_H(eta) = p(grad psi*(eta)) det hess psi*(eta), for the n rows of
   * Eta: X receives the primal points grad psi*(eta) (n x dim), logp the log
   * of p_H (up to the same constant as logp_grad), grad its eta-gradient
   * (hess psi^-1 grad log p + div hess psi^-1).  Targets whose density is
   * singular at faces (sparse Dirichlet) provide it to stay finite where
   * primal coordinates underflow; otherwise the generic composition of
   * logp_grad and the mirror map is used.  logp or grad may be NULL. */
  int (*logp_grad_dual)(void *ctx, size_t n, const double *Eta, double *X,
                        double *logp, double *grad);
  /* Optional: the target is known by a sample set, not a density (an
   * empirical distribution, targets/empirical.c).  *X receives its m x dim
   * points (row-major, owned by ctx, valid while the target lives).  A
   * target with this op has NO density: its logp_grad returns log p = 0 and
   * score 0 everywhere (the constant density, defined so the generic
   * initialization and the runner work); density-based code (KSD, Langevin, SVGD) must
   * check pf_target_has_density.  Flows toward samples (mmd_flow) read the
   * set through pf_target_samples. */
  int (*samples)(void *ctx, const double **X, size_t *m);
  /* Optional (models with a Fisher metric, used by svng): for the n rows of
   * X, F (n x dim x dim) receives each particle's mean Fisher information
   * per data row on the data of the last logp_grad call (its minibatch, or
   * every training row), e.g. (1/B) sum_i sigma_i (1 - sigma_i) z_i z_i^T
   * for logistic regression, and dF (n x dim^3, may be NULL) its
   * derivative dF[a][b][c] = d F_ab / d theta_c; *n_data the number of
   * training rows N the likelihood sums over (the score is ~N times the
   * per-row mean).  Draws no new minibatch.  Same bits for any thread
   * count. */
  int (*fisher)(void *ctx, size_t n, const double *X, double *F, double *dF,
                double *n_data);
  /* Optional (models with held-out data, for the heldout_loglik
   * diagnostic): for the particle set X (n x dim) as an equally weighted
   * posterior sample, *loglik = mean over held-out rows of log (mean over
   * particles of p(y | x, theta_j)) and *accuracy = the fraction of
   * held-out rows whose label the particle-averaged predictive
   * probability gets right (> 1/2).  Returns PF_ENOTSUP when this
   * instance has no held-out rows; NULL op when the target never has. */
  int (*heldout)(void *ctx, size_t n, const double *X, double *loglik,
                 double *accuracy);
  /* Optional: a target with mutable state that changes what later calls
   * return (a minibatch stream, the current minibatch) names it for
   * checkpoints (include/pflow/checkpoint.h).  NULL: stateless. */
  int (*state)(void *ctx, struct pf_state_visitor *v);
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
/* "exact", "rejection" or "gibbs" (see pf_target_ops.sample_method); NULL
 * when the target has no sampler. */
const char *pf_target_sample_method(pf_target *t);

/* The sample set of a target known by samples (see pf_target_ops.samples):
 * *X (m x dim, owned by the target) and *m.  PF_ENOTSUP for density
 * targets. */
int pf_target_samples(pf_target *t, const double **X, size_t *m);
/* 1 when logp_grad is a real (unnormalized) log density, 0 for a target
 * known only by samples. */
int pf_target_has_density(const pf_target *t);

/* See pf_target_ops.fisher / .heldout; PF_ENOTSUP when the target lacks
 * the op (heldout: also when it has no held-out rows). */
int pf_target_fisher(pf_target *t, size_t n, const double *X, double *F,
                     double *dF, double *n_data);
int pf_target_heldout(pf_target *t, size_t n, const double *X,
                      double *loglik, double *accuracy);

/* The target's domain (never NULL; owned by the target). */
const pf_domain *pf_target_domain(const pf_target *t);

/* Dual-coordinate evaluation (see pf_target_ops.logp_grad_dual), through the
 * target's own op or the generic composition with the domain's mirror map.
 * PF_ENOTSUP when the domain has no mirror map.  Uses a workspace owned by
 * the target: not reentrant on one target (call it from one thread; it
 * parallelizes inside). */
int pf_target_logp_grad_dual(pf_target *t, size_t n, const double *Eta,
                             double *X, double *logp, double *grad);

/* Save or restore the target's mutable state (pf_target_ops.state); 0 and
 * nothing visited for a stateless target. */
int pf_target_state(pf_target *t, struct pf_state_visitor *v);

#ifdef __cplusplus
}
#endif
#endif
