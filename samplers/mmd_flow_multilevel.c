/* `mmd_flow_multilevel`: the noise-adaptive MMD flow of DMMD (Galashov, De
 * Bortoli & Gretton, "Deep MMD Gradient Flow without adversarial
 * training", ICLR 2025) without the neural network: particles and target
 * samples are compared through a coarse-to-fine sequence of noise levels
 * sigma_1 > ... > sigma_L of a forward diffusion x_t = x + sigma_t eps.
 *
 * Why this is a bandwidth schedule.  For the Gaussian kernel
 * k_l0(x, y) = exp(-|x - y|^2 / (2 l0^2)) and independent eps, eps' ~
 * N(0, I_d): x + sigma eps - y - sigma eps' ~ N(x - y, 2 sigma^2 I), and the
 * Gaussian integral gives
 *   E k_l0(x + sigma eps, y + sigma eps')
 *     = (l0^2 / (l0^2 + 2 sigma^2))^(d/2) exp(-|x-y|^2 / (2 (l0^2 + 2 sigma^2)))
 *     = c_t k_lt(x, y),   l_t^2 = l0^2 + 2 sigma^2,  c_t = (l0^2/l_t^2)^(d/2).
 * MMD^2 is a combination of such expectations over independent pairs, so
 *   MMD^2_{k_l0}(P * N(0, s^2 I), Q * N(0, s^2 I)) = c_t MMD^2_{k_lt}(P, Q):
 * the noised comparison is the clean one with the widened bandwidth, up to
 * the constant c_t (tested numerically in tests/test_mmd_flow.c).  In the
 * pflow convention exp(-r2/h), h = 2 l^2: h_t = h0 + 4 sigma_t^2.  The flow
 * at level t descends MMD^2_{k_lt} (c_t only rescales the step, which is
 * gamma_t = step_size h_t, i.e. proportional to l_t^2 as DMMD suggests).
 *
 * Schedule: n_levels levels, sigma geometric from sigma_max to sigma_min,
 * steps_per_level iterations each (the last level keeps any remaining
 * iterations).  Optional noise injection at level t with beta_t =
 * noise_level sigma_t.
 *
 * Outside this sampler's scope (stated so users know what they get): DMMD's
 * learned noise-conditional deep kernel
 * k_t(x, y) = k(phi_theta(x, t), phi_theta(y, t)) and its non-adversarial
 * training (gradient and l2 penalties) -- the kernel here is a fixed
 * Gaussian whose bandwidth follows the noise level; the linear-kernel and
 * KALE variants. */
#include "mmd_flow.h"

#include "pflow/error.h"
#include "pflow/sampler.h"

static int ml_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                     void **state)
{
  pf__mmdf_levels lv;
  long long n_iter;
  PF_TRY(pf_cfg_real(cfg, "sigma_max", &lv.sigma_max));
  PF_TRY(pf_cfg_real(cfg, "sigma_min", &lv.sigma_min));
  PF_TRY(pf_cfg_int(cfg, "n_levels", &lv.n_levels));
  PF_TRY(pf_cfg_int(cfg, "steps_per_level", &lv.steps_per_level));
  PF_TRY(pf_cfg_bool(cfg, "noise_injection", &lv.inject));
  PF_TRY(pf_cfg_real(cfg, "noise_level", &lv.noise_level));
  PF_TRY(pf_cfg_int(cfg, "n_iter", &n_iter));
  if (lv.sigma_max > 0 && lv.sigma_min > lv.sigma_max)
    PF_CFG_RAISE(cfg, "sigma_min", PF_ECONFIG,
                 "%g is above sigma_max %g (levels go coarse to fine)",
                 lv.sigma_min, lv.sigma_max);
  if (lv.steps_per_level == 0) {
    lv.steps_per_level = n_iter / lv.n_levels;
    if (lv.steps_per_level < 1) lv.steps_per_level = 1;
  }
  PF_TRY(pf__mmdf_create(cfg, t, n, d, 1, state));
  pf__mmdf_set_levels(*state, &lv);
  return 0;
}

static const pf_param ml_params[] = {
    {"kernel", PF_P_PLUGIN, "{name: rbf, bandwidth: median, scales: [0.02]}",
     NULL,
     "base Gaussian kernel k_l0 (rbf, one scale): the finest level; a "
     "median bandwidth is taken once over the target samples (times the "
     "scale)", 0, NULL, &pf_kernels},
    PF__MMDF_PARAMS_COMMON,
    {"n_levels", PF_P_INT, "10", "[1,1000]", "number of noise levels", 0,
     NULL, NULL},
    {"steps_per_level", PF_P_INT, "0", "[0,1e12]",
     "iterations per level (0: n_iter / n_levels); the last level keeps "
     "the remaining iterations", 0, NULL, NULL},
    {"sigma_max", PF_P_REAL, "0", "[0,inf)",
     "coarsest noise level (0: the pooled per-coordinate standard deviation "
     "of the target samples)", 0, NULL, NULL},
    {"sigma_min", PF_P_REAL, "0", "[0,inf)",
     "finest noise level (0: sigma_max / 100)", 0, NULL, NULL},
    {"noise_injection", PF_P_BOOL, "false", NULL,
     "also evaluate the witness at x + beta_t u with beta_t = noise_level "
     "sigma_t", 0, NULL, NULL},
    {"noise_level", PF_P_REAL, "1", "[0,inf)",
     "beta_t / sigma_t when noise_injection is on", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_mmd_flow_multilevel = {
    .base = {"mmd_flow_multilevel",
             "noise-adaptive MMD flow: Gaussian bandwidth annealed along a "
             "noise schedule, coarse to fine (DMMD without the deep kernel)",
             ml_params},
    .example = "{name: mmd_flow_multilevel, n_particles: 400, n_iter: 300, "
               "n_target: 2000, n_levels: 4, step_size: 0.45, "
               "kernel: {name: rbf, bandwidth: median}}",
    .info_names = pf__mmdf_info,
    .n_info = PF__MMDF_N_INFO_ML,
    .create = ml_create,
    .destroy = pf__mmdf_destroy,
    .init = pf__mmdf_init,
    .step = pf__mmdf_step,
    .state = pf__mmdf_state,
};
