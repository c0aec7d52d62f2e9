/* `reflected_sde`: Euler-Maruyama for dX = b(X, t) dt + g(t) dW on
 * [0, t_end] in n_iter steps, kept inside the target's domain by a
 * boundary rule (the reflected SDEs of Lou & Ermon 2023 when the rule is
 * reflect).  The drift is the target's score scaled to the diffusion,
 * b = (g^2 / 2) grad log p (p invariant: Langevin with a time-varying
 * temperature-free speed), the Ornstein-Uhlenbeck drift b = -(g^2 / 2) x
 * (N(0, I) invariant; with schedule vp this is the variance-preserving
 * forward process), or zero (with schedule ve: the variance-exploding
 * process).  Shares the Langevin engine: one step is
 * y = x + h drift + sqrt(2h) z with h = g(t)^2 dt / 2. */
#include <string.h>

#include "langevin.h"
#include "pflow/error.h"
#include "pflow/sampler.h"

static int rs_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                     void **state)
{
  const char *drift = pf_cfg_str(cfg, "drift"), *sch = pf_cfg_str(cfg, "schedule");
  const char *rule = pf_cfg_str(cfg, "rule");
  pf__lgv_opts o = {.boundary = PF__LGV_REFLECT, .drift = PF__LGV_SCORE,
                    .schedule = PF__LGV_CONSTANT};
  if (strcmp(drift, "ou") == 0) o.drift = PF__LGV_OU;
  if (strcmp(drift, "zero") == 0) o.drift = PF__LGV_ZERO;
  if (strcmp(sch, "ve") == 0) o.schedule = PF__LGV_VE;
  if (strcmp(sch, "vp") == 0) o.schedule = PF__LGV_VP;
  if (strcmp(rule, "symmetrize") == 0) o.boundary = PF__LGV_SYMMETRIZE;
  if (strcmp(rule, "project") == 0) o.boundary = PF__LGV_PROJECT;
  if (strcmp(rule, "reject") == 0) o.boundary = PF__LGV_REJECT;
  if (strcmp(rule, "none") == 0) o.boundary = PF__LGV_NONE;
  return pf__lgv_create(cfg, t, n, d, &o, state);
}

static const pf_param rs_params[] = {
    {"drift", PF_P_STRING, "score", "score|ou|zero",
     "b = (g^2/2) grad log p, b = -(g^2/2) x, or 0", 0, NULL, NULL},
    {"schedule", PF_P_STRING, "constant", "constant|ve|vp",
     "diffusion g(t): constant sigma; variance exploding sigma_min (sigma_max "
     "/ sigma_min)^(t/t_end); variance preserving beta(t) linear from "
     "beta_min to beta_max",
     0, NULL, NULL},
    {"rule", PF_P_STRING, "reflect", "reflect|symmetrize|project|reject|none",
     "how a step that leaves the domain is brought back", 0, NULL, NULL},
    {"t_end", PF_P_REAL, "1", "(0,inf)",
     "end time; the step is dt = t_end / n_iter", 0, NULL, NULL},
    {"sigma", PF_P_REAL, "1.4142135623730951", "(0,inf)",
     "constant schedule: g (sqrt 2 with drift score is Langevin with h = dt)",
     0, NULL, NULL},
    {"sigma_min", PF_P_REAL, "0.01", "(0,inf)", "ve schedule: sigma(0)", 0,
     NULL, NULL},
    {"sigma_max", PF_P_REAL, "10", "(0,inf)", "ve schedule: sigma(t_end)", 0,
     NULL, NULL},
    {"beta_min", PF_P_REAL, "0.1", "(0,inf)", "vp schedule: beta(0)", 0, NULL,
     NULL},
    {"beta_max", PF_P_REAL, "20", "(0,inf)", "vp schedule: beta(t_end)", 0,
     NULL, NULL},
    {"step_size", PF_P_REAL, "0.01", "(0,inf)",
     "unused (the schedule sets the step); kept for a uniform interface", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_reflected_sde = {
    .base = {"reflected_sde",
             "Euler-Maruyama for dX = b dt + g(t) dW (score, OU or zero "
             "drift; constant, VE or VP schedule) kept in the domain",
             rs_params},
    .example = "{name: reflected_sde, n_particles: 2000, n_iter: 400, "
               "t_end: 20}",
    .create = rs_create,
    PF__LGV_OPS,
};
