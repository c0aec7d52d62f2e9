/* Sweeps: the --sweep grammar (lists, brackets and quotes, range, linspace,
 * logspace), the job order and count, per-job overrides and their
 * validation errors, index parsing, output names, the manifest, the rank
 * sharing hook; and end to end through the pflow program: 3 step sizes x 5
 * seeds of mirrored SVGD on the sparse Dirichlet give 15 files with their
 * swept values, one manifest and one convergence plot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/run.h"
#include "pflow/sweep.h"

/* The values of a one-axis sweep joined with '|', or the error message. */
static const char *expand(const char *spec)
{
  static char out[2048];
  pf_sweep *s = NULL;
  out[0] = '\0';
  if (pf_sweep_create(&s) < 0) return "create failed";
  if (pf_sweep_add(s, spec, 4) < 0) {
    snprintf(out, sizeof out, "ERROR %s", pf_error_message());
  } else {
    size_t used = 0;
    for (size_t v = 0; v < pf_sweep_axis_len(s, 0) && used < sizeof out; v++)
      used += (size_t)snprintf(out + used, sizeof out - used, "%s%s",
                               v ? "|" : "", pf_sweep_axis_value(s, 0, v));
  }
  pf_sweep_destroy(&s);
  return out;
}

#define EXPECT(spec, want)                                                 \
  do {                                                                     \
    const char *got_ = expand(spec);                                       \
    PF_T_ASSERT(strcmp(got_, (want)) == 0, "%s -> '%s', expected '%s'",    \
                (spec), got_, (want));                                     \
  } while (0)

#define EXPECT_ERR(spec, part)                                             \
  do {                                                                     \
    const char *got_ = expand(spec);                                       \
    PF_T_ASSERT(!strncmp(got_, "ERROR ", 6) && strstr(got_, (part)) &&     \
                    strstr(got_, "(argument 4)"),                          \
                "%s -> '%s', expected an error with '%s'", (spec), got_,   \
                (part));                                                   \
  } while (0)

static int lists_and_quoting(void)
{
  EXPECT("sampler.step_size=0.1,0.01,0.001", "0.1|0.01|0.001");
  EXPECT(" sampler.step_size = 0.1 , 0.01 ", "0.1|0.01");
  EXPECT("seed=7", "7");
  /* Commas inside brackets, braces or quotes do not split. */
  EXPECT("target.mean=[0,0],[1, 1]", "[0,0]|[1, 1]");
  EXPECT("sampler.kernel={name: imq, bandwidth: 1},{name: rbf}",
         "{name: imq, bandwidth: 1}|{name: rbf}");
  EXPECT("x='a,b',\"c,d\",e", "'a,b'|\"c,d\"|e");
  EXPECT("x=[[1,2],[3,4]],[[5]]", "[[1,2],[3,4]]|[[5]]");
  EXPECT_ERR("x=1,,2", "needs brackets or quotes");
  EXPECT_ERR("x=1,2,", "empty value");
  EXPECT_ERR("x=[1,2", "unbalanced");
  EXPECT_ERR("x='a,b", "unterminated");
  EXPECT_ERR("no_equals", "expected KEY=V1,V2");
  EXPECT_ERR("=1,2", "expected KEY=V1,V2");
  EXPECT_ERR("x=", "no values");
  EXPECT_ERR("x=choice(1,2)", "unknown function 'choice'");
  EXPECT_ERR("output.path=a.h5,b.h5", "output.path cannot be swept");
  /* One key, two flags. */
  pf_sweep *s = NULL;
  PF_T_OK(pf_sweep_create(&s));
  PF_T_OK(pf_sweep_add(s, "seed=1,2", 3));
  int rc = pf_sweep_add(s, "seed=range(5)", 5);
  PF_T_ASSERT(rc == PF_EUSAGE && strstr(pf_error_message(), "already swept") &&
                  strstr(pf_error_message(), "argument 3"),
              "duplicate key: %d %s", rc, pf_error_message());
  PF_T_ASSERT(pf_sweep_count(s) == 2, "a rejected flag changed the sweep");
  pf_sweep_destroy(&s);
  pf_sweep_destroy(&s); /* NULL-safe */
  return 0;
}

static int ranges_and_spaces(void)
{
  EXPECT("seed=range(0,5)", "0|1|2|3|4");
  EXPECT("seed=range(3)", "0|1|2");
  EXPECT("seed=range( 0 , 10 , 4 )", "0|4|8");
  EXPECT("seed=range(10,0,-3)", "10|7|4|1");
  EXPECT("seed=range(-2,1)", "-2|-1|0");
  EXPECT_ERR("seed=range(5,5)", "is empty");
  EXPECT_ERR("seed=range(0,5,0)", "step is 0");
  EXPECT_ERR("seed=range(0,1.5)", "not an integer");
  EXPECT_ERR("seed=range(1,2,3,4)", "1 to 3 integers");
  EXPECT_ERR("seed=range()", "1 to 3 integers");
  EXPECT("h=linspace(0,1,5)", "0|0.25|0.5|0.75|1");
  EXPECT("h=linspace(1,2,1)", "1");
  EXPECT("h=logspace(-3,-1,3)", "0.001|0.01|0.1");
  EXPECT("h=logspace(0,2,5)", "1|3.1622776601683795|10|31.622776601683793|100");
  EXPECT_ERR("h=linspace(0,1,0)", "count '0'");
  EXPECT_ERR("h=logspace(0,1)", "3 arguments");
  EXPECT_ERR("h=linspace(a,1,3)", "finite reals");
  /* A value that only looks like a call, quoted, is an ordinary value. */
  EXPECT("sampler.name='range(3)'", "'range(3)'");
  return 0;
}

/* Row-major order: the first flag varies slowest, like nested loops. */
static int product_order_and_count(void)
{
  pf_sweep *s = NULL;
  PF_T_OK(pf_sweep_create(&s));
  PF_T_ASSERT(pf_sweep_count(s) == 1 && pf_sweep_axes(s) == 0, "empty");
  PF_T_OK(pf_sweep_add(s, "a=x,y", 3));
  PF_T_OK(pf_sweep_add(s, "b=range(3)", 5));
  PF_T_OK(pf_sweep_add(s, "c=p,q", 7));
  PF_T_ASSERT(pf_sweep_count(s) == 12 && pf_sweep_axes(s) == 3, "count %zu",
              pf_sweep_count(s));
  size_t j = 0;
  for (size_t a = 0; a < 2; a++)
    for (size_t b = 0; b < 3; b++)
      for (size_t c = 0; c < 2; c++, j++)
        PF_T_ASSERT(pf_sweep_value_index(s, j, 0) == a &&
                        pf_sweep_value_index(s, j, 1) == b &&
                        pf_sweep_value_index(s, j, 2) == c,
                    "job %zu", j);
  char label[256];
  pf_sweep_job_label(s, 7, label, sizeof label);
  PF_T_ASSERT(!strcmp(label, "a=y b=0 c=q"), "label of job 7: %s", label);
  PF_T_ASSERT(!strcmp(pf_sweep_axis_key(s, 1), "b") &&
                  !strcmp(pf_sweep_axis_spec(s, 1), "b=range(3)") &&
                  pf_sweep_axis_argi(s, 1) == 5,
              "axis accessors");
  /* The product cap. */
  int rc = pf_sweep_add(s, "d=range(0,10000000)", 9);
  PF_T_ASSERT(rc == PF_EUSAGE && strstr(pf_error_message(), "more than"),
              "a sweep above the cap: %d", rc);
  pf_sweep_destroy(&s);
  return 0;
}

static const char base_yaml[] =
    "target: {name: gaussian, mean: [0, 0]}\n"
    "sampler:\n  name: ula\n  step_size: 0.1\n";

/* Applying a job's values, and errors that name the flag and key. */
static int apply_and_validate(void)
{
  pf_sweep *s = NULL;
  pf_config *c = NULL;
  PF_T_OK(pf_sweep_create(&s));
  PF_T_OK(pf_sweep_add(s, "sampler.step_size=0.5,0.25", 6));
  PF_T_OK(pf_sweep_add(s, "target.mean=[1, 2],[3, 4]", 8));
  PF_T_OK(pf_config_load_string(base_yaml, "base.yaml", &c));
  PF_T_OK(pf_sweep_apply(s, 2, c)); /* step 0.25, mean [1, 2] */
  PF_T_OK(pf_config_validate(c, pf_root_params));
  double h;
  const pf_node *root = pf_config_root(c);
  PF_T_OK(pf_cfg_real(root, "sampler.step_size", &h));
  PF_T_ASSERT(h == 0.25, "step_size %g", h);
  const pf_node *m = pf_node_get(root, "target.mean");
  PF_T_ASSERT(pf_node_len(m) == 2 &&
                  !strcmp(pf_node_scalar(pf_node_item(m, 1)), "2"),
              "target.mean not applied");
  PF_T_ASSERT(pf_sweep_apply(s, 4, c) == PF_EINVAL, "job 4 of 4 accepted");
  pf_config_destroy(&c);
  pf_sweep_destroy(&s);

  /* A bad value and a misspelled key, validated the way the CLI does. */
  static const struct { const char *flag, *want1, *want2; } bad[] = {
      {"sampler.step_size=0.1,abc", "value 'abc' of key 'sampler.step_size'",
       "sampler.step_size"},
      {"sampler.step_sise=0.1,0.2", "--sweep 'sampler.step_sise=0.1,0.2' "
       "(argument 5)", "did you mean 'step_size'"},
      {"target.mean=[0, 0],[0, 0", "--sweep 'target.mean=[0, 0],[0, 0'",
       "unbalanced"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = 0;
    PF_T_OK(pf_sweep_create(&s));
    rc = pf_sweep_add(s, bad[i].flag, 5);
    for (size_t v = 0; rc == 0 && v < pf_sweep_axis_len(s, 0); v++) {
      PF_T_OK(pf_config_load_string(base_yaml, "base.yaml", &c));
      rc = pf_sweep_apply_value(s, 0, v, c);
      if (rc == 0 && (rc = pf_config_validate(c, pf_root_params)) < 0)
        rc = pf_sweep_blame(s, 0, v, rc);
      pf_config_destroy(&c);
    }
    const char *msg = pf_error_message();
    PF_T_ASSERT(rc < 0 && strstr(msg, bad[i].want1) &&
                    strstr(msg, bad[i].want2),
                "%s: rc %d, message '%s'", bad[i].flag, rc, msg);
    pf_sweep_destroy(&s);
  }
  return 0;
}

static int index_names_and_shares(void)
{
  size_t i = 99;
  PF_T_OK(pf_sweep_parse_index("3", "--sweep-index", 15, &i));
  PF_T_ASSERT(i == 3, "index %zu", i);
  PF_T_OK(pf_sweep_parse_index(" 14 ", "--sweep-index", 15, &i));
  PF_T_ASSERT(i == 14, "index %zu", i);
  static const char *const bad[] = {"15", "-1", "abc", "", "3x", "1e3"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    int rc = pf_sweep_parse_index(bad[k], "SLURM_ARRAY_TASK_ID", 15, &i);
    PF_T_ASSERT(rc == PF_EUSAGE &&
                    strstr(pf_error_message(), "SLURM_ARRAY_TASK_ID"),
                "index '%s': %d", bad[k], rc);
  }
  PF_T_ASSERT(pf_sweep_parse_index("15", "--sweep-index", 15, &i) < 0 &&
                  strstr(pf_error_message(), "out of range") &&
                  strstr(pf_error_message(), "15 jobs (0..14)"),
              "%s", pf_error_message());

  char buf[256];
  static const struct { const char *in, *out; } dirs[] = {
      {"runs/x.h5", "runs/x"}, {"x.h5", "x"}, {"out", "out.sweep"},
      {"a.b/c", "a.b/c.sweep"}, {"a/.hidden", "a/.hidden.sweep"}};
  for (size_t k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
    PF_T_OK(pf_sweep_dir(dirs[k].in, buf, sizeof buf));
    PF_T_ASSERT(!strcmp(buf, dirs[k].out), "%s -> %s", dirs[k].in, buf);
  }
  PF_T_OK(pf_sweep_job_file(3, 15, buf, sizeof buf));
  PF_T_ASSERT(!strcmp(buf, "job-0003.h5"), "%s", buf);
  PF_T_OK(pf_sweep_job_file(9999, 10000, buf, sizeof buf));
  PF_T_ASSERT(!strcmp(buf, "job-9999.h5"), "%s", buf);
  PF_T_OK(pf_sweep_job_file(3, 10001, buf, sizeof buf));
  PF_T_ASSERT(!strcmp(buf, "job-00003.h5"), "%s", buf);

  /* Every job is run by exactly one group; groups are contiguous rank
   * blocks whose sizes differ by at most one. */
  static const int cfg[][3] = {{15, 1, 1}, {15, 4, 1}, {15, 4, 2},
                               {15, 5, 2}, {1, 4, 1}, {3, 8, 1},
                               {7, 6, 4}};
  for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
    const size_t n = (size_t)cfg[k][0];
    const int size = cfg[k][1], per = cfg[k][2];
    int runs[16] = {0}, prev = -1, members = 0;
    for (int r = 0; r < size; r++) {
      pf_sweep_share sh;
      PF_T_OK(pf_sweep_share_for(n, r, size, per, &sh));
      PF_T_ASSERT(sh.group >= prev && sh.group < sh.n_groups &&
                      sh.group_rank >= 0 && sh.group_rank < sh.group_size,
                  "case %zu rank %d", k, r);
      if (sh.group != prev) {
        PF_T_ASSERT(sh.group_rank == 0, "case %zu: group %d starts at "
                    "group rank %d", k, sh.group, sh.group_rank);
        prev = sh.group;
        members += sh.group_size;
        PF_T_ASSERT(sh.group_size >= size / sh.n_groups &&
                        sh.group_size <= size / sh.n_groups + 1,
                    "case %zu: group size %d", k, sh.group_size);
        for (size_t j = sh.first; j < n; j += sh.stride) runs[j]++;
      }
    }
    PF_T_ASSERT(members == size, "case %zu: %d ranks in groups", k, members);
    for (size_t j = 0; j < n; j++)
      PF_T_ASSERT(runs[j] == 1, "case %zu: job %zu run %d times", k, j,
                  runs[j]);
  }
  pf_sweep_share one;
  PF_T_OK(pf_sweep_share_for(15, 0, 1, 0, &one));
  PF_T_ASSERT(one.first == 0 && one.stride == 1 && one.n_groups == 1,
              "serial share");
  return 0;
}

/* Written once: identical text is left alone, a different sweep refused
 * unless overwrite; valid JSON (checked by Python). */
static int manifest_once(void)
{
  const char *T = pf_test_tmpdir();
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/man/nested", T);
  snprintf(path, sizeof path, "%s/sweep.json", dir);
  pf_sweep *s = NULL;
  char *fixed[] = {"sampler.n_iter=10", "output.path=\"q\\\"x\""};
  PF_T_OK(pf_sweep_create(&s));
  PF_T_OK(pf_sweep_add(s, "seed=range(2)", 3));
  PF_T_OK(pf_sweep_add(s, "x='a,b',[1,2]", 5));
  PF_T_OK(pf_sweep_write_manifest(s, "c.yaml", 2, fixed, dir, 0));
  PF_T_ASSERT(pf_test_sh("touch -d @946684800 %s", path) == 0, "touch");
  PF_T_OK(pf_sweep_write_manifest(s, "c.yaml", 2, fixed, dir, 0));
  PF_T_ASSERT(pf_test_sh("test $(stat -c %%Y %s) = 946684800", path) == 0,
              "an identical manifest was rewritten");
  int rc = pf_sweep_write_manifest(s, "other.yaml", 2, fixed, dir, 0);
  PF_T_ASSERT(rc == PF_EEXIST && strstr(pf_error_message(), "different sweep"),
              "a different sweep: %d", rc);
  PF_T_OK(pf_sweep_write_manifest(s, "c.yaml", 2, fixed, dir, 1));
  rc = pf_test_sh(
      "%s -c \"import json; m = json.load(open('%s')); "
      "q = chr(34); "
      "assert m['overrides'] == ['sampler.n_iter=10', 'output.path=' + q + "
      "'q' + chr(92) + q + 'x' + q], m['overrides']; "
      "assert m['n_jobs'] == 4 and m['jobs'][3]['file'] == 'job-0003.h5'; "
      "assert m['jobs'][1]['overrides'] == {'seed': '0', 'x': '[1,2]'}; "
      "assert m['axes'][1]['values'] == [chr(39) + 'a,b' + chr(39), '[1,2]']"
      "\"",
      pf_test_python(), path);
  PF_T_ASSERT(rc == 0, "manifest content (python check)");
  PF_T_ASSERT(pf_test_sh("ls %s | grep -q tmp", dir) != 0,
              "temporary file left behind");
  pf_sweep_destroy(&s);
  return 0;
}

/* ---- through the pflow program ------------------------------------------ */

#define CFG "configs/sweep_dirichlet_msvgd.yaml"
/* Short runs: 40 iterations, energy every 10 against 300 exact draws. */
#define FAST "sampler.n_iter=40 diagnostics.every=10 " \
             "diagnostics.reference.n=300"
#define AXES "--sweep sampler.step_size=0.1,0.03,0.01 --sweep 'seed=range(0,5)'"
#define CHECK_AXES "--axis sampler.step_size=0.1,0.03,0.01 " \
                   "--axis seed=0,1,2,3,4"

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

/* The acceptance check of issue 10: 3 step sizes x 5 seeds on the sparse
 * Dirichlet, 15 files and one convergence plot. */
static int dirichlet_3x5_sweep_and_plot(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char path[600];
  int rc = pf_test_sh("env -u SLURM_ARRAY_TASK_ID %s run " CFG " " FAST
                      " output.path=%s/sw.h5 " AXES " --sweep-count "
                      "> %s/sw.count", P, T, T);
  snprintf(path, sizeof path, "%s/sw.count", T);
  PF_T_ASSERT(rc == 0 && !strcmp(pf_test_slurp(path), "15\n"),
              "--sweep-count: exit %d, '%s'", rc, pf_test_slurp(path));
  PF_T_ASSERT(pf_test_sh("test ! -e %s/sw", T) == 0,
              "--sweep-count created the sweep directory");
  rc = pf_test_sh("env -u SLURM_ARRAY_TASK_ID OMP_NUM_THREADS=1 %s run " CFG
                  " " FAST " output.path=%s/sw.h5 " AXES " > %s/sw.out "
                  "2> %s/sw.err", P, T, T, T);
  snprintf(path, sizeof path, "%s/sw.err", T);
  PF_T_ASSERT(rc == 0, "sweep run: exit %d\n%s", rc, pf_test_slurp(path));
  PF_T_ASSERT(strstr(pf_test_slurp(path), "15 jobs completed"),
              "stderr:\n%s", pf_test_slurp(path));
  rc = pf_test_sh("%s tests/integration/check_sweep.py %s/sw " CHECK_AXES
                  " --fixed sampler.n_iter=40 --fixed sampler.name=msvgd",
                  pf_test_python(), T);
  PF_T_ASSERT(rc == 0, "check_sweep on the 15 jobs");
  /* One convergence plot over the sweep: energy per step size, mean and
   * spread over the 5 seeds. */
  rc = pf_test_sh("%s scripts/pflow-plot sweep %s/sw --metric energy --logx "
                  "-o %s/conv.png > %s/plot.out 2>&1", pf_test_python(), T, T,
                  T);
  snprintf(path, sizeof path, "%s/plot.out", T);
  const char *out = pf_test_slurp(path);
  PF_T_ASSERT(rc == 0 && strstr(out, "3 settings"), "pflow-plot sweep: exit "
              "%d\n%s", rc, out);
  snprintf(path, sizeof path, "%s/conv.png", T);
  PF_T_ASSERT(is_png(path), "no PNG at %s", path);
  rc = pf_test_sh("%s scripts/pflow-plot sweep %s/sw/sweep.json --over "
                  "seed,sampler.step_size --band sd --metric energy,mean_err "
                  "-o %s/conv2.png > /dev/null", pf_test_python(), T, T);
  snprintf(path, sizeof path, "%s/conv2.png", T);
  PF_T_ASSERT(rc == 0 && is_png(path), "pflow-plot sweep --over/--band sd");
  rc = pf_test_sh("%s scripts/pflow-plot sweep %s/sw --metric nope -o "
                  "%s/no.png 2> %s/no.err", pf_test_python(), T, T, T);
  snprintf(path, sizeof path, "%s/no.err", T);
  PF_T_ASSERT(rc == 2 && strstr(pf_test_slurp(path), "no /diagnostics/nope"),
              "a missing metric: exit %d, %s", rc, pf_test_slurp(path));

  /* Running the same sweep again touches nothing (exit 1, no overwrite). */
  PF_T_ASSERT(pf_test_sh("cd %s/sw && sha256sum *.h5 sweep.json > ../sw.sum",
                         T) == 0, "checksums");
  rc = pf_test_sh("env -u SLURM_ARRAY_TASK_ID %s run " CFG " " FAST
                  " output.path=%s/sw.h5 " AXES " 2> %s/again.err", P, T, T);
  snprintf(path, sizeof path, "%s/again.err", T);
  PF_T_ASSERT(rc == 1 && strstr(pf_test_slurp(path), "15 of the 15 job "
                                "outputs already exist"),
              "rerun: exit %d, %s", rc, pf_test_slurp(path));
  PF_T_ASSERT(pf_test_sh("cd %s/sw && sha256sum -c --quiet ../sw.sum", T) == 0,
              "a rerun modified the outputs");
  /* A different sweep into the same directory is refused too. */
  rc = pf_test_sh("env -u SLURM_ARRAY_TASK_ID %s run " CFG " " FAST
                  " output.path=%s/sw.h5 --sweep seed=9 --sweep-index 0 "
                  "2> %s/diff.err", P, T, T);
  snprintf(path, sizeof path, "%s/diff.err", T);
  PF_T_ASSERT(rc == 1 && strstr(pf_test_slurp(path), "different sweep"),
              "another sweep in the same directory: exit %d, %s", rc,
              pf_test_slurp(path));
  return 0;
}

/* Array-task mode: --sweep-index and $SLURM_ARRAY_TASK_ID run one job;
 * out of range is a usage error; bad values fail before anything runs. */
static int index_slurm_and_errors(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char path[600];
  int rc = pf_test_sh("SLURM_ARRAY_TASK_ID=7 %s run " CFG " " FAST
                      " output.path=%s/arr.h5 " AXES " > /dev/null "
                      "2> %s/arr.err", P, T, T);
  snprintf(path, sizeof path, "%s/arr.err", T);
  PF_T_ASSERT(rc == 0, "array task 7: exit %d\n%s", rc, pf_test_slurp(path));
  PF_T_ASSERT(strstr(pf_test_slurp(path), "from SLURM_ARRAY_TASK_ID"),
              "%s", pf_test_slurp(path));
  /* Job 7 = step size 0.03 (7 / 5 = 1), seed 2 (7 % 5). */
  rc = pf_test_sh("%s tests/integration/check_sweep.py %s/arr " CHECK_AXES
                  " --only 7", pf_test_python(), T);
  PF_T_ASSERT(rc == 0, "check_sweep on array task 7");
  /* --sweep-index wins over the environment. */
  rc = pf_test_sh("SLURM_ARRAY_TASK_ID=99 %s run " CFG " " FAST
                  " output.path=%s/arr2.h5 " AXES " --sweep-index=14 "
                  "> /dev/null 2>&1", P, T);
  PF_T_ASSERT(rc == 0 && pf_test_sh("test -e %s/arr2/job-0014.h5", T) == 0,
              "--sweep-index 14: exit %d", rc);

  static const struct {
    const char *env, *args, *want1, *want2;
  } bad[] = {
      {"", "--sweep-index 15", "--sweep-index 15 is out of range",
       "15 jobs (0..14)"},
      {"SLURM_ARRAY_TASK_ID=15", "", "SLURM_ARRAY_TASK_ID 15 is out of range",
       "(0..14)"},
      {"SLURM_ARRAY_TASK_ID=x", "", "SLURM_ARRAY_TASK_ID 'x'", "job index"},
      {"", "--sweep 'sampler.n_particles=10,abc'",
       "--sweep 'sampler.n_particles=10,abc' (argument", "value 'abc'"},
      {"", "--sweep sampler.step_sise=1,2", "--sweep 'sampler.step_sise=1,2'",
       "did you mean 'step_size'"},
      {"", "--sweep 'seed=range(3,3)'", "range(3, 3, 1) is empty",
       "argument"},
      {"", "--sweep-idx 3", "unknown option '--sweep-idx'",
       "did you mean '--sweep-index'"},
      {"", "--sweep", "needs KEY=V1,V2", "argument"},
      {"", "--sweep-count --sweep-index 1", "exclude each other", "count"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    const int extra = strstr(bad[k].args, "--sweep ") == bad[k].args ||
                      strstr(bad[k].args, "--sweep-idx") == bad[k].args;
    rc = pf_test_sh("env -u SLURM_ARRAY_TASK_ID %s %s run " CFG " " FAST
                    " output.path=%s/bad%zu.h5 %s %s 2> %s/bad.err",
                    bad[k].env, P, T, k, extra ? "" : AXES, bad[k].args, T);
    snprintf(path, sizeof path, "%s/bad.err", T);
    const char *msg = pf_test_slurp(path);
    PF_T_ASSERT(rc == 2 && strstr(msg, bad[k].want1) &&
                    strstr(msg, bad[k].want2),
                "case %zu: exit %d, %s", k, rc, msg);
    PF_T_ASSERT(pf_test_sh("test ! -e %s/bad%zu", T, k) == 0,
                "case %zu: the sweep directory was created", k);
  }
  return 0;
}

/* pflow check prints the job table (or one job's resolved config); a
 * sequential sweep whose job fails at run time runs the others and exits
 * 1. */
static int check_table_and_failed_job(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char path[600];
  int rc = pf_test_sh("env -u SLURM_ARRAY_TASK_ID %s check " CFG
                      " output.path=%s/chk.h5 " AXES " > %s/chk.out "
                      "2>/dev/null", P, T, T);
  snprintf(path, sizeof path, "%s/chk.out", T);
  const char *text = pf_test_slurp(path);
  PF_T_ASSERT(rc == 0 && strstr(text, "15 jobs") &&
                  strstr(text, "sampler.step_size") &&
                  strstr(text, "chk/job-0014.h5") &&
                  strstr(text, "\n7       0.03               2    "),
              "check table: exit %d\n%s", rc, text);
  rc = pf_test_sh("env -u SLURM_ARRAY_TASK_ID %s check " CFG
                  " output.path=%s/chk.h5 " AXES " --sweep-index 7 > "
                  "%s/chk7.out 2>/dev/null", P, T, T);
  snprintf(path, sizeof path, "%s/chk7.out", T);
  text = pf_test_slurp(path);
  PF_T_ASSERT(rc == 0 && strstr(text, "step_size: 0.03") &&
                  strstr(text, "seed: 2") && strstr(text, "chk/job-0007.h5"),
              "check --sweep-index 7: exit %d\n%s", rc, text);
  PF_T_ASSERT(pf_test_sh("test ! -e %s/chk", T) == 0,
              "pflow check created the sweep directory");

  /* ULA with step 4 on a unit Gaussian: x <- -3x + noise blows up to inf
   * within a few hundred steps, which the run reports as a failure; the
   * steps 0.1 before and after it complete. */
  rc = pf_test_sh("env -u SLURM_ARRAY_TASK_ID %s run configs/quickstart.yaml "
                  "sampler.n_iter=2000 sampler.n_particles=50 "
                  "output.path=%s/fail.h5 --sweep sampler.step_size=0.1,4,0.05 "
                  "> /dev/null 2> %s/fail.err", P, T, T);
  snprintf(path, sizeof path, "%s/fail.err", T);
  text = pf_test_slurp(path);
  PF_T_ASSERT(rc == 1 && strstr(text, "1 of 3 jobs failed (first: job 1)"),
              "a failing job: exit %d\n%s", rc, text);
  rc = pf_test_sh("%s -c \"import h5py; s = [h5py.File('%s/fail/job-%%04d.h5'"
                  " %% i, 'r').attrs['status'] for i in range(3)]; "
                  "assert [x.decode() if isinstance(x, bytes) else x for x in s]"
                  " == ['completed', 'failed', 'completed'], s\"",
                  pf_test_python(), T);
  PF_T_ASSERT(rc == 0, "statuses of the three jobs");
  return 0;
}

const pf_test_case pf_tests_sweep[] = {
    {"lists_and_quoting", lists_and_quoting},
    {"ranges_and_spaces", ranges_and_spaces},
    {"product_order_and_count", product_order_and_count},
    {"apply_and_validate", apply_and_validate},
    {"index_names_and_shares", index_names_and_shares},
    {"manifest_once", manifest_once},
    {"dirichlet_3x5_sweep_and_plot", dirichlet_3x5_sweep_and_plot},
    {"index_slurm_and_errors", index_slurm_and_errors},
    {"check_table_and_failed_job", check_table_and_failed_job},
    {NULL, NULL}};
