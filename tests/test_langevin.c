/* The Langevin family: MALA's exactness at large steps, MALA and the
 * preconditioned sampler on a 100-d dense Gaussian, and the boundary rules
 * on constrained targets with known moments. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/registry.h"

/* Run a sampler like pf_test_run_sampler and also return the mean of info
 * column `col` over iterations > from. */
static int run_avg(const char *flow, pf_target *t, unsigned long long seed,
                   size_t col, long from, pf_particles **out, double *avg)
{
  pf_config *cfg = NULL;
  const pf_node *sec;
  const pf_plugin *pl;
  void *state = NULL;
  pf_particles *p = NULL;
  long long n, n_iter;
  int rc;
  double info[64], sum = 0.0;
  long cnt = 0;
  PF_TRY(pf_test_section("sampler", flow, &cfg, &sec));
  PF_TRY_GOTO(rc, pf_registry_find(&pf_samplers, pf_cfg_str(sec, "name"), &pl),
              done);
  const pf_sampler_ops *ops = (const pf_sampler_ops *)pl;
  PF_TRY_GOTO(rc, pf_cfg_int(sec, "n_particles", &n), done);
  PF_TRY_GOTO(rc, pf_cfg_int(sec, "n_iter", &n_iter), done);
  size_t d = pf_target_dim(t);
  PF_TRY_GOTO(rc, pf_particles_create((size_t)n, d, seed, 0, &p), done);
  PF_TRY_GOTO(rc, pf_sampler_init_particles(sec, t, p), done);
  PF_TRY_GOTO(rc, ops->create(sec, t, (size_t)n, d, &state), done);
  PF_TRY_GOTO(rc, ops->init(state, p), done);
  for (long it = 1; it <= (long)n_iter; it++) {
    rc = ops->step(state, it, p, info);
    if (rc < 0) {
      ops->destroy(state);
      goto done;
    }
    if (it > from) {
      sum += info[col];
      cnt++;
    }
  }
  ops->destroy(state);
  *avg = cnt ? sum / (double)cnt : NAN;
  *out = p;
  p = NULL;
done:
  pf_particles_destroy(&p);
  pf_config_destroy(&cfg);
  return rc;
}

/* MALA targets N(0,1) exactly at any step size.  With h = 1.5 (ULA's
 * stationary variance would be 1/(1 - 0.75) = 4) and no adaptation, 20000
 * chains started at N(3, 0.25) and run 300 steps: the mean has standard
 * error 1/sqrt(n) = 0.0071 and the variance sqrt(2/n) = 0.01; we allow 5
 * standard errors.  The slowest mode of a MALA chain here contracts by
 * well over 1% per step (acceptance ~0.6), so 300 steps forget the start
 * to far below these errors. */
static int mala_exact_at_large_step(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_particles *p;
  double acc;
  PF_T_OK(pf_test_target("{name: gaussian, mean: [0], cov: [[1]]}", &cfg, &t));
  PF_T_OK(run_avg("{name: mala, n_particles: 20000, n_iter: 300, "
                  "step_size: 1.5, adapt_step_size: false, init: normal, "
                  "init_loc: 3, init_scale: 0.5}",
                  t, 7, 1, 0, &p, &acc));
  double m, v;
  pf_test_moments(p->n, 1, p->x, &m, &v);
  size_t n = p->n;
  pf_particles_destroy(&p);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  PF_T_NEAR(m, 0.0, 5.0 / sqrt((double)n));
  PF_T_NEAR(v, 1.0, 5.0 * sqrt(2.0 / (double)n));
  PF_T_ASSERT(acc > 0.2 && acc < 0.95, "acceptance %g", acc);
  return 0;
}

/* A 100-d Gaussian with a dense covariance C = B B^T / d + 0.5 I (B with
 * entries from a fixed LCG in [-1, 1]), mean m_k = sin(k).  Numbers are
 * separated by newlines: libyaml rejects a single-line flow entry longer
 * than 1024 characters (its simple-key limit). */
static char *dense_gaussian_flow(size_t d, double **mean, double **cov)
{
  double *B = malloc(d * d * sizeof(double));
  double *C = malloc(d * d * sizeof(double));
  double *m = malloc(d * sizeof(double));
  char *s = malloc(d * d * 28 + d * 28 + 256);
  unsigned long long z = 12345;
  for (size_t i = 0; i < d * d; i++) {
    z = z * 6364136223846793005ULL + 1442695040888963407ULL;
    B[i] = (double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0;
  }
  for (size_t i = 0; i < d; i++) {
    m[i] = sin((double)i);
    for (size_t j = 0; j < d; j++) {
      double a = 0.0;
      for (size_t k = 0; k < d; k++) a += B[i * d + k] * B[j * d + k];
      C[i * d + j] = a / (double)d + (i == j ? 0.5 : 0.0);
    }
  }
  size_t o = (size_t)sprintf(s, "{name: gaussian, mean: [");
  for (size_t i = 0; i < d; i++)
    o += (size_t)sprintf(s + o, "%s%.17g", i ? ",\n " : "", m[i]);
  o += (size_t)sprintf(s + o, "], cov: [");
  for (size_t i = 0; i < d; i++) {
    o += (size_t)sprintf(s + o, "%s[", i ? ", " : "");
    for (size_t j = 0; j < d; j++)
      o += (size_t)sprintf(s + o, "%s%.17g", j ? ",\n " : "", C[i * d + j]);
    o += (size_t)sprintf(s + o, "]");
  }
  sprintf(s + o, "]}");
  free(B);
  *mean = m;
  *cov = C;
  return s;
}

/* Moments of chains against N(m, C): every coordinate's mean within 5
 * standard errors sqrt(C_kk / n); the covariance's relative Frobenius error
 * below 1.5 times its expected value for n iid draws,
 * sqrt((|C|_F^2 + tr(C)^2) / n) / |C|_F (Wishart second moments). */
static int check_dense(const pf_particles *p, const double *m, const double *C)
{
  const size_t n = p->n, d = p->d;
  double *em = malloc(d * sizeof(double)), *eC = malloc(d * d * sizeof(double));
  pf_test_moments(n, d, p->x, em, eC);
  double worst = 0.0, fro = 0.0, nrm = 0.0, tr = 0.0;
  for (size_t k = 0; k < d; k++) {
    double z = fabs(em[k] - m[k]) / sqrt(C[k * d + k] / (double)n);
    if (z > worst) worst = z;
    tr += C[k * d + k];
    for (size_t j = 0; j < d; j++) {
      double e = eC[k * d + j] - C[k * d + j];
      fro += e * e;
      nrm += C[k * d + j] * C[k * d + j];
    }
  }
  free(em);
  free(eC);
  double rel = sqrt(fro / nrm), expect = sqrt((nrm + tr * tr) / (double)n / nrm);
  PF_T_ASSERT(worst < 5.0, "a mean is %.2f standard errors off", worst);
  PF_T_ASSERT(rel < 1.5 * expect, "covariance rel. error %.4f (iid: %.4f)",
              rel, expect);
  return 0;
}

/* Runs `sampler` (warm-up `warmup`) on the 100-d dense Gaussian: the
 * chains' final positions have the target's moments (check_dense) and the
 * acceptance after the warm-up is within 0.1 of the 0.574 target. */
static int dense_100d(const char *sampler, unsigned long long seed,
                      long warmup)
{
  double *m, *C, acc;
  char *flow = dense_gaussian_flow(100, &m, &C);
  pf_config *cfg;
  pf_target *t;
  pf_particles *p;
  PF_T_OK(pf_test_target(flow, &cfg, &t));
  PF_T_OK(run_avg(sampler, t, seed, 1, warmup, &p, &acc));
  int bad = check_dense(p, m, C);
  pf_particles_destroy(&p);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  free(flow);
  free(m);
  free(C);
  if (bad) return bad;
  PF_T_NEAR(acc, 0.574, 0.1);
  return 0;
}

/* MALA with step-size adaptation on the 100-d dense Gaussian. */
static int mala_dense_100d(void)
{
  return dense_100d("{name: mala, n_particles: 500, n_iter: 1000, "
                    "step_size: 0.05, warmup: 300}",
                    11, 300);
}

/* The preconditioned MALA with the metric estimated at half the warm-up:
 * same moments, in fewer steps (the metric removes the conditioning). */
static int preconditioned_dense_100d(void)
{
  return dense_100d("{name: preconditioned, adapt_metric: true, "
                    "n_particles: 500, n_iter: 500, step_size: 0.05, "
                    "warmup: 250}",
                    12, 250);
}

/* A given metric that is not positive definite is a config error naming
 * the key. */
static int preconditioned_bad_metric(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_particles *p = NULL;
  PF_T_OK(pf_test_target("{name: gaussian, mean: [0, 0]}", &cfg, &t));
  int rc = pf_test_run_sampler("{name: preconditioned, n_particles: 4, "
                               "n_iter: 1, metric: [[1, 2], [2, 1]]}",
                               t, 1, 0, &p);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  PF_T_ASSERT(rc == PF_ECONFIG, "rc %d", rc);
  PF_T_ASSERT(strstr(pf_error_message(), "metric"), "'%s'",
              pf_error_message());
  return 0;
}

/* Runs `sampler` on `target` and checks that every chain ends inside the
 * target's domain and, for every coordinate k, the chain mean against
 * mean[k] and the variance against var[k], each within 5 Monte-Carlo
 * standard errors (from the sample's own fourth moment) plus `bias`, the
 * discretization allowance the caller states. */
static int check_moments(const char *target, const char *sampler,
                         unsigned long long seed, const double *mean,
                         const double *var, double bias)
{
  pf_config *cfg;
  pf_target *t;
  pf_particles *p;
  PF_T_OK(pf_test_target(target, &cfg, &t));
  int rc = pf_test_run_sampler(sampler, t, seed, 0, &p);
  if (rc < 0) {
    pf_target_destroy(&t);
    pf_config_destroy(&cfg);
    PF_T_OK(rc);
  }
  const size_t n = p->n, d = p->d;
  size_t outside = 0;
  for (size_t i = 0; i < n; i++)
    outside += !pf_domain_contains(pf_target_domain(t), p->x + i * d, 1e-9);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  int bad = outside > 0;
  if (bad) fprintf(stderr, "    %zu chains ended outside the domain\n", outside);
  for (size_t k = 0; k < d && !bad; k++) {
    double m = 0.0, v = 0.0, m4 = 0.0;
    for (size_t i = 0; i < n; i++) m += p->x[i * d + k];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
      double c = p->x[i * d + k] - m;
      v += c * c;
      m4 += c * c * c * c;
    }
    v /= (double)(n - 1);
    m4 /= (double)n;
    double se_m = sqrt(v / (double)n), se_v = sqrt((m4 - v * v) / (double)n);
    if (fabs(m - mean[k]) > 5.0 * se_m + bias) {
      fprintf(stderr, "    coordinate %zu: mean %.6f, expected %.6f +- %.2g\n",
              k, m, mean[k], 5.0 * se_m + bias);
      bad = 1;
    }
    if (var && fabs(v - var[k]) > 5.0 * se_v + bias) {
      fprintf(stderr, "    coordinate %zu: variance %.6f, expected %.6f +- "
              "%.2g\n", k, v, var[k], 5.0 * se_v + bias);
      bad = 1;
    }
  }
  pf_particles_destroy(&p);
  return bad;
}

/* Zero drift on [0,1]^3 (uniform target): reflected Brownian motion,
 * uniform at stationarity, mean 1/2 and variance 1/12, whatever the step
 * (box folding is exact).  Start at 0.2; the slowest Neumann mode decays as
 * exp(-pi^2 t) with t = h * steps = 2, i.e. by 3e-9. */
static int reflected_uniform_box(void)
{
  const double m[3] = {0.5, 0.5, 0.5}, v[3] = {1. / 12, 1. / 12, 1. / 12};
  return check_moments(
      "{name: uniform, domain: {name: box, lower: 0, upper: 1, dim: 3}}",
      "{name: reflected_langevin, n_particles: 20000, n_iter: 200, "
      "step_size: 0.01, init: normal, init_loc: 0.2, init_scale: 0.01}",
      21, m, v, 0.0);
}

/* N(0,1) truncated to [-1, 1]: variance 0.291125 (mean 0).  The reflected
 * Euler scheme has O(h) weak error; at h = 0.002 the ULA variance bias is
 * about h/2 relative (3e-4), allowed as `bias`; 3000 steps are 6 time
 * units, many relaxation times of this strongly confined diffusion. */
static int reflected_truncated_interval(void)
{
  const double m[1] = {0.0}, v[1] = {0.291125};
  return check_moments(
      "{name: truncated_gaussian, mean: [0], cov: [[1]], "
      "domain: {name: box, lower: -1, upper: 1}}",
      "{name: reflected_langevin, n_particles: 10000, n_iter: 3000, "
      "step_size: 0.002}",
      22, m, v, 5e-4);
}

/* N(0,1) on [0, inf): mean sqrt(2/pi) = 0.797885, variance 1 - 2/pi =
 * 0.363380.  Same scheme and bias allowance (h/2 relative: 1e-3 here with
 * h = 0.002); 3000 steps = 6 time units, relaxation time ~1. */
static int reflected_half_line(void)
{
  const double m[1] = {0.797885}, v[1] = {0.363380};
  return check_moments(
      "{name: truncated_gaussian, mean: [0], cov: [[1]], "
      "domain: {name: orthant}}",
      "{name: reflected_langevin, n_particles: 10000, n_iter: 3000, "
      "step_size: 0.002}",
      23, m, v, 1e-3);
}

/* Uniform on the unit 3-ball by reflected Brownian motion: E|x|^2 = 3/5
 * (so each coordinate has variance 1/5, mean 0).  The ball's billiard
 * reflection is exact for the reflected walk's law up to O(h); zero drift
 * leaves uniform invariant in the limit.  t = 200 * 0.005 = 1 (relaxation
 * time of the Neumann Laplacian on the unit ball 1/2.08^2 = 0.23). */
static int reflected_uniform_ball(void)
{
  const double m[3] = {0, 0, 0}, v[3] = {0.2, 0.2, 0.2};
  return check_moments(
      "{name: uniform, domain: {name: ball, dim: 3}}",
      "{name: reflected_langevin, n_particles: 20000, n_iter: 200, "
      "step_size: 0.005, init: normal, init_loc: 0.3, init_scale: 0.01}",
      24, m, v, 0.0);
}

/* Uniform on the 2-simplex (D = 3) in reduced and in full coordinates:
 * each coordinate has mean 1/3 and variance 1/18 (flat Dirichlet). */
static int reflected_uniform_simplex(void)
{
  const double m[3] = {1. / 3, 1. / 3, 1. / 3};
  const double v[3] = {1. / 18, 1. / 18, 1. / 18};
  int bad = check_moments(
      "{name: uniform, domain: {name: simplex, dim: 2}}",
      "{name: reflected_langevin, n_particles: 20000, n_iter: 300, "
      "step_size: 0.002, init: normal, init_loc: 0.2, init_scale: 0.01}",
      25, m, v, 0.0);
  if (bad) return bad;
  return check_moments(
      "{name: uniform, domain: {name: simplex, coords: full, dim: 3}}",
      "{name: reflected_langevin, n_particles: 20000, n_iter: 300, "
      "step_size: 0.002}",
      26, m, v, 0.0);
}

/* The symmetrized rule and the projection on the truncated interval: the
 * symmetrized rule is first order like reflection (same allowance); the
 * projection is O(sqrt h): at h = 0.001 its variance bias is a few 1e-3,
 * allowed as 0.01. */
static int other_boundary_rules(void)
{
  const double m[1] = {0.0}, v[1] = {0.291125};
  const char *tg = "{name: truncated_gaussian, mean: [0], cov: [[1]], "
                   "domain: {name: box, lower: -1, upper: 1}}";
  int bad = check_moments(tg,
                          "{name: reflected_langevin, rule: symmetrize, "
                          "n_particles: 10000, n_iter: 3000, "
                          "step_size: 0.002}",
                          27, m, v, 5e-4);
  if (bad) return bad;
  return check_moments(tg,
                       "{name: projected_langevin, n_particles: 10000, "
                       "n_iter: 4000, step_size: 0.001}",
                       28, m, v, 0.01);
}

/* Mirror Langevin on Dirichlet(2, 3, 5) in the simplex's entropic dual:
 * mean (0.2, 0.3, 0.5) and variances (0.014545, 0.019091, 0.022727) for the
 * two free coordinates.  Adjusted (exact) chains: no bias allowance. */
static int mirror_dirichlet(void)
{
  const double m[2] = {0.2, 0.3}, v[2] = {0.0145454545, 0.0190909091};
  int bad = check_moments("{name: dirichlet, alpha: [2, 3, 5]}",
                          "{name: mirror_langevin, adjust: true, "
                          "n_particles: 10000, n_iter: 600, "
                          "step_size: 0.05, warmup: 200}",
                          29, m, v, 0.0);
  if (bad) return bad;
  /* Unadjusted at h = 0.002: O(h) bias in the dual coordinates, a few
   * 1e-4 in the moments here; allowed as 1e-3. */
  return check_moments("{name: dirichlet, alpha: [2, 3, 5]}",
                       "{name: mirror_langevin, n_particles: 10000, "
                       "n_iter: 2000, step_size: 0.002}",
                       30, m, v, 1e-3);
}

/* reflected_sde against the exact moments of its own Euler-Maruyama
 * recursion (so the tolerance is pure Monte Carlo error) and against the
 * continuous process (with the stated discretization allowance).
 * VP with OU drift from x0 = 2: x_{k+1} = (1 - h_k) x_k + sqrt(2 h_k) z_k,
 * h_k = beta(t_k) dt / 2; continuous: mean 2 exp(-B/2), variance
 * 1 - exp(-B), B = int beta = 10.05 for beta 0.1 -> 20 on [0, 1].
 * VE with zero drift from 0: variance sum_k 2 h_k = sum_k g^2(t_k) dt,
 * continuous sigma_max^2 - sigma_min^2. */
static int sde_schedules(void)
{
  const int N = 500;
  const double dt = 1.0 / N;
  double m = 2.0, v = 0.0, ve = 0.0;
  for (int k = 0; k < N; k++) {
    double t = k * dt, h = 0.5 * (0.1 + t * 19.9) * dt;
    m *= 1.0 - h;
    v = (1.0 - h) * (1.0 - h) * v + 2.0 * h;
    double sg = 0.01 * pow(1000.0, t);
    ve += 2.0 * sg * sg * log(1000.0) * dt;
  }
  PF_T_NEAR(m, 2.0 * exp(-10.05 / 2), 2e-3); /* Euler vs exact: O(dt) */
  PF_T_NEAR(v, 1.0 - exp(-10.05), 2e-2);
  PF_T_NEAR(ve, 100.0 - 1e-4, 100.0 * 0.03);
  double mv[1] = {m}, vv[1] = {v};
  int bad = check_moments(
      "{name: gaussian, mean: [0], cov: [[1]]}",
      "{name: reflected_sde, drift: ou, schedule: vp, rule: none, "
      "n_particles: 20000, n_iter: 500, init: normal, init_loc: 2, "
      "init_scale: 0}",
      31, mv, vv, 0.0);
  if (bad) return bad;
  double m0[1] = {0.0}, v0[1] = {ve};
  bad = check_moments(
      "{name: gaussian, mean: [0], cov: [[1]]}",
      "{name: reflected_sde, drift: zero, schedule: ve, rule: none, "
      "n_particles: 20000, n_iter: 500, init: normal, init_loc: 0, "
      "init_scale: 0}",
      32, m0, v0, 0.0);
  if (bad) return bad;
  /* The same VE process folded into [0, 1]: a Gaussian of sd ~10 folded
   * by exact reflection is uniform to within exp(-2 pi^2 * 100 / ...)
   * (far below the Monte Carlo error). */
  double mu[2] = {0.5, 0.5}, vu[2] = {1.0 / 12, 1.0 / 12};
  return check_moments(
      "{name: uniform, domain: {name: box, dim: 2}}",
      "{name: reflected_sde, drift: zero, schedule: ve, n_particles: 20000, "
      "n_iter: 500, init: normal, init_loc: 0.3, init_scale: 0}",
      33, mu, vu, 0.0);
}

/* A correlated Gaussian truncated to a triangle (polytope domain):
 * reflected Langevin against the moments of 10^6 draws of the target's own
 * exact sampler (rejection; their standard error is 1/14 of the
 * chains'), with the reflected scheme's O(h) allowance (h = 0.002: ~1e-3). */
static int reflected_polytope_vs_exact(void)
{
  const char *tg = "{name: truncated_gaussian, mean: [0.2, 0.1], "
                   "cov: [[1, 0.3], [0.3, 0.5]], domain: {name: polytope, "
                   "A: [[1, 0], [0, 1], [-1, -1]], b: [1, 1, 0.5]}}";
  pf_config *cfg;
  pf_target *t;
  pf_rng r;
  const size_t m = 1000000;
  PF_T_OK(pf_test_target(tg, &cfg, &t));
  PF_T_ASSERT(strcmp(pf_target_sample_method(t), "gibbs") != 0,
              "expected an iid sampler, got %s", pf_target_sample_method(t));
  double *Y = malloc(m * 2 * sizeof(double)), mean[2], cov[4];
  pf_rng_stream(&r, 99, 0);
  PF_T_OK(pf_target_sample(t, &r, m, Y));
  pf_test_moments(m, 2, Y, mean, cov);
  free(Y);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  const double var[2] = {cov[0], cov[3]};
  return check_moments(tg,
                       "{name: reflected_langevin, n_particles: 5000, "
                       "n_iter: 3000, step_size: 0.002}",
                       34, mean, var, 1e-3);
}

const pf_test_case pf_tests_langevin[] = {
    {"reflected_polytope_vs_exact", reflected_polytope_vs_exact},
    {"sde_schedules", sde_schedules},
    {"reflected_uniform_box", reflected_uniform_box},
    {"reflected_truncated_interval", reflected_truncated_interval},
    {"reflected_half_line", reflected_half_line},
    {"reflected_uniform_ball", reflected_uniform_ball},
    {"reflected_uniform_simplex", reflected_uniform_simplex},
    {"other_boundary_rules", other_boundary_rules},
    {"mirror_dirichlet", mirror_dirichlet},
    {"mala_exact_at_large_step", mala_exact_at_large_step},
    {"mala_dense_100d", mala_dense_100d},
    {"preconditioned_dense_100d", preconditioned_dense_100d},
    {"preconditioned_bad_metric", preconditioned_bad_metric},
    {NULL, NULL}};
