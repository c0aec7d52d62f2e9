/* Internal: the Stein variational engine shared by svgd, projected_svgd and
 * msvgd.  One step:
 *   1. refit the kernel bandwidth on the primal points (every
 *      `bandwidth_every` iterations; median rules only),
 *   2. the direction phi from the pairwise engine: SVGD on the primal
 *      points with the target's score, or (mirror mode) SVGD on the dual
 *      density p_H with the kernel on primal points and hess psi^-1 on the
 *      repulsive term (pf_pair_svgd_matrix, or a per-pair fallback),
 *   3. a step rule (optimizer.h) on the positions (mirror: eta),
 *   4. projection onto the domain (project mode),
 *   5. one batched target evaluation; a non-finite result either aborts
 *      (particles untouched) or halves the step size and retries.
 * Everything is allocated at create. */
#ifndef PF_SAMPLERS_SVGD_H
#define PF_SAMPLERS_SVGD_H

#include "optimizer.h"
#include "pflow/config.h"
#include "pflow/particles.h"
#include "pflow/target.h"

typedef enum pf__svgd_mode {
  PF__SVGD_PLAIN,   /* svgd */
  PF__SVGD_PROJECT, /* projected_svgd */
  PF__SVGD_MIRROR   /* msvgd */
} pf__svgd_mode;

/* Output columns (mirror/plain use the first 4; project adds the 5th). */
extern const char *const pf__svgd_info[];
#define PF__SVGD_N_INFO 4
#define PF__SVGD_N_INFO_PROJECT 5

int pf__svgd_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                    pf__svgd_mode mode, void **state);
void pf__svgd_destroy(void *state);
int pf__svgd_init(void *state, pf_particles *p);
int pf__svgd_step(void *state, long iter, pf_particles *p, double *info);
struct pf_state_visitor;
int pf__svgd_state(void *state, struct pf_state_visitor *v);

/* Spec entries shared by the three samplers (the kernel default differs). */
#define PF__SVGD_PARAM_KERNEL(def)                                            \
  {"kernel", PF_P_PLUGIN, def, NULL,                                         \
   "kernel (see `pflow list kernels`); bandwidth: a number or a median "     \
   "rule refitted on the particles' primal points",                          \
   0, NULL, &pf_kernels}
#define PF__SVGD_PARAM_EVERY                                                  \
  {"bandwidth_every", PF_P_INT, "1", "[1,1e12]",                             \
   "refit a median bandwidth every this many iterations", 0, NULL, NULL}

#endif
