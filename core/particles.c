/* Particle sets: aligned storage and per-particle PCG streams. */
#include "pflow/particles.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"

double *pf_alloc_doubles(size_t n)
{
  size_t bytes = (n ? n : 1) * sizeof(double);
  bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
  double *p = aligned_alloc(64, bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

int pf_particles_create(size_t n, size_t d, uint64_t seed, uint64_t first,
                        pf_particles **out)
{
  *out = NULL;
  PF_CHECK(n > 0 && d > 0, PF_EINVAL, "particle set of size %zu x %zu", n, d);
  PF_CHECK(n <= ((size_t)1 << 40) / d, PF_EINVAL,
           "particle set of size %zu x %zu is too large", n, d);
  pf_particles *p = calloc(1, sizeof *p);
  PF_CHECK(p, PF_ENOMEM, "allocating a particle set");
  p->n = n;
  p->d = d;
  p->first = first;
  p->x = pf_alloc_doubles(n * d);
  p->logp = pf_alloc_doubles(n);
  p->grad = pf_alloc_doubles(n * d);
  p->rng = aligned_alloc(64, ((n * sizeof(pf_rng)) + 63) & ~(size_t)63);
  if (!p->x || !p->logp || !p->grad || !p->rng) {
    pf_particles_destroy(&p);
    PF_RAISE(PF_ENOMEM, "allocating %zu particles of dimension %zu", n, d);
  }
  for (size_t i = 0; i < n; i++) pf_rng_stream(&p->rng[i], seed, first + i);
  *out = p;
  return 0;
}

void pf_particles_destroy(pf_particles **pp)
{
  if (!pp || !*pp) return;
  pf_particles *p = *pp;
  free(p->x);
  free(p->logp);
  free(p->grad);
  free(p->rng);
  free(p);
  *pp = NULL;
}

void pf_particles_copy_state(pf_particles *dst, const pf_particles *src)
{
  size_t nd = src->n * src->d;
  memcpy(dst->x, src->x, nd * sizeof(double));
  memcpy(dst->grad, src->grad, nd * sizeof(double));
  memcpy(dst->logp, src->logp, src->n * sizeof(double));
}

size_t pf_particles_find_nonfinite(const pf_particles *p)
{
  size_t d = p->d;
  for (size_t i = 0; i < p->n; i++) {
    if (!isfinite(p->logp[i])) return i;
    for (size_t k = 0; k < d; k++)
      if (!isfinite(p->x[i * d + k]) || !isfinite(p->grad[i * d + k]))
        return i;
  }
  return p->n;
}
