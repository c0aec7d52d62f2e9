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
  /* Ziggurat of the extremes: output 0 is layer 0, sign +, m = 0 -> +0;
   * output 2^64 - 1 is the top layer, sign -, m = 2^53 - 1: a wedge that
   * takes further outputs; both finite, through both call paths. */
  for (size_t n = 1; n <= 16; n += 15) {
    next_from_state(&r, zero);
    pf_rng_normal(&r, n, buf);
    PF_T_ASSERT(buf[0] == 0.0 && !signbit(buf[0]), "normal of output 0 "
                "(n=%zu): %a", n, buf[0]);
    next_from_state(&r, ones);
    pf_rng_normal(&r, n, buf);
    PF_T_ASSERT(isfinite(buf[0]), "normal of output 2^64-1 (n=%zu): %g", n,
                buf[0]);
  }
  return 0;
}


/* ---- normals: the ziggurat -------------------------------------------- */

/* x_k, f_k of core/rng.c. */
#define ZX pf__zig_x
#define ZF pf__zig_f
#define ZN PF__ZIG_LAYERS

/* The tables define 256 layers of equal area v under f(x) = exp(-x^2/2):
 * the base strip r f(r) + tail area, and rectangles x_k (f_(k+1) - f_k).
 * Checked against erfc in double to a relative 1e-13 (the tables are
 * exact to double rounding; recomputing the areas in double loses a few
 * ulps). */
static int test_ziggurat_tables(void)
{
  const double r = ZX[1];
  const double v = r * exp(-0.5 * r * r) + sqrt(M_PI / 2) * erfc(r / sqrt(2.0));
  PF_T_NEAR(r, 3.6541528853610088, 1e-15);
  PF_T_NEAR(ZX[0] * exp(-0.5 * r * r) / v, 1.0, 1e-14);
  PF_T_ASSERT(ZX[ZN] == 0.0 && ZF[ZN] == 1.0, "x_256 = 0, f_256 = 1");
  for (int k = 0; k <= ZN; k++) {
    if (k < ZN) PF_T_ASSERT(ZX[k + 1] < ZX[k], "x decreasing at %d", k);
    /* f_k is f(x_k) for the exact x_k: the rounding of x_k moves f by a
     * relative x^2 2^-53 */
    PF_T_NEAR(ZF[k], exp(-0.5 * ZX[k] * ZX[k]),
              4e-16 * (1 + ZX[k] * ZX[k]) * ZF[k]);
  }
  for (int k = 1; k < ZN; k++)
    PF_T_ASSERT(fabs(ZX[k] * (ZF[k + 1] - ZF[k]) / v - 1) < 1e-13,
                "layer %d area %.17g, v %.17g", k, ZX[k] * (ZF[k + 1] - ZF[k]),
                v);
  return 0;
}

/* The documented algorithm, written out one output at a time from
 * pf_rng_next and the two published tables; it counts which path each
 * output takes. */
typedef struct zig_counts {
  long words, rect, tail, tail_rounds, wedge_acc, wedge_rej;
} zig_counts;

static double ref_normal(pf_rng *r, zig_counts *c)
{
  for (;;) {
    uint64_t w = pf_rng_next(r);
    c->words++;
    unsigned k = (unsigned)(w & 255);
    double sgn = (w >> 8) & 1 ? -1.0 : 1.0;
    double z = (double)(w >> 11) * 0x1p-53 * ZX[k];
    if (z < ZX[k + 1]) {
      c->rect++;
      return sgn * z;
    }
    if (k == 0) {
      double a, b;
      c->tail++;
      do {
        c->tail_rounds++;
        a = -log(ref_open(pf_rng_next(r))) / ZX[1];
        b = -log(ref_open(pf_rng_next(r)));
        c->words += 2;
      } while (!(b + b > a * a));
      return sgn * (ZX[1] + a);
    }
    double y = ZF[k] + ref_uniform(pf_rng_next(r)) * (ZF[k + 1] - ZF[k]);
    c->words++;
    if (y < exp(-0.5 * z * z)) {
      c->wedge_acc++;
      return sgn * z;
    }
    c->wedge_rej++;
  }
}

/* pf_rng_normal equals the reference bit for bit, and leaves the generator
 * where the reference does, over 2^20 normals in calls of mixed sizes (so
 * slow paths fall on group and call boundaries).  The path counts of the
 * reference are checked against their probabilities per output (binomial,
 * 5 standard errors), which also proves the wedge, wedge-rejection and
 * tail paths ran:
 *   P(rectangle) = (1/256) sum_k x_(k+1) / x_k,
 *   P(tail)      = (1/256) (tail area) / v,
 *   P(wedge)     = 1 - P(rectangle) - P(tail). */
static int test_normal_reference_paths(void)
{
  enum { N = 1 << 20 };
  static double lib[N], ref[N];
  static const size_t sizes[] = {1, 2, 3, 5, 7, 8, 9, 13, 64, 100, 1000, 4099};
  pf_rng a, b;
  pf_rng_stream(&a, 424242, 3);
  b = a;
  zig_counts c = {0};
  size_t at = 0;
  for (size_t q = 0; at < N; q++) {
    size_t m = sizes[q % (sizeof sizes / sizeof sizes[0])];
    if (m > N - at) m = N - at;
    pf_rng_normal(&a, m, lib + at);
    for (size_t j = 0; j < m; j++) ref[at + j] = ref_normal(&b, &c);
    at += m;
    PF_T_ASSERT(a.state == b.state, "generator state differs after %zu "
                "normals", at);
  }
  for (size_t j = 0; j < N; j++)
    PF_T_ASSERT(memcmp(&lib[j], &ref[j], sizeof lib[j]) == 0,
                "normal %zu: %a, reference %a", j, lib[j], ref[j]);
  /* One call of all N from the same start agrees too. */
  pf_rng_stream(&a, 424242, 3);
  pf_rng_normal(&a, N, lib);
  PF_T_ASSERT(memcmp(lib, ref, sizeof lib) == 0 && a.state == b.state,
              "one call of %d differs from split calls", N);

  const double r = ZX[1];
  const double v = r * exp(-0.5 * r * r) + sqrt(M_PI / 2) * erfc(r / sqrt(2.0));
  double p_rect = 0;
  for (int k = 0; k < ZN; k++) p_rect += ZX[k + 1] / ZX[k];
  p_rect /= ZN;
  const double p_tail = sqrt(M_PI / 2) * erfc(r / sqrt(2.0)) / v / ZN;
  const double p_wedge = 1 - p_rect - p_tail;
  const long wedges = c.wedge_acc + c.wedge_rej;
  const double W = (double)(c.rect + c.tail + wedges); /* layer draws */
  PF_T_ASSERT(c.words == c.rect + c.tail + 2 * wedges + 2 * c.tail_rounds,
              "outputs per path");
  if (getenv("PF_TEST_VERBOSE"))
    printf("    ziggurat: %ld outputs, %.0f layer draws: rect %ld (p %.5f), "
           "wedge %ld acc / %ld rej (p %.5f), tail %ld (p %.3g) in %ld "
           "rounds\n", c.words, W, c.rect, p_rect, c.wedge_acc, c.wedge_rej,
           p_wedge, c.tail, p_tail, c.tail_rounds);
  PF_T_ASSERT(c.rect + c.wedge_acc + c.tail == N, "one accept per normal");
  PF_T_NEAR(c.rect / W, p_rect, 5 * sqrt(p_rect * (1 - p_rect) / W));
  PF_T_NEAR(wedges / W, p_wedge, 5 * sqrt(p_wedge * (1 - p_wedge) / W));
  PF_T_NEAR(c.tail / W, p_tail, 5 * sqrt(p_tail * (1 - p_tail) / W));
  PF_T_ASSERT(c.wedge_acc > 0 && c.wedge_rej > 0 && c.tail > 0 &&
                  c.tail_rounds > c.tail,
              "paths not all exercised: wedge %ld/%ld tail %ld rounds %ld",
              c.wedge_acc, c.wedge_rej, c.tail, c.tail_rounds);
  return 0;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* KS on n = 2^20 normals from one stream against the normal CDF: the
 * asymptotic critical value at level alpha is sqrt(-ln(alpha/2) / 2) /
 * sqrt(n), 1.628 / sqrt(n) at alpha = 1 %.  Also the lag-1 product
 * E z_k z_(k+1) = 0 with variance 1 (5 standard errors). */
static int test_normal_ks(void)
{
  enum { N = 1 << 20 };
  double *z = malloc(N * sizeof *z);
  PF_T_ASSERT(z, "malloc");
  pf_rng r;
  pf_rng_stream(&r, 2718281828ULL, 42);
  pf_rng_normal(&r, N, z);
  const double n = N;
  double lag = 0;
  for (size_t i = 0; i + 1 < N; i++) lag += z[i] * z[i + 1];
  lag /= n - 1;
  qsort(z, N, sizeof *z, cmp_double);
  double ks = 0;
  for (size_t i = 0; i < N; i++) {
    double f = 0.5 * erfc(-z[i] / sqrt(2.0));
    double lo = f - (double)i / n, hi = (double)(i + 1) / n - f;
    if (lo > ks) ks = lo;
    if (hi > ks) ks = hi;
  }
  free(z);
  const double crit = 1.628 / sqrt(n);
  if (getenv("PF_TEST_VERBOSE"))
    printf("    normals: KS %.4g (1 %% critical %.4g), lag-1 %.3g\n", ks,
           crit, lag);
  PF_T_ASSERT(ks < crit, "KS statistic %.4g >= %.4g", ks, crit);
  PF_T_NEAR(lag, 0.0, 5 * sqrt(1 / (n - 1)));
  return 0;
}

/* NB = 2^27 normals of one stream, drawn in calls of 65521 (prime, so call
 * ends fall everywhere in the four-output groups).  Checks, each with a
 * tolerance of 5 Monte Carlo standard errors of a correct sampler:
 *  - tail frequencies p = P(|z| > 3), P(|z| > 4), P(z > 5) from erfc,
 *    standard error sqrt(p (1 - p) / NB);
 *  - raw moments about the known mean 0 (mean, variance, skewness and
 *    kurtosis, since sigma = 1), standard error sqrt(Var(z^k) / NB):
 *      E z = 0 (Var 1), E z^2 = 1 (Var 2), E z^3 = 0 (Var 15),
 *      E z^4 = 3 (Var 96);
 *  - the fraction of negative draws, 1/2 (Var 1/4);
 *  - chi-square of |z| over the 256 ziggurat layer bins [x_(k+1), x_k)
 *    and the tail [r, inf) (where a wrong wedge or tail would show),
 *    expected P = erfc(lo/sqrt2) - erfc(hi/sqrt2), against the 0.1 %
 *    critical value of chi^2 with 255 degrees of freedom (Wilson-Hilferty:
 *    330.5). */
static int test_normal_tails_moments(void)
{
  enum { NB = 1 << 27, CH = 65521 };
  double *z = malloc(CH * sizeof *z);
  PF_T_ASSERT(z, "malloc");
  static long bins[ZN];
  memset(bins, 0, sizeof bins);
  enum { GRID = 4096 };
  static int cell[GRID + 1];
  for (int g = 0, k = ZN - 1; g <= GRID; g++) {
    double a0 = g * (ZX[1] / GRID); /* bin(a0): x_(k+1) <= a0 < x_k */
    while (k > 1 && a0 >= ZX[k]) k--;
    cell[g] = k;
  }
  pf_rng r;
  pf_rng_stream(&r, 1618033988ULL, 7);
  long c3 = 0, c4 = 0, c5 = 0, neg = 0, nonfinite = 0;
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (size_t at = 0; at < NB; at += CH) {
    size_t m = NB - at < CH ? NB - at : CH;
    pf_rng_normal(&r, m, z);
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    for (size_t j = 0; j < m; j++) {
      double x = z[j], a = fabs(x), x2 = x * x;
      if (!isfinite(x)) nonfinite++;
      s1 += x, s2 += x2, s3 += x2 * x, s4 += x2 * x2;
      c3 += a > 3, c4 += a > 4, c5 += x > 5, neg += signbit(x) != 0;
      /* bin k >= 1 holds [x_(k+1), x_k) (x decreasing), bin 0 the tail
       * [r, inf): start at the bin of the grid cell's left edge, the
       * largest bin the cell meets, and walk down (cells are narrower
       * than layers, so at most a step or two) */
      if (a >= ZX[1]) {
        bins[0]++;
        continue;
      }
      int k = cell[(int)(a * (GRID / ZX[1]))];
      while (a >= ZX[k]) k--;
      bins[k]++;
    }
    m1 += s1, m2 += s2, m3 += s3, m4 += s4;
  }
  free(z);
  PF_T_ASSERT(nonfinite == 0, "%ld non-finite normals", nonfinite);
  const double n = NB;
  m1 /= n, m2 /= n, m3 /= n, m4 /= n;
  const double p3 = erfc(3 / sqrt(2.0)), p4 = erfc(4 / sqrt(2.0));
  const double p5 = 0.5 * erfc(5 / sqrt(2.0));
  double chi2 = 0;
  for (int k = 0; k < ZN; k++) {
    double p = k == 0 ? erfc(ZX[1] / sqrt(2.0))
                      : erfc(ZX[k + 1] / sqrt(2.0)) - erfc(ZX[k] / sqrt(2.0));
    double e = n * p, d = (double)bins[k] - e;
    chi2 += d * d / e;
  }
  if (getenv("PF_TEST_VERBOSE"))
    printf("    %d normals: |z|>3 %ld (exp %.1f), |z|>4 %ld (exp %.1f), "
           "z>5 %ld (exp %.2f); m1 %.3g m2 %.6f m3 %.3g m4 %.5f; "
           "neg %.6f; chi2(255) %.1f\n", NB, c3, n * p3, c4, n * p4, c5,
           n * p5, m1, m2, m3, m4, neg / n, chi2);
  PF_T_NEAR(c3 / n, p3, 5 * sqrt(p3 * (1 - p3) / n));
  PF_T_NEAR(c4 / n, p4, 5 * sqrt(p4 * (1 - p4) / n));
  PF_T_NEAR(c5 / n, p5, 5 * sqrt(p5 * (1 - p5) / n));
  PF_T_NEAR(m1, 0.0, 5 * sqrt(1 / n));
  PF_T_NEAR(m2, 1.0, 5 * sqrt(2 / n));
  PF_T_NEAR(m3, 0.0, 5 * sqrt(15 / n));
  PF_T_NEAR(m4, 3.0, 5 * sqrt(96 / n));
  PF_T_NEAR(neg / n, 0.5, 5 * sqrt(0.25 / n));
  PF_T_ASSERT(chi2 < 330.5, "chi-square over the layer bins %.1f >= 330.5",
              chi2);
  return 0;
}

/* The header's batching promises, bit for bit. */
static int test_normal_batching(void)
{
  enum { N = 1000 };
  static double full[N], part[N];
  static pf_u128 after[N + 1];
  pf_rng r0, r;
  pf_rng_stream(&r0, 5, 17);
  r = r0;
  pf_rng_normal(&r, N, full);
  pf_rng after_full = r;

  /* The state after each normal of the reference construction. */
  r = r0;
  zig_counts c = {0};
  after[0] = r.state;
  for (size_t k = 0; k < N; k++) {
    double x = ref_normal(&r, &c);
    PF_T_ASSERT(memcmp(&x, &full[k], sizeof x) == 0, "normal %zu differs "
                "from the reference", k);
    after[k + 1] = r.state;
  }
  PF_T_ASSERT(after[N] == after_full.state, "state after %d normals", N);
  PF_T_ASSERT(c.wedge_acc + c.wedge_rej > 0, "no wedge among %d normals", N);

  /* n normals are a prefix of N, for every n (all group and tail paths),
   * and consume exactly the outputs the reference does. */
  for (size_t n = 0; n <= N; n += (n < 80 ? 1 : 37)) {
    r = r0;
    memset(part, 0, sizeof part);
    pf_rng_normal(&r, n, part);
    PF_T_ASSERT(memcmp(part, full, n * sizeof *part) == 0,
                "normal(%zu) is not a prefix of normal(%d)", n, N);
    for (size_t k = n; k < N; k++)
      PF_T_ASSERT(part[k] == 0.0, "normal(%zu) wrote past its end", n);
    PF_T_ASSERT(r.state == after[n], "normal(%zu) consumed the wrong number "
                "of outputs", n);
  }

  /* Calls of any sizes, odd ones included, concatenate to one call. */
  const size_t sizes[] = {1, 3, 2, 30, 35, 64, 5, 8, 11, 128, 713};
  r = r0;
  size_t at = 0;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    pf_rng_normal(&r, sizes[k], part + at);
    at += sizes[k];
  }
  PF_T_ASSERT(at == N, "sizes add up");
  PF_T_ASSERT(memcmp(part, full, sizeof full) == 0,
              "split calls do not concatenate to one call");
  PF_T_ASSERT(r.state == after_full.state, "state after split calls");

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
    {"ziggurat_tables", test_ziggurat_tables},
    {"normal_matches_reference_ziggurat", test_normal_reference_paths},
    {"normal_ks", test_normal_ks},
    {"normal_tails_moments_layers", test_normal_tails_moments},
    {"normal_batching_invariance", test_normal_batching},
    {NULL, NULL},
};
