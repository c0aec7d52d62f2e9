/* `sliced_w2`: sliced Wasserstein-2 distance between the particles and the
 * reference set,
 *
 *   SW_2 = ( (1/L) sum_l W_2^2(theta_l # P_n, theta_l # Q_m) )^(1/2),
 *
 * over L = n_projections unit directions theta_l.  The directions are drawn
 * once, at create, from PCG stream "SLICEDW2" of the run seed (normal
 * vectors, normalized), and stay fixed for the whole run: the Monte Carlo
 * error of the slicing is then the same at every iteration, so the curve
 * over iterations is smooth and its changes come from the particles only
 * (report the projection count and the seed with the numbers).
 *
 * 1-D transport is exact: both projected samples are sorted and the squared
 * difference of the two empirical quantile functions, piecewise constant
 * with breaks at i/n and j/m, is integrated over [0,1] by merging the
 * breakpoints (integer arithmetic on the grid 1/(n m)), which for n = m is
 * (1/n) sum (a_(i) - b_(i))^2.  The reference projections are sorted once
 * at create; per call the cost is O(L n (d + log n) + L (n + m)). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "pflow/diagnostic.h"
#include "pflow/error.h"
#include "pflow/rng.h"

/* ASCII "SLICEDW2": the directions' stream index, far above particle
 * indices. */
#define PF__SW_STREAM 0x534C494345445732ULL

typedef struct sliced_w2 {
  size_t n, m, d, L;
  double *theta;  /* L x d unit directions */
  double *refp;   /* L x m sorted reference projections */
  double *xp;     /* L x n particle projections (workspace) */
  double *w2;     /* L per-direction W2^2 (workspace) */
} sliced_w2;

static void sift_down(double *v, size_t root, size_t n)
{
  for (;;) {
    size_t c = 2 * root + 1;
    if (c >= n) return;
    if (c + 1 < n && v[c + 1] > v[c]) c++;
    if (!(v[c] > v[root])) return;
    double t = v[c];
    v[c] = v[root];
    v[root] = t;
    root = c;
  }
}

void pf__sort_doubles(double *v, size_t n)
{
  if (n < 2) return;
  for (size_t i = n / 2; i-- > 0;) sift_down(v, i, n);
  for (size_t end = n - 1; end > 0; end--) {
    double t = v[0];
    v[0] = v[end];
    v[end] = t;
    sift_down(v, 0, end);
  }
}

double pf__w2sq_sorted(const double *a, size_t n, const double *b, size_t m)
{
  /* Quantile functions: F_a^-1(t) = a[i] on ((i) / n, (i + 1) / n], in units
   * of 1/(n m): a's breaks at multiples of m, b's at multiples of n. */
  const uint64_t total = (uint64_t)n * (uint64_t)m;
  uint64_t cur = 0;
  size_t i = 0, j = 0;
  double acc = 0.0;
  while (cur < total) {
    uint64_t na = (uint64_t)(i + 1) * m, nb = (uint64_t)(j + 1) * n;
    uint64_t nxt = na < nb ? na : nb;
    double u = a[i] - b[j];
    acc += (double)(nxt - cur) * (u * u);
    cur = nxt;
    if (na == nxt) i++;
    if (nb == nxt) j++;
  }
  return acc / (double)total;
}

static void sw_destroy(void *ctx)
{
  sliced_w2 *s = ctx;
  if (!s) return;
  free(s->theta);
  free(s->refp);
  free(s->xp);
  free(s->w2);
  free(s);
}

/* out (L x rows): projections of the rows of X on every direction. */
static void project(const sliced_w2 *s, const double *X, size_t rows,
                    double *out)
{
  const size_t d = s->d;
#pragma omp parallel for schedule(static)
  for (long l = 0; l < (long)s->L; l++) {
    const double *th = s->theta + (size_t)l * d;
    double *o = out + (size_t)l * rows;
    for (size_t i = 0; i < rows; i++) {
      double acc = 0.0;
      for (size_t j = 0; j < d; j++) acc += X[i * d + j] * th[j];
      o[i] = acc;
    }
  }
}

static int sw_create(const pf_node *cfg, const pf_diag_env *env, void **ctx)
{
  int rc;
  long long L;
  if (!env->ref)
    PF_CFG_RAISE(cfg, "reference", PF_ECONFIG,
                 "metric 'sliced_w2' compares the particles with a reference "
                 "set; set diagnostics.reference.source to exact or file");
  PF_TRY(pf_cfg_int(cfg, "sliced_w2.n_projections", &L));
  sliced_w2 *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating sliced_w2");
  s->n = env->n;
  s->m = env->m;
  s->d = env->d;
  s->L = (size_t)L;
  s->theta = malloc(s->L * s->d * sizeof(double));
  s->refp = malloc(s->L * s->m * sizeof(double));
  s->xp = malloc(s->L * s->n * sizeof(double));
  s->w2 = malloc(s->L * sizeof(double));
  PF_CHECK_GOTO(rc, s->theta && s->refp && s->xp && s->w2, PF_ENOMEM, fail,
                "allocating sliced_w2 (%zu projections)", s->L);
  pf_rng rng;
  pf_rng_stream(&rng, env->seed, PF__SW_STREAM);
  for (size_t l = 0; l < s->L; l++) {
    double *th = s->theta + l * s->d, nrm;
    do {
      pf_rng_normal(&rng, s->d, th);
      nrm = 0.0;
      for (size_t j = 0; j < s->d; j++) nrm += th[j] * th[j];
    } while (!(nrm > 1e-300));
    nrm = sqrt(nrm);
    for (size_t j = 0; j < s->d; j++) th[j] /= nrm;
  }
  project(s, env->ref, s->m, s->refp);
  for (size_t l = 0; l < s->L; l++)
    pf__sort_doubles(s->refp + l * s->m, s->m);
  *ctx = s;
  return 0;
fail:
  sw_destroy(s);
  return rc;
}

static int sw_compute(void *ctx, const pf_particles *p, double *out)
{
  sliced_w2 *s = ctx;
  PF_CHECK(p->n == s->n && p->d == s->d, PF_EINVAL,
           "sliced_w2: particle set %zu x %zu, created for %zu x %zu", p->n,
           p->d, s->n, s->d);
  project(s, p->x, s->n, s->xp);
#pragma omp parallel for schedule(static)
  for (long l = 0; l < (long)s->L; l++) {
    double *a = s->xp + (size_t)l * s->n;
    pf__sort_doubles(a, s->n);
    s->w2[l] = pf__w2sq_sorted(a, s->n, s->refp + (size_t)l * s->m, s->m);
  }
  double acc = 0.0;
  for (size_t l = 0; l < s->L; l++) acc += s->w2[l];
  out[0] = sqrt(acc / (double)s->L);
  return 0;
}

static const pf_param sw_params[] = {
    {"n_projections", PF_P_INT, "100", "[1,1000000]",
     "random directions, drawn once per run from the seed (fixed across "
     "iterations)", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static const char *const sw_outputs[] = {"sliced_w2"};

const pf_diagnostic_ops pf_diagnostic_sliced_w2 = {
    .base = {"sliced_w2",
             "sliced_w2: sliced Wasserstein-2 distance to the reference set "
             "(fixed random directions, exact 1-D transport); needs "
             "diagnostics.reference",
             sw_params},
    .outputs = sw_outputs,
    .n_outputs = 1,
    .create = sw_create,
    .destroy = sw_destroy,
    .compute = sw_compute,
};
