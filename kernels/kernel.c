/* The kernel object: a profile plug-in, a bandwidth rule (fixed or median)
 * and bandwidth scales (multi-bandwidth sum), evaluated on vectors of
 * squared distances. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "pflow/checkpoint.h"
#include "pflow/error.h"
#include "pflow/kernel.h"

enum { MAX_SCALES = 32 };

struct pf_kernel {
  const pf_kernel_ops *ops;
  void *ctx;
  pf_bw_rule rule;
  double h;
  size_t nscales;
  double scales[MAX_SCALES];
  size_t max_n;
  double *work; /* max_n (max_n - 1) / 2 squared distances for the median */
};

const pf_param pf_kernel_common_params[] = {
    {"bandwidth", PF_P_STRING, "median", NULL,
     "h in k = phi(|x-y|^2 / h): a positive number, median (of |x_i-x_j|^2 "
     "over pairs i<j), median_log (median / log(n+1), SVGD heuristic) or "
     "median_ref (mirror-Stein code: median of all n^2 entries, zeros "
     "included)", 0, NULL, NULL},
    {"scales", PF_P_REALS, "[1]", "(0,inf)",
     "multi-bandwidth: k = sum_b phi(|x-y|^2 / (scale_b h))", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

void pf__vsqrt(size_t n, const double *x, double *y)
{
  size_t i = 0;
#if defined(__AVX__)
  for (; i + 4 <= n; i += 4)
    _mm256_storeu_pd(y + i, _mm256_sqrt_pd(_mm256_loadu_pd(x + i)));
#endif
  for (; i < n; i++) y[i] = sqrt(x[i]);
}

void pf_kernel_destroy(pf_kernel **k)
{
  if (!k || !*k) return;
  if ((*k)->ops && (*k)->ops->destroy) (*k)->ops->destroy((*k)->ctx);
  free((*k)->work);
  free(*k);
  *k = NULL;
}

int pf_kernel_create_ops(const pf_kernel_ops *ops, const pf_node *params,
                         pf_bw_rule rule, double h, const double *scales,
                         size_t nscales, size_t max_n, pf_kernel **out)
{
  int rc = 0;
  PF_CHECK(ops && out, PF_EINVAL, "pf_kernel_create_ops: NULL argument");
  PF_CHECK(nscales <= MAX_SCALES, PF_EINVAL,
           "at most %d kernel bandwidth scales, got %zu", MAX_SCALES, nscales);
  PF_CHECK(rule != PF_BW_FIXED || (h > 0 && isfinite(h)), PF_EINVAL,
           "kernel bandwidth must be a positive number, got %g", h);
  pf_kernel *k = calloc(1, sizeof *k);
  PF_CHECK(k, PF_ENOMEM, "allocating a kernel");
  k->ops = ops;
  k->rule = rule;
  k->h = rule == PF_BW_FIXED ? h : 1.0;
  k->nscales = scales && nscales ? nscales : 1;
  for (size_t b = 0; b < k->nscales; b++) {
    k->scales[b] = scales && nscales ? scales[b] : 1.0;
    PF_CHECK_GOTO(rc, k->scales[b] > 0 && isfinite(k->scales[b]), PF_EINVAL,
                  fail, "kernel bandwidth scale %zu is %g, not positive", b,
                  k->scales[b]);
  }
  if (max_n > PF_MEDIAN_MAX_POINTS) max_n = PF_MEDIAN_MAX_POINTS;
  k->max_n = max_n;
  if (rule != PF_BW_FIXED && max_n > 1) {
    k->work = malloc(max_n * (max_n - 1) / 2 * sizeof(double));
    PF_CHECK_GOTO(rc, k->work, PF_ENOMEM, fail,
                  "allocating the median workspace for %zu points", max_n);
  }
  if (ops->create) PF_TRY_GOTO(rc, ops->create(params, &k->ctx), fail);
  *out = k;
  return 0;
fail:
  pf_kernel_destroy(&k);
  return rc;
}

int pf_kernel_create(const pf_node *cfg, size_t max_n, pf_kernel **out)
{
  const pf_plugin *pl;
  const char *name = pf_cfg_str(cfg, "name");
  if (!name) PF_CFG_RAISE(cfg, "name", PF_ECONFIG, "kernel needs a name");
  PF_TRY(pf_registry_find(&pf_kernels, name, &pl));
  pf_bw_rule rule = PF_BW_MEDIAN;
  double h = 1.0, *scales = NULL;
  size_t ns = 0;
  const char *bw = pf_cfg_str(cfg, "bandwidth");
  if (!bw || !strcmp(bw, "median"))
    rule = PF_BW_MEDIAN;
  else if (!strcmp(bw, "median_log"))
    rule = PF_BW_MEDIAN_LOG;
  else if (!strcmp(bw, "median_ref"))
    rule = PF_BW_MEDIAN_REF;
  else {
    char *end;
    errno = 0;
    h = strtod(bw, &end);
    if (end == bw || *end || errno || !(h > 0) || !isfinite(h))
      PF_CFG_RAISE(cfg, "bandwidth", PF_ECONFIG,
                   "expected a positive number, median, median_log or "
                   "median_ref, found '%s'", bw);
    rule = PF_BW_FIXED;
  }
  if (pf_cfg_has(cfg, "scales")) {
    PF_TRY(pf_cfg_reals(cfg, "scales", &scales, &ns));
    if (ns > MAX_SCALES) {
      free(scales);
      PF_CFG_RAISE(cfg, "scales", PF_ECONFIG, "at most %d scales, found %zu",
                   MAX_SCALES, ns);
    }
  }
  int rc = pf_kernel_create_ops((const pf_kernel_ops *)pl, cfg, rule, h,
                                scales, ns, max_n, out);
  free(scales);
  PF_TRY(rc);
  return 0;
}

double pf_kernel_bandwidth(const pf_kernel *k) { return k->h; }

int pf_kernel_state(pf_kernel *k, const char *name, pf_state_visitor *v)
{
  return pf_state_f64(v, name, &k->h, 1);
}
pf_bw_rule pf_kernel_rule(const pf_kernel *k) { return k->rule; }
const pf_kernel_ops *pf_kernel_ops_of(const pf_kernel *k) { return k->ops; }

/* k-th smallest of a[0..n-1] (partially reorders a): Wirth's selection
 * (Hoare partition, median-of-three pivot), expected O(n).  Afterwards
 * a[0..k-1] <= a[k] <= a[k+1..n-1]. */
static double select_kth(double *a, size_t n, size_t kth)
{
  ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, k = (ptrdiff_t)kth;
  while (l < r) {
    double x = a[l], y = a[l + (r - l) / 2], z = a[r];
    double piv = x < y ? (y < z ? y : (x < z ? z : x))
                       : (x < z ? x : (y < z ? z : y));
    ptrdiff_t i = l, j = r;
    do {
      while (a[i] < piv) i++;
      while (piv < a[j]) j--;
      if (i <= j) {
        double t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) r = j;
  }
  return a[k];
}

/* k-th smallest of the n values a[] >= 0 (destroys a), and, when next is
 * not NULL, the (k+1)-th (k + 1 < n).  Non-negative doubles sort like their
 * bit patterns, so one counting pass over the top 14 bits (exponent and 2
 * mantissa bits: quarter-octave buckets) finds the bucket holding the k-th
 * value, a second pass compacts that bucket, and quickselect finishes on
 * it: ~2 streaming passes instead of quickselect's branchy partitions over
 * all n^2/2 distances (about 3x faster here). */
static double select_nonneg(double *a, size_t n, size_t k, double *next)
{
  enum { SHIFT = 50, NB = 1 << 14 };
  static _Thread_local uint32_t hist[NB];
  memset(hist, 0, sizeof hist);
  for (size_t i = 0; i < n; i++) {
    uint64_t u;
    memcpy(&u, &a[i], sizeof u);
    hist[u >> SHIFT]++;
  }
  size_t b = 0, below = 0;
  while (below + hist[b] <= k) below += hist[b++];
  size_t m = 0;
  double above = INFINITY; /* smallest value in a higher bucket */
  for (size_t i = 0; i < n; i++) {
    uint64_t u;
    double v = a[i];
    memcpy(&u, &v, sizeof u);
    size_t key = (size_t)(u >> SHIFT);
    if (key == b)
      a[m++] = v;
    else if (key > b && v < above)
      above = v;
  }
  size_t kk = k - below;
  double v = select_kth(a, m, kk);
  if (next) {
    double nx = above;
    for (size_t i = kk + 1; i < m; i++)
      if (a[i] < nx) nx = a[i];
    *next = nx;
  }
  return v;
}

typedef double pf__v4d __attribute__((vector_size(32)));

/* |x - y|^2 from exact differences: blocks of 8 coordinates in two 4-lane
 * accumulators (a serial sum is latency-bound: ~4 cycles a coordinate),
 * reduced in a fixed order, then the remaining coordinates in order.  The
 * result depends only on x, y and d. */
static double sqdist(const double *x, const double *y, size_t d)
{
  const size_t d8 = d - d % 8;
  double s = 0.0;
  if (d8) {
    pf__v4d a = {0}, b = {0};
    for (size_t c = 0; c < d8; c += 8) {
      pf__v4d x0, x1, y0, y1;
      memcpy(&x0, x + c, 32);
      memcpy(&x1, x + c + 4, 32);
      memcpy(&y0, y + c, 32);
      memcpy(&y1, y + c + 4, 32);
      const pf__v4d t0 = x0 - y0, t1 = x1 - y1;
      a += t0 * t0;
      b += t1 * t1;
    }
    a += b;
    s = (a[0] + a[1]) + (a[2] + a[3]);
  }
  for (size_t c = d8; c < d; c++) {
    const double t = x[c] - y[c];
    s += t * t;
  }
  return s;
}

double pf_median_sqdist(pf_bw_rule rule, size_t n, size_t d, const double *X,
                        double *work)
{
  if (n < 2) return 0.0;
  const size_t np = n * (n - 1) / 2;
  /* Row i's pairs (i, j > i) start at offset i n - i (i + 1) / 2. */
#pragma omp parallel for schedule(static, 8)
  for (size_t i = 0; i < n - 1; i++) {
    double *w = work + i * n - i * (i + 1) / 2;
    const double *xi = X + i * d;
    for (size_t j = i + 1; j < n; j++)
      w[j - i - 1] = sqdist(xi, X + j * d, d);
  }
  if (rule == PF_BW_MEDIAN_REF) {
    /* Upper median of the n^2 entries: sorted index N - N/2 (N = n^2), the
     * first n of which are the diagonal zeros and the rest each pair
     * twice. */
    size_t N = n * n, idx = N - N / 2;
    if (idx < n) return 0.0;
    return select_nonneg(work, np, (idx - n) / 2, NULL);
  }
  double hi;
  double lo = select_nonneg(work, np, (np - 1) / 2, np % 2 ? NULL : &hi);
  return np % 2 ? lo : 0.5 * (lo + hi);
}

int pf_kernel_fit(pf_kernel *k, size_t n, size_t d, const double *X)
{
  if (k->rule == PF_BW_FIXED) return 0;
  size_t nm = n > PF_MEDIAN_MAX_POINTS ? PF_MEDIAN_MAX_POINTS : n;
  double *work = k->work;
  if (k->max_n == 0 && nm > 1) { /* one-off fit: temporary workspace */
    work = malloc(nm * (nm - 1) / 2 * sizeof(double));
    PF_CHECK(work, PF_ENOMEM, "allocating the median workspace (%zu points)",
             nm);
  } else {
    PF_CHECK(nm <= k->max_n, PF_EINVAL,
             "pf_kernel_fit: %zu points but the kernel was made for at most "
             "%zu", n, k->max_n);
  }
  double med = nm > 1 ? pf_median_sqdist(k->rule, nm, d, X, work) : 0.0;
  if (work != k->work) free(work);
  pf__kernel_set_median(k, n, med);
  return 0;
}

int pf__kernel_exp_rate(const pf_kernel *k, double *m)
{
  extern const pf_kernel_ops pf_kernel_rbf;
  if (k->ops != &pf_kernel_rbf || k->nscales != 1) return 0;
  /* rbf_profile: f = exp(-ih r2), f1 = -ih f with this ih */
  *m = -(1.0 / (k->h * k->scales[0]));
  return 1;
}

void pf__kernel_set_median(pf_kernel *k, size_t n, double med)
{
  if (k->rule == PF_BW_FIXED) return;
  if (k->rule == PF_BW_MEDIAN_LOG && n > 0) med /= log((double)n + 1.0);
  /* Coincident points (median 0): fall back to 1 as the reference code
   * does, rather than dividing by 0. */
  k->h = med > 0 && isfinite(med) ? med : 1.0;
}

void pf_kernel_eval(const pf_kernel *k, size_t n, const double *r2,
                    double *f, double *f1, double *f2, double *work)
{
  if (k->nscales == 1) {
    k->ops->profile(k->ctx, n, r2, 1.0 / (k->h * k->scales[0]), f, f1, f2);
    return;
  }
  double *g = work, *g1 = work + n, *g2 = work + 2 * n;
  for (size_t b = 0; b < k->nscales; b++) {
    const double ih = 1.0 / (k->h * k->scales[b]);
    double *o = b ? g : f, *o1 = f1 ? (b ? g1 : f1) : NULL,
           *o2 = f2 ? (b ? g2 : f2) : NULL;
    k->ops->profile(k->ctx, n, r2, ih, o, o1, o2);
    if (!b) continue;
#pragma omp simd
    for (size_t i = 0; i < n; i++) f[i] += g[i];
    if (f1)
#pragma omp simd
      for (size_t i = 0; i < n; i++) f1[i] += g1[i];
    if (f2)
#pragma omp simd
      for (size_t i = 0; i < n; i++) f2[i] += g2[i];
  }
}
