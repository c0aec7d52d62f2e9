/* The path-space engine behind the `pis` and `dis` samplers (internal to
 * pflow: the samplers and tests/test_pathspace.c use it).
 *
 * Learned controlled diffusions (Richter & Berner, "Improved sampling via
 * learned diffusions", ICLR 2024; arXiv 2307.01198).  The generative SDE on
 * the time grid t_0 = 0 < ... < t_N = T,
 *   x_{k+1} = x_k + (mu(x_k, t_k) + sigma_k w_k) dt_k + sigma_k dW_k,
 * is simulated with the behaviour control w (= the current control u,
 * detached), and every trajectory accumulates (Euler-Maruyama, Ito: all
 * terms at the left point)
 *   R = sum_k [u_k.(w_k - u_k/2) dt_k + u_k.dW_k] + boundary terms,
 * the log Radon-Nikodym derivative log dP_u/dP_target minus log Z:
 *   pis: x_0 = 0, mu = 0, sigma const;
 *        boundary log N(x_N; 0, sigma^2 T I) - log rho(x_N);
 *   dis: x_0 ~ N(0, I), VP drift mu = beta(t) x / 2, sigma = sqrt(beta(t)),
 *        beta linear from beta_max (t = 0) to beta_min (t = T);
 *        boundary log N(x_0; 0, I) - log rho(x_N) - int_0^T div mu dt
 *        (the last a constant, d/4 (beta_k + beta_{k+1}) dt_k summed).
 * So -R estimates log Z: E[-R] <= log Z (ELBO), log mean exp(-R) is the
 * importance-sampling estimate and exp(-R) the importance weights of the
 * end points x_N.  `Rn` is R without the Ito term (mean zero): the KL loss
 * and the lower bound use it.
 *
 * Control: u = clip(NN(x, t)) + c(t) (a_k clip(grad log rho(x)) + b_k x),
 * elementwise clip at `clip` (10, x5 after 200 and 400 optimizer steps as
 * the reference's MultiStepParams); pis: a = 1, b = 0; dis (LerpCtrl):
 * a = sigma_k t_k / T, b = -sigma_k (1 - t_k / T) (the prior score is -x);
 * c(t) a time-only network, started at `score_init`.  No score: u = NN. */
#ifndef PFLOW_NN_PATHSPACE_H
#define PFLOW_NN_PATHSPACE_H

#include <stddef.h>

#include "pflow/config.h"
#include "pflow/io.h"
#include "pflow/nn.h"
#include "pflow/particles.h"
#include "pflow/target.h"

typedef enum { PF__PS_PIS, PF__PS_DIS } pf__ps_kind;
typedef enum { PF__PS_LV, PF__PS_KL } pf__ps_loss;

/* Info columns of the samplers (pf__ps_info). */
enum { PF__PS_N_INFO = 11 };
extern const char *const pf__ps_info[PF__PS_N_INFO];

/* Summary of one batch of trajectories. */
typedef struct pf__ps_stats {
  double loss;     /* variance of R (log_variance) or mean of Rn (kl) */
  double log_z_lb; /* mean of -Rn */
  double log_z_is; /* log mean exp(-R) over the batch (dropped: weight 0) */
  double ess;      /* normalized ESS of exp(-R), dropped rows weight 0 */
  double dropped;  /* trajectories with non-finite or |R| > 1e8 */
} pf__ps_stats;

typedef struct pf__ps {
  pf__ps_kind kind;
  pf__ps_loss loss;
  pf_target *t;
  size_t d, n, B, N, cap;
  int store;              /* buffers hold every step (training) */
  double *times;          /* N + 1 */
  double T, sigma, beta_min, beta_max, div_const;
  int use_score;
  double clip, score_init, hvp_delta;
  double clip0, clip_gamma, max_loss0, *clip_ms; /* clip schedule */
  size_t n_clip_ms;
  pf_mlp *net, *coef;
  size_t np_net, np;      /* theta = [net | coef] */
  double *theta, *ema, *grad;
  pf_adam *adam;
  double lr, lr_final, grad_clip, ema_decay;
  long long lr_every, n_iter, ema_start, eval_every;
  int train, resample, ema_on;
  long long n_updates, n_skipped;
  pf_rng *rng_train;      /* B streams of the training batches */
  double *X, *dW, *U, *S; /* (N+1) x cap x d, N x cap x d (or 2 slots) */
  double *R, *Rn, *lp_end, *g_end;
  unsigned char *dead;
  double *nn, *gx, *adj, *gu, *xe, *ge, *cw, *ct; /* workspaces */
  double *logw;           /* n: log importance weights of the particles */
  double *eR, *eRn;       /* n: R and Rn of the last sampling */
  double *rs_x, *rs_g, *rs_l; /* resampling snapshot (n x d, n x d, n) */
  pf__ps_stats last, eval;
  double last_grad_norm, last_lr;
} pf__ps;

/* Build from a validated pis/dis sampler section (load a trained network
 * when `load` is given).  NULL-safe destroy. */
int pf__ps_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                  pf__ps_kind kind, pf__ps **out);
void pf__ps_destroy(pf__ps *s);

/* Simulate m <= cap trajectories with parameters theta, noise from rngs[i]
 * (or, reuse_noise, the increments already in the buffer), filling the
 * buffers, R, Rn, lp_end, g_end and dead. */
int pf__ps_rollout(pf__ps *s, const double *theta, size_t m, pf_rng *rngs,
                   int reuse_noise);
/* Loss statistics of the last rollout of m rows. */
void pf__ps_batch_stats(const pf__ps *s, size_t m, pf__ps_stats *st);
/* grad (np) = gradient of the configured loss over the last rollout of m
 * rows at parameters theta (log_variance: trajectories and w fixed, the
 * control's parameters varied; kl: backpropagation through the Euler
 * chain). */
int pf__ps_gradient(pf__ps *s, const double *theta, size_t m, double *grad);
/* R of the stored trajectories (positions, noise, behaviour control and
 * boundary terms fixed) re-evaluated with the control of theta: the
 * function whose batch variance the log-variance gradient differentiates.
 * R (m) is overwritten. */
int pf__ps_rnd_fixed(pf__ps *s, const double *theta, size_t m, double *R);

/* One sampler iteration (see samplers/pis.c for the mapping). */
int pf__ps_init(void *state, pf_particles *p);
int pf__ps_step(void *state, long iter, pf_particles *p, double *info);
void pf__ps_destroy_state(void *state);
int pf__ps_write_output(void *state, struct pf_h5 *h);
/* Checkpoints: parameters, EMA, Adam moments, training streams, counters,
 * the last statistics and the particles' importance weights. */
struct pf_state_visitor;
int pf__ps_state(void *state, struct pf_state_visitor *v);

/* Parameters shared by pis and dis (each sampler adds its SDE's). */
#define PF__PS_COMMON_PARAMS                                                  \
  {"loss", PF_P_STRING, "log_variance", "log_variance|kl",                    \
   "path-space loss: log_variance (variance of R, control detached) or kl "   \
   "(mean of R, backpropagation through the SDE solver)", 0, NULL, NULL},     \
  {"batch_size", PF_P_INT, "0", "[0,1e9]",                                    \
   "trajectories per training step (0: n_particles)", 0, NULL, NULL},         \
  {"n_steps", PF_P_INT, "100", "[1,1e6]", "Euler-Maruyama steps", 0, NULL,    \
   NULL},                                                                     \
  {"times", PF_P_REALS, NULL, NULL,                                           \
   "explicit time grid t_0 = 0 < ... < t_N (overrides n_steps, grid_power "  \
   "and t_end)", 0, NULL, NULL},                                              \
  {"grid_power", PF_P_REAL, "1", "[1,inf)",                                   \
   "time grid t_k = T (1 - (1 - k/n_steps)^p): 1 uniform, > 1 finer steps "   \
   "toward T (smaller discretization gap of the log RND)", 0, NULL, NULL},    \
  {"width", PF_P_INT, "64", "[1,4096]", "hidden width of the control network",\
   0, NULL, NULL},                                                            \
  {"depth", PF_P_INT, "2", "[0,64]", "hidden W x W layers", 0, NULL, NULL},   \
  {"n_freq", PF_P_INT, "64", "[1,4096]", "Fourier time frequencies", 0, NULL, \
   NULL},                                                                     \
  {"f_max", PF_P_REAL, "100", "(0,inf)",                                      \
   "largest time frequency (linspace from 0.1)", 0, NULL, NULL},              \
  {"score", PF_P_BOOL, "true", NULL,                                          \
   "add c(t) grad log rho to the control (c a learned time network)", 0,      \
   NULL, NULL},                                                               \
  {"clip", PF_P_REAL, "10", "(0,inf)",                                        \
   "elementwise clip of the network output and of grad log rho at the "       \
   "start (grows by clip_gamma at each of clip_milestones)", 0, NULL, NULL},  \
  {"clip_milestones", PF_P_REALS, "[200, 400]", "[0,inf)",                    \
   "optimizer steps after which clip grows by clip_gamma and max_loss "       \
   "shrinks by 1e-4 (the reference's MultiStepParams)", 0, NULL, NULL},       \
  {"clip_gamma", PF_P_REAL, "5", "[1,inf)",                                   \
   "factor of clip at each milestone (10 -> 50 -> 250 by default)", 0, NULL,  \
   NULL},                                                                     \
  {"max_loss", PF_P_REAL, "1e10", "(0,inf)",                                  \
   "skip a training step whose loss / dim exceeds this (x 1e-4 at each "      \
   "milestone: 1e10 -> 1e6 -> 100)", 0, NULL, NULL},                          \
  {"lr", PF_P_REAL, "0.005", "(0,inf)", "Adam learning rate", 0, NULL, NULL}, \
  {"lr_final", PF_P_REAL, NULL, "(0,inf)",                                    \
   "learning rate reached at the last step by step decay (default: lr)", 0,   \
   NULL, NULL},                                                               \
  {"lr_every", PF_P_INT, "100", "[1,1e12]", "steps between decays", 0, NULL,  \
   NULL},                                                                     \
  {"grad_clip", PF_P_REAL, "1", "[0,inf)",                                    \
   "clip the global gradient norm to this (0: off)", 0, NULL, NULL},          \
  {"ema_decay", PF_P_REAL, "0", "[0,1)",                                      \
   "EMA of the weights (0: off); the EMA samples after training", 0, NULL,    \
   NULL},                                                                     \
  {"ema_start", PF_P_INT, "0", "[0,1e12]",                                    \
   "training step from which the EMA runs", 0, NULL, NULL},                   \
  {"eval_every", PF_P_INT, "0", "[0,1e12]",                                   \
   "re-sample the n_particles from the current control every this many "      \
   "steps (0: only after the last step)", 0, NULL, NULL},                     \
  {"resample", PF_P_BOOL, "false", NULL,                                      \
   "after the final sampling, resample the particles by their importance "    \
   "weights (systematic), so /posterior holds equally weighted draws", 0,     \
   NULL, NULL},                                                               \
  {"load", PF_P_STRING, NULL, NULL,                                           \
   "HDF5 output of an earlier run of the same sampler and architecture: use " \
   "its /learned/theta and sample without training", 0, NULL, NULL},          \
  {"hvp_delta", PF_P_REAL, "1e-5", "(0,1)",                                   \
   "kl with score: relative step of the central finite difference of grad "   \
   "log rho that gives its Hessian-vector product", 0, NULL, NULL}

#endif
