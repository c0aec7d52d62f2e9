/* Samplers: conformance of every registered sampler (moments on a
 * Gaussian, bitwise identical for 1 and 2 threads) and ULA's own checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/registry.h"

static const char *const conf_target =
    "{name: gaussian, mean: [1.0, -0.5], cov: [[2.0, 0.6], [0.6, 1.0]]}";

/* Each sampler's example runs on N(m, C).  The mean is checked within 5
 * standard errors sqrt(C_kk / n) (particles are treated as independent,
 * which holds for chains and is conservative for interacting particles
 * that are more evenly spread); the covariance within 15% relative
 * Frobenius error, which admits the O(h) bias of unadjusted methods at the
 * examples' step sizes (ULA at h = 0.05 inflates C by ~2.5%) but catches a
 * wrong drift or noise scale. */
static int conformance_all_samplers(void)
{
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target(conf_target, &cfg, &t));
  double m[2], C[2 * 2], em[2], eC[2 * 2];
  PF_T_OK(pf_target_moments(t, m, C));
  for (size_t s = 0; s < pf_samplers.n; s++) {
    const pf_sampler_ops *ops = (const pf_sampler_ops *)pf_samplers.items[s];
    pf_particles *p1, *p2;
    PF_T_ASSERT(ops->example, "sampler %s has no example", ops->base.name);
    PF_T_OK(pf_test_run_sampler(ops->example, t, 5, 1, &p1));
    PF_T_OK(pf_test_run_sampler(ops->example, t, 5, 2, &p2));
    int same = memcmp(p1->x, p2->x, p1->n * p1->d * sizeof(double)) == 0;
    pf_test_moments(p1->n, 2, p1->x, em, eC);
    size_t n = p1->n;
    pf_particles_destroy(&p1);
    pf_particles_destroy(&p2);
    PF_T_ASSERT(same, "sampler %s: 1 and 2 threads differ", ops->base.name);
    double fro = 0, nrm = 0;
    for (int k = 0; k < 2; k++) {
      PF_T_NEAR(em[k], m[k], 5 * sqrt(C[k * 2 + k] / (double)n));
      for (int j = 0; j < 2; j++) {
        fro += (eC[k * 2 + j] - C[k * 2 + j]) * (eC[k * 2 + j] - C[k * 2 + j]);
        nrm += C[k * 2 + j] * C[k * 2 + j];
      }
    }
    PF_T_ASSERT(sqrt(fro / nrm) < 0.15, "sampler %s: covariance off by %.3f",
                ops->base.name, sqrt(fro / nrm));
  }
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* ULA on N(0, s^2): x' = (1 - h/s^2) x + sqrt(2h) z has stationary variance
 * v = s^2 / (1 - h / (2 s^2)) = 1.0526316 for s = 1, h = 0.1.  From an
 * N(0,1) start the variance approaches v geometrically with factor
 * (1 - h)^2 = 0.81 per step, so after 300 steps the gap is ~1e-28.  The
 * sample variance of n = 200000 independent chains has standard error
 * v sqrt(2 / (n - 1)) = 0.00333; we allow 4 standard errors (0.0133), which
 * still tells v from the target's own variance 1 by 15 standard errors. */
static int ula_stationary_variance(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_particles *p;
  PF_T_OK(pf_test_target("{name: gaussian, mean: [0], cov: [[1]]}", &cfg, &t));
  PF_T_OK(pf_test_run_sampler(
      "{name: ula, n_particles: 200000, n_iter: 300, step_size: 0.1}", t, 42,
      0, &p));
  double s = 0, s2 = 0;
  for (size_t i = 0; i < p->n; i++) s += p->x[i];
  double mean = s / (double)p->n;
  for (size_t i = 0; i < p->n; i++) s2 += (p->x[i] - mean) * (p->x[i] - mean);
  double var = s2 / (double)(p->n - 1), v = 1.0 / (1.0 - 0.1 / 2.0);
  double se = v * sqrt(2.0 / (double)(p->n - 1));
  pf_particles_destroy(&p);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  PF_T_NEAR(var, v, 4 * se);
  PF_T_ASSERT(fabs(var - 1.0) > 10 * se, "variance %.5f not told from 1", var);
  return 0;
}

/* h = 3 on N(0, 1) multiplies x by (1 - h) = -2 per step: the chains
 * overflow within ~1100 steps.  abort keeps the last finite state and
 * fails; backoff halves h until |1 - h| < 1 and completes. */
static int ula_nonfinite_policies(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_particles *p = NULL;
  PF_T_OK(pf_test_target("{name: gaussian, mean: [0], cov: [[1]]}", &cfg, &t));
  int rc = pf_test_run_sampler(
      "{name: ula, n_particles: 10, n_iter: 3000, step_size: 3.0}", t, 1, 0, &p);
  PF_T_ASSERT(rc == PF_ENONFINITE && p == NULL, "rc %d", rc);
  PF_T_ASSERT(strstr(pf_error_message(), "non-finite"), "'%s'",
              pf_error_message());
  PF_T_OK(pf_test_run_sampler("{name: ula, n_particles: 10, n_iter: 3000, "
                              "step_size: 3.0, on_nonfinite: backoff}",
                              t, 1, 0, &p));
  for (size_t i = 0; i < p->n; i++)
    PF_T_ASSERT(isfinite(p->x[i]) && fabs(p->x[i]) < 20, "x = %g", p->x[i]);
  pf_particles_destroy(&p);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

const pf_test_case pf_tests_ula[] = {
    {"conformance_all_samplers", conformance_all_samplers},
    {"ula_stationary_variance", ula_stationary_variance},
    {"ula_nonfinite_policies", ula_nonfinite_policies},
    {NULL, NULL}};
