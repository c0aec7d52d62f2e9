/* End-to-end tests of the pflow program as a user runs it: the quickstart
 * with overrides, files that h5py and xarray open, config errors with exit
 * code 2 that leave existing output untouched, SIGKILL/SIGINT/SIGTERM, and
 * identical datasets for 1 and 2 threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"

#define CHECK_RUN "%s tests/integration/check_run.py"

/* Read a whole small file into a static buffer ("" if missing). */
static int quickstart_end_to_end(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  int rc = pf_test_sh("%s run configs/quickstart.yaml sampler.step_size=0.05 "
                      "output.path=%s/q.h5 > %s/q.out 2> %s/q.err",
                      P, T, T, T);
  char out[512];
  snprintf(out, sizeof out, "%s/q.err", T);
  PF_T_ASSERT(rc == 0, "pflow run exited %d: %s", rc, pf_test_slurp(out));
  /* Compare the final diagnostics the run printed with the file. */
  snprintf(out, sizeof out, "%s/q.out", T);
  const char *text = pf_test_slurp(out);
  double me, ce;
  const char *a = strstr(text, "mean_err"), *b = strstr(text, "cov_err");
  PF_T_ASSERT(a && b && sscanf(a, "mean_err %lf", &me) == 1 &&
                  sscanf(b, "cov_err %lf", &ce) == 1,
              "run output lacks final diagnostics:\n%s", text);
  /* 1000 chains: mean error ~ sqrt(tr C / n) = 0.055; ULA's O(h) bias on
   * the covariance at h = 0.05 is ~0.1 in Frobenius norm. */
  PF_T_ASSERT(me < 0.25 && ce < 0.6, "mean_err %g cov_err %g", me, ce);
  rc = pf_test_sh(CHECK_RUN " %s/q.h5 --n-iter 2000 --particles 1000 --dim 2 "
                  "--traj-every 20 --diag-every 20 --final mean_err=%.17g "
                  "cov_err=%.17g", pf_test_python(), T, me, ce);
  PF_T_ASSERT(rc == 0, "check_run failed");
  rc = pf_test_sh("%s info %s/q.h5 > %s/info.out", P, T, T);
  PF_T_ASSERT(rc == 0, "pflow info exited %d", rc);
  snprintf(out, sizeof out, "%s/info.out", T);
  text = pf_test_slurp(out);
  PF_T_ASSERT(strstr(text, "mean_err") && strstr(text, "trajectory") &&
                  strstr(text, "completed"),
              "pflow info output:\n%s", text);
  return 0;
}

/* Each broken config exits 2, names file, line and key, and leaves the
 * existing output byte-for-byte as it was. */
static int config_errors_leave_output_untouched(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  static const struct {
    const char *yaml, *expect;
  } cases[] = {
      {"target: {name: gaussian, mean: [0]}\nsampler:\n  name: ula\n"
       "  step_sise: 0.1\n", "bad.yaml:4:"},
      {"target: {name: gaussian, mean: [0]}\nsampler:\n  name: ula\n"
       "  n_iter: many\n", "sampler.n_iter"},
      {"target: {name: gaussian, mean: [0]}\nsampler:\n  name: ula\n"
       "  step_size: [0.1\n", "bad.yaml:"},
      {"target: {name: gausian, mean: [0]}\nsampler: {name: ula}\n",
       "did you mean 'gaussian'"},
      {"target: {name: gaussian, mean: [0]}\nsampler: {name: ula, "
       "step_size: -1}\n", "sampler.step_size"},
      {"target: {name: gaussian, mean: [0]}\nsampler: {name: ula}\n"
       "diagnostics: {metrics: [moment]}\n", "did you mean 'moments'"},
      /* Shape and value errors only the target or domain can see are
       * config errors too, found before the output is touched. */
      {"target: {name: dirichlet, alpha: [1, -2, 3]}\nsampler: {name: ula}\n",
       "target.alpha"},
      {"target: {name: gaussian, mean: [0, 0], cov: [[1, 2], [2, 1]]}\n"
       "sampler: {name: ula}\n", "target.cov"},
      {"target: {name: gaussian, mean: [0, 0, 0], cov: [[1, 0], [0, 1]]}\n"
       "sampler: {name: ula}\n", "target.cov"},
      {"target: {name: uniform, domain: {name: polytope, A: [[1], [-1]], "
       "b: [0, -1]}}\nsampler: {name: ula}\n", "target.domain.b"},
      {"target: {name: uniform, domain: {name: polytope, A: [[1, 0], [0, 1]], "
       "b: [1, 1, 1]}}\nsampler: {name: ula}\n", "target.domain.b"},
      {"target: {name: truncated_gaussian, mean: [0, 0], domain: {name: box, "
       "lower: [0, 0, 0], upper: 1}}\nsampler: {name: ula}\n",
       "target.domain"},
  };
  PF_T_ASSERT(pf_test_sh("echo 'precious bytes' > %s/keep.h5 && "
                         "sha256sum %s/keep.h5 > %s/keep.sum", T, T, T) == 0,
              "setup");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/bad.yaml", T);
    snprintf(err, sizeof err, "%s/bad.err", T);
    FILE *f = fopen(path, "w");
    PF_T_ASSERT(f, "write %s", path);
    fputs(cases[i].yaml, f);
    fclose(f);
    int rc = pf_test_sh("%s run %s output.path=%s/keep.h5 "
                        "output.overwrite=true 2> %s", P, path, T, err);
    const char *msg = pf_test_slurp(err);
    PF_T_ASSERT(rc == 2, "case %zu: exit %d (%s)", i, rc, msg);
    PF_T_ASSERT(strstr(msg, cases[i].expect), "case %zu: '%s' lacks '%s'", i,
                msg, cases[i].expect);
  }
  /* A valid config whose output exists is refused without overwrite. */
  int rc = pf_test_sh("%s run configs/quickstart.yaml output.path=%s/keep.h5 "
                      "2> %s/exists.err", P, T, T);
  PF_T_ASSERT(rc == 1, "existing output: exit %d", rc);
  PF_T_ASSERT(pf_test_sh("sha256sum -c --quiet %s/keep.sum", T) == 0,
              "existing output was modified");
  return 0;
}

/* SIGKILL part-way: the file opens with every flushed iteration.  SIGINT
 * and SIGTERM: exit 130 / 143 and a valid file marked interrupted. */
static int killed_runs_leave_valid_files(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  static const char *const args =
      "sampler.n_particles=20000 sampler.n_iter=100000000 "
      "output.trajectory_every=5 output.flush_every=10 diagnostics.every=5 "
      /* SIGTERM's checkpoint-and-exit-75 path: tests/test_checkpoint.c */
      "output.checkpoint_signals=false";
  for (int k = 0; k < 3; k++) {
    int rc = pf_test_sh(
        "%s run configs/quickstart.yaml %s output.path=%s/kill%d.h5 "
        "2>/dev/null & pid=$!; "
        /* On a loaded machine a fixed delay can end before the output
         * exists: wait for the file (up to 20 s), then kill part-way. */
        "i=0; while [ ! -s %s/kill%d.h5 ] && [ $i -lt 400 ]; do sleep 0.05; "
        "i=$((i+1)); done; sleep 0.%d; kill -9 $pid; wait $pid; exit 0",
        P, args, T, k, T, k, 5 + 3 * k);
    PF_T_ASSERT(rc == 0, "kill run");
    rc = pf_test_sh(CHECK_RUN " %s/kill%d.h5 --n-iter 100000000 --particles "
                    "20000 --dim 2 --traj-every 5 --diag-every 5 --status "
                    "running --partial", pf_test_python(), T, k);
    PF_T_ASSERT(rc == 0, "file of the run killed with SIGKILL (%d)", k);
  }
  static const struct { const char *sig; int code; } sigs[] = {
      {"INT", 130}, {"TERM", 143}};
  for (int k = 0; k < 2; k++) {
    int rc = pf_test_sh(
        "%s run configs/quickstart.yaml %s output.path=%s/sig%d.h5 "
        "2>/dev/null & pid=$!; sleep 0.6; kill -%s $pid; wait $pid",
        P, args, T, k, sigs[k].sig);
    PF_T_ASSERT(rc == sigs[k].code, "SIG%s: exit %d", sigs[k].sig, rc);
    rc = pf_test_sh(CHECK_RUN " %s/sig%d.h5 --n-iter 100000000 --particles "
                    "20000 --dim 2 --traj-every 5 --diag-every 5 --status "
                    "interrupted --partial", pf_test_python(), T, k);
    PF_T_ASSERT(rc == 0, "file of the run stopped with SIG%s", sigs[k].sig);
  }
  return 0;
}

static int same_datasets_for_1_and_2_threads(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  for (int th = 1; th <= 2; th++) {
    int rc = pf_test_sh("OMP_NUM_THREADS=%d %s run configs/quickstart.yaml "
                        "sampler.n_particles=5000 sampler.n_iter=200 "
                        "output.path=%s/th%d.h5 > /dev/null 2>&1", th, P, T, th);
    PF_T_ASSERT(rc == 0, "run with %d threads", th);
  }
  static const char *const sets[] = {"/trajectory/x", "/posterior/x",
                                     "/sample_stats/lp",
                                     "/diagnostics/mean_err",
                                     "/diagnostics/cov_err"};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    int rc = pf_test_sh("h5diff %s/th1.h5 %s/th2.h5 %s %s", T, T, sets[i],
                        sets[i]);
    PF_T_ASSERT(rc == 0, "%s differs between 1 and 2 threads", sets[i]);
  }
  int rc = pf_test_sh("h5dump -a threads %s/th2.h5 | grep -q '(0): 2'", T);
  PF_T_ASSERT(rc == 0, "the file does not record 2 threads");
  return 0;
}

static int check_list_help(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char path[512];
  PF_T_ASSERT(pf_test_sh("%s check configs/quickstart.yaml seed=7 > %s/check.out "
                         "2>/dev/null", P, T) == 0, "pflow check");
  snprintf(path, sizeof path, "%s/check.out", T);
  const char *text = pf_test_slurp(path);
  PF_T_ASSERT(strstr(text, "seed: 7") && strstr(text, "# default") &&
                  strstr(text, "init_scale"),
              "check output:\n%s", text);
  PF_T_ASSERT(pf_test_sh("%s list > %s/list.out", P, T) == 0, "pflow list");
  snprintf(path, sizeof path, "%s/list.out", T);
  text = pf_test_slurp(path);
  PF_T_ASSERT(strstr(text, "gaussian") && strstr(text, "ula") &&
                  strstr(text, "moments"), "list output:\n%s", text);
  PF_T_ASSERT(pf_test_sh("%s help sampler ula > %s/help.out", P, T) == 0,
              "pflow help");
  snprintf(path, sizeof path, "%s/help.out", T);
  text = pf_test_slurp(path);
  PF_T_ASSERT(strstr(text, "step_size") && strstr(text, "n_particles"),
              "help output:\n%s", text);
  int rc = pf_test_sh("%s help sampler ulaa 2> %s/help.err", P, T);
  snprintf(path, sizeof path, "%s/help.err", T);
  PF_T_ASSERT(rc == 2 && strstr(pf_test_slurp(path), "did you mean 'ula'"),
              "help for a misspelled sampler: exit %d, %s", rc, pf_test_slurp(path));
  return 0;
}

const pf_test_case pf_tests_cli[] = {
    {"quickstart_end_to_end", quickstart_end_to_end},
    {"config_errors_leave_output_untouched",
     config_errors_leave_output_untouched},
    {"killed_runs_leave_valid_files", killed_runs_leave_valid_files},
    {"same_datasets_for_1_and_2_threads", same_datasets_for_1_and_2_threads},
    {"check_list_help", check_list_help},
    {NULL, NULL}};
