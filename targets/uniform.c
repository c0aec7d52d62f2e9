/* `uniform`: the uniform law on a bounded domain (`domain: {name: box,
 * lower: 0, upper: 1}`).  logp = 0 with a zero gradient inside (up to
 * PF_DOMAIN_TOL), -inf outside.  -inf outside is a hazard for any sampler
 * that evaluates points before asking the domain: samplers on constrained
 * targets keep particles inside through the domain (reflection, projection
 * or a mirror map), and then never see it.  log_z = log volume and the exact
 * sampler come from the domain when it knows them (sample_method "exact";
 * none otherwise); moments are known for the box, the ball and the simplex
 * (Dirichlet(1, ..., 1)). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/target.h"

typedef struct uniform {
  size_t d;
  pf_domain *dom;
  double *mean, *cov; /* NULL when unknown */
  double *work;       /* the domain's sampling workspace */
} uniform;

static void uniform_destroy(void *ctx)
{
  uniform *u = ctx;
  if (!u) return;
  pf_domain_destroy(&u->dom);
  free(u->mean);
  free(u->cov);
  free(u->work);
  free(u);
}

/* Mean and covariance of the uniform law for the shapes where they are
 * closed-form; leaves u->mean NULL otherwise.  Box and ball are measured
 * with chords (so this does not depend on how their parameters are
 * spelled): along e_k a box chord is [lower_k, upper_k]; a ball chord's
 * midpoint has k-th coordinate center_k whatever the other coordinates. */
static int uniform_moments_setup(uniform *u, const pf_node *dcfg)
{
  const size_t d = u->d;
  const char *name = pf_domain_name(u->dom);
  int box = strcmp(name, "box") == 0, ball = strcmp(name, "ball") == 0;
  int simplex = strcmp(name, "simplex") == 0;
  if (!box && !ball && !simplex) return 0;
  int rc = 0;
  double *x = calloc(d, sizeof(double)), *e = calloc(d, sizeof(double));
  double *w = calloc(pf_domain_work_len(u->dom) + 1, sizeof(double));
  u->mean = calloc(d, sizeof(double));
  u->cov = calloc(d * d, sizeof(double));
  PF_CHECK_GOTO(rc, x && e && w && u->mean && u->cov, PF_ENOMEM, done,
                "allocating the uniform target's moments");
  if (simplex) {
    /* Uniform on the simplex = Dirichlet(1, ..., 1) with D components:
     * mean 1/D, cov (D [k==j] - 1) / (D^2 (D + 1)). */
    const char *coords = pf_cfg_str(dcfg, "coords");
    double D = (double)d + (coords && strcmp(coords, "full") == 0 ? 0.0 : 1.0);
    for (size_t k = 0; k < d; k++) {
      u->mean[k] = 1.0 / D;
      for (size_t j = 0; j < d; j++)
        u->cov[k * d + j] = ((k == j ? D : 0.0) - 1.0) / (D * D * (D + 1.0));
    }
    goto done;
  }
  pf_rng r;
  pf_rng_stream(&r, 0x756e69666f726dULL, 0);
  PF_TRY_GOTO(rc, pf_domain_interior(u->dom, &r, x, w), done);
  double rad = 0.0;
  for (size_t k = 0; k < d; k++) {
    double tlo, thi;
    e[k] = 1.0;
    PF_TRY_GOTO(rc, pf_domain_chord(u->dom, x, e, &tlo, &thi), done);
    e[k] = 0.0;
    double lo = x[k] + tlo, hi = x[k] + thi;
    u->mean[k] = 0.5 * (lo + hi);
    if (box) {
      u->cov[k * d + k] = (hi - lo) * (hi - lo) / 12.0;
    } else {
      x[k] = u->mean[k]; /* after the sweep x is the center */
      if (k + 1 == d) rad = 0.5 * (hi - lo);
    }
  }
  if (ball) /* uniform on a d-ball of radius r: cov = r^2 / (d + 2) I */
    for (size_t k = 0; k < d; k++) u->cov[k * d + k] = rad * rad / (double)(d + 2);
done:
  free(x);
  free(e);
  free(w);
  if (rc < 0) {
    free(u->mean);
    free(u->cov);
    u->mean = u->cov = NULL;
  }
  return rc;
}

static int uniform_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  const pf_node *dcfg = pf_node_get(cfg, "domain");
  uniform *u = calloc(1, sizeof *u);
  PF_CHECK(u, PF_ENOMEM, "allocating the uniform target");
  PF_TRY_GOTO(rc, pf_domain_create(dcfg, 0, &u->dom), fail);
  u->d = pf_domain_dim(u->dom);
  if (!pf_domain_bounded(u->dom)) {
    rc = pf__config_raise(cfg, "domain", PF_ECONFIG, __FILE__, __LINE__,
                          "the uniform target needs a bounded domain; '%s' "
                          "is unbounded", pf_domain_name(u->dom));
    goto fail;
  }
  PF_TRY_GOTO(rc, uniform_moments_setup(u, dcfg), fail);
  u->work = malloc((pf_domain_work_len(u->dom) + 1) * sizeof(double));
  PF_CHECK_GOTO(rc, u->work, PF_ENOMEM, fail, "allocating domain workspace");
  *ctx = u;
  *dim = u->d;
  return 0;
fail:
  uniform_destroy(u);
  return rc;
}

static int uniform_logp_grad(void *ctx, size_t n, const double *X,
                             double *logp, double *grad)
{
  const uniform *u = ctx;
  const size_t d = u->d;
#pragma omp parallel for schedule(static) if (n * d > 16384)
  for (size_t i = 0; i < n; i++) {
    if (logp)
      logp[i] = pf_domain_contains(u->dom, X + i * d, PF_DOMAIN_TOL) ? 0.0
                                                                     : -INFINITY;
    if (grad) memset(grad + i * d, 0, d * sizeof(double));
  }
  return 0;
}

static int uniform_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const uniform *u = ctx;
  return pf_domain_sample_uniform(u->dom, rng, n, X, u->work);
}

static const char *uniform_sample_method(void *ctx)
{
  const uniform *u = ctx;
  return pf_domain_ops_of(u->dom)->sample_uniform ? "exact" : NULL;
}

static int uniform_moments(void *ctx, double *mean, double *cov)
{
  const uniform *u = ctx;
  PF_CHECK(u->mean, PF_ENOTSUP,
           "uniform target: moments are known for box, ball and simplex "
           "domains, not '%s'", pf_domain_name(u->dom));
  if (mean) memcpy(mean, u->mean, u->d * sizeof(double));
  if (cov) memcpy(cov, u->cov, u->d * u->d * sizeof(double));
  return 0;
}

/* p = 1 / volume, so exp(logp) = 1 integrates to the volume. */
static int uniform_log_z(void *ctx, double *out)
{
  const uniform *u = ctx;
  return pf_domain_log_volume(u->dom, out);
}

static const pf_domain *uniform_domain(void *ctx)
{
  return ((const uniform *)ctx)->dom;
}

static const pf_param uniform_params[] = {
    {"domain", PF_P_PLUGIN, NULL, NULL,
     "the bounded domain, e.g. {name: box, lower: 0, upper: 1, dim: 2}",
     PF_PARAM_REQUIRED, NULL, &pf_domains},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_uniform = {
    .base = {"uniform", "uniform law on a bounded domain", uniform_params},
    .example = "{name: uniform, domain: {name: box, lower: [-1, 0], upper: [1, 3]}}",
    .create = uniform_create,
    .destroy = uniform_destroy,
    .logp_grad = uniform_logp_grad,
    .sample = uniform_sample,
    .moments = uniform_moments,
    .log_z = uniform_log_z,
    .domain = uniform_domain,
    .sample_method = uniform_sample_method,
};
