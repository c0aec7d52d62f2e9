/* `mirror_langevin`: Langevin in the dual coordinates eta = grad psi(x) of
 * the domain's mirror map, on the pushed-forward density
 * p_H(eta) = p(grad psi*(eta)) det hess psi*(eta) (Hsieh et al. 2018;
 * Zhang et al. 2020), mapped back with grad psi* every step.  Unadjusted
 * by default; `adjust: true` adds the Metropolis-Hastings test in eta, which
 * makes the chains exact.  Particles hold primal points in x and the dual
 * log density and score in logp and grad. */
#include "langevin.h"
#include "pflow/error.h"
#include "pflow/sampler.h"

static int ml_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                     void **state)
{
  int adjust = 0;
  PF_TRY(pf_cfg_bool(cfg, "adjust", &adjust));
  pf__lgv_opts o = {.adjust = adjust, .dual = 1};
  return pf__lgv_create(cfg, t, n, d, &o, state);
}

static const pf_param ml_params[] = {
    {"adjust", PF_P_BOOL, "false", NULL,
     "Metropolis-adjust in the dual coordinates (exact chains)", 0, NULL,
     NULL},
    PF__LGV_PARAM_STEP, PF__LGV_PARAM_WARMUP, PF__LGV_PARAM_ACCEPT,
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_mirror_langevin = {
    .base = {"mirror_langevin",
             "Langevin in the mirror map's dual coordinates (optionally "
             "Metropolis-adjusted)",
             ml_params},
    .example = "{name: mirror_langevin, n_particles: 2000, n_iter: 400, "
               "step_size: 0.05}",
    .create = ml_create,
    PF__LGV_OPS,
};
