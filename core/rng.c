/* PCG64 (O'Neill, "PCG: A Family of Simple Fast Space-Efficient
 * Statistically Good Algorithms for Random Number Generation", 2014),
 * written from the paper's description and checked bit-for-bit against the
 * C++ reference's pcg64 = pcg_engines::setseq_xsl_rr_128_64:
 *
 *   - state: 128-bit LCG  s <- s * MULT + inc, inc odd (inc = 2*stream + 1);
 *   - output: XSL-RR of the NEW state (the reference outputs from the
 *     post-advance state for 128-bit state types: output_previous is only
 *     true for state types of at most 64 bits): xor the two 64-bit halves,
 *     rotate right by the top 6 bits of the state;
 *   - seeding as the reference constructor does: state = bump(seed + inc).
 */
#include "pflow/rng.h"

#include "pflow/vmath.h"

/* The reference's default 128-bit LCG multiplier
 * 2549297995355413924 * 2^64 + 4865540595714422341. */
#define PF__PCG_MULT \
  (((pf_u128)2549297995355413924ULL << 64) | (pf_u128)4865540595714422341ULL)

static inline uint64_t pcg_output(pf_u128 s)
{
  uint64_t x = (uint64_t)(s >> 64) ^ (uint64_t)s;
  unsigned rot = (unsigned)(s >> 122);
  /* (-rot) & 63 keeps the shift defined for rot == 0. */
  return (x >> rot) | (x << ((-rot) & 63u));
}

void pf_rng_seed(pf_rng *r, pf_u128 seed, pf_u128 stream)
{
  r->inc = (stream << 1) | 1u;
  r->state = (seed + r->inc) * PF__PCG_MULT + r->inc;
}

/* SplitMix64's output function (Steele, Lea, Flood 2014): a bijection of
 * 64-bit words with good avalanche. */
static inline uint64_t splitmix64_mix(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Entity streams.  stream = index, so distinct indices run on distinct LCG
 * increments.  The 128-bit seed is outputs 2*index+1 (high half) and
 * 2*index+2 (low half) of the SplitMix64 sequence started at `seed`, i.e.
 * mix(seed + k * GOLDEN) for those k.  GOLDEN is odd and mix is a
 * bijection, so for index < 2^63 no two entities of a run get the same seed
 * words, and neighbouring indices get unrelated starting states instead of
 * related ones (e.g. seed + index). */
void pf_rng_stream(pf_rng *r, uint64_t seed, uint64_t index)
{
  const uint64_t golden = 0x9e3779b97f4a7c15ULL;
  uint64_t hi = splitmix64_mix(seed + (2 * index + 1) * golden);
  uint64_t lo = splitmix64_mix(seed + (2 * index + 2) * golden);
  pf_rng_seed(r, ((pf_u128)hi << 64) | lo, index);
}

uint64_t pf_rng_next(pf_rng *r)
{
  r->state = r->state * PF__PCG_MULT + r->inc;
  return pcg_output(r->state);
}

/* Brown, "Random Number Generation with Arbitrary Stride" (1994): the
 * delta-step map s -> A s + C is composed by square-and-multiply of the
 * one-step affine map (mult, plus). */
void pf_rng_advance(pf_rng *r, pf_u128 delta)
{
  pf_u128 cur_mult = PF__PCG_MULT, cur_plus = r->inc;
  pf_u128 acc_mult = 1, acc_plus = 0;
  while (delta) {
    if (delta & 1u) {
      acc_mult *= cur_mult;
      acc_plus = acc_plus * cur_mult + cur_plus;
    }
    cur_plus = (cur_mult + 1) * cur_plus;
    cur_mult *= cur_mult;
    delta >>= 1;
  }
  r->state = acc_mult * r->state + acc_plus;
}

/* Four interleaved LCG chains.  One LCG step is a serial chain of 128-bit
 * multiplies (latency-bound), so long runs step four chains by the 4-step
 * map (MULT^4, inc * (1 + MULT + MULT^2 + MULT^3)): chain c holds the state
 * of outputs c, c+4, c+8, ...  Same outputs in the same order, with four
 * times the instruction-level parallelism. */
typedef struct pcg4 {
  pf_u128 s0, s1, s2, s3; /* states whose outputs come next */
  pf_u128 m4, c4;         /* the 4-step map */
  pf_u128 last;           /* state of the last output handed out */
} pcg4;

static inline void pcg4_init(pcg4 *g, const pf_rng *r)
{
  /* k-step maps s -> M^k s + (1 + M + ... + M^(k-1)) inc: the powers and
   * sums of the constant M fold at compile time, so the four starting
   * states are independent products rather than four serial steps. */
  const pf_u128 m = PF__PCG_MULT, m2 = m * m, m3 = m2 * m, m4 = m2 * m2;
  const pf_u128 s = r->state, a = r->inc;
  g->m4 = m4;
  g->c4 = (1 + m) * (1 + m2) * a;
  g->last = s;
  g->s0 = m * s + a;
  g->s1 = m2 * s + (1 + m) * a;
  g->s2 = m3 * s + (1 + m + m2) * a;
  g->s3 = m4 * s + g->c4;
}

/* The generator continues after the last output handed out. */
static inline void pcg4_finish(const pcg4 *g, pf_rng *r)
{
  r->state = g->last;
}

static inline void pcg4_step(pcg4 *g)
{
  g->last = g->s3;
  g->s0 = g->s0 * g->m4 + g->c4;
  g->s1 = g->s1 * g->m4 + g->c4;
  g->s2 = g->s2 * g->m4 + g->c4;
  g->s3 = g->s3 * g->m4 + g->c4;
}

double pf_rng_uniform(pf_rng *r)
{
  return (double)(pf_rng_next(r) >> 11) * 0x1p-53;
}

/* k = top 53 bits, u = (k + 0.5) * 2^-53.  For k >= 2^52 the midpoint is
 * not a double and rounds to even; only k = 2^53 - 1 would round up to
 * exactly 1, so that one value is clamped to the largest double below 1
 * to keep the interval open (its probability is 2^-53).  The smallest
 * value is 2^-54. */
static inline double open_uniform(uint64_t x)
{
  double u = ((double)(x >> 11) + 0.5) * 0x1p-53;
  return u < 0x1.fffffffffffffp-1 ? u : 0x1.fffffffffffffp-1;
}

static inline void pcg4_open_uniforms(pcg4 *g, double *out)
{
  out[0] = open_uniform(pcg_output(g->s0));
  out[1] = open_uniform(pcg_output(g->s1));
  out[2] = open_uniform(pcg_output(g->s2));
  out[3] = open_uniform(pcg_output(g->s3));
  pcg4_step(g);
}

void pf_rng_uniforms_open(pf_rng *r, size_t n, double *out)
{
  size_t i = 0;
  if (n >= 8) {
    pcg4 g;
    pcg4_init(&g, r);
    for (; i + 4 <= n; i += 4) pcg4_open_uniforms(&g, out + i);
    pcg4_finish(&g, r);
  }
  for (; i < n; i++) out[i] = open_uniform(pf_rng_next(r));
}

/* Uniforms per Box-Muller call in pf_rng_normal: small, so a block's
 * uniforms are still in L1 and the out-of-order core can overlap the
 * integer LCG work with the vector math (measured: 32 to 256 alike, 8
 * about 10 % slower). */
#define PF__NORMAL_BLOCK 32

/* Uniforms are drawn into the output (pairs (u1, u2) in draw order) and
 * transformed in place.  Blocks are even-sized and Box-Muller is
 * elementwise, so the result is the same sequence whatever the blocking:
 * n normals are a prefix of n + 1, and successive calls with even n
 * concatenate to one call.  An odd n draws one last full pair and keeps its
 * cosine normal.  The last 1-7 normals go through a padded 4-pair
 * temporary: a full vector costs the same as a partial one, and it skips
 * the tail copies of pf_vm_box_muller (callers often ask for a few normals
 * per particle). */
void pf_rng_normal(pf_rng *r, size_t n, double *out)
{
  size_t i = 0;
  if (n >= 8) {
    pcg4 g;
    pcg4_init(&g, r);
    for (; i + PF__NORMAL_BLOCK <= n; i += PF__NORMAL_BLOCK) {
      for (size_t j = 0; j < PF__NORMAL_BLOCK; j += 4)
        pcg4_open_uniforms(&g, out + i + j);
      pf_vm_box_muller(PF__NORMAL_BLOCK / 2, out + i);
    }
    for (; i + 8 <= n; i += 8) {
      pcg4_open_uniforms(&g, out + i);
      pcg4_open_uniforms(&g, out + i + 4);
      pf_vm_box_muller(4, out + i);
    }
    pcg4_finish(&g, r);
  }
  if (i < n) {
    double t[8] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    size_t m = n - i, mu = (m + 1) & ~(size_t)1;
    for (size_t j = 0; j < mu; j++) t[j] = open_uniform(pf_rng_next(r));
    pf_vm_box_muller(4, t);
    for (size_t j = 0; j < m; j++) out[i + j] = t[j];
  }
}
