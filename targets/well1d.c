/* The quartic well factor f(x) = exp(-(x^2 - delta)^2): quadrature and an
 * exact rejection sampler (see well1d.h). */
#include "well1d.h"

#include <math.h>

#include "pflow/error.h"

/* Shifted exponent -(x^2 - delta)^2 + gmin (maximum 0) without
 * cancellation: for delta > 0 in the offset t = x - mu from the well
 * (mu = sqrt(delta), x^2 - delta = t (2 mu + t)); for delta <= 0,
 * gmin = delta^2 and the exponent is -x^2 (x^2 - 2 delta). */
static double well_exponent(double delta, double mu, double t)
{
  if (delta > 0) {
    double e = t * (2.0 * mu + t);
    return -e * e;
  }
  return -t * t * (t * t - 2.0 * delta);
}

/* Trapezoid rule in t on [a, b] (x = mu + t) with interval doubling until
 * two successive estimates of both integrals (of f and of x^2 f, f shifted
 * to maximum 1) agree to 1e-14 relative.  The integrand is analytic and
 * negligible (< e^-60) at b and, unless x = 0 there, at a; at x = 0 its odd
 * derivatives vanish (f is even).  So the Euler-Maclaurin corrections
 * vanish and the rule converges geometrically: the last estimate is exact
 * to rounding, inside the 1e-12 the targets promise. */
static int trapezoid(double delta, double mu, double a, double b, double *i0,
                     double *i2)
{
#define PF__WELL_ACC(t, wt)                          \
  do {                                               \
    double f_ = exp(well_exponent(delta, mu, (t)));  \
    double x_ = mu + (t);                            \
    s0 += (wt) * f_;                                 \
    s2 += (wt) * x_ * x_ * f_;                       \
  } while (0)
  size_t n = 16;
  double h = (b - a) / (double)n, s0 = 0.0, s2 = 0.0;
  PF__WELL_ACC(a, 0.5);
  PF__WELL_ACC(b, 0.5);
  for (size_t i = 1; i < n; i++) PF__WELL_ACC(a + (double)i * h, 1.0);
  double t0 = h * s0, t2 = h * s2;
  for (int it = 0; it < 22; it++) {
    h *= 0.5;
    for (size_t i = 0; i < n; i++) /* new midpoints */
      PF__WELL_ACC(a + (double)(2 * i + 1) * h, 1.0);
    n *= 2;
    double u0 = h * s0, u2 = h * s2;
    int done = n >= 256 && fabs(u0 - t0) <= 1e-14 * u0 &&
               fabs(u2 - t2) <= 1e-14 * u2;
    t0 = u0;
    t2 = u2;
    if (done) {
      *i0 = t0;
      *i2 = t2;
      return 0;
    }
  }
#undef PF__WELL_ACC
  PF_RAISE(PF_ENOCONV, "quadrature of exp(-(x^2 - %g)^2) did not converge",
           delta);
}

int pf__well1d_init(pf__well1d *w, double delta)
{
  const double log_sqrt_2pi = 0.91893853320467274178;
  w->delta = delta;
  /* Shift so the integrand's maximum is 1: max of -(x^2 - delta)^2 is 0 for
   * delta >= 0 (at x^2 = delta) and -delta^2 otherwise (at 0). */
  double gmin = delta >= 0 ? 0.0 : delta * delta;
  /* Outside a <= |x| <= b the shifted exponent is below -60. */
  double r = sqrt(60.0 + gmin), mu = delta > 0 ? sqrt(delta) : 0.0;
  double b = sqrt(delta + r), a = delta > r ? sqrt(delta - r) : 0.0;
  double i0 = 0.0, i2 = 0.0;
  PF_TRY(trapezoid(delta, mu, a - mu, b - mu, &i0, &i2));
  w->log_z = log(2.0 * i0) - gmin;
  w->m2 = i2 / i0;

  /* Centred envelope N(0, s^2): with v = 1/s^2 and u = x^2 >= 0,
   * -(u - delta)^2 + u v / 2 is at most c = v^2/16 + delta v/2 (attained at
   * u = delta + v/4 >= 0), so f(x) <= e^c s sqrt(2 pi) N(x; 0, s^2) and the
   * acceptance is Z e^-c / (s sqrt(2 pi)).  It is largest at
   * v = 2 (sqrt(delta^2 + 1) - delta) (zero derivative in log s), where
   * delta + v/4 > 0 holds for every delta. */
  double v = 2.0 * (sqrt(delta * delta + 1.0) - delta);
  double c = v * v / 16.0 + 0.5 * delta * v;
  double acc_c = exp(w->log_z - c + 0.5 * log(v) - log_sqrt_2pi);
  w->two_wells = 0;
  w->mu = 0.0;
  w->s = 1.0 / sqrt(v);
  /* The log acceptance ratio -(u - delta)^2 + u v/2 - c equals
   * -(u - ustar)^2 with ustar = delta + v/4: kept in that form (<= 0, no
   * cancellation). */
  w->c = delta + 0.25 * v;
  w->accept = acc_c;
  if (delta > 0) {
    /* Two-well envelope for |x|: proposal N(mu, s^2) with mu = sqrt(delta)
     * and 1/(2 s^2) = delta.  Writing x = mu + t (x >= 0, so t >= -mu),
     * -(x^2 - delta)^2 + t^2/(2 s^2) = t^2 (delta - (2 mu + t)^2) <= 0
     * because (2 mu + t)^2 >= mu^2 = delta.  Hence on x >= 0,
     * f(x) <= s sqrt(2 pi) N(x; mu, s^2): propose, reject x < 0, accept with
     * the ratio, then draw the sign.  Acceptance Z / (2 s sqrt(2 pi)). */
    double s = 1.0 / sqrt(2.0 * delta);
    double acc_w = exp(w->log_z - log(2.0 * s) - log_sqrt_2pi);
    if (acc_w > acc_c) {
      w->two_wells = 1;
      w->mu = sqrt(delta);
      w->s = s;
      w->c = 0.0;
      w->accept = acc_w;
    }
  }
  return 0;
}

double pf__well1d_draw(const pf__well1d *w, pf_rng *rng)
{
  for (;;) {
    double z[2], u[2];
    pf_rng_normal(rng, 2, z);
    pf_rng_uniforms_open(rng, 2, u);
    for (int k = 0; k < 2; k++) {
      double la, y;
      if (w->two_wells) {
        /* t^2 (delta - (2 mu + t)^2) = -t^2 (mu + t)(3 mu + t) */
        double t = w->s * z[k], mu = w->mu;
        y = mu + t;
        if (y < 0) continue;
        la = -t * t * y * (3.0 * mu + t);
      } else {
        y = w->s * z[k];
        double e = y * y - w->c;
        la = -e * e;
      }
      if (log(u[k]) < la) {
        if (w->two_wells && pf_rng_uniform(rng) < 0.5) y = -y;
        return y;
      }
    }
  }
}
