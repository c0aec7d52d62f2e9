/* Step rules for direction-ascent particle methods (see optimizer.h).  Two
 * accumulator buffers (current and pending) make a proposal retryable
 * without copying: commit swaps the pointers. */
#include "optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/checkpoint.h"
#include "pflow/error.h"
#include "pflow/particles.h"

struct pf__opt {
  pf__opt_rule rule;
  double lr, a, b;
  int eps_inside;
  size_t n, d;
  long long t;    /* committed steps */
  double *v, *vp; /* current and pending accumulators (n*d; NULL: plain) */
};

int pf__opt_create_rule(pf__opt_rule rule, double lr, double a, double b,
                        int eps_inside, size_t n, size_t d, pf__opt **out)
{
  PF_CHECK(lr > 0.0 && isfinite(lr), PF_EINVAL,
           "optimizer step size must be positive (got %g)", lr);
  pf__opt *o = calloc(1, sizeof *o);
  PF_CHECK(o, PF_ENOMEM, "allocating an optimizer");
  o->rule = rule;
  o->lr = lr;
  o->a = a;
  o->b = b;
  o->eps_inside = eps_inside;
  o->n = n;
  o->d = d;
  if (rule != PF__OPT_PLAIN) {
    o->v = pf_alloc_doubles(n * d);
    o->vp = pf_alloc_doubles(n * d);
    if (!o->v || !o->vp) {
      pf__opt_destroy(&o);
      PF_RAISE(PF_ENOMEM, "allocating optimizer state (%zu x %zu)", n, d);
    }
  }
  *out = o;
  return 0;
}

int pf__opt_create(const pf_node *cfg, size_t n, size_t d, pf__opt **out)
{
  const char *name = pf_cfg_str(cfg, "optimizer");
  pf__opt_rule rule = PF__OPT_PLAIN;
  double lr, a = 0.0, b = 0.0;
  int inside = 0;
  PF_TRY(pf_cfg_real(cfg, "step_size", &lr));
  if (name && strcmp(name, "adagrad") == 0) {
    rule = PF__OPT_ADAGRAD;
    a = 0.9;
    b = 1e-6;
    if (pf_cfg_has(cfg, "adagrad_alpha"))
      PF_TRY(pf_cfg_real(cfg, "adagrad_alpha", &a));
    if (pf_cfg_has(cfg, "adagrad_fudge"))
      PF_TRY(pf_cfg_real(cfg, "adagrad_fudge", &b));
  } else if (name && strcmp(name, "rmsprop") == 0) {
    rule = PF__OPT_RMSPROP;
    a = 0.9;
    b = 1e-7;
    if (pf_cfg_has(cfg, "rmsprop_rho"))
      PF_TRY(pf_cfg_real(cfg, "rmsprop_rho", &a));
    if (pf_cfg_has(cfg, "rmsprop_epsilon"))
      PF_TRY(pf_cfg_real(cfg, "rmsprop_epsilon", &b));
    if (pf_cfg_has(cfg, "rmsprop_eps_inside"))
      PF_TRY(pf_cfg_bool(cfg, "rmsprop_eps_inside", &inside));
  } else if (name && strcmp(name, "plain") != 0) {
    PF_CFG_RAISE(cfg, "optimizer", PF_ECONFIG,
                 "expected plain, adagrad or rmsprop, found '%s'", name);
  }
  return pf__opt_create_rule(rule, lr, a, b, inside, n, d, out);
}

void pf__opt_destroy(pf__opt **o)
{
  if (!o || !*o) return;
  free((*o)->v);
  free((*o)->vp);
  free(*o);
  *o = NULL;
}

void pf__opt_propose(pf__opt *o, const double *X, const double *G, double *Y)
{
  const size_t n = o->n, d = o->d;
  const double lr = o->lr, a = o->a, b = o->b;
  const int first = o->t == 0;
  switch (o->rule) {
  case PF__OPT_PLAIN:
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
      for (size_t k = i * d; k < (i + 1) * d; k++) Y[k] = X[k] + lr * G[k];
    break;
  case PF__OPT_ADAGRAD:
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
      for (size_t k = i * d; k < (i + 1) * d; k++) {
        const double g2 = G[k] * G[k];
        /* The original code seeds the history with the first g^2 (no
         * 1 - alpha factor), then averages. */
        const double v = first ? g2 : a * o->v[k] + (1.0 - a) * g2;
        o->vp[k] = v;
        Y[k] = X[k] + lr * G[k] / (b + sqrt(v));
      }
    break;
  case PF__OPT_RMSPROP:
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
      for (size_t k = i * d; k < (i + 1) * d; k++) {
        const double v = a * (first ? 0.0 : o->v[k]) + (1.0 - a) * G[k] * G[k];
        o->vp[k] = v;
        const double den = o->eps_inside ? sqrt(v + b) : sqrt(v) + b;
        /* g = 0 with eps = 0 would give 0/0: no move is the limit. */
        Y[k] = X[k] + (den > 0.0 ? lr * G[k] / den : 0.0);
      }
    break;
  }
}

void pf__opt_commit(pf__opt *o)
{
  double *tmp = o->v;
  o->v = o->vp;
  o->vp = tmp;
  o->t++;
}

void pf__opt_step(pf__opt *o, double *X, const double *G)
{
  pf__opt_propose(o, X, G, X);
  pf__opt_commit(o);
}

void pf__opt_reset(pf__opt *o)
{
  o->t = 0;
  if (o->v) memset(o->v, 0, o->n * o->d * sizeof(double));
}

double pf__opt_lr(const pf__opt *o) { return o->lr; }
void pf__opt_set_lr(pf__opt *o, double lr) { o->lr = lr; }
pf__opt_rule pf__opt_rule_of(const pf__opt *o) { return o->rule; }
long long pf__opt_steps(const pf__opt *o) { return o->t; }

int pf__opt_state(pf__opt *o, pf_state_visitor *v)
{
  PF_TRY(pf_state_f64(v, "opt.lr", &o->lr, 1));
  PF_TRY(pf_state_i64(v, "opt.t", &o->t, 1));
  if (o->v) PF_TRY(pf_state_f64(v, "opt.v", o->v, o->n * o->d));
  return 0;
}
