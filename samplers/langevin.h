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

typedef struct pf__lgv_opts {
  int adjust; /* Metropolis-Hastings correction */
  int dual;   /* move in mirror coordinates */
  pf__lgv_boundary boundary;
  pf__lgv_metric metric;
} pf__lgv_opts;

/* Output columns of every Langevin sampler, in order. */
extern const char *const pf__lgv_info[];
#define PF__LGV_N_INFO 6

/* Reads step_size, warmup, target_accept, metric / metric_diag (when
 * opts->metric is GIVEN) and the common on_nonfinite / max_backoff from the
 * sampler section; keys a sampler's spec lacks take their defaults. */
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
