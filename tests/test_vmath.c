/* Tests of core/vmath.c: accuracy against libm on wide argument ranges,
 * special values, tail handling, aliasing and Box-Muller.
 *
 * Accuracy is measured two ways for every point:
 *   - against glibc's double function, in ULP of the libm value: SLEEF's
 *     u10 bound (1 ULP) plus libm's own error (< 1 ULP) gives the asserted
 *     bound of 2;
 *   - against glibc's x87 long double function (64-bit mantissa, so its
 *     own error is ~2^-11 double ULP), in ULP of the double binade of the
 *     exact value: this is SLEEF's true error, asserted <= PF_VM_ULP plus
 *     a margin of 0.02 for the reference's error.
 * Set PF_TEST_VERBOSE=1 to print the maxima. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/vmath.h"

/* A local SplitMix64 so these tests do not depend on core/rng.c. */
static uint64_t sm_state;
static uint64_t sm_next(void)
{
  uint64_t z = (sm_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double sm_unit(void) { return (double)(sm_next() >> 11) * 0x1p-53; }
/* Uniform on [a, b]. */
static double sm_lin(double a, double b) { return a + (b - a) * sm_unit(); }
/* Log-uniform magnitude on [a, b], a > 0, random sign if sign != 0. */
static double sm_log(double a, double b, int sign)
{
  double x = exp(log(a) + (log(b) - log(a)) * sm_unit());
  if (x < a) x = a;
  if (x > b) x = b;
  return sign && (sm_next() & 1) ? -x : x;
}
/* A random finite positive double from its bit pattern: every binade,
 * subnormals included, equally likely. */
static double sm_bits_positive(void)
{
  for (;;) {
    uint64_t b = sm_next() & 0x7fffffffffffffffULL;
    double x;
    memcpy(&x, &b, sizeof x);
    if (isfinite(x) && x > 0) return x;
  }
}

/* Spacing of doubles in the binade of v (2^-1074 for subnormals and 0). */
static long double ulp_of(long double v)
{
  v = fabsl(v);
  if (v < (long double)DBL_MIN) return 0x1p-1074L;
  int e;
  frexpl(v, &e); /* v = f 2^e, f in [0.5, 1) */
  return ldexpl(1.0L, e - 53);
}

typedef struct acc {
  double max_libm, max_true; /* ULP */
  double at_libm, at_true;   /* arguments of the maxima */
  size_t n;
} acc;

static void acc_add(acc *a, double x, double y, double libm, long double ex)
{
  double el = (double)(fabsl((long double)y - (long double)libm) /
                       ulp_of((long double)libm));
  double et = (double)(fabsl((long double)y - ex) / ulp_of(ex));
  if (!(el <= a->max_libm)) a->max_libm = el, a->at_libm = x;
  if (!(et <= a->max_true)) a->max_true = et, a->at_true = x;
  a->n++;
}

static int acc_check(const acc *a, const char *name)
{
  if (getenv("PF_TEST_VERBOSE"))
    printf("    %-6s %7zu points: max %.3f ULP vs libm (x = %.17g), "
           "%.3f ULP vs long double (x = %.17g)\n", name, a->n, a->max_libm,
           a->at_libm, a->max_true, a->at_true);
  PF_T_ASSERT(a->max_libm <= 2.0, "%s: %.3f ULP from libm at x = %.17g",
              name, a->max_libm, a->at_libm);
  PF_T_ASSERT(a->max_true <= PF_VM_ULP + 0.02,
              "%s: %.3f ULP from the long double value at x = %.17g", name,
              a->max_true, a->at_true);
  return 0;
}

enum { NPTS = 1 << 19 };

/* Arguments of one function: a mix of ranges chosen by gen(k). */
typedef double (*gen_fn)(size_t k);

static double gen_exp(size_t k)
{
  switch (k % 4) {
  case 0: return sm_lin(-745.0, 709.78);       /* finite results */
  case 1: return sm_log(1e-300, 700.0, 1);     /* every magnitude */
  case 2: return sm_lin(-745.13, -708.0);      /* subnormal results */
  default: return sm_lin(-1.0, 1.0);
  }
}
static double gen_log(size_t k)
{
  switch (k % 3) {
  case 0: return sm_bits_positive();           /* all binades */
  case 1: return 1.0 + sm_log(1e-300, 1e-2, 1); /* near 1 */
  default: return sm_lin(0.0, 4.0);
  }
}
static double gen_log1p(size_t k)
{
  switch (k % 6) {
  case 0: return sm_bits_positive();
  case 5: return sm_log(1e306, DBL_MAX, 0);    /* SLEEF's 1e307 cut-off */
  case 1: return sm_log(1e-320, 1e-3, 1);      /* near 0, both signs */
  case 2: return -sm_unit();                    /* (-1, 0] */
  case 3: return -1.0 + sm_log(0x1p-53, 1e-2, 0); /* near -1 */
  default: return sm_lin(-0.5, 10.0);
  }
}
static double gen_expm1(size_t k)
{
  switch (k % 4) {
  case 0: return sm_lin(-50.0, 709.78);
  case 1: return sm_log(1e-320, 1e-3, 1);      /* near 0 */
  case 2: return sm_log(1e-3, 700.0, 1);
  default: return sm_lin(-1.0, 1.0);
  }
}
static double gen_sincos(size_t k)
{
  switch (k % 5) {
  case 0: return sm_log(1e-300, 1e300, 1);     /* every magnitude */
  case 1: return sm_lin(-10.0, 10.0);
  case 2: return sm_log(1e5, 1e22, 1);         /* large */
  case 3: /* near multiples of pi/2 */
    return (double)(int64_t)(sm_next() % 2001 - 1000) * 1.5707963267948966 *
           (1.0 + sm_log(1e-17, 1e-10, 1));
  default: return sm_log(1e-320, 1e-5, 1);     /* tiny */
  }
}

static double *gen_points(gen_fn gen, uint64_t seed)
{
  double *x = malloc(NPTS * sizeof *x);
  if (!x) return NULL;
  sm_state = seed;
  for (size_t k = 0; k < NPTS; k++) x[k] = gen(k);
  return x;
}

/* One unary function: SLEEF wrapper vs libm double and long double. */
static int check_unary(const char *name, void (*vm)(size_t, const double *,
                                                       double *),
                       double (*f)(double), long double (*fl)(long double),
                       gen_fn gen, uint64_t seed)
{
  double *x = gen_points(gen, seed), *y = malloc(NPTS * sizeof *y);
  PF_T_ASSERT(x && y, "malloc");
  vm(NPTS, x, y);
  acc a = {0};
  int nonfinite = 0;
  for (size_t k = 0; k < NPTS; k++) {
    double ref = f(x[k]);
    if (!isfinite(ref)) {
      nonfinite += !(isinf(y[k]) && y[k] == ref);
      continue;
    }
    acc_add(&a, x[k], y[k], ref, fl((long double)x[k]));
  }
  free(x);
  free(y);
  PF_T_ASSERT(nonfinite == 0, "%s: %d infinite libm values not matched",
              name, nonfinite);
  return acc_check(&a, name);
}

static int test_exp(void)
{
  return check_unary("exp", pf_vm_exp, exp, expl, gen_exp, 1);
}
static int test_log(void)
{
  return check_unary("log", pf_vm_log, log, logl, gen_log, 2);
}
static int test_log1p(void)
{
  return check_unary("log1p", pf_vm_log1p, log1p, log1pl, gen_log1p, 3);
}
static int test_expm1(void)
{
  return check_unary("expm1", pf_vm_expm1, expm1, expm1l, gen_expm1, 4);
}

static int test_sincos(void)
{
  double *x = gen_points(gen_sincos, 5);
  double *s = malloc(NPTS * sizeof *s), *c = malloc(NPTS * sizeof *c);
  PF_T_ASSERT(x && s && c, "malloc");
  pf_vm_sincos(NPTS, x, s, c);
  acc as = {0}, ac = {0};
  for (size_t k = 0; k < NPTS; k++) {
    acc_add(&as, x[k], s[k], sin(x[k]), sinl((long double)x[k]));
    acc_add(&ac, x[k], c[k], cos(x[k]), cosl((long double)x[k]));
  }
  free(x);
  free(s);
  free(c);
  if (acc_check(&as, "sin")) return 1;
  return acc_check(&ac, "cos");
}

/* The inline exponentials for non-positive arguments (pf_vm_exp_neg4,
 * pf_vm_exp2_neg4): their whole range, small arguments and the points
 * where the range reduction's rounding switches (k + 1/2, in units of ln 2
 * for exp).  Bounds in ULP of the true value: exp 2 (the fitted
 * polynomial's error is 3e-18 relative, the two-part ln 2 reduction carries
 * ~1e-16 of |r|, the last multiply-add and the product round once each);
 * exp2 2.5 (its reduction is exact, but squaring 2^(f/2) doubles that
 * polynomial's rounding). */
static double gen_exp_neg(size_t k)
{
  switch (k % 4) {
  case 0: return sm_lin(-708.0, 0.0);
  case 1: return -sm_log(1e-300, 5.0, 0);
  case 2: return -((double)(sm_next() % 1021) + 0.5) * 0.6931471805599453 *
                 (1.0 + sm_log(1e-17, 1e-12, 1));
  default: return sm_lin(-1.0, 0.0);
  }
}
static double gen_exp2_neg(size_t k)
{
  switch (k % 4) {
  case 0: return sm_lin(-1021.0, 0.0);
  case 1: return -sm_log(1e-300, 5.0, 0);
  case 2: return -((double)(sm_next() % 1021) + 0.5) *
                 (1.0 + sm_log(1e-17, 1e-12, 1));
  default: return sm_lin(-1.0, 0.0);
  }
}

static void exp2_neg_array(size_t n, const double *x, double *y)
{
  for (size_t i = 0; i + 4 <= n; i += 4) /* NPTS is a multiple of 4 */
    _mm256_storeu_pd(y + i, pf_vm_exp2_neg4(_mm256_loadu_pd(x + i)));
}

static void exp2_notnan_array(size_t n, const double *x, double *y)
{
  for (size_t i = 0; i + 4 <= n; i += 4)
    _mm256_storeu_pd(y + i, pf_vm_exp2_neg4_notnan(_mm256_loadu_pd(x + i)));
}

static int check_neg(const char *name, void (*vm)(size_t, const double *,
                                                     double *),
                     long double (*fl)(long double), gen_fn gen,
                     uint64_t seed, double bound)
{
  double *x = gen_points(gen, seed), *y = malloc(NPTS * sizeof *y);
  PF_T_ASSERT(x && y, "malloc");
  vm(NPTS, x, y);
  double worst = 0.0, at = 0.0;
  for (size_t k = 0; k < NPTS; k++) {
    long double ex = fl((long double)x[k]);
    double e = (double)(fabsl((long double)y[k] - ex) / ulp_of(ex));
    if (!(e <= worst)) worst = e, at = x[k];
  }
  free(x);
  free(y);
  if (getenv("PF_TEST_VERBOSE"))
    printf("    %-8s max %.3f ULP (x = %.17g)\n", name, worst, at);
  PF_T_ASSERT(worst <= bound, "%s: %.3f ULP at x = %.17g", name, worst, at);
  return 0;
}

static int test_exp_neg(void)
{
  if (check_neg("exp_neg", pf_vm_exp_neg, expl, gen_exp_neg, 5, 2.0)) return 1;
  if (check_neg("exp2_neg", exp2_neg_array, exp2l, gen_exp2_neg, 6, 2.5))
    return 1;
  /* the integer-add scaling gives the multiply's bits */
  {
    double *x = gen_points(gen_exp2_neg, 7), *y1 = malloc(NPTS * sizeof *y1),
           *y2 = malloc(NPTS * sizeof *y2);
    PF_T_ASSERT(x && y1 && y2, "malloc");
    exp2_neg_array(NPTS, x, y1);
    exp2_notnan_array(NPTS, x, y2);
    size_t diff = 0;
    for (size_t k = 0; k < NPTS; k++) diff += memcmp(y1 + k, y2 + k, 8) != 0;
    free(x), free(y1), free(y2);
    PF_T_ASSERT(diff == 0, "exp2 notnan: %zu of %d differ", diff, NPTS);
  }
  /* NaN stays NaN; -inf and arguments below the clamp give the clamp's
   * value, far below any term the callers add */
  double z[4] = {NAN, -INFINITY, -800.0, 0.0}, o[4];
  pf_vm_exp_neg(4, z, o);
  PF_T_ASSERT(isnan(o[0]) && o[1] >= 0 && o[1] < 1e-300 && o[2] < 1e-300 &&
                  o[3] == 1.0,
              "NaN %g, -inf %g, -800 %g, 0 %g", o[0], o[1], o[2], o[3]);
  __m256d t = pf_vm_exp2_neg4(_mm256_set_pd(0.0, -2000.0, -INFINITY, NAN));
  _mm256_storeu_pd(o, t);
  PF_T_ASSERT(isnan(o[0]) && o[1] < 1e-300 && o[2] < 1e-300 && o[3] == 1.0,
              "exp2: NaN %g, -inf %g, -2000 %g, 0 %g", o[0], o[1], o[2],
              o[3]);
  return 0;
}

/* ---- special values ---------------------------------------------------- */

/* Bitwise equality, so signed zeros and NaNs are checked too. */
static int same(double a, double b)
{
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return a == b && signbit(a) == signbit(b);
}

static int test_special_values(void)
{
  const double inf = INFINITY, nan_ = NAN;
  struct { void (*f)(size_t, const double *, double *); const char *name;
           double x, want; } t[] = {
      {pf_vm_exp, "exp", 0.0, 1.0},      {pf_vm_exp, "exp", -0.0, 1.0},
      {pf_vm_exp, "exp", inf, inf},      {pf_vm_exp, "exp", -inf, 0.0},
      {pf_vm_exp, "exp", nan_, nan_},    {pf_vm_exp, "exp", 710.0, inf},
      {pf_vm_exp, "exp", -746.0, 0.0},
      {pf_vm_log, "log", 1.0, 0.0},      {pf_vm_log, "log", 0.0, -inf},
      {pf_vm_log, "log", -0.0, -inf},    {pf_vm_log, "log", inf, inf},
      {pf_vm_log, "log", -1.0, nan_},    {pf_vm_log, "log", nan_, nan_},
      {pf_vm_log, "log", -inf, nan_},
      {pf_vm_log1p, "log1p", 0.0, 0.0},  {pf_vm_log1p, "log1p", -0.0, -0.0},
      {pf_vm_log1p, "log1p", -1.0, -inf}, {pf_vm_log1p, "log1p", inf, inf},
      {pf_vm_log1p, "log1p", -2.0, nan_}, {pf_vm_log1p, "log1p", nan_, nan_},
      {pf_vm_log1p, "log1p", 1e-300, 1e-300},
      {pf_vm_log1p, "log1p", DBL_MAX, 0x1.62e42fefa39efp+9},
      {pf_vm_expm1, "expm1", 0.0, 0.0},  {pf_vm_expm1, "expm1", -0.0, -0.0},
      {pf_vm_expm1, "expm1", inf, inf},  {pf_vm_expm1, "expm1", -inf, -1.0},
      {pf_vm_expm1, "expm1", nan_, nan_}, {pf_vm_expm1, "expm1", 710.0, inf},
      {pf_vm_expm1, "expm1", -800.0, -1.0},
      {pf_vm_expm1, "expm1", 1e-300, 1e-300},
  };
  for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
    double y;
    t[k].f(1, &t[k].x, &y);
    PF_T_ASSERT(same(y, t[k].want), "%s(%g) = %.17g, want %.17g", t[k].name,
                t[k].x, y, t[k].want);
  }
  const struct { double x, s, c; } sc[] = {
      {0.0, 0.0, 1.0}, {-0.0, -0.0, 1.0}, {inf, nan_, nan_},
      {-inf, nan_, nan_}, {nan_, nan_, nan_}, {1e-300, 1e-300, 1.0},
  };
  for (size_t k = 0; k < sizeof sc / sizeof sc[0]; k++) {
    double s, c;
    pf_vm_sincos(1, &sc[k].x, &s, &c);
    PF_T_ASSERT(same(s, sc[k].s) && same(c, sc[k].c),
                "sincos(%g) = (%g, %g), want (%g, %g)", sc[k].x, s, c,
                sc[k].s, sc[k].c);
  }
  return 0;
}

/* ---- tails, aliasing, bounds ------------------------------------------- */

enum { NT = 37, GUARD = 4 };
#define SENTINEL 12345.678

/* Every length 0..NT: out of place and in place agree bit for bit with the
 * elements of one long call (SLEEF is elementwise, so a tail element must
 * not differ from the same element in a full vector), and nothing past n
 * is written. */
static int check_lengths(const char *name,
                         void (*vm)(size_t, const double *, double *),
                         double lo, double hi)
{
  double x[NT], full[NT], y[NT + GUARD], z[NT + GUARD];
  sm_state = 77;
  for (size_t k = 0; k < NT; k++) x[k] = sm_lin(lo, hi);
  vm(NT, x, full);
  for (size_t n = 0; n <= NT; n++) {
    for (size_t k = 0; k < NT + GUARD; k++) y[k] = z[k] = SENTINEL;
    memcpy(z, x, n * sizeof *x);
    vm(n, x, y);
    vm(n, z, z); /* aliasing: in == out */
    for (size_t k = 0; k < n; k++) {
      PF_T_ASSERT(same(y[k], full[k]), "%s n=%zu element %zu: %a vs %a",
                  name, n, k, y[k], full[k]);
      PF_T_ASSERT(same(z[k], full[k]), "%s in place n=%zu element %zu",
                  name, n, k);
    }
    for (size_t k = n; k < NT + GUARD; k++)
      PF_T_ASSERT(y[k] == SENTINEL && z[k] == SENTINEL,
                  "%s n=%zu wrote element %zu", name, n, k);
  }
  return 0;
}

static int test_lengths_and_aliasing(void)
{
  if (check_lengths("exp", pf_vm_exp, -20, 20)) return 1;
  if (check_lengths("log", pf_vm_log, 1e-3, 1e3)) return 1;
  if (check_lengths("log1p", pf_vm_log1p, -0.9, 10)) return 1;
  if (check_lengths("expm1", pf_vm_expm1, -5, 5)) return 1;

  /* sincos: s aliasing x, and c aliasing x. */
  double x[NT], fs[NT], fc[NT], s[NT + GUARD], c[NT + GUARD], w[NT + GUARD];
  sm_state = 78;
  for (size_t k = 0; k < NT; k++) x[k] = sm_lin(-100, 100);
  pf_vm_sincos(NT, x, fs, fc);
  for (size_t n = 0; n <= NT; n++) {
    for (size_t k = 0; k < NT + GUARD; k++) s[k] = c[k] = w[k] = SENTINEL;
    pf_vm_sincos(n, x, s, c);
    for (size_t k = 0; k < n; k++)
      PF_T_ASSERT(same(s[k], fs[k]) && same(c[k], fc[k]),
                  "sincos n=%zu element %zu", n, k);
    for (size_t k = n; k < NT + GUARD; k++)
      PF_T_ASSERT(s[k] == SENTINEL && c[k] == SENTINEL,
                  "sincos n=%zu wrote element %zu", n, k);
    memcpy(w, x, n * sizeof *x);
    pf_vm_sincos(n, w, w, c); /* s == x */
    for (size_t k = 0; k < n; k++)
      PF_T_ASSERT(same(w[k], fs[k]) && same(c[k], fc[k]),
                  "sincos s==x n=%zu element %zu", n, k);
    memcpy(w, x, n * sizeof *x);
    pf_vm_sincos(n, w, s, w); /* c == x */
    for (size_t k = 0; k < n; k++)
      PF_T_ASSERT(same(s[k], fs[k]) && same(w[k], fc[k]),
                  "sincos c==x n=%zu element %zu", n, k);
    PF_T_ASSERT(w[n] == SENTINEL, "sincos c==x n=%zu overran", n);
  }
  return 0;
}

/* ---- Box-Muller -------------------------------------------------------- */

/* Against the formula in long double: with r = sqrt(-2 log u1), the error
 * of each normal is a few rounding errors of r (log 1 ULP -> r 0.5 ULP,
 * sqrt 0.5, sincospi 0.5 of |cos| <= 1, the product 0.5): bounded by
 * 4 * 2^-53 * r.  Also every pair count 0..NP is a prefix of one long
 * call (the tail temp gives the same bits as a full vector). */
static int test_box_muller(void)
{
  enum { NP = 4099 };
  static double u[2 * NP], v[2 * NP + GUARD], full[2 * NP];
  const long double two_pi = 6.283185307179586476925286766559L;
  sm_state = 99;
  for (size_t k = 0; k < 2 * NP; k++) {
    /* (0, 1]: a few exact 1s and tiny values among ordinary ones. */
    u[k] = k % 97 == 0 ? 1.0 : (k % 89 == 0 ? 0x1p-54 : 1.0 - sm_unit());
  }
  memcpy(full, u, sizeof u);
  pf_vm_box_muller(NP, full);
  double worst = 0;
  for (size_t p = 0; p < NP; p++) {
    long double r = sqrtl(-2.0L * logl((long double)u[2 * p]));
    long double a = two_pi * (long double)u[2 * p + 1];
    long double z1 = r * cosl(a), z2 = r * sinl(a);
    long double scale = (r > 0 ? r : 1.0L) * 0x1p-53L;
    double e1 = (double)(fabsl((long double)full[2 * p] - z1) / scale);
    double e2 = (double)(fabsl((long double)full[2 * p + 1] - z2) / scale);
    if (e1 > worst) worst = e1;
    if (e2 > worst) worst = e2;
    PF_T_ASSERT(isfinite(full[2 * p]) && isfinite(full[2 * p + 1]),
                "pair %zu not finite", p);
    if (u[2 * p] == 1.0)
      PF_T_ASSERT(full[2 * p] == 0.0 && full[2 * p + 1] == 0.0,
                  "u1 = 1 must give radius 0");
  }
  if (getenv("PF_TEST_VERBOSE"))
    printf("    box_muller: max error %.3f * 2^-53 * radius\n", worst);
  PF_T_ASSERT(worst <= 4.0, "box_muller error %.3f * 2^-53 * radius", worst);

  /* Exact angles from sincospi: u2 = 0.25 gives cos = 0, sin = 1. */
  double q[2] = {0.5, 0.25};
  pf_vm_box_muller(1, q);
  PF_T_ASSERT(q[0] == 0.0 && q[1] > 1.17 && q[1] < 1.18,
              "u2 = 1/4: (%g, %g)", q[0], q[1]);

  for (size_t np = 0; np <= 41; np++) {
    for (size_t k = 0; k < 2 * np + GUARD; k++) v[k] = SENTINEL;
    memcpy(v, u, 2 * np * sizeof *u);
    pf_vm_box_muller(np, v);
    PF_T_ASSERT(memcmp(v, full, 2 * np * sizeof *v) == 0,
                "box_muller(%zu pairs) differs from the long call", np);
    for (size_t k = 2 * np; k < 2 * np + GUARD; k++)
      PF_T_ASSERT(v[k] == SENTINEL, "box_muller(%zu) overran", np);
  }
  return 0;
}

static int test_isa(void)
{
  PF_T_ASSERT(strcmp(pf_vm_isa(), "avx2") == 0, "isa %s", pf_vm_isa());
  return 0;
}

const pf_test_case pf_tests_vmath[] = {
    {"exp_ulp", test_exp},
    {"log_ulp", test_log},
    {"log1p_ulp", test_log1p},
    {"expm1_ulp", test_expm1},
    {"sincos_ulp", test_sincos},
    {"exp_neg_ulp", test_exp_neg},
    {"special_values", test_special_values},
    {"lengths_tails_aliasing", test_lengths_and_aliasing},
    {"box_muller", test_box_muller},
    {"isa", test_isa},
    {NULL, NULL},
};
