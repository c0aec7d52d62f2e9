/* Shared helpers of the conformance suites. */
#include "conformance.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/registry.h"

int pf_test_section(const char *kind, const char *flow, pf_config **cfg,
                    const pf_node **sec)
{
  const pf_registry *reg =
      strcmp(kind, "target") == 0 ? &pf_targets : &pf_samplers;
  const pf_param spec[] = {
      {kind, PF_P_PLUGIN, NULL, NULL, "component", PF_PARAM_REQUIRED, NULL,
       reg},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  size_t len = strlen(kind) + strlen(flow) + 4;
  char *text = malloc(len);
  PF_CHECK(text, PF_ENOMEM, "allocating a config text");
  snprintf(text, len, "%s: %s\n", kind, flow);
  int lrc = pf_config_load_string(text, "<example>", cfg);
  free(text);
  PF_TRY(lrc);
  int rc = pf_config_validate(*cfg, spec);
  if (rc < 0) {
    pf_config_destroy(cfg);
    return rc;
  }
  *sec = pf_node_get(pf_config_root(*cfg), kind);
  return 0;
}

int pf_test_target(const char *flow, pf_config **cfg, pf_target **t)
{
  const pf_node *sec;
  PF_TRY(pf_test_section("target", flow, cfg, &sec));
  int rc = pf_target_create(sec, t);
  if (rc < 0) pf_config_destroy(cfg);
  return rc;
}

int pf_test_run_sampler(const char *sampler_flow, pf_target *t,
                        unsigned long long seed, int threads,
                        pf_particles **out)
{
  pf_config *cfg = NULL;
  const pf_node *sec;
  const pf_plugin *pl;
  const pf_sampler_ops *ops = NULL;
  void *state = NULL;
  pf_particles *p = NULL;
  long long n, n_iter;
  int rc, saved_threads = omp_get_max_threads();
  *out = NULL;
  if (threads > 0) omp_set_num_threads(threads);
  PF_TRY_GOTO(rc, pf_test_section("sampler", sampler_flow, &cfg, &sec), done);
  PF_TRY_GOTO(rc, pf_registry_find(&pf_samplers, pf_cfg_str(sec, "name"), &pl), done);
  ops = (const pf_sampler_ops *)pl;
  PF_TRY_GOTO(rc, pf_cfg_int(sec, "n_particles", &n), done);
  PF_TRY_GOTO(rc, pf_cfg_int(sec, "n_iter", &n_iter), done);
  size_t d = pf_target_dim(t);
  PF_TRY_GOTO(rc, pf_particles_create((size_t)n, d, seed, 0, &p), done);
  PF_TRY_GOTO(rc, pf_sampler_init_particles(sec, t, p), done);
  PF_TRY_GOTO(rc, ops->create(sec, t, (size_t)n, d, &state), done);
  PF_TRY_GOTO(rc, ops->init(state, p), done);
  double info[64];
  for (long it = 1; it <= (long)n_iter; it++)
    PF_TRY_GOTO(rc, ops->step(state, it, p, info), done);
  *out = p;
  p = NULL;
done:
  if (state) ops->destroy(state);
  pf_particles_destroy(&p);
  pf_config_destroy(&cfg);
  omp_set_num_threads(saved_threads);
  return rc;
}

void pf_test_moments(size_t n, size_t d, const double *X, double *mean,
                     double *cov)
{
  for (size_t k = 0; k < d; k++) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += X[i * d + k];
    mean[k] = s / (double)n;
  }
  for (size_t k = 0; k < d; k++)
    for (size_t j = 0; j < d; j++) {
      double s = 0.0;
      for (size_t i = 0; i < n; i++)
        s += (X[i * d + k] - mean[k]) * (X[i * d + j] - mean[j]);
      cov[k * d + j] = s / (double)(n - 1);
    }
}
