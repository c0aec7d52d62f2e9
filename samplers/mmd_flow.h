/* Internal: the MMD gradient-flow engine shared by mmd_flow and
 * mmd_flow_multilevel.  One step moves every particle along the negative
 * witness gradient of F = MMD^2(particles, target samples) / 2 (Arbel,
 * Korba, Salim & Gretton 2019):
 *   x_i <- x_i - gamma grad f(x_i + beta u_i),   u_i ~ N(0, I),
 *   grad f(z) = (1/n) sum_j grad k(z, x_j) - (1/M) sum_l grad k(z, y_l),
 * the noise (per-particle stream) only moving the point where the witness
 * is evaluated, never the particle.  The level schedule (multilevel) swaps
 * the kernel per level. */
#ifndef PF_SAMPLERS_MMD_FLOW_H
#define PF_SAMPLERS_MMD_FLOW_H

#include "pflow/config.h"
#include "pflow/kernel.h"
#include "pflow/particles.h"
#include "pflow/target.h"

/* Output columns: flow_mmd2, beta, step_size, bandwidth, sigma, level. */
extern const char *const pf__mmdf_info[];
#define PF__MMDF_N_INFO_FLOW 4
#define PF__MMDF_N_INFO_ML 6

typedef enum pf__mmdf_noise {
  PF__NOISE_NONE,
  PF__NOISE_CONSTANT, /* beta_t = beta0 */
  PF__NOISE_STEP,     /* beta_t = beta0 decay^floor((t-1)/every) (Arbel's
                         code: x0.5 every 1000 epochs) */
  PF__NOISE_POWER     /* beta_t = beta0 (1 + (t-1)/every)^(-decay) */
} pf__mmdf_noise;

/* Reads the common keys (kernel, step_size, step_relative, batch_size,
 * n_target, mmd2_every, on_nonfinite, max_backoff, n_iter) and, when
 * multilevel is 0, the noise keys.  The multilevel sampler reads its own
 * keys and calls pf__mmdf_set_levels. */
int pf__mmdf_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                    int multilevel, void **state);
void pf__mmdf_destroy(void *state);
int pf__mmdf_init(void *state, pf_particles *p);
int pf__mmdf_step(void *state, long iter, pf_particles *p, double *info);
struct pf_state_visitor;
int pf__mmdf_state(void *state, struct pf_state_visitor *v);

/* Multilevel: the noise levels sigma (nlev, decreasing), steps per level,
 * and whether to inject noise beta_t = noise_level sigma_t. */
typedef struct pf__mmdf_levels {
  double sigma_max, sigma_min; /* <= 0: automatic (see the sampler) */
  long long n_levels, steps_per_level;
  int inject;
  double noise_level;
} pf__mmdf_levels;
void pf__mmdf_set_levels(void *state, const pf__mmdf_levels *lv);

/* Parameter spec entries shared by both samplers. */
#define PF__MMDF_PARAMS_COMMON                                                \
  {"step_size", PF_P_REAL, "0.1", "(0,inf)",                                  \
   "step gamma on -grad f; with step_relative in units of the bandwidth "     \
   "h_eff = -1/f'(0) (h for exp(-r2/h), (sum_b 1/h_b)^-1 for several): "      \
   "the noiseless flow decreases MMD^2_V at every step for step_size < 1/2",  \
   0, NULL, NULL},                                                            \
  {"step_relative", PF_P_BOOL, "true", NULL,                                  \
   "step_size is relative to the kernel bandwidth h_eff (the bandwidth "      \
   "column); false: absolute", 0, NULL, NULL},                                \
  {"batch_size", PF_P_INT, "0", "[0,1e9]",                                    \
   "target samples per step, drawn without replacement (0: all, full "       \
   "batch)", 0, NULL, NULL},                                                  \
  {"n_target", PF_P_INT, "10000", "[1,1e9]",                                  \
   "for a target with a density and an exact sampler: samples drawn once "    \
   "at init (a target known by samples gives its own set)", 0, NULL, NULL},   \
  {"mmd2_every", PF_P_INT, "1", "[0,1e12]",                                   \
   "compute the flow_mmd2 column every this many iterations (and at the "     \
   "last; NaN otherwise; 0: never).  Free without noise injection, one "      \
   "extra pairwise pass with it", 0, NULL, NULL}

#endif
