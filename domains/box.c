/* `box`: the product of intervals [l_k, u_k].
 *
 * Reflection folds each coordinate exactly (a triangle wave of period
 * 2 (u - l)), so a step of any length costs O(d) and is the exact
 * reflected-Brownian image of a Gaussian increment; bounces counts the faces
 * crossed.  The mirror map "tanh" is the entropic map of [-1, 1] moved to
 * [l, u]: with s = (u - l) / 2 and t = (2x - (l + u)) / (u - l),
 *   psi(x) = s sum_k (1+t) log(1+t) + (1-t) log(1-t),
 * so that grad psi(x) = log((x - l) / (u - x)) (a logit), grad psi*(eta) =
 * (l+u)/2 + s tanh(eta/2) = l + (u - l) sigmoid(eta), hess psi^-1 =
 * diag((x - l)(u - x) / (u - l)), log det hess psi* = sum log((x - l)(u - x)
 * / (u - l)) and its eta-gradient (= div_x hess psi^-1) is -t.  For
 * [-1, 1] this is exactly the map of Shi, Liu & Mackey (ICLR 2022).
 * Everything is written with the distances a = x - l and b = u - x, which
 * are exact near the faces (Sterbenz), and the inverse map adds a sigmoid of
 * -|eta| to the nearer face, so nothing is clamped: on a face the values are
 * the true limits (-inf), never a made-up floor. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/domain.h"
#include "pflow/error.h"

typedef struct box {
  size_t d;
  double *lo, *hi, *w; /* bounds and widths, d each (one allocation) */
  double log_vol;      /* sum log w */
} box;

/* Reads `key` (a list, one value broadcasting) into out[0..d). */
static int read_bound(const pf_node *cfg, const char *key, size_t d,
                      double *out)
{
  double *v = NULL;
  size_t n = 0;
  PF_TRY(pf_cfg_reals(cfg, key, &v, &n));
  if (n != 1 && n != d) {
    free(v);
    PF_CFG_RAISE(cfg, key, PF_ECONFIG, "has %zu values, expected 1 or %zu",
                 n, d);
  }
  for (size_t k = 0; k < d; k++) out[k] = v[n == 1 ? 0 : k];
  free(v);
  for (size_t k = 0; k < d; k++)
    if (!isfinite(out[k]))
      PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                   "bounds must be finite (entry %zu is %g)", k, out[k]);
  return 0;
}

static int box_create(const pf_node *cfg, size_t dim, void **ctx,
                      size_t *dim_out)
{
  static const char *const keys[] = {"lower", "upper"};
  size_t d = dim;
  const char *from = "the target";
  if (pf_cfg_has(cfg, "dim")) {
    long long cd;
    PF_TRY(pf_cfg_int(cfg, "dim", &cd));
    if (d && (size_t)cd != d)
      PF_CFG_RAISE(cfg, "dim", PF_ECONFIG,
                   "dim is %lld but the target has dimension %zu", cd, d);
    d = (size_t)cd;
    if (!dim) from = "dim";
  }
  for (int i = 0; i < 2; i++) {
    const pf_node *nd = pf_node_get(cfg, keys[i]);
    if (!nd) continue; /* impossible after validation (defaults) */
    size_t n = pf_node_kind_of(nd) == PF_NODE_SCALAR ? 1 : pf_node_len(nd);
    if (n == 0)
      PF_CFG_RAISE(cfg, keys[i], PF_ECONFIG, "needs at least one value");
    if (n == 1) continue;
    if (d && n != d)
      PF_CFG_RAISE(cfg, keys[i], PF_ECONFIG,
                   "has %zu values but the dimension is %zu (from %s); give "
                   "one value (broadcast) or %zu",
                   n, d, from, d);
    d = n;
    from = keys[i];
  }
  if (d == 0)
    PF_CFG_RAISE(cfg, "dim", PF_ECONFIG,
                 "needs a dimension: give dim or lists for lower/upper");
  box *b = calloc(1, sizeof *b);
  double *mem = malloc(3 * d * sizeof(double));
  if (!b || !mem) {
    free(b);
    free(mem);
    PF_RAISE(PF_ENOMEM, "allocating a box domain (d = %zu)", d);
  }
  b->d = d;
  b->lo = mem;
  b->hi = mem + d;
  b->w = mem + 2 * d;
  int rc;
  PF_TRY_GOTO(rc, read_bound(cfg, "lower", d, b->lo), fail);
  PF_TRY_GOTO(rc, read_bound(cfg, "upper", d, b->hi), fail);
  b->log_vol = 0.0;
  for (size_t k = 0; k < d; k++) {
    b->w[k] = b->hi[k] - b->lo[k];
    if (!(b->lo[k] < b->hi[k]) || !isfinite(b->w[k])) {
      rc = pf__config_raise(cfg, "upper", PF_ECONFIG, __FILE__, __LINE__,
                            "needs lower < upper in every coordinate, but "
                            "lower[%zu] = %g and upper[%zu] = %g",
                            k, b->lo[k], k, b->hi[k]);
      goto fail;
    }
    b->log_vol += log(b->w[k]);
  }
  *ctx = b;
  *dim_out = d;
  return 0;
fail:
  free(mem);
  free(b);
  return rc;
}

static void box_destroy(void *ctx)
{
  box *b = ctx;
  if (!b) return;
  free(b->lo);
  free(b);
}

static int box_contains(const void *ctx, const double *x, double tol)
{
  const box *b = ctx;
  for (size_t k = 0; k < b->d; k++)
    if (!(x[k] >= b->lo[k] - tol && x[k] <= b->hi[k] + tol)) return 0;
  return 1;
}

static int box_project(const void *ctx, double *x, double *work)
{
  const box *b = ctx;
  (void)work;
  for (size_t k = 0; k < b->d; k++) {
    if (x[k] < b->lo[k]) x[k] = b->lo[k];
    if (x[k] > b->hi[k]) x[k] = b->hi[k];
  }
  return 0;
}

/* Folding: with y = x + v - l, the reflected end point is l + r where
 * r = y mod 2w taken in [0, 2w), replaced by 2w - r when r > w (a triangle
 * wave).  fmod is exact in IEEE arithmetic but keeps the sign of y, hence
 * the shift by 2w for negative y. */
static int box_reflect(const void *ctx, double *x, const double *v,
                       double *work, pf_reflect_info *info)
{
  const box *b = ctx;
  (void)work;
  info->bounces = 0;
  info->fallback = 0;
  for (size_t k = 0; k < b->d; k++)
    PF_CHECK(isfinite(v[k]), PF_ENONFINITE,
             "box reflection: step coordinate %zu is %g", k, v[k]);
  double faces = 0.0;
  for (size_t k = 0; k < b->d; k++) {
    const double w = b->w[k], y = (x[k] - b->lo[k]) + v[k];
    if (y >= 0.0 && y <= w) {
      x[k] += v[k];
      if (x[k] < b->lo[k]) x[k] = b->lo[k]; /* rounding of lo + y only */
      if (x[k] > b->hi[k]) x[k] = b->hi[k];
      continue;
    }
    const double P = 2.0 * w;
    double r;
    if (y < 0.0 && y >= -w) { /* one face: the common case, no fmod */
      r = -y;
      faces += 1.0;
    } else if (y > w && y <= P) {
      r = P - y;
      faces += 1.0;
    } else {
      /* Faces crossed: the lines l + j w strictly between the start and y
       * (plus the one y lands on). */
      faces += y > 0.0 ? floor(y / w) : floor(-y / w) + 1.0;
      r = fmod(y, P);
      if (r < 0.0) r += P;
      if (r >= P) r = 0.0; /* r + P rounded up to P */
      if (r > w) r = P - r;
    }
    double z = b->lo[k] + r;
    /* l + r may round past u (r <= w = u - l in exact arithmetic). */
    if (z > b->hi[k]) z = b->hi[k];
    x[k] = z;
  }
  info->bounces = faces >= (double)UINT_MAX ? UINT_MAX : (unsigned)faces;
  return 0;
}

static int box_chord(const void *ctx, const double *x, const double *u,
                     double *tlo, double *thi)
{
  const box *b = ctx;
  double lo = -INFINITY, hi = INFINITY;
  for (size_t k = 0; k < b->d; k++) {
    if (u[k] == 0.0) continue;
    double t1 = (b->lo[k] - x[k]) / u[k], t2 = (b->hi[k] - x[k]) / u[k];
    if (t1 > t2) {
      double t = t1;
      t1 = t2;
      t2 = t;
    }
    if (t1 > lo) lo = t1;
    if (t2 < hi) hi = t2;
  }
  /* x on a face up to rounding: keep 0 in the interval. */
  *tlo = lo > 0.0 ? 0.0 : lo;
  *thi = hi < 0.0 ? 0.0 : hi;
  return 0;
}

/* Uniform, from open uniforms so the point is strictly inside (the mirror
 * map is infinite on the faces). */
static int box_sample_uniform(const void *ctx, pf_rng *rng, size_t n,
                              double *X, double *work)
{
  const box *b = ctx;
  (void)work;
  for (size_t i = 0; i < n; i++) {
    double *x = X + i * b->d;
    pf_rng_uniforms_open(rng, b->d, x);
    for (size_t k = 0; k < b->d; k++) {
      double z = b->lo[k] + b->w[k] * x[k];
      x[k] = z < b->hi[k] ? z : b->hi[k];
    }
  }
  return 0;
}

static int box_log_volume(const void *ctx, double *out)
{
  *out = ((const box *)ctx)->log_vol;
  return 0;
}

static int box_bounded(const void *ctx)
{
  (void)ctx;
  return 1;
}

/* ---- mirror map "tanh" ---------------------------------------------------
 * a = x - l, b = u - x: eta = log(a / b); hess psi = w / (a b). */

static int tanh_grad_psi(const void *ctx, const double *x, double *eta,
                         double *work)
{
  const box *bx = ctx;
  (void)work;
  for (size_t k = 0; k < bx->d; k++) {
    const double a = x[k] - bx->lo[k], b = bx->hi[k] - x[k], r = a / b;
    /* One log of the ratio is accurate to an ulp of eta; the difference of
     * logs survives when the ratio over- or underflows. */
    eta[k] = (r > 0x1p-1000 && r < 0x1p1000) ? log(r) : log(a) - log(b);
  }
  return 0;
}

/* x = l + w sigmoid(eta) measured from the nearer face: sigmoid(-|eta|) =
 * e / (1 + e), e = exp(-|eta|), never overflows and keeps every bit of the
 * small distance to that face. */
static int tanh_grad_psi_star(const void *ctx, const double *eta, double *x,
                              double *work)
{
  const box *bx = ctx;
  (void)work;
  for (size_t k = 0; k < bx->d; k++) {
    const double e = exp(-fabs(eta[k])), s = e / (1.0 + e);
    x[k] = eta[k] < 0.0 ? bx->lo[k] + bx->w[k] * s
                        : bx->hi[k] - bx->w[k] * s;
  }
  return 0;
}

static int tanh_hess_psi_vec(const void *ctx, const double *x,
                             const double *v, double *out, double *work)
{
  const box *bx = ctx;
  (void)work;
  for (size_t k = 0; k < bx->d; k++) {
    const double a = x[k] - bx->lo[k], b = bx->hi[k] - x[k];
    out[k] = (v[k] / a) * (bx->w[k] / b);
  }
  return 0;
}

static int tanh_hess_psi_inv_vec(const void *ctx, const double *x,
                                 const double *v, double *out, double *work)
{
  const box *bx = ctx;
  (void)work;
  for (size_t k = 0; k < bx->d; k++) {
    const double a = x[k] - bx->lo[k], b = bx->hi[k] - x[k];
    out[k] = v[k] * (a / bx->w[k]) * b;
  }
  return 0;
}

/* log det hess psi*(eta) = sum log a + log b - log w (= sum log w -
 * softplus(eta) - softplus(-eta) in dual terms); gradient -t = (b - a)/w. */
static int tanh_logdet(const void *ctx, const double *x, double *val,
                       double *grad, double *work)
{
  const box *bx = ctx;
  (void)work;
  double s = 0.0;
  for (size_t k = 0; k < bx->d; k++) {
    const double a = x[k] - bx->lo[k], b = bx->hi[k] - x[k];
    s += log(a) + log(b);
    if (grad) grad[k] = (b - a) / bx->w[k];
  }
  *val = s - bx->log_vol;
  return 0;
}

static const pf_mirror_ops tanh_map = {
    .name = "tanh",
    .grad_psi = tanh_grad_psi,
    .grad_psi_star = tanh_grad_psi_star,
    .hess_psi_vec = tanh_hess_psi_vec,
    .hess_psi_inv_vec = tanh_hess_psi_inv_vec,
    .logdet_hess_psi_star = tanh_logdet,
};

static const pf_param box_params[] = {
    {"lower", PF_P_REALS, "0", NULL,
     "lower bounds (one value broadcasts to every coordinate)", 0, NULL,
     NULL},
    {"upper", PF_P_REALS, "1", NULL,
     "upper bounds (one value broadcasts); lower < upper", 0, NULL, NULL},
    {"dim", PF_P_INT, NULL, "[1,1e9]",
     "dimension (default: the target's, or the length of lower/upper)", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_domain_ops pf_domain_box = {
    .base = {"box", "the box [lower, upper]^d (exact folding; tanh mirror map)",
             box_params},
    .example = "{name: box, lower: [-1, 0, 2], upper: [1, 0.5, 5]}",
    .example_dim = 3,
    .create = box_create,
    .destroy = box_destroy,
    .contains = box_contains,
    .project = box_project,
    .reflect = box_reflect,
    .chord = box_chord,
    .sample_uniform = box_sample_uniform,
    .log_volume = box_log_volume,
    .bounded = box_bounded,
    .mirror = &tanh_map,
};
