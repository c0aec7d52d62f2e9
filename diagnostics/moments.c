/* `moments`: mean_err = ||mean(X) - m||_2 and cov_err = ||cov(X) - C||_F
 * against the target's known mean m and covariance C (sample covariance
 * with 1/(n-1)).  A target without known moments is compared with the
 * reference set's mean and 1/(m-1) covariance instead (which then carry the
 * reference's own Monte Carlo error, ~sqrt(tr C / m) on the mean).  Sums run in particle order, so the values do not depend on
 * the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/diagnostic.h"
#include "pflow/error.h"

typedef struct moments {
  size_t d;
  double *mean, *cov;   /* target's */
  double *m, *c;        /* workspaces */
} moments;

static void moments_destroy(void *ctx)
{
  moments *s = ctx;
  if (!s) return;
  free(s->mean);
  free(s->cov);
  free(s->m);
  free(s->c);
  free(s);
}

static int moments_create(const pf_node *cfg, const pf_diag_env *env,
                          void **ctx)
{
  int rc;
  pf_target *t = env->target;
  const size_t d = env->d;
  const int known = pf_target_ops_of(t)->moments != NULL;
  if (!known && (!env->ref || env->m < 2))
    PF_CFG_RAISE(cfg, "reference", PF_ECONFIG,
                 "metric 'moments' needs a target with known mean and "
                 "covariance or a reference set of at least 2 points; "
                 "target '%s' has no moments: set "
                 "diagnostics.reference.source to exact or file",
                 pf_target_ops_of(t)->base.name);
  moments *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating the moments diagnostic");
  s->d = d;
  s->mean = calloc(d, sizeof(double));
  s->cov = calloc(d * d, sizeof(double));
  s->m = calloc(d, sizeof(double));
  s->c = calloc(d * d, sizeof(double));
  PF_CHECK_GOTO(rc, s->mean && s->cov && s->m && s->c, PF_ENOMEM, fail,
                "allocating the moments diagnostic (d = %zu)", d);
  if (known) {
    PF_TRY_GOTO(rc, pf_target_moments(t, s->mean, s->cov), fail);
  } else {
    const double *Y = env->ref;
    const size_t m = env->m;
    for (size_t i = 0; i < m; i++)
      for (size_t k = 0; k < d; k++) s->mean[k] += Y[i * d + k];
    for (size_t k = 0; k < d; k++) s->mean[k] /= (double)m;
    for (size_t i = 0; i < m; i++)
      for (size_t k = 0; k < d; k++)
        for (size_t j = 0; j < d; j++)
          s->cov[k * d + j] +=
              (Y[i * d + k] - s->mean[k]) * (Y[i * d + j] - s->mean[j]);
    for (size_t k = 0; k < d * d; k++) s->cov[k] /= (double)(m - 1);
  }
  *ctx = s;
  return 0;
fail:
  moments_destroy(s);
  return rc;
}

static int moments_compute(void *ctx, const pf_particles *p, double *out)
{
  moments *s = ctx;
  const size_t n = p->n, d = s->d;
  const double *X = p->x;
  memset(s->m, 0, d * sizeof(double));
  memset(s->c, 0, d * d * sizeof(double));
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < d; k++) s->m[k] += X[i * d + k];
  for (size_t k = 0; k < d; k++) s->m[k] /= (double)n;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < d; k++) {
      double rk = X[i * d + k] - s->m[k];
      for (size_t j = 0; j <= k; j++) s->c[k * d + j] += rk * (X[i * d + j] - s->m[j]);
    }
  double em = 0.0, ec = 0.0, denom = n > 1 ? (double)(n - 1) : 1.0;
  for (size_t k = 0; k < d; k++) {
    double dm = s->m[k] - s->mean[k];
    em += dm * dm;
    for (size_t j = 0; j <= k; j++) {
      double dc = s->c[k * d + j] / denom - s->cov[k * d + j];
      ec += (j == k ? 1.0 : 2.0) * dc * dc;
    }
  }
  out[0] = sqrt(em);
  out[1] = sqrt(ec);
  return 0;
}

static const char *const moments_outputs[] = {"mean_err", "cov_err"};

const pf_diagnostic_ops pf_diagnostic_moments = {
    .base = {"moments",
             "mean_err, cov_err: distance of the particles' mean (Euclidean) "
             "and covariance (Frobenius) to the target's",
             NULL},
    .outputs = moments_outputs,
    .n_outputs = 2,
    .create = moments_create,
    .destroy = moments_destroy,
    .compute = moments_compute,
};
