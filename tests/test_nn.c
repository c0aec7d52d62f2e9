/* The neural-network library (include/pflow/nn.h): gradients of the MLP
 * against central finite differences, GELU, Adam, clipping, schedule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/nn.h"
#include "pflow/rng.h"

/* sum(G .* net(X, t)) */
static double dot_out(pf_mlp *m, const double *th, size_t n, const double *X,
                      double t, const double *G, double *Y)
{
  const size_t o = pf_mlp_spec_of(m)->d_out;
  pf_mlp_forward(m, th, n, X, t, Y, 0);
  double s = 0.0;
  for (size_t i = 0; i < n * o; i++) s += G[i] * Y[i];
  return s;
}

/* Parameter and input gradients of sum(G .* net(X, t)) against central
 * differences with step 1e-5: truncation O(h^2 f''') ~ 1e-10 and rounding
 * ~ 1e-16 |f| / h ~ 1e-11 for these O(1) quantities, so an absolute error
 * of 1e-7 (plus 1e-6 relative) only admits a wrong derivative by accident.
 * The output layer is randomized (it starts at zero) so every layer gets
 * gradient. */
static int check_net(size_t d_in, size_t d_out, size_t width, size_t depth,
                     size_t nf)
{
  pf_mlp_spec sp = {d_in, d_out, width, depth, nf, 0.1, 7.0};
  pf_mlp *m;
  const size_t n = 7;
  PF_T_OK(pf_mlp_create(&sp, n, &m));
  const size_t np = pf_mlp_n_params(m);
  size_t expect = nf + width * 2 * nf + width + width * width + width +
                  width * d_in + width + depth * (width * width + width) +
                  d_out * width + d_out;
  PF_T_ASSERT(np == expect, "n_params %zu, expected %zu", np, expect);
  double *th = malloc(np * sizeof(double)), *g = calloc(np, sizeof(double));
  double *X = malloc((n * d_in + 1) * sizeof(double)),
         *G = malloc(n * d_out * sizeof(double)),
         *Y = malloc(n * d_out * sizeof(double)),
         *gX = malloc((n * d_in + 1) * sizeof(double));
  pf_rng r;
  pf_rng_stream(&r, 7, 1);
  pf_mlp_init(m, &r, 0.25, th);
  /* zero-init output: the network is the constant out_bias */
  pf_rng_normal(&r, n * d_in, X);
  pf_mlp_forward(m, th, n, X, 0.3, Y, 0);
  for (size_t i = 0; i < n * d_out; i++)
    PF_T_ASSERT(Y[i] == 0.25, "zero-init output %g", Y[i]);
  double *w = th + np - d_out * (width + 1);
  pf_rng_normal(&r, d_out * width, w);
  pf_rng_normal(&r, n * d_out, G);
  const double t = 0.37;
  pf_mlp_forward(m, th, n, X, t, Y, 1);
  PF_T_OK(pf_mlp_backward(m, th, n, X, G, g, gX));
  const double h = 1e-5;
  for (size_t p = 0; p < np; p++) {
    double keep = th[p];
    th[p] = keep + h;
    double fp = dot_out(m, th, n, X, t, G, Y);
    th[p] = keep - h;
    double fm = dot_out(m, th, n, X, t, G, Y);
    th[p] = keep;
    double fd = (fp - fm) / (2 * h);
    PF_T_NEAR(g[p], fd, 1e-7 + 1e-6 * fabs(fd));
  }
  for (size_t q = 0; q < n * d_in; q++) {
    double keep = X[q];
    X[q] = keep + h;
    double fp = dot_out(m, th, n, X, t, G, Y);
    X[q] = keep - h;
    double fm = dot_out(m, th, n, X, t, G, Y);
    X[q] = keep;
    PF_T_NEAR(gX[q], (fp - fm) / (2 * h), 1e-7 + 1e-6 * fabs(gX[q]));
  }
  /* backward accumulates */
  double g0 = g[0];
  pf_mlp_forward(m, th, n, X, t, Y, 1);
  PF_T_OK(pf_mlp_backward(m, th, n, X, G, g, NULL));
  PF_T_NEAR(g[0], 2 * g0, 1e-12 * (1 + fabs(g0)));
  free(th);
  free(g);
  free(X);
  free(G);
  free(Y);
  free(gX);
  pf_mlp_destroy(m);
  return 0;
}

static int mlp_gradient_fd(void)
{
  if (check_net(3, 2, 5, 2, 3)) return 1;
  if (check_net(2, 2, 4, 0, 2)) return 1;  /* no hidden layer */
  return check_net(0, 1, 6, 1, 4);         /* time-only network */
}

/* gelu(a) = a Phi(a) against erfc (tail-accurate) on a fine grid of
 * [-12, 12] (every table cell and both ends of each Taylor interval) and
 * odd lengths (the SIMD tail): within 4 ulp of |a| (the 1 - erf
 * cancellation of a Phi(a) for a << 0 is absolute), gelu' against a
 * central difference. */
static int gelu_values(void)
{
  enum { M = 2401 };
  static double g[M], gy[M];
  for (int i = 0; i < M; i++) g[i] = -12.0 + 24.0 * i / (M - 1) + 1e-3;
  pf_gelu(M, g, gy, NULL);
  for (int i = 0; i < M; i++) {
    double ref = g[i] * 0.5 * erfc(-g[i] / sqrt(2.0));
    PF_T_NEAR(gy[i], ref, 4.5e-16 * (1 + fabs(g[i])));
  }
  double a[7] = {-8.0, -2.5, -0.3, 0.0, 0.1, 1.7, 6.0}, y[7], dy[7];
  pf_gelu(7, a, y, dy);
  for (int i = 0; i < 7; i++) {
    double ref = a[i] * 0.5 * erfc(-a[i] / sqrt(2.0));
    PF_T_NEAR(y[i], ref, 1e-15 + 2e-15 * fabs(ref));
    double h = 1e-6, yp, ym, ap = a[i] + h, am = a[i] - h;
    pf_gelu(1, &ap, &yp, NULL);
    pf_gelu(1, &am, &ym, NULL);
    PF_T_NEAR(dy[i], (yp - ym) / (2 * h), 1e-8);
  }
  return 0;
}

/* Two Adam steps by hand (PyTorch's formula), clipping, the schedule. */
static int adam_clip_schedule(void)
{
  pf_adam *a;
  PF_T_OK(pf_adam_create(2, 0.9, 0.999, 1e-8, &a));
  double th[2] = {1.0, -2.0}, g1[2] = {0.5, -4.0}, g2[2] = {-1.0, 2.0};
  pf_adam_step(a, th, g1, 0.1);
  /* first step: mhat = g, vhat = g^2: theta -= lr sign(g) (up to eps) */
  PF_T_NEAR(th[0], 0.9, 1e-7);
  PF_T_NEAR(th[1], -1.9, 1e-7);
  double th1[2] = {th[0], th[1]};
  pf_adam_step(a, th, g2, 0.1);
  for (int k = 0; k < 2; k++) {
    double m = 0.9 * 0.1 * (k ? -4.0 : 0.5) + 0.1 * (k ? 2.0 : -1.0);
    double v = 0.999 * 0.001 * (k ? 16.0 : 0.25) + 0.001 * (k ? 4.0 : 1.0);
    double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
    double ref = th1[k] - 0.1 * mh / (sqrt(vh) + 1e-8);
    PF_T_NEAR(th[k], ref, 1e-12);
  }
  pf_adam_destroy(a);
  double g[3] = {3.0, 0.0, 4.0};
  PF_T_NEAR(pf_grad_clip(3, g, 1.0), 5.0, 1e-15);
  PF_T_NEAR(sqrt(g[0] * g[0] + g[2] * g[2]), 1.0, 1e-6);
  double g3[2] = {0.3, 0.4};
  pf_grad_clip(2, g3, 1.0);
  PF_T_ASSERT(g3[0] == 0.3 && g3[1] == 0.4, "clipped below the bound");
  /* 5e-3 -> 1e-4 over 1000 steps, decays every 100 */
  PF_T_NEAR(pf_lr_schedule(5e-3, 1e-4, 100, 0, 1000), 5e-3, 1e-18);
  PF_T_NEAR(pf_lr_schedule(5e-3, 1e-4, 100, 99, 1000), 5e-3, 1e-18);
  PF_T_NEAR(pf_lr_schedule(5e-3, 1e-4, 100, 1000, 1000), 1e-4, 1e-15);
  PF_T_NEAR(pf_lr_schedule(5e-3, 1e-4, 100, 500, 1000),
            5e-3 * sqrt(1e-4 / 5e-3), 1e-15);
  double e[2] = {1.0, 2.0}, tt[2] = {3.0, 0.0};
  pf_ema_update(2, e, tt, 0.75);
  PF_T_NEAR(e[0], 1.5, 1e-15);
  PF_T_NEAR(e[1], 1.5, 1e-15);
  return 0;
}

const pf_test_case pf_tests_nn[] = {{"mlp_gradient_fd", mlp_gradient_fd},
                                    {"gelu_values", gelu_values},
                                    {"adam_clip_schedule", adam_clip_schedule},
                                    {NULL, NULL}};
