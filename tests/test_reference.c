/* Reference sets and per-diagnostic settings through the pflow program:
 * /reference/x from the exact sampler (shape, dimension scales,
 * attributes), a reference read from an earlier run's /posterior/x, and the
 * config errors (exit 2 naming the key): wrong dimension, missing file,
 * metric without a reference, settings for an unlisted metric, unknown
 * per-metric keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"

static int write_config(const char *path)
{
  FILE *f = fopen(path, "w");
  if (!f) return 1;
  fputs("seed: 4\n"
        "target: {name: gaussian, mean: [1, -1], cov_diag: [1, 2]}\n"
        "sampler: {name: ula, n_particles: 300, n_iter: 20, "
        "step_size: 0.05}\n"
        "diagnostics:\n"
        "  every: 10\n"
        "  metrics: [moments, kl_knn, renyi_knn, sliced_w2]\n"
        "  kl_knn: {k: 4}\n"
        "  sliced_w2: {n_projections: 20}\n"
        "  reference: {source: exact, n: 400}\n",
        f);
  fclose(f);
  return 0;
}

static int exact_and_file_references(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char cfg[512], err[512];
  snprintf(cfg, sizeof cfg, "%s/ref.yaml", T);
  snprintf(err, sizeof err, "%s/ref.err", T);
  PF_T_ASSERT(write_config(cfg) == 0, "write %s", cfg);
  int rc = pf_test_sh("%s run %s output.path=%s/ref1.h5 output.draws=final "
                      "> /dev/null 2> %s",
                      P, cfg, T, err);
  PF_T_ASSERT(rc == 0, "exact reference run: exit %d: %s", rc, pf_test_slurp(err));
  rc = pf_test_sh(
      "%s -c \"import h5py, numpy as np; f=h5py.File('%s/ref1.h5','r'); "
      "x=f['reference/x']; a=f['reference'].attrs; "
      "assert x.shape==(400,2), x.shape; "
      "assert [d.label or list(d.keys())[0] for d in x.dims]==['reference',"
      "'x_dim_0'], [list(d.keys()) for d in x.dims]; "
      "assert a['source']=='exact' and a['method']=='exact' and a['n']==400 "
      "and a['iid']==1, dict(a); "
      "m=x[...].mean(0); assert abs(m[0]-1)<0.25 and abs(m[1]+1)<0.3, m; "
      "assert f['diagnostics/kl_knn'].shape==(1,3); "
      "assert np.isfinite(f['diagnostics/sliced_w2'][...]).all()\"",
      pf_test_python(), T);
  PF_T_ASSERT(rc == 0, "/reference of the exact run");
  /* The first run's final particles as the reference of a second run
   * ((chain, draw, dim) = (1, 300, 2) flattened to 300 x 2). */
  rc = pf_test_sh("%s run %s output.path=%s/ref2.h5 "
                  "'diagnostics.reference={source: file, file: %s/ref1.h5}' "
                  "> /dev/null 2> %s", P, cfg, T, T, err);
  PF_T_ASSERT(rc == 0, "file reference run: exit %d: %s", rc, pf_test_slurp(err));
  rc = pf_test_sh(
      "%s -c \"import h5py, numpy as np; g=h5py.File('%s/ref2.h5','r'); "
      "f=h5py.File('%s/ref1.h5','r'); x=g['reference/x']; "
      "a=g['reference'].attrs; assert x.shape==(300,2), x.shape; "
      "assert a['source']=='file' and a['dataset']=='/posterior/x', dict(a); "
      "assert np.array_equal(x[...], f['posterior/x'][0])\"",
      pf_test_python(), T, T);
  PF_T_ASSERT(rc == 0, "/reference of the file run");
  return 0;
}

/* Each case: extra arguments, the text the error must contain. */
static int reference_config_errors(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char cfg[512], err[512];
  snprintf(cfg, sizeof cfg, "%s/refe.yaml", T);
  snprintf(err, sizeof err, "%s/refe.err", T);
  PF_T_ASSERT(write_config(cfg) == 0, "write %s", cfg);
  PF_T_ASSERT(pf_test_sh("%s run %s output.path=%s/refe0.h5 > /dev/null "
                         "2>&1", P, cfg, T) == 0, "base run");
  char a[4][512];
  snprintf(a[0], sizeof a[0],
           "'diagnostics.reference={source: file, file: %s/refe0.h5}' "
           "'target.mean=[0, 0, 0]' 'target.cov_diag=[1, 1, 1]'", T);
  snprintf(a[1], sizeof a[1],
           "'diagnostics.reference={source: file, file: %s/missing.h5}'", T);
  snprintf(a[2], sizeof a[2],
           "'diagnostics.reference={source: file, file: %s/refe0.h5, "
           "dataset: /posterior/nothing}'", T);
  snprintf(a[3], sizeof a[3], "diagnostics.reference.source=none");
  const char *expect[4] = {"diagnostics.reference.dataset", "missing.h5",
                           "/posterior/nothing", "diagnostics.reference"};
  for (int i = 0; i < 4; i++) {
    int rc = pf_test_sh("%s run %s output.path=%s/refe_%d.h5 %s > /dev/null "
                        "2> %s", P, cfg, T, i, a[i], err);
    const char *msg = pf_test_slurp(err);
    PF_T_ASSERT(rc == 2, "case %d: exit %d: %s", i, rc, msg);
    PF_T_ASSERT(strstr(msg, expect[i]), "case %d: '%s' lacks '%s'", i, msg,
                expect[i]);
    PF_T_ASSERT(pf_test_sh("test ! -e %s/refe_%d.h5", T, i) == 0,
                "case %d: output created by a config error", i);
  }
  return 0;
}

/* diagnostics.<metric> sections: validated by the metric's own spec. */
static int per_metric_sections(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char cfg[512], err[512], out[512];
  snprintf(cfg, sizeof cfg, "%s/sec.yaml", T);
  snprintf(err, sizeof err, "%s/sec.err", T);
  snprintf(out, sizeof out, "%s/sec.out", T);
  PF_T_ASSERT(write_config(cfg) == 0, "write %s", cfg);
  static const struct { const char *args, *expect; } cases[] = {
      {"diagnostics.kl_knn.kk=3", "did you mean 'k'"},
      {"diagnostics.kl_knnn.k=3", "did you mean 'kl_knn'"},
      {"'diagnostics.metrics=[moments, sliced_w2]'",
       "'diagnostics.metrics' does not list"},
      {"diagnostics.kl_knn.k=0", "diagnostics.kl_knn.k"},
      {"diagnostics.renyi_knn.alpha=1", "kl_knn"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = pf_test_sh("%s run %s output.path=%s/sec_%zu.h5 %s > /dev/null "
                        "2> %s", P, cfg, T, i, cases[i].args, err);
    const char *msg = pf_test_slurp(err);
    PF_T_ASSERT(rc == 2, "case %zu: exit %d: %s", i, rc, msg);
    PF_T_ASSERT(strstr(msg, cases[i].expect), "case %zu: '%s' lacks '%s'",
                i, msg, cases[i].expect);
  }
  /* check fills the listed metrics' defaults; help shows the settings */
  int rc = pf_test_sh("%s check %s > %s 2>/dev/null", P, cfg, out);
  const char *text = pf_test_slurp(out);
  PF_T_ASSERT(rc == 0 && strstr(text, "renyi_knn:  # default") &&
                  strstr(text, "alpha: 0.5  # default") &&
                  strstr(text, "n_projections: 20"),
              "check output:\n%s", text);
  rc = pf_test_sh("%s help diagnostic kl_knn > %s", P, out);
  text = pf_test_slurp(out);
  PF_T_ASSERT(rc == 0 && strstr(text, "neighbour order"), "help:\n%s", text);
  return 0;
}

const pf_test_case pf_tests_reference[] = {
    {"exact_and_file_references", exact_and_file_references},
    {"reference_config_errors", reference_config_errors},
    {"per_metric_sections", per_metric_sections},
    {NULL, NULL}};
