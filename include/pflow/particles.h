/* A particle set (or a batch of independent chains): n points in R^d stored
 * as an n x d row-major, 64-byte aligned array, their cached log density and
 * score, and one PCG stream per particle derived from (seed, global index). */
#ifndef PFLOW_PARTICLES_H
#define PFLOW_PARTICLES_H

#include <stddef.h>
#include <stdint.h>

#include "pflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_particles {
  size_t n, d;
  uint64_t first;  /* global index of particle 0 (for sharded runs) */
  double *x;       /* n*d positions */
  double *logp;    /* n log densities at x (as of the last evaluation) */
  double *grad;    /* n*d scores at x */
  pf_rng *rng;     /* n streams: rng[i] = stream (seed, first + i) */
} pf_particles;

/* Allocate n particles of dimension d (positions zeroed) with streams for
 * global indices first..first+n-1 of run seed `seed`.  Caller owns *out. */
int pf_particles_create(size_t n, size_t d, uint64_t seed, uint64_t first,
                        pf_particles **out);
void pf_particles_destroy(pf_particles **p);

/* Copy positions, log densities and scores (not streams) from src. */
void pf_particles_copy_state(pf_particles *dst, const pf_particles *src);

/* Index of the first particle whose position, log density or score is not
 * finite; n if all are finite. */
size_t pf_particles_find_nonfinite(const pf_particles *p);

/* 64-byte aligned allocation of n doubles (zeroed); free with free(). */
double *pf_alloc_doubles(size_t n);

#ifdef __cplusplus
}
#endif
#endif
