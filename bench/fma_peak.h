/* Shared by the benchmark drivers: the machine's measured FMA peak. */
#ifndef PF_BENCH_FMA_PEAK_H
#define PF_BENCH_FMA_PEAK_H
#include <immintrin.h>

#include "pflow/progress.h"

/* FMA throughput: 10 independent 4-wide chains per thread (named, so they
 * live in registers), a = a * b + c. */
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
      a0 = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(a0, a1),
                                        _mm256_add_pd(a2, a3)),
                          _mm256_add_pd(_mm256_add_pd(a4, a5),
                                        _mm256_add_pd(a6, a7)));
      a0 = _mm256_add_pd(a0, _mm256_add_pd(a8, a9));
      double o[4];
      _mm256_storeu_pd(o, a0);
      sink += o[0] + o[1] + o[2] + o[3];
#else
      double a = 1.0;
      for (long i = 0; i < iters; i++) a = a * 0.999999 + 1e-7;
      sink += a;
#endif
    }
    double t = pf_wtime() - t0;
    double gf = (double)threads * iters * 10 * 4 * 2 / t / 1e9;
    if (gf > best && sink != 0.0) best = gf;
  }
  return best;
}

#endif
