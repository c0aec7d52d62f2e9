/* A small neural-network library for the learned samplers (nn/): a
 * multilayer perceptron with Fourier time features, exact (erf) GELU,
 * batched forward and backward passes through BLAS GEMM, Adam with a
 * step-decay learning-rate schedule, global gradient-norm clipping and an
 * exponential moving average of the weights.
 *
 * The network (the FourierMLP of Zhang & Chen's PIS, as used by Richter &
 * Berner, ICLR 2024):
 *   feat(t) = [sin(f_j t + phi_j), cos(f_j t + phi_j)]_{j<F},
 *             f = linspace(f_min, f_max, F), phases phi learnable
 *   temb(t) = L_t2(gelu(L_t1(feat(t))))                 (2F -> W -> W)
 *   h_0     = L_in(x) + temb(t)                           (d_in -> W)
 *   h_l     = L_l(gelu(h_{l-1})),  l = 1..depth          (W -> W)
 *   y       = L_out(gelu(h_depth))                        (W -> d_out)
 * d_in may be 0 (a network of t alone, e.g. the score coefficient c(t)).
 * L_out starts at zero (weights) and `out_bias` (bias), so y is constant
 * at initialization.
 *
 * Parameters live in one flat vector (layout in nn/mlp.c) that the caller
 * passes to every call, so the same network object evaluates the raw or the
 * averaged (EMA) weights.  A network object holds the activations of its
 * last forward pass for up to `max_n` rows: not reentrant (one thread calls
 * it; BLAS and the elementwise loops parallelize inside).  Results do not
 * depend on the OpenMP thread count (row-parallel elementwise work; bias and
 * time-embedding gradients are summed over rows in row order). */
#ifndef PFLOW_NN_H
#define PFLOW_NN_H

#include <stddef.h>

#include "pflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_mlp_spec {
  size_t d_in;   /* input dimension besides t (0: a function of t only) */
  size_t d_out;  /* output dimension (>= 1) */
  size_t width;  /* hidden width W (>= 1) */
  size_t depth;  /* number of hidden W x W layers (>= 0) */
  size_t n_freq; /* Fourier frequencies F (>= 1) */
  double f_min, f_max; /* frequency range (linspace) */
} pf_mlp_spec;

typedef struct pf_mlp pf_mlp;

/* Create a network for batches of at most max_n rows (workspaces are
 * allocated here, never in forward/backward).  Caller owns *out. */
int pf_mlp_create(const pf_mlp_spec *spec, size_t max_n, pf_mlp **out);
/* NULL-safe. */
void pf_mlp_destroy(pf_mlp *m);

/* Number of parameters. */
size_t pf_mlp_n_params(const pf_mlp *m);
const pf_mlp_spec *pf_mlp_spec_of(const pf_mlp *m);

/* Initialize theta (n_params): linear layers as PyTorch's default
 * (weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))), phases
 * ~ N(0, 1), all from `rng`; then the output layer's weights to zero and
 * its bias to out_bias. */
void pf_mlp_init(const pf_mlp *m, pf_rng *rng, double out_bias,
                 double *theta);

/* Y (n x d_out) = net(X, t) for the n rows of X (n x d_in; ignored when
 * d_in = 0), all at the same time t.  With keep != 0 the activations and
 * GELU derivatives are kept for pf_mlp_backward.  n <= max_n. */
int pf_mlp_forward(pf_mlp *m, const double *theta, size_t n, const double *X,
                   double t, double *Y, int keep);

/* Vector-Jacobian products after a forward pass with keep != 0 on the same
 * (theta, n, X, t): grad (n_params) += sum_i G_i^T dY_i/dtheta and, when
 * gX is not NULL, gX (n x d_in) = G_i^T dY_i/dX_i (overwritten).  G is
 * n x d_out. */
int pf_mlp_backward(pf_mlp *m, const double *theta, size_t n, const double *X,
                    const double *G, double *grad, double *gX);

/* ---- optimization ---------------------------------------------------- */

typedef struct pf_adam pf_adam;

/* Adam (Kingma & Ba 2015) over n parameters with beta1, beta2, eps
 * (PyTorch's defaults are 0.9, 0.999, 1e-8).  Caller owns *out. */
int pf_adam_create(size_t n, double beta1, double beta2, double eps,
                   pf_adam **out);
void pf_adam_destroy(pf_adam *a); /* NULL-safe */
/* One bias-corrected update theta -= lr mhat / (sqrt(vhat) + eps). */
void pf_adam_step(pf_adam *a, double *theta, const double *g, double lr);
/* Moments and step count (for checkpoints): m, v (n each), *t. */
void pf_adam_state(pf_adam *a, double **m, double **v, long long **t);

/* Global L2 norm of g (fixed-order sum); when max_norm > 0 and the norm
 * exceeds it, g is scaled to norm max_norm.  Returns the norm before. */
double pf_grad_clip(size_t n, double *g, double max_norm);

/* ema = decay ema + (1 - decay) theta, elementwise. */
void pf_ema_update(size_t n, double *ema, const double *theta, double decay);

/* Step decay: lr0 * gamma^floor(step / every) with gamma chosen so the
 * rate reaches lr_final after n_steps (PyTorch StepLR as in the paper's
 * configs); lr0 when lr_final == lr0 or every <= 0.  step counts from 0. */
double pf_lr_schedule(double lr0, double lr_final, long long every,
                      long long step, long long n_steps);

/* ---- GELU ------------------------------------------------------------ */

/* y = gelu(a) = a Phi(a) (exact, erf-based) and, when dy is not NULL,
 * dy = gelu'(a) = Phi(a) + a phi(a), for n values (SLEEF AVX2). */
void pf_gelu(size_t n, const double *a, double *y, double *dy);

#ifdef __cplusplus
}
#endif
#endif
