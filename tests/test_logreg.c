/* The logistic_regression target and the CSV reader: the GEMM evaluation
 * against a naive per-particle loop, bitwise invariance to batching and
 * thread counts, stability for huge logits, gradient vs finite
 * differences, unbiased minibatch estimates, the MAP's training accuracy
 * on breast cancer, config and CSV errors, data path resolution. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/registry.h"

#define BC "data/breast_cancer.csv"

/* The breast-cancer design built independently of the target: intercept
 * column first, then the 30 features z-scored with the population sd. */
typedef struct design {
  size_t N, p;
  double *X, *s;
} design;

static int load_design(design *d)
{
  pf_csv *t;
  PF_T_OK(pf_csv_read(BC, &t));
  PF_T_ASSERT(t->rows == 569 && t->cols == 31 &&
                  strcmp(t->names[30], "benign") == 0,
              "unexpected table %zu x %zu", t->rows, t->cols);
  d->N = t->rows;
  d->p = t->cols;
  d->X = malloc(d->N * d->p * sizeof(double));
  d->s = malloc(d->N * sizeof(double));
  for (size_t i = 0; i < d->N; i++) {
    d->X[i * d->p] = 1.0;
    for (size_t k = 0; k < 30; k++) d->X[i * d->p + k + 1] = t->data[i * 31 + k];
    d->s[i] = t->data[i * 31 + 30] == 1.0 ? 1.0 : -1.0;
  }
  for (size_t k = 1; k < d->p; k++) {
    double m = 0, v = 0;
    for (size_t i = 0; i < d->N; i++) m += d->X[i * d->p + k];
    m /= d->N;
    for (size_t i = 0; i < d->N; i++)
      v += (d->X[i * d->p + k] - m) * (d->X[i * d->p + k] - m);
    double sd = sqrt(v / d->N);
    for (size_t i = 0; i < d->N; i++)
      d->X[i * d->p + k] = (d->X[i * d->p + k] - m) / sd;
  }
  pf_csv_destroy(&t);
  return 0;
}

static void free_design(design *d)
{
  free(d->X);
  free(d->s);
}

/* Naive log posterior (prior N(0, v I), normalized) and gradient of one
 * particle with libm, plus the magnitudes the rounding scales with: mag_l
 * = sum |terms| of logp, mag_g[k] = sum_i |r_i x_ik| + |theta_k| / v. */
static void naive(const design *d, double v, const double *th, double *lp,
                  double *g, double *mag_l, double *mag_g)
{
  const size_t p = d->p;
  double l = -0.5 * p * log(2 * M_PI * v), ml = fabs(l);
  for (size_t k = 0; k < p; k++) {
    l -= 0.5 * th[k] * th[k] / v;
    ml += 0.5 * th[k] * th[k] / v;
    g[k] = -th[k] / v;
    mag_g[k] = fabs(th[k]) / v;
  }
  for (size_t i = 0; i < d->N; i++) {
    double z = 0;
    for (size_t k = 0; k < p; k++) z += d->X[i * p + k] * th[k];
    double u = d->s[i] * z;
    /* log sigmoid(u) and sigmoid(-u), written the other common way. */
    double ls = u >= 0 ? -log1p(exp(-u)) : u - log1p(exp(u));
    double sm = u >= 0 ? exp(-u) / (1 + exp(-u)) : 1 / (1 + exp(u));
    l += ls;
    ml += fabs(ls);
    for (size_t k = 0; k < p; k++) {
      g[k] += d->s[i] * sm * d->X[i * p + k];
      mag_g[k] += fabs(sm * d->X[i * p + k]);
    }
  }
  *lp = l;
  *mag_l = ml;
}

/* GEMM path vs the naive loop, 1e-12 relative to the magnitude of the
 * summed terms (both are sums of O(600) terms with ~1e-16 relative error
 * each, so agreement is ~1e-14; 1e-12 leaves room without hiding a wrong
 * term).  n = 300 spans two particle chunks; the last 20 particles are
 * scaled up so logits reach ~1e4 (stability: no overflow, exact limits). */
static int logreg_gemm_vs_naive(void)
{
  design d;
  if (load_design(&d)) return 1;
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: logistic_regression, data: " BC
                         ", prior_var: 4}", &cfg, &t));
  const size_t n = 300, p = d.p;
  PF_T_ASSERT(pf_target_dim(t) == p, "dim %zu", pf_target_dim(t));
  double *X = malloc(n * p * sizeof(double)), *G = malloc(n * p * sizeof(double));
  double *lp = malloc(n * sizeof(double)), g[64], mg[64], l, ml;
  pf_rng r;
  pf_rng_stream(&r, 5, 0);
  pf_rng_normal(&r, n * p, X);
  for (size_t i = 0; i < n * p; i++) X[i] *= i >= (n - 20) * p ? 300.0 : 0.3;
  PF_T_OK(pf_target_logp_grad(t, n, X, lp, G));
  for (size_t j = 0; j < n; j++) {
    naive(&d, 4.0, X + j * p, &l, g, &ml, mg);
    PF_T_ASSERT(isfinite(lp[j]), "logp[%zu] = %g", j, lp[j]);
    PF_T_ASSERT(fabs(lp[j] - l) <= 1e-12 * ml,
                "particle %zu: logp %.17g naive %.17g", j, lp[j], l);
    for (size_t k = 0; k < p; k++)
      PF_T_ASSERT(fabs(G[j * p + k] - g[k]) <= 1e-12 * mg[k],
                  "particle %zu coord %zu: grad %.17g naive %.17g", j, k,
                  G[j * p + k], g[k]);
  }
  free(X);
  free(G);
  free(lp);
  free_design(&d);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* Same bits for one batched call, row-by-row calls, and targets created
 * under 1 and 2 OpenMP and OpenBLAS threads (n = 300: OpenBLAS threads a
 * GEMM of that size). */
static int logreg_bitwise_invariance(void)
{
  const size_t n = 300, p = 31;
  double *X = malloc(n * p * sizeof(double));
  double *G[3], *L[3];
  pf_rng r;
  pf_rng_stream(&r, 9, 1);
  pf_rng_normal(&r, n * p, X);
  int saved = omp_get_max_threads();
  for (int v = 0; v < 3; v++) {
    int th = v == 1 ? 1 : 2;
    omp_set_num_threads(th);
    openblas_set_num_threads(th);
    pf_config *cfg;
    pf_target *t;
    PF_T_OK(pf_test_target("{name: logistic_regression, data: " BC "}", &cfg, &t));
    G[v] = malloc(n * p * sizeof(double));
    L[v] = malloc(n * sizeof(double));
    if (v < 2) {
      PF_T_OK(pf_target_logp_grad(t, n, X, L[v], G[v]));
    } else {
      for (size_t j = 0; j < n; j++)
        PF_T_OK(pf_target_logp_grad(t, 1, X + j * p, L[v] + j, G[v] + j * p));
    }
    pf_target_destroy(&t);
    pf_config_destroy(&cfg);
  }
  omp_set_num_threads(saved);
  openblas_set_num_threads(saved);
  for (int v = 1; v < 3; v++) {
    PF_T_ASSERT(memcmp(L[0], L[v], n * sizeof(double)) == 0,
                "logp bits differ (variant %d)", v);
    PF_T_ASSERT(memcmp(G[0], G[v], n * p * sizeof(double)) == 0,
                "gradient bits differ (variant %d)", v);
  }
  for (int v = 0; v < 3; v++) {
    free(G[v]);
    free(L[v]);
  }
  free(X);
  return 0;
}

/* Central differences (step 1e-5) on unstandardized data without
 * intercept (features up to ~4000, so a different scale than the
 * conformance example), tolerance as in the conformance suite. */
static int logreg_gradient_fd(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: logistic_regression, data: " BC
                         ", standardize: false, intercept: false, "
                         "prior_var: 100}", &cfg, &t));
  const size_t p = pf_target_dim(t);
  PF_T_ASSERT(p == 30, "dim %zu", p);
  double x[30], g[30], lp, hi, lo;
  pf_rng r;
  pf_rng_stream(&r, 3, 0);
  for (int rep = 0; rep < 3; rep++) {
    pf_rng_normal(&r, p, x);
    for (size_t k = 0; k < p; k++) x[k] *= 1e-3;
    PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, g));
    for (size_t k = 0; k < p; k++) {
      double xk = x[k], h = 1e-5 * (1e-3 + fabs(xk));
      x[k] = xk + h;
      PF_T_OK(pf_target_logp_grad(t, 1, x, &hi, NULL));
      x[k] = xk - h;
      PF_T_OK(pf_target_logp_grad(t, 1, x, &lo, NULL));
      x[k] = xk;
      double fd = (hi - lo) / (2 * h);
      PF_T_ASSERT(fabs(fd - g[k]) <= 1e-6 * (1 + fabs(g[k]) + fabs(lp)),
                  "coord %zu: grad %.12g fd %.12g", k, g[k], fd);
    }
  }
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* Minibatch estimates (B = 40 of 569 rows) averaged over K = 20000 calls
 * against the full-data values: each coordinate's mean must lie within 5
 * Monte Carlo standard errors (sample sd / sqrt(K)) -- probability of a
 * false failure < 1e-6 per coordinate.  The estimates must also vary. */
static int logreg_minibatch_unbiased(void)
{
  pf_config *cf, *cb;
  pf_target *tf, *tb;
  PF_T_OK(pf_test_target("{name: logistic_regression, data: " BC "}", &cf, &tf));
  PF_T_OK(pf_test_target("{name: logistic_regression, data: " BC
                         ", minibatch: 40, minibatch_seed: 12}", &cb, &tb));
  const size_t p = 31, K = 20000;
  double x[31], gf[31], lf, g[31], l, sum[32] = {0}, sq[32] = {0};
  pf_rng r;
  pf_rng_stream(&r, 4, 0);
  pf_rng_normal(&r, p, x);
  for (size_t k = 0; k < p; k++) x[k] *= 0.3;
  PF_T_OK(pf_target_logp_grad(tf, 1, x, &lf, gf));
  for (size_t it = 0; it < K; it++) {
    PF_T_OK(pf_target_logp_grad(tb, 1, x, &l, g));
    for (size_t k = 0; k < p; k++) {
      sum[k] += g[k];
      sq[k] += g[k] * g[k];
    }
    sum[p] += l;
    sq[p] += l * l;
  }
  for (size_t k = 0; k <= p; k++) {
    double m = sum[k] / K, var = (sq[k] - K * m * m) / (K - 1);
    double se = sqrt(var / K), ref = k < p ? gf[k] : lf;
    PF_T_ASSERT(var > 1e-6 * (1 + ref * ref), "coord %zu: no variation", k);
    PF_T_ASSERT(fabs(m - ref) <= 5 * se,
                "coord %zu: minibatch mean %.10g, full %.10g, se %.3g", k, m,
                ref, se);
  }
  pf_target_destroy(&tf);
  pf_target_destroy(&tb);
  pf_config_destroy(&cf);
  pf_config_destroy(&cb);
  return 0;
}

/* MAP by Newton's method (the target's gradient, the Hessian
 * -(X^T W X + I / v) built here), then the training accuracy of
 * sign(x . theta_MAP).  With standardized features and prior_var 1 this
 * data set is nearly separable: the accuracy is 0.9877 (562 / 569); the
 * test asks for > 0.95 as the task states. */
static int logreg_map_accuracy(void)
{
  design d;
  if (load_design(&d)) return 1;
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: logistic_regression, data: " BC "}", &cfg, &t));
  const size_t p = d.p;
  double th[31] = {0}, g[31], lp, H[31 * 31];
  double gnorm = INFINITY;
  int it;
  for (it = 0; it < 100 && gnorm > 1e-10; it++) {
    PF_T_OK(pf_target_logp_grad(t, 1, th, &lp, g));
    gnorm = 0;
    for (size_t k = 0; k < p; k++) gnorm = fmax(gnorm, fabs(g[k]));
    for (size_t a = 0; a < p * p; a++) H[a] = 0;
    for (size_t k = 0; k < p; k++) H[k * p + k] = 1.0; /* 1 / prior_var */
    for (size_t i = 0; i < d.N; i++) {
      double z = 0;
      for (size_t k = 0; k < p; k++) z += d.X[i * p + k] * th[k];
      double sg = 1 / (1 + exp(-z)), w = sg * (1 - sg);
      for (size_t a = 0; a < p; a++)
        for (size_t b = 0; b < p; b++)
          H[a * p + b] += w * d.X[i * p + a] * d.X[i * p + b];
    }
    PF_T_ASSERT(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (lapack_int)p, 1, H,
                              (lapack_int)p, g, 1) == 0, "dposv");
    for (size_t k = 0; k < p; k++) th[k] += g[k];
  }
  PF_T_ASSERT(gnorm <= 1e-10, "Newton did not converge: |grad| %g after %d", gnorm, it);
  size_t right = 0;
  for (size_t i = 0; i < d.N; i++) {
    double z = 0;
    for (size_t k = 0; k < p; k++) z += d.X[i * p + k] * th[k];
    right += (z > 0 ? 1.0 : -1.0) == d.s[i];
  }
  double acc = (double)right / d.N;
  printf("    MAP after %d Newton steps: training accuracy %.4f (%zu/%zu), "
         "log posterior %.6f\n", it, acc, right, d.N, lp);
  PF_T_ASSERT(acc > 0.95, "accuracy %.4f", acc);
  free_design(&d);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

static int write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

/* Errors: each names what the user must fix. */
static int logreg_errors(void)
{
  const char *T = pf_test_tmpdir();
  char flow[1024], path[512];
  pf_config *cfg;
  pf_target *t;
  int rc = pf_test_target("{name: logistic_regression, data: no/such.csv}", &cfg, &t);
  PF_T_ASSERT(rc == PF_EIO && strstr(pf_error_message(), "target.data") &&
                  strstr(pf_error_message(), "no/such.csv"),
              "rc %d '%s'", rc, pf_error_message());

  snprintf(path, sizeof path, "%s/bad_label.csv", T);
  PF_T_ASSERT(!write_file(path, "a,b,y\n1,2,0\n3,4,1\n5,6,2\n"), "write");
  snprintf(flow, sizeof flow, "{name: logistic_regression, data: %s}", path);
  rc = pf_test_target(flow, &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "bad_label.csv:4") &&
                  strstr(pf_error_message(), "label 2"),
              "rc %d '%s'", rc, pf_error_message());

  snprintf(path, sizeof path, "%s/bad_num.csv", T);
  PF_T_ASSERT(!write_file(path, "a,b,y\n1,2,0\n3,x4,1\n"), "write");
  snprintf(flow, sizeof flow, "{name: logistic_regression, data: %s}", path);
  rc = pf_test_target(flow, &cfg, &t);
  PF_T_ASSERT(rc == PF_EPARSE && strstr(pf_error_message(), "bad_num.csv:3: "
                                        "column 'b': not a number ('x4')"),
              "rc %d '%s'", rc, pf_error_message());

  snprintf(path, sizeof path, "%s/short.csv", T);
  PF_T_ASSERT(!write_file(path, "a,b,y\n1,2,0\n3,1\n"), "write");
  PF_T_ASSERT(pf_csv_read(path, &(pf_csv *){NULL}) == PF_EPARSE &&
                  strstr(pf_error_message(), "short.csv:3: expected 3 fields"),
              "'%s'", pf_error_message());

  rc = pf_test_target("{name: logistic_regression, data: " BC
                      ", label: benin}", &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "target.label") &&
                  strstr(pf_error_message(), "did you mean 'benign'"),
              "rc %d '%s'", rc, pf_error_message());
  rc = pf_test_target("{name: logistic_regression, data: " BC
                      ", minibatch: 569}", &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "target.minibatch"),
              "rc %d '%s'", rc, pf_error_message());
  return 0;
}

/* Labels -1/1 equal 0/1; a label chosen by name or index; the data path
 * found relative to the config file's directory. */
static int logreg_labels_and_paths(void)
{
  const char *T = pf_test_tmpdir();
  char p1[512], p2[512], flow[1024];
  snprintf(p1, sizeof p1, "%s/lab01.csv", T);
  snprintf(p2, sizeof p2, "%s/labpm.csv", T);
  PF_T_ASSERT(!write_file(p1, "y,a,b\n0,1,2\n1,3,-4\n1,0.5,6\n0,-7,8\n"), "w");
  PF_T_ASSERT(!write_file(p2, "a,b,y\r\n1,2,-1\r\n3,-4,1\r\n\r\n0.5,6,1\r\n"
                              "-7,8,-1\r\n"), "w");
  double x[3] = {0.3, -0.2, 0.1}, l1, l2, g1[3], g2[3];
  pf_config *c1, *c2;
  pf_target *t1, *t2;
  snprintf(flow, sizeof flow, "{name: logistic_regression, data: %s, label: y}", p1);
  PF_T_OK(pf_test_target(flow, &c1, &t1));
  snprintf(flow, sizeof flow, "{name: logistic_regression, data: %s, label: 2}", p2);
  PF_T_OK(pf_test_target(flow, &c2, &t2));
  PF_T_OK(pf_target_logp_grad(t1, 1, x, &l1, g1));
  PF_T_OK(pf_target_logp_grad(t2, 1, x, &l2, g2));
  PF_T_ASSERT(l1 == l2 && memcmp(g1, g2, sizeof g1) == 0, "%g vs %g", l1, l2);
  pf_target_destroy(&t1);
  pf_target_destroy(&t2);
  pf_config_destroy(&c1);
  pf_config_destroy(&c2);

  /* A config in T naming "labpm.csv": not in the working directory, found
   * next to the config. */
  char cfgpath[512];
  snprintf(cfgpath, sizeof cfgpath, "%s/lr.yaml", T);
  PF_T_ASSERT(!write_file(cfgpath, "target:\n  name: logistic_regression\n"
                                   "  data: labpm.csv\n"), "w");
  const pf_param spec[] = {
      {"target", PF_P_PLUGIN, NULL, NULL, "t", PF_PARAM_REQUIRED, NULL, &pf_targets},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  pf_config *c;
  pf_target *t;
  PF_T_OK(pf_config_load(cfgpath, &c));
  PF_T_OK(pf_config_validate(c, spec));
  PF_T_OK(pf_target_create(pf_node_get(pf_config_root(c), "target"), &t));
  PF_T_OK(pf_target_logp_grad(t, 1, x, &l1, NULL));
  PF_T_ASSERT(l1 == l2, "%g vs %g", l1, l2);
  pf_target_destroy(&t);
  /* An override from the command line is relative to the working
   * directory only. */
  PF_T_OK(pf_config_override(c, "target.data=labpm.csv", 1));
  int rc = pf_target_create(pf_node_get(pf_config_root(c), "target"), &t);
  PF_T_ASSERT(rc == PF_EIO && strstr(pf_error_message(), "command line"),
              "rc %d '%s'", rc, pf_error_message());
  pf_config_destroy(&c);
  return 0;
}

const pf_test_case pf_tests_logreg[] = {
    {"gemm_vs_naive", logreg_gemm_vs_naive},
    {"bitwise_invariance", logreg_bitwise_invariance},
    {"gradient_fd", logreg_gradient_fd},
    {"minibatch_unbiased", logreg_minibatch_unbiased},
    {"map_accuracy", logreg_map_accuracy},
    {"errors", logreg_errors},
    {"labels_and_paths", logreg_labels_and_paths},
    {NULL, NULL}};
