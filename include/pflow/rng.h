/* Random numbers: the PCG family's pcg64 generator (128-bit LCG state,
 * selectable odd increment = stream, XSL-RR 64-bit output), bit-for-bit
 * equal to pcg_engines::setseq_xsl_rr_128_64 of the C++ reference
 * (O'Neill), with one stream per particle or chain derived from
 * (seed, global index) -- never per thread -- so results do not depend on
 * thread or rank counts. */
#ifndef PFLOW_RNG_H
#define PFLOW_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

__extension__ typedef unsigned __int128 pf_u128;

typedef struct pf_rng {
  pf_u128 state;
  pf_u128 inc; /* odd */
} pf_rng;

/* Seed exactly like the C++ reference `pcg64 g(seed, stream)`:
 * inc = (stream << 1) | 1, state = (seed + inc) * MULT + inc. */
void pf_rng_seed(pf_rng *r, pf_u128 seed, pf_u128 stream);

/* The stream of entity `index` (global particle or chain index) for run seed
 * `seed`.  Distinct indices give distinct increments (stream = index) and
 * decorrelated starting states (SplitMix64 of seed and index). */
void pf_rng_stream(pf_rng *r, uint64_t seed, uint64_t index);

/* Next 64-bit output. */
uint64_t pf_rng_next(pf_rng *r);

/* Advance the generator by delta steps in O(log delta). */
void pf_rng_advance(pf_rng *r, pf_u128 delta);

/* Uniform double in [0, 1) with 53 random bits. */
double pf_rng_uniform(pf_rng *r);

/* n uniforms in the open interval (0, 1): (k + 0.5) / 2^53. */
void pf_rng_uniforms_open(pf_rng *r, size_t n, double *out);

/* n standard normals from this stream: an exact 256-layer ziggurat
 * (Marsaglia & Tsang 2000 with Doornik's 2005 fix: layer, sign and uniform
 * from disjoint bits of one 64-bit output; exact wedge test; Marsaglia's
 * tail method), described in core/rng.c.  Outputs are consumed strictly in
 * order, one per normal plus a few for the ~1.5 % of draws that reach a
 * wedge or the tail, and the generator ends just after the last output
 * used.  So the normals depend only on the stream: n normals are a prefix
 * of n + 1, and any sequence of calls equals one call of the total length.
 * Thread safety: no shared mutable state (the tables are constant data);
 * distinct pf_rng objects may be used concurrently. */
void pf_rng_normal(pf_rng *r, size_t n, double *out);

/* Internal, exported for tests/test_rng.c: the ziggurat tables of
 * pf_rng_normal.  x[0] = v / f(r) (base strip incl. tail), x[1] = r,
 * x[1] > ... > x[255] > x[256] = 0; f[k] = exp(-x[k]^2 / 2). */
#define PF__ZIG_LAYERS 256
extern const double pf__zig_x[PF__ZIG_LAYERS + 1];
extern const double pf__zig_f[PF__ZIG_LAYERS + 1];

#ifdef __cplusplus
}
#endif
#endif
