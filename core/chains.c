/* Chain statistics (rank-normalized split R-hat, bulk and tail ESS), the
 * inverse normal CDF and the ESS of weighted samples; definitions and
 * references in include/pflow/chains.h.  Sums run in a fixed order, so
 * results do not depend on anything but the input. */
#include "pflow/chains.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ------------------------------------------------ inverse normal CDF */

/* Rational approximations of Wichura (1988), AS241 PPND16: the central
 * region |p - 1/2| <= 0.425 in r = 0.180625 - q^2, then two tail regions
 * in r = sqrt(-log(min(p, 1-p))), split at r = 5.  Coefficients from the
 * paper's Table. */
static double poly7(const double *c, double r)
{
  return ((((((c[7] * r + c[6]) * r + c[5]) * r + c[4]) * r + c[3]) * r +
           c[2]) * r + c[1]) * r + c[0];
}

double pf_norm_quantile(double p)
{
  static const double a[8] = {
      3.3871328727963666080e0, 1.3314166789178437745e2,
      1.9715909503065514427e3, 1.3731693765509461125e4,
      4.5921953931549871457e4, 6.7265770927008700853e4,
      3.3430575583588128105e4, 2.5090809287301226727e3};
  static const double b[8] = {
      1.0,                     4.2313330701600911252e1,
      6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4,
      2.8729085735721942674e4, 5.2264952788528545610e3};
  static const double c[8] = {
      1.42343711074968357734e0, 4.63033784615654529590e0,
      5.76949722146069140550e0, 3.64784832476320460504e0,
      1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4};
  static const double d[8] = {
      1.0,                      2.05319162663775882187e0,
      1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2,
      5.47593808499534494600e-4, 1.05075007164441684324e-9};
  static const double e[8] = {
      6.65790464350110377720e0, 5.46378491116411436990e0,
      1.78482653991729133580e0, 2.96560571828504891230e-1,
      2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7};
  static const double f[8] = {
      1.0,                      5.99832206555887937690e-1,
      1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5,
      1.42151175831644588870e-7, 2.04426310338993978564e-15};
  if (!(p >= 0.0 && p <= 1.0)) return NAN;
  if (p == 0.0) return -INFINITY;
  if (p == 1.0) return INFINITY;
  double q = p - 0.5;
  if (fabs(q) <= 0.425) {
    double r = 0.180625 - q * q;
    return q * poly7(a, r) / poly7(b, r);
  }
  /* min(p, 1 - p) without cancellation: for p > 1/2, 1 - p is exact in
   * binary floating point (Sterbenz). */
  double r = sqrt(-log(q < 0 ? p : 1.0 - p)), z;
  if (r <= 5.0) {
    r -= 1.6;
    z = poly7(c, r) / poly7(d, r);
  } else {
    r -= 5.0;
    z = poly7(e, r) / poly7(f, r);
  }
  return q < 0 ? -z : z;
}

double pf_quantile_sorted(const double *v, size_t n, double p)
{
  if (n == 0) return NAN;
  double pos = p * (double)(n - 1);
  size_t lo = (size_t)floor(pos);
  if (lo >= n - 1) return v[n - 1];
  double frac = pos - (double)lo;
  return v[lo] + frac * (v[lo + 1] - v[lo]);
}

/* ------------------------------------------------ weighted samples */

int pf_ess_log_weights(const double *logw, size_t n, double *ess_frac)
{
  PF_CHECK(logw && ess_frac, PF_EINVAL, "pf_ess_log_weights: NULL argument");
  PF_CHECK(n > 0, PF_EINVAL, "pf_ess_log_weights: no samples");
  double mx = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    PF_CHECK(!isnan(logw[i]) && logw[i] != INFINITY, PF_ENONFINITE,
             "log weight %zu is %g", i, logw[i]);
    if (logw[i] > mx) mx = logw[i];
  }
  PF_CHECK(mx > -INFINITY, PF_EINVAL, "every weight is zero");
  /* With w_i = exp(l_i - max) <= 1, both sums are in [1, n]. */
  double s1 = 0.0, s2 = 0.0;
  for (size_t i = 0; i < n; i++) {
    double w = exp(logw[i] - mx);
    s1 += w;
    s2 += w * w;
  }
  *ess_frac = s1 * s1 / (s2 * (double)n);
  return 0;
}

/* ------------------------------------------------ autocovariance */

/* In-place iterative radix-2 complex FFT of length len (a power of two),
 * interleaved re/im; tw[k] = exp(-2 pi i k / len), k < len/2. */
static void fft(double *a, size_t len, const double *tw)
{
  for (size_t i = 1, j = 0; i < len; i++) {
    size_t bit = len >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i < j) {
      double t0 = a[2 * i], t1 = a[2 * i + 1];
      a[2 * i] = a[2 * j];
      a[2 * i + 1] = a[2 * j + 1];
      a[2 * j] = t0;
      a[2 * j + 1] = t1;
    }
  }
  for (size_t half = 1; half < len; half <<= 1) {
    size_t stride = len / (2 * half);
    for (size_t s = 0; s < len; s += 2 * half)
      for (size_t k = 0; k < half; k++) {
        double wr = tw[2 * k * stride], wi = tw[2 * k * stride + 1];
        double *u = a + 2 * (s + k), *v = a + 2 * (s + k + half);
        double vr = v[0] * wr - v[1] * wi, vi = v[0] * wi + v[1] * wr;
        v[0] = u[0] - vr;
        v[1] = u[1] - vi;
        u[0] += vr;
        u[1] += vi;
      }
  }
}

/* Workspace of one ESS computation over M chains of h draws. */
typedef struct acov_ws {
  const double *y;
  size_t M, h;
  double *mean;     /* M chain means */
  double *acov;     /* mean over chains of acov_c(t), t < h */
  size_t n_known;   /* acov[0..n_known-1] are computed */
  double *buf, *tw; /* FFT: 2 * len each (buf), len (tw) */
  size_t len;
} acov_ws;

/* Lags computed by direct sums before switching to the FFT: direct sums
 * cost M h per lag, the FFT M len log len for all lags. */
enum { PF__DIRECT_LAGS = 64 };

int pf__chains_mean_acov(acov_ws *w, size_t t);

static void acov_direct(acov_ws *w, size_t t)
{
  const size_t h = w->h;
  double s = 0.0;
  for (size_t c = 0; c < w->M; c++) {
    const double *y = w->y + c * h;
    const double mu = w->mean[c];
    double a = 0.0;
    for (size_t i = 0; i + t < h; i++) a += (y[i] - mu) * (y[i + t] - mu);
    s += a / (double)h;
  }
  w->acov[t] = s / (double)w->M;
}

/* All lags at once: the autocovariance is the inverse transform of the
 * power spectrum of the zero-padded centred chain (len >= 2h avoids
 * wrap-around). */
static int acov_fft(acov_ws *w)
{
  const size_t h = w->h;
  size_t len = 1;
  while (len < 2 * h) len <<= 1;
  w->len = len;
  w->buf = malloc(2 * len * sizeof *w->buf);
  w->tw = malloc(len * sizeof *w->tw);
  PF_CHECK(w->buf && w->tw, PF_ENOMEM, "FFT workspace (%zu)", len);
  for (size_t k = 0; k < len / 2; k++) {
    double ang = -2.0 * M_PI * (double)k / (double)len;
    w->tw[2 * k] = cos(ang);
    w->tw[2 * k + 1] = sin(ang);
  }
  for (size_t t = 0; t < h; t++) w->acov[t] = 0.0;
  for (size_t c = 0; c < w->M; c++) {
    const double *y = w->y + c * h;
    memset(w->buf, 0, 2 * len * sizeof *w->buf);
    for (size_t i = 0; i < h; i++) w->buf[2 * i] = y[i] - w->mean[c];
    fft(w->buf, len, w->tw);
    for (size_t k = 0; k < len; k++) {
      double re = w->buf[2 * k], im = w->buf[2 * k + 1];
      w->buf[2 * k] = re * re + im * im;
      w->buf[2 * k + 1] = 0.0;
    }
    /* The power spectrum is real and even, so the forward transform
     * equals len times the inverse one. */
    fft(w->buf, len, w->tw);
    for (size_t t = 0; t < h; t++)
      w->acov[t] += w->buf[2 * t] / ((double)len * (double)h);
  }
  for (size_t t = 0; t < h; t++) w->acov[t] /= (double)w->M;
  w->n_known = h;
  return 0;
}

/* Mean over chains of the (biased, 1/h) autocovariance at lag t; lags are
 * computed on demand because Geyer's truncation usually stops early.
 * Non-static for the tests (direct sums vs FFT); force_fft = (size_t)-1
 * computes every lag by FFT at once. */
int pf__chains_mean_acov(acov_ws *w, size_t t)
{
  if (t == (size_t)-1) return acov_fft(w);
  if (t < w->n_known) return 0;
  if (t < PF__DIRECT_LAGS || w->h <= 2 * PF__DIRECT_LAGS) {
    for (size_t k = w->n_known; k <= t; k++) acov_direct(w, k);
    w->n_known = t + 1;
    return 0;
  }
  return acov_fft(w);
}

static void acov_ws_free(acov_ws *w)
{
  free(w->mean);
  free(w->acov);
  free(w->buf);
  free(w->tw);
}

/* Geyer ESS of M chains of h draws (y is M x h).  fft_all: compute every
 * lag by FFT up front (tests).  NaN when h < 5: Geyer's first pair needs
 * lags 2 and 3 with at least one more draw. */
static int ess_geyer(const double *y, size_t M, size_t h, int fft_all,
                     double *ess)
{
  int rc = 0;
  acov_ws w = {y, M, h, NULL, NULL, 0, NULL, NULL, 0};
  double *rho = NULL;
  *ess = NAN;
  if (h < 5) return 0;
  for (size_t i = 0; i < M * h; i++)
    if (!isfinite(y[i])) return 0;
  w.mean = malloc(M * sizeof *w.mean);
  w.acov = malloc(h * sizeof *w.acov);
  rho = malloc(h * sizeof *rho);
  PF_CHECK_GOTO(rc, w.mean && w.acov && rho, PF_ENOMEM, done,
                "ESS workspace (%zu chains x %zu draws)", M, h);
  double mean_of_means = 0.0;
  for (size_t c = 0; c < M; c++) {
    double s = 0.0;
    for (size_t i = 0; i < h; i++) s += y[c * h + i];
    w.mean[c] = s / (double)h;
    mean_of_means += w.mean[c];
  }
  mean_of_means /= (double)M;
  if (fft_all) PF_TRY_GOTO(rc, pf__chains_mean_acov(&w, (size_t)-1), done);
  PF_TRY_GOTO(rc, pf__chains_mean_acov(&w, 1), done);
  /* W: mean within-chain variance (1/(h-1)); var+ = (h-1)/h W + B/h with
   * B/h the variance of the chain means (1/(M-1)). */
  const double W = w.acov[0] * (double)h / (double)(h - 1);
  double var_plus = W * (double)(h - 1) / (double)h;
  if (M > 1) {
    double b = 0.0;
    for (size_t c = 0; c < M; c++)
      b += (w.mean[c] - mean_of_means) * (w.mean[c] - mean_of_means);
    var_plus += b / (double)(M - 1);
  }
  if (!(var_plus > 0.0) || !isfinite(var_plus)) goto done;

  for (size_t k = 0; k < h; k++) rho[k] = 0.0;
  double even = 1.0, odd = 1.0 - (W - w.acov[1]) / var_plus;
  rho[0] = even;
  rho[1] = odd;
  /* Initial positive sequence: add pairs (t+1, t+2) while the pair sum is
   * positive.  max_t is the last lag of the pairs accepted before the
   * loop ended (Stan's bookkeeping: when the loop runs out of lags, the
   * last accepted pair's odd term is not counted either). */
  size_t t = 1;
  while (t + 3 < h && even + odd > 0.0) {
    PF_TRY_GOTO(rc, pf__chains_mean_acov(&w, t + 2), done);
    even = 1.0 - (W - w.acov[t + 1]) / var_plus;
    odd = 1.0 - (W - w.acov[t + 2]) / var_plus;
    if (even + odd >= 0.0) {
      rho[t + 1] = even;
      rho[t + 2] = odd;
    }
    t += 2;
  }
  const size_t max_t = t - 2; /* t >= 3: the loop ran at least once */
  /* A positive even term of the pair that ended the loop still counts. */
  if (even > 0.0) rho[max_t + 1] = even;
  /* Initial monotone sequence: pair sums must not increase. */
  for (size_t k = 1; k + 2 <= max_t; k += 2)
    if (rho[k + 1] + rho[k + 2] > rho[k - 1] + rho[k]) {
      rho[k + 1] = 0.5 * (rho[k - 1] + rho[k]);
      rho[k + 2] = rho[k + 1];
    }
  double sum = 0.0;
  for (size_t k = 0; k <= max_t; k++) sum += rho[k];
  double tau = -1.0 + 2.0 * sum + rho[max_t + 1];
  const double S = (double)M * (double)h;
  const double floor_tau = 1.0 / log10(S);
  if (tau < floor_tau) tau = floor_tau;
  *ess = S / tau;
done:
  acov_ws_free(&w);
  free(rho);
  return rc;
}

/* ------------------------------------------------ R-hat */

/* Potential scale reduction of M chains of h draws: sqrt(var+ / W). */
static double rhat_of(const double *y, size_t M, size_t h)
{
  double grand = 0.0, wsum = 0.0, bsum = 0.0;
  for (size_t i = 0; i < M * h; i++)
    if (!isfinite(y[i])) return NAN;
  /* chain means first (fixed order), then within variances */
  double *means = malloc(M * sizeof *means);
  if (!means) return NAN;
  for (size_t c = 0; c < M; c++) {
    double s = 0.0;
    for (size_t i = 0; i < h; i++) s += y[c * h + i];
    means[c] = s / (double)h;
    grand += means[c];
  }
  grand /= (double)M;
  for (size_t c = 0; c < M; c++) {
    double s = 0.0;
    for (size_t i = 0; i < h; i++) {
      double e = y[c * h + i] - means[c];
      s += e * e;
    }
    wsum += s / (double)(h - 1);
    bsum += (means[c] - grand) * (means[c] - grand);
  }
  free(means);
  double W = wsum / (double)M;
  double B_over_h = M > 1 ? bsum / (double)(M - 1) : 0.0;
  if (!(W > 0.0)) return NAN;
  return sqrt(((double)(h - 1) / (double)h * W + B_over_h) / W);
}

/* ------------------------------------------------ ranks, splitting */

typedef struct vi {
  double v;
  size_t i;
} vi;

static int cmp_vi(const void *a, const void *b)
{
  const vi *x = a, *y = b;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return x->i < y->i ? -1 : x->i > y->i; /* total order: deterministic */
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* z[i] = Phi^-1((r_i - 3/8) / (S + 1/4)) with r_i the average rank of
 * y[i] among the S values (1-based; ties share the mean of their ranks).
 * If sorted is not NULL it receives the values in increasing order. */
static void rank_normalize(const double *y, size_t S, vi *pairs, double *z,
                           double *sorted)
{
  for (size_t i = 0; i < S; i++) {
    pairs[i].v = y[i];
    pairs[i].i = i;
  }
  qsort(pairs, S, sizeof *pairs, cmp_vi);
  for (size_t a = 0; a < S;) {
    size_t b = a;
    while (b + 1 < S && pairs[b + 1].v == pairs[a].v) b++;
    /* ranks a+1 .. b+1 share their mean */
    double r = 0.5 * ((double)(a + 1) + (double)(b + 1));
    double zz = pf_norm_quantile((r - 0.375) / ((double)S + 0.25));
    for (size_t k = a; k <= b; k++) {
      z[pairs[k].i] = zz;
      if (sorted) sorted[k] = pairs[k].v;
    }
    a = b + 1;
  }
}

/* The first and last h = n/2 draws of each chain as chains 2c, 2c+1. */
static void split_chains(const double *x, size_t m, size_t n, double *s)
{
  const size_t h = n / 2;
  for (size_t c = 0; c < m; c++) {
    memcpy(s + 2 * c * h, x + c * n, h * sizeof *s);
    memcpy(s + (2 * c + 1) * h, x + c * n + (n - h), h * sizeof *s);
  }
}

static int check_args(const void *x, size_t m, size_t n, const void *out)
{
  PF_CHECK(x && out, PF_EINVAL, "chain statistics: NULL argument");
  PF_CHECK(m >= 1 && n >= 4, PF_EINVAL,
           "chain statistics need >= 1 chain of >= 4 draws (got %zu x %zu)",
           m, n);
  PF_CHECK(m <= ((size_t)-1) / 4 / n, PF_EINVAL, "too many draws");
  return 0;
}

int pf_chains_ess(const double *x, size_t m, size_t n, double *ess)
{
  PF_TRY(check_args(x, m, n, ess));
  return ess_geyer(x, m, n, 0, ess);
}

/* For the tests: the same with every autocovariance lag from the FFT. */
int pf__chains_ess_fft(const double *x, size_t m, size_t n, double *ess);
int pf__chains_ess_fft(const double *x, size_t m, size_t n, double *ess)
{
  PF_TRY(check_args(x, m, n, ess));
  return ess_geyer(x, m, n, 1, ess);
}

int pf_chains_rhat_split(const double *x, size_t m, size_t n, double *rhat)
{
  PF_TRY(check_args(x, m, n, rhat));
  const size_t h = n / 2;
  double *s = malloc(2 * m * h * sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "R-hat workspace (%zu x %zu)", m, n);
  split_chains(x, m, n, s);
  *rhat = rhat_of(s, 2 * m, h);
  free(s);
  return 0;
}

int pf_chain_stats_compute(const double *x, size_t m, size_t n,
                           pf_chain_stats *out)
{
  PF_TRY(check_args(x, m, n, out));
  int rc = 0;
  const size_t h = n / 2, M = 2 * m, S = M * h;
  out->rhat = out->rhat_bulk = out->rhat_tail = NAN;
  out->ess_bulk = out->ess_tail = NAN;
  for (size_t i = 0; i < m * n; i++)
    if (!isfinite(x[i])) return 0;
  double *s = malloc(S * sizeof *s), *z = malloc(S * sizeof *z);
  double *sorted = malloc(S * sizeof *sorted);
  double *all = malloc(m * n * sizeof *all);
  vi *pairs = malloc(S * sizeof *pairs);
  PF_CHECK_GOTO(rc, s && z && sorted && all && pairs, PF_ENOMEM, done,
                "chain statistics workspace (%zu x %zu)", m, n);

  split_chains(x, m, n, s);
  rank_normalize(s, S, pairs, z, sorted);
  if (sorted[0] == sorted[S - 1]) goto done; /* no spread: all NaN */
  out->rhat_bulk = rhat_of(z, M, h);
  PF_TRY_GOTO(rc, ess_geyer(z, M, h, 0, &out->ess_bulk), done);

  /* Tail ESS: indicators of the 5% and 95% quantiles of the split draws. */
  double tail = INFINITY;
  for (int k = 0; k < 2; k++) {
    double q = pf_quantile_sorted(sorted, S, k ? 0.95 : 0.05), e;
    for (size_t i = 0; i < S; i++) z[i] = s[i] <= q ? 1.0 : 0.0;
    PF_TRY_GOTO(rc, ess_geyer(z, M, h, 0, &e), done);
    if (isnan(e) || e < tail) tail = e;
    if (isnan(e)) break;
  }
  out->ess_tail = tail;

  /* Folded draws about the median of all draws, then split and ranked. */
  memcpy(all, x, m * n * sizeof *all);
  qsort(all, m * n, sizeof *all, cmp_double);
  double med = pf_quantile_sorted(all, m * n, 0.5);
  for (size_t i = 0; i < m * n; i++) all[i] = fabs(x[i] - med);
  split_chains(all, m, n, s);
  rank_normalize(s, S, pairs, z, NULL);
  out->rhat_tail = rhat_of(z, M, h);
  out->rhat = isnan(out->rhat_bulk) || isnan(out->rhat_tail)
                  ? NAN
                  : fmax(out->rhat_bulk, out->rhat_tail);
done:
  free(s);
  free(z);
  free(sorted);
  free(all);
  free(pairs);
  return rc;
}
