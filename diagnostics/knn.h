/* Internal (diagnostics/ only): exact k-nearest-neighbour search shared by
 * the kNN divergence estimators (kl_knn, renyi_knn).
 *
 * Neighbours are ordered by (squared Euclidean distance, point index), so
 * ties and duplicates have one well-defined answer, and the k-d tree and the
 * brute-force search return identical indices and bit-identical distances
 * (both sum (q_j - p_j)^2 over j = 0..d-1 in that order; the tree prunes a
 * cell only when a lower bound built from the same operations, which
 * rounding cannot push above a point's computed distance, exceeds the
 * current k-th distance).  Results do not depend on the thread count.
 * Not reentrant on one index (per-thread workspaces live in it). */
#ifndef PFLOW_DIAGNOSTICS_KNN_H
#define PFLOW_DIAGNOSTICS_KNN_H

#include <stddef.h>
#include <stdint.h>

enum { PF__KNN_AUTO = 0, PF__KNN_BRUTE = 1, PF__KNN_KDTREE = 2 };

/* Query i excludes no point. */
#define PF__KNN_NOSELF SIZE_MAX

typedef struct pf__knn pf__knn;

/* An index for up to `cap` points of dimension d, with every workspace
 * (point copies, tree nodes, per-thread buffers) allocated here.  method:
 * PF__KNN_AUTO picks the k-d tree or brute force per build from (m, d),
 * see pf__knn_prefer_tree.  *out owned by the caller. */
int pf__knn_create(size_t cap, size_t d, int method, pf__knn **out);
void pf__knn_destroy(pf__knn *t); /* NULL-safe */

/* (Re)build over the m <= cap rows of Y (row-major m x d; copied, Y may
 * change afterwards).  No allocation. */
int pf__knn_build(pf__knn *t, const double *Y, size_t m);

/* For each of the nq rows of Q: the k nearest indexed points by (distance,
 * index).  Query i skips point self0 + i (self0 = PF__KNN_NOSELF: none), and
 * with skip_zero every point at distance exactly 0 (duplicates).  dist2
 * (nq x k) gets squared distances, idx (nq x k, may be NULL) indices;
 * missing neighbours (fewer than k candidates) are INFINITY / SIZE_MAX.
 * OpenMP over queries; no allocation. */
int pf__knn_query(pf__knn *t, const double *Q, size_t nq, size_t k,
                  size_t self0, int skip_zero, double *dist2, size_t *idx);

/* The method the last build used (PF__KNN_BRUTE or PF__KNN_KDTREE). */
int pf__knn_method(const pf__knn *t);

/* The AUTO rule: 1 when the k-d tree is expected to beat brute force for
 * m points in dimension d (crossover measured on the development machine,
 * see knn.c). */
int pf__knn_prefer_tree(size_t m, size_t d);

/* Ensemble weights (w[0] for k = sqrt(n), w[1] for 2 sqrt(n)) of the NNR
 * Renyi estimator for n particles in dimension d (renyi_knn.c). */
void pf__nnr_weights(size_t n, size_t d, double w[2]);

/* 1-D squared Wasserstein-2 distance between the empirical measures of the
 * sorted arrays a (n) and b (m): the exact integral over [0,1] of the
 * squared difference of their quantile functions (sliced_w2.c). */
double pf__w2sq_sorted(const double *a, size_t n, const double *b, size_t m);

/* In-place ascending heapsort (no allocation; sliced_w2.c). */
void pf__sort_doubles(double *v, size_t n);

#endif
