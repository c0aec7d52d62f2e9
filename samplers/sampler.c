/* What every sampler shares: the common parameters and the non-finite
 * policy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/particles.h"
#include "pflow/target.h"

#include "pflow/error.h"
#include "pflow/sampler.h"

const pf_param pf_sampler_common_params[] = {
    {"n_particles", PF_P_INT, "100", "[1,1e9]",
     "number of particles (or independent chains)", 0, NULL, NULL},
    {"n_iter", PF_P_INT, "1000", "[0,1e12]", "number of iterations", 0, NULL,
     NULL},
    {"init", PF_P_STRING, "auto", "auto|normal|uniform|domain|exact|dirichlet",
     "initial particles: N(init_loc, init_scale^2 I) (normal), "
     "U(init_loc - init_scale, init_loc + init_scale)^d (uniform), random "
     "interior points of the target's domain (domain), the target's "
     "exact sampler (exact), or Dirichlet(init_concentration * 1) on a "
     "simplex domain (dirichlet); auto is normal on R^d and domain "
     "otherwise",
     0, NULL, NULL},
    {"init_concentration", PF_P_REAL, "1", "(0,inf)",
     "init: dirichlet: the common concentration c of Dirichlet(c, ..., c) "
     "(1 is uniform; 5 is the mirrored Stein experiments' start)",
     0, NULL, NULL},
    {"init_loc", PF_P_REAL, "0", NULL, "center of the normal and uniform initializations", 0,
     NULL, NULL},
    {"init_scale", PF_P_REAL, "1", "[0,inf)",
     "standard deviation of the normal initialization, half-width of the "
     "uniform one", 0, NULL, NULL},
    {"on_nonfinite", PF_P_STRING, "abort", "abort|backoff",
     "non-finite position, log density or score: abort with the last good "
     "state saved, or halve the step size and retry", 0, NULL, NULL},
    {"max_backoff", PF_P_INT, "20", "[0,1000]",
     "retries (halvings) per iteration before giving up under backoff", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

int pf_sampler_policy(const pf_node *cfg, pf_nonfinite_policy *out)
{
  const char *s = pf_cfg_str(cfg, "on_nonfinite");
  *out = (s && strcmp(s, "backoff") == 0) ? PF_NONFINITE_BACKOFF
                                          : PF_NONFINITE_ABORT;
  return 0;
}

int pf__dirichlet_sample_log(const double *alpha, size_t D, pf_rng *rng,
                             size_t n, double *logtheta);

/* Dirichlet(c 1) draws on a simplex domain: D = d + 1 components in the
 * reduced coordinates (the mode with a mirror map), D = d in full ones. */
static int init_dirichlet(const pf_node *ss, const pf_domain *dom,
                          pf_particles *p)
{
  const size_t n = p->n, d = p->d;
  if (strcmp(pf_domain_name(dom), "simplex") != 0)
    PF_CFG_RAISE(ss, "init", PF_ECONFIG,
                 "init 'dirichlet' needs a target on the simplex; the "
                 "target's domain is '%s'", pf_domain_name(dom));
  double c;
  PF_TRY(pf_cfg_real(ss, "init_concentration", &c));
  const size_t D = pf_domain_mirror(dom) ? d + 1 : d;
  double *buf = pf_alloc_doubles(2 * D);
  PF_CHECK(buf, PF_ENOMEM, "allocating a Dirichlet draw");
  for (size_t k = 0; k < D; k++) buf[k] = c;
  for (size_t i = 0; i < n; i++) {
    pf__dirichlet_sample_log(buf, D, &p->rng[i], 1, buf + D);
    for (size_t k = 0; k < d; k++) p->x[i * d + k] = exp(buf[D + k]);
  }
  free(buf);
  return 0;
}

/* Each particle draws from its own stream, so the start does not depend
 * on the thread split. */
int pf_sampler_init_particles(const pf_node *ss, pf_target *t,
                              pf_particles *p)
{
  const size_t n = p->n, d = p->d;
  const char *how = pf_cfg_str(ss, "init");
  const pf_domain *dom = pf_target_domain(t);
  if (strcmp(how, "auto") == 0)
    how = pf_domain_is_free(dom) ? "normal" : "domain";
  if (strcmp(how, "domain") == 0) {
    double *work = pf_alloc_doubles(pf_domain_work_len(dom) + 1);
    PF_CHECK(work, PF_ENOMEM, "allocating a domain workspace");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
      rc = pf_domain_interior(dom, &p->rng[i], p->x + i * d, work);
    free(work);
    PF_TRY(rc);
  } else if (strcmp(how, "uniform") == 0) {
    double loc, scale;
    PF_TRY(pf_cfg_real(ss, "init_loc", &loc));
    PF_TRY(pf_cfg_real(ss, "init_scale", &scale));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
      double *x = p->x + i * d;
      pf_rng_uniforms_open(&p->rng[i], d, x);
      for (size_t k = 0; k < d; k++) x[k] = loc + scale * (2.0 * x[k] - 1.0);
    }
  } else if (strcmp(how, "dirichlet") == 0) {
    PF_TRY(init_dirichlet(ss, dom, p));
  } else if (strcmp(how, "exact") == 0) {
    if (!pf_target_ops_of(t)->sample)
      PF_CFG_RAISE(ss, "init", PF_ECONFIG,
                   "init 'exact' needs a target with an exact sampler; "
                   "target '%s' has none",
                   pf_target_ops_of(t)->base.name);
    for (size_t i = 0; i < n; i++)
      PF_TRY(pf_target_sample(t, &p->rng[i], 1, p->x + i * d));
  } else {
    double loc, scale;
    PF_TRY(pf_cfg_real(ss, "init_loc", &loc));
    PF_TRY(pf_cfg_real(ss, "init_scale", &scale));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
      double *x = p->x + i * d;
      pf_rng_normal(&p->rng[i], d, x);
      for (size_t k = 0; k < d; k++) x[k] = loc + scale * x[k];
    }
  }
  PF_TRY(pf_target_logp_grad(t, n, p->x, p->logp, p->grad));
  size_t bad = pf_particles_find_nonfinite(p);
  if (bad < n)
    PF_CFG_RAISE(ss, "init", PF_ENONFINITE,
                 "initial particle %zu has a non-finite log density or score "
                 "under target '%s'", bad,
                 pf_target_ops_of(t)->base.name);
  return 0;
}
