/* User target plug-ins (target `plugin`, include/pflow/plugin.h): load the
 * example shared object and evaluate it, validate its options, run `pflow
 * run` on it with ULA, and the load errors (missing file, not a plug-in,
 * ABI mismatch, unset environment variable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/plugin.h"

static const char *example_so(void)
{
  static char path[512];
  snprintf(path, sizeof path, "%s/examples/shifted_gaussian.so",
           pf_test_builddir());
  return path;
}

/* N(shift, 0.25 I) in 3-D through the loader: values, gradient, moments,
 * log_z, sampler kind; then the plug-in's defaults. */
static int plugin_load_evaluate(void)
{
  char flow[1024];
  pf_config *cfg;
  pf_target *t;
  snprintf(flow, sizeof flow,
           "{name: plugin, plugin: %s, options: '{shift: [1, -2, 0.5], "
           "scale: 0.5}'}", example_so());
  PF_T_OK(pf_test_target(flow, &cfg, &t));
  PF_T_ASSERT(pf_target_dim(t) == 3, "dim %zu", pf_target_dim(t));
  /* x - shift = (-1, 2, 0.5): |r|^2 = 5.25, / 0.25 = 21. */
  double x[6] = {0, 0, 1, 1, -2, 0.5}, lp[2], g[6], m[3], C[9], lz;
  PF_T_OK(pf_target_logp_grad(t, 2, x, lp, g));
  double norm = -1.5 * log(2 * M_PI * 0.25);
  PF_T_NEAR(lp[0], norm - 10.5, 1e-12);
  PF_T_NEAR(lp[1], norm, 1e-12);
  PF_T_NEAR(g[0], 4.0, 1e-12);
  PF_T_NEAR(g[1], -8.0, 1e-12);
  PF_T_NEAR(g[2], -2.0, 1e-12);
  PF_T_OK(pf_target_moments(t, m, C));
  PF_T_NEAR(m[2], 0.5, 0);
  PF_T_NEAR(C[4], 0.25, 0);
  PF_T_OK(pf_target_log_z(t, &lz));
  PF_T_NEAR(lz, 0, 0);
  PF_T_ASSERT(pf_target_sample_method(t) &&
                  strcmp(pf_target_sample_method(t), "exact") == 0,
              "sample method");
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);

  snprintf(flow, sizeof flow, "{name: plugin, plugin: %s}", example_so());
  PF_T_OK(pf_test_target(flow, &cfg, &t));
  PF_T_ASSERT(pf_target_dim(t) == 2, "default shift has 2 entries");
  double y[2] = {1, -2};
  PF_T_OK(pf_target_logp_grad(t, 1, y, lp, NULL));
  PF_T_NEAR(lp[0], -log(2 * M_PI), 1e-12);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* Options are checked against the plug-in's own spec. */
static int plugin_options_validated(void)
{
  char flow[1024];
  pf_config *cfg;
  pf_target *t;
  snprintf(flow, sizeof flow, "{name: plugin, plugin: %s, options: "
           "'{scal: 2}'}", example_so());
  int rc = pf_test_target(flow, &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "target.options") &&
                  strstr(pf_error_message(), "did you mean 'scale'"),
              "rc %d '%s'", rc, pf_error_message());
  snprintf(flow, sizeof flow, "{name: plugin, plugin: %s, options: "
           "'{scale: -1}'}", example_so());
  rc = pf_test_target(flow, &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "scale"),
              "rc %d '%s'", rc, pf_error_message());
  snprintf(flow, sizeof flow, "{name: plugin, plugin: %s, options: '[1, 2]'}",
           example_so());
  rc = pf_test_target(flow, &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "mapping"),
              "rc %d '%s'", rc, pf_error_message());
  return 0;
}

/* `pflow run` with ULA on the plug-in, the .so found next to the config
 * (not in the working directory).  1000 chains, h = 0.02, 400 steps:
 * the chains contract by (1 - h / 0.25)^400 ~ 1e-15 from their N(0, 1)
 * start, ULA's stationary law is N(shift, s^2) with s^2 = 0.25 / (1 - h /
 * 0.5) = 0.26 (the mean is exact for a Gaussian), so the posterior mean's
 * error is ~ sqrt(0.26 / 1000) = 0.016 per coordinate; 5 of them = 0.08. */
static int plugin_pflow_run(void)
{
  const char *T = pf_test_tmpdir();
  PF_T_ASSERT(pf_test_sh("cp %s %s/sg.so", example_so(), T) == 0, "cp");
  char path[512], out[512];
  snprintf(path, sizeof path, "%s/plug.yaml", T);
  FILE *f = fopen(path, "w");
  PF_T_ASSERT(f, "open %s", path);
  fprintf(f, "seed: 3\n"
             "target:\n"
             "  name: plugin\n"
             "  plugin: sg.so\n"
             "  options: \"{shift: [1.0, -2.0, 0.5], scale: 0.5}\"\n"
             "sampler: {name: ula, n_particles: 1000, n_iter: 400,\n"
             "          step_size: 0.02, init: normal}\n"
             "output: {path: %s/plug.h5, trajectory_every: 0}\n", T);
  fclose(f);
  snprintf(out, sizeof out, "%s/plug.err", T);
  int rc = pf_test_sh("%s run %s > /dev/null 2> %s", pf_test_pflow(), path, out);
  PF_T_ASSERT(rc == 0, "pflow run exited %d: %s", rc, pf_test_slurp(out));
  rc = pf_test_sh(
      "%s -c \"import h5py, numpy as np, sys\n"
      "x = h5py.File('%s/plug.h5', 'r')['posterior/x'][...]\n"
      "m = x.reshape(-1, x.shape[-1]).mean(axis=0)\n"
      "print('    posterior mean', m, 'from', x.shape)\n"
      "sys.exit(0 if x.shape[-1] == 3 and np.abs(m - [1.0, -2.0, 0.5]).max() "
      "< 0.08 else 1)\"", pf_test_python(), T);
  PF_T_ASSERT(rc == 0, "posterior mean off (see above)");
  return 0;
}

/* A missing plug-in is a config error (exit 2) naming target.plugin. */
static int plugin_bad_path(void)
{
  const char *T = pf_test_tmpdir();
  char out[512];
  snprintf(out, sizeof out, "%s/badpath.err", T);
  int rc = pf_test_sh("%s run configs/quickstart.yaml "
                      "'target={name: plugin, plugin: no/such/plugin.so}' "
                      "output.path=%s/badpath.h5 > /dev/null 2> %s",
                      pf_test_pflow(), T, out);
  const char *err = pf_test_slurp(out);
  PF_T_ASSERT(rc == 2 && strstr(err, "target.plugin") &&
                  strstr(err, "no/such/plugin.so"),
              "exit %d, stderr: %s", rc, err);
  pf_config *cfg;
  pf_target *t;
  rc = pf_test_target("{name: plugin, plugin: '${PF_TEST_UNSET_VAR_X}/a.so'}",
                      &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "PF_TEST_UNSET_VAR_X") &&
                  strstr(pf_error_message(), "target.plugin"),
              "rc %d '%s'", rc, pf_error_message());
  return 0;
}

/* Objects that are not (current) plug-ins: a wrong ABI number, no ABI
 * symbol, and a file that is not a shared object. */
static int plugin_abi_mismatch(void)
{
  const char *T = pf_test_tmpdir();
  char src[512], flow[1024];
  snprintf(src, sizeof src, "%s/abi.c", T);
  FILE *f = fopen(src, "w");
  PF_T_ASSERT(f, "open %s", src);
  fprintf(f, "#include \"pflow/plugin.h\"\n"
             "#ifndef NO_ABI\n"
             "const unsigned pflow_plugin_abi = PF_PLUGIN_ABI + 1;\n"
             "#endif\n"
             "const pf_target_ops *pflow_target_plugin(void) { return 0; }\n");
  fclose(f);
  PF_T_ASSERT(pf_test_sh("cc -std=c11 -fPIC -shared -Iinclude -o %s/abi.so %s && "
                         "cc -std=c11 -fPIC -shared -Iinclude -DNO_ABI -o "
                         "%s/noabi.so %s", T, src, T, src) == 0,
              "compiling the test objects");
  pf_config *cfg;
  pf_target *t;
  snprintf(flow, sizeof flow, "{name: plugin, plugin: %s/abi.so}", T);
  int rc = pf_test_target(flow, &cfg, &t);
  char want[128];
  snprintf(want, sizeof want, "built for plug-in ABI %u but this pflow has ABI %u",
           PF_PLUGIN_ABI + 1, PF_PLUGIN_ABI);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), want) &&
                  strstr(pf_error_message(), "target.plugin"),
              "rc %d '%s'", rc, pf_error_message());
  snprintf(flow, sizeof flow, "{name: plugin, plugin: %s/noabi.so}", T);
  rc = pf_test_target(flow, &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "not a pflow target plug-in"),
              "rc %d '%s'", rc, pf_error_message());
  snprintf(flow, sizeof flow, "{name: plugin, plugin: %s}", src);
  rc = pf_test_target(flow, &cfg, &t);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "cannot load"),
              "rc %d '%s'", rc, pf_error_message());
  /* The same through the program: exit 2 and the message. */
  char out[512];
  snprintf(out, sizeof out, "%s/abi.err", T);
  rc = pf_test_sh("%s run configs/quickstart.yaml "
                  "'target={name: plugin, plugin: %s/abi.so}' "
                  "output.path=%s/abi.h5 > /dev/null 2> %s",
                  pf_test_pflow(), T, T, out);
  PF_T_ASSERT(rc == 2 && strstr(pf_test_slurp(out), want), "exit %d: %s", rc, pf_test_slurp(out));
  return 0;
}

const pf_test_case pf_tests_plugin[] = {
    {"load_evaluate", plugin_load_evaluate},
    {"options_validated", plugin_options_validated},
    {"pflow_run", plugin_pflow_run},
    {"bad_path", plugin_bad_path},
    {"abi_mismatch", plugin_abi_mismatch},
    {NULL, NULL}};
