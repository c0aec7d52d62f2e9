/* Internal: the Stein variational mirror descent direction (Shi, Liu &
 * Mackey, "Sampling with Mirrored Stein Operators", ICLR 2022, Alg. 2 and
 * the official code's svmd_update), shared by svmd (metric = hess psi of the
 * domain's mirror map) and svng (metric = a running Fisher average).
 *
 * For particles theta_1..theta_n with per-particle metrics H_m (d x d), their
 * inverses, and dual scores s_l = H_l^-1 grad log p(theta_l) + div H_l^-1:
 *   G = [k(theta_m, theta_l)] + jitter I = sum_j lambda_j u_j u_j^T (top r
 *       eigenpairs: 1 + #{cumulative normalized mass < tau}),
 *   v_j = sqrt(n) u_j (values at the particles), mu_j = lambda_j / n,
 *   grad u_j(y) = (1/lambda_j) sum_p grad_y k(y, theta_p) v_j(theta_p)
 *       (Nystrom), k^1/2(x, y) = sum_j sqrt(mu_j) u_j(x) u_j(y),
 *   K_t(x, y) = (1/n) sum_m k^1/2(x, theta_m) H_m k^1/2(theta_m, y),
 *   g_k = (1/n) sum_l [K_t(theta_k, theta_l) H_l^-1 grad log p_l
 *          + sum_c d/dy_c (K_t(theta_k, y) H^-1(y))_{:,c} at y = theta_l],
 * the derivative acting on the right factor only (and on H^-1), as the
 * official code does.  Carrying it out:
 *   T_m = (1/n) sum_l [k^1/2(theta_m, theta_l) s_l
 *                      + H_l^-1 grad_2 k^1/2(theta_m, theta_l)],
 *   g_k = (1/n) sum_m k^1/2(theta_k, theta_m) H_m T_m,
 * and every sum over particles factors through the r eigenvectors: with
 * U (n x r), D = diag(sqrt(mu)), T = U D (sqrt(n) U^T S + W) / sqrt(n),
 * g = U D U^T (H T) (rows H_m T_m), where
 *   W_j = sum_l H_l^-1 grad u_j(theta_l)
 *       = (2 sqrt(n) / lambda_j) sum_{l,p} f'_lp U_pj H_l^-1 (x_l - x_p)
 * (f' = dk/dr2) is two GEMMs: (F' U)^T [H_l^-1 x_l]_l and U^T [M_p x_p]_p
 * with M_p = sum_l f'_pl H_l^-1 (F' times the n x d(d+1)/2 stack of the
 * packed symmetric H^-1).
 * (F' is symmetric, so (F' U)^T [H^-1 x] = U^T (F' [H^-1 x]): n^2 d flops,
 * not n^2 r.)
 * Eigenpairs: with tau < 1 and n >= PF__SVMD_KRYLOV_MIN_N, block Krylov
 * (block Lanczos with full reorthogonalization, svmd.c krylov_kept) finds
 * just the leading pairs, about 2.5 r matrix-vector products (2 n^2 each,
 * on blocks of 8 by a register-blocked kernel: a GEMM call with 8 rows
 * spends most of its time packing the n x n operand) plus as much again
 * for reorthogonalization;
 * otherwise (tau = 1, small n, r > ~n/5, no convergence) the dense path:
 * tridiagonal reduction (4/3 n^3), every eigenvalue, only the kept vectors.
 * Cost: n^2 d (Gram, upper triangle) + the eigenpairs + n^2 d(d+1) (the
 * packed H^-1 GEMM; 6 n^2 d when every H^-1 is diagonal or
 * diag(a) - x x^T, the box, orthant and simplex maps, recognized exactly
 * from the entries) + lower order n r d + n d^2 terms; no n x n x d
 * tensor.
 *
 * Bits: every BLAS/LAPACK call runs with OpenBLAS in one thread (set for
 * the call and restored; OpenBLAS's own threading changes dgemm's bits);
 * the threads share the work through OpenMP loops over fixed blocks (rows
 * of the GEMMs, groups of Gram rows in the Krylov products, two column
 * blocks of the dense back-transformation) whose bounds depend only on
 * the sizes, so the result does not depend on any thread count.  The Krylov start block is a fixed function of the
 * index (no random source) and nothing is carried between calls, so the
 * direction is a function of the inputs alone (checkpoints need no extra
 * state); it agrees with the dense path to ~1e-10 relative, not bitwise. */
#ifndef PF_SAMPLERS_SVMD_H
#define PF_SAMPLERS_SVMD_H

#include <stddef.h>

#include "pflow/kernel.h"

typedef struct pf__svmd pf__svmd;

/* Workspace for n particles of dimension d (about 5 n^2 + 2 n d^2 doubles
 * plus LAPACK's, and 1.75 n^2 more for the Krylov basis when n >=
 * PF__SVMD_KRYLOV_MIN_N).  Caller owns *out. */
int pf__svmd_create(size_t n, size_t d, pf__svmd **out);
void pf__svmd_destroy(pf__svmd **w);

/* The direction g (n x d) above for primal points X, dual scores S, metrics
 * H and inverses Hinv (n x d x d row-major, each symmetric), kernel k (its
 * bandwidth already fitted), Gram jitter and eigen threshold tau in (0, 1]
 * (tau = 1 keeps every positive eigenpair).  *rank receives r.  Eigenpairs
 * with lambda <= 0 are never kept (possible only with jitter 0).  PF_ELINALG
 * when the eigensolver fails.  Not reentrant on one workspace. */
int pf__svmd_direction(pf__svmd *w, const pf_kernel *k, const double *X,
                       const double *S, const double *H, const double *Hinv,
                       double jitter, double tau, double *g, size_t *rank);

/* Tests: 0 forces every eigenvector to be computed (MRRR range 'A')
 * instead of only the kept ones when r <= n/4 (default 1); the result
 * agrees to rounding. */
void pf__svmd_set_subset(pf__svmd *w, int on);

/* The eigensolver: PF__SVMD_AUTO (default) uses block Krylov for the
 * leading eigenpairs when tau < 1 and n >= PF__SVMD_KRYLOV_MIN_N, falling
 * back to the dense path when it cannot certify them (r > ~n/5, ...);
 * PF__SVMD_DENSE always uses the dense path (tests compare the two).
 * Krylov: blocks of 8, stop at residuals <= 1e-10 lambda_max; after
 * PROBE blocks, a missed mass above MISS (1 - tau) means r is too large
 * for this path (see krylov_kept). */
#define PF__SVMD_AUTO 0
#define PF__SVMD_DENSE 1
#define PF__SVMD_KRYLOV_MIN_N 128
#define PF__SVMD_KRYLOV_BLOCK 8
#define PF__SVMD_KRYLOV_TOL 1e-10
#define PF__SVMD_KRYLOV_PROBE 6
#define PF__SVMD_KRYLOV_MISS 6.5
void pf__svmd_set_method(pf__svmd *w, int method);
/* 1 when the last direction used the Krylov path (*basis: its final basis
 * size), 0 for the dense path. */
int pf__svmd_last_krylov(const pf__svmd *w, size_t *basis);
/* Tests: the last call's r kept eigenvectors (*ut: r rows of n, workspace
 * memory valid until the next call) and eigenvalues (*lr), ascending. */
void pf__svmd_kept(const pf__svmd *w, const double **ut, const double **lr);

/* OpenBLAS thread count pinned to 1 for a section (returns the old count
 * for pf__blas_serial_end). */
int pf__blas_serial_begin(void);
void pf__blas_serial_end(int old);

/* Spec entries shared by svmd and svng. */
#define PF__SVMD_PARAM_TAU(def)                                              \
  {"eigen_threshold", PF_P_REAL, def, "(0,1]",                              \
   "tau: keep the leading Gram eigenpairs whose cumulative normalized "     \
   "eigenvalue mass is below tau, plus one (1: all)", 0, NULL, NULL}
#define PF__SVMD_PARAM_JITTER(def)                                           \
  {"jitter", PF_P_REAL, def, "[0,inf)",                                     \
   "added to the Gram matrix diagonal before the eigendecomposition",       \
   0, NULL, NULL}

#endif
