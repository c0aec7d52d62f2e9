/* The pairwise diagnostics ksd, mmd2, energy: closed forms for Gaussians
 * (checked within Monte Carlo error over independent replicates), scipy /
 * numpy cross-checks, config handling.
 *
 * Closed forms (verified here with scipy quadrature before use):
 *  - KSD^2 of q = N(mu, I) w.r.t. p = N(0, I), IMQ c = 1, beta = -1/2,
 *    h = 1: since s_p - s_q = -mu is constant, KSD^2 = E_{x,y~q} (s_p -
 *    s_q)(x).(s_p - s_q)(y) k(x, y) = |mu|^2 E[(1 + 2 chi2_d)^(-1/2)] =
 *    0.7057570 (d=1), 0.5456414 (d=2), 0.2342507 (d=10) times |mu|^2.  A
 *    direct double integral of the Stein kernel at d = 1, mu = 0.5 gives
 *    0.1764393 = 0.705757 / 4.  E u(x, x) = E|x|^2 + d = |mu|^2 + 2d.
 *  - MMD^2(N(0,1), N(1,1)) = 2 sqrt(1/3) (1 - exp(-1/6)) = 0.1772676 for
 *    the Gaussian kernel exp(-r2/2) (l = 1), i.e. h = 2 in exp(-r2/h).
 *  - Energy distance N(0,1) vs N(1,1): 2 E|N(1,2)| - 2 E|N(0,2)| =
 *    0.5418066 (scipy.stats.energy_distance returns its square root,
 *    0.736075); E|X - X'| = 2/sqrt(pi).
 * Tolerances: the estimators are averaged over R independent replicates;
 * the mean must lie within 4 standard errors (empirical sd / sqrt(R)) of
 * the expected value, and that standard error must itself be small enough
 * for the test to discriminate. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/config.h"
#include "pflow/diagnostic.h"
#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/particles.h"
#include "pflow/rng.h"

extern const pf_diagnostic_ops pf_diagnostic_ksd, pf_diagnostic_mmd2,
    pf_diagnostic_energy;

/* The `diagnostics` section as run.c declares it (metrics with per-metric
 * sections), so the diagnostics' own specs validate and fill defaults. */
static const pf_param diag_spec[] = {
    {"metrics", PF_P_STRINGS, "[]", NULL, "metrics", PF_PARAM_ITEM_SECTIONS,
     NULL, &pf_diagnostics},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static double *normals(size_t n, size_t d, uint64_t seed, uint64_t tag,
                       double shift)
{
  double *X = malloc(n * d * sizeof *X);
  pf_rng r;
  if (!X) return NULL;
  pf_rng_stream(&r, seed, tag);
  pf_rng_normal(&r, n * d, X);
  for (size_t i = 0; i < n * d; i++) X[i] += shift;
  return X;
}

/* Target handed to the diagnostics (NULL unless a test needs one). */
static pf_target *g_target;

/* Run a diagnostic on particles X (scores S, may be NULL) against Y. */
static int run_diag(const pf_diagnostic_ops *ops, const char *yaml,
                    const double *X, const double *S, size_t n,
                    const double *Y, size_t m, size_t d, double *out)
{
  pf_config *c = NULL;
  pf_particles *p = NULL;
  void *ctx = NULL;
  PF_TRY(pf_config_load_string(yaml, "test.yaml", &c));
  int rc = pf_config_validate(c, diag_spec);
  pf_diag_env env = {g_target, n, d, Y, m, 1};
  if (rc == 0) rc = pf_particles_create(n, d, 1, 0, &p);
  if (rc == 0) {
    memcpy(p->x, X, n * d * sizeof(double));
    if (S) memcpy(p->grad, S, n * d * sizeof(double));
    rc = ops->create(pf_config_root(c), &env, &ctx);
  }
  if (rc == 0) rc = ops->compute(ctx, p, out);
  if (ctx) ops->destroy(ctx);
  pf_particles_destroy(&p);
  pf_config_destroy(&c);
  return rc;
}

/* mean and standard error of v[0..R-1] */
static void mean_se(const double *v, size_t R, double *mean, double *se)
{
  double m = 0.0, s = 0.0;
  for (size_t r = 0; r < R; r++) m += v[r];
  m /= (double)R;
  for (size_t r = 0; r < R; r++) s += (v[r] - m) * (v[r] - m);
  *mean = m;
  *se = sqrt(s / (double)(R - 1) / (double)R);
}

/* KSD of N(mu, I) particles w.r.t. N(0, I) (scores -x). */
static int ksd_gaussian(void)
{
  static const struct {
    size_t d;
    double c, mu; /* KSD^2 / |mu|^2, mu per coordinate */
  } cs[] = {{1, 0.7057570, 0.8}, {2, 0.5456414, 0.6}, {10, 0.2342507, 0.3},
            {2, 0.5456414, 0.0}};
  enum { R = 48 };
  const size_t n = 400;
  for (size_t t = 0; t < 4; t++) {
    const size_t d = cs[t].d;
    const double mu2 = cs[t].mu * cs[t].mu * (double)d, k2 = cs[t].c * mu2;
    double u[R], v[R], mu, su, mv, sv;
    for (size_t r = 0; r < R; r++) {
      double *X = normals(n, d, 7 + t, r, cs[t].mu), *S = malloc(n * d * 8);
      PF_T_ASSERT(X && S, "alloc");
      for (size_t i = 0; i < n * d; i++) S[i] = -X[i];
      double out[2];
      PF_T_OK(run_diag(&pf_diagnostic_ksd, "metrics: [ksd]", X, S, n, NULL,
                       0, d, out));
      v[r] = out[0] * out[0];
      u[r] = out[1];
      free(X);
      free(S);
    }
    mean_se(u, R, &mu, &su);
    mean_se(v, R, &mv, &sv);
    double ev = (mu2 + 2.0 * (double)d) / (double)n + (1.0 - 1.0 / n) * k2;
    fprintf(stderr, "    ksd d=%zu |mu|^2=%.2f: U %.5f +- %.5f (%.5f), "
            "V %.5f +- %.5f (%.5f)\n", d, mu2, mu, su, k2, mv, sv, ev);
    PF_T_NEAR(mu, k2, 4.0 * su);
    PF_T_NEAR(mv, ev, 4.0 * sv);
    PF_T_ASSERT(su < 0.05 * (k2 > 0 ? k2 : 0.2) + 1e-3, "se %g too large",
                su);
  }
  /* single point: u(x, x) = |s|^2 + d; N(0,1) at x = 0 gives 1 */
  double x0 = 0.0, s0 = 0.0, out[2];
  PF_T_OK(run_diag(&pf_diagnostic_ksd, "metrics: [ksd]", &x0, &s0, 1, NULL,
                   0, 1, out));
  PF_T_NEAR(out[0], 1.0, 1e-15);
  PF_T_ASSERT(isnan(out[1]), "U-statistic of one point is %g", out[1]);
  return 0;
}

/* rescore: true evaluates the target itself: same bits as given scores. */
static int ksd_options(void)
{
  const size_t n = 150, d = 3;
  double *X = normals(n, d, 3, 0, 0.5), *S = malloc(n * d * 8), a[2], b[2];
  PF_T_ASSERT(X && S, "alloc");
  for (size_t i = 0; i < n * d; i++) S[i] = -X[i];
  /* a different kernel through the section: rbf, h = 2, vs a direct
   * engine call */
  PF_T_OK(run_diag(&pf_diagnostic_ksd,
                   "metrics: [ksd]\nksd: {kernel: {name: rbf, bandwidth: 2}}",
                   X, S, n, NULL, 0, d, a));
  extern const pf_kernel_ops pf_kernel_rbf;
  pf_kernel *k = NULL;
  pf_pairwise *w = NULL;
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_FIXED, 2.0, NULL,
                               0, 0, &k));
  PF_T_OK(pf_pairwise_create(n, 0, d, &w));
  PF_T_OK(pf_pair_stein_sum(w, k, n, X, S, b));
  PF_T_NEAR(a[0], sqrt((b[0] + b[1]) / (double)(n * n)), 0.0);
  PF_T_NEAR(a[1], b[0] / (double)(n * (n - 1)), 0.0);
  /* rescore: true evaluates the target (N(0, I): score -x) itself and
   * ignores the cached scores */
  pf_config *tc = NULL;
  double c1[2], c2[2];
  PF_T_OK(pf_test_target("{name: gaussian, dim: 3}", &tc, &g_target));
  PF_T_OK(run_diag(&pf_diagnostic_ksd, "metrics: [ksd]", X, S, n, NULL, 0,
                   d, c1));
  PF_T_OK(run_diag(&pf_diagnostic_ksd, "metrics: [ksd]\nksd: {rescore: true}",
                   X, X, n, NULL, 0, d, c2)); /* wrong cached scores */
  pf_target_destroy(&g_target);
  pf_config_destroy(&tc);
  PF_T_NEAR(c2[0], c1[0], 1e-14 * c1[0]);
  PF_T_NEAR(c2[1], c1[1], 1e-14 * fabs(c1[0] * c1[0]));
  pf_kernel_destroy(&k);
  pf_pairwise_destroy(&w);
  free(X);
  free(S);
  return 0;
}

/* MMD^2(N(0,1), N(1,1)) = 0.177268 with h = 2. */
static int mmd2_gaussian(void)
{
  enum { R = 16 };
  const size_t n = 500, m = 400;
  const double want = 2.0 * sqrt(1.0 / 3.0) * (1.0 - exp(-1.0 / 6.0));
  double u[R], v[R], mu, su, mv, sv;
  for (size_t r = 0; r < R; r++) {
    double *X = normals(n, 1, 11, r, 0.0), *Y = normals(m, 1, 12, r, 1.0);
    PF_T_ASSERT(X && Y, "alloc");
    double out[2];
    PF_T_OK(run_diag(&pf_diagnostic_mmd2,
                     "metrics: [mmd2]\nmmd2: {kernel: {name: rbf, "
                     "bandwidth: 2}}", X, NULL, n, Y, m, 1, out));
    u[r] = out[0];
    v[r] = out[1];
    free(X);
    free(Y);
  }
  mean_se(u, R, &mu, &su);
  mean_se(v, R, &mv, &sv);
  /* V adds (1 - E k(X,X'))/n + (1 - E k(Y,Y'))/m, E k = sqrt(1/3) */
  double ev = want + (1.0 - sqrt(1.0 / 3.0)) * (1.0 / n + 1.0 / m);
  fprintf(stderr, "    mmd2: U %.5f +- %.5f (%.6f), V %.5f +- %.5f (%.5f)\n",
          mu, su, want, mv, sv, ev);
  PF_T_NEAR(mu, want, 4.0 * su);
  PF_T_NEAR(mv, ev, 4.0 * sv);
  PF_T_ASSERT(su < 0.01, "se %g", su);
  return 0;
}

/* Energy distance N(0,1) vs N(1,1) = 0.541807. */
static int energy_gaussian(void)
{
  enum { R = 16 };
  const size_t n = 500, m = 400;
  double u[R], v[R], mu, su, mv, sv;
  const double eabs0 = 2.0 / sqrt(M_PI); /* E|N(0,2)| */
  const double eabs1 = sqrt(2.0) * sqrt(2.0 / M_PI) * exp(-0.25) +
                       erf(0.5); /* E|N(1,2)| = E|N(-1,2)| */
  const double want = 2.0 * eabs1 - 2.0 * eabs0;
  PF_T_NEAR(want, 0.5418066, 1e-7);
  for (size_t r = 0; r < R; r++) {
    double *X = normals(n, 1, 21, r, 0.0), *Y = normals(m, 1, 22, r, 1.0);
    PF_T_ASSERT(X && Y, "alloc");
    double out[2];
    PF_T_OK(run_diag(&pf_diagnostic_energy, "metrics: [energy]", X, NULL, n,
                     Y, m, 1, out));
    u[r] = out[1];
    v[r] = out[0];
    free(X);
    free(Y);
  }
  mean_se(u, R, &mu, &su);
  mean_se(v, R, &mv, &sv);
  double ev = want + eabs0 * (1.0 / n + 1.0 / m);
  fprintf(stderr, "    energy: U %.5f +- %.5f (%.6f), V %.5f +- %.5f "
          "(%.5f)\n", mu, su, want, mv, sv, ev);
  PF_T_NEAR(mu, want, 4.0 * su);
  PF_T_NEAR(mv, ev, 4.0 * sv);
  /* power: the replicate standard error must be small against the value
   * (0.54), or the comparisons above could not fail */
  PF_T_ASSERT(su < 0.05, "se %g", su);
  return 0;
}

static int write_rows(const char *path, const double *X, size_t n, size_t d)
{
  FILE *f = fopen(path, "w");
  if (!f) return 1;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < d; k++)
      fprintf(f, "%.17g%c", X[i * d + k], k + 1 < d ? ' ' : '\n');
  return fclose(f) != 0;
}

/* energy vs scipy.stats.energy_distance (1-D: its square is our V) and vs
 * numpy in d = 3 (V and U); mmd2 with the default kernel (Gaussian, h =
 * median of the reference's squared pair distances) vs numpy. */
static int cross_check_python(void)
{
  static const size_t dims[] = {1, 3};
  for (int t = 0; t < 2; t++) {
    const size_t n = 203, m = 150, d = dims[t];
    double *X = normals(n, d, 31, t, 0.3), *Y = normals(m, d, 32, t, 0.0);
    double e[2], k[2], py[4];
    PF_T_ASSERT(X && Y, "alloc");
    for (size_t i = 0; i < m * d; i++) Y[i] *= 1.5;
    PF_T_OK(run_diag(&pf_diagnostic_energy, "metrics: [energy]", X, NULL, n,
                     Y, m, d, e));
    PF_T_OK(run_diag(&pf_diagnostic_mmd2, "metrics: [mmd2]", X, NULL, n, Y,
                     m, d, k));
    char px[512], pyf[512], out[512], script[512];
    snprintf(px, sizeof px, "%s/pair_x.txt", pf_test_tmpdir());
    snprintf(pyf, sizeof pyf, "%s/pair_y.txt", pf_test_tmpdir());
    snprintf(out, sizeof out, "%s/pair_out.txt", pf_test_tmpdir());
    snprintf(script, sizeof script, "%s/pair_check.py", pf_test_tmpdir());
    PF_T_ASSERT(!write_rows(px, X, n, d) && !write_rows(pyf, Y, m, d),
                "writing points");
    FILE *f = fopen(script, "w");
    PF_T_ASSERT(f, "writing script");
    fprintf(f,
            "import sys, numpy as np\n"
            "from scipy.spatial.distance import cdist\n"
            "from scipy.stats import energy_distance\n"
            "x = np.loadtxt(sys.argv[1], ndmin=2)\n"
            "y = np.loadtxt(sys.argv[2], ndmin=2)\n"
            "n, m = len(x), len(y)\n"
            "dxy, dxx, dyy = cdist(x, y), cdist(x, x), cdist(y, y)\n"
            "v = 2 * dxy.mean() - dxx.mean() - dyy.mean()\n"
            "u = (2 * dxy.mean() - dxx.sum() / (n * (n - 1))\n"
            "     - dyy.sum() / (m * (m - 1)))\n"
            "if x.shape[1] == 1:\n"
            "    s = energy_distance(x[:, 0], y[:, 0]) ** 2\n"
            "    assert abs(s - v) <= 1e-12 * v, (s, v)\n"
            "iu = np.triu_indices(m, 1)\n"
            "h = np.median((dyy ** 2)[iu])\n"
            "k = lambda a: np.exp(-a ** 2 / h)\n"
            "kxx, kyy, kxy = k(dxx), k(dyy), k(dxy)\n"
            "mu = ((kxx.sum() - n) / (n * (n - 1))\n"
            "      + (kyy.sum() - m) / (m * (m - 1)) - 2 * kxy.mean())\n"
            "mv = kxx.mean() + kyy.mean() - 2 * kxy.mean()\n"
            "print('%%.17g %%.17g %%.17g %%.17g' %% (v, u, mu, mv))\n");
    fclose(f);
    int rc = pf_test_sh("%s %s %s %s > %s", pf_test_python(), script, px, pyf,
                        out);
    PF_T_ASSERT(rc == 0, "python cross-check failed (d=%zu)", d);
    f = fopen(out, "r");
    PF_T_ASSERT(f && fscanf(f, "%lf %lf %lf %lf", &py[0], &py[1], &py[2],
                            &py[3]) == 4, "reading python output");
    fclose(f);
    PF_T_NEAR(e[0], py[0], 1e-12 * py[0]);
    PF_T_NEAR(e[1], py[1], 1e-12 * fabs(py[0]));
    PF_T_NEAR(k[0], py[2], 1e-12);
    PF_T_NEAR(k[1], py[3], 1e-12);
    free(X);
    free(Y);
  }
  return 0;
}

/* mmd2 / energy without a reference set fail naming diagnostics.reference,
 * in process and through `pflow run`. */
static int needs_reference(void)
{
  double x[4] = {0, 1, 2, 3}, out[2];
  const pf_diagnostic_ops *ops[] = {&pf_diagnostic_mmd2, &pf_diagnostic_energy};
  const char *yaml[] = {"metrics: [mmd2]", "metrics: [energy]"};
  for (int i = 0; i < 2; i++) {
    int rc = run_diag(ops[i], yaml[i], x, NULL, 4, NULL, 0, 1, out);
    PF_T_ASSERT(rc == PF_ECONFIG, "rc %d", rc);
    PF_T_ASSERT(strstr(pf_error_message(), "diagnostics.reference"),
                "message: %s", pf_error_message());
  }
  char cfg[512], log[512];
  snprintf(cfg, sizeof cfg, "%s/pair_noref.yaml", pf_test_tmpdir());
  snprintf(log, sizeof log, "%s/pair_noref.log", pf_test_tmpdir());
  FILE *f = fopen(cfg, "w");
  PF_T_ASSERT(f, "writing config");
  fprintf(f, "target: {name: gaussian, dim: 2}\n"
             "sampler: {name: ula, n_particles: 10, n_iter: 5, "
             "step_size: 0.1}\n"
             "diagnostics: {metrics: [mmd2]}\n"
             "output: {path: %s/pair_noref.h5, overwrite: true}\n",
          pf_test_tmpdir());
  fclose(f);
  int rc = pf_test_sh("%s run %s 2> %s; test $? -eq 2 && grep -q "
                      "'diagnostics.reference' %s", pf_test_pflow(), cfg, log,
                      log);
  if (rc != 0) pf_test_sh("cat %s >&2", log);
  PF_T_ASSERT(rc == 0, "pflow run without a reference did not fail with "
              "exit 2 naming diagnostics.reference");
  return 0;
}

/* End to end: a run with all three writes /diagnostics/{ksd, ksd2_u, mmd2,
 * mmd2_v, energy, energy_u}, finite. */
static int run_end_to_end(void)
{
  char cfg[512], h5[512];
  snprintf(cfg, sizeof cfg, "%s/pair_run.yaml", pf_test_tmpdir());
  snprintf(h5, sizeof h5, "%s/pair_run.h5", pf_test_tmpdir());
  FILE *f = fopen(cfg, "w");
  PF_T_ASSERT(f, "writing config");
  fprintf(f, "target: {name: gaussian, dim: 3}\n"
             "sampler: {name: ula, n_particles: 200, n_iter: 20, "
             "step_size: 0.05}\n"
             "diagnostics: {every: 10, metrics: [ksd, mmd2, energy],\n"
             "  reference: {source: exact, n: 300},\n"
             "  mmd2: {kernel: {name: rbf, bandwidth: median,\n"
             "                 scales: [0.5, 2]}}}\n"
             "output: {path: %s, overwrite: true}\n", h5);
  fclose(f);
  int rc = pf_test_sh("%s run %s > /dev/null 2>&1", pf_test_pflow(), cfg);
  PF_T_ASSERT(rc == 0, "pflow run failed");
  rc = pf_test_sh(
      "%s -c \"import h5py, numpy as np, sys; f = h5py.File('%s', 'r'); "
      "v = [f['diagnostics/' + k][...] for k in ('ksd', 'ksd2_u', 'mmd2', "
      "'mmd2_v', 'energy', 'energy_u')]; "
      "sys.exit(0 if all(np.isfinite(a).all() and a.shape[1] == 3 for a in v) "
      "else 1)\"", pf_test_python(), h5);
  PF_T_ASSERT(rc == 0, "diagnostics missing or not finite in %s", h5);
  return 0;
}

const pf_test_case pf_tests_pair_diagnostics[] = {
    {"ksd_gaussian", ksd_gaussian},
    {"ksd_options", ksd_options},
    {"mmd2_gaussian", mmd2_gaussian},
    {"energy_gaussian", energy_gaussian},
    {"cross_check_python", cross_check_python},
    {"needs_reference", needs_reference},
    {"run_end_to_end", run_end_to_end},
    {NULL, NULL}};
