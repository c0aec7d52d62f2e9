/* SVGD step benchmark: pflow's `svgd` sampler against the NumPy and
 * PyTorch reference steps of bench/ref_svgd.py (same target N(0, I), RBF
 * kernel, median bandwidth over pairs i < j refitted every step, plain
 * step), for n in {1000, 2000, 5000} and d in {2, 10, 100}.
 *
 * usage: bench_svgd [REF_FILE]   REF_FILE: lines "n d numpy_s torch_s"
 *
 * Columns: seconds per full step (score, median, direction, update) for
 * pflow, numpy, torch; the speed-up over the faster reference; the
 * direction alone (pf_pair_svgd) in ms and its GFLOP/s counting 6 n^2 d
 * flops (x.y, F S, F' Y: 2 flops per multiply-add), as a percentage of the
 * FMA peak measured here (the method of bench_pairwise: independent 4-wide
 * FMA chains per thread); and the median bandwidth's share of the step.
 * The median rule looks at min(n, 2048) points (PF_MEDIAN_MAX_POINTS), the
 * references at all n. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/particles.h"
#include "pflow/progress.h"
#include "pflow/registry.h"
#include "pflow/sampler.h"
#include "pflow/target.h"

static void die(void)
{
  fprintf(stderr, "bench_svgd: %s\n%s", pf_error_message(), pf_error_trace());
  exit(1);
}

/* FMA throughput of `threads` threads, GFLOP/s (best of 3). */
static double fma_peak(int threads)
{
  const long iters = 20000000;
  double best = 0.0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = pf_wtime(), sink = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
#if defined(__AVX2__) && defined(__FMA__)
      __m256d b = _mm256_set1_pd(0.999999), c = _mm256_set1_pd(1e-7);
      __m256d a0 = _mm256_set1_pd(1.0), a1 = _mm256_set1_pd(1.1),
              a2 = _mm256_set1_pd(1.2), a3 = _mm256_set1_pd(1.3),
              a4 = _mm256_set1_pd(1.4), a5 = _mm256_set1_pd(1.5),
              a6 = _mm256_set1_pd(1.6), a7 = _mm256_set1_pd(1.7),
              a8 = _mm256_set1_pd(1.8), a9 = _mm256_set1_pd(1.9);
      for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_pd(a0, b, c), a1 = _mm256_fmadd_pd(a1, b, c);
        a2 = _mm256_fmadd_pd(a2, b, c), a3 = _mm256_fmadd_pd(a3, b, c);
        a4 = _mm256_fmadd_pd(a4, b, c), a5 = _mm256_fmadd_pd(a5, b, c);
        a6 = _mm256_fmadd_pd(a6, b, c), a7 = _mm256_fmadd_pd(a7, b, c);
        a8 = _mm256_fmadd_pd(a8, b, c), a9 = _mm256_fmadd_pd(a9, b, c);
      }
      __m256d s = _mm256_add_pd(
          _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)),
          _mm256_add_pd(_mm256_add_pd(a4, a5), _mm256_add_pd(a6, a7)));
      s = _mm256_add_pd(s, _mm256_add_pd(a8, a9));
      double o[4];
      _mm256_storeu_pd(o, s);
      sink += o[0] + o[1] + o[2] + o[3];
#else
      double a = 1.0;
      for (long i = 0; i < iters; i++) a = a * 0.999999 + 1e-7;
      sink += a;
#endif
    }
    double t = pf_wtime() - t0;
#if defined(__AVX2__) && defined(__FMA__)
    double gf = (double)threads * iters * 10 * 4 * 2 / t / 1e9;
#else
    double gf = (double)threads * iters * 2 / t / 1e9;
#endif
    if (gf > best && sink != 0.0) best = gf;
  }
  return best;
}

#define TIME_BEST(var, reps, stmt)                        \
  do {                                                    \
    (var) = 1e300;                                        \
    for (int r_ = 0; r_ < (reps); r_++) {                 \
      double t0_ = pf_wtime();                            \
      stmt;                                               \
      double t_ = pf_wtime() - t0_;                       \
      if (t_ < (var)) (var) = t_;                         \
    }                                                     \
  } while (0)

static int ref_lookup(const char *path, size_t n, size_t d, double *tn,
                      double *tt)
{
  *tn = *tt = 0.0 / 0.0;
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) return 0;
  unsigned long a, b;
  double x, y;
  while (fscanf(f, "%lu %lu %lf %lf", &a, &b, &x, &y) == 4)
    if (a == n && b == d) *tn = x, *tt = y;
  fclose(f);
  return 0;
}

int main(int argc, char **argv)
{
  static const size_t ns[] = {1000, 2000, 5000}, ds[] = {2, 10, 100};
  static const pf_param spec[] = {
      {"target", PF_P_PLUGIN, NULL, NULL, "t", 0, NULL, &pf_targets},
      {"sampler", PF_P_PLUGIN, NULL, NULL, "s", 0, NULL, &pf_samplers},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  const int thr = omp_get_max_threads();
  const double peak = fma_peak(thr);
  printf("svgd step, RBF kernel, median bandwidth every step, %d threads, "
         "FMA peak %.1f GFLOP/s\n", thr, peak);
  printf("%5s %4s %11s %11s %11s %7s %10s %8s %6s %7s\n", "n", "d",
         "pflow_s", "numpy_s", "torch_s", "speedup", "pair_ms", "GFLOP/s",
         "%peak", "median%");
  for (size_t a = 0; a < 3; a++)
    for (size_t b = 0; b < 3; b++) {
      const size_t n = ns[a], d = ds[b];
      char text[512];
      snprintf(text, sizeof text,
               "target: {name: gaussian, dim: %zu}\n"
               "sampler: {name: svgd, n_particles: %zu, kernel: {name: rbf, "
               "bandwidth: median}, optimizer: plain, step_size: 0.001}\n",
               d, n);
      pf_config *c = NULL;
      pf_target *t = NULL;
      pf_particles *p = NULL;
      void *st = NULL;
      const pf_plugin *pl;
      if (pf_config_load_string(text, "bench", &c) < 0 ||
          pf_config_validate(c, spec) < 0)
        die();
      const pf_node *ts = pf_node_get(pf_config_root(c), "target"),
                    *ss = pf_node_get(pf_config_root(c), "sampler");
      if (pf_target_create(ts, &t) < 0 ||
          pf_registry_find(&pf_samplers, "svgd", &pl) < 0 ||
          pf_particles_create(n, d, 1, 0, &p) < 0 ||
          pf_sampler_init_particles(ss, t, p) < 0)
        die();
      const pf_sampler_ops *ops = (const pf_sampler_ops *)pl;
      if (ops->create(ss, t, n, d, &st) < 0 || ops->init(st, p) < 0) die();
      double info[8], ts_step, t_pair, t_med;
      long it = 1;
      const int reps = n >= 5000 ? 3 : 5;
      if (ops->step(st, it++, p, info) < 0) die(); /* warm-up */
      TIME_BEST(ts_step, reps, if (ops->step(st, it++, p, info) < 0) die());
      /* the direction and the median alone, on the same points */
      pf_kernel *k = NULL;
      pf_pairwise *w = NULL;
      double *phi = pf_alloc_doubles(n * d);
      extern const pf_kernel_ops pf_kernel_rbf;
      if (!phi ||
          pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_MEDIAN, 1, NULL, 0,
                               n, &k) < 0 ||
          pf_pairwise_create(n, 0, d, &w) < 0)
        die();
      TIME_BEST(t_med, reps, if (pf_kernel_fit(k, n, d, p->x) < 0) die());
      TIME_BEST(t_pair, reps, if (pf_pair_svgd(w, k, n, p->x, 0, NULL,
                                               p->grad, phi) < 0) die());
      double tn, tt;
      ref_lookup(argc > 1 ? argv[1] : NULL, n, d, &tn, &tt);
      double ref = tn < tt || tt != tt ? tn : tt;
      double gf = 6.0 * (double)d * (double)n * (double)n / t_pair / 1e9;
      printf("%5zu %4zu %11.3e %11.3e %11.3e %7.1f %10.3f %8.1f %6.1f %7.1f\n",
             n, d, ts_step, tn, tt, ref / ts_step, t_pair * 1e3, gf,
             100.0 * gf / peak, 100.0 * t_med / ts_step);
      fflush(stdout);
      free(phi);
      pf_pairwise_destroy(&w);
      pf_kernel_destroy(&k);
      ops->destroy(st);
      pf_particles_destroy(&p);
      pf_target_destroy(&t);
      pf_config_destroy(&c);
    }
  return 0;
}
