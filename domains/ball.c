/* `ball`: {x : |x - center| <= radius}.
 *
 * Reflection is the specular billiard, computed in closed form for any step
 * length: after the first hit the path stays in the plane spanned by the hit
 * point and the direction, every chord has the same length L = 2 R cos(angle
 * of incidence) and every bounce rotates the hit point by the same central
 * angle Delta = 2 asin(L / 2R).  So k = floor(remaining / L) full chords are
 * one rotation by k Delta, then a partial chord: O(d) work, no bounce cap and
 * never a fallback (bounces = number of sphere hits, saturating at UINT_MAX).
 * A grazing path (L -> 0) tends to the great-circle arc of the remaining
 * length, which is what is returned when L underflows.
 *
 * interior() and sample_uniform() are exact: a normal direction times
 * R U^(1/d).  log volume = (d/2) log pi - lgamma(d/2 + 1) + d log R.  No
 * mirror map. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/domain.h"
#include "pflow/error.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct ball {
  size_t d;
  double r;       /* radius */
  double *c;      /* center, d */
  double log_vol;
} ball;

static int ball_create(const pf_node *cfg, size_t dim, void **ctx,
                       size_t *dim_out)
{
  size_t d = dim, nc = 0;
  const char *from = "the target";
  double *c = NULL, r = 1.0;
  int rc = 0;
  if (pf_cfg_has(cfg, "dim")) {
    long long cd;
    PF_TRY(pf_cfg_int(cfg, "dim", &cd));
    if (d && (size_t)cd != d)
      PF_CFG_RAISE(cfg, "dim", PF_ECONFIG,
                   "dim is %lld but the target has dimension %zu", cd, d);
    d = (size_t)cd;
    if (!dim) from = "dim";
  }
  PF_TRY(pf_cfg_real(cfg, "radius", &r));
  if (!(r > 0.0 && isfinite(r)))
    PF_CFG_RAISE(cfg, "radius", PF_ECONFIG,
                 "the radius must be positive and finite, got %g", r);
  PF_TRY(pf_cfg_reals(cfg, "center", &c, &nc));
  if (nc == 0) {
    free(c);
    PF_CFG_RAISE(cfg, "center", PF_ECONFIG, "needs at least one value");
  }
  if (nc > 1) {
    if (d && nc != d) {
      free(c);
      PF_CFG_RAISE(cfg, "center", PF_ECONFIG,
                   "has %zu values but the dimension is %zu (from %s); give "
                   "one value (broadcast) or %zu",
                   nc, d, from, d);
    }
    d = nc;
  }
  if (d == 0) {
    free(c);
    PF_CFG_RAISE(cfg, "dim", PF_ECONFIG,
                 "needs a dimension: give dim or a list for center");
  }
  ball *b = calloc(1, sizeof *b);
  double *cc = malloc(d * sizeof(double));
  PF_CHECK_GOTO(rc, b && cc, PF_ENOMEM, fail, "allocating a ball (d = %zu)",
                d);
  for (size_t k = 0; k < d; k++) {
    cc[k] = c[nc == 1 ? 0 : k];
    if (!isfinite(cc[k])) {
      rc = pf__config_raise(cfg, "center", PF_ECONFIG, __FILE__, __LINE__,
                            "entry %zu is %g; the center must be finite", k,
                            cc[k]);
      goto fail;
    }
  }
  free(c);
  b->d = d;
  b->r = r;
  b->c = cc;
  b->log_vol = 0.5 * (double)d * log(M_PI) - lgamma(0.5 * (double)d + 1.0) +
               (double)d * log(r);
  *ctx = b;
  *dim_out = d;
  return 0;
fail:
  free(c);
  free(cc);
  free(b);
  return rc;
}

static void ball_destroy(void *ctx)
{
  ball *b = ctx;
  if (!b) return;
  free(b->c);
  free(b);
}

static size_t ball_work_len(const void *ctx)
{
  return 2 * ((const ball *)ctx)->d;
}

static double dist2(const ball *b, const double *x)
{
  double s = 0.0;
  for (size_t k = 0; k < b->d; k++) {
    const double z = x[k] - b->c[k];
    s += z * z;
  }
  return s;
}

static int ball_contains(const void *ctx, const double *x, double tol)
{
  const ball *b = ctx;
  const double rr = b->r * (1.0 + tol);
  return dist2(b, x) <= rr * rr; /* false for NaN */
}

static int ball_project(const void *ctx, double *x, double *work)
{
  const ball *b = ctx;
  (void)work;
  const double s = dist2(b, x);
  if (s <= b->r * b->r) return 0;
  const double f = b->r / sqrt(s);
  for (size_t k = 0; k < b->d; k++) x[k] = b->c[k] + f * (x[k] - b->c[k]);
  return 0;
}

static int ball_reflect(const void *ctx, double *x, const double *v,
                        double *work, pf_reflect_info *info)
{
  const ball *bl = ctx;
  const size_t d = bl->d;
  const double R = bl->r;
  double *p = work, *e = work + d;
  info->bounces = 0;
  info->fallback = 0;
  double vv = 0.0, pp = 0.0, b = 0.0;
  for (size_t k = 0; k < d; k++) {
    PF_CHECK(isfinite(v[k]), PF_ENONFINITE,
             "ball reflection: step coordinate %zu is %g", k, v[k]);
    p[k] = x[k] - bl->c[k];
    vv += v[k] * v[k];
    pp += p[k] * p[k];
  }
  if (vv == 0.0) return 0;
  if (pp > R * R) { /* outside by rounding: start from the sphere */
    const double f = R / sqrt(pp);
    for (size_t k = 0; k < d; k++) p[k] *= f;
    pp = R * R;
  }
  for (size_t k = 0; k < d; k++) b += p[k] * v[k];
  /* First exit: the positive root of vv t^2 + 2 b t + (pp - R^2) = 0, in the
   * cancellation-free form for each sign of b. */
  const double cc = pp - R * R, sq = sqrt(b * b - vv * cc);
  double t1 = b > 0.0 ? -cc / (b + sq) : (sq - b) / vv;
  if (t1 < 0.0) t1 = 0.0;
  if (t1 >= 1.0) {
    for (size_t k = 0; k < d; k++) x[k] = bl->c[k] + p[k] + v[k];
    return 0;
  }
  /* Hit point q = p + t1 v on the sphere; a1 = q / R (stored in p). */
  double qq = 0.0;
  for (size_t k = 0; k < d; k++) {
    p[k] += t1 * v[k];
    qq += p[k] * p[k];
  }
  const double fq = 1.0 / sqrt(qq), vn = sqrt(vv);
  double en = 0.0;
  for (size_t k = 0; k < d; k++) {
    p[k] *= fq;
    e[k] = v[k] / vn;
    en += e[k] * p[k];
  }
  if (en < 0.0) en = 0.0; /* rounding at a tangent start */
  /* Tangential part of the direction: sin(beta) a2.  After the reflection
   * the direction is -en a1 + sinb a2 (cos beta = -en). */
  double st = 0.0;
  for (size_t k = 0; k < d; k++) {
    e[k] -= en * p[k];
    st += e[k] * e[k];
  }
  const double sinb = sqrt(st), cosb = -en;
  const double s = (1.0 - t1) * vn; /* remaining path length */
  const double L = 2.0 * R * en;     /* every chord */
  double gam, r, kk;
  if (!(L > 0.0) || s / L > 0x1p60) {
    /* Grazing: the billiard tends to the arc of length s along the great
     * circle (the end point is on the sphere). */
    gam = s / R;
    r = 0.0;
    kk = s / (L > 0.0 ? L : 0x1p-1074);
  } else {
    kk = floor(s / L);
    r = s - kk * L;
    if (r < 0.0) r = 0.0;
    const double delta = 2.0 * atan2(en, sinb);
    gam = fmod(kk * delta, 2.0 * M_PI);
  }
  const double cg = cos(gam), sg = sin(gam);
  double A = R * cg + r * (cosb * cg - sinb * sg);
  double B = R * sg + r * (cosb * sg + sinb * cg);
  const double nn = A * A + B * B;
  if (nn > R * R) { /* rounding only */
    const double f = R / sqrt(nn);
    A *= f;
    B *= f;
  }
  const double fb = sinb > 0.0 ? B / sinb : 0.0;
  for (size_t k = 0; k < d; k++) x[k] = bl->c[k] + A * p[k] + fb * e[k];
  const double hits = 1.0 + kk;
  info->bounces = hits >= (double)UINT_MAX ? UINT_MAX : (unsigned)hits;
  return 0;
}

static int ball_chord(const void *ctx, const double *x, const double *u,
                      double *tlo, double *thi)
{
  const ball *bl = ctx;
  double a = 0.0, b = 0.0, pp = 0.0;
  for (size_t k = 0; k < bl->d; k++) {
    const double p = x[k] - bl->c[k];
    a += u[k] * u[k];
    b += p * u[k];
    pp += p * p;
  }
  if (a == 0.0) {
    *tlo = -INFINITY;
    *thi = INFINITY;
    return 0;
  }
  double cc = pp - bl->r * bl->r;
  if (cc > 0.0) cc = 0.0; /* x on the sphere up to rounding */
  /* Roots of a t^2 + 2 b t + cc = 0 without cancellation. */
  const double sq = sqrt(b * b - a * cc);
  const double q = -(b + (b >= 0.0 ? sq : -sq));
  double t1 = q / a, t2 = q != 0.0 ? cc / q : 0.0;
  if (t1 > t2) {
    const double t = t1;
    t1 = t2;
    t2 = t;
  }
  *tlo = t1 > 0.0 ? 0.0 : t1;
  *thi = t2 < 0.0 ? 0.0 : t2;
  return 0;
}

static int ball_sample_uniform(const void *ctx, pf_rng *rng, size_t n,
                               double *X, double *work)
{
  const ball *b = ctx;
  (void)work;
  for (size_t i = 0; i < n; i++) {
    double *x = X + i * b->d, s = 0.0, u;
    do {
      pf_rng_normal(rng, b->d, x);
      s = 0.0;
      for (size_t k = 0; k < b->d; k++) s += x[k] * x[k];
    } while (!(s > 0.0));
    pf_rng_uniforms_open(rng, 1, &u);
    const double f = b->r * pow(u, 1.0 / (double)b->d) / sqrt(s);
    for (size_t k = 0; k < b->d; k++) x[k] = b->c[k] + f * x[k];
  }
  return 0;
}

static int ball_log_volume(const void *ctx, double *out)
{
  *out = ((const ball *)ctx)->log_vol;
  return 0;
}

static int ball_bounded(const void *ctx)
{
  (void)ctx;
  return 1;
}

static const pf_param ball_params[] = {
    {"center", PF_P_REALS, "0", NULL,
     "center (one value broadcasts to every coordinate)", 0, NULL, NULL},
    {"radius", PF_P_REAL, "1", "(0,inf)", "radius", 0, NULL, NULL},
    {"dim", PF_P_INT, NULL, "[1,1e9]",
     "dimension (default: the target's, or the length of center)", 0, NULL,
     NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_domain_ops pf_domain_ball = {
    .base = {"ball", "the Euclidean ball |x - center| <= radius (billiard)",
             ball_params},
    .example = "{name: ball, center: [1, -1, 0.5], radius: 2}",
    .example_dim = 3,
    .create = ball_create,
    .destroy = ball_destroy,
    .work_len = ball_work_len,
    .contains = ball_contains,
    .project = ball_project,
    .reflect = ball_reflect,
    .chord = ball_chord,
    .sample_uniform = ball_sample_uniform,
    .log_volume = ball_log_volume,
    .bounded = ball_bounded,
    .mirror = NULL,
};
