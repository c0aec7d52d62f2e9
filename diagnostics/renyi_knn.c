/* `renyi_knn`: Renyi divergence D_alpha(particles || reference) by the
 * nearest-neighbour-ratio (NNR) estimator of Noshad, Moon, Sekeh & Hero,
 * "Direct estimation of information divergence using nearest neighbor
 * ratios", ISIT 2017 (arXiv:1702.05222).
 *
 * X: the n particles (density f1), Y: the m reference points (f2),
 * eta = m / n.  For each Y_i take its k nearest neighbours in
 * Z = X u Y \ {Y_i}; N_i of them are particles, M_i = k - N_i reference
 * points.  r_i = eta N_i / (M_i + 1) estimates f1/f2 at Y_i, and
 *
 *   D_alpha = log( (1/m) sum_i r_i^alpha ) / (alpha - 1).
 *
 * Ensemble (default): k_l = floor(l sqrt(n)), l = 1..L with L = 2, combined
 * as sum_l w_l D(k_l) with weights solving the paper's relaxed problem as
 * its reference code does (mrtnoshad/NNR-Divergence-Estimator,
 * NNR_div_Ensemble.m):
 *
 *   min t  s.t.  sum w = 1,  ||w||_2 <= t,
 *                n^(1/2 - r/(2d)) |sum_l w_l l^r| <= t   (r = 1..d),
 *                |sum_l w_l l^(-d)| <= t.
 *
 * With L = 2, w = (w1, 1 - w1) and the objective is a maximum of convex
 * functions of w1: solved by golden-section search at create (the weights
 * depend only on n and d).  Unlike the reference code the result is not
 * clipped at 0 (negative values are finite-sample noise; clipping would
 * bias the curve near convergence).
 *
 * Pitfalls: the direction is (particles || reference), averaged over the
 * reference points (the MATLAB "KL" branch estimates the reverse
 * direction); alpha = 1 (KL) is refused (use kl_knn); for alpha < 1 and
 * particles with no reference point among any k-neighbourhood (disjoint
 * supports) the estimate is +inf, which is the true value.  Ties in
 * distance are broken by index (particles first), deterministic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "pflow/diagnostic.h"
#include "pflow/error.h"

enum { NNR_L = 2 };

typedef struct renyi_knn {
  size_t n, m, d, kmax;
  double alpha;
  int ensemble;
  size_t kl[NNR_L];
  double w[NNR_L];
  size_t nk;           /* number of k values used (1 or NNR_L) */
  pf__knn *z;
  double *Z;           /* (n + m) x d: particles, then the reference */
  double *dist2;       /* m x kmax */
  size_t *idx;         /* m x kmax */
} renyi_knn;

static void renyi_destroy(void *ctx)
{
  renyi_knn *s = ctx;
  if (!s) return;
  pf__knn_destroy(s->z);
  free(s->Z);
  free(s->dist2);
  free(s->idx);
  free(s);
}

/* Objective of the weight problem at w1 (w2 = 1 - w1). */
static double weight_objective(double w1, size_t n, size_t d)
{
  double w2 = 1.0 - w1, t = sqrt(w1 * w1 + w2 * w2);
  for (size_t r = 1; r <= d; r++) {
    double c = pow((double)n, 0.5 - (double)r / (2.0 * (double)d));
    double v = c * fabs(w1 + w2 * pow(2.0, (double)r));
    t = v > t ? v : t;
  }
  double v = fabs(w1 + w2 * pow(2.0, -(double)d));
  return v > t ? v : t;
}

/* Golden-section search on a bracket wide enough for any n, d (the
 * unconstrained optimum of each bias term lies in [1, 2^d/(2^d - 1) * 2]). */
void pf__nnr_weights(size_t n, size_t d, double w[2])
{
  const double g = 0.5 * (sqrt(5.0) - 1.0);
  double a = -10.0, b = 10.0;
  double c = b - g * (b - a), e = a + g * (b - a);
  double fc = weight_objective(c, n, d), fe = weight_objective(e, n, d);
  for (int it = 0; it < 200; it++) {
    if (fc <= fe) {
      b = e;
      e = c;
      fe = fc;
      c = b - g * (b - a);
      fc = weight_objective(c, n, d);
    } else {
      a = c;
      c = e;
      fc = fe;
      e = a + g * (b - a);
      fe = weight_objective(e, n, d);
    }
  }
  w[0] = 0.5 * (a + b);
  w[1] = 1.0 - w[0];
}

static int renyi_create(const pf_node *cfg, const pf_diag_env *env,
                        void **ctx)
{
  int rc;
  long long k;
  double alpha;
  int ens;
  if (!env->ref)
    PF_CFG_RAISE(cfg, "reference", PF_ECONFIG,
                 "metric 'renyi_knn' compares the particles with a reference "
                 "set; set diagnostics.reference.source to exact or file");
  PF_TRY(pf_cfg_real(cfg, "renyi_knn.alpha", &alpha));
  PF_TRY(pf_cfg_bool(cfg, "renyi_knn.ensemble", &ens));
  PF_TRY(pf_cfg_int(cfg, "renyi_knn.k", &k));
  if (alpha == 1.0)
    PF_CFG_RAISE(cfg, "renyi_knn.alpha", PF_ECONFIG,
                 "alpha = 1 is the KL divergence: use the kl_knn metric");
  renyi_knn *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating renyi_knn");
  s->n = env->n;
  s->m = env->m;
  s->d = env->d;
  s->alpha = alpha;
  s->ensemble = ens;
  size_t sq = (size_t)floor(sqrt((double)s->n));
  if (sq < 1) sq = 1;
  if (ens) {
    s->nk = NNR_L;
    for (size_t l = 0; l < NNR_L; l++) s->kl[l] = (l + 1) * sq;
    pf__nnr_weights(s->n, s->d, s->w);
  } else {
    s->nk = 1;
    s->kl[0] = k > 0 ? (size_t)k : sq;
    s->w[0] = 1.0;
  }
  s->kmax = s->kl[s->nk - 1];
  if (s->kmax > s->n + s->m - 1) {
    size_t kmax = s->kmax;
    renyi_destroy(s);
    PF_CFG_RAISE(cfg, ens ? "renyi_knn.ensemble" : "renyi_knn.k",
                 PF_ECONFIG,
                 "k = %zu exceeds the %zu other points of particles and "
                 "reference", kmax, env->n + env->m - 1);
  }
  s->Z = malloc((s->n + s->m) * s->d * sizeof(double));
  s->dist2 = malloc(s->m * s->kmax * sizeof(double));
  s->idx = malloc(s->m * s->kmax * sizeof(size_t));
  PF_CHECK_GOTO(rc, s->Z && s->dist2 && s->idx, PF_ENOMEM, fail,
                "allocating renyi_knn (n = %zu, m = %zu, k = %zu)", s->n,
                s->m, s->kmax);
  memcpy(s->Z + s->n * s->d, env->ref, s->m * s->d * sizeof(double));
  PF_TRY_GOTO(rc, pf__knn_create(s->n + s->m, s->d, PF__KNN_AUTO, &s->z),
              fail);
  *ctx = s;
  return 0;
fail:
  renyi_destroy(s);
  return rc;
}

static int renyi_compute(void *ctx, const pf_particles *p, double *out)
{
  renyi_knn *s = ctx;
  const size_t n = s->n, m = s->m, d = s->d, K = s->kmax;
  PF_CHECK(p->n == n && p->d == d, PF_EINVAL,
           "renyi_knn: particle set %zu x %zu, created for %zu x %zu", p->n,
           p->d, n, d);
  memcpy(s->Z, p->x, n * d * sizeof(double));
  PF_TRY(pf__knn_build(s->z, s->Z, n + m));
  /* Queries are the reference rows n..n+m-1; each skips itself. */
  PF_TRY(pf__knn_query(s->z, s->Z + n * d, m, K, n, 0, s->dist2, s->idx));
  const double eta = (double)m / (double)n;
  double est = 0.0;
  for (size_t l = 0; l < s->nk; l++) {
    const size_t k = s->kl[l];
    double acc = 0.0;
    for (size_t i = 0; i < m; i++) {
      size_t ni = 0;
      for (size_t j = 0; j < k; j++) ni += s->idx[i * K + j] < n;
      double r = eta * (double)ni / (double)(k - ni + 1);
      acc += pow(r, s->alpha);
    }
    est += s->w[l] * log(acc / (double)m) / (s->alpha - 1.0);
  }
  out[0] = est;
  return 0;
}

static const pf_param renyi_params[] = {
    {"alpha", PF_P_REAL, "0.5", "(0,inf)",
     "Renyi order (not 1; 0.5 is robust, 2 has high variance)", 0, NULL,
     NULL},
    {"ensemble", PF_P_BOOL, "true", NULL,
     "weighted ensemble over k = sqrt(n), 2 sqrt(n) (bias cancellation)", 0,
     NULL, NULL},
    {"k", PF_P_INT, "0", "[0,100000]",
     "neighbours when ensemble is false (0: floor(sqrt(n)))", 0, NULL,
     NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static const char *const renyi_outputs[] = {"renyi_knn"};

const pf_diagnostic_ops pf_diagnostic_renyi_knn = {
    .base = {"renyi_knn",
             "renyi_knn: Renyi D_alpha(particles || reference) by nearest-"
             "neighbour ratios (Noshad et al. 2017); needs "
             "diagnostics.reference",
             renyi_params},
    .outputs = renyi_outputs,
    .n_outputs = 1,
    .create = renyi_create,
    .destroy = renyi_destroy,
    .compute = renyi_compute,
};
