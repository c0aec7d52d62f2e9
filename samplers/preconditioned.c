/* `preconditioned`: Langevin with a constant SPD preconditioner M,
 *   y = x + h M grad log p(x) + sqrt(2h) L z,  M = L L^T,
 * unadjusted (method: ula) or Metropolis-adjusted (method: mala).  M comes
 * from `metric` / `metric_diag`, or with `adapt_metric: true` from the
 * regularized covariance of the chains at half of the warm-up (n chains
 * give the estimate at once), frozen afterwards. */
#include <string.h>

#include "langevin.h"
#include "pflow/error.h"
#include "pflow/sampler.h"

static int pre_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                      void **state)
{
  int adapt = 0;
  PF_TRY(pf_cfg_bool(cfg, "adapt_metric", &adapt));
  pf__lgv_opts o = {.adjust = strcmp(pf_cfg_str(cfg, "method"), "mala") == 0,
                    .metric = adapt ? PF__LGV_ADAPT : PF__LGV_GIVEN};
  return pf__lgv_create(cfg, t, n, d, &o, state);
}

static const pf_param pre_params[] = {
    {"method", PF_P_STRING, "mala", "ula|mala",
     "unadjusted or Metropolis-adjusted", 0, NULL, NULL},
    {"metric", PF_P_MATRIX, NULL, NULL,
     "preconditioner M (d x d, symmetric positive definite)", 0, NULL, NULL},
    {"metric_diag", PF_P_REALS, NULL, NULL,
     "diagonal preconditioner (one value is repeated)", 0, NULL, NULL},
    {"adapt_metric", PF_P_BOOL, "false", NULL,
     "estimate M from the chains at half of the warm-up", 0, NULL, NULL},
    PF__LGV_PARAM_STEP, PF__LGV_PARAM_WARMUP, PF__LGV_PARAM_ACCEPT,
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_preconditioned = {
    .base = {"preconditioned",
             "Langevin (ULA or MALA) with a constant or warm-up-estimated "
             "SPD preconditioner",
             pre_params},
    .example = "{name: preconditioned, n_particles: 2000, n_iter: 400, "
               "step_size: 0.5, adapt_metric: true}",
    .create = pre_create,
    PF__LGV_OPS,
};
