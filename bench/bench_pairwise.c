/* Pairwise engine benchmark at n = 2000, d = 10: GFLOP/s of the SVGD
 * direction and the KSD (Stein kernel) sum against the machine's FMA peak
 * measured here, the median bandwidth, and the cost of one diagnostics
 * pass (ksd + mmd2 + energy, n = m = 2000) in SVGD direction evaluations.
 *
 * Flop counts are the arithmetic of the dot-product / GEMM-shaped parts
 * (2 flops per multiply-add over d), per pair actually visited:
 *   SVGD direction: x.y, F S, F' Y          -> 6 d per ordered pair (n^2)
 *   KSD sum: x.y, s.s, s.x, x.s             -> 8 d per pair visited (tiles
 *            J >= I of the symmetric sum, ~ n^2 / 2)
 * Kernel values (exp, 1/sqrt) and the tile glue are not counted, so the
 * percentages are conservative. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "fma_peak.h"
#include "pflow/config.h"
#include "pflow/diagnostic.h"
#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/particles.h"
#include "pflow/progress.h"
#include "pflow/rng.h"

extern const pf_kernel_ops pf_kernel_rbf, pf_kernel_imq;
extern const pf_diagnostic_ops pf_diagnostic_ksd, pf_diagnostic_mmd2,
    pf_diagnostic_energy;


/* var = best wall time of reps runs of stmt */
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

static void die(void)
{
  fprintf(stderr, "bench_pairwise: %s\n%s", pf_error_message(),
          pf_error_trace());
  exit(1);
}

int main(void)
{
  const size_t n = 2000, m = 2000, d = 10, T = PF_PAIR_TILE;
  const int maxthr = omp_get_max_threads();
  pf_rng r;
  pf_particles *p = NULL;
  double *Y = pf_alloc_doubles(m * d), *phi = pf_alloc_doubles(n * d);
  if (!Y || !phi || pf_particles_create(n, d, 1, 0, &p) < 0) die();
  pf_rng_stream(&r, 1, 0);
  pf_rng_normal(&r, n * d, p->x);
  pf_rng_normal(&r, m * d, Y);
  for (size_t i = 0; i < n * d; i++) {
    p->x[i] += 0.3;
    p->grad[i] = -p->x[i];
  }
  pf_kernel *rbf = NULL, *imq = NULL;
  pf_pairwise *w = NULL;
  if (pf_kernel_create_ops(&pf_kernel_rbf, NULL, PF_BW_MEDIAN, 1, NULL, 0, n,
                           &rbf) < 0 ||
      pf_kernel_create_ops(&pf_kernel_imq, NULL, PF_BW_FIXED, 1, NULL, 0, 0,
                           &imq) < 0 ||
      pf_pairwise_create(n, m, d, &w) < 0)
    die();
  if (pf_kernel_fit(rbf, n, d, p->x) < 0) die();

  /* pairs visited by a symmetric sum: tiles J >= I */
  double vis = 0.0;
  for (size_t i0 = 0; i0 < n; i0 += T)
    for (size_t j0 = i0; j0 < n; j0 += T)
      vis += (double)(n - i0 < T ? n - i0 : T) *
             (double)(n - j0 < T ? n - j0 : T);
  const double fl_svgd = 6.0 * d * (double)n * n, fl_ksd = 8.0 * d * vis;

  /* diagnostics (created once, computed in the timed loop) */
  pf_config *c = NULL;
  static const pf_param spec[] = {
      {"metrics", PF_P_STRINGS, "[]", NULL, "m", PF_PARAM_ITEM_SECTIONS,
       NULL, &pf_diagnostics},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  if (pf_config_load_string("metrics: [ksd, mmd2, energy]", "bench", &c) < 0 ||
      pf_config_validate(c, spec) < 0)
    die();
  const pf_diagnostic_ops *ops[3] = {&pf_diagnostic_ksd, &pf_diagnostic_mmd2,
                                     &pf_diagnostic_energy};
  void *ctx[3];
  pf_diag_env env = {NULL, n, d, Y, m, 1};
  for (int i = 0; i < 3; i++)
    if (ops[i]->create(pf_config_root(c), &env, &ctx[i]) < 0) die();

  printf("pairwise n=%zu m=%zu d=%zu tile=%zu\n", n, m, d, T);
  for (int thr = 1; thr <= maxthr && thr <= 2; thr++) {
    omp_set_num_threads(thr);
    double peak = fma_peak(thr);
    double t_svgd, t_ksd, t_med, t_diag, ks[2], out[2];
    TIME_BEST(t_svgd, 7, if (pf_pair_svgd(w, rbf, n, p->x, 0, NULL, p->grad,
                                         phi) < 0) die());
    TIME_BEST(t_ksd, 7, if (pf_pair_stein_sum(w, imq, n, p->x, p->grad, ks) <
                            0) die());
    TIME_BEST(t_med, 3, if (pf_kernel_fit(rbf, n, d, p->x) < 0) die());
    TIME_BEST(t_diag, 3, for (int i = 0; i < 3; i++) if (
                             ops[i]->compute(ctx[i], p, out) < 0) die());
    printf("threads %d\n", thr);
    printf("  fma_peak_gflops %.1f\n", peak);
    printf("  svgd_direction_ms %.3f  gflops %.1f  (%.0f%% of peak)\n",
           t_svgd * 1e3, fl_svgd / t_svgd / 1e9,
           100.0 * fl_svgd / t_svgd / 1e9 / peak);
    printf("  ksd_sum_ms %.3f  gflops %.1f  (%.0f%% of peak)\n", t_ksd * 1e3,
           fl_ksd / t_ksd / 1e9, 100.0 * fl_ksd / t_ksd / 1e9 / peak);
    printf("  median_bandwidth_ms %.3f\n", t_med * 1e3);
    printf("  diagnostics_pass_ms %.3f  (ksd + mmd2 + energy vs m=%zu)\n",
           t_diag * 1e3, m);
    printf("  ratio_diagnostics_over_svgd_direction %.2f\n", t_diag / t_svgd);
    printf("  ratio_diagnostics_over_svgd_direction_with_median %.2f\n",
           t_diag / (t_svgd + t_med));
  }
  omp_set_num_threads(maxthr);
  for (int i = 0; i < 3; i++) ops[i]->destroy(ctx[i]);
  pf_config_destroy(&c);
  pf_kernel_destroy(&rbf);
  pf_kernel_destroy(&imq);
  pf_pairwise_destroy(&w);
  pf_particles_destroy(&p);
  free(Y);
  free(phi);
  return 0;
}
