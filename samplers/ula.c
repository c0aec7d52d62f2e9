/* `ula`: the unadjusted Langevin algorithm, particles as independent chains:
 *   x <- x + h grad log p(x) + sqrt(2h) xi,   xi ~ N(0, I),
 * one batched target call per step, one PCG stream per chain.  For
 * N(0, s^2) its stationary variance is s^2 / (1 - h / (2 s^2)). */
#include <math.h>
#include <stdlib.h>

#include "pflow/error.h"
#include "pflow/sampler.h"

typedef struct ula {
  pf_target *target;
  double h;
  pf_nonfinite_policy policy;
  long long max_backoff;
  double backoffs; /* total step-size halvings so far */
  pf_particles *saved; /* last good state (no streams used) */
} ula;

static void ula_destroy(void *state)
{
  ula *s = state;
  if (!s) return;
  pf_particles_destroy(&s->saved);
  free(s);
}

static int ula_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                      void **state)
{
  int rc;
  ula *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the ula state");
  s->target = t;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "step_size", &s->h), fail);
  PF_TRY_GOTO(rc, pf_sampler_policy(cfg, &s->policy), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "max_backoff", &s->max_backoff), fail);
  PF_TRY_GOTO(rc, pf_particles_create(n, d, 0, 0, &s->saved), fail);
  *state = s;
  return 0;
fail:
  ula_destroy(s);
  return rc;
}

static int ula_init(void *state, pf_particles *p)
{
  (void)state;
  (void)p;
  return 0;
}

static int ula_step(void *state, long iter, pf_particles *p, double *info)
{
  ula *s = state;
  const size_t n = p->n, d = p->d;
  pf_particles_copy_state(s->saved, p);
  for (long long tries = 0;; tries++) {
    const double h = s->h, sd = sqrt(2.0 * h);
    double *x = p->x;
    const double *g = p->grad;
    /* Each chain draws its noise from its own stream, so the bits do not
     * depend on how the loop is split over threads. */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
      double z[64];
      for (size_t k0 = 0; k0 < d; k0 += 64) {
        size_t m = d - k0 < 64 ? d - k0 : 64;
        pf_rng_normal(&p->rng[i], m, z);
        for (size_t k = 0; k < m; k++) {
          size_t j = i * d + k0 + k;
          x[j] += h * g[j] + sd * z[k];
        }
      }
    }
    PF_TRY(pf_target_logp_grad(s->target, n, p->x, p->logp, p->grad));
    size_t bad = pf_particles_find_nonfinite(p);
    if (bad == n) break;
    pf_particles_copy_state(p, s->saved);
    if (s->policy == PF_NONFINITE_ABORT || tries >= s->max_backoff)
      PF_RAISE(PF_ENONFINITE,
               "ula: iteration %ld: particle %zu reached a non-finite "
               "position, log density or score with step size %g%s", iter,
               bad, h,
               s->policy == PF_NONFINITE_ABORT
                   ? " (on_nonfinite: abort; the last good state is kept)"
                   : " after the maximum number of step-size halvings");
    s->h *= 0.5;
    s->backoffs += 1.0;
  }
  info[0] = s->h;
  info[1] = s->backoffs;
  return 0;
}

static const pf_param ula_params[] = {
    {"step_size", PF_P_REAL, "0.01", "(0,inf)", "step size h", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static const char *const ula_info[] = {"step_size", "backoffs"};

const pf_sampler_ops pf_sampler_ula = {
    .base = {"ula", "unadjusted Langevin algorithm (independent chains)",
             ula_params},
    .example = "{name: ula, n_particles: 2000, n_iter: 400, step_size: 0.05}",
    .info_names = ula_info,
    .n_info = 2,
    .create = ula_create,
    .destroy = ula_destroy,
    .init = ula_init,
    .step = ula_step,
};
