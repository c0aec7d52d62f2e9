/* `truncated_gaussian`: N(mean, cov) restricted to a domain (box, orthant,
 * simplex in reduced coordinates, ball, polytope; default the orthant).
 * logp is the Gaussian log density (normalized as a Gaussian, so log_z is
 * log P(N(mean, cov) in domain)); it is evaluated at any point without an
 * indicator, like quadratic_simplex: samplers keep particles inside through
 * the domain.  log_z and the moments are closed-form when the domain is a
 * box or the orthant and cov is diagonal (products of 1-D truncated
 * normals); otherwise unknown.
 *
 * Sampler (chosen at create time): a pilot of `pilot` draws from
 * N(mean, cov) on a fixed stream estimates the acceptance rate of plain
 * rejection; at or above `min_acceptance` the sampler is rejection (iid,
 * sample_method "rejection"), else exact coordinate-wise Gibbs: each full
 * conditional is a 1-D normal (mean and variance from the precision matrix)
 * truncated to the chord of the domain along e_k, sampled exactly (Robert
 * 1995, below).  The chain starts at pf_domain_interior, runs `gibbs_burnin`
 * sweeps, and keeps every `gibbs_thin`-th sweep (sample_method "gibbs":
 * correlated, not iid).  `method` forces either. */
#include <lapacke.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/registry.h"
#include "pflow/target.h"
#include "truncated_gaussian.h"

extern const pf_target_ops pf_target_gaussian;

enum { TG_REJECTION, TG_GIBBS };

typedef struct tgauss {
  size_t d;
  pf_target *g;     /* the untruncated N(mean, cov): logp and proposals */
  pf_domain *dom;
  double *mean;     /* d */
  double *prec;     /* d x d */
  int method;
  double accept;    /* pilot acceptance rate */
  long long burnin, thin;
  int closed;       /* product domain and diagonal cov: log_z, moments */
  double log_z;
  double *tmean, *tcov; /* closed-form moments (closed only) */
  double *scratch;  /* tg_sample's buffers (TG_BATCH x d + d + domain work),
                     * made once: samplers call sample every step */
} tgauss;

/* Rejection proposes this many untruncated draws at a time. */
enum { TG_BATCH = 256 };

static void tg_destroy(void *ctx)
{
  tgauss *t = ctx;
  if (!t) return;
  pf_target_destroy(&t->g);
  pf_domain_destroy(&t->dom);
  free(t->mean);
  free(t->prec);
  free(t->tmean);
  free(t->tcov);
  free(t->scratch);
  free(t);
}

/* ---- standard normal tails ---------------------------------------------- */

static const double LOG_SQRT_2PI = 0.91893853320467274178;

/* log Q(x), Q(x) = P(Z > x), for any x.  erfc is accurate relative to its
 * value down to ~1e-300; beyond x = 30 the asymptotic series
 * Q(x) = phi(x)/x (1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8 - 945/x^10 + ...)
 * (Abramowitz & Stegun 26.2.12) is accurate to ~2e-14 relative. */
static double log_q(double x)
{
  if (x == INFINITY) return -INFINITY;
  if (x < 30.0) return log(0.5 * erfc(x / 1.4142135623730950488));
  double r = 1.0 / (x * x);
  double s = 1.0 + r * (-1.0 + r * (3.0 + r * (-15.0 + r * (105.0 - 945.0 * r))));
  return -0.5 * x * x - log(x) - LOG_SQRT_2PI + log(s);
}

/* log(Phi(b) - Phi(a)) for a < b, without cancellation in either tail. */
static double log_diff_phi(double a, double b)
{
  if (a >= 0.0) {
    double la = log_q(a), lb = log_q(b);
    return la + log(-expm1(lb - la));
  }
  if (b <= 0.0) {
    double la = log_q(-b), lb = log_q(-a);
    return la + log(-expm1(lb - la));
  }
  return log1p(-(exp(log_q(-a)) + exp(log_q(b))));
}

/* ---- exact 1-D truncated normal ------------------------------------------
 * Robert, "Simulation of truncated normal variables", Statistics and
 * Computing 5 (1995) 121-125.  For the standard normal on [a, b]: */

static double unif_open(pf_rng *r)
{
  double u;
  pf_rng_uniforms_open(r, 1, &u);
  return u;
}

/* 0 <= a < b <= inf.  Three exact rejection samplers, and the one with the
 * largest acceptance rate for this interval is used:
 * - half-normal |Z| kept when in [a, b]: acceptance 2 Z;
 * - uniform on [a, b] (b finite), accepted with exp((a^2 - z^2) / 2):
 *   acceptance Z / ((b - a) phi(a));
 * - exponential of rate lam = (a + sqrt(a^2 + 4)) / 2 from a, truncated to
 *   [a, b], accepted with exp(-(z - lam)^2 / 2) (Robert's optimal rate; the
 *   bound exp(lam^2/2 - lam a) is tight when lam <= b, valid always):
 *   acceptance Z lam sqrt(2 pi) exp(lam a - lam^2 / 2) / (1 - exp(-lam (b - a))),
 * where Z = Phi(b) - Phi(a), all compared in log space. */
static double tn_upper(pf_rng *r, double a, double b)
{
  const double lz = log_diff_phi(a, b);
  const double lam = 0.5 * (a + sqrt(a * a + 4.0));
  const double la_n = 0.69314718055994530942 + lz;
  const double la_u = isfinite(b) ? lz - log(b - a) + 0.5 * a * a + LOG_SQRT_2PI
                                  : -INFINITY;
  const double trunc = isfinite(b) ? -expm1(-lam * (b - a)) : 1.0;
  const double la_e = lz + log(lam) + LOG_SQRT_2PI + lam * a - 0.5 * lam * lam -
                      log(trunc);
  if (la_n >= la_u && la_n >= la_e) {
    for (;;) {
      double z;
      pf_rng_normal(r, 1, &z);
      z = fabs(z);
      if (z >= a && z <= b) return z;
    }
  }
  if (la_u >= la_e) {
    for (;;) {
      double z = a + (b - a) * unif_open(r);
      if (log(unif_open(r)) <= 0.5 * (a * a - z * z)) return z;
    }
  }
  for (;;) {
    double z = a - log1p(-unif_open(r) * trunc) / lam;
    if (z > b) z = b; /* rounding only */
    double t = z - lam;
    if (log(unif_open(r)) <= -0.5 * t * t) return z;
  }
}

/* Standard normal truncated to [a, b] (a <= b, infinite ends allowed). */
static double tn_std(pf_rng *r, double a, double b)
{
  if (!(a < b)) return a; /* a point interval (or rounding made it empty) */
  if (a >= 0.0) return tn_upper(r, a, b);
  if (b <= 0.0) return -tn_upper(r, -b, -a);
  /* a < 0 < b: the density peaks inside.  Uniform proposal accepted with
   * exp(-z^2/2) has acceptance Z sqrt(2 pi) / (b - a); plain normal
   * rejection has Z: use the uniform when b - a < sqrt(2 pi).  Either way
   * the acceptance is at least about 0.49. */
  if (b - a < 2.5066282746310002) {
    for (;;) {
      double z = a + (b - a) * unif_open(r);
      if (log(unif_open(r)) <= -0.5 * z * z) return z;
    }
  }
  for (;;) {
    double z;
    pf_rng_normal(r, 1, &z);
    if (z >= a && z <= b) return z;
  }
}

/* 8-point Gauss-Legendre nodes and weights on [-1, 1] (Abramowitz &
 * Stegun 25.4.30), symmetric pairs. */
static const double GL_X[4] = {0.18343464249564980494, 0.52553240991632898582,
                               0.79666647741362673959, 0.96028985649753623168};
static const double GL_W[4] = {0.36268378337836198297, 0.31370664587788728734,
                               0.22238103445337447054, 0.10122853629037625915};

/* Mean and variance of the density proportional to w(y) = exp(-c y -
 * y^2 / 2) on [y0, y1] (finite), by composite Gauss-Legendre on panels of
 * width <= 1 / (c + 1) (the scale of w), the variance as the integral of
 * (y - mean)^2 in a second pass: no cancellation, ~1e-15 relative. */
static void weighted_moments(double c, double y0, double y1, double *mean,
                             double *var)
{
  double h = 1.0 / (c + 1.0), len = y1 - y0;
  size_t np = (size_t)ceil(len / h);
  if (np < 1) np = 1;
  h = len / (double)np;
  double i0 = 0.0, i1 = 0.0, i2 = 0.0;
  for (int pass = 0; pass < 2; pass++) {
    const double m = pass ? i1 / i0 : 0.0;
    for (size_t p = 0; p < np; p++) {
      const double mid = y0 + ((double)p + 0.5) * h;
      for (int j = 0; j < 8; j++) {
        const double y = mid + (j < 4 ? -GL_X[j] : GL_X[j - 4]) * 0.5 * h;
        const double w = GL_W[j & 3] * exp(-c * y - 0.5 * y * y);
        if (pass == 0) {
          i0 += w;
          i1 += w * y;
        } else {
          i2 += w * (y - m) * (y - m);
        }
      }
    }
  }
  *mean = i1 / i0;
  *var = i2 / i0;
}

/* Mean and variance of N(0, 1) truncated to [a, b] (a < b).  The closed
 * forms (phi(a) - phi(b)) / Z and 1 + (a phi(a) - b phi(b)) / Z - mean^2
 * cancel catastrophically in far tails (relative error ~ eps a^4) and on
 * narrow intervals, so integrate instead, shifted to the end nearest 0:
 * z = a + y on [a, b] with a >= 0 has density ~ exp(-a y - y^2 / 2), cut
 * where it falls below e^-750 of its peak. */
static void tn_moments(double a, double b, double *mean, double *var)
{
  double m, v;
  if (a >= 0.0 || b <= 0.0) {
    const double c = a >= 0.0 ? a : -b;
    const double ymax = -c + sqrt(c * c + 1500.0);
    const double len = b - a;
    weighted_moments(c, 0.0, len < ymax ? len : ymax, &m, &v);
    *mean = a >= 0.0 ? a + m : b - m;
  } else {
    weighted_moments(0.0, a > -40.0 ? a : -40.0, b < 40.0 ? b : 40.0, &m, &v);
    *mean = m;
  }
  *var = v;
}

/* ---- create --------------------------------------------------------------- */

/* Per-coordinate bounds of a product domain (box, orthant) from chords
 * along e_k through an interior point. */
static int product_bounds(const pf_domain *dom, size_t d, double *lo,
                          double *hi)
{
  int rc = 0;
  double *x = calloc(d, sizeof(double)), *e = calloc(d, sizeof(double));
  double *w = calloc(pf_domain_work_len(dom) + 1, sizeof(double));
  PF_CHECK_GOTO(rc, x && e && w, PF_ENOMEM, done, "allocating bounds");
  pf_rng r;
  pf_rng_stream(&r, 0x74675f626f756e64ULL, 0);
  PF_TRY_GOTO(rc, pf_domain_interior(dom, &r, x, w), done);
  for (size_t k = 0; k < d; k++) {
    double tlo, thi;
    e[k] = 1.0;
    PF_TRY_GOTO(rc, pf_domain_chord(dom, x, e, &tlo, &thi), done);
    e[k] = 0.0;
    lo[k] = x[k] + tlo;
    hi[k] = x[k] + thi;
  }
done:
  free(x);
  free(e);
  free(w);
  return rc;
}

static int tg_closed_form(tgauss *t, const double *cov)
{
  const size_t d = t->d;
  double *lo = malloc(d * sizeof(double)), *hi = malloc(d * sizeof(double));
  t->tmean = calloc(d, sizeof(double));
  t->tcov = calloc(d * d, sizeof(double));
  int rc = 0;
  PF_CHECK_GOTO(rc, lo && hi && t->tmean && t->tcov, PF_ENOMEM, done,
                "allocating moments");
  PF_TRY_GOTO(rc, product_bounds(t->dom, d, lo, hi), done);
  t->log_z = 0.0;
  for (size_t k = 0; k < d; k++) {
    double s = sqrt(cov[k * d + k]), m, v;
    double a = (lo[k] - t->mean[k]) / s, b = (hi[k] - t->mean[k]) / s;
    t->log_z += log_diff_phi(a, b);
    tn_moments(a, b, &m, &v);
    t->tmean[k] = t->mean[k] + s * m;
    t->tcov[k * d + k] = s * s * v;
  }
  t->closed = 1;
done:
  free(lo);
  free(hi);
  return rc;
}

static int tg_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  double *cov = NULL, *buf = NULL;
  tgauss *t = calloc(1, sizeof *t);
  PF_CHECK(t, PF_ENOMEM, "allocating the truncated_gaussian target");
  /* The Gaussian target reads mean, cov, cov_diag and dim from this same
   * section and raises the config errors for them. */
  PF_TRY_GOTO(rc, pf_target_create_ops(&pf_target_gaussian, cfg, &t->g), fail);
  const size_t d = t->d = pf_target_dim(t->g);
  t->mean = malloc(d * sizeof(double));
  t->prec = malloc(d * d * sizeof(double));
  cov = malloc(d * d * sizeof(double));
  PF_CHECK_GOTO(rc, t->mean && t->prec && cov, PF_ENOMEM, fail,
                "allocating the truncated_gaussian target (d = %zu)", d);
  PF_TRY_GOTO(rc, pf_target_moments(t->g, t->mean, cov), fail);
  memcpy(t->prec, cov, d * d * sizeof(double));
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d,
                                   t->prec, (lapack_int)d);
  if (info == 0)
    info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, t->prec,
                          (lapack_int)d);
  PF_CHECK_GOTO(rc, info == 0, PF_ELINALG, fail,
                "inverting the covariance failed (info %d)", (int)info);
  for (size_t i = 0; i < d; i++)
    for (size_t j = i + 1; j < d; j++) t->prec[i * d + j] = t->prec[j * d + i];
  int diagonal = 1;
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++)
      if (i != j && cov[i * d + j] != 0.0) diagonal = 0;

  const pf_node *dcfg = pf_node_get(cfg, "domain");
  rc = pf_domain_create(dcfg, d, &t->dom);
  if (rc < 0) {
    /* Domain errors name their own keys (target.domain.lower); make sure
     * any other message still points at `domain`. */
    if (!strstr(pf_error_message(), "domain")) {
      char msg[1200];
      snprintf(msg, sizeof msg, "%s", pf_error_message());
      rc = pf__config_raise(cfg, "domain", rc, __FILE__, __LINE__, "%s", msg);
    }
    goto fail;
  }
  const char *dname = pf_domain_name(t->dom);
  const char *coords = strcmp(dname, "simplex") == 0 ? pf_cfg_str(dcfg, "coords")
                                                     : NULL;
  if (coords && strcmp(coords, "full") == 0) {
    rc = pf__config_raise(cfg, "domain", PF_ECONFIG, __FILE__, __LINE__,
                          "truncated_gaussian needs a full-dimensional "
                          "domain; use the simplex with coords: reduced");
    goto fail;
  }
  if (diagonal && (strcmp(dname, "box") == 0 || strcmp(dname, "orthant") == 0))
    PF_TRY_GOTO(rc, tg_closed_form(t, cov), fail);

  /* Pilot: acceptance rate of plain rejection, on a fixed stream. */
  long long pilot;
  double min_acc;
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "pilot", &pilot), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "min_acceptance", &min_acc), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "gibbs_burnin", &t->burnin), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "gibbs_thin", &t->thin), fail);
  buf = malloc((size_t)pilot * d * sizeof(double));
  PF_CHECK_GOTO(rc, buf, PF_ENOMEM, fail, "allocating the pilot draws");
  pf_rng pr;
  pf_rng_stream(&pr, 0x74675f70696c6f74ULL, 0);
  PF_TRY_GOTO(rc, pf_target_sample(t->g, &pr, (size_t)pilot, buf), fail);
  size_t acc = 0;
  for (size_t i = 0; i < (size_t)pilot; i++)
    acc += pf_domain_contains(t->dom, buf + i * d, 0.0) != 0;
  t->accept = (double)acc / (double)pilot;
  const char *method = pf_cfg_str(cfg, "method");
  if (strcmp(method, "rejection") == 0)
    t->method = TG_REJECTION;
  else if (strcmp(method, "gibbs") == 0)
    t->method = TG_GIBBS;
  else
    t->method = t->accept >= min_acc && acc > 0 ? TG_REJECTION : TG_GIBBS;
  if (t->method == TG_REJECTION && acc == 0) {
    rc = pf__config_raise(cfg, "method", PF_ECONFIG, __FILE__, __LINE__,
                          "rejection accepted none of %lld pilot draws; use "
                          "gibbs or auto", pilot);
    goto fail;
  }
  t->scratch = malloc((TG_BATCH * d + d + pf_domain_work_len(t->dom) + 1) *
                      sizeof(double));
  PF_CHECK_GOTO(rc, t->scratch, PF_ENOMEM, fail, "allocating sample buffers");
  free(cov);
  free(buf);
  *ctx = t;
  *dim = d;
  return 0;
fail:
  free(cov);
  free(buf);
  tg_destroy(t);
  return rc;
}

/* ---- evaluation and sampling ------------------------------------------------ */

static int tg_logp_grad(void *ctx, size_t n, const double *X, double *logp,
                        double *grad)
{
  tgauss *t = ctx;
  return pf_target_logp_grad(t->g, n, X, logp, grad);
}

/* One Gibbs sweep over the coordinates of x (inside the domain); e is a
 * zero vector of length d (restored on return). */
static int gibbs_sweep(const tgauss *t, pf_rng *r, double *x, double *e)
{
  const size_t d = t->d;
  const double *P = t->prec, *mu = t->mean;
  for (size_t k = 0; k < d; k++) {
    const double *Pk = P + k * d;
    double s = 0.0;
    for (size_t j = 0; j < d; j++)
      if (j != k) s += Pk[j] * (x[j] - mu[j]);
    /* x_k | x_-k ~ N(mu_k - s / P_kk, 1 / P_kk) on the chord. */
    const double pkk = Pk[k], sd = 1.0 / sqrt(pkk), cm = mu[k] - s / pkk;
    double tlo, thi;
    e[k] = 1.0;
    int rc = pf_domain_chord(t->dom, x, e, &tlo, &thi);
    e[k] = 0.0;
    PF_TRY(rc);
    const double lo = x[k] + tlo, hi = x[k] + thi;
    double v = cm + sd * tn_std(r, (lo - cm) / sd, (hi - cm) / sd);
    if (v < lo) v = lo; /* rounding in cm + sd z */
    if (v > hi) v = hi;
    x[k] = v;
  }
  return 0;
}

static int tg_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  tgauss *t = ctx;
  const size_t d = t->d;
  double *buf = t->scratch;
  if (t->method == TG_REJECTION) {
    size_t got = 0;
    while (got < n) {
      PF_TRY(pf_target_sample(t->g, rng, TG_BATCH, buf));
      for (size_t i = 0; i < TG_BATCH && got < n; i++)
        if (pf_domain_contains(t->dom, buf + i * d, 0.0))
          memcpy(X + got++ * d, buf + i * d, d * sizeof(double));
    }
    return 0;
  }
  double *x = buf, *e = buf + d, *w = buf + 2 * d;
  memset(e, 0, d * sizeof(double));
  PF_TRY(pf_domain_interior(t->dom, rng, x, w));
  for (long long s = 0; s < t->burnin; s++) PF_TRY(gibbs_sweep(t, rng, x, e));
  for (size_t i = 0; i < n; i++) {
    for (long long s = 0; s < t->thin; s++) PF_TRY(gibbs_sweep(t, rng, x, e));
    memcpy(X + i * d, x, d * sizeof(double));
  }
  return 0;
}

static const char *tg_sample_method(void *ctx)
{
  const tgauss *t = ctx;
  return t->method == TG_REJECTION ? "rejection" : "gibbs";
}

static int tg_moments(void *ctx, double *mean, double *cov)
{
  const tgauss *t = ctx;
  PF_CHECK(t->closed, PF_ENOTSUP,
           "truncated_gaussian: moments are known only for a box or orthant "
           "domain with diagonal covariance");
  if (mean) memcpy(mean, t->tmean, t->d * sizeof(double));
  if (cov) memcpy(cov, t->tcov, t->d * t->d * sizeof(double));
  return 0;
}

static int tg_log_z(void *ctx, double *out)
{
  const tgauss *t = ctx;
  PF_CHECK(t->closed, PF_ENOTSUP,
           "truncated_gaussian: log_z is known only for a box or orthant "
           "domain with diagonal covariance");
  *out = t->log_z;
  return 0;
}

static const pf_domain *tg_domain(void *ctx)
{
  return ((const tgauss *)ctx)->dom;
}

static const pf_param tg_params[] = {
    {"dim", PF_P_INT, NULL, "[1,1e7]",
     "dimension (default: length of mean)", 0, NULL, NULL},
    {"mean", PF_P_REALS, NULL, NULL,
     "mean of the untruncated normal (one value is repeated; default 0)", 0,
     NULL, NULL},
    {"cov", PF_P_MATRIX, NULL, NULL,
     "dense covariance of the untruncated normal (symmetric positive "
     "definite)", 0, NULL, NULL},
    {"cov_diag", PF_P_REALS, NULL, NULL,
     "diagonal covariance (variances); default identity", 0, NULL, NULL},
    {"domain", PF_P_PLUGIN, "{name: orthant}", NULL,
     "the set the normal is restricted to (full-dimensional)", 0, NULL,
     &pf_domains},
    {"method", PF_P_STRING, "auto", "auto|rejection|gibbs",
     "sampler: auto picks rejection when the pilot acceptance is at least "
     "min_acceptance, else gibbs", 0, NULL, NULL},
    {"min_acceptance", PF_P_REAL, "0.1", "[0,1]",
     "smallest pilot acceptance rate for which auto uses rejection", 0, NULL,
     NULL},
    {"pilot", PF_P_INT, "2000", "[100,1e8]",
     "draws of the pilot that estimates the rejection acceptance rate", 0,
     NULL, NULL},
    {"gibbs_burnin", PF_P_INT, "1000", "[0,1e12]",
     "Gibbs sweeps discarded before the first draw", 0, NULL, NULL},
    {"gibbs_thin", PF_P_INT, "10", "[1,1e9]",
     "Gibbs sweeps between kept draws", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_truncated_gaussian = {
    .base = {"truncated_gaussian",
             "N(mean, cov) restricted to a domain (rejection or exact Gibbs)",
             tg_params},
    .example = "{name: truncated_gaussian, mean: [0.5, -0.5], cov_diag: [1, 2], "
               "domain: {name: box, lower: [-1, -2], upper: [2, 1]}}",
    .create = tg_create,
    .destroy = tg_destroy,
    .logp_grad = tg_logp_grad,
    .sample = tg_sample,
    .moments = tg_moments,
    .log_z = tg_log_z,
    .domain = tg_domain,
    .sample_method = tg_sample_method,
};

/* ---- programmatic construction (targets/truncated_gaussian.h) ------------ */

/* Append printf text to a growing buffer; returns 0 or PF_ENOMEM. */
static int tg_cat(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int tg_cat(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    if (w < 0) PF_RAISE(PF_EINVAL, "formatting a config text");
    if ((size_t)w < *cap - *len) {
      *len += (size_t)w;
      return 0;
    }
    size_t nc = 2 * *cap + (size_t)w + 1;
    char *nb = realloc(*buf, nc);
    PF_CHECK(nb, PF_ENOMEM, "allocating a config text");
    *buf = nb;
    *cap = nc;
  }
}

int pf__truncated_gaussian_create(size_t d, const double *mean,
                                  const double *cov, const char *options,
                                  pf_target **out)
{
  *out = NULL;
  size_t len = 0, cap = 256 + 26 * d * (d + 1);
  char *text = malloc(cap);
  PF_CHECK(text, PF_ENOMEM, "allocating a config text");
  int rc = tg_cat(&text, &len, &cap, "target: {name: truncated_gaussian, "
                                     "mean: [");
  for (size_t i = 0; i < d && rc == 0; i++)
    rc = tg_cat(&text, &len, &cap, "%s%.17g", i ? ", " : "", mean[i]);
  if (rc == 0) rc = tg_cat(&text, &len, &cap, "], cov: [");
  for (size_t i = 0; i < d && rc == 0; i++) {
    rc = tg_cat(&text, &len, &cap, "%s[", i ? ", " : "");
    for (size_t j = 0; j < d && rc == 0; j++)
      rc = tg_cat(&text, &len, &cap, "%s%.17g", j ? ", " : "", cov[i * d + j]);
    if (rc == 0) rc = tg_cat(&text, &len, &cap, "]");
  }
  if (rc == 0)
    rc = tg_cat(&text, &len, &cap, "]%s%s}\n", options ? ", " : "",
                options ? options : "");
  if (rc < 0) {
    free(text);
    return rc;
  }
  /* The section is validated against the target's spec (defaults filled);
   * nothing the target builds keeps pointers into it, so it is released
   * right after. */
  const pf_param spec[] = {
      {"target", PF_P_PLUGIN, NULL, NULL, "target", PF_PARAM_REQUIRED, NULL,
       &pf_targets},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  pf_config *cfg = NULL;
  rc = pf_config_load_string(text, "<truncated_gaussian>", &cfg);
  free(text);
  PF_TRY(rc);
  PF_TRY_GOTO(rc, pf_config_validate(cfg, spec), done);
  PF_TRY_GOTO(rc, pf_target_create_ops(&pf_target_truncated_gaussian,
                                       pf_node_get(pf_config_root(cfg),
                                                   "target"),
                                       out),
              done);
done:
  pf_config_destroy(&cfg);
  return rc;
}
