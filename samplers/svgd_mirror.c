/* `msvgd`: mirrored SVGD (Shi, Liu & Mackey, "Sampling with Mirrored Stein
 * Operators", ICLR 2022).  The state is eta = grad psi(theta) in the dual
 * coordinates of the domain's mirror map; each step moves
 *   eta_i <- eta_i + step(g_i),
 *   g_i = (1/n) sum_j [k(theta_j, theta_i) s_j
 *                      + hess psi(theta_j)^-1 grad_{theta_j} k(theta_j, theta_i)],
 * s_j the score of the dual density p_H(eta) = p(grad psi*(eta))
 * det hess psi*(eta) (pf_target_logp_grad_dual, which also returns theta),
 * with the kernel on PRIMAL points.  This is SVGD on p_H with the kernel
 * k(grad psi*(eta), grad psi*(eta')).  With one particle the repulsive term
 * vanishes and the update is gradient ascent on log p_H; with the identity
 * map it is svgd.
 *
 * The repulsive term runs on the GEMM-shaped engine (pf_pair_svgd_matrix)
 * for the entropic simplex (diag(theta) - theta theta^T, 12 d flops per
 * pair), the orthant and the box (diagonal, 8 d); other maps, or
 * `repulsive: generic`, apply the map's hess_psi_inv_vec per pair:
 * n^2 (3 d + that op's cost) per step without GEMM blocking.  Particles
 * hold theta in x and the dual log density and score in logp and grad. */
#include "pflow/kernel.h"
#include "pflow/sampler.h"
#include "svgd.h"

static int msvgd_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                        void **state)
{
  return pf__svgd_create(cfg, t, n, d, PF__SVGD_MIRROR, state);
}

static const pf_param msvgd_params[] = {
    PF__SVGD_PARAM_KERNEL("{name: imq, bandwidth: median_ref}"),
    PF__SVGD_PARAM_EVERY,
    PF__OPT_PARAMS("rmsprop", "0.1"),
    {"repulsive", PF_P_STRING, "auto", "auto|generic",
     "repulsive term: auto (GEMM-shaped for the simplex, orthant and box "
     "maps, per-pair otherwise) or generic (always per pair; for checks)",
     0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_msvgd = {
    .base = {"msvgd",
             "mirrored SVGD: SVGD on the mirror map's dual density, kernel "
             "on primal points",
             msvgd_params},
    .example = "{name: msvgd, n_particles: 300, n_iter: 400, kernel: {name: "
               "rbf, bandwidth: median_log}, optimizer: adagrad, step_size: "
               "0.1, init_scale: 2}",
    .info_names = pf__svgd_info,
    .n_info = PF__SVGD_N_INFO,
    .create = msvgd_create,
    .destroy = pf__svgd_destroy,
    .init = pf__svgd_init,
    .step = pf__svgd_step,
    .state = pf__svgd_state,
};
