/* `empirical`: a target known by samples rather than a density (the target
 * of flows toward data, samplers/mmd_flow.c).  Exactly one source:
 *   file:      an HDF5 dataset (`dataset`, rows x dim, or the pflow /
 *              ArviZ (chain, draw, dim) layout flattened) or, for a name
 *              ending in .csv, a numeric CSV table (`columns`, default all);
 *   from:      n draws from another target's exact sampler
 *              (`from: {name: gmm, preset: grid9}`), on stream
 *              (seed, PF__EMP_STREAM);
 *   two_moons: n draws of the two interleaved half circles of
 *              sklearn.datasets.make_moons (outer (cos t, sin t), inner
 *              (1 - cos t, 1/2 - sin t), t ~ U[0, pi], moon chosen with
 *              probability 1/2) plus N(0, noise^2 I) noise.  Unlike sklearn,
 *              t is drawn at random (not a grid), so draws are iid.
 *
 * No density: logp_grad returns log p = 0 and score 0 everywhere (the constant
 * density, defined so the generic initialization and runner work; see
 * pf_target_ops.samples).  We chose that over PF_ENOTSUP because every
 * sampler's init evaluates logp_grad once; density users must check
 * pf_target_has_density.
 *
 * `sample` draws FRESH points (for reference sets and init: exact):
 * from the inner target's sampler (from), new two-moons draws
 * (two_moons), or uniformly with replacement from the rows (file: exact iid
 * draws of the empirical measure itself, which then overlap the sample
 * set).  Moments are the inner target's (from), the analytic two-moons
 * ones, or the rows' own (file). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/particles.h"
#include "pflow/registry.h"
#include "pflow/target.h"

/* Stream index of the sample-set draws: ASCII "EMPIRICL". */
#define PF__EMP_STREAM 0x454D504952494C43ULL

typedef enum { SRC_FILE, SRC_FROM, SRC_MOONS } emp_src;

typedef struct emp {
  emp_src src;
  size_t m, d;
  double *X;          /* m x d sample set */
  pf_target *inner;   /* from */
  double noise;       /* two_moons */
  const char *method; /* sample method of the inner target */
} emp;

static void emp_destroy(void *ctx)
{
  emp *e = ctx;
  if (!e) return;
  free(e->X);
  pf_target_destroy(&e->inner);
  free(e);
}

static void moons_draw(double noise, pf_rng *rng, size_t n, double *X)
{
  const double pi = 3.14159265358979323846;
  for (size_t i = 0; i < n; i++) {
    double u = pf_rng_uniform(rng), t = pi * pf_rng_uniform(rng), z[2];
    pf_rng_normal(rng, 2, z);
    double c = cos(t), s = sin(t);
    double *x = X + 2 * i;
    if (u < 0.5) {
      x[0] = c;
      x[1] = s;
    } else {
      x[0] = 1.0 - c;
      x[1] = 0.5 - s;
    }
    x[0] += noise * z[0];
    x[1] += noise * z[1];
  }
}

static int ends_with_csv(const char *p)
{
  size_t n = strlen(p);
  if (n < 4) return 0;
  const char *e = p + n - 4;
  return e[0] == '.' && (e[1] | 32) == 'c' && (e[2] | 32) == 's' &&
         (e[3] | 32) == 'v';
}

static int load_csv(const pf_node *cfg, const char *path, emp *e)
{
  int rc = 0;
  pf_csv *t = NULL;
  size_t *col = NULL;
  PF_TRY(pf_csv_read(path, &t));
  size_t nc = t->cols;
  const pf_node *cn = pf_node_get(cfg, "columns");
  if (cn && pf_node_len(cn) > 0) nc = pf_node_len(cn);
  col = malloc(nc * sizeof(size_t));
  PF_CHECK_GOTO(rc, col, PF_ENOMEM, done, "allocating column indices");
  for (size_t c = 0; c < nc; c++) {
    if (cn && pf_node_len(cn) > 0) {
      const char *name = pf_node_scalar(pf_node_item(cn, c));
      col[c] = pf_csv_column(t, name ? name : "");
      if (col[c] == t->cols) {
        rc = pf__config_raise(cfg, "columns", PF_ECONFIG, __FILE__, __LINE__,
                              "'%s' has no column '%s'", path,
                              name ? name : "");
        goto done;
      }
    } else {
      col[c] = c;
    }
  }
  e->m = t->rows;
  e->d = nc;
  e->X = pf_alloc_doubles(e->m * e->d);
  PF_CHECK_GOTO(rc, e->X, PF_ENOMEM, done, "sample set of %zu x %zu", e->m,
                e->d);
  for (size_t i = 0; i < e->m; i++)
    for (size_t c = 0; c < nc; c++)
      e->X[i * nc + c] = t->data[i * t->cols + col[c]];
done:
  free(col);
  pf_csv_destroy(&t);
  return rc;
}

static int load_file(const pf_node *cfg, emp *e)
{
  char *path = NULL;
  int rc = 0;
  PF_TRY(pf_input_path(cfg, "file", PF_EIO, &path));
  if (ends_with_csv(path)) {
    rc = load_csv(cfg, path, e);
  } else {
    double *X = NULL;
    size_t rows = 0, cols = 0;
    const char *ds = pf_cfg_str(cfg, "dataset");
    rc = pf_h5_read_matrix(path, ds, &X, &rows, &cols);
    if (rc == 0) {
      e->X = pf_alloc_doubles(rows * cols);
      if (e->X) memcpy(e->X, X, rows * cols * sizeof(double));
      else rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__,
                              "sample set of %zu x %zu", rows, cols);
      e->m = rows;
      e->d = cols;
    }
    free(X);
    if (rc < 0 && rc != PF_ENOMEM) {
      char why[1024];
      snprintf(why, sizeof why, "%s", pf_error_message());
      free(path);
      PF_CFG_RAISE(cfg, rc == PF_EIO ? "file" : "dataset", PF_ECONFIG,
                   "cannot read the sample set: %s", why);
    }
  }
  free(path);
  PF_TRY(rc);
  if (e->m == 0 || e->d == 0)
    PF_CFG_RAISE(cfg, "file", PF_ECONFIG, "the sample set is empty");
  for (size_t i = 0; i < e->m * e->d; i++)
    if (!isfinite(e->X[i]))
      PF_CFG_RAISE(cfg, "file", PF_ECONFIG,
                   "the sample set holds a non-finite value (row %zu)",
                   i / e->d);
  return 0;
}

static int emp_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  int has_f = pf_cfg_has(cfg, "file"), has_t = pf_cfg_has(cfg, "from"),
      has_m = pf_node_get(cfg, "two_moons") &&
              !pf_node_is_default(pf_node_get(cfg, "two_moons"));
  /* (validation inserts every section, so a two_moons that only holds
   * defaults was not written by the user) */
  if (has_f + has_t + has_m != 1)
    PF_CFG_RAISE(cfg, has_f + has_t + has_m ? "from" : "name", PF_ECONFIG,
                 "give exactly one source of samples: file, from (a target "
                 "with an exact sampler) or two_moons");
  emp *e = calloc(1, sizeof *e);
  PF_CHECK(e, PF_ENOMEM, "allocating the empirical target");
  long long n, seed;
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "n", &n), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "seed", &seed), fail);
  pf_rng rng;
  pf_rng_stream(&rng, (uint64_t)seed, PF__EMP_STREAM);
  if (has_f) {
    e->src = SRC_FILE;
    PF_TRY_GOTO(rc, load_file(cfg, e), fail);
  } else if (has_t) {
    e->src = SRC_FROM;
    const pf_node *fc = pf_node_get(cfg, "from");
    PF_TRY_GOTO(rc, pf_target_create(fc, &e->inner), fail);
    if (!pf_target_ops_of(e->inner)->sample) {
      rc = pf__config_raise(cfg, "from", PF_ECONFIG, __FILE__, __LINE__,
                            "target '%s' has no exact sampler to draw the "
                            "sample set from",
                            pf_target_ops_of(e->inner)->base.name);
      goto fail;
    }
    if (!pf_domain_is_free(pf_target_domain(e->inner))) {
      rc = pf__config_raise(cfg, "from", PF_ECONFIG, __FILE__, __LINE__,
                            "target '%s' lives on a constrained domain; the "
                            "empirical target is unconstrained",
                            pf_target_ops_of(e->inner)->base.name);
      goto fail;
    }
    e->method = pf_target_sample_method(e->inner);
    e->d = pf_target_dim(e->inner);
    e->m = (size_t)n;
    e->X = pf_alloc_doubles(e->m * e->d);
    PF_CHECK_GOTO(rc, e->X, PF_ENOMEM, fail, "sample set of %zu x %zu", e->m,
                  e->d);
    PF_TRY_GOTO(rc, pf_target_sample(e->inner, &rng, e->m, e->X), fail);
  } else {
    e->src = SRC_MOONS;
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "two_moons.noise", &e->noise), fail);
    e->d = 2;
    e->m = (size_t)n;
    e->X = pf_alloc_doubles(e->m * e->d);
    PF_CHECK_GOTO(rc, e->X, PF_ENOMEM, fail, "sample set of %zu x 2", e->m);
    moons_draw(e->noise, &rng, e->m, e->X);
  }
  *ctx = e;
  *dim = e->d;
  return 0;
fail:
  emp_destroy(e);
  return rc;
}

static int emp_logp_grad(void *ctx, size_t n, const double *X, double *logp,
                         double *grad)
{
  const emp *e = ctx;
  (void)X;
  if (logp) memset(logp, 0, n * sizeof(double));
  if (grad) memset(grad, 0, n * e->d * sizeof(double));
  return 0;
}

static int emp_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  emp *e = ctx;
  switch (e->src) {
  case SRC_FROM:
    return pf_target_sample(e->inner, rng, n, X);
  case SRC_MOONS:
    moons_draw(e->noise, rng, n, X);
    return 0;
  case SRC_FILE:
    for (size_t i = 0; i < n; i++) {
      size_t r = (size_t)(pf_rng_uniform(rng) * (double)e->m);
      if (r >= e->m) r = e->m - 1;
      memcpy(X + i * e->d, e->X + r * e->d, e->d * sizeof(double));
    }
    return 0;
  }
  return 0;
}

static const char *emp_sample_method(void *ctx)
{
  const emp *e = ctx;
  return e->src == SRC_FROM && e->method ? e->method : "exact";
}

/* two_moons: each moon has coordinate variances 1/2 and 1/2 - 4/pi^2 and
 * no correlation (E cos t = E sin t cos t = 0, E sin t = 2/pi); the moon
 * means (0, 2/pi) and (1, 1/2 - 2/pi) add the between-moon part
 * (1/4) (a - b)(a - b)^T; the noise adds noise^2 I. */
static int emp_moments(void *ctx, double *mean, double *cov)
{
  emp *e = ctx;
  const size_t d = e->d;
  if (e->src == SRC_FROM) return pf_target_moments(e->inner, mean, cov);
  if (e->src == SRC_MOONS) {
    const double pi = 3.14159265358979323846, s = 2.0 / pi;
    const double dx = 1.0, dy = 0.5 - 2.0 * s, v2 = e->noise * e->noise;
    if (mean) mean[0] = 0.5, mean[1] = 0.25;
    if (cov) {
      cov[0] = 0.5 + 0.25 * dx * dx + v2;
      cov[1] = cov[2] = 0.25 * dx * dy;
      cov[3] = 0.5 - s * s + 0.25 * dy * dy + v2;
    }
    return 0;
  }
  /* file: the empirical measure's own moments (1/m), summed in row order */
  const size_t m = e->m;
  double *mu = calloc(d, sizeof(double));
  PF_CHECK(mu, PF_ENOMEM, "allocating a mean");
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < d; k++) mu[k] += e->X[i * d + k];
  for (size_t k = 0; k < d; k++) mu[k] /= (double)m;
  if (mean) memcpy(mean, mu, d * sizeof(double));
  if (cov) {
    memset(cov, 0, d * d * sizeof(double));
    for (size_t i = 0; i < m; i++)
      for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++)
          cov[a * d + b] +=
              (e->X[i * d + a] - mu[a]) * (e->X[i * d + b] - mu[b]);
    for (size_t a = 0; a < d * d; a++) cov[a] /= (double)m;
  }
  free(mu);
  return 0;
}

static int emp_samples(void *ctx, const double **X, size_t *m)
{
  const emp *e = ctx;
  *X = e->X;
  *m = e->m;
  return 0;
}

static const pf_param moons_params[] = {
    {"noise", PF_P_REAL, "0.1", "[0,inf)",
     "standard deviation of the Gaussian noise added to each point", 0, NULL,
     NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static const pf_param emp_params[] = {
    {"file", PF_P_STRING, NULL, NULL,
     "sample set file: HDF5 (see dataset) or CSV (name ending in .csv, "
     "header row, see columns)", 0, NULL, NULL},
    {"dataset", PF_P_STRING, "/x", NULL,
     "HDF5 dataset: (rows, dim), or (chain, draw, dim) flattened (e.g. "
     "/posterior/x of a pflow output)", 0, NULL, NULL},
    {"columns", PF_P_STRINGS, "[]", NULL,
     "CSV columns forming the points (default: all, in file order)", 0, NULL,
     NULL},
    {"from", PF_P_PLUGIN, NULL, NULL,
     "a target with an exact sampler to draw the n points from (e.g. {name: "
     "gmm, preset: grid9})", 0, NULL, &pf_targets},
    {"two_moons", PF_P_SECTION, NULL, NULL,
     "draw n points of the two-moons data set (2-D)", 0, moons_params, NULL},
    {"n", PF_P_INT, "10000", "[1,1e9]",
     "points drawn (from, two_moons; a file is read whole)", 0, NULL, NULL},
    {"seed", PF_P_INT, "0", "[0,1e18]",
     "seed of the stream the n points are drawn from (independent of the run "
     "seed, so the sample set is a fixed data set)", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_empirical = {
    .base = {"empirical",
             "a distribution known by samples (file, draws of another "
             "target, two moons); no density (log p = 0, score 0)",
             emp_params},
    .example = "{name: empirical, from: {name: gmm, preset: grid9}, n: 2000}",
    .create = emp_create,
    .destroy = emp_destroy,
    .logp_grad = emp_logp_grad,
    .sample = emp_sample,
    .moments = emp_moments,
    .sample_method = emp_sample_method,
    .samples = emp_samples,
};
