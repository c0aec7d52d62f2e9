/* Kernels and the fused pairwise engine.
 *
 * A kernel is radial: k(x, y) = f(r2), r2 = |x - y|^2, built as a sum over
 * bandwidths h_b of a profile phi (a plug-in: rbf, imq):
 *     f(r2) = sum_b phi(r2 / h_b),   h_b = scale_b * h,
 * where h is fixed or set from the points by a median rule (see
 * pf_kernel_fit).  Conventions: rbf phi(t) = exp(-t), so k = exp(-r2/h)
 * (Gaussian exp(-r2/(2 l^2)) is h = 2 l^2); imq phi(t) = (c^2 + t)^beta.
 *
 * Every pairwise computation (SVGD direction, kernel gradients for MMD
 * flows, kernel sums for MMD^2, Stein kernel sums for KSD, distance sums for
 * energy distance) goes through one engine (pf_pairwise): i x j tiles, dot
 * products from register-blocked micro-kernels, kernel values over a whole
 * tile with SLEEF, no n x n matrix.  OpenMP over i-tiles; each row (or
 * i-tile) sums its j in a fixed order and the partial sums are added in
 * index order, so results are bitwise identical for any thread count.
 */
#ifndef PFLOW_KERNEL_H
#define PFLOW_KERNEL_H

#include <stddef.h>

#include "pflow/config.h"
#include "pflow/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- kernel profiles (plug-ins) ----------------------------------------- */

typedef struct pf_kernel_ops {
  pf_plugin base;
  const char *example; /* YAML flow mapping including the name */
  /* Read the profile's own parameters from a validated kernel section (NULL:
   * all defaults).  *ctx is released by destroy. */
  int (*create)(const pf_node *cfg, void **ctx);
  void (*destroy)(void *ctx);
  /* At the n values r2 >= 0 with t = ih r2: f = phi(t), f1 = ih phi'(t),
   * f2 = ih^2 phi''(t) (the derivatives with respect to r2).  f1 / f2 may
   * be NULL; outputs must not alias r2.  One fused pass where possible:
   * this is the engine's innermost non-GEMM work.  Thread-safe (ctx is
   * read only). */
  void (*profile)(const void *ctx, size_t n, const double *r2, double ih,
                  double *f, double *f1, double *f2);
} pf_kernel_ops;

/* ---- the kernel object --------------------------------------------------- */

typedef enum pf_bw_rule {
  PF_BW_FIXED,      /* h given */
  PF_BW_MEDIAN,     /* h = median of |x_i - x_j|^2 over pairs i < j */
  PF_BW_MEDIAN_LOG, /* h = that median / log(n + 1) (SVGD heuristic of
                       Liu & Wang 2016, exp(-r2/h) convention) */
  PF_BW_MEDIAN_REF  /* the mirror-Stein reference: the upper median of all
                       n^2 entries, diagonal zeros included; no log n */
} pf_bw_rule;

typedef struct pf_kernel pf_kernel;

/* Kernel section keys common to every profile (`bandwidth`, `scales`). */
extern const struct pf_param pf_kernel_common_params[];

/* Build from a validated kernel section {name: imq, bandwidth: median,
 * scales: [1], c: 1, ...}.  max_n bounds the point sets pf_kernel_fit will
 * see (its median workspace is allocated here; 0 if the rule is fixed).
 * `bandwidth` is "median", "median_log", "median_ref" or a positive number.
 * Caller owns *out. */
int pf_kernel_create(const pf_node *cfg, size_t max_n, pf_kernel **out);

/* Direct constructor: profile `ops` with its params from `params` (NULL: the
 * profile's defaults), bandwidth rule, fixed h (PF_BW_FIXED) and scales
 * (nscales of them; NULL: one scale 1). */
int pf_kernel_create_ops(const pf_kernel_ops *ops, const pf_node *params,
                         pf_bw_rule rule, double h, const double *scales,
                         size_t nscales, size_t max_n, pf_kernel **out);
void pf_kernel_destroy(pf_kernel **k);

/* Median rules look at most at this many points (the first ones): the
 * median of their ~2.1e6 pairs, with a 16 MiB workspace. */
#define PF_MEDIAN_MAX_POINTS 2048

/* Set h from the n x d points X (row-major) by the median rule; no-op for
 * PF_BW_FIXED.  O(n^2 d) distances (exact differences, OpenMP over rows)
 * + O(n^2) quickselect, over the first min(n, PF_MEDIAN_MAX_POINTS) points
 * (median_log still divides by log(n + 1) with the full n).  A median of 0
 * (all points equal) gives h = 1.  n must be <= max_n, or max_n was 0 at
 * create: then a temporary workspace is allocated and freed (one-off fits
 * outside hot loops).  Not thread-safe on one kernel. */
int pf_kernel_fit(pf_kernel *k, size_t n, size_t d, const double *X);

/* Internal: set h from the median `med` of squared distances of n points
 * as pf_kernel_fit does (median_log divides by log(n + 1); 0 gives 1);
 * no-op for PF_BW_FIXED.  For pf_pair_svgd_fit. */
void pf__kernel_set_median(pf_kernel *k, size_t n, double med);

/* Internal: 1 and *m = -1/h when the kernel is a one-bandwidth rbf, whose
 * derivative is f'(r2) = m f(r2) (the engine then fuses its products);
 * 0 otherwise. */
int pf__kernel_exp_rate(const pf_kernel *k, double *m);

/* Current base bandwidth h and the rule. */
double pf_kernel_bandwidth(const pf_kernel *k);
/* Checkpoints: the fitted bandwidth h as state buffer `name`. */
struct pf_state_visitor;
int pf_kernel_state(pf_kernel *k, const char *name,
                    struct pf_state_visitor *v);
pf_bw_rule pf_kernel_rule(const pf_kernel *k);
const pf_kernel_ops *pf_kernel_ops_of(const pf_kernel *k);

/* Work doubles per value pf_kernel_eval needs (multi-bandwidth only). */
#define PF_KERNEL_WORK 3

/* f(r2), df/dr2 and d2f/dr2^2 at n values r2 >= 0.  f1, f2 may be NULL.
 * work holds PF_KERNEL_WORK * n doubles.  Thread-safe (k read only). */
void pf_kernel_eval(const pf_kernel *k, size_t n, const double *r2,
                    double *f, double *f1, double *f2, double *work);

/* Median of the squared distances of the n x d points under `rule` (see
 * pf_bw_rule; FIXED is treated as MEDIAN).  work holds n(n-1)/2 doubles. */
double pf_median_sqdist(pf_bw_rule rule, size_t n, size_t d, const double *X,
                        double *work);

/* The registry of kernel profiles. */
extern const pf_registry pf_kernels;

/* ---- the pairwise engine ------------------------------------------------ */

typedef struct pf_pairwise pf_pairwise;

/* Workspace for point sets of up to max_n (X) and max_m (Y) rows of
 * dimension d, and per-thread tile buffers for the OpenMP threads available
 * now (later calls use at most that many threads).  Caller owns *out.
 *
 * All pf_pair_* calls: points are n x d (and m x d) row-major, d the
 * workspace's; n >= 1, n <= max_n, m <= max_m (PF_EINVAL otherwise).  They
 * parallelize inside (OpenMP over i-tiles) and allocate nothing; one
 * workspace serves one call at a time (not reentrant).  Results are
 * bitwise identical for any thread count.  Squared distances come from dot
 * products of points centered on the mean of X: the absolute error of r2
 * is about (d + 2) 2^-53 (|x_i - c|^2 + |y_j - c|^2), c the center (see
 * kernels/pairwise.c); the diagonal of a self sum is exactly r2 = 0. */
int pf_pairwise_create(size_t max_n, size_t max_m, size_t d,
                       pf_pairwise **out);
void pf_pairwise_destroy(pf_pairwise **w);

/* Tile edge (rows and columns). */
#define PF_PAIR_TILE 64

/* Kernel sum.  Y == NULL (Y = X): out[0] = sum_{i != j} k(x_i, x_j),
 * out[1] = sum_i k(x_i, x_i) = n f(0) (V-statistic: out[0] + out[1]).
 * Otherwise out[0] = sum_{i,j} k(x_i, y_j), out[1] = 0. */
int pf_pair_kernel_sum(pf_pairwise *w, const pf_kernel *k, size_t n,
                       const double *X, size_t m, const double *Y,
                       double out[2]);

/* Distance sum: sum_{i,j} |x_i - y_j| (Y == NULL: Y = X, every ordered pair
 * i != j).  Squared distances here come from exact differences, not dot
 * products, because the square root magnifies cancellation near 0. */
int pf_pair_dist_sum(pf_pairwise *w, size_t n, const double *X, size_t m,
                     const double *Y, double *out);

/* Stein kernel sum for KSD with scores S (n x d) of the target at X:
 * u(x,y) = k s_x.s_y + s_x.grad_y k + s_y.grad_x k + tr(grad_x grad_y k).
 * out[0] = sum_{i != j} u(x_i, x_j), out[1] = sum_i u(x_i, x_i)
 * (= f(0)|s_i|^2 - 2 d f'(0) summed).  KSD^2: V = (out[0]+out[1])/n^2,
 * U = out[0]/(n(n-1)). */
int pf_pair_stein_sum(pf_pairwise *w, const pf_kernel *k, size_t n,
                      const double *X, const double *S, double out[2]);

/* SVGD direction: phi_i = (1/m) sum_j [k(y_j, x_i) s_j + grad_{y_j}
 * k(y_j, x_i)] for the n rows x_i, with m points y_j and their scores s_j
 * (Y == NULL: Y = X, m = n, the usual SVGD update direction).  S == NULL
 * drops the driving term.  phi: n x d (must not alias the inputs). */
int pf_pair_svgd(pf_pairwise *w, const pf_kernel *k, size_t n,
                 const double *X, size_t m, const double *Y,
                 const double *S, double *phi);

/* Allocate what pf_pair_svgd_matrix needs (three more packed n x d sets
 * and a second row accumulator per thread: about 6 max_n d + 64 d nthreads
 * doubles).  Call once after create, outside hot loops; idempotent. */
int pf_pairwise_reserve_matrix(pf_pairwise *w);

/* SVGD direction with a point-dependent matrix on the repulsive term (the
 * mirrored SVGD direction of Shi, Liu & Mackey 2022 with M_j = hess
 * psi(x_j)^-1), self interaction only (Y = X):
 *   phi_i = (1/n) sum_j [k(x_j, x_i) s_j + M_j grad_{x_j} k(x_j, x_i)],
 *   M_j = diag(A_j) + sigma U_j U_j^T,
 * A, U: n x d (A NULL: identity diagonal, U NULL: no rank-one part; both
 * NULL is pf_pair_svgd up to rounding).  Covers the entropic simplex map
 * (A = U = theta, sigma = -1), the orthant (A = theta) and box maps
 * (diagonal).  GEMM-shaped: with r_ij = x_j - x_i and w_ij = 2 f'_ij,
 *   sum_j w_ij M_j r_ij = sum_j w_ij B_j - x_i o sum_j w_ij A_j
 *                         - sigma sum_j w_ij (U_j . x_i) U_j,
 *   B_j = A_j o x_j + sigma (U_j . x_j) U_j,
 * so a pair costs 8 d flops (diagonal) or 12 d (with U) instead of SVGD's
 * 6 d.  S NULL drops the driving term.  Needs pf_pairwise_reserve_matrix
 * (PF_EINVAL otherwise).  phi must not alias the inputs. */
int pf_pair_svgd_matrix(pf_pairwise *w, const pf_kernel *k, size_t n,
                        const double *X, const double *S, const double *A,
                        const double *U, double sigma, double *phi);

/* Largest distance store pf_pairwise_reserve_fit accepts (bytes). */
#define PF_PAIR_FIT_MAX_BYTES ((size_t)1 << 29)

/* Allocate what pf_pair_svgd_fit needs: the upper-triangle squared
 * distance tiles of max_n points (about 4 max_n^2 bytes: 16 MiB at 2000,
 * 100 MiB at 5000) and selection counts.  PF_ENOMEM (no allocation) above
 * PF_PAIR_FIT_MAX_BYTES: callers then use pf_kernel_fit + pf_pair_svgd.
 * Call once after create, outside hot loops; idempotent. */
int pf_pairwise_reserve_fit(pf_pairwise *w);

/* pf_pair_svgd (Y = X) with the kernel's median bandwidth refitted on the
 * same step's squared distances: the upper-triangle r2 tiles are computed
 * once (dot products, see above), the exact median of ALL n(n-1)/2 pairs
 * (or the rule's variant; no PF_MEDIAN_MAX_POINTS cap) selected from them
 * by radix selection, and the direction evaluated from the stored tiles.
 * The bandwidth differs from pf_kernel_fit's (exact differences) only by
 * the dot-product rounding of r2 (relative ~(d + 2) 2^-53 for typical
 * pairs), and for n > PF_MEDIAN_MAX_POINTS by using every point.  Fixed
 * bandwidth: plain pf_pair_svgd.  Sets k's h (not thread-safe on k).
 * Needs pf_pairwise_reserve_fit (PF_EINVAL otherwise).  Bitwise identical
 * for any thread count. */
int pf_pair_svgd_fit(pf_pairwise *w, pf_kernel *k, size_t n, const double *X,
                     const double *S, double *phi);

/* Kernel gradient sum (MMD witness gradients):
 * G_i = sum_j grad_x k(x, y_j) at x = x_i (Y == NULL: Y = X, j over all
 * rows; the j = i term is 0).  G: n x d (must not alias the inputs). */
int pf_pair_kgrad(pf_pairwise *w, const pf_kernel *k, size_t n,
                  const double *X, size_t m, const double *Y, double *G);

/* ---- MMD witness gradients (kernels/pairwise_mmd.c) --------------------- */

typedef struct pf_witness pf_witness;

/* Dimensions up to this use the direct-difference path (see
 * kernels/pairwise_mmd.c); above it the tiled engine. */
#define PF_WITNESS_LOWD 8

/* Workspace for up to max_n evaluation rows and first-set points and max_m
 * second-set points of dimension d.  Caller owns *out. */
int pf_witness_create(size_t max_n, size_t max_m, size_t d, pf_witness **out);
void pf_witness_destroy(pf_witness **w);

/* MMD flow direction at the n rows z_i of Z:
 *   V_i = a sum_{j<nx} grad_z k(z_i, x_j) + b sum_{l<m} grad_z k(z_i, y_l)
 * (V: n x d, may be NULL; must not alias the inputs; nx or m may be 0).
 * With ks != NULL also ks[0] = sum_{i,j} k(z_i, x_j) and ks[1] =
 * sum_{i,l} k(z_i, y_l) (every pair, diagonal included when Z = X).  The
 * witness gradient of the flow toward Y with particles X is a = 1/nx,
 * b = -1/m.  Bitwise identical for any thread count and, under MPI with
 * replicated particles, any rank count (then collective: every rank
 * computes its block of rows and the rows are all-gathered); not reentrant
 * on one workspace. */
int pf_witness_grad(pf_witness *w, const pf_kernel *k, size_t n,
                    const double *Z, size_t nx, const double *X, double a,
                    size_t m, const double *Y, double b, double *V,
                    double ks[2]);

/* Internal: y = sqrt(x), vectorized (x >= 0). */
void pf__vsqrt(size_t n, const double *x, double *y);

#ifdef __cplusplus
}
#endif
#endif
