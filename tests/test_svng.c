/* svng and the logistic_regression Fisher / held-out ops: the Fisher equals
 * minus the per-row Hessian of the log-likelihood (central differences of
 * the score), its derivative dF matches central differences of F, the
 * train/test split and held-out metrics, bitwise 1 vs 2 threads, and a
 * short svng run on breast cancer with 20% held out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"

#define LR "{name: logistic_regression, data: data/breast_cancer.csv"

/* Central differences with step h = 1e-4: truncation ~h^2 |f'''| ~ 1e-8
 * relative to the entries (O(1) here, standardized features), rounding
 * ~eps |f| / h ~ 1e-12 N for the score (|score| ~ N); tolerances are set
 * above both with room. */
static int svng_fisher_fd(void)
{
  pf_config *c;
  pf_target *t;
  PF_T_OK(pf_test_target(LR "}", &c, &t));
  const size_t d = pf_target_dim(t), n = 2, dd = d * d;
  double *X = malloc(n * d * sizeof(double)), *F = malloc(n * dd * sizeof(double));
  double *dF = malloc(n * dd * d * sizeof(double));
  double *Fp = malloc(n * dd * sizeof(double)), *Fm = malloc(n * dd * sizeof(double));
  double *gp = malloc(n * d * sizeof(double)), *gm = malloc(n * d * sizeof(double));
  double *Y = malloc(n * d * sizeof(double)), N = 0.0, N2;
  pf_rng r;
  pf_rng_stream(&r, 7, 0);
  pf_rng_normal(&r, n * d, X);
  for (size_t i = 0; i < n * d; i++) X[i] *= 0.3;
  PF_T_OK(pf_target_logp_grad(t, n, X, NULL, gp));
  PF_T_OK(pf_target_fisher(t, n, X, F, dF, &N));
  PF_T_ASSERT(N == 569.0, "n_data %g", N);
  const double h = 1e-4;
  double eF = 0.0, edF = 0.0, mF = 0.0, mdF = 0.0;
  for (size_t c2 = 0; c2 < d; c2++) {
    memcpy(Y, X, n * d * sizeof(double));
    for (size_t j = 0; j < n; j++) Y[j * d + c2] += h;
    PF_T_OK(pf_target_logp_grad(t, n, Y, NULL, gp));
    PF_T_OK(pf_target_fisher(t, n, Y, Fp, NULL, &N2));
    for (size_t j = 0; j < n; j++) Y[j * d + c2] -= 2 * h;
    PF_T_OK(pf_target_logp_grad(t, n, Y, NULL, gm));
    PF_T_OK(pf_target_fisher(t, n, Y, Fm, NULL, &N2));
    for (size_t j = 0; j < n; j++)
      for (size_t a = 0; a < d; a++) {
        /* Hessian of log p = -N F - I (prior_var 1). */
        double hess = (gp[j * d + a] - gm[j * d + a]) / (2 * h);
        double fd = -(hess + (a == c2 ? 1.0 : 0.0)) / N;
        double v = F[j * dd + a * d + c2];
        eF = fmax(eF, fabs(fd - v));
        mF = fmax(mF, fabs(v));
        for (size_t b = 0; b < d; b++) {
          double fd3 = (Fp[j * dd + a * d + b] - Fm[j * dd + a * d + b]) / (2 * h);
          double v3 = dF[j * dd * d + (a * d + b) * d + c2];
          edF = fmax(edF, fabs(fd3 - v3));
          mdF = fmax(mdF, fabs(v3));
        }
      }
  }
  PF_T_ASSERT(mF > 0.01 && mdF > 0.001, "degenerate Fisher %g %g", mF, mdF);
  PF_T_ASSERT(eF < 1e-6 * mF, "Fisher vs FD of the score: %g (max %g)", eF, mF);
  PF_T_ASSERT(edF < 1e-6 * mdF, "dF vs FD of F: %g (max %g)", edF, mdF);
  /* Symmetry of F and of dF in every pair of indices. */
  for (size_t a = 0; a < d; a++)
    for (size_t b = 0; b < d; b++) {
      PF_T_ASSERT(F[a * d + b] == F[b * d + a], "F asym");
      PF_T_ASSERT(fabs(dF[(a * d + b) * d + 0] - dF[(a * d + 0) * d + b]) <=
                      1e-14 * mdF, "dF asym");
    }
  free(X); free(F); free(dF); free(Fp); free(Fm); free(gp); free(gm); free(Y);
  pf_target_destroy(&t);
  pf_config_destroy(&c);
  return 0;
}

/* The split: 114 of 569 rows held out, the likelihood over the other 455
 * (so the score at 0 changes), and the held-out metrics at theta = 0 are
 * log 1/2 and accuracy 0 (p = 1/2 is not > 1/2). */
static int svng_split_heldout(void)
{
  pf_config *c, *c0;
  pf_target *t, *t0;
  PF_T_OK(pf_test_target(LR ", test_fraction: 0.2, split_seed: 3}", &c, &t));
  PF_T_OK(pf_test_target(LR "}", &c0, &t0));
  const size_t d = pf_target_dim(t);
  double *z = calloc(d, sizeof(double)), ll, acc, N;
  double *Fm = malloc(d * d * sizeof(double));
  PF_T_OK(pf_target_fisher(t, 1, z, Fm, NULL, &N));
  PF_T_ASSERT(N == 455.0, "train rows %g", N);
  /* At theta = 0 every sigma = 1/2: F = (1/4) mean z z^T, F_00 = 1/4. */
  PF_T_NEAR(Fm[0], 0.25, 1e-15);
  PF_T_OK(pf_target_heldout(t, 1, z, &ll, &acc));
  PF_T_NEAR(ll, log(0.5), 1e-15);
  PF_T_NEAR(acc, 0.0, 0.0);
  int rc = pf_target_heldout(t0, 1, z, &ll, &acc);
  PF_T_ASSERT(rc == PF_ENOTSUP, "no held-out rows: rc %d", rc);
  pf_error_clear();
  pf_target_destroy(&t0);
  pf_config_destroy(&c0);
  free(z);
  free(Fm);
  pf_target_destroy(&t);
  pf_config_destroy(&c);
  return 0;
}

/* svng on breast cancer, 20% held out, minibatch 64, 20 particles, 100
 * steps at lr 0.5 (about 14 epochs).  The prior predictive scores log 1/2
 * = -0.69 and the initial N(0, I) particles about -0.85; a converged
 * posterior scores about -0.12 (measured: -0.125 at 300 steps).  The bound
 * -0.2 fails for a sampler that does not move toward the posterior.  Also
 * 1 vs 2 threads bitwise. */
static int svng_breast_cancer(void)
{
  pf_config *c;
  pf_target *t1, *t2;
  const char *tf = LR ", test_fraction: 0.2, split_seed: 1, minibatch: 64}";
  const char *sf = "{name: svng, n_particles: 20, n_iter: 100, step_size: 0.5}";
  pf_config *c2;
  PF_T_OK(pf_test_target(tf, &c, &t1));
  PF_T_OK(pf_test_target(tf, &c2, &t2));
  pf_particles *p1, *p2;
  PF_T_OK(pf_test_run_sampler(sf, t1, 11, 1, &p1));
  PF_T_OK(pf_test_run_sampler(sf, t2, 11, 2, &p2));
  const size_t nd = p1->n * p1->d;
  PF_T_ASSERT(memcmp(p1->x, p2->x, nd * sizeof(double)) == 0,
              "1 vs 2 threads differ");
  double ll, acc;
  PF_T_OK(pf_target_heldout(t1, p1->n, p1->x, &ll, &acc));
  PF_T_ASSERT(ll > -0.2, "held-out log-likelihood %g", ll);
  PF_T_ASSERT(acc > 0.93, "held-out accuracy %g", acc);
  pf_particles_destroy(&p1);
  pf_particles_destroy(&p2);
  pf_target_destroy(&t1);
  pf_target_destroy(&t2);
  pf_config_destroy(&c);
  pf_config_destroy(&c2);
  return 0;
}

const pf_test_case pf_tests_svng[] = {
    {"fisher_fd", svng_fisher_fd},
    {"split_heldout", svng_split_heldout},
    {"breast_cancer", svng_breast_cancer},
    {NULL, NULL}};
