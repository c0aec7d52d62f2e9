/* `dirichlet`: Dirichlet(alpha) on the probability simplex, in the reduced
 * coordinates theta_1..theta_{D-1} (theta_D = 1 - sum theta implied) of the
 * `simplex` domain.  Normalized (log_z = 0), with an exact sampler, known
 * moments and a closed-form density in the entropic dual coordinates, which
 * stays finite where primal coordinates underflow (sparse Dirichlet).
 *
 * Numerics near faces (primal logp_grad):
 * - theta_D = 1 - sum theta is computed to within 2 ulps (compensated
 *   summation, and below 1e-13 (d + 1) a fixed-point accumulator wide
 *   enough for every double in the sum, rounded once), so a point whose
 *   reduced coordinates imply theta_D = 1e-300 gets that value, not the
 *   1e-16-sized cancellation noise of a plain sum.
 * - Coordinates below floor_i = max(DBL_MIN, 4 |alpha_i - 1| / DBL_MAX) --
 *   exact zeros from Euclidean projection, subnormals, and points outside
 *   by at most PF_DOMAIN_TOL -- are evaluated at floor_i: logp and the
 *   gradient then stay finite (each gradient term is at most DBL_MAX / 4).
 *   At such points the value is that of a point 1e-308 inside the face,
 *   not the true limit (0 or +inf density).
 * - Points further outside get logp = -inf and a zero gradient.
 * The dual op has none of these limits: it works in log space throughout. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/target.h"

typedef struct dirichlet {
  size_t D;        /* components; the dimension is D - 1 */
  double *alpha;   /* D */
  double *floor;   /* D: smallest coordinate value used in evaluation */
  double asum;     /* A = sum alpha */
  double logB;     /* log B(alpha) = sum lgamma(alpha_i) - lgamma(A) */
  pf_domain *dom;  /* simplex, reduced coordinates */
  double *lt;      /* D: dirichlet_sample's log draws (no allocation per call) */
} dirichlet;

static void dirichlet_destroy(void *ctx)
{
  dirichlet *t = ctx;
  if (!t) return;
  free(t->alpha);
  free(t->floor);
  free(t->lt);
  pf_domain_destroy(&t->dom);
  free(t);
}

/* ---- exact 1 - sum(x) ----------------------------------------------------
 * A two's-complement fixed-point number in units of 2^-1074 (the smallest
 * subnormal) with 18 x 64 = 1152 bits: every finite double of magnitude
 * below 2^77 is an exact integer there, and sums of up to 2^76 of them
 * cannot overflow.  (Kulisch's "long accumulator" idea.) */
enum { ACC_WORDS = 18, ACC_UNIT = 1074 };

static void acc_add(uint64_t *acc, double x)
{
  int neg = x < 0.0, e;
  double f = frexp(fabs(x), &e); /* |x| = f 2^e, f in [0.5, 1) */
  if (f == 0.0) return;
  uint64_t m = (uint64_t)ldexp(f, 53); /* exact: 53-bit integer */
  long off = (long)e - 53 + ACC_UNIT;  /* |x| = m 2^(off - 1074) */
  if (off < 0) {                       /* subnormal: low bits are zero */
    m >>= -off;
    off = 0;
  }
  size_t w = (size_t)off / 64;
  unsigned s = (unsigned)((size_t)off % 64);
  uint64_t part[2] = {m << s, s ? m >> (64 - s) : 0};
  if (!neg) {
    uint64_t carry = 0;
    for (size_t k = w; k < ACC_WORDS; k++) {
      uint64_t add = (k - w < 2 ? part[k - w] : 0);
      uint64_t sum = acc[k] + add;
      uint64_t c1 = sum < add;
      uint64_t sum2 = sum + carry;
      uint64_t c2 = sum2 < carry;
      acc[k] = sum2;
      carry = c1 | c2;
      if (k - w >= 1 && !carry) break;
    }
  } else {
    uint64_t borrow = 0;
    for (size_t k = w; k < ACC_WORDS; k++) {
      uint64_t sub = (k - w < 2 ? part[k - w] : 0);
      uint64_t dif = acc[k] - sub;
      uint64_t b1 = acc[k] < sub;
      uint64_t dif2 = dif - borrow;
      uint64_t b2 = dif < borrow;
      acc[k] = dif2;
      borrow = b1 | b2;
      if (k - w >= 1 && !borrow) break;
    }
  }
}

/* The accumulator's value as a double (within 2 ulps). */
static double acc_value(const uint64_t *acc)
{
  uint64_t mag[ACC_WORDS];
  int neg = (acc[ACC_WORDS - 1] >> 63) != 0;
  memcpy(mag, acc, sizeof mag);
  if (neg) { /* negate: invert and add one */
    uint64_t carry = 1;
    for (size_t k = 0; k < ACC_WORDS; k++) {
      mag[k] = ~mag[k] + carry;
      carry = carry && mag[k] == 0;
    }
  }
  size_t top = ACC_WORDS;
  while (top > 0 && mag[top - 1] == 0) top--;
  if (top == 0) return 0.0;
  top--;
  double v = 0.0;
  /* Smallest words first so the final rounding dominates. */
  for (size_t k = top >= 2 ? top - 2 : 0; k <= top; k++)
    v += ldexp((double)mag[k], (int)(64 * k) - ACC_UNIT);
  return neg ? -v : v;
}

/* 1 - sum_{k<d} x_k to within 2 ulps; every |x_k| must be below 2^64
 * (callers pass coordinates in [-tol, 1 + tol]).  Neumaier's compensated
 * sum has error <= eps |t| + O(d eps^2) sum|x| (Higham, Accuracy and
 * Stability of Numerical Algorithms, 2nd ed., sec. 4.3), with sum|x| <= 2
 * here; when t > 1e-13 (d + 1) the second term is below eps |t| / 100 and
 * t is returned; otherwise the exact accumulator decides. */
static double simplex_last(const double *x, size_t d)
{
  double s = 1.0, c = 0.0;
  for (size_t k = 0; k < d; k++) {
    const double y = -x[k], t = s + y;
    c += fabs(s) >= fabs(y) ? (s - t) + y : (y - t) + s;
    s = t;
  }
  const double t = s + c;
  if (t > 1e-13 * (double)(d + 1)) return t;
  uint64_t acc[ACC_WORDS] = {0};
  acc_add(acc, 1.0);
  for (size_t k = 0; k < d; k++) acc_add(acc, -x[k]);
  return acc_value(acc);
}

/* ---- create --------------------------------------------------------------- */

static int dirichlet_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  double *a = NULL;
  size_t D = 0;
  const char *preset = pf_cfg_str(cfg, "preset");
  int has_alpha = pf_cfg_has(cfg, "alpha");
  if (preset && has_alpha)
    PF_CFG_RAISE(cfg, "preset", PF_ECONFIG,
                 "give either alpha or preset, not both");
  if (preset) { /* validation restricted the choices */
    D = 20;     /* sparse20: Shi, Liu & Mackey (2022), notes section 3 */
    a = malloc(D * sizeof(double));
    PF_CHECK(a, PF_ENOMEM, "allocating alpha");
    for (size_t i = 0; i < D; i++) a[i] = 0.1;
    a[0] += 90.0;
    a[1] += 5.0;
    a[2] += 5.0;
  } else if (has_alpha) {
    PF_TRY(pf_cfg_reals(cfg, "alpha", &a, &D));
    if (D < 2) {
      free(a);
      PF_CFG_RAISE(cfg, "alpha", PF_ECONFIG,
                   "expected at least 2 concentrations (D >= 2), found %zu",
                   D);
    }
    for (size_t i = 0; i < D; i++)
      if (!(a[i] > 0.0) || !isfinite(a[i])) {
        double bad = a[i];
        free(a);
        PF_CFG_RAISE(cfg, "alpha", PF_ECONFIG,
                     "entry %zu is %g; every concentration must be finite "
                     "and > 0", i, bad);
      }
  } else {
    PF_CFG_RAISE(cfg, "alpha", PF_ECONFIG,
                 "target 'dirichlet' needs alpha (a list of D >= 2 "
                 "concentrations) or preset");
  }
  dirichlet *t = calloc(1, sizeof *t);
  PF_CHECK_GOTO(rc, t, PF_ENOMEM, fail, "allocating the dirichlet target");
  t->D = D;
  t->alpha = a;
  a = NULL;
  t->floor = malloc(D * sizeof(double));
  t->lt = malloc(D * sizeof(double));
  PF_CHECK_GOTO(rc, t->floor && t->lt, PF_ENOMEM, fail,
                "allocating the dirichlet target");
  double ls = 0.0, A = 0.0;
  for (size_t i = 0; i < D; i++) {
    A += t->alpha[i];
    ls += lgamma(t->alpha[i]);
    double f = 4.0 * fabs(t->alpha[i] - 1.0) / DBL_MAX;
    t->floor[i] = f > DBL_MIN ? f : DBL_MIN;
  }
  t->asum = A;
  t->logB = ls - lgamma(A);
  PF_TRY_GOTO(rc, pf_domain_create_str("{name: simplex}", D - 1, "dirichlet",
                                       &t->dom), fail);
  *ctx = t;
  *dim = D - 1;
  return 0;
fail:
  free(a);
  dirichlet_destroy(t);
  return rc;
}

/* ---- density ---------------------------------------------------------------- */

static int dirichlet_logp_grad(void *ctx, size_t n, const double *X,
                               double *logp, double *grad)
{
  const dirichlet *t = ctx;
  const size_t d = t->D - 1;
  const double *al = t->alpha, *fl = t->floor;
  const double aD1 = al[d] - 1.0;
#pragma omp parallel for schedule(static) if (n * d > 4096)
  for (size_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double *g = grad ? grad + i * d : NULL;
    int inside = 1;
    for (size_t k = 0; k < d; k++) /* the tests also catch NaN */
      if (!(x[k] >= -PF_DOMAIN_TOL && x[k] <= 1.0 + PF_DOMAIN_TOL)) inside = 0;
    double tD = inside ? simplex_last(x, d) : -1.0;
    if (!(tD >= -PF_DOMAIN_TOL)) inside = 0;
    if (!inside) {
      if (logp) logp[i] = -INFINITY;
      if (g) memset(g, 0, d * sizeof(double));
      continue;
    }
    if (tD < fl[d]) tD = fl[d];
    double lp = -t->logB, gD = aD1 / tD;
    if (aD1 != 0.0) lp += aD1 * log(tD);
    for (size_t k = 0; k < d; k++) {
      double xk = x[k] < fl[k] ? fl[k] : x[k], ak1 = al[k] - 1.0;
      if (ak1 != 0.0) lp += ak1 * log(xk);
      if (g) g[k] = ak1 / xk - gD;
    }
    if (logp) logp[i] = lp;
  }
  return 0;
}

/* In the entropic dual coordinates eta (theta = softmax([eta, 0])):
 * log theta_i = eta_i - lse([eta, 0]) exactly, det hess psi*(eta) =
 * prod_{i<=D} theta_i, so log p_H = sum_{i<=D} alpha_i log theta_i - log B
 * and its eta-gradient is alpha_{1:D-1} - A theta (identity (c) of the
 * mirror-Stein notes).  Finite for every finite eta with |eta| < 1e307. */
static int dirichlet_logp_grad_dual(void *ctx, size_t n, const double *Eta,
                                    double *X, double *logp, double *grad)
{
  const dirichlet *t = ctx;
  const size_t d = t->D - 1;
  const double *al = t->alpha, A = t->asum;
#pragma omp parallel for schedule(static) if (n * d > 4096)
  for (size_t i = 0; i < n; i++) {
    const double *e = Eta + i * d;
    double m = 0.0; /* eta_D = 0 */
    for (size_t k = 0; k < d; k++)
      if (e[k] > m) m = e[k];
    double s = exp(-m);
    for (size_t k = 0; k < d; k++) s += exp(e[k] - m);
    double lse = m + log(s);
    double lp = -al[d] * lse - t->logB;
    for (size_t k = 0; k < d; k++) {
      double lt = e[k] - lse, th = exp(lt);
      lp += al[k] * lt;
      if (X) X[i * d + k] = th;
      if (grad) grad[i * d + k] = al[k] - A * th;
    }
    if (logp) logp[i] = lp;
  }
  return 0;
}

/* ---- sampling --------------------------------------------------------------- */

/* log of one Gamma(a, 1) draw.  Marsaglia & Tsang, "A simple method for
 * generating gamma variables", ACM TOMS 26(3), 2000: for a >= 1 squeeze-free
 * rejection from a transformed normal; for a < 1 the boost G(a) = G(a + 1)
 * U^(1/a), taken in log space (log U / a) so tiny a do not underflow the
 * draw to exactly 0. */
static double log_gamma_draw(pf_rng *r, double a)
{
  double boost = 0.0, u;
  if (a < 1.0) {
    pf_rng_uniforms_open(r, 1, &u);
    boost = log(u) / a;
    a += 1.0;
  }
  const double dd = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * dd);
  for (;;) {
    double z, v;
    do {
      pf_rng_normal(r, 1, &z);
      v = 1.0 + c * z;
    } while (v <= 0.0);
    v = v * v * v;
    pf_rng_uniforms_open(r, 1, &u);
    if (log(u) < 0.5 * z * z + dd - dd * v + dd * log(v))
      return log(dd) + log(v) + boost;
  }
}

/* n draws of log theta (n x D, all D components) from Dirichlet(alpha):
 * normalized Gamma draws, normalized in log space.  Internal; used by the
 * sampler and by the tests. */
int pf__dirichlet_sample_log(const double *alpha, size_t D, pf_rng *rng,
                             size_t n, double *logtheta)
{
  for (size_t i = 0; i < n; i++) {
    double *lt = logtheta + i * D, m = -INFINITY;
    for (size_t k = 0; k < D; k++) {
      lt[k] = log_gamma_draw(rng, alpha[k]);
      if (lt[k] > m) m = lt[k];
    }
    double s = 0.0;
    for (size_t k = 0; k < D; k++) s += exp(lt[k] - m);
    double lse = m + log(s);
    for (size_t k = 0; k < D; k++) lt[k] -= lse;
  }
  return 0;
}

static int dirichlet_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  const dirichlet *t = ctx;
  const size_t D = t->D, d = D - 1;
  double *lt = t->lt;
  for (size_t i = 0; i < n; i++) {
    pf__dirichlet_sample_log(t->alpha, D, rng, 1, lt);
    for (size_t k = 0; k < d; k++) X[i * d + k] = exp(lt[k]);
  }
  return 0;
}

static int dirichlet_moments(void *ctx, double *mean, double *cov)
{
  const dirichlet *t = ctx;
  const size_t d = t->D - 1;
  const double A = t->asum, *al = t->alpha, den = A * A * (A + 1.0);
  for (size_t k = 0; k < d; k++) {
    if (mean) mean[k] = al[k] / A;
    if (cov)
      for (size_t j = 0; j < d; j++)
        cov[k * d + j] = ((k == j ? A * al[k] : 0.0) - al[k] * al[j]) / den;
  }
  return 0;
}

static int dirichlet_log_z(void *ctx, double *out)
{
  (void)ctx;
  *out = 0.0;
  return 0;
}

static const pf_domain *dirichlet_domain(void *ctx)
{
  return ((const dirichlet *)ctx)->dom;
}

static const pf_param dirichlet_params[] = {
    {"alpha", PF_P_REALS, NULL, NULL,
     "concentrations alpha_1..alpha_D (D >= 2, all > 0); the target has "
     "dimension D - 1", 0, NULL, NULL},
    {"preset", PF_P_STRING, NULL, "sparse20",
     "instead of alpha: sparse20 = 0.1 + (90, 5, 5, 0, ..., 0), D = 20 "
     "(Shi, Liu & Mackey 2022)", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_dirichlet = {
    .base = {"dirichlet",
             "Dirichlet(alpha) on the simplex, reduced coordinates (dim D-1)",
             dirichlet_params},
    .example = "{name: dirichlet, alpha: [2, 3, 5]}",
    .create = dirichlet_create,
    .destroy = dirichlet_destroy,
    .logp_grad = dirichlet_logp_grad,
    .sample = dirichlet_sample,
    .moments = dirichlet_moments,
    .log_z = dirichlet_log_z,
    .domain = dirichlet_domain,
    .logp_grad_dual = dirichlet_logp_grad_dual,
};
