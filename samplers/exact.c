/* `exact`: the reference sampler.  Every iteration replaces each particle
 * by an independent draw from the target's own exact sampler
 * (pf_target_sample; particle i draws from its own PCG stream, as
 * `init: exact` does), so the particles are iid from the target after any
 * number of iterations, and the kept draws of all iterations form an iid
 * sample of n_particles x n_iter points (exactly iid for "exact" and
 * "rejection" targets; for "gibbs" targets, such as a truncated normal with
 * a low rejection rate, each draw ends its own burnt-in chain).  This is
 * the "exact Gibbs sampler for truncated Gaussians" reference of the
 * post-selection workflow.  Particles are treated as chains (posterior =
 * all draws; no warm-up). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/sampler.h"

typedef struct exact_state {
  pf_target *t;
  size_t n, d;
  double *x, *logp, *grad; /* the next state, checked before it is kept */
} exact_state;

static void exact_destroy(void *state)
{
  exact_state *s = state;
  if (!s) return;
  free(s->x);
  free(s->logp);
  free(s->grad);
  free(s);
}

static int exact_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                        void **state)
{
  if (!pf_target_ops_of(t)->sample)
    PF_CFG_RAISE(cfg, "name", PF_ECONFIG,
                 "sampler 'exact' needs a target with an exact sampler; "
                 "target '%s' has none (use another sampler)",
                 pf_target_ops_of(t)->base.name);
  exact_state *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the exact sampler");
  s->t = t;
  s->n = n;
  s->d = d;
  s->x = pf_alloc_doubles(n * d + 1);
  s->logp = pf_alloc_doubles(n + 1);
  s->grad = pf_alloc_doubles(n * d + 1);
  if (!s->x || !s->logp || !s->grad) {
    exact_destroy(s);
    PF_RAISE(PF_ENOMEM, "allocating the exact sampler (%zu x %zu)", n, d);
  }
  *state = s;
  return 0;
}

static int exact_init(void *state, pf_particles *p)
{
  (void)state;
  (void)p;
  return 0;
}

/* Serial over particles: target samplers promise one stream per call, not
 * thread safety; each particle's draw depends only on its own stream, so
 * the result is the same for any thread count. */
static int exact_step(void *state, long iter, pf_particles *p, double *info)
{
  (void)iter;
  (void)info;
  exact_state *s = state;
  const size_t n = s->n, d = s->d;
  for (size_t i = 0; i < n; i++)
    PF_TRY(pf_target_sample(s->t, &p->rng[i], 1, s->x + i * d));
  PF_TRY(pf_target_logp_grad(s->t, n, s->x, s->logp, s->grad));
  /* the draws as a particle set (no streams) */
  const pf_particles draws = {.n = n, .d = d, .x = s->x, .logp = s->logp,
                              .grad = s->grad};
  const size_t bad = pf_particles_find_nonfinite(&draws);
  PF_CHECK(bad == n, PF_ENONFINITE,
           "exact: draw %zu has a non-finite position, log density or "
           "score under target '%s'", bad, pf_target_ops_of(s->t)->base.name);
  pf_particles_copy_state(p, &draws);
  return 0;
}

/* Checkpoints: nothing beyond the particles' own streams (the buffers are
 * overwritten by every step before they are read). */
static int exact_save_state(void *state, struct pf_state_visitor *v)
{
  (void)state;
  (void)v;
  return 0;
}

static const pf_param exact_params[] = {
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_exact = {
    .base = {"exact",
             "independent draws from the target's exact sampler every "
             "iteration (the reference)",
             exact_params},
    .example = "{name: exact, n_particles: 2000, n_iter: 2}",
    .info_names = NULL,
    .n_info = 0,
    .create = exact_create,
    .destroy = exact_destroy,
    .init = exact_init,
    .step = exact_step,
    .flags = PF_SAMPLER_CHAINS,
    .state = exact_save_state,
};
