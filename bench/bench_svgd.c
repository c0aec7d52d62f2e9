/* SVGD step benchmark: pflow's `svgd` sampler against the NumPy and
 * PyTorch reference steps of bench/ref_svgd.py (same target N(0, I), RBF
 * kernel, median bandwidth over pairs i < j refitted every step, plain
 * step), for n in {1000, 2000, 5000} and d in {2, 10, 100}.
 *
 * usage: bench_svgd [REF_FILE [n,d ...]]   REF_FILE: lines "n d numpy_s
 *   torch_s"; n,d pairs restrict the sizes
 *
 * Columns: seconds per full step (score, median, direction, update) for
 * pflow, numpy, torch; the speed-up over the faster reference; the
 * direction alone (pf_pair_svgd) in ms and its GFLOP/s counting 6 n^2 d
 * flops (x.y, F S, F' Y: 2 flops per multiply-add), as a percentage of the
 * FMA peak measured here (the method of bench_pairwise: independent 4-wide
 * FMA chains per thread); the direction with the median refit fused in
 * (pf_pair_svgd_fit, what the sampler's step runs) in ms, and the median's
 * share of the step (fit_ms - pair_ms over the step).  Like the references,
 * the step's median is exact over all n(n-1)/2 pairs. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "fma_peak.h"
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
  printf("%5s %4s %11s %11s %11s %7s %10s %8s %6s %10s %7s\n", "n", "d",
         "pflow_s", "numpy_s", "torch_s", "speedup", "pair_ms", "GFLOP/s",
         "%peak", "fit_ms", "median%");
  for (size_t a = 0; a < 3; a++)
    for (size_t b = 0; b < 3; b++) {
      const size_t n = ns[a], d = ds[b];
      if (argc > 2) { /* "n,d ..." after REF_FILE: only those */
        int want = 0;
        for (int q = 2; q < argc; q++) {
          unsigned long qn, qd;
          if (sscanf(argv[q], "%lu,%lu", &qn, &qd) == 2 && qn == n && qd == d)
            want = 1;
        }
        if (!want) continue;
      }
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
      double info[8], ts_step, t_pair, t_fit;
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
          pf_pairwise_create(n, 0, d, &w) < 0 ||
          pf_pairwise_reserve_fit(w) < 0)
        die();
      TIME_BEST(t_fit, reps, if (pf_pair_svgd_fit(w, k, n, p->x, p->grad,
                                                  phi) < 0) die());
      TIME_BEST(t_pair, reps, if (pf_pair_svgd(w, k, n, p->x, 0, NULL,
                                               p->grad, phi) < 0) die());
      double tn, tt;
      ref_lookup(argc > 1 ? argv[1] : NULL, n, d, &tn, &tt);
      double ref = tn < tt || tt != tt ? tn : tt;
      double gf = 6.0 * (double)d * (double)n * (double)n / t_pair / 1e9;
      printf("%5zu %4zu %11.3e %11.3e %11.3e %7.1f %10.3f %8.1f %6.1f %10.3f "
             "%7.1f\n", n, d, ts_step, tn, tt, ref / ts_step, t_pair * 1e3,
             gf, 100.0 * gf / peak, t_fit * 1e3,
             100.0 * (t_fit - t_pair) / ts_step);
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
