/* Internal: the Langevin engine shared by ula, mala, preconditioned,
 * projected_langevin, reflected_langevin and mirror_langevin.  One step for
 * n independent chains:
 *   y = x + h M grad log p(x) + sqrt(2h) L z,   M = L L^T,  z ~ N(0, I)
 * then a boundary rule (none, project, reflect, symmetrize, reject), then
 * either unconditional acceptance (unadjusted) or a Metropolis-Hastings test
 * with the exact proposal densities in both directions (adjusted).  In dual
 * mode the chain moves in the mirror coordinates eta of the target's domain
 * and evaluates the pushed-forward density p_H (pf_target_logp_grad_dual);
 * particles then hold the primal points in p->x and the dual log density
 * and score in p->logp and p->grad. */
#ifndef PF_SAMPLERS_LANGEVIN_H
#define PF_SAMPLERS_LANGEVIN_H

#include "pflow/config.h"
#include "pflow/particles.h"
#include "pflow/target.h"

typedef enum pf__lgv_boundary {
  PF__LGV_NONE,       /* no domain handling (R^d, or the caller's risk) */
  PF__LGV_PROJECT,    /* Euclidean projection of y (Bubeck, Eldan, Lehec) */
  PF__LGV_REFLECT,    /* the domain's reflection of the step x -> y */
  PF__LGV_SYMMETRIZE, /* 2 P(y) - y when y is outside (P(y) if that is too) */
  PF__LGV_REJECT      /* stay at x when y is outside */
} pf__lgv_boundary;

typedef enum pf__lgv_metric {
  PF__LGV_IDENTITY, /* M = I */
  PF__LGV_GIVEN,    /* M from `metric` (matrix) or `metric_diag` */
  PF__LGV_ADAPT     /* M = regularized chain covariance at warmup / 2 */
} pf__lgv_metric;

/* What the step's drift is, in units where the Langevin step is
 * y = x + h drift + sqrt(2h) z: `score` (grad log p: p invariant), `ou`
 * (-x: N(0, I) invariant), `zero`. */
typedef enum pf__lgv_drift {
  PF__LGV_SCORE,
  PF__LGV_OU,
  PF__LGV_ZERO
} pf__lgv_drift;

/* A time-dependent diffusion for dX = b(X, t) dt + g(t) dW on [0, t_end]
 * in n_iter Euler steps (dt = t_end / n_iter), mapped onto the engine's step
 * with h = g(t)^2 dt / 2 and b = (g^2 / 2) drift:
 *   constant  g = sigma
 *   ve        sigma(t) = sigma_min (sigma_max / sigma_min)^(t / t_end),
 *             g^2 = d sigma^2 / dt   (variance exploding, Song et al. 2021)
 *   vp        g^2 = beta(t) = beta_min + (t / t_end)(beta_max - beta_min)
 *             (variance preserving with drift ou)
 * PF__LGV_FIXED keeps h = step_size (the Langevin samplers). */
typedef enum pf__lgv_schedule {
  PF__LGV_FIXED,
  PF__LGV_CONSTANT,
  PF__LGV_VE,
  PF__LGV_VP
} pf__lgv_schedule;

typedef struct pf__lgv_opts {
  int adjust; /* Metropolis-Hastings correction */
  int dual;   /* move in mirror coordinates */
  pf__lgv_boundary boundary;
  pf__lgv_metric metric;
  pf__lgv_drift drift;
  pf__lgv_schedule schedule;
} pf__lgv_opts;

/* Output columns of every Langevin sampler, in order, and the per-chain
 * statistics stored with each posterior draw. */
extern const char *const pf__lgv_info[];
#define PF__LGV_N_INFO 6
extern const char *const pf__lgv_chain_stats[];
#define PF__LGV_N_CHAIN_STATS 4
long long pf__lgv_warmup(const void *state);
struct pf_state_visitor;
int pf__lgv_state(void *state, struct pf_state_visitor *v);
int pf__lgv_chain_stat_values(const void *state, double *out);

/* The ops-table members every Langevin sampler shares. */
#define PF__LGV_OPS                                                          \
  .info_names = pf__lgv_info, .n_info = PF__LGV_N_INFO,                      \
  .destroy = pf__lgv_destroy, .init = pf__lgv_init, .step = pf__lgv_step,    \
  .flags = PF_SAMPLER_CHAINS, .warmup = pf__lgv_warmup,                      \
  .chain_stat_names = pf__lgv_chain_stats,                                   \
  .n_chain_stats = PF__LGV_N_CHAIN_STATS,                                    \
  .chain_stats = pf__lgv_chain_stat_values, .state = pf__lgv_state

/* Reads step_size, warmup, target_accept, metric / metric_diag (when
 * opts->metric is GIVEN), the schedule's keys (sigma, sigma_min,
 * sigma_max, beta_min, beta_max, t_end) and the common on_nonfinite /
 * max_backoff from the sampler section; keys a sampler's spec lacks take
 * their defaults. */
int pf__lgv_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                   const pf__lgv_opts *opts, void **state);
void pf__lgv_destroy(void *state);
int pf__lgv_init(void *state, pf_particles *p);
int pf__lgv_step(void *state, long iter, pf_particles *p, double *info);

/* Parameter spec entries shared by the Langevin samplers. */
#define PF__LGV_PARAM_STEP                                                   \
  {"step_size", PF_P_REAL, "0.01", "(0,inf)", "step size h", 0, NULL, NULL}
#define PF__LGV_PARAM_WARMUP                                                 \
  {"warmup", PF_P_INT, "-1", "[-1,1e12]",                                   \
   "iterations of adaptation (step size, metric), after which everything "  \
   "is frozen so the chains are exact; -1: half of n_iter",                 \
   0, NULL, NULL}
#define PF__LGV_PARAM_ACCEPT                                                 \
  {"target_accept", PF_P_REAL, "0.574", "(0,1)",                            \
   "acceptance rate the step size is adapted toward during warm-up "        \
   "(0.574 is optimal for MALA, Roberts & Rosenthal 1998)",                 \
   0, NULL, NULL},                                                          \
  {"adapt_step_size", PF_P_BOOL, "true", NULL,                              \
   "adapt the step size during warm-up", 0, NULL, NULL}

#endif
