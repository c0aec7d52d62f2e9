/* Internal: step rules for particle methods that ascend a direction field
 * (svgd, projected_svgd, msvgd, svmd, svng).  API for sampler authors:
 *
 *   In the sampler's spec:   PF__OPT_PARAMS("rmsprop", "0.1"),
 *     (adds optimizer, step_size, adagrad_alpha, adagrad_fudge,
 *      rmsprop_rho, rmsprop_epsilon, rmsprop_eps_inside with the given
 *      default rule and default step size).
 *   At create:  pf__opt *o; PF_TRY(pf__opt_create(cfg, n, d, &o));
 *     (reads those keys from the validated sampler section; allocates all
 *      per-entry state: nothing is allocated afterwards).
 *   Each step, in place:  pf__opt_step(o, X, G);   X += step(G)
 *   Or, with a non-finite check and step-size backoff:
 *       pf__opt_propose(o, X, G, Y);   Y = X + step(G), state -> pending
 *       if (Y is bad) { pf__opt_set_lr(o, pf__opt_lr(o) / 2); retry; }
 *       else pf__opt_commit(o);        pending state becomes current
 *     (a proposal that is not committed leaves the state untouched, so a
 *      retry with a smaller lr starts from the same accumulators).
 *   pf__opt_destroy(&o) at destroy (NULL-safe).
 *
 * X, G, Y are n x d row-major (the n, d given at create); every entry has
 * its own state.  The update ASCENDS: X moves along +G.  Rules (all
 * elementwise, t = 1, 2, ... counts committed steps):
 *   plain:    x += lr g
 *   adagrad:  the "AdaGrad with momentum" of Liu & Wang's SVGD code
 *             (python/svgd.py and matlab/svgd.m of the original repository):
 *             v_1 = g^2, v_t = alpha v_{t-1} + (1 - alpha) g^2 (t >= 2),
 *             x += lr g / (fudge + sqrt(v_t)); alpha = 0.9, fudge = 1e-6.
 *             The first step is therefore lr g / (|g| + 1e-6) ~ lr sign(g).
 *   rmsprop:  Keras RMSprop without momentum, accumulator from zero:
 *             v_t = rho v_{t-1} + (1 - rho) g^2, v_0 = 0, rho = 0.9,
 *             x += lr g / (sqrt(v_t) + eps), eps = 1e-7 (eps OUTSIDE the
 *             root: tf.keras optimizer_v2 RMSprop takes this non-fused path
 *             when momentum = 0, which the mirrored Stein experiments
 *             (Shi, Liu & Mackey 2022) used), or with rmsprop_eps_inside:
 *             x += lr g / sqrt(v_t + eps) (TF's fused ApplyRMSProp kernel,
 *             used by Keras only with momentum > 0).  The zero start makes
 *             the first step lr g / sqrt(0.1 g^2) = sqrt(10) lr sign(g).
 * Thread safety: one optimizer per sampler; the update runs OpenMP over
 * rows with per-entry work only, so results do not depend on the thread
 * count. */
#ifndef PF_SAMPLERS_OPTIMIZER_H
#define PF_SAMPLERS_OPTIMIZER_H

#include <stddef.h>

#include "pflow/config.h"

typedef enum pf__opt_rule {
  PF__OPT_PLAIN,
  PF__OPT_ADAGRAD,
  PF__OPT_RMSPROP
} pf__opt_rule;

typedef struct pf__opt pf__opt;

/* Spec entries (put them in a sampler's pf_param array).  def_rule is
 * "plain", "adagrad" or "rmsprop"; def_lr the default step size, as YAML
 * text. */
#define PF__OPT_PARAMS(def_rule, def_lr)                                      \
  {"optimizer", PF_P_STRING, def_rule, "plain|adagrad|rmsprop",              \
   "step rule applied to the direction: plain (x += lr g), adagrad (the "    \
   "original SVGD code's AdaGrad with momentum) or rmsprop (Keras, "         \
   "accumulator from 0)", 0, NULL, NULL},                                    \
  {"step_size", PF_P_REAL, def_lr, "(0,inf)",                                \
   "learning rate lr of the step rule", 0, NULL, NULL},                      \
  {"adagrad_alpha", PF_P_REAL, "0.9", "[0,1)",                               \
   "adagrad: weight of the past squared directions", 0, NULL, NULL},         \
  {"adagrad_fudge", PF_P_REAL, "1e-6", "[0,inf)",                            \
   "adagrad: added to the root in the denominator", 0, NULL, NULL},          \
  {"rmsprop_rho", PF_P_REAL, "0.9", "[0,1)",                                 \
   "rmsprop: decay of the squared-direction average", 0, NULL, NULL},        \
  {"rmsprop_epsilon", PF_P_REAL, "1e-7", "[0,inf)",                          \
   "rmsprop: stabilizer (Keras default 1e-7)", 0, NULL, NULL},               \
  {"rmsprop_eps_inside", PF_P_BOOL, "false", NULL,                           \
   "rmsprop: divide by sqrt(v + eps) (TF fused kernel) instead of "          \
   "sqrt(v) + eps (Keras without momentum, the mirrored Stein code)",        \
   0, NULL, NULL}

/* Build from a validated sampler section holding the PF__OPT_PARAMS keys
 * (absent keys take the defaults above; step_size must be present) for
 * n x d arrays.  Caller owns *out. */
int pf__opt_create(const pf_node *cfg, size_t n, size_t d, pf__opt **out);
/* Direct constructor (tests, other callers): hyperparameters a and b are
 * (alpha, fudge) for adagrad, (rho, eps) for rmsprop, unused for plain. */
int pf__opt_create_rule(pf__opt_rule rule, double lr, double a, double b,
                        int eps_inside, size_t n, size_t d, pf__opt **out);
void pf__opt_destroy(pf__opt **o);

/* Y = X + step(G) with the pending state; Y may alias X (then the old X is
 * lost: use pf__opt_step unless you need a retry). */
void pf__opt_propose(pf__opt *o, const double *X, const double *G, double *Y);
/* Make the last proposal's state current (t += 1). */
void pf__opt_commit(pf__opt *o);
/* pf__opt_propose(o, X, G, X) then pf__opt_commit(o). */
void pf__opt_step(pf__opt *o, double *X, const double *G);
/* Forget the history (t = 0, accumulators 0). */
void pf__opt_reset(pf__opt *o);

double pf__opt_lr(const pf__opt *o);
void pf__opt_set_lr(pf__opt *o, double lr);
pf__opt_rule pf__opt_rule_of(const pf__opt *o);
/* Committed steps so far. */
long long pf__opt_steps(const pf__opt *o);
/* Checkpoints: lr, t and the current accumulators as buffers opt.*. */
struct pf_state_visitor;
int pf__opt_state(pf__opt *o, struct pf_state_visitor *v);

#endif
