/* `dis`: the time-reversed diffusion sampler (Berner, Richter & Ullrich,
 * TMLR 2024) trained with the path-space losses of Richter & Berner (ICLR
 * 2024): the generative SDE reverses a variance-preserving noising process,
 *   dx = (beta(t) x / 2 + sqrt(beta(t)) u) dt + sqrt(beta(t)) dW,
 *   x_0 ~ N(0, I),  beta linear from beta_max (t = 0) to beta_min (t = T),
 * control u = NN(x, t) + sqrt(beta) c(t) [(1 - t/T)(-x) + (t/T) grad log
 * rho(x)] (the interpolated score as the initial guess).  The engine and
 * the iteration mapping are those of `pis` (nn/pathspace.c). */
#include "../nn/pathspace.h"
#include "pflow/sampler.h"

static int dis_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                      void **state)
{
  return pf__ps_create(cfg, t, n, d, PF__PS_DIS, (pf__ps **)state);
}

static const pf_param dis_params[] = {
    PF__PS_COMMON_PARAMS,
    {"t_end", PF_P_REAL, "1", "(0,inf)", "time horizon T", 0, NULL, NULL},
    {"beta_min", PF_P_REAL, "0.1", "(0,inf)", "beta at t = T (target end)",
     0, NULL, NULL},
    {"beta_max", PF_P_REAL, "10", "(0,inf)", "beta at t = 0 (prior end)", 0,
     NULL, NULL},
    {"score_init", PF_P_REAL, "1", NULL,
     "initial value of the score coefficient c(t)", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_dis = {
    .base = {"dis", "time-reversed diffusion sampler: learned control of a "
             "VP diffusion from N(0, I) (log-variance or KL loss), "
             "importance weighted", dis_params},
    .example = "{name: dis, n_particles: 2000, n_iter: 40, batch_size: 256, "
               "n_steps: 20, width: 16, depth: 1, n_freq: 8, f_max: 10, "
               "lr: 0.01, resample: true}",
    .info_names = pf__ps_info,
    .n_info = PF__PS_N_INFO,
    .create = dis_create,
    .destroy = pf__ps_destroy_state,
    .init = pf__ps_init,
    .step = pf__ps_step,
    .write_output = pf__ps_write_output,
    .state = pf__ps_state,
};
