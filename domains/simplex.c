/* `simplex`: the probability simplex with D vertices, in two coordinate
 * systems (`coords`):
 *   reduced (default): dim = D - 1 coordinates theta, theta_D = 1 - sum theta
 *     implied; the set {theta >= 0, sum theta <= 1} (full-dimensional).
 *   full: dim = D coordinates on {x >= 0, sum x = 1} (a (D-1)-dimensional
 *     slice of R^D; directions must have sum 0).
 *
 * Projection: the sort-based O(D log D) Euclidean projection onto
 * {x >= 0, sum x = 1} (Held, Wolfe & Crowder 1974; Duchi et al. ICML 2008)
 * with an in-place heap sort (no allocation).  In reduced coordinates the
 * set is the corner simplex: the projection is max(theta, 0) when that has
 * sum <= 1, else the sum constraint is active and it is the projection onto
 * {theta >= 0, sum theta = 1} (KKT).
 *
 * Reflection: the billiard.  Faces theta_i = 0 (normal e_i) and, in reduced
 * coordinates, sum theta = 1 (normal ones / sqrt(dim)); in full coordinates
 * the normal of x_i = 0 within the plane is (e_i - ones / D) / sqrt(1 - 1/D),
 * so reflections keep sum x exactly (x is also renormalized after every
 * bounce to stop rounding drift; the step's component off the plane is
 * dropped).  One face per bounce: when several faces are hit at the same t
 * (a corner), the next ones are met at t = 0 and reflected off in turn, each
 * only while the direction still points out of it.  After `max_bounces`
 * bounces the end point is projected instead and counted in
 * info->fallback.
 *
 * interior() and sample_uniform(): exact (D normalized Exp(1) variables =
 * the flat Dirichlet; reduced: the first D - 1).  log_volume: Lebesgue
 * measure in reduced coordinates, 1/(D-1)! ; in full coordinates the
 * (D-1)-dimensional Hausdorff measure of the slice, sqrt(D)/(D-1)!.
 *
 * Mirror map "entropic" (reduced coordinates only; full: none, through
 * pf_domain_ops.mirror_of): psi = sum_{i<=D} theta_i log theta_i,
 * grad psi_i = log theta_i - log theta_D, grad psi* = the first D-1 entries
 * of softmax([eta, 0]), hess psi^-1 = diag(theta) - theta theta^T,
 * log det hess psi* = sum_{i<=D} log theta_i with eta-gradient 1 - D theta
 * (Shi, Liu & Mackey 2022).  The inverse map uses log-sum-exp and
 * exp(eta_i - lse), so it never overflows and underflows only when theta_i
 * is below the smallest subnormal (eta_i - lse < -745); log det and grad psi
 * are computed from theta and are the exact -inf on a face, never a clamp.
 * theta_D = 1 - sum theta is only as accurate as the reduced
 * representation allows (absolute error ~ 1e-16): where the last
 * coordinate matters below that, evaluate from eta in the target. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/domain.h"
#include "pflow/error.h"

typedef struct simplex {
  size_t d;  /* coordinates */
  size_t D;  /* vertices */
  int full;  /* coords: full */
  unsigned max_bounces;
  double log_vol;
} simplex;

static int simplex_create(const pf_node *cfg, size_t dim, void **ctx,
                          size_t *dim_out)
{
  const char *coords = pf_cfg_str(cfg, "coords");
  const int full = coords && strcmp(coords, "full") == 0;
  long long cd = 0, mb = 1000;
  if (pf_cfg_has(cfg, "dim")) {
    PF_TRY(pf_cfg_int(cfg, "dim", &cd));
    if (dim && (size_t)cd != dim)
      PF_CFG_RAISE(cfg, "dim", PF_ECONFIG,
                   "dim is %lld but the target has dimension %zu", cd, dim);
  }
  if (pf_cfg_has(cfg, "max_bounces"))
    PF_TRY(pf_cfg_int(cfg, "max_bounces", &mb));
  size_t d = dim ? dim : (size_t)cd;
  if (d == 0)
    PF_CFG_RAISE(cfg, "dim", PF_ECONFIG,
                 "needs a dimension (the number of coordinates: D - 1 in "
                 "coords: reduced, D in coords: full)");
  if (full && d < 2)
    PF_CFG_RAISE(cfg, "coords", PF_ECONFIG,
                 "coords: full needs dimension >= 2 (got %zu): the simplex "
                 "with one vertex is a point",
                 d);
  if (mb < 1 || mb > UINT_MAX)
    PF_CFG_RAISE(cfg, "max_bounces", PF_ECONFIG,
                 "must be in [1, %u], got %lld", UINT_MAX, mb);
  simplex *s = malloc(sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating a domain");
  s->d = d;
  s->D = full ? d : d + 1;
  s->full = full;
  s->max_bounces = (unsigned)mb;
  s->log_vol = -lgamma((double)s->D);
  if (full) s->log_vol += 0.5 * log((double)s->D);
  *ctx = s;
  *dim_out = d;
  return 0;
}

static void simplex_destroy(void *ctx) { free(ctx); }

static size_t simplex_work_len(const void *ctx)
{
  return 2 * ((const simplex *)ctx)->d;
}

static int simplex_contains(const void *ctx, const double *x, double tol)
{
  const simplex *s = ctx;
  double sum = 0.0;
  for (size_t k = 0; k < s->d; k++) {
    if (!(x[k] >= -tol)) return 0;
    sum += x[k];
  }
  /* The sum constraint's normal has norm sqrt(dim) (see PF_DOMAIN_TOL). */
  const double st = tol * sqrt((double)s->d);
  if (s->full) return fabs(sum - 1.0) <= st;
  return sum <= 1.0 + st;
}

/* ---- projection ---------------------------------------------------------- */

/* In-place heap sort into descending order (no allocation, O(n log n)). */
static void sift_down(double *a, size_t i, size_t n)
{
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && a[c + 1] < a[c]) c++; /* min-heap: descending result */
    if (!(a[c] < a[i])) return;
    const double t = a[c];
    a[c] = a[i];
    a[i] = t;
    i = c;
  }
}

static void sort_desc(double *a, size_t n)
{
  for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
  for (size_t end = n; end-- > 1;) {
    const double t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end);
  }
}

/* x <- argmin |y - x| over {x >= 0, sum x = 1} in R^n; w: n doubles.
 * With u sorted descending, rho = max{j : u_j - (sum_{i<=j} u_i - 1)/j > 0}
 * and x = max(y - tau, 0), tau = (sum_{i<=rho} u_i - 1)/rho. */
static void project_prob(double *x, size_t n, double *w)
{
  memcpy(w, x, n * sizeof(double));
  sort_desc(w, n);
  double cum = 0.0, tau = w[0] - 1.0;
  for (size_t j = 0; j < n; j++) {
    cum += w[j];
    const double t = (cum - 1.0) / (double)(j + 1);
    if (w[j] - t > 0.0) tau = t;
  }
  for (size_t k = 0; k < n; k++) x[k] = x[k] > tau ? x[k] - tau : 0.0;
}

static void project_any(const simplex *s, double *x, double *w)
{
  if (!s->full) {
    double sum = 0.0;
    for (size_t k = 0; k < s->d; k++) sum += x[k] > 0.0 ? x[k] : 0.0;
    if (sum <= 1.0) {
      for (size_t k = 0; k < s->d; k++)
        if (x[k] < 0.0) x[k] = 0.0;
      return;
    }
  }
  project_prob(x, s->d, w);
}

static int simplex_project(const void *ctx, double *x, double *work)
{
  const simplex *s = ctx;
  for (size_t k = 0; k < s->d; k++)
    PF_CHECK(!isnan(x[k]), PF_ENONFINITE,
             "simplex projection: coordinate %zu is NaN", k);
  project_any(s, x, work);
  return 0;
}

/* ---- reflection ---------------------------------------------------------- */

static int simplex_reflect(const void *ctx, double *x, const double *v,
                           double *work, pf_reflect_info *info)
{
  const simplex *s = ctx;
  const size_t d = s->d;
  const double Dd = (double)s->D;
  double *rem = work; /* the direction, reflected as we go */
  info->bounces = 0;
  info->fallback = 0;
  double mean = 0.0;
  for (size_t k = 0; k < d; k++) {
    PF_CHECK(isfinite(v[k]), PF_ENONFINITE,
             "simplex reflection: step coordinate %zu is %g", k, v[k]);
    mean += v[k];
  }
  mean = s->full ? mean / (double)d : 0.0;
  for (size_t k = 0; k < d; k++) rem[k] = v[k] - mean;
  double tau = 1.0; /* time left: the end point is x + tau rem */
  for (;;) {
    double tmin = tau, sum = 0.0, srem = 0.0;
    size_t hit = SIZE_MAX; /* d: the face sum theta = 1 (reduced) */
    for (size_t k = 0; k < d; k++) {
      if (rem[k] < 0.0) {
        double t = -x[k] / rem[k];
        if (t < 0.0) t = 0.0;
        if (t < tmin) {
          tmin = t;
          hit = k;
        }
      }
      sum += x[k];
      srem += rem[k];
    }
    if (!s->full && srem > 0.0) {
      double t = (1.0 - sum) / srem;
      if (t < 0.0) t = 0.0;
      if (t < tmin) {
        tmin = t;
        hit = d;
      }
    }
    if (hit == SIZE_MAX) { /* no face before the end */
      for (size_t k = 0; k < d; k++) x[k] += tau * rem[k];
      break;
    }
    if (info->bounces >= s->max_bounces) {
      for (size_t k = 0; k < d; k++) x[k] += tau * rem[k];
      info->fallback = 1;
      project_any(s, x, work + d);
      break;
    }
    for (size_t k = 0; k < d; k++) x[k] += tmin * rem[k];
    tau -= tmin;
    info->bounces++;
    if (hit == d) {
      /* sum = 1: v <- v - 2 (v.n) n with n = ones / sqrt(d). */
      const double c = 2.0 * srem / (double)d;
      for (size_t k = 0; k < d; k++) rem[k] -= c;
    } else if (!s->full) {
      x[hit] = 0.0;
      rem[hit] = -rem[hit];
    } else {
      /* In-plane normal n = (e_i - ones/D) / sqrt(1 - 1/D); since
       * sum rem = 0, v.n = rem_i / sqrt(1 - 1/D) and
       * v - 2 (v.n) n = v - c (e_i - ones/D), c = 2 rem_i D / (D - 1). */
      const double c = 2.0 * rem[hit] * Dd / (Dd - 1.0), cd = c / Dd;
      for (size_t k = 0; k < d; k++) rem[k] += cd;
      rem[hit] -= c;
      x[hit] = 0.0;
      double z = 0.0;
      for (size_t k = 0; k < d; k++) z += x[k];
      for (size_t k = 0; k < d; k++) x[k] /= z;
    }
  }
  if (s->full) { /* remove the rounding drift of sum x */
    double z = 0.0;
    for (size_t k = 0; k < d; k++) {
      if (x[k] < 0.0) x[k] = 0.0;
      z += x[k];
    }
    for (size_t k = 0; k < d; k++) x[k] /= z;
  }
  return 0;
}

static int simplex_chord(const void *ctx, const double *x, const double *u,
                         double *tlo, double *thi)
{
  const simplex *s = ctx;
  double lo = -INFINITY, hi = INFINITY, sum = 0.0, su = 0.0;
  for (size_t k = 0; k < s->d; k++) {
    sum += x[k];
    su += u[k];
    if (u[k] == 0.0) continue;
    const double t = -x[k] / u[k];
    if (u[k] > 0.0 && t > lo) lo = t;
    if (u[k] < 0.0 && t < hi) hi = t;
  }
  if (!s->full && su != 0.0) {
    const double t = (1.0 - sum) / su;
    if (su > 0.0 && t < hi) hi = t;
    if (su < 0.0 && t > lo) lo = t;
  }
  *tlo = lo > 0.0 ? 0.0 : lo;
  *thi = hi < 0.0 ? 0.0 : hi;
  return 0;
}

/* ---- uniform ------------------------------------------------------------- */

static int simplex_sample_uniform(const void *ctx, pf_rng *rng, size_t n,
                                  double *X, double *work)
{
  const simplex *s = ctx;
  (void)work;
  for (size_t i = 0; i < n; i++) {
    double *x = X + i * s->d, last = 1.0, z = 0.0;
    pf_rng_uniforms_open(rng, s->d, x);
    if (!s->full) pf_rng_uniforms_open(rng, 1, &last);
    for (size_t k = 0; k < s->d; k++) {
      x[k] = -log(x[k]);
      z += x[k];
    }
    if (!s->full) z += -log(last);
    for (size_t k = 0; k < s->d; k++) x[k] /= z;
  }
  return 0;
}

static int simplex_log_volume(const void *ctx, double *out)
{
  *out = ((const simplex *)ctx)->log_vol;
  return 0;
}

static int simplex_bounded(const void *ctx)
{
  (void)ctx;
  return 1;
}

/* ---- mirror map "entropic" (reduced coordinates) ------------------------- */

/* theta_D = 1 - sum theta, summed with Neumaier's compensation so that the
 * only error left is that of the stored theta. */
static double last_coord(const double *x, size_t d)
{
  double s = 1.0, c = 0.0;
  for (size_t k = 0; k < d; k++) {
    const double y = -x[k], t = s + y;
    c += fabs(s) >= fabs(y) ? (s - t) + y : (y - t) + s;
    s = t;
  }
  return s + c;
}

/* log of theta_D: -inf on the face (and past it by rounding), never NaN. */
static double log_last(const double *x, size_t d)
{
  const double tD = last_coord(x, d);
  return tD > 0.0 ? log(tD) : -INFINITY;
}

static int ent_grad_psi(const void *ctx, const double *x, double *eta,
                        double *work)
{
  const simplex *s = ctx;
  (void)work;
  const double lD = log_last(x, s->d);
  for (size_t k = 0; k < s->d; k++) eta[k] = log(x[k]) - lD;
  return 0;
}

static int ent_grad_psi_star(const void *ctx, const double *eta, double *x,
                             double *work)
{
  const simplex *s = ctx;
  (void)work;
  double m = 0.0; /* max over [eta, 0] */
  for (size_t k = 0; k < s->d; k++)
    if (eta[k] > m) m = eta[k];
  double z = exp(-m);
  for (size_t k = 0; k < s->d; k++) z += exp(eta[k] - m);
  const double lse = m + log(z);
  for (size_t k = 0; k < s->d; k++) x[k] = exp(eta[k] - lse);
  return 0;
}

/* hess psi = diag(1/theta) + ones ones^T / theta_D. */
static int ent_hess_psi_vec(const void *ctx, const double *x, const double *v,
                            double *out, double *work)
{
  const simplex *s = ctx;
  (void)work;
  double sv = 0.0;
  for (size_t k = 0; k < s->d; k++) sv += v[k];
  const double c = sv / last_coord(x, s->d);
  for (size_t k = 0; k < s->d; k++) out[k] = v[k] / x[k] + c;
  return 0;
}

static int ent_hess_psi_inv_vec(const void *ctx, const double *x,
                                const double *v, double *out, double *work)
{
  const simplex *s = ctx;
  (void)work;
  double tv = 0.0;
  for (size_t k = 0; k < s->d; k++) tv += x[k] * v[k];
  for (size_t k = 0; k < s->d; k++) out[k] = x[k] * (v[k] - tv);
  return 0;
}

static int ent_logdet(const void *ctx, const double *x, double *val,
                      double *grad, double *work)
{
  const simplex *s = ctx;
  (void)work;
  double acc = log_last(x, s->d);
  for (size_t k = 0; k < s->d; k++) {
    acc += log(x[k]);
    if (grad) grad[k] = 1.0 - (double)s->D * x[k];
  }
  *val = acc;
  return 0;
}

static const pf_mirror_ops entropic_map = {
    .name = "entropic",
    .grad_psi = ent_grad_psi,
    .grad_psi_star = ent_grad_psi_star,
    .hess_psi_vec = ent_hess_psi_vec,
    .hess_psi_inv_vec = ent_hess_psi_inv_vec,
    .logdet_hess_psi_star = ent_logdet,
};

static const pf_mirror_ops *simplex_mirror_of(const void *ctx)
{
  return ((const simplex *)ctx)->full ? NULL : &entropic_map;
}

static const pf_param simplex_params[] = {
    {"coords", PF_P_STRING, "reduced", "reduced|full",
     "reduced: D-1 coordinates (theta_D = 1 - sum implied; mirror map); "
     "full: D coordinates summing to 1",
     0, NULL, NULL},
    {"dim", PF_P_INT, NULL, "[1,1e9]",
     "number of coordinates (default: the target's dimension)", 0, NULL,
     NULL},
    {"max_bounces", PF_P_INT, "1000", "[1,4e9]",
     "reflection: bounces before falling back to projection (counted)", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_domain_ops pf_domain_simplex = {
    .base = {"simplex",
             "the probability simplex (reduced or full coordinates; billiard; "
             "entropic map in reduced coordinates)",
             simplex_params},
    .example = "{name: simplex}",
    .example_dim = 3,
    .create = simplex_create,
    .destroy = simplex_destroy,
    .work_len = simplex_work_len,
    .contains = simplex_contains,
    .project = simplex_project,
    .reflect = simplex_reflect,
    .chord = simplex_chord,
    .sample_uniform = simplex_sample_uniform,
    .log_volume = simplex_log_volume,
    .bounded = simplex_bounded,
    .mirror = &entropic_map,
    .mirror_of = simplex_mirror_of,
};
