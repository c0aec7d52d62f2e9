/* `pis`: the path integral sampler (Zhang & Chen, ICLR 2022) trained with
 * the path-space losses of Richter & Berner (ICLR 2024): a Brownian
 * reference from the point mass at 0 (dx = sigma u dt + sigma dW on [0, T],
 * so x_T ~ N(0, sigma^2 T I) without control), control
 * u = NN(x, t) + c(t) grad log rho(x), log-variance or reverse-KL loss.
 * The engine is nn/pathspace.c; how the run's iterations map onto training
 * is explained there and in the README:
 *   each iteration = one training step on batch_size fresh trajectories
 *   (the particles then hold that batch's end points when batch_size ==
 *   n_particles); after the last iteration (and every eval_every) the
 *   n_particles are drawn afresh from the trained (EMA) control, with log
 *   importance weights -R in /sample_stats/log_weight.
 * With `load`, a trained network is read and each iteration only samples. */
#include "../nn/pathspace.h"
#include "pflow/sampler.h"

static int pis_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                      void **state)
{
  return pf__ps_create(cfg, t, n, d, PF__PS_PIS, (pf__ps **)state);
}

static const pf_param pis_params[] = {
    PF__PS_COMMON_PARAMS,
    {"t_end", PF_P_REAL, "5", "(0,inf)", "time horizon T", 0, NULL, NULL},
    {"sigma", PF_P_REAL, "0.44721359549995793", "(0,inf)",
     "diffusion coefficient (default sqrt(0.2): x_T ~ N(0, I) at T = 5)", 0,
     NULL, NULL},
    {"score_init", PF_P_REAL, "0.01", NULL,
     "initial value of the score coefficient c(t)", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_pis = {
    .base = {"pis", "path integral sampler: learned control of a Brownian "
             "motion (log-variance or KL loss), importance weighted",
             pis_params},
    /* Small enough to train in well under a second; the resampled draws
     * follow the target through the importance weights. */
    .example = "{name: pis, n_particles: 2000, n_iter: 40, batch_size: 256, "
               "n_steps: 20, width: 16, depth: 1, n_freq: 8, f_max: 10, "
               "lr: 0.01, sigma: 0.6, resample: true}",
    .info_names = pf__ps_info,
    .n_info = PF__PS_N_INFO,
    .create = pis_create,
    .destroy = pf__ps_destroy_state,
    .init = pf__ps_init,
    .step = pf__ps_step,
    .write_output = pf__ps_write_output,
    .state = pf__ps_state,
};
