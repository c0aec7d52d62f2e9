/* `quadratic_simplex`: p(theta) ∝ exp(-theta^T A theta / (2 sigma2)) on the
 * probability simplex in reduced coordinates theta_1..theta_{D-1} (the
 * `simplex` domain; dim = D - 1 = the size of A).  The benchmark of Shi, Liu
 * & Mackey (ICLR 2022, `quad.ipynb`): D = 20, sigma2 = 1e-4, A = M M^T /
 * max|M M^T| with M ~ U(-1,1)^(19x19) from numpy seed 123, shipped as
 * data/quadratic_simplex_A.csv (`preset: shi2022`).  Unnormalized: no
 * log_z, no exact sampler, no known moments.
 *
 * logp_grad evaluates the quadratic form at any point, inside the simplex or
 * not (no indicator): samplers keep particles inside through the domain, and
 * the smooth extension keeps the score informative for a step that leaves
 * the set before it is reflected or projected.
 *
 * Data files: a relative `A_file` is looked up first relative to the working
 * directory, then relative to the directory of the config file that set it.
 * `preset: shi2022` looks for quadratic_simplex_A.csv in $PFLOW_DATA_DIR (if
 * set), ./data, then <config dir>/data and <config dir>/../data (so configs/
 * next to data/ work from any directory). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pflow/error.h"
#include "pflow/target.h"

typedef struct quad {
  size_t d;
  double *A;       /* d x d, symmetric */
  double inv_s2;   /* 1 / sigma2 */
  pf_domain *dom;  /* simplex, reduced coordinates */
} quad;

static void quad_destroy(void *ctx)
{
  quad *q = ctx;
  if (!q) return;
  free(q->A);
  pf_domain_destroy(&q->dom);
  free(q);
}

static int is_file(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Directory of the config file that holds `node`, into dir (no trailing
 * slash); 0 when the node did not come from a file. */
static int config_dir(const pf_node *node, char *dir, size_t cap)
{
  const char *f = pf_node_mark(node).file;
  if (!f || !is_file(f)) return 0;
  const char *slash = strrchr(f, '/');
  if (!slash) {
    snprintf(dir, cap, ".");
    return 1;
  }
  size_t len = (size_t)(slash - f);
  if (len == 0) len = 1; /* "/x.yaml" */
  if (len >= cap) return 0;
  memcpy(dir, f, len);
  dir[len] = '\0';
  return 1;
}

/* Read a CSV matrix: rows on lines, entries separated by commas (spaces
 * allowed), blank lines and lines starting with '#' skipped.  *out is
 * malloc'ed row-major (caller frees). */
static int read_csv_matrix(const char *path, double **out, size_t *rows,
                           size_t *cols)
{
  *out = NULL;
  *rows = *cols = 0;
  FILE *f = fopen(path, "r");
  PF_CHECK(f, PF_EIO, "cannot open '%s': %s", path, strerror(errno));
  size_t cap = 0, n = 0, r = 0, c0 = 0;
  double *v = NULL;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  int rc = 0;
  while ((len = getline(&line, &lcap, f)) >= 0) {
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') continue;
    size_t c = 0;
    for (;;) {
      char *end;
      errno = 0;
      double x = strtod(p, &end);
      if (end == p) {
        rc = pf__error_set(PF_EPARSE, __FILE__, __LINE__,
                           "%s:%zu: expected a number at column %zu", path,
                           r + 1, c + 1);
        goto done;
      }
      if (n == cap) {
        size_t nc = cap ? 2 * cap : 256;
        double *nv = realloc(v, nc * sizeof(double));
        if (!nv) {
          rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__,
                             "reading '%s'", path);
          goto done;
        }
        v = nv;
        cap = nc;
      }
      v[n++] = x;
      c++;
      p = end;
      while (*p == ' ' || *p == '\t') p++;
      if (*p == ',') {
        p++;
        continue;
      }
      if (*p == '\n' || *p == '\r' || *p == '\0') break;
      rc = pf__error_set(PF_EPARSE, __FILE__, __LINE__,
                         "%s:%zu: unexpected character '%c' after column %zu",
                         path, r + 1, *p, c);
      goto done;
    }
    if (r == 0) c0 = c;
    if (c != c0) {
      rc = pf__error_set(PF_EPARSE, __FILE__, __LINE__,
                         "%s:%zu: %zu entries, but the first row has %zu",
                         path, r + 1, c, c0);
      goto done;
    }
    r++;
  }
  if (r == 0)
    rc = pf__error_set(PF_EPARSE, __FILE__, __LINE__, "'%s' holds no matrix",
                       path);
done:
  free(line);
  fclose(f);
  if (rc < 0) {
    free(v);
    return rc;
  }
  *out = v;
  *rows = r;
  *cols = c0;
  return 0;
}

/* Copy src into dst (cap bytes), truncating; returns dst. */
static char *copy_str(char *dst, size_t cap, const char *src)
{
  size_t l = strlen(src);
  if (l >= cap) l = cap - 1;
  memcpy(dst, src, l);
  dst[l] = '\0';
  return dst;
}

/* Resolve a data file (see the header comment) into found (cap bytes). */
static int resolve_file(const pf_node *cfg, const char *key, const char *rel,
                        int preset, char *found, size_t cap)
{
  enum { PATHLEN = 2048 };
  char dir[PATHLEN], tried[4 * PATHLEN + 32] = "";
  const pf_node *at = pf_node_get(cfg, key);
  int have_dir = config_dir(at ? at : cfg, dir, sizeof dir);
  const char *env = preset ? getenv("PFLOW_DATA_DIR") : NULL;
  const char *fmt[4], *pre[4];
  int nc = 0;
  if (env && *env) fmt[nc] = "%s/%s", pre[nc++] = env;
  if (preset) {
    fmt[nc] = "%sdata/%s", pre[nc++] = "";
    if (have_dir) {
      fmt[nc] = "%s/data/%s", pre[nc++] = dir;
      fmt[nc] = "%s/../data/%s", pre[nc++] = dir;
    }
  } else {
    fmt[nc] = "%s%s", pre[nc++] = "";
    if (have_dir && rel[0] != '/') fmt[nc] = "%s/%s", pre[nc++] = dir;
  }
  for (int i = 0; i < nc; i++) {
    char cand[PATHLEN + 64];
    int len = snprintf(cand, sizeof cand, fmt[i], pre[i], rel);
    if (len > 0 && (size_t)len < sizeof cand && (size_t)len < cap &&
        is_file(cand)) {
      copy_str(found, cap, cand);
      return 0;
    }
    size_t l = strlen(tried);
    if (i) copy_str(tried + l, sizeof tried - l, ", "), l += strlen(tried + l);
    copy_str(tried + l, sizeof tried - l, cand);
  }
  PF_CFG_RAISE(cfg, key, PF_ECONFIG, "data file not found (tried %s)%s", tried,
               preset ? "; run from the repository or set PFLOW_DATA_DIR to "
                        "its data/ directory" : "");
}

static int quad_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  double *A = NULL;
  size_t r = 0, c = 0;
  const char *preset = pf_cfg_str(cfg, "preset");
  int has_A = pf_cfg_has(cfg, "A"), has_file = pf_cfg_has(cfg, "A_file");
  if ((preset != NULL) + has_A + has_file != 1)
    PF_CFG_RAISE(cfg, has_A ? "A" : has_file ? "A_file" : "preset",
                 PF_ECONFIG, "give exactly one of preset, A and A_file");
  const char *key = has_A ? "A" : has_file ? "A_file" : "preset";
  double s2;
  PF_TRY(pf_cfg_real(cfg, "sigma2", &s2));
  if (has_A) {
    PF_TRY(pf_cfg_matrix(cfg, "A", &A, &r, &c));
  } else {
    char path[4300];
    PF_TRY(resolve_file(cfg, key,
                        has_file ? pf_cfg_str(cfg, "A_file")
                                 : "quadratic_simplex_A.csv",
                        !has_file, path, sizeof path));
    rc = read_csv_matrix(path, &A, &r, &c);
    if (rc < 0) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", pf_error_message());
      PF_CFG_RAISE(cfg, key, rc, "%s", msg);
    }
  }
  if (r != c || r < 1) {
    free(A);
    PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                 "A must be a square matrix (D-1 x D-1), found %zu x %zu", r,
                 c);
  }
  for (size_t i = 0; i < r; i++)
    for (size_t j = 0; j < r; j++) {
      double a = A[i * r + j], b = A[j * r + i];
      if (!isfinite(a) || fabs(a - b) > 1e-12 * (fabs(a) + fabs(b))) {
        free(A);
        PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                     "A must be finite and symmetric: entry [%zu][%zu] = %g "
                     "but [%zu][%zu] = %g", i, j, a, j, i, b);
      }
    }
  quad *q = calloc(1, sizeof *q);
  PF_CHECK_GOTO(rc, q, PF_ENOMEM, fail, "allocating quadratic_simplex");
  q->d = r;
  q->A = A;
  A = NULL;
  /* Symmetrize exactly so the gradient is the exact derivative. */
  for (size_t i = 0; i < r; i++)
    for (size_t j = 0; j < i; j++) {
      double m = 0.5 * (q->A[i * r + j] + q->A[j * r + i]);
      q->A[i * r + j] = q->A[j * r + i] = m;
    }
  q->inv_s2 = 1.0 / s2;
  PF_TRY_GOTO(rc, pf_domain_create_str("{name: simplex}", r,
                                       "quadratic_simplex", &q->dom), fail);
  *ctx = q;
  *dim = r;
  return 0;
fail:
  free(A);
  quad_destroy(q);
  return rc;
}

static int quad_logp_grad(void *ctx, size_t n, const double *X, double *logp,
                          double *grad)
{
  const quad *q = ctx;
  const size_t d = q->d;
  const double *A = q->A, w = q->inv_s2;
  /* Rows are independent: the same bits for any thread count. */
#pragma omp parallel for schedule(static) if (n * d * d > 65536)
  for (size_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double qf = 0.0;
    for (size_t k = 0; k < d; k++) {
      const double *Ak = A + k * d;
      double s = 0.0;
      for (size_t j = 0; j < d; j++) s += Ak[j] * x[j];
      qf += x[k] * s;
      if (grad) grad[i * d + k] = -w * s;
    }
    if (logp) logp[i] = -0.5 * w * qf;
  }
  return 0;
}

static const pf_domain *quad_domain(void *ctx)
{
  return ((const quad *)ctx)->dom;
}

static const pf_param quad_params[] = {
    {"preset", PF_P_STRING, NULL, "shi2022",
     "shi2022: A from data/quadratic_simplex_A.csv (D = 20; Shi, Liu & "
     "Mackey 2022)", 0, NULL, NULL},
    {"A", PF_P_MATRIX, NULL, NULL,
     "symmetric (D-1) x (D-1) matrix (instead of preset)", 0, NULL, NULL},
    {"A_file", PF_P_STRING, NULL, NULL,
     "CSV file with A (relative: to the working directory, else to the "
     "config file's directory)", 0, NULL, NULL},
    {"sigma2", PF_P_REAL, "1e-4", "(0,inf)",
     "scale: logp = -theta^T A theta / (2 sigma2)", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_quadratic_simplex = {
    .base = {"quadratic_simplex",
             "exp(-theta^T A theta / (2 sigma2)) on the simplex, reduced "
             "coordinates", quad_params},
    .example = "{name: quadratic_simplex, A: [[2, 0.5], [0.5, 1]], sigma2: 0.5}",
    .create = quad_create,
    .destroy = quad_destroy,
    .logp_grad = quad_logp_grad,
    .domain = quad_domain,
};
