/* Tests of core/rng.c: bit-for-bit agreement with the C++ PCG reference,
 * jump-ahead, streams, uniform and normal distributions, and the batching
 * promises of pf_rng_normal.
 *
 * Statistical tests use fixed seeds, so they are deterministic; each
 * tolerance is 5 standard errors of the statistic for a correct generator
 * (a correct generator would fail a given seed with probability ~6e-7), or
 * a published critical value (KS).  The derivations are next to each
 * check. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pf_test.h"
#include "pflow/rng.h"
#include "pflow/vmath.h"

#define U128(hi, lo) (((pf_u128)(hi) << 64) | (pf_u128)(lo))
#define HI(x) ((unsigned long long)((x) >> 64))
#define LO(x) ((unsigned long long)(x))

/* The clamp of pf_rng_uniforms_open: largest double below 1. */
#define BELOW_ONE 0x1.fffffffffffffp-1

/* The documented formulas, from a raw output. */
static double ref_uniform(uint64_t x) { return (double)(x >> 11) * 0x1p-53; }
static double ref_open(uint64_t x)
{
  double u = ((double)(x >> 11) + 0.5) * 0x1p-53;
  return u < BELOW_ONE ? u : BELOW_ONE;
}

/* ---- bit-for-bit against the C++ reference ---------------------------- */

#define REF_N 1000

/* Read the reference's first REF_N outputs for (seed, stream). */
static int run_ref(pf_u128 seed, pf_u128 stream, uint64_t *out)
{
  char path[1024], cmd[2048], line[128];
  snprintf(path, sizeof path, "%s/tests/pcg_ref", pf_test_builddir());
  if (access(path, X_OK) != 0)
    PF_T_FAIL("reference program %s is missing (make %s builds it)", path,
              path);
  snprintf(cmd, sizeof cmd, "'%s' %016llx%016llx %016llx%016llx %d", path,
           HI(seed), LO(seed), HI(stream), LO(stream), REF_N);
  fflush(stdout);
  FILE *f = popen(cmd, "r");
  if (!f) PF_T_FAIL("popen(%s) failed", cmd);
  int k = 0;
  while (k < REF_N && fgets(line, sizeof line, f)) {
    char *end;
    out[k] = strtoull(line, &end, 16);
    if (end == line) break;
    k++;
  }
  int st = pclose(f);
  PF_T_ASSERT(st == 0, "%s exited with status %d", cmd, st);
  PF_T_ASSERT(k == REF_N, "%s printed %d outputs, want %d", cmd, k, REF_N);
  return 0;
}

static int test_pcg_reference(void)
{
  /* Stream 0, zero seed, both 64-bit halves nonzero, all-ones (the top bit
   * of the stream falls off inc = 2*stream + 1 in both implementations),
   * the classic (42, 54), and a seed with only its high half set. */
  const struct { pf_u128 seed, stream; } cases[] = {
      {U128(0, 42), U128(0, 54)},
      {U128(0, 0), U128(0, 0)},
      {U128(0x0123456789abcdefULL, 0xfedcba9876543210ULL), U128(0, 0)},
      {U128(0x9e3779b97f4a7c15ULL, 0xf39cc0605cedc834ULL),
       U128(0xdeadbeefcafebabeULL, 0x0000000000000001ULL)},
      {U128(~0ULL, ~0ULL), U128(~0ULL, ~0ULL)},
      {U128(1, 0), U128(0x8000000000000000ULL, 7)},
  };
  static uint64_t ref[REF_N];
  static double buf[REF_N];
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    if (run_ref(cases[c].seed, cases[c].stream, ref)) return 1;
    pf_rng r0, r;
    pf_rng_seed(&r0, cases[c].seed, cases[c].stream);
    /* One at a time. */
    r = r0;
    for (int k = 0; k < REF_N; k++) {
      uint64_t x = pf_rng_next(&r);
      PF_T_ASSERT(x == ref[k], "case %zu output %d: %016llx, reference "
                  "%016llx", c, k, (unsigned long long)x,
                  (unsigned long long)ref[k]);
    }
    /* The four-chain block path of pf_rng_uniforms_open, at a length that
     * is not a multiple of 4, then continued one at a time. */
    r = r0;
    pf_rng_uniforms_open(&r, REF_N - 3, buf);
    for (int k = 0; k < REF_N - 3; k++)
      PF_T_ASSERT(buf[k] == ref_open(ref[k]), "case %zu open uniform %d",
                  c, k);
    for (int k = REF_N - 3; k < REF_N; k++)
      PF_T_ASSERT(pf_rng_next(&r) == ref[k],
                  "case %zu: output %d after the block path", c, k);
    r = r0;
    for (int k = 0; k < REF_N; k++)
      PF_T_ASSERT(pf_rng_uniform(&r) == ref_uniform(ref[k]),
                  "case %zu uniform %d", c, k);
  }
  return 0;
}

/* Known answers of pcg64(42, 54), so a broken reference build cannot hide
 * a broken generator. */
static int test_known_answers(void)
{
  const uint64_t want[] = {0x86b1da1d72062b68ULL, 0x1304aa46c9853d39ULL,
                           0xa3670e9e0dd50358ULL};
  pf_rng r;
  pf_rng_seed(&r, 42, 54);
  PF_T_ASSERT(r.inc == 109, "inc = 2 * stream + 1");
  for (int k = 0; k < 3; k++) {
    uint64_t x = pf_rng_next(&r);
    PF_T_ASSERT(x == want[k], "output %d: %016llx", k, (unsigned long long)x);
  }
  return 0;
}

/* ---- jump-ahead ---------------------------------------------------------- */

static int test_advance(void)
{
  pf_rng r0;
  pf_rng_seed(&r0, U128(0x0123456789abcdefULL, 5), U128(77, 0x3141592653ULL));
  const unsigned long deltas[] = {0, 1, 2, 3, 4, 5, 7, 8, 31, 64, 1000, 4097,
                                  65537};
  for (size_t k = 0; k < sizeof deltas / sizeof deltas[0]; k++) {
    pf_rng a = r0, b = r0;
    pf_rng_advance(&a, deltas[k]);
    for (unsigned long i = 0; i < deltas[k]; i++) pf_rng_next(&b);
    PF_T_ASSERT(a.state == b.state && a.inc == b.inc,
                "advance(%lu) differs from stepping", deltas[k]);
    PF_T_ASSERT(pf_rng_next(&a) == pf_rng_next(&b), "next after advance");
  }
  /* Composition of huge jumps: advance(x) advance(y) == advance(x + y). */
  const pf_u128 x = U128(0x8000000000000123ULL, 0xfedcba9876543210ULL);
  const pf_u128 y = U128(0x7fffffffffff0000ULL, 0x0123456789abcdefULL);
  pf_rng a = r0, b = r0;
  pf_rng_advance(&a, x);
  pf_rng_advance(&a, y);
  pf_rng_advance(&b, x + y);
  PF_T_ASSERT(a.state == b.state, "advance(x) advance(y) != advance(x+y)");
  PF_T_ASSERT(a.state != r0.state, "a huge jump should move the state");
  /* The period is 2^128: 2^128 - 1 steps forward then one step is a full
   * cycle; this also checks the top bits of delta are used. */
  a = r0;
  pf_rng_advance(&a, ~(pf_u128)0);
  pf_rng_next(&a);
  PF_T_ASSERT(a.state == r0.state, "2^128 steps must return to the start");
  /* 2^127 steps: an odd power of two lands half a period away. */
  a = r0;
  pf_rng_advance(&a, (pf_u128)1 << 127);
  PF_T_ASSERT(a.state != r0.state, "2^127 steps must not be a full period");
  pf_rng_advance(&a, (pf_u128)1 << 127);
  PF_T_ASSERT(a.state == r0.state, "2 * 2^127 steps is a full period");
  return 0;
}

/* ---- streams ----------------------------------------------------------- */

static int cmp_u128(const void *a, const void *b)
{
  pf_u128 x = *(const pf_u128 *)a, y = *(const pf_u128 *)b;
  return x < y ? -1 : x > y;
}

static int test_streams_differ(void)
{
  /* Same seed, streams 0..63: the first outputs are pairwise different
   * (a 64-bit collision among 64 values has probability ~1e-16). */
  enum { NS = 64 };
  uint64_t first[NS][4];
  for (int s = 0; s < NS; s++) {
    pf_rng r;
    pf_rng_seed(&r, 12345, (pf_u128)s);
    for (int k = 0; k < 4; k++) first[s][k] = pf_rng_next(&r);
  }
  for (int s = 0; s < NS; s++)
    for (int t = s + 1; t < NS; t++)
      for (int k = 0; k < 4; k++)
        PF_T_ASSERT(first[s][k] != first[t][k],
                    "streams %d and %d agree at output %d", s, t, k);
  /* Same stream, different seeds. */
  pf_rng a, b;
  pf_rng_seed(&a, 1, 9);
  pf_rng_seed(&b, 2, 9);
  PF_T_ASSERT(pf_rng_next(&a) != pf_rng_next(&b), "seeds 1 and 2 agree");
  return 0;
}

static int test_stream_derivation(void)
{
  enum { NI = 20000 };
  static pf_u128 states[2 * NI];
  for (uint64_t i = 0; i < NI; i++) {
    pf_rng a, b, c;
    pf_rng_stream(&a, 2024, i);
    pf_rng_stream(&b, 2024, i);
    pf_rng_stream(&c, 2025, i);
    PF_T_ASSERT(a.state == b.state && a.inc == b.inc,
                "pf_rng_stream(2024, %llu) not reproducible",
                (unsigned long long)i);
    PF_T_ASSERT(a.inc == 2 * (pf_u128)i + 1, "stream of index %llu",
                (unsigned long long)i);
    PF_T_ASSERT(c.state != a.state, "seed does not change the state");
    states[2 * i] = a.state;
    states[2 * i + 1] = c.state;
  }
  /* No two (seed, index) entities share a starting state. */
  qsort(states, 2 * NI, sizeof states[0], cmp_u128);
  for (size_t k = 1; k < 2 * NI; k++)
    PF_T_ASSERT(states[k] != states[k - 1], "two entities share a state");
  /* The documented derivation, written independently: outputs 2i+1 and
   * 2i+2 of a SplitMix64 generator started at the seed. */
  for (uint64_t i = 0; i < 40; i += 13) {
    uint64_t sm = 2024, w[2];
    for (uint64_t k = 1; k <= 2 * i + 2; k++) {
      uint64_t z = (sm += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      if (k > 2 * i) w[k - 2 * i - 1] = z ^ (z >> 31);
    }
    pf_rng a, b;
    pf_rng_stream(&a, 2024, i);
    pf_rng_seed(&b, U128(w[0], w[1]), i);
    PF_T_ASSERT(a.state == b.state && a.inc == b.inc,
                "pf_rng_stream(2024, %llu) is not the documented SplitMix64 "
                "derivation", (unsigned long long)i);
  }
  /* Huge indices work too (the stream is the full 64-bit index). */
  pf_rng r;
  pf_rng_stream(&r, 0, UINT64_MAX);
  PF_T_ASSERT(r.inc == 2 * (pf_u128)UINT64_MAX + 1, "index 2^64 - 1");
  return 0;
}

/* Neighbouring entities are uncorrelated: the sample correlation of the
 * first normal of stream i with that of stream i + 1 over N indices has
 * standard error 1 / sqrt(N); tolerance 5 / sqrt(N). */
static int test_stream_correlation(void)
{
  enum { N = 1 << 16 };
  static double z[N + 1];
  for (uint64_t i = 0; i <= N; i++) {
    pf_rng r;
    pf_rng_stream(&r, 99, i);
    pf_rng_normal(&r, 1, &z[i]);
  }
  double sxy = 0;
  for (size_t i = 0; i < N; i++) sxy += z[i] * z[i + 1];
  PF_T_NEAR(sxy / N, 0.0, 5.0 / sqrt((double)N));
  return 0;
}

/* ---- uniforms ---------------------------------------------------------- */

enum { NU = 1 << 20 };

/* Mean and variance of U(0,1): 1/2 and 1/12.  Standard error of the mean
 * sqrt(1/12 / n); of the sample variance sqrt((mu4 - sigma^4) / n) with
 * mu4 = 1/80, sigma^4 = 1/144.  Tolerances: 5 standard errors. */
static int check_uniform_moments(const double *u, size_t n)
{
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) s += u[i];
  double mean = s / (double)n;
  for (size_t i = 0; i < n; i++) s2 += (u[i] - mean) * (u[i] - mean);
  double var = s2 / (double)(n - 1);
  PF_T_NEAR(mean, 0.5, 5 * sqrt(1.0 / 12 / (double)n));
  PF_T_NEAR(var, 1.0 / 12, 5 * sqrt((1.0 / 80 - 1.0 / 144) / (double)n));
  return 0;
}

static int test_uniform(void)
{
  double *u = malloc(NU * sizeof *u);
  PF_T_ASSERT(u, "malloc");
  pf_rng r;
  pf_rng_stream(&r, 31337, 0);
  int bad = 0;
  for (size_t i = 0; i < NU; i++) {
    u[i] = pf_rng_uniform(&r);
    if (!(u[i] >= 0.0 && u[i] < 1.0)) bad++;
  }
  int rc = bad ? 1 : check_uniform_moments(u, NU);
  free(u);
  PF_T_ASSERT(bad == 0, "%d uniforms outside [0, 1)", bad);
  return rc;
}

static int test_uniforms_open(void)
{
  double *u = malloc(NU * sizeof *u);
  PF_T_ASSERT(u, "malloc");
  pf_rng r;
  pf_rng_stream(&r, 31337, 1);
  pf_rng_uniforms_open(&r, NU, u);
  int bad = 0;
  for (size_t i = 0; i < NU; i++)
    if (!(u[i] > 0.0 && u[i] < 1.0)) bad++;
  int rc = bad ? 1 : check_uniform_moments(u, NU);
  free(u);
  PF_T_ASSERT(bad == 0, "%d open uniforms outside (0, 1)", bad);
  return rc;
}

/* A generator whose next output comes from post-step state s: set the
 * state to s and step back once (advance by 2^128 - 1). */
static void next_from_state(pf_rng *r, pf_u128 s)
{
  pf_rng_seed(r, 0, 3);
  r->state = s;
  pf_rng_advance(r, ~(pf_u128)0);
}

/* The extreme raw outputs: 0 (state 0) and 2^64 - 1 (halves xor to all
 * ones; any rotation keeps it).  Through the one-at-a-time path (n = 1)
 * and the four-chain path (n = 16, first element). */
static int test_uniform_edges(void)
{
  const pf_u128 zero = 0, ones = U128(~0ULL, 0);
  pf_rng r;
  double buf[16];

  next_from_state(&r, zero);
  PF_T_ASSERT(pf_rng_next(&r) == 0, "state 0 outputs 0");
  next_from_state(&r, zero);
  PF_T_ASSERT(pf_rng_uniform(&r) == 0.0, "uniform of output 0 is 0");
  next_from_state(&r, ones);
  PF_T_ASSERT(pf_rng_next(&r) == ~0ULL, "output 2^64 - 1");
  next_from_state(&r, ones);
  PF_T_ASSERT(pf_rng_uniform(&r) == 1.0 - 0x1p-53, "largest uniform");

  for (size_t n = 1; n <= 16; n += 15) {
    next_from_state(&r, zero);
    pf_rng_uniforms_open(&r, n, buf);
    PF_T_ASSERT(buf[0] == 0x1p-54, "open uniform of 0 is 2^-54 (n=%zu): %a",
                n, buf[0]);
    next_from_state(&r, ones);
    pf_rng_uniforms_open(&r, n, buf);
    PF_T_ASSERT(buf[0] == BELOW_ONE && buf[0] < 1.0,
                "open uniform of 2^64-1 stays below 1 (n=%zu): %a", n,
                buf[0]);
  }
  /* Box-Muller of the extremes stays finite. */
  next_from_state(&r, zero);
  pf_rng_normal(&r, 2, buf);
  PF_T_ASSERT(isfinite(buf[0]) && isfinite(buf[1]), "normal of u = 2^-54");
  return 0;
}

/* ---- normals ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* n = 2^20 normals from one stream.  Raw moments about the known mean 0 of
 * a standard normal and their standard errors sqrt(Var(z^k) / n):
 *   E z   = 0,  Var z   = 1
 *   E z^2 = 1,  Var z^2 = E z^4 - 1 = 2
 *   E z^3 = 0,  Var z^3 = E z^6     = 15
 *   E z^4 = 3,  Var z^4 = E z^8 - 9 = 96
 * Tolerance: 5 standard errors.  The lag-1 product E z_k z_(k+1) = 0 with
 * variance 1 (this covers the two normals of one pair).  KS: the
 * asymptotic critical value at level alpha is sqrt(-ln(alpha/2) / 2) /
 * sqrt(n), 1.949 / sqrt(n) at alpha = 1e-3. */
static int test_normal_distribution(void)
{
  enum { N = 1 << 20 };
  double *z = malloc(N * sizeof *z);
  PF_T_ASSERT(z, "malloc");
  pf_rng r;
  pf_rng_stream(&r, 2718281828ULL, 42);
  pf_rng_normal(&r, N, z);
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0, lag = 0;
  int nonfinite = 0;
  for (size_t i = 0; i < N; i++) {
    double x = z[i], x2 = x * x;
    if (!isfinite(x)) nonfinite++;
    m1 += x;
    m2 += x2;
    m3 += x2 * x;
    m4 += x2 * x2;
    if (i + 1 < N) lag += x * z[i + 1];
  }
  const double n = N;
  m1 /= n, m2 /= n, m3 /= n, m4 /= n, lag /= n - 1;
  int rc = 1;
  if (nonfinite) {
    fprintf(stderr, "    %d non-finite normals\n", nonfinite);
    goto out;
  }
#define NEAR_OR_OUT(a, b, tol)                                             \
  if (!(fabs((a) - (b)) <= (tol))) {                                       \
    fprintf(stderr, "    %s:%d: %s = %.6g, expected %g +- %.3g\n", __FILE__, \
            __LINE__, #a, (a), (double)(b), (double)(tol));                \
    goto out;                                                              \
  }
  NEAR_OR_OUT(m1, 0.0, 5 * sqrt(1 / n));
  NEAR_OR_OUT(m2, 1.0, 5 * sqrt(2 / n));
  NEAR_OR_OUT(m3, 0.0, 5 * sqrt(15 / n));
  NEAR_OR_OUT(m4, 3.0, 5 * sqrt(96 / n));
  NEAR_OR_OUT(lag, 0.0, 5 * sqrt(1 / (n - 1)));
  qsort(z, N, sizeof *z, cmp_double);
  double ks = 0;
  for (size_t i = 0; i < N; i++) {
    double f = 0.5 * erfc(-z[i] / sqrt(2.0));
    double lo = f - (double)i / n, hi = (double)(i + 1) / n - f;
    if (lo > ks) ks = lo;
    if (hi > ks) ks = hi;
  }
  const double crit = 1.949 / sqrt(n);
  if (getenv("PF_TEST_VERBOSE"))
    printf("    normals: m1 %.3g m2 %.6f m3 %.3g m4 %.5f lag %.3g "
           "KS %.3g (critical %.3g)\n", m1, m2, m3, m4, lag, ks, crit);
  if (!(ks < crit)) {
    fprintf(stderr, "    KS statistic %.4g >= %.4g\n", ks, crit);
    goto out;
  }
  rc = 0;
out:
  free(z);
  return rc;
#undef NEAR_OR_OUT
}

/* The header's batching promises, bit for bit. */
static int test_normal_batching(void)
{
  enum { N = 1000 };
  static double full[N], part[N], u[N];
  pf_rng r0, r;
  pf_rng_stream(&r0, 5, 17);
  r = r0;
  pf_rng_normal(&r, N, full);
  pf_rng after_full = r;

  /* The documented construction: uniforms in order, pairs transformed. */
  r = r0;
  pf_rng_uniforms_open(&r, N, u);
  pf_vm_box_muller(N / 2, u);
  PF_T_ASSERT(memcmp(u, full, sizeof full) == 0,
              "normal != uniforms_open + box_muller");
  PF_T_ASSERT(r.state == after_full.state, "state after %d normals", N);

  /* n normals are a prefix of N, for every n (all block and tail paths),
   * and consume 2 * ceil(n / 2) uniforms. */
  for (size_t n = 0; n <= N; n += (n < 80 ? 1 : 37)) {
    r = r0;
    memset(part, 0, sizeof part);
    pf_rng_normal(&r, n, part);
    PF_T_ASSERT(memcmp(part, full, n * sizeof *part) == 0,
                "normal(%zu) is not a prefix of normal(%d)", n, N);
    for (size_t k = n; k < N; k++)
      PF_T_ASSERT(part[k] == 0.0, "normal(%zu) wrote past its end", n);
    pf_rng s = r0;
    pf_rng_advance(&s, 2 * ((n + 1) / 2));
    PF_T_ASSERT(r.state == s.state, "normal(%zu) consumed the wrong number "
                "of uniforms", n);
  }

  /* Calls with even n concatenate to one call. */
  const size_t sizes[] = {2, 30, 34, 64, 6, 8, 10, 128, 718};
  r = r0;
  size_t at = 0;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    pf_rng_normal(&r, sizes[k], part + at);
    at += sizes[k];
  }
  PF_T_ASSERT(at == N, "sizes add up");
  PF_T_ASSERT(memcmp(part, full, sizeof full) == 0,
              "even-sized calls do not concatenate to one call");
  PF_T_ASSERT(r.state == after_full.state, "state after split calls");

  /* An odd call discards the sine normal of its last pair. */
  r = r0;
  pf_rng_normal(&r, 3, part);
  pf_rng_normal(&r, 2, part + 3);
  PF_T_ASSERT(memcmp(part, full, 3 * sizeof *part) == 0 &&
                  part[3] == full[4] && part[4] == full[5],
              "odd call must skip one normal");

  /* Entities: a stream's normals do not depend on how a caller interleaves
   * calls over streams (one call of 96 vs 12 rounds of 8 over 16 streams). */
  enum { NE = 16, M = 96 };
  static double one[NE][M], rounds[NE][M];
  pf_rng e[NE];
  for (int i = 0; i < NE; i++) {
    pf_rng_stream(&e[i], 8, (uint64_t)i);
    pf_rng_normal(&e[i], M, one[i]);
  }
  for (int i = 0; i < NE; i++) pf_rng_stream(&e[i], 8, (uint64_t)i);
  for (int k = 0; k < M; k += 8)
    for (int i = NE - 1; i >= 0; i--) pf_rng_normal(&e[i], 8, rounds[i] + k);
  PF_T_ASSERT(memcmp(one, rounds, sizeof one) == 0,
              "stream output depends on the interleaving of streams");
  return 0;
}

const pf_test_case pf_tests_rng[] = {
    {"pcg64_matches_cpp_reference", test_pcg_reference},
    {"pcg64_known_answers", test_known_answers},
    {"advance_equals_stepping", test_advance},
    {"distinct_streams_differ", test_streams_differ},
    {"stream_derivation_reproducible", test_stream_derivation},
    {"neighbour_streams_uncorrelated", test_stream_correlation},
    {"uniform_range_and_moments", test_uniform},
    {"uniforms_open_range_and_moments", test_uniforms_open},
    {"uniform_extreme_outputs", test_uniform_edges},
    {"normal_moments_and_ks", test_normal_distribution},
    {"normal_batching_invariance", test_normal_batching},
    {NULL, NULL},
};
