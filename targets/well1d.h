/* Internal to targets/: the one-dimensional quartic well factor
 * f(x) = exp(-(x^2 - delta)^2) shared by `many_well` and `double_well`:
 * its normalizing constant and second moment by quadrature, and an exact
 * rejection sampler with an analytically verified envelope. */
#ifndef PF_TARGETS_WELL1D_H
#define PF_TARGETS_WELL1D_H

#include "pflow/rng.h"

typedef struct pf__well1d {
  double delta;
  double log_z; /* log of the integral of f over R */
  double m2;    /* E x^2 under f / Z (the mean is 0 by symmetry) */
  /* Envelope: 1 = two wells (proposal N(+-mu, s^2)), 0 = centred N(0, s^2)
   * with log acceptance -(x^2 - c)^2 (see well1d.c). */
  int two_wells;
  double mu, s, c;
  double accept; /* acceptance probability of one proposal */
} pf__well1d;

/* Quadrature (relative accuracy ~1e-14) and envelope set-up.  Returns 0 or
 * PF_ENOCONV when the quadrature does not settle (never for finite delta in
 * the ranges the targets allow). */
int pf__well1d_init(pf__well1d *w, double delta);

/* One exact draw from f / Z using the stream rng. */
double pf__well1d_draw(const pf__well1d *w, pf_rng *rng);

#endif
