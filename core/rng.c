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

#include <math.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

/* The reference's default 128-bit LCG multiplier
 * 2549297995355413924 * 2^64 + 4865540595714422341. */
#define PF__PCG_MULT \
  (((pf_u128)2549297995355413924ULL << 64) | (pf_u128)4865540595714422341ULL)

/* Its inverse mod 2^128: one step back is s <- (s - inc) * MULT_INV
 * (normal_batching_invariance checks the state after every n, which
 * steps back with it). */
#define PF__PCG_MULT_INV \
  (((pf_u128)566787436162029664ULL << 64) | (pf_u128)11001107174925446285ULL)

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

#ifdef __AVX2__
/* Eight interleaved LCG chains for long runs of raw outputs: chains 0-3 in
 * 64-bit integer registers as pcg4 (the 128-bit multiplies keep the
 * scalar multiplier busy), chains 4-7 in the four 64-bit lanes of AVX2
 * registers at the same time, each 128-bit state as four 32-bit limbs
 * (limb l of the four states in one register), multiplied by the 8-step
 * multiplier with vpmuludq (32 x 32 -> 64 bits): the ten partial products
 * of the low 128 bits, carries propagated limb by limb.  Chain c holds the
 * state of outputs c, c + 8, ...: the same outputs in the same order, 1.5x
 * the rate of pcg4 here (9.5e8 vs 6.5e8 outputs/s on one core). */
#define PF__M1 PF__PCG_MULT
#define PF__M2 (PF__M1 * PF__M1)
#define PF__M4 (PF__M2 * PF__M2)
#define PF__M8 (PF__M4 * PF__M4)

/* The four 32-bit limbs l of the states s[0..3] as lanes. */
static inline __m256i pcg8_limb(const pf_u128 *s, unsigned l)
{
  return _mm256_set_epi64x((long long)(uint32_t)(s[3] >> (32 * l)),
                           (long long)(uint32_t)(s[2] >> (32 * l)),
                           (long long)(uint32_t)(s[1] >> (32 * l)),
                           (long long)(uint32_t)(s[0] >> (32 * l)));
}

static inline __m256i pcg8_const(pf_u128 c, unsigned l)
{
  return _mm256_set1_epi64x((long long)(uint32_t)(c >> (32 * l)));
}

/* len (a multiple of 8, >= 8) raw outputs of r into buf; r moves to the
 * state of the last one. */
static void pcg8_fill(pf_rng *r, size_t len, uint64_t *buf)
{
  /* st[k]: the state of output k; the 4-step map (M^4, c4) makes the
   * last four from the first four (27 multiplies for the start) */
  const pf_u128 m = PF__M1, a = r->inc, m4 = PF__M4;
  const pf_u128 c4 = (1 + m) * (1 + PF__M2) * a, m8 = PF__M8, c8 = c4 + m4 * c4;
  pf_u128 st[8];
  st[0] = m * r->state + a;
  for (int k = 1; k < 4; k++) st[k] = m * st[k - 1] + a;
  for (int k = 4; k < 8; k++) st[k] = m4 * st[k - 4] + c4;
  pf_u128 s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3], last3 = s3;
  __m256i a0 = pcg8_limb(st + 4, 0), a1 = pcg8_limb(st + 4, 1),
          a2 = pcg8_limb(st + 4, 2), a3 = pcg8_limb(st + 4, 3);
  const __m256i b0 = pcg8_const(m8, 0), b1 = pcg8_const(m8, 1),
                b2 = pcg8_const(m8, 2), b3 = pcg8_const(m8, 3);
  const __m256i k0 = pcg8_const(c8, 0), k1 = pcg8_const(c8, 1),
                k2 = pcg8_const(c8, 2), k3 = pcg8_const(c8, 3);
  const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL),
                c64 = _mm256_set1_epi64x(64);
  for (size_t j = 0; j < len; j += 8) {
    buf[j] = pcg_output(s0);
    buf[j + 1] = pcg_output(s1);
    buf[j + 2] = pcg_output(s2);
    buf[j + 3] = pcg_output(s3);
    last3 = s3;
    s0 = s0 * m8 + c8;
    s1 = s1 * m8 + c8;
    s2 = s2 * m8 + c8;
    s3 = s3 * m8 + c8;
    /* XSL-RR of the lanes: rotate (hi ^ lo) right by hi >> 58 (a shift
     * by 64 gives 0, so rot = 0 needs no special case) */
    const __m256i lo = _mm256_or_si256(a0, _mm256_slli_epi64(a1, 32)),
                  hi = _mm256_or_si256(a2, _mm256_slli_epi64(a3, 32));
    const __m256i x = _mm256_xor_si256(lo, hi), rot = _mm256_srli_epi64(hi, 58);
    _mm256_storeu_si256(
        (__m256i *)(buf + j + 4),
        _mm256_or_si256(_mm256_srlv_epi64(x, rot),
                        _mm256_sllv_epi64(x, _mm256_sub_epi64(c64, rot))));
    /* limbs of s * m8 + c8 mod 2^128: column k sums a_i b_j (i + j = k),
     * the low and high 32-bit halves of each product apart so no column
     * overflows; the top column needs only its low 32 bits */
#define P8_MUL(x, y) _mm256_mul_epu32(x, y)
#define P8_ADD(x, y) _mm256_add_epi64(x, y)
#define P8_LO(x) _mm256_and_si256(x, lo32)
#define P8_HI(x) _mm256_srli_epi64(x, 32)
    const __m256i p00 = P8_MUL(a0, b0), p01 = P8_MUL(a0, b1), p10 = P8_MUL(a1, b0),
                  p02 = P8_MUL(a0, b2), p11 = P8_MUL(a1, b1), p20 = P8_MUL(a2, b0),
                  p03 = P8_MUL(a0, b3), p12 = P8_MUL(a1, b2), p21 = P8_MUL(a2, b1),
                  p30 = P8_MUL(a3, b0);
    __m256i t = P8_ADD(p00, k0), cy = P8_HI(t);
    a0 = P8_LO(t);
    t = P8_ADD(P8_ADD(P8_LO(p01), P8_LO(p10)), P8_ADD(cy, k1));
    cy = P8_ADD(P8_HI(t), P8_ADD(P8_HI(p01), P8_HI(p10)));
    a1 = P8_LO(t);
    t = P8_ADD(P8_ADD(P8_ADD(P8_LO(p02), P8_LO(p11)), P8_LO(p20)), P8_ADD(cy, k2));
    cy = P8_ADD(P8_HI(t), P8_ADD(P8_ADD(P8_HI(p02), P8_HI(p11)), P8_HI(p20)));
    a2 = P8_LO(t);
    t = P8_ADD(P8_ADD(P8_ADD(p03, p12), P8_ADD(p21, p30)), P8_ADD(cy, k3));
#undef P8_MUL
#undef P8_ADD
#undef P8_LO
#undef P8_HI
    a3 = _mm256_and_si256(t, lo32);
  }
  /* the last output's state, four steps after chain 3's last */
  r->state = m4 * last3 + c4;
}
#endif

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

/* ---- standard normals: the ziggurat ------------------------------------
 *
 * Marsaglia & Tsang, "The Ziggurat Method for Generating Random Variables",
 * J. Stat. Softw. 5(8), 2000, with 256 layers over the half-normal
 * f(x) = exp(-x^2/2), x >= 0, and Doornik's fix ("An Improved Ziggurat
 * Method to Generate Normal Random Samples", 2005): the layer and the
 * uniform come from disjoint bits of one 64-bit PCG output w,
 *
 *   k = w & 255 (layer), bit 8 = sign, m = w >> 11 (53-bit uniform);
 *   z = (m 2^-53) x_k;
 *   z < x_(k+1)          -> inside rectangle k: return +-z (98.5 % of w);
 *   k == 0               -> base strip beyond r = x_1: the tail method;
 *   otherwise (wedge)    -> y = f(x_k) + U (f(x_(k+1)) - f(x_k)) with U
 *                           (53 bits) from the next output; accept +-z if
 *                           y < exp(-z^2/2), else start over with the
 *                           next output.
 * Tail (Marsaglia, "Generating a variable from the tail of the normal
 * distribution", Technometrics 6, 1964): a = -ln(U1) / r, b = -ln(U2),
 * repeat until 2b > a^2, return r + a (U1, U2 open uniforms from the next
 * two outputs); the sign is bit 8 of the output that chose layer 0.
 * Every step is an exact accept/reject against f: no part of the density
 * is approximated (only rounded: tables and the wedge's exp to double).
 *
 * The tables are static const data written by
 * scripts/gen_ziggurat_tables.py (60-digit arithmetic, pasted as exact hex
 * floats), so there is no run-time initialisation and nothing to race on.
 * x_0 = v / f(r) is the base strip's equivalent width (v = r f(r) + tail
 * area = the common area of the 256 layers), x_256 = 0. */

/* Generated by scripts/gen_ziggurat_tables.py: r = 3.6541528853610087716,
 * v = 0.0049286732339746553474, top-layer closure residual -9.18e-60. */
const double pf__zig_x[PF__ZIG_LAYERS + 1] = {
    0x1.f493b7815d982p+1, 0x1.d3bb48209ad33p+1, 0x1.b981f3878fdb0p+1,
    0x1.a8fdc78947759p+1, 0x1.9cbee014057aap+1, 0x1.92ee0946f4496p+1,
    0x1.8ab0fbfaa7c14p+1, 0x1.839030529f233p+1, 0x1.7d42df4d6ce8bp+1,
    0x1.7799556090672p+1, 0x1.72728f05f7a33p+1, 0x1.6db6b8d09e231p+1,
    0x1.69540be9fe5c2p+1, 0x1.653ce7b006aeap+1, 0x1.61669cf861e4bp+1,
    0x1.5dc8a243ad0fep+1, 0x1.5a5c08b718dd9p+1, 0x1.571b1a94ae41cp+1,
    0x1.54011523a7e43p+1, 0x1.5109f53e9ac42p+1, 0x1.4e3250dcd8903p+1,
    0x1.4b7739d6b5a28p+1, 0x1.48d62759c43bdp+1, 0x1.464ce44a73a16p+1,
    0x1.43d9815545e94p+1, 0x1.417a49cb9e5dbp+1, 0x1.3f2dbaa60f475p+1,
    0x1.3cf27b31704a6p+1, 0x1.3ac7570ae88fap+1, 0x1.38ab39256410ap+1,
    0x1.369d27a33a840p+1, 0x1.349c405ae12a3p+1, 0x1.32a7b5e68a4a3p+1,
    0x1.30becd256aeeep+1, 0x1.2ee0db1a978f5p+1, 0x1.2d0d43196db97p+1,
    0x1.2b437532a0a53p+1, 0x1.2982ecd770e78p+1, 0x1.27cb2faa8592ep+1,
    0x1.261bcc77658e0p+1, 0x1.24745a4ac9c24p+1, 0x1.22d477a6fd3efp+1,
    0x1.213bc9d04cc82p+1, 0x1.1fa9fc2e2d901p+1, 0x1.1e1ebfbe4ae39p+1,
    0x1.1c99ca971a695p+1, 0x1.1b1ad777f2f8fp+1, 0x1.19a1a564eebadp+1,
    0x1.182df74d21262p+1, 0x1.16bf93b9deef5p+1, 0x1.1556448602e3dp+1,
    0x1.13f1d69c4096fp+1, 0x1.129219bbb5d37p+1, 0x1.1136e04207043p+1,
    0x1.0fdffefa69fb8p+1, 0x1.0e8d4cf116594p+1, 0x1.0d3ea34aa3d32p+1,
    0x1.0bf3dd1eed449p+1, 0x1.0aacd7571c0c5p+1, 0x1.0969708e8a255p+1,
    0x1.082988f632e18p+1, 0x1.06ed023a72669p+1, 0x1.05b3bf6adb37ep+1,
    0x1.047da4e3ef5c7p+1, 0x1.034a983a902abp+1, 0x1.021a8028fc947p+1,
    0x1.00ed447d3a075p+1, 0x1.ff859c118f60bp+0, 0x1.fd360d22fe785p+0,
    0x1.faebb187122bfp+0, 0x1.f8a6604899782p+0, 0x1.f665f20c90168p+0,
    0x1.f42a40fb74d6dp+0, 0x1.f1f328ac25321p+0, 0x1.efc086101eca9p+0,
    0x1.ed9237610a73ap+0, 0x1.eb681c0f76f08p+0, 0x1.e94214b2abf09p+0,
    0x1.e72002f97fe23p+0, 0x1.e501c99c1d186p+0, 0x1.e2e74c4ea46f3p+0,
    0x1.e0d06fb49d219p+0, 0x1.debd195522e34p+0, 0x1.dcad2f8fc490cp+0,
    0x1.daa0999206e6ep+0, 0x1.d8973f4d7fba4p+0, 0x1.d691096e7f123p+0,
    0x1.d48de1533c647p+0, 0x1.d28db1037ef20p+0, 0x1.d0906328b8f6ep+0,
    0x1.ce95e3068e037p+0, 0x1.cc9e1c73bd690p+0, 0x1.caa8fbd36a2abp+0,
    0x1.c8b66e0eba617p+0, 0x1.c6c6608ec8705p+0, 0x1.c4d8c136e0d1dp+0,
    0x1.c2ed7e5f07a2dp+0, 0x1.c10486cec16a0p+0, 0x1.bf1dc9b81ae82p+0,
    0x1.bd3936b2ec0a2p+0, 0x1.bb56bdb85256ep+0, 0x1.b9764f1e5f73dp+0,
    0x1.b797db93f8928p+0, 0x1.b5bb541ce3d04p+0, 0x1.b3e0aa0e00c01p+0,
    0x1.b207cf09a985cp+0, 0x1.b030b4fc3a11bp+0, 0x1.ae5b4e18bb338p+0,
    0x1.ac878cd5af5cfp+0, 0x1.aab563e9ff10ap+0, 0x1.a8e4c64a0313fp+0,
    0x1.a715a724aa9a7p+0, 0x1.a547f9e0bbb8bp+0, 0x1.a37bb21a2c85ep+0,
    0x1.a1b0c39f93696p+0, 0x1.9fe7226fad24dp+0, 0x1.9e1ec2b6f7414p+0,
    0x1.9c5798cd5d92ep+0, 0x1.9a919933f99c1p+0, 0x1.98ccb892e2a33p+0,
    0x1.9708ebb70d5efp+0, 0x1.954627903a28bp+0, 0x1.9384612ef0afep+0,
    0x1.91c38dc288349p+0, 0x1.9003a2973b591p+0, 0x1.8e44951446a28p+0,
    0x1.8c865aba10c9dp+0, 0x1.8ac8e9205c044p+0, 0x1.890c35f47f72ep+0,
    0x1.875036f7a7ec7p+0, 0x1.8594e1fd1f5bep+0, 0x1.83da2ce899f16p+0,
    0x1.82200dac88677p+0, 0x1.80667a486ea1fp+0, 0x1.7ead68c73dee7p+0,
    0x1.7cf4cf3db22fcp+0, 0x1.7b3ca3c8b140ap+0, 0x1.7984dc8babd94p+0,
    0x1.77cd6faeff44ap+0, 0x1.7616535e57320p+0, 0x1.745f7dc70eeddp+0,
    0x1.72a8e516914c7p+0, 0x1.70f27f78b68ecp+0, 0x1.6f3c43161f856p+0,
    0x1.6d8626128d354p+0, 0x1.6bd01e8b343bdp+0, 0x1.6a1a22950b2b3p+0,
    0x1.6864283b13139p+0, 0x1.66ae257c99674p+0, 0x1.64f8104b7260dp+0,
    0x1.6341de8a2b0a4p+0, 0x1.618b860a31fc5p+0, 0x1.5fd4fc89f5e39p+0,
    0x1.5e1e37b2f8cd4p+0, 0x1.5c672d17d733fp+0, 0x1.5aafd23241b5ap+0,
    0x1.58f81c60e8515p+0, 0x1.574000e555f79p+0, 0x1.558774e1bb2c9p+0,
    0x1.53ce6d56a6650p+0, 0x1.5214df20a8b5cp+0, 0x1.505abef5e5563p+0,
    0x1.4ea001638a606p+0, 0x1.4ce49acb311ddp+0, 0x1.4b287f602415ep+0,
    0x1.496ba32488f30p+0, 0x1.47adf9e66c338p+0, 0x1.45ef773cac75ep+0,
    0x1.44300e83c30a6p+0, 0x1.426fb2da6745fp+0, 0x1.40ae571e09e76p+0,
    0x1.3eebede725a85p+0, 0x1.3d28698561de3p+0, 0x1.3b63bbfb83d06p+0,
    0x1.399dd6fb2b267p+0, 0x1.37d6abe05586cp+0, 0x1.360e2baca52d7p+0,
    0x1.3444470265ea4p+0, 0x1.3278ee1f4b933p+0, 0x1.30ac10d6e48dap+0,
    0x1.2edd9e8cba990p+0, 0x1.2d0d862e1b855p+0, 0x1.2b3bb62b82edbp+0,
    0x1.29681c719d71dp+0, 0x1.2792a661dd381p+0, 0x1.25bb40ca96bfep+0,
    0x1.23e1d7de9c322p+0, 0x1.2206572c4c6ecp+0, 0x1.2028a9940a0a3p+0,
    0x1.1e48b93e0d431p+0, 0x1.1c666f8f82acfp+0, 0x1.1a81b51ee6d8bp+0,
    0x1.189a71a78da37p+0, 0x1.16b08bfc42020p+0, 0x1.14c3e9f8e9143p+0,
    0x1.12d4707310fc1p+0, 0x1.10e20329515f1p+0, 0x1.0eec84b16086fp+0,
    0x1.0cf3d664bcc83p+0, 0x1.0af7d84bc6116p+0, 0x1.08f869071f40fp+0,
    0x1.06f565b72a014p+0, 0x1.04eea9e16a5ffp+0, 0x1.02e40f5398f9dp+0,
    0x1.00d56e04234eep+0, 0x1.fd8537dfa2eb1p-1, 0x1.f956d9e87d7b2p-1,
    0x1.f51f654d8f68cp-1, 0x1.f0de784f0622ap-1, 0x1.ec93abdf982d2p-1,
    0x1.e83e9337a6f04p-1, 0x1.e3debb5d2ee02p-1, 0x1.df73aa9f17656p-1,
    0x1.dafce0023b8c8p-1, 0x1.d679d29e41f14p-1, 0x1.d1e9f0e80b74bp-1,
    0x1.cd4c9fe72268fp-1, 0x1.c8a13a5323b66p-1, 0x1.c3e70f9594ef8p-1,
    0x1.bf1d62abf8239p-1, 0x1.ba4368e529f40p-1, 0x1.b558487427a2fp-1,
    0x1.b05b16d136ca2p-1, 0x1.ab4ad6e101636p-1, 0x1.a62676d77cd5fp-1,
    0x1.a0eccdca4a731p-1, 0x1.9b9c98e38c54dp-1, 0x1.96347822c1ef0p-1,
    0x1.90b2ea94ecf9ep-1, 0x1.8b1649e7b769fp-1, 0x1.855cc53430a7dp-1,
    0x1.7f845ad46f549p-1, 0x1.798ad10b32a7ep-1, 0x1.736dad346f8adp-1,
    0x1.6d2a292000576p-1, 0x1.66bd261a37c44p-1, 0x1.60231cfd97ef1p-1,
    0x1.59580a707ce9cp-1, 0x1.52575621ad379p-1, 0x1.4b1bb363dfeadp-1,
    0x1.439ef8dff9b5ap-1, 0x1.3bd9ec1a2b134p-1, 0x1.33c3fc05791fap-1,
    0x1.2b52e3863d885p-1, 0x1.227a28f7a1afap-1, 0x1.192a69741367dp-1,
    0x1.0f5053b025d4ap-1, 0x1.04d32278ebbb4p-1, 0x1.f32482d4cd5d0p-2,
    0x1.dac2f5a747281p-2, 0x1.c004d2f386207p-2, 0x1.a230c2e4cd0cbp-2,
    0x1.801fce82fa71ap-2, 0x1.57cb938443b71p-2, 0x1.250af3c2c5bc6p-2,
    0x1.b8d0be3fdf702p-3, 0x0.0p+0,
};
const double pf__zig_f[PF__ZIG_LAYERS + 1] = {
    0x1.f4a946f13842fp-12, 0x1.4a605b6b9f70dp-10, 0x1.55f9f43c1b070p-9,
    0x1.08a1f03b0b205p-8, 0x1.69ea8d90cb864p-8, 0x1.ce160f8ec683cp-8,
    0x1.1a59229952f95p-7, 0x1.4eb96421acfe7p-7, 0x1.841040d8da47ep-7,
    0x1.ba48d274f8fb3p-7, 0x1.f152a4f72dd53p-7, 0x1.149033460301ap-6,
    0x1.30d388dab5e1ap-6, 0x1.4d6eaf2fbb067p-6, 0x1.6a5daf40bbf87p-6,
    0x1.879d1b600c10bp-6, 0x1.a529f4e22ebf4p-6, 0x1.c301983cd0912p-6,
    0x1.e121adb828c69p-6, 0x1.ff881d718a5b5p-6, 0x1.0f1982e968009p-5,
    0x1.1e9059f1f6ab6p-5, 0x1.2e27ce83df495p-5, 0x1.3ddf2ce98eec7p-5,
    0x1.4db5d0e11275cp-5, 0x1.5dab23cf2add1p-5, 0x1.6dbe9b398d062p-5,
    0x1.7defb77af271cp-5, 0x1.8e3e02a68b5a9p-5, 0x1.9ea90f9295561p-5,
    0x1.af30790385f6fp-5, 0x1.bfd3e0f282a2cp-5, 0x1.d092efeadf162p-5,
    0x1.e16d547b25185p-5, 0x1.f262c2b6c6e33p-5, 0x1.01b979e30e496p-4,
    0x1.0a4ed2c159622p-4, 0x1.12f14d0f2179dp-4, 0x1.1ba0cbe97897ep-4,
    0x1.245d344dd0d8fp-4, 0x1.2d266cf9b310dp-4, 0x1.35fc5e4d93e69p-4,
    0x1.3edef23269a81p-4, 0x1.47ce1401b2212p-4, 0x1.50c9b06fa2babp-4,
    0x1.59d1b5774669dp-4, 0x1.62e6124854d10p-4, 0x1.6c06b73694a46p-4,
    0x1.753395aaa116dp-4, 0x1.7e6ca013eefccp-4, 0x1.87b1c9dbf2846p-4,
    0x1.9103075a4a09fp-4, 0x1.9a604dc9d5b0bp-4, 0x1.a3c9933ea627bp-4,
    0x1.ad3ece9caf627p-4, 0x1.b6bff78f2e228p-4, 0x1.c04d0680b100ap-4,
    0x1.c9e5f493b7404p-4, 0x1.d38abb9bd91dcp-4, 0x1.dd3b56176e88bp-4,
    0x1.e6f7bf29aa546p-4, 0x1.f0bff29520e16p-4, 0x1.fa93ecb6b222bp-4,
    0x1.0239d54067d29p-3, 0x1.072f94bb8bf84p-3, 0x1.0c2b33d5209b9p-3,
    0x1.112cb1da26eb8p-3, 0x1.16340e5a82d62p-3, 0x1.1b41492757d42p-3,
    0x1.2054625183c34p-3, 0x1.256d5a2835eb6p-3, 0x1.2a8c3137a071bp-3,
    0x1.2fb0e847c2a65p-3, 0x1.34db805b4ab89p-3, 0x1.3a0bfaae8d7eep-3,
    0x1.3f4258b6931afp-3, 0x1.447e9c20375d6p-3, 0x1.49c0c6cf5ce30p-3,
    0x1.4f08dade31fc6p-3, 0x1.5456da9c8683bp-3, 0x1.59aac88f31d74p-3,
    0x1.5f04a76f88400p-3, 0x1.64647a2adf1a4p-3, 0x1.69ca43e21f261p-3,
    0x1.6f3607e964719p-3, 0x1.74a7c9c7ab5a8p-3, 0x1.7a1f8d368a323p-3,
    0x1.7f9d5621f7174p-3, 0x1.852128a819a38p-3, 0x1.8aab09192815ap-3,
    0x1.903afbf74fa68p-3, 0x1.95d105f6a7c27p-3, 0x1.9b6d2bfd2fe5ap-3,
    0x1.a10f7322d7e3cp-3, 0x1.a6b7e0b19267cp-3, 0x1.ac667a2571805p-3,
    0x1.b21b452ccd13ap-3, 0x1.b7d647a8731abp-3, 0x1.bd9787abe18a2p-3,
    0x1.c35f0b7d89d46p-3, 0x1.c92cd9971df52p-3, 0x1.cf00f8a5e6fcap-3,
    0x1.d4db6f8b2514cp-3, 0x1.dabc455c79006p-3, 0x1.e0a3816457181p-3,
    0x1.e6912b2283cd9p-3, 0x1.ec854a4c99c3ep-3, 0x1.f27fe6ce998ccp-3,
    0x1.f88108cb8322fp-3, 0x1.fe88b89df93bcp-3, 0x1.024b7f6c7747ap-2,
    0x1.0555f2242e9d4p-2, 0x1.0863b8f904331p-2, 0x1.0b74d88b242d4p-2,
    0x1.0e895598709bdp-2, 0x1.11a134fcf241dp-2, 0x1.14bc7bb34ee63p-2,
    0x1.17db2ed5454e5p-2, 0x1.1afd539c2f04cp-2, 0x1.1e22ef6188113p-2,
    0x1.214c079f7cc9cp-2, 0x1.2478a1f17de86p-2, 0x1.27a8c414db11bp-2,
    0x1.2adc73e963fdap-2, 0x1.2e13b77210764p-2, 0x1.314e94d5af62dp-2,
    0x1.348d125f9d19cp-2, 0x1.37cf368081376p-2, 0x1.3b1507cf143acp-2,
    0x1.3e5e8d08ed2d8p-2, 0x1.41abcd1357a18p-2, 0x1.44fccefc324fcp-2,
    0x1.485199fad6ad4p-2, 0x1.4baa357109ca2p-2, 0x1.4f06a8ebf6d91p-2,
    0x1.5266fc2533beap-2, 0x1.55cb3703d00fdp-2, 0x1.5933619d6eebcp-2,
    0x1.5c9f84376c241p-2, 0x1.600fa7480d2c6p-2, 0x1.6383d377be513p-2,
    0x1.66fc11a25cbdfp-2, 0x1.6a786ad88de1ep-2, 0x1.6df8e86124ca6p-2,
    0x1.717d93ba96148p-2, 0x1.7506769c7b1e8p-2, 0x1.78939af9252e6p-2,
    0x1.7c250aff414acp-2, 0x1.7fbad11b8d90dp-2, 0x1.8354f7faa0dd5p-2,
    0x1.86f38a8ac5ab2p-2, 0x1.8a9693fde9185p-2, 0x1.8e3e1fcb9f113p-2,
    0x1.91ea39b33cb13p-2, 0x1.959aedbe09f8fp-2, 0x1.995048418c0c3p-2,
    0x1.9d0a55e1e93dcp-2, 0x1.a0c923946843bp-2, 0x1.a48cbea20c04bp-2,
    0x1.a85534aa4d87dp-2, 0x1.ac2293a5f5a9ap-2, 0x1.aff4e9ea18550p-2,
    0x1.b3cc462b331c8p-2, 0x1.b7a8b78071319p-2, 0x1.bb8a4d6716d8fp-2,
    0x1.bf7117c616a14p-2, 0x1.c35d26f1d2cb5p-2, 0x1.c74e8bb00d7c3p-2,
    0x1.cb45573c0a843p-2, 0x1.cf419b4ae5b69p-2, 0x1.d3436a102107bp-2,
    0x1.d74ad6426de2dp-2, 0x1.db57f320b56abp-2, 0x1.df6ad47763a03p-2,
    0x1.e3838ea5f9b7ep-2, 0x1.e7a236a4ec3bfp-2, 0x1.ebc6e20bd1f4fp-2,
    0x1.eff1a717e8f8ep-2, 0x1.f4229cb2f7aecp-2, 0x1.f859da7a900c4p-2,
    0x1.fc9778c7bbd9bp-2, 0x1.006dc85b8cac2p-1, 0x1.02931e18b8228p-1,
    0x1.04bbcafa63f2bp-1, 0x1.06e7dccf03c33p-1, 0x1.091761d995d7dp-1,
    0x1.0b4a68d70d9abp-1, 0x1.0d8101041429cp-1, 0x1.0fbb3a232590fp-1,
    0x1.11f9248311f34p-1, 0x1.143ad105ea998p-1, 0x1.16805128639d6p-1,
    0x1.18c9b709b3c4dp-1, 0x1.1b171573fd10ep-1, 0x1.1d687fe549966p-1,
    0x1.1fbe0a992961dp-1, 0x1.2217ca92ff7eep-1, 0x1.2475d5a90db80p-1,
    0x1.26d84290504e9p-1, 0x1.293f28e93cd11p-1, 0x1.2baaa14d79545p-1,
    0x1.2e1ac55ea3beap-1, 0x1.308fafd6438ebp-1, 0x1.33097c9703a32p-1,
    0x1.358848bf550e6p-1, 0x1.380c32bda00d2p-1, 0x1.3a955a662cd0bp-1,
    0x1.3d23e10af31a1p-1, 0x1.3fb7e99585b7fp-1, 0x1.425198a355fe0p-1,
    0x1.44f114a493676p-1, 0x1.479685fdf500fp-1, 0x1.4a42172dc5276p-1,
    0x1.4cf3f4f494ebep-1, 0x1.4fac4e820b665p-1, 0x1.526b55a656cd3p-1,
    0x1.55313f08d9e44p-1, 0x1.57fe4264c8d8cp-1, 0x1.5ad29acc85c85p-1,
    0x1.5dae86f4aff66p-1, 0x1.6092498802661p-1, 0x1.637e298550c15p-1,
    0x1.667272a92e320p-1, 0x1.696f75e513b26p-1, 0x1.6c7589e635a86p-1,
    0x1.6f850baea7aebp-1, 0x1.729e5f43f6d0ep-1, 0x1.75c1f0770d852p-1,
    0x1.78f033ca0b0d2p-1, 0x1.7c29a779c6855p-1, 0x1.7f6ed4b20e2c8p-1,
    0x1.82c050f56cf6bp-1, 0x1.861ebfc37bca8p-1, 0x1.898ad48badefep-1,
    0x1.8d0554fe60aa4p-1, 0x1.908f1bd31714bp-1, 0x1.94291c21b7a43p-1,
    0x1.97d4657617abep-1, 0x1.9b9228d24067ep-1, 0x1.9f63bee651fd5p-1,
    0x1.a34aafdf5af0cp-1, 0x1.a748bd550c9dep-1, 0x1.ab5fef17a2502p-1,
    0x1.af92a3f6ce8a0p-1, 0x1.b3e3a8234dd0ep-1, 0x1.b85653a8ff54fp-1,
    0x1.bceeb4ee1dc7fp-1, 0x1.c1b1cd9eebae7p-1, 0x1.c6a5ecea9787cp-1,
    0x1.cbd33a8a72de8p-1, 0x1.d144978a119d9p-1, 0x1.d70920657bcefp-1,
    0x1.dd36fa704de92p-1, 0x1.e3f11e027f074p-1, 0x1.eb7545b6ca912p-1,
    0x1.f446ac979f084p-1, 0x1.0000000000000p+0,
};
static const double zig_scale[2 * PF__ZIG_LAYERS] = {
    0x1.f493b7815d982p-52, 0x1.d3bb48209ad33p-52, 0x1.b981f3878fdb0p-52,
    0x1.a8fdc78947759p-52, 0x1.9cbee014057aap-52, 0x1.92ee0946f4496p-52,
    0x1.8ab0fbfaa7c14p-52, 0x1.839030529f233p-52, 0x1.7d42df4d6ce8bp-52,
    0x1.7799556090672p-52, 0x1.72728f05f7a33p-52, 0x1.6db6b8d09e231p-52,
    0x1.69540be9fe5c2p-52, 0x1.653ce7b006aeap-52, 0x1.61669cf861e4bp-52,
    0x1.5dc8a243ad0fep-52, 0x1.5a5c08b718dd9p-52, 0x1.571b1a94ae41cp-52,
    0x1.54011523a7e43p-52, 0x1.5109f53e9ac42p-52, 0x1.4e3250dcd8903p-52,
    0x1.4b7739d6b5a28p-52, 0x1.48d62759c43bdp-52, 0x1.464ce44a73a16p-52,
    0x1.43d9815545e94p-52, 0x1.417a49cb9e5dbp-52, 0x1.3f2dbaa60f475p-52,
    0x1.3cf27b31704a6p-52, 0x1.3ac7570ae88fap-52, 0x1.38ab39256410ap-52,
    0x1.369d27a33a840p-52, 0x1.349c405ae12a3p-52, 0x1.32a7b5e68a4a3p-52,
    0x1.30becd256aeeep-52, 0x1.2ee0db1a978f5p-52, 0x1.2d0d43196db97p-52,
    0x1.2b437532a0a53p-52, 0x1.2982ecd770e78p-52, 0x1.27cb2faa8592ep-52,
    0x1.261bcc77658e0p-52, 0x1.24745a4ac9c24p-52, 0x1.22d477a6fd3efp-52,
    0x1.213bc9d04cc82p-52, 0x1.1fa9fc2e2d901p-52, 0x1.1e1ebfbe4ae39p-52,
    0x1.1c99ca971a695p-52, 0x1.1b1ad777f2f8fp-52, 0x1.19a1a564eebadp-52,
    0x1.182df74d21262p-52, 0x1.16bf93b9deef5p-52, 0x1.1556448602e3dp-52,
    0x1.13f1d69c4096fp-52, 0x1.129219bbb5d37p-52, 0x1.1136e04207043p-52,
    0x1.0fdffefa69fb8p-52, 0x1.0e8d4cf116594p-52, 0x1.0d3ea34aa3d32p-52,
    0x1.0bf3dd1eed449p-52, 0x1.0aacd7571c0c5p-52, 0x1.0969708e8a255p-52,
    0x1.082988f632e18p-52, 0x1.06ed023a72669p-52, 0x1.05b3bf6adb37ep-52,
    0x1.047da4e3ef5c7p-52, 0x1.034a983a902abp-52, 0x1.021a8028fc947p-52,
    0x1.00ed447d3a075p-52, 0x1.ff859c118f60bp-53, 0x1.fd360d22fe785p-53,
    0x1.faebb187122bfp-53, 0x1.f8a6604899782p-53, 0x1.f665f20c90168p-53,
    0x1.f42a40fb74d6dp-53, 0x1.f1f328ac25321p-53, 0x1.efc086101eca9p-53,
    0x1.ed9237610a73ap-53, 0x1.eb681c0f76f08p-53, 0x1.e94214b2abf09p-53,
    0x1.e72002f97fe23p-53, 0x1.e501c99c1d186p-53, 0x1.e2e74c4ea46f3p-53,
    0x1.e0d06fb49d219p-53, 0x1.debd195522e34p-53, 0x1.dcad2f8fc490cp-53,
    0x1.daa0999206e6ep-53, 0x1.d8973f4d7fba4p-53, 0x1.d691096e7f123p-53,
    0x1.d48de1533c647p-53, 0x1.d28db1037ef20p-53, 0x1.d0906328b8f6ep-53,
    0x1.ce95e3068e037p-53, 0x1.cc9e1c73bd690p-53, 0x1.caa8fbd36a2abp-53,
    0x1.c8b66e0eba617p-53, 0x1.c6c6608ec8705p-53, 0x1.c4d8c136e0d1dp-53,
    0x1.c2ed7e5f07a2dp-53, 0x1.c10486cec16a0p-53, 0x1.bf1dc9b81ae82p-53,
    0x1.bd3936b2ec0a2p-53, 0x1.bb56bdb85256ep-53, 0x1.b9764f1e5f73dp-53,
    0x1.b797db93f8928p-53, 0x1.b5bb541ce3d04p-53, 0x1.b3e0aa0e00c01p-53,
    0x1.b207cf09a985cp-53, 0x1.b030b4fc3a11bp-53, 0x1.ae5b4e18bb338p-53,
    0x1.ac878cd5af5cfp-53, 0x1.aab563e9ff10ap-53, 0x1.a8e4c64a0313fp-53,
    0x1.a715a724aa9a7p-53, 0x1.a547f9e0bbb8bp-53, 0x1.a37bb21a2c85ep-53,
    0x1.a1b0c39f93696p-53, 0x1.9fe7226fad24dp-53, 0x1.9e1ec2b6f7414p-53,
    0x1.9c5798cd5d92ep-53, 0x1.9a919933f99c1p-53, 0x1.98ccb892e2a33p-53,
    0x1.9708ebb70d5efp-53, 0x1.954627903a28bp-53, 0x1.9384612ef0afep-53,
    0x1.91c38dc288349p-53, 0x1.9003a2973b591p-53, 0x1.8e44951446a28p-53,
    0x1.8c865aba10c9dp-53, 0x1.8ac8e9205c044p-53, 0x1.890c35f47f72ep-53,
    0x1.875036f7a7ec7p-53, 0x1.8594e1fd1f5bep-53, 0x1.83da2ce899f16p-53,
    0x1.82200dac88677p-53, 0x1.80667a486ea1fp-53, 0x1.7ead68c73dee7p-53,
    0x1.7cf4cf3db22fcp-53, 0x1.7b3ca3c8b140ap-53, 0x1.7984dc8babd94p-53,
    0x1.77cd6faeff44ap-53, 0x1.7616535e57320p-53, 0x1.745f7dc70eeddp-53,
    0x1.72a8e516914c7p-53, 0x1.70f27f78b68ecp-53, 0x1.6f3c43161f856p-53,
    0x1.6d8626128d354p-53, 0x1.6bd01e8b343bdp-53, 0x1.6a1a22950b2b3p-53,
    0x1.6864283b13139p-53, 0x1.66ae257c99674p-53, 0x1.64f8104b7260dp-53,
    0x1.6341de8a2b0a4p-53, 0x1.618b860a31fc5p-53, 0x1.5fd4fc89f5e39p-53,
    0x1.5e1e37b2f8cd4p-53, 0x1.5c672d17d733fp-53, 0x1.5aafd23241b5ap-53,
    0x1.58f81c60e8515p-53, 0x1.574000e555f79p-53, 0x1.558774e1bb2c9p-53,
    0x1.53ce6d56a6650p-53, 0x1.5214df20a8b5cp-53, 0x1.505abef5e5563p-53,
    0x1.4ea001638a606p-53, 0x1.4ce49acb311ddp-53, 0x1.4b287f602415ep-53,
    0x1.496ba32488f30p-53, 0x1.47adf9e66c338p-53, 0x1.45ef773cac75ep-53,
    0x1.44300e83c30a6p-53, 0x1.426fb2da6745fp-53, 0x1.40ae571e09e76p-53,
    0x1.3eebede725a85p-53, 0x1.3d28698561de3p-53, 0x1.3b63bbfb83d06p-53,
    0x1.399dd6fb2b267p-53, 0x1.37d6abe05586cp-53, 0x1.360e2baca52d7p-53,
    0x1.3444470265ea4p-53, 0x1.3278ee1f4b933p-53, 0x1.30ac10d6e48dap-53,
    0x1.2edd9e8cba990p-53, 0x1.2d0d862e1b855p-53, 0x1.2b3bb62b82edbp-53,
    0x1.29681c719d71dp-53, 0x1.2792a661dd381p-53, 0x1.25bb40ca96bfep-53,
    0x1.23e1d7de9c322p-53, 0x1.2206572c4c6ecp-53, 0x1.2028a9940a0a3p-53,
    0x1.1e48b93e0d431p-53, 0x1.1c666f8f82acfp-53, 0x1.1a81b51ee6d8bp-53,
    0x1.189a71a78da37p-53, 0x1.16b08bfc42020p-53, 0x1.14c3e9f8e9143p-53,
    0x1.12d4707310fc1p-53, 0x1.10e20329515f1p-53, 0x1.0eec84b16086fp-53,
    0x1.0cf3d664bcc83p-53, 0x1.0af7d84bc6116p-53, 0x1.08f869071f40fp-53,
    0x1.06f565b72a014p-53, 0x1.04eea9e16a5ffp-53, 0x1.02e40f5398f9dp-53,
    0x1.00d56e04234eep-53, 0x1.fd8537dfa2eb1p-54, 0x1.f956d9e87d7b2p-54,
    0x1.f51f654d8f68cp-54, 0x1.f0de784f0622ap-54, 0x1.ec93abdf982d2p-54,
    0x1.e83e9337a6f04p-54, 0x1.e3debb5d2ee02p-54, 0x1.df73aa9f17656p-54,
    0x1.dafce0023b8c8p-54, 0x1.d679d29e41f14p-54, 0x1.d1e9f0e80b74bp-54,
    0x1.cd4c9fe72268fp-54, 0x1.c8a13a5323b66p-54, 0x1.c3e70f9594ef8p-54,
    0x1.bf1d62abf8239p-54, 0x1.ba4368e529f40p-54, 0x1.b558487427a2fp-54,
    0x1.b05b16d136ca2p-54, 0x1.ab4ad6e101636p-54, 0x1.a62676d77cd5fp-54,
    0x1.a0eccdca4a731p-54, 0x1.9b9c98e38c54dp-54, 0x1.96347822c1ef0p-54,
    0x1.90b2ea94ecf9ep-54, 0x1.8b1649e7b769fp-54, 0x1.855cc53430a7dp-54,
    0x1.7f845ad46f549p-54, 0x1.798ad10b32a7ep-54, 0x1.736dad346f8adp-54,
    0x1.6d2a292000576p-54, 0x1.66bd261a37c44p-54, 0x1.60231cfd97ef1p-54,
    0x1.59580a707ce9cp-54, 0x1.52575621ad379p-54, 0x1.4b1bb363dfeadp-54,
    0x1.439ef8dff9b5ap-54, 0x1.3bd9ec1a2b134p-54, 0x1.33c3fc05791fap-54,
    0x1.2b52e3863d885p-54, 0x1.227a28f7a1afap-54, 0x1.192a69741367dp-54,
    0x1.0f5053b025d4ap-54, 0x1.04d32278ebbb4p-54, 0x1.f32482d4cd5d0p-55,
    0x1.dac2f5a747281p-55, 0x1.c004d2f386207p-55, 0x1.a230c2e4cd0cbp-55,
    0x1.801fce82fa71ap-55, 0x1.57cb938443b71p-55, 0x1.250af3c2c5bc6p-55,
    0x1.b8d0be3fdf702p-56, -0x1.f493b7815d982p-52, -0x1.d3bb48209ad33p-52,
    -0x1.b981f3878fdb0p-52, -0x1.a8fdc78947759p-52, -0x1.9cbee014057aap-52,
    -0x1.92ee0946f4496p-52, -0x1.8ab0fbfaa7c14p-52, -0x1.839030529f233p-52,
    -0x1.7d42df4d6ce8bp-52, -0x1.7799556090672p-52, -0x1.72728f05f7a33p-52,
    -0x1.6db6b8d09e231p-52, -0x1.69540be9fe5c2p-52, -0x1.653ce7b006aeap-52,
    -0x1.61669cf861e4bp-52, -0x1.5dc8a243ad0fep-52, -0x1.5a5c08b718dd9p-52,
    -0x1.571b1a94ae41cp-52, -0x1.54011523a7e43p-52, -0x1.5109f53e9ac42p-52,
    -0x1.4e3250dcd8903p-52, -0x1.4b7739d6b5a28p-52, -0x1.48d62759c43bdp-52,
    -0x1.464ce44a73a16p-52, -0x1.43d9815545e94p-52, -0x1.417a49cb9e5dbp-52,
    -0x1.3f2dbaa60f475p-52, -0x1.3cf27b31704a6p-52, -0x1.3ac7570ae88fap-52,
    -0x1.38ab39256410ap-52, -0x1.369d27a33a840p-52, -0x1.349c405ae12a3p-52,
    -0x1.32a7b5e68a4a3p-52, -0x1.30becd256aeeep-52, -0x1.2ee0db1a978f5p-52,
    -0x1.2d0d43196db97p-52, -0x1.2b437532a0a53p-52, -0x1.2982ecd770e78p-52,
    -0x1.27cb2faa8592ep-52, -0x1.261bcc77658e0p-52, -0x1.24745a4ac9c24p-52,
    -0x1.22d477a6fd3efp-52, -0x1.213bc9d04cc82p-52, -0x1.1fa9fc2e2d901p-52,
    -0x1.1e1ebfbe4ae39p-52, -0x1.1c99ca971a695p-52, -0x1.1b1ad777f2f8fp-52,
    -0x1.19a1a564eebadp-52, -0x1.182df74d21262p-52, -0x1.16bf93b9deef5p-52,
    -0x1.1556448602e3dp-52, -0x1.13f1d69c4096fp-52, -0x1.129219bbb5d37p-52,
    -0x1.1136e04207043p-52, -0x1.0fdffefa69fb8p-52, -0x1.0e8d4cf116594p-52,
    -0x1.0d3ea34aa3d32p-52, -0x1.0bf3dd1eed449p-52, -0x1.0aacd7571c0c5p-52,
    -0x1.0969708e8a255p-52, -0x1.082988f632e18p-52, -0x1.06ed023a72669p-52,
    -0x1.05b3bf6adb37ep-52, -0x1.047da4e3ef5c7p-52, -0x1.034a983a902abp-52,
    -0x1.021a8028fc947p-52, -0x1.00ed447d3a075p-52, -0x1.ff859c118f60bp-53,
    -0x1.fd360d22fe785p-53, -0x1.faebb187122bfp-53, -0x1.f8a6604899782p-53,
    -0x1.f665f20c90168p-53, -0x1.f42a40fb74d6dp-53, -0x1.f1f328ac25321p-53,
    -0x1.efc086101eca9p-53, -0x1.ed9237610a73ap-53, -0x1.eb681c0f76f08p-53,
    -0x1.e94214b2abf09p-53, -0x1.e72002f97fe23p-53, -0x1.e501c99c1d186p-53,
    -0x1.e2e74c4ea46f3p-53, -0x1.e0d06fb49d219p-53, -0x1.debd195522e34p-53,
    -0x1.dcad2f8fc490cp-53, -0x1.daa0999206e6ep-53, -0x1.d8973f4d7fba4p-53,
    -0x1.d691096e7f123p-53, -0x1.d48de1533c647p-53, -0x1.d28db1037ef20p-53,
    -0x1.d0906328b8f6ep-53, -0x1.ce95e3068e037p-53, -0x1.cc9e1c73bd690p-53,
    -0x1.caa8fbd36a2abp-53, -0x1.c8b66e0eba617p-53, -0x1.c6c6608ec8705p-53,
    -0x1.c4d8c136e0d1dp-53, -0x1.c2ed7e5f07a2dp-53, -0x1.c10486cec16a0p-53,
    -0x1.bf1dc9b81ae82p-53, -0x1.bd3936b2ec0a2p-53, -0x1.bb56bdb85256ep-53,
    -0x1.b9764f1e5f73dp-53, -0x1.b797db93f8928p-53, -0x1.b5bb541ce3d04p-53,
    -0x1.b3e0aa0e00c01p-53, -0x1.b207cf09a985cp-53, -0x1.b030b4fc3a11bp-53,
    -0x1.ae5b4e18bb338p-53, -0x1.ac878cd5af5cfp-53, -0x1.aab563e9ff10ap-53,
    -0x1.a8e4c64a0313fp-53, -0x1.a715a724aa9a7p-53, -0x1.a547f9e0bbb8bp-53,
    -0x1.a37bb21a2c85ep-53, -0x1.a1b0c39f93696p-53, -0x1.9fe7226fad24dp-53,
    -0x1.9e1ec2b6f7414p-53, -0x1.9c5798cd5d92ep-53, -0x1.9a919933f99c1p-53,
    -0x1.98ccb892e2a33p-53, -0x1.9708ebb70d5efp-53, -0x1.954627903a28bp-53,
    -0x1.9384612ef0afep-53, -0x1.91c38dc288349p-53, -0x1.9003a2973b591p-53,
    -0x1.8e44951446a28p-53, -0x1.8c865aba10c9dp-53, -0x1.8ac8e9205c044p-53,
    -0x1.890c35f47f72ep-53, -0x1.875036f7a7ec7p-53, -0x1.8594e1fd1f5bep-53,
    -0x1.83da2ce899f16p-53, -0x1.82200dac88677p-53, -0x1.80667a486ea1fp-53,
    -0x1.7ead68c73dee7p-53, -0x1.7cf4cf3db22fcp-53, -0x1.7b3ca3c8b140ap-53,
    -0x1.7984dc8babd94p-53, -0x1.77cd6faeff44ap-53, -0x1.7616535e57320p-53,
    -0x1.745f7dc70eeddp-53, -0x1.72a8e516914c7p-53, -0x1.70f27f78b68ecp-53,
    -0x1.6f3c43161f856p-53, -0x1.6d8626128d354p-53, -0x1.6bd01e8b343bdp-53,
    -0x1.6a1a22950b2b3p-53, -0x1.6864283b13139p-53, -0x1.66ae257c99674p-53,
    -0x1.64f8104b7260dp-53, -0x1.6341de8a2b0a4p-53, -0x1.618b860a31fc5p-53,
    -0x1.5fd4fc89f5e39p-53, -0x1.5e1e37b2f8cd4p-53, -0x1.5c672d17d733fp-53,
    -0x1.5aafd23241b5ap-53, -0x1.58f81c60e8515p-53, -0x1.574000e555f79p-53,
    -0x1.558774e1bb2c9p-53, -0x1.53ce6d56a6650p-53, -0x1.5214df20a8b5cp-53,
    -0x1.505abef5e5563p-53, -0x1.4ea001638a606p-53, -0x1.4ce49acb311ddp-53,
    -0x1.4b287f602415ep-53, -0x1.496ba32488f30p-53, -0x1.47adf9e66c338p-53,
    -0x1.45ef773cac75ep-53, -0x1.44300e83c30a6p-53, -0x1.426fb2da6745fp-53,
    -0x1.40ae571e09e76p-53, -0x1.3eebede725a85p-53, -0x1.3d28698561de3p-53,
    -0x1.3b63bbfb83d06p-53, -0x1.399dd6fb2b267p-53, -0x1.37d6abe05586cp-53,
    -0x1.360e2baca52d7p-53, -0x1.3444470265ea4p-53, -0x1.3278ee1f4b933p-53,
    -0x1.30ac10d6e48dap-53, -0x1.2edd9e8cba990p-53, -0x1.2d0d862e1b855p-53,
    -0x1.2b3bb62b82edbp-53, -0x1.29681c719d71dp-53, -0x1.2792a661dd381p-53,
    -0x1.25bb40ca96bfep-53, -0x1.23e1d7de9c322p-53, -0x1.2206572c4c6ecp-53,
    -0x1.2028a9940a0a3p-53, -0x1.1e48b93e0d431p-53, -0x1.1c666f8f82acfp-53,
    -0x1.1a81b51ee6d8bp-53, -0x1.189a71a78da37p-53, -0x1.16b08bfc42020p-53,
    -0x1.14c3e9f8e9143p-53, -0x1.12d4707310fc1p-53, -0x1.10e20329515f1p-53,
    -0x1.0eec84b16086fp-53, -0x1.0cf3d664bcc83p-53, -0x1.0af7d84bc6116p-53,
    -0x1.08f869071f40fp-53, -0x1.06f565b72a014p-53, -0x1.04eea9e16a5ffp-53,
    -0x1.02e40f5398f9dp-53, -0x1.00d56e04234eep-53, -0x1.fd8537dfa2eb1p-54,
    -0x1.f956d9e87d7b2p-54, -0x1.f51f654d8f68cp-54, -0x1.f0de784f0622ap-54,
    -0x1.ec93abdf982d2p-54, -0x1.e83e9337a6f04p-54, -0x1.e3debb5d2ee02p-54,
    -0x1.df73aa9f17656p-54, -0x1.dafce0023b8c8p-54, -0x1.d679d29e41f14p-54,
    -0x1.d1e9f0e80b74bp-54, -0x1.cd4c9fe72268fp-54, -0x1.c8a13a5323b66p-54,
    -0x1.c3e70f9594ef8p-54, -0x1.bf1d62abf8239p-54, -0x1.ba4368e529f40p-54,
    -0x1.b558487427a2fp-54, -0x1.b05b16d136ca2p-54, -0x1.ab4ad6e101636p-54,
    -0x1.a62676d77cd5fp-54, -0x1.a0eccdca4a731p-54, -0x1.9b9c98e38c54dp-54,
    -0x1.96347822c1ef0p-54, -0x1.90b2ea94ecf9ep-54, -0x1.8b1649e7b769fp-54,
    -0x1.855cc53430a7dp-54, -0x1.7f845ad46f549p-54, -0x1.798ad10b32a7ep-54,
    -0x1.736dad346f8adp-54, -0x1.6d2a292000576p-54, -0x1.66bd261a37c44p-54,
    -0x1.60231cfd97ef1p-54, -0x1.59580a707ce9cp-54, -0x1.52575621ad379p-54,
    -0x1.4b1bb363dfeadp-54, -0x1.439ef8dff9b5ap-54, -0x1.3bd9ec1a2b134p-54,
    -0x1.33c3fc05791fap-54, -0x1.2b52e3863d885p-54, -0x1.227a28f7a1afap-54,
    -0x1.192a69741367dp-54, -0x1.0f5053b025d4ap-54, -0x1.04d32278ebbb4p-54,
    -0x1.f32482d4cd5d0p-55, -0x1.dac2f5a747281p-55, -0x1.c004d2f386207p-55,
    -0x1.a230c2e4cd0cbp-55, -0x1.801fce82fa71ap-55, -0x1.57cb938443b71p-55,
    -0x1.250af3c2c5bc6p-55, -0x1.b8d0be3fdf702p-56,
};
static const uint64_t zig_lim[PF__ZIG_LAYERS] = {
    0x1de67b004bdecbu, 0x1e34b496663894u, 0x1ecd8befe06059u, 0x1f13f491483bf7u,
    0x1f3d2e3c028b30u, 0x1f5880b05450e7u, 0x1f6c0d8800a866u, 0x1f7acb03817074u,
    0x1f86565e3c45dau, 0x1f8fa4dd9a5a45u, 0x1f9751b0bc2363u, 0x1f9dc408ec3f3du,
    0x1fa3434f698f59u, 0x1fa80293c5e022u, 0x1fac275b7aca17u, 0x1fafcdde919e07u,
    0x1fb30bc36574ebu, 0x1fb5f1f05c0505u, 0x1fb88dca537e26u, 0x1fbaea138c77f9u,
    0x1fbd0f8afdfd54u, 0x1fbf056056e355u, 0x1fc0d189dccf5eu, 0x1fc27904f10627u,
    0x1fc4000732aaafu, 0x1fc56a245fc9f9u, 0x1fc6ba6bdd6337u, 0x1fc7f37ffa3c6eu,
    0x1fc917a86de8afu, 0x1fca28e12ee500u, 0x1fcb28e671ee84u, 0x1fcc193e7060fcu,
    0x1fccfb416d57b1u, 0x1fcdd020554402u, 0x1fce98ea3ed54au, 0x1fcf5691046780u,
    0x1fd009ed21527eu, 0x1fd0b3c0f563d5u, 0x1fd154bb89d1cbu, 0x1fd1ed7aed8bacu,
    0x1fd27e8e3a8e51u, 0x1fd30877528f46u, 0x1fd38bac5eac74u, 0x1fd408991bb3edu,
    0x1fd47f9ffae7cbu, 0x1fd4f11b1dc64cu, 0x1fd55d5d3244aeu, 0x1fd5c4b23405d1u,
    0x1fd62760165a97u, 0x1fd685a75a3f3bu, 0x1fd6dfc3930a85u, 0x1fd735ebdc19b8u,
    0x1fd78853416d23u, 0x1fd7d7291cdfa1u, 0x1fd82299696668u, 0x1fd86acd0d92c4u,
    0x1fd8afea1e63fbu, 0x1fd8f2141b52f0u, 0x1fd9316c246181u, 0x1fd96e112add68u,
    0x1fd9a8201d6f70u, 0x1fd9dfb40ffc65u, 0x1fda14e65fcc86u, 0x1fda47ced45faeu,
    0x1fda7883bd4844u, 0x1fdaa71a0d5bffu, 0x1fdad3a5738056u, 0x1fdafe3871506cu,
    0x1fdb26e46fd31au, 0x1fdb4db9d27192u, 0x1fdb72c80859e8u, 0x1fdb961d9c73a6u,
    0x1fdbb7c84408fcu, 0x1fdbd7d4ec42d8u, 0x1fdbf64fc69398u, 0x1fdc134454288eu,
    0x1fdc2ebd7078b3u, 0x1fdc48c55b0409u, 0x1fdc6165c055aeu, 0x1fdc78a7c2589eu,
    0x1fdc8e94000d9eu, 0x1fdca3329caf6cu, 0x1fdcb68b465112u, 0x1fdcc8a53c00fdu,
    0x1fdcd987537abdu, 0x1fdce937fe6fffu, 0x1fdcf7bd4f710fu, 0x1fdd051cfe7bf9u,
    0x1fdd115c6d38f3u, 0x1fdd1c80aaea2bu, 0x1fdd268e781473u, 0x1fdd2f8a49e5c7u,
    0x1fdd37784d5e5du, 0x1fdd3e5c6a4049u, 0x1fdd443a45c9b4u, 0x1fdd4915453d05u,
    0x1fdd4cf0903a49u, 0x1fdd4fcf12eca7u, 0x1fdd51b3800ebcu, 0x1fdd52a052c81fu,
    0x1fdd5297d06677u, 0x1fdd519c09f414u, 0x1fdd4faeddadf3u, 0x1fdd4cd1f85ae2u,
    0x1fdd4906d68557u, 0x1fdd444ec5995cu, 0x1fdd3eaae4e7e8u, 0x1fdd381c2690b6u,
    0x1fdd30a35053d6u, 0x1fdd2840fc4bb5u, 0x1fdd1ef59990a3u, 0x1fdd14c16cc686u,
    0x1fdd09a4909565u, 0x1fdcfd9ef60d74u, 0x1fdcf0b064f702u, 0x1fdce2d87c0ef5u,
    0x1fdcd416b12fe1u, 0x1fdcc46a51685bu, 0x1fdcb3d280fe82u, 0x1fdca24e3b610cu,
    0x1fdc8fdc5305e7u, 0x1fdc7c7b71367au, 0x1fdc682a15c977u, 0x1fdc52e696ca48u,
    0x1fdc3caf200dbfu, 0x1fdc2581b2b40cu, 0x1fdc0d5c249789u, 0x1fdbf43c1fa828u,
    0x1fdbda1f213300u, 0x1fdbbf027915a4u, 0x1fdba2e348dca5u, 0x1fdb85be82cca4u,
    0x1fdb6790e8d566u, 0x1fdb48570b6e08u, 0x1fdb280d485992u, 0x1fdb06afc95303u,
    0x1fdae43a829fd0u, 0x1fdac0a93187bau, 0x1fda9bf75ab0dcu, 0x1fda7620485e99u,
    0x1fda4f1f089205u, 0x1fda26ee6b0a50u, 0x1fd9fd88ff2370u, 0x1fd9d2e9119166u,
    0x1fd9a708a9f62au, 0x1fd979e1884ffdu, 0x1fd94b6d223e22u, 0x1fd91ba4a01968u,
    0x1fd8ea80d9dde8u, 0x1fd8b7fa53e32du, 0x1fd884093b5fa6u, 0x1fd84ea562b428u,
    0x1fd817c63d7bd0u, 0x1fd7df62dc5c7du, 0x1fd7a571e8939eu, 0x1fd769e99f3af8u,
    0x1fd72cbfcc4026u, 0x1fd6ede9c509f4u, 0x1fd6ad5c62c568u, 0x1fd66b0bfc5496u,
    0x1fd626ec5fd824u, 0x1fd5e0f0cbcc78u, 0x1fd5990be7b23fu, 0x1fd54f2fbc39dfu,
    0x1fd5034daae833u, 0x1fd4b556652a5au, 0x1fd46539e2cd47u, 0x1fd412e757ccf8u,
    0x1fd3be4d296daau, 0x1fd36758e290cbu, 0x1fd30df7273543u, 0x1fd2b213a711d5u,
    0x1fd253990f363au, 0x1fd1f270fa9decu, 0x1fd18e83e19d77u, 0x1fd127b90810c9u,
    0x1fd0bdf66a2e77u, 0x1fd05120a7e118u, 0x1fcfe11aee8486u, 0x1fcf6dc6e0e143u,
    0x1fcef7047d3c72u, 0x1fce7cb2014e02u, 0x1fcdfeabcbe9e5u, 0x1fcd7ccc3c2355u,
    0x1fccf6eb8daaf0u, 0x1fcc6cdfb220f1u, 0x1fcbde7c270d12u, 0x1fcb4b91c82424u,
    0x1fcab3ee9d78eeu, 0x1fca175da52a49u, 0x1fc975a69812b7u, 0x1fc8ce8da8ee69u,
    0x1fc821d33d5afbu, 0x1fc76f33a00055u, 0x1fc6b666ab1a96u, 0x1fc5f71f6a830cu,
    0x1fc5310bb43724u, 0x1fc463d3b63953u, 0x1fc38f19787f30u, 0x1fc2b278517098u,
    0x1fc1cd844b44b0u, 0x1fc0dfc97849e2u, 0x1fbfe8cb33da7eu, 0x1fbee8034d685bu,
    0x1fbddce11aa29eu, 0x1fbcc6c86d3ec6u, 0x1fbba510685f20u, 0x1fba770230e53au,
    0x1fb93bd77334fau, 0x1fb7f2b8b7f9a2u, 0x1fb69abb805c40u, 0x1fb532e020bd17u,
    0x1fb3ba0f4f5ba6u, 0x1fb22f175a5917u, 0x1fb090a8f611d0u, 0x1faedd5391d064u,
    0x1fad13811d33d9u, 0x1fab3171241ea6u, 0x1fa935332168f3u, 0x1fa71c9fe1923bu,
    0x1fa4e551c5e8a1u, 0x1fa28c9bad89cbu, 0x1fa00f7e3b9261u, 0x1f9d6a9b1fd932u,
    0x1f9a9a25f07388u, 0x1f9799d2044635u, 0x1f9464bc97bd09u, 0x1f90f552512d49u,
    0x1f8d452ef5dc61u, 0x1f894cf5c4b7a3u, 0x1f8504206f4490u, 0x1f8060c1fed8afu,
    0x1f7b573a0817dau, 0x1f75d9d343ca19u, 0x1f6fd846cdfcf0u, 0x1f693f1aa6e98bu,
    0x1f61f6ce31721cu, 0x1f59e2c1a6a9b7u, 0x1f50dfbcb697f1u, 0x1f46c1eb03f4e5u,
    0x1f3b520fb7ea11u, 0x1f2e498e9ba1b4u, 0x1f1f4caf064bbbu, 0x1f0de218c6afa5u,
    0x1ef965d8508936u, 0x1ee0f4eaa72d49u, 0x1ec34bc837472bu, 0x1e9e8d2ac24ab7u,
    0x1e6fdac3ff962fu, 0x1e328e15f48957u, 0x1dde9702fd9572u, 0x1d64abd3a7eefcu,
    0x1ca3ecfd83ddd9u, 0x1b46a9f57b028bu, 0x18117d31f78d6du, 0x0u,
};

/* The source of raw outputs for one pf_rng_normal call.  Outputs are
 * consumed strictly in order, so the normals depend only on the stream's
 * output sequence: never on n, on how calls are split, or on the blocking
 * below.  Outputs are generated in blocks: by the eight-chain generator
 * with AVX2 (pcg8_fill; else the four-chain one), a tight loop kept apart
 * from the ziggurat so that neither spills registers (fusing the two was
 * measured slower), or, for short calls, by single steps.  A block holds
 * at most 3 outputs more than the normals still wanted (each normal takes
 * at least one output); at the end the generator is moved to just after
 * the last output consumed. */
#define PF__ZIG_BLOCK 256

typedef struct zig_src {
  pf_rng *r;       /* r->state: the state before buf[0] */
  pf_u128 end;     /* the state of buf[len - 1] */
  size_t rem;      /* normals still wanted, this one included */
  size_t pos, len;
  uint64_t buf[PF__ZIG_BLOCK];
} zig_src;

static void zig_refill(zig_src *s)
{
  s->r->state = s->end;
  size_t want = s->rem;
  if (want >= 8) {
    size_t len = want >= PF__ZIG_BLOCK ? PF__ZIG_BLOCK
                                       : (want + 3) & ~(size_t)3;
#ifdef __AVX2__
    /* eight chains for the multiple of 8, single steps for the rest */
    const size_t l8 = len & ~(size_t)7;
    pf_rng t = *s->r;
    pcg8_fill(&t, l8, s->buf);
    for (size_t j = l8; j < len; j++) s->buf[j] = pf_rng_next(&t);
    s->end = t.state;
    s->len = len;
#else
    pcg4 g;
    pcg4_init(&g, s->r);
    for (size_t j = 0; j < len; j += 4) {
      s->buf[j] = pcg_output(g.s0);
      s->buf[j + 1] = pcg_output(g.s1);
      s->buf[j + 2] = pcg_output(g.s2);
      s->buf[j + 3] = pcg_output(g.s3);
      pcg4_step(&g);
    }
    s->end = g.last;
    s->len = len;
#endif
  } else {
    if (want == 0) want = 1; /* a slow path of the last normal */
    pf_rng t = *s->r;
    for (size_t j = 0; j < want; j++) s->buf[j] = pf_rng_next(&t);
    s->end = t.state;
    s->len = want;
  }
  s->pos = 0;
}

static inline uint64_t zig_next(zig_src *s)
{
  if (s->pos == s->len) zig_refill(s);
  return s->buf[s->pos++];
}

/* The signed candidate +-(m 2^-53) x_k, and the rectangle test. */
static inline double zig_cand(uint64_t w)
{
  return (double)(w >> 11) * zig_scale[w & 0x1ffu];
}

static inline int zig_inside(uint64_t w)
{
  return (w >> 11) < zig_lim[w & 0xffu];
}

static double zig_tail(zig_src *s)
{
  const double r = pf__zig_x[1];
  double a, b;
  do {
    a = -log(open_uniform(zig_next(s))) / r;
    b = -log(open_uniform(zig_next(s)));
  } while (!(b + b > a * a));
  return r + a;
}

/* One normal from output w and, when needed, the outputs after it: the
 * tail, the wedges, and restarts after rejections. */
static __attribute__((noinline)) double zig_slow(zig_src *s, uint64_t w)
{
  for (;;) {
    if (zig_inside(w)) return zig_cand(w);
    unsigned k = (unsigned)(w & 0xffu);
    double z = (double)(w >> 11) * zig_scale[k]; /* |candidate| */
    double sign = w & 0x100u ? -1.0 : 1.0;
    if (k == 0) return sign * zig_tail(s);
    double y = pf__zig_f[k] + (double)(zig_next(s) >> 11) * 0x1p-53 *
                                  (pf__zig_f[k + 1] - pf__zig_f[k]);
    if (y < exp(-0.5 * z * z)) return sign * z;
    w = zig_next(s);
  }
}

void pf_rng_normal(pf_rng *r, size_t n, double *out)
{
  zig_src s;
  size_t i = 0;
  s.r = r;
  s.end = r->state;
  s.pos = s.len = 0;
  while (i < n) {
    if (s.pos == s.len) {
      s.rem = n - i;
      zig_refill(&s);
    }
    /* The fast path over the block: one output per normal until an output
     * misses its rectangle (1.5 %), the block or n ends. */
    const uint64_t *b = s.buf + s.pos;
    size_t m = s.len - s.pos, j = 0;
    if (m > n - i) m = n - i;
    for (; j < m; j++) {
      if (__builtin_expect(!zig_inside(b[j]), 0)) break;
      out[i + j] = zig_cand(b[j]);
    }
    i += j;
    s.pos += j;
    if (j < m) {
      uint64_t w = s.buf[s.pos++];
      s.rem = n - i;
      out[i++] = zig_slow(&s, w);
    }
  }
  /* Move r just after the last output consumed: back from the block's
   * end by the unused outputs (usually at most 3, one inverse step each),
   * or forward from its start when more of the block is unused. */
  size_t unused = s.len - s.pos;
  if (unused <= 8) {
    pf_u128 st = s.end;
    for (; unused; unused--) st = (st - r->inc) * PF__PCG_MULT_INV;
    r->state = st;
  } else {
    pf_rng_advance(r, s.pos); /* < 256 steps: at most 8 squarings */
  }
}
