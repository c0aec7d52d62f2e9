/* Exact k-nearest-neighbour search (see knn.h): a k-d tree for low
 * dimension and many points, tiled brute force otherwise.
 *
 * k-d tree: median split on the widest coordinate, leaves of at most
 * KD_LEAF points stored contiguously (permuted copy).  The search keeps,
 * per query, the offset of the query from the current cell along every
 * coordinate (Arya & Mount's incremental cell distance, recomputed as a
 * plain sum so it rounds like a point distance and never exceeds one).
 *
 * Brute force: the points are kept transposed (d x m) so the distance of
 * one query to a block of KNN_PB points vectorizes over the points; blocks
 * of KNN_QB queries share each point block while it sits in cache.
 *
 * Crossover (PF__KNN_AUTO), measured on the 2-core development machine
 * under load from other builds (PFLOW_KNN_BENCH=1 build/tests/runner
 * knn_diagnostics/crossover prints the table; queries = the m points,
 * k = 5, OMP_NUM_THREADS=1; tree / brute, ms, two runs agreed within ~30%):
 *   d = 2:  m = 128: 0.10 / 0.13   m = 2000: 14 / 49    m = 8000: 21 / 880
 *   d = 5:  m = 128: 0.18 / 0.17   m = 512: 1.4 / 10    m = 8000: 153 / 920
 *   d = 8:  m = 512: 1.9-3.2 / 2.5-9.8   m = 2000: 51 / 69   m = 8000: 500 / 1360
 *   d = 10: m = 2000: 92 / 111     m = 8000: 1000 / 1780
 *   d = 12: m = 2000: 133 / 113    m = 8000: 1900 / 2050
 * Rule: tree when d <= 10 and m >= 128 (d <= 3) or m >= 512 (d > 3);
 * brute force for small sets and d >= 11, where the tree visits most
 * leaves anyway. */
#include "knn.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"

enum { KD_LEAF = 16, KNN_PB = 512, KNN_QB = 32 };

typedef struct kdnode {
  size_t lo, hi;     /* points [lo, hi) of the permuted copy */
  double split;      /* left: coord <= split, right: coord >= split */
  int dim;           /* -1 for a leaf */
  int32_t left, right;
} kdnode;

struct pf__knn {
  size_t cap, d, m;
  int method, used;
  double *src;       /* m x d copy of the points, original order */
  double *rows;      /* m x d, tree order */
  double *cols;      /* d x m, original order (brute force) */
  size_t *perm;      /* tree position -> original index */
  kdnode *nodes;
  size_t n_nodes, cap_nodes;
  int root;
  int nthreads;
  double *ws;        /* per thread: d offsets + KNN_PB distances */
  size_t ws_stride;
};

int pf__knn_prefer_tree(size_t m, size_t d)
{
  if (d > 10) return 0;
  return m >= (d <= 3 ? 128u : 512u);
}

void pf__knn_destroy(pf__knn *t)
{
  if (!t) return;
  free(t->src);
  free(t->rows);
  free(t->cols);
  free(t->perm);
  free(t->nodes);
  free(t->ws);
  free(t);
}

int pf__knn_create(size_t cap, size_t d, int method, pf__knn **out)
{
  PF_CHECK(out && cap > 0 && d > 0, PF_EINVAL,
           "pf__knn_create: need points (cap %zu) and a dimension (%zu)", cap,
           d);
  PF_CHECK(method >= PF__KNN_AUTO && method <= PF__KNN_KDTREE, PF_EINVAL,
           "pf__knn_create: unknown method %d", method);
  pf__knn *t = calloc(1, sizeof *t);
  PF_CHECK(t, PF_ENOMEM, "allocating a kNN index");
  t->cap = cap;
  t->d = d;
  t->method = method;
  t->cap_nodes = 2 * (cap / (KD_LEAF / 2) + 1) + 1;
  t->nthreads = omp_get_max_threads();
  if (t->nthreads < 1) t->nthreads = 1;
  t->ws_stride = d + KNN_PB;
  t->src = malloc(cap * d * sizeof(double));
  t->rows = malloc(cap * d * sizeof(double));
  t->cols = malloc(cap * d * sizeof(double));
  t->perm = malloc(cap * sizeof(size_t));
  t->nodes = malloc(t->cap_nodes * sizeof(kdnode));
  t->ws = malloc((size_t)t->nthreads * t->ws_stride * sizeof(double));
  if (!t->src || !t->rows || !t->cols || !t->perm || !t->nodes || !t->ws) {
    pf__knn_destroy(t);
    PF_RAISE(PF_ENOMEM, "allocating a kNN index for %zu points of dim %zu",
             cap, d);
  }
  *out = t;
  return 0;
}

int pf__knn_method(const pf__knn *t) { return t ? t->used : 0; }

/* ---- k-d tree build ----------------------------------------------------- */

/* Order of two positions of perm along coordinate `dim`: coordinate, then
 * index (a total order, so the build is deterministic). */
static int before(const pf__knn *t, size_t a, size_t b, int dim)
{
  double xa = t->src[a * t->d + (size_t)dim];
  double xb = t->src[b * t->d + (size_t)dim];
  return xa < xb || (xa == xb && a < b);
}

/* Quickselect: put the element of rank `nth` of perm[lo, hi) at nth, the
 * smaller before it, the larger after.  Median-of-three pivot. */
static void select_nth(pf__knn *t, size_t lo, size_t hi, size_t nth, int dim)
{
  size_t *p = t->perm;
  while (hi - lo > 2) {
    size_t mid = lo + (hi - lo) / 2, last = hi - 1, tmp;
    if (before(t, p[mid], p[lo], dim)) { tmp = p[mid]; p[mid] = p[lo]; p[lo] = tmp; }
    if (before(t, p[last], p[lo], dim)) { tmp = p[last]; p[last] = p[lo]; p[lo] = tmp; }
    if (before(t, p[last], p[mid], dim)) { tmp = p[last]; p[last] = p[mid]; p[mid] = tmp; }
    /* pivot (median of three) to last - 1, partition (lo, last - 1) */
    size_t piv = p[mid];
    p[mid] = p[last - 1];
    p[last - 1] = piv;
    size_t i = lo, j = last - 1;
    for (;;) {
      while (before(t, p[++i], piv, dim)) {}
      while (before(t, piv, p[--j], dim)) {}
      if (i >= j) break;
      tmp = p[i]; p[i] = p[j]; p[j] = tmp;
    }
    p[last - 1] = p[i];
    p[i] = piv;
    if (i == nth) return;
    if (nth < i) hi = i; else lo = i + 1;
  }
  if (hi - lo == 2 && before(t, p[lo + 1], p[lo], dim)) {
    size_t tmp = p[lo]; p[lo] = p[lo + 1]; p[lo + 1] = tmp;
  }
}

static int32_t kd_build(pf__knn *t, size_t lo, size_t hi)
{
  const size_t d = t->d;
  int32_t id = (int32_t)t->n_nodes++;
  kdnode *nd = &t->nodes[id];
  nd->lo = lo;
  nd->hi = hi;
  nd->dim = -1;
  nd->left = nd->right = -1;
  nd->split = 0.0;
  if (hi - lo <= KD_LEAF) return id;
  int best = 0;
  double spread = -1.0;
  for (size_t j = 0; j < d; j++) {
    double mn = INFINITY, mx = -INFINITY;
    for (size_t i = lo; i < hi; i++) {
      double v = t->src[t->perm[i] * d + j];
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
    }
    if (mx - mn > spread) {
      spread = mx - mn;
      best = (int)j;
    }
  }
  if (!(spread > 0.0)) return id; /* all points equal: one leaf */
  size_t mid = lo + (hi - lo) / 2;
  select_nth(t, lo, hi, mid, best);
  double split = t->src[t->perm[mid] * d + (size_t)best];
  int32_t l = kd_build(t, lo, mid);
  int32_t r = kd_build(t, mid, hi);
  nd = &t->nodes[id]; /* (no realloc, but keep it obvious) */
  nd->dim = best;
  nd->split = split;
  nd->left = l;
  nd->right = r;
  return id;
}

int pf__knn_build(pf__knn *t, const double *Y, size_t m)
{
  PF_CHECK(t && (Y || m == 0), PF_EINVAL, "pf__knn_build: NULL argument");
  PF_CHECK(m <= t->cap, PF_EINVAL,
           "pf__knn_build: %zu points exceed the capacity %zu", m, t->cap);
  const size_t d = t->d;
  t->m = m;
  memcpy(t->src, Y, m * d * sizeof(double));
  t->used = t->method != PF__KNN_AUTO ? t->method
            : pf__knn_prefer_tree(m, d) ? PF__KNN_KDTREE
                                        : PF__KNN_BRUTE;
  if (t->used == PF__KNN_BRUTE) {
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < d; j++) t->cols[j * m + i] = Y[i * d + j];
    return 0;
  }
  for (size_t i = 0; i < m; i++) t->perm[i] = i;
  t->n_nodes = 0;
  t->root = m ? kd_build(t, 0, m) : -1;
  for (size_t i = 0; i < m; i++)
    memcpy(t->rows + i * d, t->src + t->perm[i] * d, d * sizeof(double));
  return 0;
}

/* ---- search ------------------------------------------------------------- */

typedef struct best {
  size_t k, cnt;
  double *dist;
  size_t *idx;
  size_t self;
  int skip_zero;
} best;

/* Insert (dd, id) into the sorted list if it is among the k smallest by
 * (distance, index). */
static inline void offer(best *b, double dd, size_t id)
{
  size_t k = b->k;
  if (b->cnt == k) {
    double w = b->dist[k - 1];
    if (dd > w || (dd == w && id > b->idx[k - 1])) return;
  }
  size_t pos = b->cnt < k ? b->cnt : k - 1;
  while (pos > 0 && (b->dist[pos - 1] > dd ||
                     (b->dist[pos - 1] == dd && b->idx[pos - 1] > id))) {
    b->dist[pos] = b->dist[pos - 1];
    b->idx[pos] = b->idx[pos - 1];
    pos--;
  }
  b->dist[pos] = dd;
  b->idx[pos] = id;
  if (b->cnt < k) b->cnt++;
}

static inline double worst(const best *b)
{
  return b->cnt < b->k ? INFINITY : b->dist[b->k - 1];
}

static void kd_search(const pf__knn *t, int32_t node, const double *q,
                      double *off, double rd, best *b)
{
  const size_t d = t->d;
  if (rd > worst(b)) return;
  const kdnode *nd = &t->nodes[node];
  if (nd->dim < 0) {
    for (size_t i = nd->lo; i < nd->hi; i++) {
      const double *p = t->rows + i * d;
      double s = 0.0;
      for (size_t j = 0; j < d; j++) {
        double u = q[j] - p[j];
        s += u * u;
      }
      size_t id = t->perm[i];
      if (id == b->self || (b->skip_zero && s == 0.0)) continue;
      offer(b, s, id);
    }
    return;
  }
  const size_t s = (size_t)nd->dim;
  double diff = q[s] - nd->split;
  int32_t near = diff < 0.0 ? nd->left : nd->right;
  int32_t far = diff < 0.0 ? nd->right : nd->left;
  kd_search(t, near, q, off, rd, b);
  double old = off[s];
  off[s] = diff;
  double rf = 0.0;
  for (size_t j = 0; j < d; j++) rf += off[j] * off[j];
  if (rf <= worst(b)) kd_search(t, far, q, off, rf, b);
  off[s] = old;
}

/* One query against points [j0, j1) by brute force; buf has KNN_PB room. */
static void brute_block(const pf__knn *t, const double *q, size_t j0,
                        size_t j1, double *buf, best *b)
{
  const size_t d = t->d, m = t->m, nb = j1 - j0;
  for (size_t j = 0; j < nb; j++) buf[j] = 0.0;
  for (size_t c = 0; c < d; c++) {
    const double qc = q[c];
    const double *col = t->cols + c * m + j0;
    for (size_t j = 0; j < nb; j++) {
      double u = qc - col[j];
      buf[j] += u * u;
    }
  }
  for (size_t j = 0; j < nb; j++) {
    size_t id = j0 + j;
    if (id == b->self || (b->skip_zero && buf[j] == 0.0)) continue;
    /* indices arrive in increasing order: a tie with the k-th loses */
    if (b->cnt == b->k && !(buf[j] < b->dist[b->k - 1])) continue;
    offer(b, buf[j], id);
  }
}

int pf__knn_query(pf__knn *t, const double *Q, size_t nq, size_t k,
                  size_t self0, int skip_zero, double *dist2, size_t *idx)
{
  PF_CHECK(t && (Q || nq == 0) && (dist2 || nq == 0 || k == 0), PF_EINVAL,
           "pf__knn_query: NULL argument");
  if (k == 0 || nq == 0) return 0;
  PF_CHECK(idx || k <= 1024, PF_EINVAL, "pf__knn_query: k = %zu without an "
           "index array is limited to 1024", k);
  const size_t d = t->d, m = t->m;
  const long nblk = (long)((nq + KNN_QB - 1) / KNN_QB);
#pragma omp parallel num_threads(t->nthreads)
  {
    const int tid = omp_get_thread_num();
    double *off = t->ws + (size_t)tid * t->ws_stride;
    double *buf = off + d;
    size_t local_idx[1024];
#pragma omp for schedule(static)
    for (long blk = 0; blk < nblk; blk++) {
      size_t i0 = (size_t)blk * KNN_QB;
      size_t i1 = i0 + KNN_QB < nq ? i0 + KNN_QB : nq;
      best bs[KNN_QB];
      for (size_t i = i0; i < i1; i++) {
        best *b = &bs[i - i0];
        b->k = k;
        b->cnt = 0;
        b->dist = dist2 + i * k;
        /* without idx the tie order still needs indices: per-thread room
         * for one query at a time (tree) */
        b->idx = idx ? idx + i * k : local_idx;
        b->self = self0 == PF__KNN_NOSELF ? PF__KNN_NOSELF : self0 + i;
        b->skip_zero = skip_zero;
      }
      if (t->used == PF__KNN_KDTREE || !idx) {
        for (size_t i = i0; i < i1; i++) {
          best *b = &bs[i - i0];
          if (t->used == PF__KNN_KDTREE && m > 0) {
            for (size_t j = 0; j < d; j++) off[j] = 0.0;
            kd_search(t, t->root, Q + i * d, off, 0.0, b);
          } else {
            for (size_t j0 = 0; j0 < m; j0 += KNN_PB)
              brute_block(t, Q + i * d, j0,
                          j0 + KNN_PB < m ? j0 + KNN_PB : m, buf, b);
          }
          for (size_t r = b->cnt; r < k; r++) {
            b->dist[r] = INFINITY;
            b->idx[r] = SIZE_MAX;
          }
        }
      } else {
        for (size_t j0 = 0; j0 < m; j0 += KNN_PB) {
          size_t j1 = j0 + KNN_PB < m ? j0 + KNN_PB : m;
          for (size_t i = i0; i < i1; i++)
            brute_block(t, Q + i * d, j0, j1, buf, &bs[i - i0]);
        }
        for (size_t i = i0; i < i1; i++)
          for (size_t r = bs[i - i0].cnt; r < k; r++) {
            bs[i - i0].dist[r] = INFINITY;
            bs[i - i0].idx[r] = SIZE_MAX;
          }
      }
    }
  }
  return 0;
}
