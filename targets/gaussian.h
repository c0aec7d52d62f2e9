/* Internal: the affine map of Gaussian sampling, shared by the targets
 * that draw from N(mean, L L') (targets/gaussian.c, targets/gmm.c). */
#ifndef PF_TARGETS_GAUSSIAN_H
#define PF_TARGETS_GAUSSIAN_H

#include <stddef.h>

/* x <- mean + L x in place, L (d x d row-major) lower triangular: turns d
 * standard normals into a draw without a buffer.  Each entry's sum runs
 * from the mean over j = 0..k in order (fixed bits). */
void pf__gaussian_affine(size_t d, const double *mean, const double *L,
                         double *x);

#endif
