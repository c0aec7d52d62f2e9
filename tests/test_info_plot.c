/* `pflow info` (the stansummary-like summary) and scripts/pflow-plot on
 * real outputs: the quickstart (shortened), a run killed with SIGKILL
 * mid-way (status running, no posterior), one stopped with SIGINT, a run
 * without trajectory, and files that are not pflow outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"

/* Read a whole small file into a static buffer ("" if missing). */
/* `pflow info ARGS > T/NAME.info`; returns the exit status, text in *out. */
static int info(const char *args, const char *name, const char **out)
{
  char path[512];
  const char *T = pf_test_tmpdir();
  int rc = pf_test_sh("%s info %s > %s/%s.info 2> %s/%s.info.err",
                      pf_test_pflow(), args, T, name, T, name);
  snprintf(path, sizeof path, "%s/%s.info", T, name);
  *out = pf_test_slurp(path);
  return rc;
}

/* Every string of the NULL-terminated list occurs in text. */
static const char *missing(const char *text, const char *const *want)
{
  for (; *want; want++)
    if (!strstr(text, *want)) return *want;
  return NULL;
}

/* 1 if path is a non-empty PNG (its 8-byte signature). */
static int is_png(const char *path)
{
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n',
                                       0x1a, '\n'};
  unsigned char b[8];
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t n = fread(b, 1, 8, f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  return n == 8 && memcmp(b, sig, 8) == 0 && size > 1000;
}

#define PLOT "%s scripts/pflow-plot"

/* The quickstart, 600 iterations: 31 snapshots, 16 after warm-up. */
static int quickstart_summary(void)
{
  const char *T = pf_test_tmpdir(), *text;
  int rc = pf_test_sh("%s run configs/quickstart.yaml sampler.n_iter=600 "
                      "sampler.n_particles=400 output.draws=final output.path=%s/iq.h5 "
                      "> /dev/null 2>&1", pf_test_pflow(), T);
  PF_T_ASSERT(rc == 0, "pflow run exited %d", rc);
  char args[600];
  snprintf(args, sizeof args, "%s/iq.h5", T);
  rc = info(args, "iq", &text);
  static const char *const want[] = {
      "status     completed", "iterations 600 of 600", "target     gaussian",
      "sampler    ula: n_particles 400, n_iter 600, step_size 0.02",
      "seed       1", "wall time", "threads",
      "posterior: /posterior/x, 400 draws",
      "chains = particles (400)", "iterations 300..600, 16 snapshots",
      "rule:", "trajectory", "ess_bulk", "ess_tail", "r_hat", "x[0]", "x[1]",
      "diagnostics (last record", "mean_err", "cov_err", "at iteration 600",
      "sample stats:", "lp", "warnings:", NULL};
  const char *m = missing(text, want);
  PF_T_ASSERT(rc == 0 && !m, "exit %d, lacks '%s':\n%s", rc, m ? m : "",
              text);
  /* ESS and R-hat are numbers, not '-': the x[0] row has 8 numeric
   * fields. */
  const char *row = strstr(text, "\nx[0]");
  double v[8];
  PF_T_ASSERT(row && sscanf(row, "\nx[0] %lf %lf %lf %lf %lf %lf %lf %lf",
                            &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                            &v[7]) == 8,
              "x[0] row:\n%s", text);
  /* Target mean 1, sd 1: 400 draws put the mean within 4 sd / 20 = 0.2;
   * quantiles ordered; ESS in (0, chains x draws x log10]; R-hat >= ~1. */
  PF_T_NEAR(v[0], 1.0, 0.25);
  PF_T_ASSERT(v[2] < v[3] && v[3] < v[4] && v[5] > 0 && v[6] > 0 &&
                  v[5] < 400 * 16 * 4 && v[7] > 0.99,
              "x[0] row values: %g %g %g %g %g %g %g %g", v[0], v[1], v[2],
              v[3], v[4], v[5], v[6], v[7]);

  /* The layout listing is still there. */
  snprintf(args, sizeof args, "--layout %s/iq.h5", T);
  rc = info(args, "iq_layout", &text);
  PF_T_ASSERT(rc == 0 && strstr(text, "group trajectory") &&
                  strstr(text, "x_dim_0=2"),
              "--layout: exit %d\n%s", rc, text);

  /* Plots: diagnostics of one and of two files, a scatter with a
   * reference set added to a copy of the file. */
  rc = pf_test_sh("%s run configs/quickstart.yaml sampler.n_iter=600 "
                  "sampler.n_particles=400 sampler.step_size=0.05 "
                  "output.draws=final output.path=%s/iq2.h5 > /dev/null 2>&1", pf_test_pflow(), T);
  PF_T_ASSERT(rc == 0, "second run: exit %d", rc);
  rc = pf_test_sh(PLOT " diag %s/iq.h5 %s/iq2.h5 --metrics cov_err,mean_err "
                  "-o %s/diag.png > %s/diag.out", pf_test_python(), T, T, T,
                  T);
  char png[512];
  snprintf(png, sizeof png, "%s/diag.png", T);
  PF_T_ASSERT(rc == 0 && is_png(png), "pflow-plot diag: exit %d", rc);
  rc = pf_test_sh(
      "cp %s/iq.h5 %s/iqr.h5 && %s -c \"import h5py, numpy as np; "
      "f = h5py.File('%s/iqr.h5', 'a'); "
      "f['reference/x'] = np.random.default_rng(1).normal(size=(300, 2))\"",
      T, T, pf_test_python(), T);
  PF_T_ASSERT(rc == 0, "adding /reference/x");
  rc = pf_test_sh(PLOT " scatter %s/iqr.h5 --dims 1,0 --iters 0,100,last "
                  "-o %s/scatter.png > /dev/null", pf_test_python(), T, T);
  snprintf(png, sizeof png, "%s/scatter.png", T);
  PF_T_ASSERT(rc == 0 && is_png(png), "pflow-plot scatter: exit %d", rc);
  /* Clear errors: a metric that is not there, a coordinate out of range. */
  rc = pf_test_sh(PLOT " diag %s/iq.h5 --metrics energy -o %s/no.png "
                  "2> %s/no.err", pf_test_python(), T, T, T);
  snprintf(png, sizeof png, "%s/no.err", T);
  text = pf_test_slurp(png);
  PF_T_ASSERT(rc == 2 && strstr(text, "no /diagnostics/energy") &&
                  strstr(text, "mean_err"),
              "missing metric: exit %d, %s", rc, text);
  rc = pf_test_sh(PLOT " scatter %s/iq.h5 --dims 0,5 -o %s/no.png "
                  "2> %s/no.err", pf_test_python(), T, T, T);
  text = pf_test_slurp(png);
  PF_T_ASSERT(rc == 2 && strstr(text, "d = 2"), "bad dims: exit %d, %s", rc,
              text);
  return 0;
}

/* A run killed with SIGKILL (status running, no posterior, partial
 * datasets) and one stopped by SIGINT (status interrupted). */
static int interrupted_runs(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow(), *text;
  static const char *const args =
      "sampler.n_particles=1000 sampler.n_iter=100000000 output.draws=final "
      "output.trajectory_every=5 output.flush_every=10 diagnostics.every=5";
  int rc = pf_test_sh(
      "%s run configs/quickstart.yaml %s output.path=%s/ikill.h5 "
      "2>/dev/null & pid=$!; sleep 0.8; kill -9 $pid; wait $pid; exit 0",
      P, args, T);
  PF_T_ASSERT(rc == 0, "kill run");
  rc = pf_test_sh(
      "%s run configs/quickstart.yaml %s output.path=%s/iint.h5 "
      "2>/dev/null & pid=$!; sleep 0.8; kill -INT $pid; wait $pid", P, args,
      T);
  PF_T_ASSERT(rc == 130, "SIGINT run: exit %d", rc);

  char a[600];
  snprintf(a, sizeof a, "%s/ikill.h5", T);
  rc = info(a, "ikill", &text);
  static const char *const want_kill[] = {
      "status     running", "still running, or killed",
      "(last flushed record)", "/posterior/x not written yet",
      "the last trajectory snapshot", "x[0]", "diagnostics (last record",
      "warnings:", "the run is not complete", "were flushed", NULL};
  const char *m = missing(text, want_kill);
  PF_T_ASSERT(rc == 0 && !m, "killed run: exit %d, lacks '%s':\n%s", rc,
              m ? m : "", text);

  snprintf(a, sizeof a, "%s/iint.h5", T);
  rc = info(a, "iint", &text);
  static const char *const want_int[] = {
      "status     interrupted", "interrupted by signal 2",
      "posterior: /posterior/x, 1000 draws", "x[1]", "mean_err",
      "the run was interrupted after", "every flushed iteration", NULL};
  m = missing(text, want_int);
  PF_T_ASSERT(rc == 0 && !m, "interrupted run: exit %d, lacks '%s':\n%s", rc,
              m ? m : "", text);

  /* Plots of the killed run's file (partial datasets, no posterior). */
  char png[512];
  rc = pf_test_sh(PLOT " diag %s/ikill.h5 -o %s/ikill_diag.png > /dev/null",
                  pf_test_python(), T, T);
  snprintf(png, sizeof png, "%s/ikill_diag.png", T);
  PF_T_ASSERT(rc == 0 && is_png(png), "diag of the killed run: exit %d", rc);
  rc = pf_test_sh(PLOT " scatter %s/ikill.h5 --iters 0,last -o "
                  "%s/ikill_scatter.png > /dev/null", pf_test_python(), T, T);
  snprintf(png, sizeof png, "%s/ikill_scatter.png", T);
  PF_T_ASSERT(rc == 0 && is_png(png), "scatter of the killed run: exit %d",
              rc);
  return 0;
}

/* No trajectory: ESS/R-hat '-' with the reason; a 30-dimensional target
 * caps the table at 20 rows unless --all; not-pflow files fail cleanly. */
static int missing_groups_and_caps(void)
{
  const char *T = pf_test_tmpdir(), *text;
  char a[700];
  int rc = pf_test_sh(
      "%s run configs/quickstart.yaml sampler.n_iter=100 "
      "sampler.n_particles=50 output.trajectory_every=0 output.draws=final "
      "output.path=%s/inotraj.h5 > /dev/null 2>&1", pf_test_pflow(), T);
  PF_T_ASSERT(rc == 0, "run without trajectory: exit %d", rc);
  snprintf(a, sizeof a, "%s/inotraj.h5", T);
  rc = info(a, "inotraj", &text);
  PF_T_ASSERT(rc == 0 && strstr(text, "no /trajectory/x") &&
                  strstr(text, "x[1]") && strstr(text, "warnings:\n  none"),
              "no trajectory: exit %d\n%s", rc, text);
  rc = pf_test_sh(PLOT " scatter %s/inotraj.h5 -o %s/no.png 2> %s/nt.err",
                  pf_test_python(), T, T, T);
  snprintf(a, sizeof a, "%s/nt.err", T);
  PF_T_ASSERT(rc == 2 && strstr(pf_test_slurp(a), "no /trajectory/x"),
              "scatter without trajectory: exit %d %s", rc, pf_test_slurp(a));

  /* d = 30: an identity-covariance Gaussian. */
  char mean[200] = "[";
  for (int i = 0; i < 30; i++) strcat(mean, i ? ", 0" : "0");
  strcat(mean, "]");
  rc = pf_test_sh(
      "%s run configs/quickstart.yaml 'target={name: gaussian, mean: %s}' "
      "sampler.n_iter=200 sampler.n_particles=50 output.path=%s/id30.h5 "
      "'diagnostics.metrics=[]' > /dev/null 2>&1", pf_test_pflow(), mean, T);
  PF_T_ASSERT(rc == 0, "d = 30 run: exit %d", rc);
  snprintf(a, sizeof a, "%s/id30.h5", T);
  rc = info(a, "id30", &text);
  /* (x[20] may still be named in a warning; no table row may show it) */
  PF_T_ASSERT(rc == 0 && strstr(text, "\nx[19]") && !strstr(text, "\nx[20]") &&
                  strstr(text, "... (10 more coordinates"),
              "d = 30: exit %d\n%s", rc, text);
  snprintf(a, sizeof a, "--all %s/id30.h5", T);
  rc = info(a, "id30all", &text);
  PF_T_ASSERT(rc == 0 && strstr(text, "x[29]") && !strstr(text, "more coord"),
              "--all: exit %d\n%s", rc, text);

  /* An HDF5 file with none of pflow's groups, a file that is not HDF5, a
   * missing file, a bad option. */
  rc = pf_test_sh("%s -c \"import h5py; h5py.File('%s/empty.h5', 'w')\"",
                  pf_test_python(), T);
  PF_T_ASSERT(rc == 0, "making an empty HDF5 file");
  snprintf(a, sizeof a, "%s/empty.h5", T);
  rc = info(a, "empty", &text);
  PF_T_ASSERT(rc == 0 && strstr(text, "no draws in the file") &&
                  strstr(text, "diagnostics: none"),
              "empty HDF5: exit %d\n%s", rc, text);
  rc = pf_test_sh("echo 'not hdf5' > %s/text.h5", T);
  snprintf(a, sizeof a, "%s/text.h5", T);
  rc = info(a, "text", &text);
  PF_T_ASSERT(rc == 1, "not HDF5: exit %d", rc);
  snprintf(a, sizeof a, "%s/nonexistent.h5", T);
  rc = info(a, "none", &text);
  PF_T_ASSERT(rc == 1, "missing file: exit %d", rc);
  snprintf(a, sizeof a, "--bogus %s/iq.h5", T);
  rc = info(a, "bogus", &text);
  PF_T_ASSERT(rc == 2, "bad option: exit %d", rc);
  return 0;
}

const pf_test_case pf_tests_info_plot[] = {
    {"quickstart_summary", quickstart_summary},
    {"interrupted_runs", interrupted_runs},
    {"missing_groups_and_caps", missing_groups_and_caps},
    {NULL, NULL}};
