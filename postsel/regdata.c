/* Regression data for post-selection inference: a CSV design and response
 * (read with the numeric CSV reader of io/csv.c), simulated equicorrelated
 * designs, and column standardization. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/postsel.h"
#include "pflow/registry.h"

void pf_regdata_destroy(pf_regdata **pd)
{
  if (!pd || !*pd) return;
  pf_regdata *d = *pd;
  if (d->names)
    for (size_t j = 0; j < d->p; j++) free(d->names[j]);
  free(d->names);
  free(d->X);
  free(d->y);
  free(d);
  *pd = NULL;
}

static int regdata_alloc(size_t n, size_t p, int named, pf_regdata **out)
{
  pf_regdata *d = calloc(1, sizeof *d);
  PF_CHECK(d, PF_ENOMEM, "allocating regression data");
  d->n = n;
  d->p = p;
  d->X = malloc((n * p + 1) * sizeof(double));
  d->y = malloc(n * sizeof(double));
  d->names = named ? calloc(p ? p : 1, sizeof(char *)) : NULL;
  if (!d->X || !d->y || (named && !d->names)) {
    pf_regdata_destroy(&d);
    PF_RAISE(PF_ENOMEM, "allocating a %zu x %zu design", n, p);
  }
  *out = d;
  return 0;
}

/* Centre column j of X (n x p) and scale it as `std` says.  Returns the
 * column's spread before scaling (0 for a constant column, which is left
 * centred and unscaled). */
static double standardize_column(size_t n, size_t p, double *X, size_t j,
                                 pf_standardize std)
{
  double m = 0.0, ss = 0.0;
  for (size_t i = 0; i < n; i++) m += X[i * p + j];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) {
    double r = X[i * p + j] - m;
    X[i * p + j] = r;
    ss += r * r;
  }
  /* Relative test: a column equal to a constant up to rounding of its
   * mean counts as constant. */
  double scale = std == PF_STD_SD ? sqrt(ss / (double)(n - 1)) : sqrt(ss);
  if (!(sqrt(ss / (double)n) > 1e-12 * fmax(fabs(m), 1e-300))) return 0.0;
  for (size_t i = 0; i < n; i++) X[i * p + j] /= scale;
  return scale;
}

static void center(size_t n, double *y)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m += y[i];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) y[i] -= m;
}

int pf_regdata_read_csv(const char *path, const char *response,
                        pf_standardize std, pf_regdata **out)
{
  *out = NULL;
  pf_csv *t = NULL;
  pf_regdata *d = NULL;
  int rc = 0;
  PF_TRY(pf_csv_read(path, &t));
  size_t yc = t->cols - 1;
  if (response) {
    yc = pf_csv_column(t, response);
    if (yc >= t->cols) {
      char valid[2048];
      pf_names_join((const char *const *)t->names, t->cols, valid,
                    sizeof valid);
      size_t s = pf_suggest(response, (const char *const *)t->names, t->cols);
      if (s < t->cols)
        PF_CHECK_GOTO(rc, 0, PF_EINVAL, done,
                      "%s: no response column '%s'; did you mean '%s'? (%s)",
                      path, response, t->names[s], valid);
      PF_CHECK_GOTO(rc, 0, PF_EINVAL, done,
                    "%s: no response column '%s' (%s)", path, response,
                    valid);
    }
  }
  PF_CHECK_GOTO(rc, t->cols >= 2, PF_EINVAL, done,
                "%s: needs a response and at least one predictor column, "
                "found %zu column(s)", path, t->cols);
  PF_CHECK_GOTO(rc, t->rows >= 2, PF_EINVAL, done,
                "%s: needs at least 2 data rows, found %zu", path, t->rows);
  const size_t n = t->rows, p = t->cols - 1;
  PF_TRY_GOTO(rc, regdata_alloc(n, p, 1, &d), done);
  for (size_t j = 0, k = 0; j < t->cols; j++) {
    if (j == yc) continue;
    d->names[k] = strdup(t->names[j]);
    PF_CHECK_GOTO(rc, d->names[k], PF_ENOMEM, done, "copying column names");
    k++;
  }
  for (size_t i = 0; i < n; i++) {
    const double *row = t->data + i * t->cols;
    d->y[i] = row[yc];
    for (size_t j = 0, k = 0; j < t->cols; j++)
      if (j != yc) d->X[i * p + k++] = row[j];
  }
  if (std != PF_STD_NONE) {
    for (size_t j = 0, k = 0; j < t->cols; j++) {
      if (j == yc) continue;
      double first = d->X[k];
      if (standardize_column(n, p, d->X, k, std) == 0.0)
        PF_CHECK_GOTO(rc, 0, PF_EINVAL, done,
                      "%s: predictor column '%s' (column %zu) is constant "
                      "(%g in all %zu rows) and cannot be standardized; "
                      "remove it", path, t->names[j], j + 1, first, n);
      k++;
    }
    center(n, d->y);
  }
  *out = d;
  d = NULL;
done:
  pf_regdata_destroy(&d);
  pf_csv_destroy(&t);
  return rc;
}

int pf_regdata_simulate(size_t n, size_t p, double rho, double sigma,
                        const double *beta, pf_standardize std, pf_rng *rng,
                        pf_regdata **out)
{
  *out = NULL;
  PF_CHECK(n >= 2 && p >= 1, PF_EINVAL,
           "simulated data needs n >= 2 and p >= 1 (n = %zu, p = %zu)", n, p);
  PF_CHECK(rho >= 0.0 && rho < 1.0, PF_EINVAL,
           "equicorrelation rho = %g must be in [0, 1)", rho);
  PF_CHECK(sigma >= 0.0 && isfinite(sigma), PF_EINVAL,
           "noise level sigma = %g must be finite and >= 0", sigma);
  pf_regdata *d;
  PF_TRY(regdata_alloc(n, p, 0, &d));
  /* x = sqrt(rho) z0 + sqrt(1 - rho) z has unit variances and
   * correlations rho: per row z0 first, then the p z's. */
  const double a = sqrt(rho), b = sqrt(1.0 - rho);
  for (size_t i = 0; i < n; i++) {
    double z0;
    pf_rng_normal(rng, 1, &z0);
    double *x = d->X + i * p;
    pf_rng_normal(rng, p, x);
    for (size_t j = 0; j < p; j++) x[j] = a * z0 + b * x[j];
  }
  if (std != PF_STD_NONE)
    for (size_t j = 0; j < p; j++)
      if (standardize_column(n, p, d->X, j, std) == 0.0) {
        pf_regdata_destroy(&d);
        PF_RAISE(PF_EINVAL, "simulated column %zu is constant", j);
      }
  pf_rng_normal(rng, n, d->y);
  for (size_t i = 0; i < n; i++) {
    double mu = 0.0;
    if (beta)
      for (size_t j = 0; j < p; j++) mu += d->X[i * p + j] * beta[j];
    d->y[i] = mu + sigma * d->y[i];
  }
  if (std != PF_STD_NONE) center(n, d->y);
  *out = d;
  return 0;
}
