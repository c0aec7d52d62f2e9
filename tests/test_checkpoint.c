/* Checkpoints and `--resume`: every sampler's state op (2N straight == N +
 * save/destroy/recreate/load + N, bitwise), whole runs resumed bit for bit
 * (library stop-and-resume, SIGTERM -> 75, kill -9), and bad checkpoints
 * failing clearly without touching the output. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"
#include "pf_test.h"
#include "pflow/checkpoint.h"
#include "pflow/error.h"
#include "pflow/registry.h"
#include "pflow/run.h"
#include "pflow/sampler.h"

#define COMPARE "%s tests/integration/compare_resumed.py"

/* Contents of file `name` in the test directory. */
static const char *slurp_t(const char *name)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", pf_test_tmpdir(), name);
  return pf_test_slurp(path);
}

static const char *const conf_target =
    "{name: gaussian, mean: [1.0, -0.5], cov: [[2.0, 0.6], [0.6, 1.0]]}";

/* One sampler run in memory: config (example with n_iter overridden),
 * target, particles, state. */
typedef struct srun {
  pf_config *cfg, *tcfg;
  const pf_node *sec;
  const pf_sampler_ops *ops;
  pf_target *t;
  pf_particles *p;
  void *state;
} srun;

static void srun_free(srun *s)
{
  if (s->state) s->ops->destroy(s->state);
  pf_particles_destroy(&s->p);
  pf_target_destroy(&s->t);
  pf_config_destroy(&s->cfg);
  pf_config_destroy(&s->tcfg);
  memset(s, 0, sizeof *s);
}

static int srun_create(srun *s, const char *target, const char *example,
                       long n_iter)
{
  char text[4096], ov[64];
  const pf_plugin *pl;
  long long n;
  memset(s, 0, sizeof *s);
  const pf_param spec[] = {
      {"sampler", PF_P_PLUGIN, NULL, NULL, "", PF_PARAM_REQUIRED, NULL,
       &pf_samplers},
      {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};
  PF_TRY(pf_test_target(target, &s->tcfg, &s->t));
  snprintf(text, sizeof text, "sampler: %s\n", example);
  PF_TRY(pf_config_load_string(text, "<example>", &s->cfg));
  snprintf(ov, sizeof ov, "sampler.n_iter=%ld", n_iter);
  PF_TRY(pf_config_override(s->cfg, ov, 0));
  PF_TRY(pf_config_validate(s->cfg, spec));
  s->sec = pf_node_get(pf_config_root(s->cfg), "sampler");
  PF_TRY(pf_registry_find(&pf_samplers, pf_cfg_str(s->sec, "name"), &pl));
  s->ops = (const pf_sampler_ops *)pl;
  PF_TRY(pf_cfg_int(s->sec, "n_particles", &n));
  const size_t d = pf_target_dim(s->t);
  PF_TRY(pf_particles_create((size_t)n, d, 7, 0, &s->p));
  PF_TRY(pf_sampler_init_particles(s->sec, s->t, s->p));
  PF_TRY(s->ops->create(s->sec, s->t, (size_t)n, d, &s->state));
  PF_TRY(s->ops->init(s->state, s->p));
  return 0;
}

static int srun_steps(srun *s, long from, long to)
{
  double info[64];
  for (long it = from; it <= to; it++)
    PF_TRY(s->ops->step(s->state, it, s->p, info));
  return 0;
}

static int sec_particles(void *o, pf_state_visitor *v)
{
  return pf_particles_state(o, v);
}
static int sec_target(void *o, pf_state_visitor *v)
{
  return pf_target_state(o, v);
}
static int sec_sampler(void *o, pf_state_visitor *v)
{
  srun *s = o;
  return s->ops->state(s->state, v);
}

/* 2N straight vs N, checkpoint, destroy everything, rebuild, load, N. */
static int resume_one(const char *target, const char *example, long N,
                      const char *label)
{
  srun a, b;
  char path[1024];
  pf_ckpt *c;
  snprintf(path, sizeof path, "%s/unit.ckpt", pf_test_tmpdir());
  PF_T_OK(srun_create(&a, target, example, 2 * N));
  PF_T_ASSERT(a.ops->state, "sampler %s has no state op", label);
  PF_T_OK(srun_steps(&a, 1, 2 * N));
  PF_T_OK(srun_create(&b, target, example, 2 * N));
  PF_T_OK(srun_steps(&b, 1, N));
  PF_T_OK(pf_ckpt_create(path, &c));
  PF_T_OK(pf_ckpt_section(c, "particles", sec_particles, b.p));
  PF_T_OK(pf_ckpt_section(c, "sampler", sec_sampler, &b));
  PF_T_OK(pf_ckpt_section(c, "target", sec_target, b.t));
  PF_T_OK(pf_ckpt_commit(&c));
  srun_free(&b);
  PF_T_OK(srun_create(&b, target, example, 2 * N));
  PF_T_OK(pf_ckpt_open(path, &c));
  PF_T_OK(pf_ckpt_section(c, "particles", sec_particles, b.p));
  PF_T_OK(pf_ckpt_section(c, "sampler", sec_sampler, &b));
  PF_T_OK(pf_ckpt_section(c, "target", sec_target, b.t));
  pf_ckpt_close(&c);
  PF_T_OK(srun_steps(&b, N + 1, 2 * N));
  const size_t nd = a.p->n * a.p->d;
  size_t bad = nd;
  for (size_t k = 0; k < nd && bad == nd; k++)
    if (memcmp(&a.p->x[k], &b.p->x[k], sizeof(double)) != 0) bad = k;
  int same_lp = memcmp(a.p->logp, b.p->logp, a.p->n * sizeof(double)) == 0;
  double xa = bad < nd ? a.p->x[bad] : 0, xb = bad < nd ? b.p->x[bad] : 0;
  srun_free(&a);
  srun_free(&b);
  PF_T_ASSERT(bad == nd, "%s: resumed positions differ at entry %zu "
              "(%.17g vs %.17g): a mutable field is not in its state op",
              label, bad, xa, xb);
  PF_T_ASSERT(same_lp, "%s: resumed log densities differ", label);
  return 0;
}

/* Every registered sampler proves its state op on the conformance
 * Gaussian: n_iter = 16 so the Langevin warm-up (8 iterations, metric
 * adapted at 5) spans the checkpoint at N = 8, and the learned samplers'
 * final sampling (at n_iter) happens after it. */
static int every_sampler_resumes_bitwise(void)
{
  for (size_t k = 0; k < pf_samplers.n; k++) {
    const pf_sampler_ops *ops = (const pf_sampler_ops *)pf_samplers.items[k];
    PF_T_ASSERT(ops->state, "sampler %s has no state op", ops->base.name);
    int rc = resume_one(conf_target, ops->example, 8, ops->base.name);
    if (rc) return rc;
  }
  return 0;
}

/* State outside the sampler: a minibatch target (its stream, permutation
 * and current batch) under svng (running Fisher averages) and svgd with a
 * bandwidth refitted only every 3 iterations. */
static int stateful_targets_and_options(void)
{
  static const char *const lr =
      "{name: logistic_regression, data: data/breast_cancer.csv, "
      "minibatch: 50}";
  if (resume_one(lr, "{name: svng, n_particles: 20, step_size: 0.01}", 5,
                 "svng+minibatch"))
    return 1;
  if (resume_one(lr, "{name: svgd, n_particles: 30, step_size: 0.01, "
                     "bandwidth_every: 3}", 4, "svgd+minibatch"))
    return 1;
  return resume_one(conf_target,
                    "{name: mmd_flow, n_particles: 50, n_target: 200, "
                    "batch_size: 40, noise_schedule: constant}", 5,
                    "mmd_flow+batches");
}

/* ---- whole runs ----------------------------------------------------- */

static int load(const char *text, pf_config **c)
{
  PF_TRY(pf_config_load_string(text, "<test>", c));
  return pf_config_validate(*c, pf_root_params);
}

/* Run `yaml` (its output.path is T/r.h5) straight, then stop after `stop`
 * iterations and resume; the two files must agree. */
static int run_vs_resume(const char *body, long stop, const char *label)
{
  const char *T = pf_test_tmpdir();
  char text[4096];
  pf_config *c = NULL;
  pf_run_result res;
  snprintf(text, sizeof text, "%s\noutput: {path: '%s/r.h5', "
           "trajectory_every: 3, flush_every: 7, checkpoint_every: 5}\n",
           body, T);
  PF_T_OK(pf_test_sh("rm -f %s/r.h5 %s/r.h5.ckpt %s/straight.h5", T, T, T));
  PF_T_OK(load(text, &c));
  PF_T_OK(pf_run(c, NULL, &res));
  PF_T_OK(pf_test_sh("mv %s/r.h5 %s/straight.h5", T, T));
  struct stat st;
  char ck[1100];
  snprintf(ck, sizeof ck, "%s/r.h5.ckpt", T);
  PF_T_ASSERT(stat(ck, &st) != 0, "stray checkpoint");
  pf_run_opts o = {0, stop, NULL};
  int rc = pf__run(c, NULL, &res, &o);
  pf_config_destroy(&c);
  PF_T_ASSERT(rc == PF_EINTR && res.preempted && res.iterations == stop,
              "%s: stop_after gave rc %d, preempted %d, %ld iterations",
              label, rc, res.preempted, res.iterations);
  pf_error_clear();
  PF_T_ASSERT(stat(ck, &st) == 0, "%s: no checkpoint after the stop", label);
  snprintf(ck, sizeof ck, "%s/r.h5", T);
  rc = pf_run_resume(ck, NULL, &res);
  PF_T_ASSERT(rc == 0, "%s: resume failed: %s", label,
              rc ? pf_error_message() : "");
  snprintf(ck, sizeof ck, "%s/r.h5.ckpt", T);
  PF_T_ASSERT(stat(ck, &st) != 0, "%s: checkpoint left after completion",
              label);
  rc = pf_test_sh(COMPARE " %s/straight.h5 %s/r.h5", pf_test_python(), T, T);
  PF_T_ASSERT(rc == 0, "%s: resumed output differs from the straight run",
              label);
  return 0;
}

/* Several sampler kinds, each stopped between checkpoints (the resume
 * goes back to the stop, not to the last periodic checkpoint) and with
 * diagnostics, trajectories and chain draws written across it. */
static int runs_resume_bitwise(void)
{
  static const char *const gauss =
      "seed: 3\ntarget: {name: gaussian, mean: [1.0, -0.5], cov: [[2.0, 0.6], "
      "[0.6, 1.0]]}\ndiagnostics: {every: 4, metrics: [moments, mmd2], "
      "reference: {source: exact, n: 200}}\n";
  char body[2048];
  snprintf(body, sizeof body, "%ssampler: {name: svgd, n_particles: 60, "
           "n_iter: 24, step_size: 0.05}", gauss);
  if (run_vs_resume(body, 11, "svgd")) return 1;
  /* warm-up of 20 adapting the step size spans the stop at 9 */
  snprintf(body, sizeof body, "%ssampler: {name: mala, n_particles: 200, "
           "n_iter: 40, step_size: 0.5, warmup: 20}", gauss);
  if (run_vs_resume(body, 9, "mala")) return 1;
  snprintf(body, sizeof body, "%ssampler: {name: mmd_flow, n_particles: 60, "
           "n_iter: 20, n_target: 300, batch_size: 50, noise_schedule: "
           "constant}", gauss);
  if (run_vs_resume(body, 7, "mmd_flow")) return 1;
  if (run_vs_resume("seed: 2\ntarget: {name: dirichlet, alpha: [3, 2, 5]}\n"
                    "sampler: {name: msvgd, n_particles: 40, n_iter: 20, "
                    "step_size: 0.05}", 13, "msvgd"))
    return 1;
  return run_vs_resume(
      "seed: 4\ntarget: {name: gaussian, mean: [1.0, -0.5], cov: [[2.0, 0.6],"
      " [0.6, 1.0]]}\nsampler: {name: pis, n_particles: 300, n_iter: 12, "
      "batch_size: 64, n_steps: 10, width: 8, depth: 1, n_freq: 4, f_max: 10,"
      " lr: 0.01, sigma: 0.6, ema_decay: 0.9, eval_every: 5}", 6, "pis");
}

/* A run slow enough to be caught mid-way (MALA on 10^4 chains, ~2-5 ms a
 * step, checkpoints every 40 iterations; the kill comes 0.3 s after the
 * first checkpoint, long before the end). */
#define SLOW_CFG                                                              \
  "seed: 5\ntarget: {name: gaussian, mean: [0, 0, 0, 0], cov: [[1, 0.5, 0, "  \
  "0], [0.5, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 2]]}\nsampler: {name: mala, "  \
  "n_particles: 10000, n_iter: 400, step_size: 0.3}\noutput: {path: "       \
  "'%s/k.h5', trajectory_every: 100, flush_every: 20, checkpoint_every: "    \
  "40, thin: 5}\ndiagnostics: {every: 25, metrics: [moments]}\n"

static int write_slow_cfg(void)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/slow.yaml", pf_test_tmpdir());
  FILE *f = fopen(path, "w");
  PF_T_ASSERT(f, "cannot write %s", path);
  fprintf(f, SLOW_CFG, pf_test_tmpdir());
  fclose(f);
  return 0;
}

/* The straight reference of the slow run, in T/kref.h5 (made once). */
static int slow_reference(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char path[1024];
  struct stat st;
  snprintf(path, sizeof path, "%s/kref.h5", T);
  if (stat(path, &st) == 0) return 0;
  PF_T_OK(write_slow_cfg());
  int rc = pf_test_sh("rm -f %s/k.h5 %s/k.h5.ckpt; %s run %s/slow.yaml "
                      ">/dev/null 2>%s/k.err && mv %s/k.h5 %s/kref.h5", T, T,
                      P, T, T, T, T);
  PF_T_ASSERT(rc == 0, "reference run failed: %s",
              slurp_t("k.err"));
  return 0;
}

/* Start the slow run in the background, wait for its first checkpoint,
 * send `sig`; return the exit status. */
static int run_and_signal(int sig, int *status)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  PF_T_OK(pf_test_sh("rm -f %s/k.h5 %s/k.h5.ckpt", T, T));
  int rc = pf_test_sh(
      "%s run %s/slow.yaml >/dev/null 2>%s/k.err & pid=$!; "
      "for i in $(seq 600); do [ -f %s/k.h5.ckpt ] && break; sleep 0.05; "
      "done; sleep 0.3; kill -%d $pid; { wait $pid; } 2>/dev/null; "
      "echo $? > %s/k.rc",
      P, T, T, T, sig, T);
  (void)rc;
  char path[1024];
  snprintf(path, sizeof path, "%s/k.rc", T);
  *status = atoi(pf_test_slurp(path));
  return 0;
}

/* kill -9 after the first checkpoint, then --resume: the final file equals
 * the uninterrupted run's. */
static int kill9_then_resume(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  int status;
  PF_T_OK(slow_reference());
  PF_T_OK(run_and_signal(9, &status));
  PF_T_ASSERT(status == 137, "kill -9 gave exit status %d (finished before "
              "the kill?)", status);
  int rc = pf_test_sh("%s run --resume %s/k.h5 >/dev/null 2>%s/k2.err", P, T,
                      T);
  PF_T_ASSERT(rc == 0, "resume after kill -9 failed: %s",
              slurp_t("k2.err"));
  rc = pf_test_sh(COMPARE " %s/kref.h5 %s/k.h5", pf_test_python(), T, T);
  PF_T_ASSERT(rc == 0, "killed + resumed output differs from the straight "
              "run");
  return 0;
}

/* SIGTERM: exit 75, a checkpoint, the output marked preempted; resume
 * completes and equals the straight run. */
static int sigterm_exits_75_and_resumes(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  int status;
  char path[1024];
  struct stat st;
  PF_T_OK(slow_reference());
  PF_T_OK(run_and_signal(15, &status));
  PF_T_ASSERT(status == 75, "SIGTERM gave exit status %d, expected 75: %s",
              status, slurp_t("k.err"));
  snprintf(path, sizeof path, "%s/k.h5.ckpt", T);
  PF_T_ASSERT(stat(path, &st) == 0, "no checkpoint after SIGTERM");
  int rc = pf_test_sh("%s info %s/k.h5 | grep -q preempted", P, T);
  PF_T_ASSERT(rc == 0, "the output is not marked preempted");
  rc = pf_test_sh("%s run --resume %s/k.h5 >/dev/null 2>%s/k2.err", P, T, T);
  PF_T_ASSERT(rc == 0, "resume after SIGTERM failed");
  PF_T_ASSERT(stat(path, &st) != 0, "checkpoint left after completion");
  rc = pf_test_sh(COMPARE " %s/kref.h5 %s/k.h5", pf_test_python(), T, T);
  PF_T_ASSERT(rc == 0, "preempted + resumed output differs");
  /* h5diff agrees on every dataset but the timing column */
  rc = pf_test_sh("h5diff -q --exclude-path /diagnostics/wall_time "
                  "%s/kref.h5 %s/k.h5 >/dev/null; h5diff -c --exclude-path "
                  "/diagnostics/wall_time %s/kref.h5 %s/k.h5 | grep "
                  "'^dataset' | grep -q .", T, T, T, T);
  PF_T_ASSERT(rc != 0, "h5diff finds dataset differences");
  /* SIGUSR1 (SLURM's --signal=B:USR1@T warning) does the same */
  PF_T_OK(run_and_signal(SIGUSR1, &status));
  PF_T_ASSERT(status == 75 && stat(path, &st) == 0,
              "SIGUSR1 gave exit status %d", status);
  return 0;
}

/* Missing, corrupted and foreign checkpoints: a clear error, exit 1, and
 * the output byte for byte unchanged. */
static int bad_checkpoints_leave_output(void)
{
  const char *T = pf_test_tmpdir(), *P = pf_test_pflow();
  char text[4096];
  pf_config *c = NULL;
  pf_run_result res;
  snprintf(text, sizeof text,
           "target: {name: gaussian, mean: [0], cov: [[1]]}\nsampler: {name: "
           "svgd, n_particles: 20, n_iter: 30}\noutput: {path: '%s/bad.h5', "
           "checkpoint_every: 10}\n", T);
  PF_T_OK(pf_test_sh("rm -f %s/bad.h5*", T));
  PF_T_OK(load(text, &c));
  pf_run_opts o = {0, 15, NULL};
  int rc = pf__run(c, NULL, &res, &o);
  pf_config_destroy(&c);
  PF_T_ASSERT(rc == PF_EINTR && res.preempted, "stop failed");
  pf_error_clear();
  PF_T_OK(pf_test_sh("cp %s/bad.h5 %s/bad.orig; mv %s/bad.h5.ckpt "
                     "%s/bad.keep", T, T, T, T));
  static const struct {
    const char *prep, *msg;
  } cases[] = {
      {"true", "no checkpoint"},
      {"head -c 3000 %s/bad.keep > %s/bad.h5.ckpt", "checkpoint"},
      {"echo garbage > %s/bad.h5.ckpt", "not a readable HDF5 file"},
  };
  for (size_t k = 0; k < 3; k++) {
    char prep[512];
    snprintf(prep, sizeof prep, cases[k].prep, T, T);
    PF_T_OK(pf_test_sh("rm -f %s/bad.h5.ckpt; %s", T, prep));
    rc = pf_test_sh("%s run --resume %s/bad.h5 >/dev/null 2>%s/bad.err", P,
                    T, T);
    char err[1024];
    snprintf(err, sizeof err, "%s/bad.err", T);
    const char *e = pf_test_slurp(err);
    PF_T_ASSERT(rc == 1 && strstr(e, cases[k].msg),
                "case %zu: exit %d, message: %s", k, rc, e);
    PF_T_ASSERT(pf_test_sh("cmp -s %s/bad.h5 %s/bad.orig", T, T) == 0,
                "case %zu: the output was modified", k);
  }
  /* a checkpoint of another run (different config) */
  snprintf(text, sizeof text,
           "target: {name: gaussian, mean: [0], cov: [[1]]}\nsampler: {name: "
           "svgd, n_particles: 20, n_iter: 31}\noutput: {path: '%s/oth.h5', "
           "checkpoint_every: 10}\n", T);
  PF_T_OK(pf_test_sh("rm -f %s/oth.h5*", T));
  PF_T_OK(load(text, &c));
  rc = pf__run(c, NULL, &res, &o);
  pf_config_destroy(&c);
  pf_error_clear();
  PF_T_OK(pf_test_sh("cp %s/oth.h5.ckpt %s/bad.h5.ckpt", T, T));
  rc = pf_test_sh("%s run --resume %s/bad.h5 >/dev/null 2>%s/bad.err", P, T,
                  T);
  PF_T_ASSERT(rc == 1 && strstr(slurp_t("bad.err"), "another run"),
              "foreign checkpoint: exit %d: %s", rc,
              slurp_t("bad.err"));
  PF_T_ASSERT(pf_test_sh("cmp -s %s/bad.h5 %s/bad.orig", T, T) == 0,
              "foreign checkpoint: the output was modified");
  /* the good one still resumes */
  PF_T_OK(pf_test_sh("cp %s/bad.keep %s/bad.h5.ckpt", T, T));
  rc = pf_test_sh("%s run --resume %s/bad.h5 >/dev/null 2>%s/bad.err", P, T,
                  T);
  PF_T_ASSERT(rc == 0, "good checkpoint: exit %d", rc);
  /* a completed output has nothing to resume */
  rc = pf_test_sh("%s run --resume %s/bad.h5 >/dev/null 2>%s/bad.err", P, T,
                  T);
  PF_T_ASSERT(rc == 1 && strstr(slurp_t("bad.err"), "completed run"),
              "completed output: exit %d: %s", rc, slurp_t("bad.err"));
  return 0;
}

const pf_test_case pf_tests_checkpoint[] = {
    {"every_sampler_resumes_bitwise", every_sampler_resumes_bitwise},
    {"stateful_targets_and_options", stateful_targets_and_options},
    {"runs_resume_bitwise", runs_resume_bitwise},
    {"bad_checkpoints_leave_output", bad_checkpoints_leave_output},
    {"kill9_then_resume", kill9_then_resume},
    {"sigterm_exits_75_and_resumes", sigterm_exits_75_and_resumes},
    {NULL, NULL}};
