/* Tests of kernels/: profiles against closed forms and finite differences,
 * positive definiteness, the median rules against a brute-force sort, the
 * pairwise engine against naive double loops (odd sizes, shifted points,
 * padded d), bitwise equality for 1 and 2 threads, config parsing. */
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/rng.h"

extern const pf_kernel_ops pf_kernel_rbf, pf_kernel_imq;

/* n x d standard normals * scale + shift from stream (seed, 0). */
static double *randn(size_t n, size_t d, uint64_t seed, double scale,
                     double shift)
{
  pf_rng r;
  pf_rng_stream(&r, seed, 0);
  double *x = malloc(n * d * sizeof(double));
  if (!x) return NULL;
  pf_rng_normal(&r, n * d, x);
  for (size_t i = 0; i < n * d; i++) x[i] = scale * x[i] + shift;
  return x;
}

static double sqd(const double *a, const double *b, size_t d)
{
  double s = 0.0;
  for (size_t k = 0; k < d; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
  return s;
}

/* One kernel value and derivatives at r2 (scalar reference path). */
static void k1(const pf_kernel *k, double r2, double *f, double *f1,
               double *f2)
{
  double w[PF_KERNEL_WORK], a, b, c;
  pf_kernel_eval(k, 1, &r2, &a, &b, &c, w);
  if (f) *f = a;
  if (f1) *f1 = b;
  if (f2) *f2 = c;
}

/* Kernels under test: rbf h = 1.7; imq defaults at h = 0.8; imq with
 * c = 1.3, beta = -0.7 (the log/exp path) given by config; a 3-scale rbf. */
enum { NK = 4 };
static int make_kernels(pf_kernel *ks[NK], pf_config **cfg)
{
  static const pf_param spec[] = {
      {"k", PF_P_PLUGIN, NULL, NULL, "kernel", 0, NULL, &pf_kernels},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  double sc[3] = {0.5, 1.0, 4.0};
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_FIXED, 1.7, NULL,
                               0, 0, &ks[0]));
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_imq, NULL, PF_BW_FIXED, 0.8, NULL,
                               0, 0, &ks[1]));
  PF_T_OK(pf_config_load_string(
      "k: {name: imq, c: 1.3, beta: -0.7, bandwidth: 1.1}", "t", cfg));
  PF_T_OK(pf_config_validate(*cfg, spec));
  PF_T_OK(pf_kernel_create(pf_node_get(pf_config_root(*cfg), "k"), 0,
                           &ks[2]));
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_FIXED, 0.9, sc, 3,
                               0, &ks[3]));
  return 0;
}

static void free_kernels(pf_kernel *ks[NK], pf_config **cfg)
{
  for (int i = 0; i < NK; i++) pf_kernel_destroy(&ks[i]);
  pf_config_destroy(cfg);
}

/* Closed forms: exp(-r2/h), (c^2 + r2/h)^beta, sums over scales. */
static int test_profiles(void)
{
  pf_kernel *ks[NK] = {0};
  pf_config *cfg = NULL;
  if (make_kernels(ks, &cfg)) return 1;
  const double r2s[] = {0.0, 1e-6, 0.3, 1.0, 2.5, 17.0};
  for (size_t i = 0; i < sizeof r2s / sizeof r2s[0]; i++) {
    double r2 = r2s[i], f, f1, f2, want[NK];
    want[0] = exp(-r2 / 1.7);
    want[1] = 1.0 / sqrt(1.0 + r2 / 0.8);
    want[2] = pow(1.69 + r2 / 1.1, -0.7);
    want[3] = exp(-r2 / 0.45) + exp(-r2 / 0.9) + exp(-r2 / 3.6);
    for (int k = 0; k < NK; k++) {
      k1(ks[k], r2, &f, &f1, &f2);
      PF_T_NEAR(f, want[k], 4e-16 * want[k] * 4);
      /* f' and f'' against central differences (step 1e-4, error
       * O(h^2 f''') ~ 1e-8 relative). */
      double e = 1e-4, fp, fm, g1p, g1m;
      if (r2 < e) continue;
      k1(ks[k], r2 + e, &fp, &g1p, NULL);
      k1(ks[k], r2 - e, &fm, &g1m, NULL);
      PF_T_NEAR(f1, (fp - fm) / (2 * e), 1e-7 * (fabs(f1) + 1e-3));
      PF_T_NEAR(f2, (g1p - g1m) / (2 * e), 1e-7 * (fabs(f2) + 1e-3));
    }
  }
  free_kernels(ks, &cfg);
  return 0;
}

/* k(x, y) = k(y, x) through the engine, and grad_x k against central
 * differences of the engine's kernel sum. */
static int test_symmetry_gradient(void)
{
  pf_kernel *ks[NK] = {0};
  pf_config *cfg = NULL;
  pf_pairwise *w = NULL;
  if (make_kernels(ks, &cfg)) return 1;
  const size_t d = 5;
  double *xy = randn(2, d, 11, 0.7, 0.2);
  PF_T_ASSERT(xy, "alloc");
  PF_T_OK(pf_pairwise_create(1, 1, d, &w));
  for (int k = 0; k < NK; k++) {
    double a[2], b[2], g[5], xp[5];
    PF_T_OK(pf_pair_kernel_sum(w, ks[k], 1, xy, 1, xy + d, a));
    PF_T_OK(pf_pair_kernel_sum(w, ks[k], 1, xy + d, 1, xy, b));
    PF_T_NEAR(a[0], b[0], 1e-15);
    PF_T_OK(pf_pair_kgrad(w, ks[k], 1, xy, 1, xy + d, g));
    for (size_t c = 0; c < d; c++) {
      const double e = 1e-5;
      double sp[2], sm[2];
      memcpy(xp, xy, d * sizeof(double));
      xp[c] += e;
      PF_T_OK(pf_pair_kernel_sum(w, ks[k], 1, xp, 1, xy + d, sp));
      xp[c] -= 2 * e;
      PF_T_OK(pf_pair_kernel_sum(w, ks[k], 1, xp, 1, xy + d, sm));
      PF_T_NEAR(g[c], (sp[0] - sm[0]) / (2 * e), 1e-8);
    }
  }
  pf_pairwise_destroy(&w);
  free(xy);
  free_kernels(ks, &cfg);
  return 0;
}

/* Gram matrices of 40 points are positive semi-definite. */
static int test_positive_definite(void)
{
  pf_kernel *ks[NK] = {0};
  pf_config *cfg = NULL;
  if (make_kernels(ks, &cfg)) return 1;
  const size_t n = 40, d = 3;
  double *x = randn(n, d, 12, 1.0, 0.0), *K = malloc(n * n * sizeof(double)),
         ev[40];
  PF_T_ASSERT(x && K, "alloc");
  for (int k = 0; k < NK; k++) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++)
        k1(ks[k], sqd(x + i * d, x + j * d, d), &K[i * n + j], NULL, NULL);
    lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)n,
                                    K, (lapack_int)n, ev);
    PF_T_ASSERT(info == 0, "dsyev info %d", (int)info);
    PF_T_ASSERT(ev[0] >= -1e-10, "kernel %d: smallest eigenvalue %g", k,
                ev[0]);
  }
  free(x);
  free(K);
  free_kernels(ks, &cfg);
  return 0;
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median rules against sorting every pair (and all n^2 entries). */
static int test_median(void)
{
  const size_t ns[] = {2, 3, 37, 40};
  for (size_t t = 0; t < 4; t++) {
    size_t n = ns[t], d = 3, np = n * (n - 1) / 2;
    double *x = randn(n, d, 13 + t, 1.0, 5.0);
    double *pairs = malloc(np * sizeof(double)),
           *all = malloc(n * n * sizeof(double)),
           *work = malloc(np * sizeof(double));
    PF_T_ASSERT(x && pairs && all && work, "alloc");
    size_t q = 0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++) {
        double s = sqd(x + i * d, x + j * d, d);
        all[i * n + j] = s;
        if (j > i) pairs[q++] = s;
      }
    qsort(pairs, np, sizeof(double), cmp_d);
    qsort(all, n * n, sizeof(double), cmp_d);
    double med = np % 2 ? pairs[np / 2]
                        : 0.5 * (pairs[np / 2 - 1] + pairs[np / 2]);
    PF_T_NEAR(pf_median_sqdist(PF_BW_MEDIAN, n, d, x, work), med, 0.0);
    /* mirror-Stein: smallest of the largest N/2 of the N = n^2 entries */
    PF_T_NEAR(pf_median_sqdist(PF_BW_MEDIAN_REF, n, d, x, work),
              all[n * n - n * n / 2], 0.0);
    /* through a kernel: median_log divides by log(n + 1) */
    pf_kernel *k = NULL;
    PF_T_OK(pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_MEDIAN_LOG, 1,
                                 NULL, 0, n, &k));
    PF_T_OK(pf_kernel_fit(k, n, d, x));
    PF_T_NEAR(pf_kernel_bandwidth(k), med / log(n + 1.0), 1e-15 * med);
    pf_kernel_destroy(&k);
    free(x);
    free(pairs);
    free(all);
    free(work);
  }
  /* the two middle values in different buckets of the radix pass:
   * squared distances 1, 4, 9, 16, 36, 49 -> (9 + 16) / 2 */
  double p4[4] = {0, 1, 3, 7}, w6[6];
  PF_T_NEAR(pf_median_sqdist(PF_BW_MEDIAN, 4, 1, p4, w6), 12.5, 0.0);
  /* coincident points: h falls back to 1 */
  double z[12] = {0};
  pf_kernel *k = NULL;
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_MEDIAN, 1, NULL,
                               0, 0, &k));
  PF_T_OK(pf_kernel_fit(k, 4, 3, z));
  PF_T_NEAR(pf_kernel_bandwidth(k), 1.0, 0.0);
  pf_kernel_destroy(&k);
  return 0;
}

/* ---- engine vs naive ----------------------------------------------------- */

typedef struct results {
  double ks[2], kx[2], ds, dx, st[2];
  double *phi, *phix, *phin, *g, *gx;
} results;

static int run_engine(pf_pairwise *w, const pf_kernel *k, size_t n, size_t m,
                      size_t d, const double *X, const double *Y,
                      const double *S, const double *SY, results *r)
{
  PF_T_OK(pf_pair_kernel_sum(w, k, n, X, 0, NULL, r->ks));
  PF_T_OK(pf_pair_kernel_sum(w, k, n, X, m, Y, r->kx));
  PF_T_OK(pf_pair_dist_sum(w, n, X, 0, NULL, &r->ds));
  PF_T_OK(pf_pair_dist_sum(w, n, X, m, Y, &r->dx));
  PF_T_OK(pf_pair_stein_sum(w, k, n, X, S, r->st));
  PF_T_OK(pf_pair_svgd(w, k, n, X, 0, NULL, S, r->phi));
  PF_T_OK(pf_pair_svgd(w, k, n, X, m, Y, SY, r->phix));
  PF_T_OK(pf_pair_svgd(w, k, n, X, m, Y, NULL, r->phin));
  PF_T_OK(pf_pair_kgrad(w, k, n, X, 0, NULL, r->g));
  PF_T_OK(pf_pair_kgrad(w, k, n, X, m, Y, r->gx));
  (void)d;
  return 0;
}

static int alloc_results(results *r, size_t n, size_t d)
{
  memset(r, 0, sizeof *r);
  r->phi = calloc(n * d, sizeof(double));
  r->phix = calloc(n * d, sizeof(double));
  r->phin = calloc(n * d, sizeof(double));
  r->g = calloc(n * d, sizeof(double));
  r->gx = calloc(n * d, sizeof(double));
  return r->phi && r->phix && r->phin && r->g && r->gx ? 0 : 1;
}

static void free_results(results *r)
{
  free(r->phi);
  free(r->phix);
  free(r->phin);
  free(r->g);
  free(r->gx);
}

/* max_i |a_i - b_i| <= tol * max_i |b_i| */
static int vec_close(const double *a, const double *b, size_t n, double tol,
                     const char *what)
{
  double e = 0.0, s = 0.0;
  for (size_t i = 0; i < n; i++) {
    e = fmax(e, fabs(a[i] - b[i]));
    s = fmax(s, fabs(b[i]));
  }
  if (!(e <= tol * s)) {
    fprintf(stderr, "    %s: max error %g vs scale %g\n", what, e, s);
    return 1;
  }
  return 0;
}

#define REL(a, b, tol) PF_T_NEAR(a, b, (tol) * fabs(b))

/* Naive: kernel values from direct differences, plain double loops. */
static int check_naive(const pf_kernel *k, size_t n, size_t m, size_t d,
                       const double *X, const double *Y, const double *S,
                       const double *SY, const results *r)
{
  const double tol = 1e-12;
  double ks = 0, ksd = 0, kx = 0, ds = 0, dx = 0, st = 0, std_ = 0;
  double *phi = calloc(n * d, sizeof(double)), *phix = calloc(n * d, 8),
         *phin = calloc(n * d, 8), *g = calloc(n * d, 8),
         *gx = calloc(n * d, 8);
  PF_T_ASSERT(phi && phix && phin && g && gx, "alloc");
  for (size_t i = 0; i < n; i++) {
    const double *xi = X + i * d, *si = S + i * d;
    for (size_t j = 0; j < n; j++) {
      const double *xj = X + j * d, *sj = S + j * d;
      double r2 = sqd(xi, xj, d), f, f1, f2;
      k1(k, r2, &f, &f1, &f2);
      double ss = 0, sdiff = 0;
      for (size_t c = 0; c < d; c++) {
        ss += si[c] * sj[c];
        sdiff += (si[c] - sj[c]) * (xi[c] - xj[c]);
        phi[i * d + c] += (f * sj[c] + 2 * f1 * (xj[c] - xi[c])) / n;
        g[i * d + c] += 2 * f1 * (xi[c] - xj[c]);
      }
      double u = f * ss - 2 * f1 * sdiff - 2 * (double)d * f1 -
                 4 * f2 * r2;
      if (i == j) {
        ksd += f;
        std_ += u;
      } else {
        ks += f;
        st += u;
        ds += sqrt(r2);
      }
    }
    for (size_t j = 0; j < m; j++) {
      const double *yj = Y + j * d, *sj = SY + j * d;
      double r2 = sqd(xi, yj, d), f, f1;
      k1(k, r2, &f, &f1, NULL);
      kx += f;
      dx += sqrt(r2);
      for (size_t c = 0; c < d; c++) {
        phix[i * d + c] += (f * sj[c] + 2 * f1 * (yj[c] - xi[c])) / m;
        phin[i * d + c] += 2 * f1 * (yj[c] - xi[c]) / m;
        gx[i * d + c] += 2 * f1 * (xi[c] - yj[c]);
      }
    }
  }
  REL(r->ks[0], ks, tol);
  REL(r->ks[1], ksd, tol);
  REL(r->kx[0], kx, tol);
  PF_T_NEAR(r->kx[1], 0.0, 0.0);
  REL(r->ds, ds, tol);
  REL(r->dx, dx, tol);
  /* Stein sums cancel (sum ~ n, terms ~ |s|^2): relative to the sum of
   * absolute diagonal terms. */
  PF_T_NEAR(r->st[0], st, tol * fabs(std_));
  REL(r->st[1], std_, tol);
  int bad = vec_close(r->phi, phi, n * d, tol, "svgd") ||
            vec_close(r->phix, phix, n * d, tol, "svgd(Y)") ||
            vec_close(r->phin, phin, n * d, tol, "svgd(Y, no S)") ||
            vec_close(r->g, g, n * d, tol, "kgrad") ||
            vec_close(r->gx, gx, n * d, tol, "kgrad(Y)");
  free(phi);
  free(phix);
  free(phin);
  free(g);
  free(gx);
  return bad;
}

static int test_engine_naive(void)
{
  pf_kernel *ks[NK] = {0};
  pf_config *cfg = NULL;
  if (make_kernels(ks, &cfg)) return 1;
  /* odd sizes around the tile edge, d padded (3 -> 4, 10 -> 12) */
  const size_t cases[][3] = {{131, 77, 3}, {64, 65, 10}, {1, 5, 1},
                             {200, 129, 10}};
  for (size_t t = 0; t < 4; t++) {
    size_t n = cases[t][0], m = cases[t][1], d = cases[t][2];
    /* points far from the origin test the centering */
    double *X = randn(n, d, 20 + t, 1.0, 3.0),
           *Y = randn(m, d, 30 + t, 1.3, 2.5),
           *S = randn(n, d, 40 + t, 1.0, 0.0),
           *SY = randn(m, d, 50 + t, 1.0, 0.0);
    pf_pairwise *w = NULL;
    results r;
    PF_T_ASSERT(X && Y && S && SY && !alloc_results(&r, n, d), "alloc");
    PF_T_OK(pf_pairwise_create(n + 3, m, d, &w));
    for (int k = 0; k < NK; k++) {
      if (run_engine(w, ks[k], n, m, d, X, Y, S, SY, &r)) return 1;
      if (check_naive(ks[k], n, m, d, X, Y, S, SY, &r))
        PF_T_FAIL("case n=%zu m=%zu d=%zu kernel %d", n, m, d, k);
    }
    pf_pairwise_destroy(&w);
    free_results(&r);
    free(X);
    free(Y);
    free(S);
    free(SY);
  }
  free_kernels(ks, &cfg);
  return 0;
}

/* Bitwise identical results with 1 and 2 threads. */
static int test_threads_bitwise(void)
{
  pf_kernel *ks[NK] = {0};
  pf_config *cfg = NULL;
  if (make_kernels(ks, &cfg)) return 1;
  const size_t n = 301, m = 150, d = 7;
  double *X = randn(n, d, 60, 1.0, 1.0), *Y = randn(m, d, 61, 1.0, 0.0),
         *S = randn(n, d, 62, 1.0, 0.0), *SY = randn(m, d, 63, 1.0, 0.0);
  pf_pairwise *w = NULL;
  results a, b;
  PF_T_ASSERT(X && Y && S && SY && !alloc_results(&a, n, d) &&
                  !alloc_results(&b, n, d), "alloc");
  int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  PF_T_OK(pf_pairwise_create(n, m, d, &w));
  for (int k = 0; k < NK; k++) {
    omp_set_num_threads(1);
    if (run_engine(w, ks[k], n, m, d, X, Y, S, SY, &a)) return 1;
    omp_set_num_threads(2);
    if (run_engine(w, ks[k], n, m, d, X, Y, S, SY, &b)) return 1;
    PF_T_ASSERT(!memcmp(a.ks, b.ks, sizeof a.ks) &&
                    !memcmp(a.kx, b.kx, sizeof a.kx) && a.ds == b.ds &&
                    a.dx == b.dx && !memcmp(a.st, b.st, sizeof a.st),
                "sums differ between 1 and 2 threads (kernel %d)", k);
    PF_T_ASSERT(!memcmp(a.phi, b.phi, n * d * sizeof(double)) &&
                    !memcmp(a.phix, b.phix, n * d * sizeof(double)) &&
                    !memcmp(a.g, b.g, n * d * sizeof(double)) &&
                    !memcmp(a.gx, b.gx, n * d * sizeof(double)),
                "row results differ between 1 and 2 threads (kernel %d)", k);
  }
  omp_set_num_threads(saved);
  pf_pairwise_destroy(&w);
  free_results(&a);
  free_results(&b);
  free(X);
  free(Y);
  free(S);
  free(SY);
  free_kernels(ks, &cfg);
  return 0;
}

/* Kernel sections: defaults, the bandwidth forms, errors naming the key. */
static int test_config(void)
{
  static const pf_param spec[] = {
      {"k", PF_P_PLUGIN, NULL, NULL, "kernel", 0, NULL, &pf_kernels},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  struct {
    const char *yaml;
    pf_bw_rule rule;
    double h;
  } ok[] = {{"k: {name: imq}", PF_BW_MEDIAN, 1.0},
            {"k: {name: rbf, bandwidth: 0.25}", PF_BW_FIXED, 0.25},
            {"k: {name: rbf, bandwidth: median_log}", PF_BW_MEDIAN_LOG, 1.0},
            {"k: {name: imq, bandwidth: median_ref, scales: [1, 2]}",
             PF_BW_MEDIAN_REF, 1.0}};
  for (size_t i = 0; i < 4; i++) {
    pf_config *c = NULL;
    pf_kernel *k = NULL;
    PF_T_OK(pf_config_load_string(ok[i].yaml, "t.yaml", &c));
    PF_T_OK(pf_config_validate(c, spec));
    PF_T_OK(pf_kernel_create(pf_node_get(pf_config_root(c), "k"), 10, &k));
    PF_T_ASSERT(pf_kernel_rule(k) == ok[i].rule, "%s: rule", ok[i].yaml);
    PF_T_NEAR(pf_kernel_bandwidth(k), ok[i].h, 0.0);
    pf_kernel_destroy(&k);
    pf_config_destroy(&c);
  }
  const char *bad[][2] = {{"k: {name: rbf, bandwidth: medain}", "bandwidth"},
                          {"k: {name: rbf, bandwidth: -1}", "bandwidth"},
                          {"k: {name: imq, beta: 0.5}", "beta"},
                          {"k: {name: rbf, scales: [0]}", "scales"},
                          {"k: {name: gauss}", "rbf"}};
  for (size_t i = 0; i < 5; i++) {
    pf_config *c = NULL;
    pf_kernel *k = NULL;
    PF_T_OK(pf_config_load_string(bad[i][0], "t.yaml", &c));
    int rc = pf_config_validate(c, spec);
    if (rc == 0)
      rc = pf_kernel_create(pf_node_get(pf_config_root(c), "k"), 10, &k);
    PF_T_ASSERT(rc < 0, "%s accepted", bad[i][0]);
    PF_T_ASSERT(strstr(pf_error_message(), bad[i][1]),
                "%s: message lacks '%s': %s", bad[i][0], bad[i][1],
                pf_error_message());
    pf_kernel_destroy(&k);
    pf_config_destroy(&c);
  }
  return 0;
}

/* A non-finite point is not hidden by the r2 >= 0 clamp. */
static int test_nan_propagates(void)
{
  pf_kernel *k = NULL;
  pf_pairwise *w = NULL;
  const size_t n = 9, d = 2;
  double *X = randn(n, d, 70, 1.0, 0.0), *phi = calloc(n * d, 8), s[2], ds;
  PF_T_ASSERT(X && phi, "alloc");
  X[5] = NAN;
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_FIXED, 1, NULL, 0,
                               0, &k));
  PF_T_OK(pf_pairwise_create(n, n, d, &w));
  PF_T_OK(pf_pair_kernel_sum(w, k, n, X, 0, NULL, s));
  PF_T_ASSERT(isnan(s[0]), "kernel sum %g", s[0]);
  PF_T_OK(pf_pair_dist_sum(w, n, X, 0, NULL, &ds));
  PF_T_ASSERT(isnan(ds), "distance sum %g", ds);
  PF_T_OK(pf_pair_svgd(w, k, n, X, 0, NULL, X, phi));
  PF_T_ASSERT(isnan(phi[0]), "svgd %g", phi[0]);
  pf_kernel_destroy(&k);
  pf_pairwise_destroy(&w);
  free(X);
  free(phi);
  return 0;
}

/* pf_pair_svgd_fit: the bandwidth is the exact median of all pairs (rules
 * median, median_log, median_ref; against a sort of exact differences, to
 * 1e-13 relative: r2 from dot products of centered points), the direction
 * matches pf_pair_svgd with that bandwidth, and both are bitwise equal on
 * 1 and 2 threads.  Cases reach every selection path: few pairs (radix),
 * many (sample window, gathered in one pass), more than the one-pass
 * gathering holds (n = 2400: window histogram, then the bucket), d >= 16
 * (stored tiles) and two clusters of
 * coincident points (90 000 equal distances at the median: the radix path
 * down to all 64 bits). */
static int test_svgd_fit(void)
{
  static const struct {
    size_t n, d;
    int two_points;
    pf_bw_rule rule;
  } cs[] = {{200, 3, 0, PF_BW_MEDIAN},      {301, 3, 0, PF_BW_MEDIAN},
            {701, 2, 0, PF_BW_MEDIAN_LOG},  {700, 20, 0, PF_BW_MEDIAN},
            {333, 17, 0, PF_BW_MEDIAN_REF}, {600, 2, 1, PF_BW_MEDIAN},
            {2400, 3, 0, PF_BW_MEDIAN},     {1, 3, 0, PF_BW_MEDIAN}};
  int saved = omp_get_max_threads();
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    const size_t n = cs[c].n, d = cs[c].d, np = n * (n - 1) / 2;
    double *X = randn(n, d, 70 + c, 1.5, 2.0), *S = randn(n, d, 80 + c, 1, 0),
           *pairs = malloc((np + 1) * sizeof(double)),
           *p1 = malloc(n * d * sizeof(double)),
           *p2 = malloc(n * d * sizeof(double)),
           *p0 = malloc(n * d * sizeof(double));
    PF_T_ASSERT(X && S && pairs && p1 && p2 && p0, "alloc");
    if (cs[c].two_points)
      for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++) X[i * d + k] = k == 0 && i % 2;
    size_t q = 0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++) pairs[q++] = sqd(X + i * d, X + j * d, d);
    qsort(pairs, np, sizeof(double), cmp_d);
    double med;
    if (n < 2)
      med = 1.0;
    else if (cs[c].rule == PF_BW_MEDIAN_REF) {
      const size_t N = n * n, idx = N - N / 2;
      med = idx < n ? 0.0 : pairs[(idx - n) / 2];
    } else
      med = np % 2 ? pairs[np / 2] : 0.5 * (pairs[np / 2 - 1] + pairs[np / 2]);
    if (cs[c].rule == PF_BW_MEDIAN_LOG) med /= log((double)n + 1.0);
    if (!(med > 0)) med = 1.0;
    pf_kernel *k = NULL, *kf = NULL;
    pf_pairwise *w = NULL;
    omp_set_num_threads(2);
    PF_T_OK(pf_kernel_create_ops(&pf_kernel_rbf, NULL, cs[c].rule, 1.0, NULL,
                                 0, n, &k));
    PF_T_OK(pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_FIXED, med, NULL,
                                 0, 0, &kf));
    PF_T_OK(pf_pairwise_create(n, 0, d, &w));
    PF_T_ASSERT(pf_pair_svgd_fit(w, k, n, X, S, p1) == PF_EINVAL,
                "fit without reserve accepted");
    pf_error_clear();
    PF_T_OK(pf_pairwise_reserve_fit(w));
    omp_set_num_threads(1);
    PF_T_OK(pf_pair_svgd_fit(w, k, n, X, S, p1));
    const double h1 = pf_kernel_bandwidth(k);
    omp_set_num_threads(2);
    PF_T_OK(pf_pair_svgd_fit(w, k, n, X, S, p2));
    PF_T_ASSERT(h1 == pf_kernel_bandwidth(k) &&
                    !memcmp(p1, p2, n * d * sizeof(double)),
                "case %zu: 1 and 2 threads differ", c);
    PF_T_NEAR(h1, med, 1e-13 * med);
    PF_T_OK(pf_pair_svgd(w, kf, n, X, 0, NULL, S, p0));
    if (vec_close(p0, p1, n * d, 1e-11, "fit direction")) return 1;
    omp_set_num_threads(saved);
    pf_kernel_destroy(&k);
    pf_kernel_destroy(&kf);
    pf_pairwise_destroy(&w);
    free(X), free(S), free(pairs), free(p0), free(p1), free(p2);
  }
  return 0;
}

const pf_test_case pf_tests_kernels[] = {
    {"profiles", test_profiles},
    {"symmetry_gradient", test_symmetry_gradient},
    {"positive_definite", test_positive_definite},
    {"median", test_median},
    {"engine_naive", test_engine_naive},
    {"threads_bitwise", test_threads_bitwise},
    {"config", test_config},
    {"nan_propagates", test_nan_propagates},
    {"svgd_fit", test_svgd_fit},
    {NULL, NULL}};
