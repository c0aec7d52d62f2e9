/* Sweeps from the command line:
 *
 *   pflow run   CONFIG [key=value ...] --sweep K=V1,V2 [--sweep ...]
 *               [--sweep-count | --sweep-index I] [--ranks-per-job K]
 *   pflow check CONFIG [key=value ...] --sweep ... [--sweep-index I]
 *
 * Every job's config is the file, then the fixed overrides, then the job's
 * sweep values, then output.path = <dir>/job-NNNN.h5 where <dir> is the
 * base output.path without its extension.  Before any job runs, the base
 * config is validated, then each sweep value on its own (so a bad value is
 * reported naming its --sweep flag), and with no index every job's config
 * in full (its target built, as `pflow check` does) and the absence of
 * every job's output file.  --sweep-index
 * (default $SLURM_ARRAY_TASK_ID) runs one job; without one, the jobs run one
 * after another, a failed job does not stop the others, and the exit code
 * is 1 when any failed.  The manifest <dir>/sweep.json is written once.
 * Under mpirun (MPI build) without an index the ranks form groups of
 * --ranks-per-job ranks (default 1), each group running its share of the
 * jobs (pf_sweep_share_for) on its own communicator (pf_comm_split). */
#include "exit_codes.h"
#include "sweep_cmd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pflow/comm.h"
#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/registry.h"
#include "pflow/run.h"
#include "pflow/sweep.h"
#include "pflow/target.h"


typedef struct sweep_cli {
  int check;                /* pflow check (else run) */
  const char *cfgpath;
  char **fixed;             /* fixed overrides, in order */
  int *fixed_argi;
  int n_fixed;
  pf_sweep *sw;
  int count_only;
  const char *index_text;   /* NULL: run every job */
  const char *index_src;    /* "--sweep-index" or "SLURM_ARRAY_TASK_ID" */
  char dir[4096];           /* sweep directory */
  int overwrite;            /* output.overwrite of the base config */
  int ranks_per_job;        /* --ranks-per-job (MPI), default 1 */
} sweep_cli;

static const char *const options[] = {"--sweep", "--sweep-count",
                                      "--sweep-index", "--ranks-per-job"};

int pf_cli_has_sweep(int argc, char **argv)
{
  for (int i = 3; i < argc; i++)
    if (!strncmp(argv[i], "--sw", 4)) return 1;
  return 0;
}

/* Split argv[3..] into sweep options and fixed overrides. */
static int parse_args(sweep_cli *x, int argc, char **argv)
{
  x->fixed = calloc((size_t)argc, sizeof *x->fixed);
  x->fixed_argi = calloc((size_t)argc, sizeof *x->fixed_argi);
  PF_CHECK(x->fixed && x->fixed_argi, PF_ENOMEM, "arguments");
  PF_TRY(pf_sweep_create(&x->sw));
  for (int i = 3; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] != '-') {
      x->fixed_argi[x->n_fixed] = i;
      x->fixed[x->n_fixed++] = argv[i];
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const char *val = eq ? eq + 1 : NULL;
    int vi = i;
    if (len == 7 && !strncmp(a, "--sweep", 7)) {
      if (!val) {
        PF_CHECK(i + 1 < argc, PF_EUSAGE,
                 "--sweep (argument %d) needs KEY=V1,V2,... or "
                 "KEY=range(a,b[,step])", i);
        val = argv[vi = ++i];
      }
      PF_TRY(pf_sweep_add(x->sw, val, vi));
    } else if (len == 13 && !strncmp(a, "--sweep-count", 13)) {
      PF_CHECK(!val, PF_EUSAGE, "--sweep-count takes no value");
      x->count_only = 1;
    } else if (len == 13 && !strncmp(a, "--sweep-index", 13)) {
      if (!val) {
        PF_CHECK(i + 1 < argc, PF_EUSAGE,
                 "--sweep-index (argument %d) needs a job index", i);
        val = argv[++i];
      }
      x->index_text = val;
      x->index_src = "--sweep-index";
    } else if (len == 15 && !strncmp(a, "--ranks-per-job", 15)) {
      if (!val) {
        PF_CHECK(i + 1 < argc, PF_EUSAGE,
                 "--ranks-per-job (argument %d) needs a rank count", i);
        val = argv[++i];
      }
      char *end;
      long k = strtol(val, &end, 10);
      PF_CHECK(*val && *end == '\0' && k >= 1 && k <= 1000000, PF_EUSAGE,
               "--ranks-per-job '%s' is not a positive rank count", val);
      x->ranks_per_job = (int)k;
    } else {
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)len, a);
      size_t s = pf_suggest(name, options, 4);
      if (s < 4)
        PF_RAISE(PF_EUSAGE, "unknown option '%s' (argument %d); did you "
                            "mean '%s'?", name, i, options[s]);
      PF_RAISE(PF_EUSAGE, "unknown option '%s' (argument %d); valid: "
                          "--sweep, --sweep-count, --sweep-index, "
                          "--ranks-per-job", name, i);
    }
  }
  PF_CHECK(pf_sweep_axes(x->sw) > 0, PF_EUSAGE,
           "--sweep-count and --sweep-index need at least one --sweep "
           "KEY=V1,V2,...");
  PF_CHECK(!(x->count_only && x->index_text), PF_EUSAGE,
           "--sweep-count and --sweep-index exclude each other");
  if (!x->index_text && !x->count_only) {
    const char *env = getenv("SLURM_ARRAY_TASK_ID");
    if (env && *env) {
      x->index_text = env;
      x->index_src = "SLURM_ARRAY_TASK_ID";
    }
  }
  return 0;
}

/* The file and the fixed overrides, not validated. */
static int load_base(const sweep_cli *x, pf_config **out)
{
  pf_config *c = NULL;
  int rc;
  *out = NULL;
  PF_TRY(pf_config_load(x->cfgpath, &c));
  for (int i = 0; i < x->n_fixed; i++)
    PF_TRY_GOTO(rc, pf_config_override(c, x->fixed[i], x->fixed_argi[i]),
                fail);
  *out = c;
  return 0;
fail:
  pf_config_destroy(&c);
  return rc;
}

/* Validate the base config; find the sweep directory (output.path, default
 * runs/<config stem>.h5, as for a single run) and output.overwrite. */
static int check_base(sweep_cli *x)
{
  pf_config *c = NULL;
  int rc;
  PF_TRY(load_base(x, &c));
  PF_TRY_GOTO(rc, pf_config_validate(c, pf_root_params), done);
  const pf_node *root = pf_config_root(c);
  char out[4096];
  if (pf_node_get(root, "output.path")) {
    snprintf(out, sizeof out, "%s", pf_cfg_str(root, "output.path"));
  } else {
    const char *base = strrchr(x->cfgpath, '/');
    base = base ? base + 1 : x->cfgpath;
    char stem[1024];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = '\0';
    snprintf(out, sizeof out, "runs/%s.h5", stem);
  }
  PF_TRY_GOTO(rc, pf_sweep_dir(out, x->dir, sizeof x->dir), done);
  PF_TRY_GOTO(rc, pf_cfg_bool(root, "output.overwrite", &x->overwrite), done);
done:
  pf_config_destroy(&c);
  return rc;
}

/* Every value of every axis, applied alone to the base and validated: the
 * error then belongs to that value, and names its flag. */
static int check_values(const sweep_cli *x)
{
  for (size_t k = 0; k < pf_sweep_axes(x->sw); k++)
    for (size_t v = 0; v < pf_sweep_axis_len(x->sw, k); v++) {
      pf_config *c = NULL;
      int rc = load_base(x, &c);
      if (rc == 0) rc = pf_sweep_apply_value(x->sw, k, v, c);
      if (rc == 0) {
        rc = pf_config_validate(c, pf_root_params);
        if (rc < 0) rc = pf_sweep_blame(x->sw, k, v, rc);
      }
      pf_config_destroy(&c);
      if (rc < 0) return rc;
    }
  return 0;
}

static int job_path(const sweep_cli *x, size_t job, char *buf, size_t cap)
{
  char file[64];
  PF_TRY(pf_sweep_job_file(job, pf_sweep_count(x->sw), file, sizeof file));
  int n = snprintf(buf, cap, "%s/%s", x->dir, file);
  PF_CHECK(n > 0 && (size_t)n < cap, PF_EINVAL, "output path too long");
  return 0;
}

/* Job `job`'s validated config; with make_target, also build the target
 * (as `pflow check` does) to catch shape errors. */
static int build_job(const sweep_cli *x, size_t job, int make_target,
                     pf_config **out)
{
  pf_config *c = NULL;
  char path[4200], assign[8600], label[1024];
  int rc;
  *out = NULL;
  PF_TRY(job_path(x, job, path, sizeof path));
  /* Single-quoted YAML scalar: a quote inside doubles. */
  size_t o = 0;
  o += (size_t)snprintf(assign, sizeof assign, "output.path='");
  for (const char *p = path; *p && o + 3 < sizeof assign; p++) {
    if (*p == '\'') assign[o++] = '\'';
    assign[o++] = *p;
  }
  assign[o++] = '\'';
  assign[o] = '\0';
  PF_TRY(load_base(x, &c));
  PF_TRY_GOTO(rc, pf_sweep_apply(x->sw, job, c), fail);
  PF_TRY_GOTO(rc, pf_config_override(c, assign, 0), fail);
  rc = pf_config_validate(c, pf_root_params);
  if (rc == 0 && make_target) {
    pf_target *t = NULL;
    rc = pf_target_create(pf_node_get(pf_config_root(c), "target"), &t);
    pf_target_destroy(&t);
  }
  if (rc < 0) {
    /* The values were valid one at a time: this is their combination. */
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", pf_error_message());
    pf_sweep_job_label(x->sw, job, label, sizeof label);
    rc = pf__error_set(rc, __FILE__, __LINE__, "sweep job %zu (%s): %s", job,
                       label, msg);
    goto fail;
  }
  *out = c;
  return 0;
fail:
  pf_config_destroy(&c);
  return rc;
}

static void print_result(const pf_run_result *res)
{
  printf("wrote %s: %ld iterations in %.2f s (%.1f it/s)\n", res->path,
         res->iterations, res->seconds,
         res->seconds > 0 ? (double)res->iterations / res->seconds : 0.0);
  if (res->n_last) {
    printf("diagnostics at iteration %ld:\n", res->last_iteration);
    for (size_t i = 0; i < res->n_last; i++)
      printf("  %-16s %.6g\n", res->last_names[i], res->last_values[i]);
  }
  fflush(stdout);
}

/* Run one job; returns the exit code a single run would have (0, 1, 2,
 * 75 preempted after a checkpoint, 128+signal). */
static int run_job(const sweep_cli *x, size_t job)
{
  pf_config *c = NULL;
  pf_run_result res;
  char label[1024], path[4200];
  const size_t n = pf_sweep_count(x->sw);
  int rc = build_job(x, job, 0, &c);
  if (rc < 0) {
    pf__cli_report(rc);
    return pf__cli_exit_code(rc);
  }
  pf_sweep_job_label(x->sw, job, label, sizeof label);
  job_path(x, job, path, sizeof path);
  fprintf(stderr, "pflow: sweep job %zu of %zu (0..%zu): %s -> %s\n", job, n,
          n - 1, label, path);
  rc = pf_run(c, stderr, &res);
  pf_config_destroy(&c);
  if (rc < 0) return pf__cli_run_failed(rc, &res);
  print_result(&res);
  return 0;
}

/* The hook for sharing a sweep among processes: runs, one after another,
 * the jobs that pf_sweep_share_for gives the group of `rank` of `size`
 * when each job gets ranks_per_job ranks: jobs g, g + n_groups, ...  One
 * process calls it with (0, 1, 1): every job in order.  Under mpirun
 * sweep_main first splits the communicator by group (pf_comm_split), so
 * pf_run is collective over the group only, then calls it with the world
 * rank and size.  The manifest and
 * the checks before it are done once beforehand (prepare_outputs on rank
 * 0).  Returns the worst exit code: 128+signal or 75 (preempted, job
 * checkpointed) stops at once, else 1 if any job failed (the others still
 * run). */
static int run_jobs(const sweep_cli *x, int rank, int size,
                    int ranks_per_job)
{
  pf_sweep_share sh;
  const size_t n = pf_sweep_count(x->sw);
  size_t failed = 0, ran = 0, first_failed = 0;
  if (pf_sweep_share_for(n, rank, size, ranks_per_job, &sh) < 0) {
    pf__cli_report(PF_EINVAL);
    return EXIT_RUNFAIL;
  }
  for (size_t j = sh.first; j < n; j += sh.stride) {
    int code = run_job(x, j);
    ran++;
    if (code > 128 || code == EXIT_TEMPFAIL) {
      fprintf(stderr, "pflow: sweep stopped at job %zu; later jobs were not "
                      "run\n", j);
      return code;
    }
    if (code) {
      if (!failed) first_failed = j;
      failed++;
    }
  }
  if (failed) {
    fprintf(stderr, "pflow: sweep: %zu of %zu jobs failed (first: job %zu)"
                    "%s\n", failed, ran, first_failed,
            failed < ran ? "; the others completed" : "");
    return EXIT_RUNFAIL;
  }
  fprintf(stderr, "pflow: sweep: %zu jobs completed in %s (manifest "
                  "%s/sweep.json)\n", ran, x->dir, x->dir);
  return 0;
}

/* `pflow check ... --sweep`: validate the jobs, print the job table (or,
 * with an index, that job's resolved config). */
static int do_check(const sweep_cli *x, int have_index, size_t index)
{
  const size_t n = pf_sweep_count(x->sw), na = pf_sweep_axes(x->sw);
  char path[4200];
  for (size_t j = have_index ? index : 0; j < (have_index ? index + 1 : n);
       j++) {
    pf_config *c = NULL;
    int rc = build_job(x, j, 1, &c);
    if (rc == 0 && have_index) {
      char *text = NULL;
      rc = pf_config_emit(c, 1, &text);
      if (rc == 0)
        printf("# resolved config of sweep job %zu of %s (\"# default\": not "
               "given, default used)\n%s", j, x->cfgpath, text);
      free(text);
    }
    pf_config_destroy(&c);
    if (rc < 0) {
      pf__cli_report(rc);
      return pf__cli_exit_code(rc);
    }
  }
  if (!have_index) {
    printf("# sweep of %s: %zu jobs (the first --sweep varies slowest); "
           "manifest %s/sweep.json\n", x->cfgpath, n, x->dir);
    size_t w[64] = {0};
    printf("%-6s", "job");
    for (size_t k = 0; k < na && k < 64; k++) {
      const char *key = pf_sweep_axis_key(x->sw, k);
      w[k] = strlen(key);
      for (size_t v = 0; v < pf_sweep_axis_len(x->sw, k); v++) {
        size_t l = strlen(pf_sweep_axis_value(x->sw, k, v));
        if (l > w[k]) w[k] = l;
      }
      printf("  %-*s", (int)w[k], key);
    }
    printf("  file\n");
    for (size_t j = 0; j < n; j++) {
      printf("%-6zu", j);
      for (size_t k = 0; k < na && k < 64; k++)
        printf("  %-*s", (int)w[k],
               pf_sweep_axis_value(x->sw, k, pf_sweep_value_index(x->sw, j, k)));
      job_path(x, j, path, sizeof path);
      printf("  %s\n", path);
    }
  }
  fprintf(stderr, "%s: ok (%s)\n", x->cfgpath,
          have_index ? "one sweep job" : "every sweep job");
  return 0;
}

/* Before the first job: with no index, every job's config (targets
 * included) and the absence of every job's output; then the manifest.
 * Returns an exit code. */
static int prepare_outputs(const sweep_cli *x)
{
  const size_t n = pf_sweep_count(x->sw);
  int rc;
  if (!x->index_text) {
    char path[4200];
    size_t exist = 0, first = 0;
    for (size_t j = 0; j < n; j++) {
      pf_config *c = NULL;
      int ow = 0;
      if ((rc = build_job(x, j, 1, &c)) == 0)
        rc = pf_cfg_bool(pf_config_root(c), "output.overwrite", &ow);
      pf_config_destroy(&c);
      if (rc < 0) {
        pf__cli_report(rc);
        return pf__cli_exit_code(rc);
      }
      job_path(x, j, path, sizeof path);
      if (!ow && access(path, F_OK) == 0 && !exist++) first = j;
    }
    if (exist) {
      job_path(x, first, path, sizeof path);
      fprintf(stderr, "pflow: error: %zu of the %zu job outputs already exist "
                      "(the first: %s); no job was run.  Set "
                      "output.overwrite=true, remove them, choose another "
                      "output.path, or run single jobs with --sweep-index\n",
              exist, n, path);
      return EXIT_RUNFAIL;
    }
  }
  rc = pf_sweep_write_manifest(x->sw, x->cfgpath, x->n_fixed, x->fixed,
                               x->dir, x->overwrite);
  if (rc < 0) {
    pf__cli_report(rc);
    return pf__cli_exit_code(rc);
  }
  return 0;
}

static int sweep_main(sweep_cli *x, int argc, char **argv)
{
  size_t index = 0;
  int rc;
  x->check = argv[1][0] == 'c';
  x->cfgpath = argv[2];
  if ((rc = parse_args(x, argc, argv)) < 0 || (rc = check_base(x)) < 0 ||
      (rc = check_values(x)) < 0) {
    pf__cli_report(rc);
    return pf__cli_exit_code(rc);
  }
  const size_t n = pf_sweep_count(x->sw);
  if (x->count_only) {
    printf("%zu\n", n);
    return 0;
  }
  if (x->index_text &&
      (rc = pf_sweep_parse_index(x->index_text, x->index_src, n, &index)) < 0) {
    pf__cli_report(rc);
    return EXIT_USAGE;
  }
  if (x->check) return do_check(x, x->index_text != NULL, index);

  /* Under mpirun every rank gets here and runs each job together (pf_run
   * is collective); rank 0 alone checks the outputs and writes the
   * manifest, then all agree, so no rank sees a file another just made. */
  int code = pf_comm_rank() == 0 ? prepare_outputs(x) : 0;
  code = pf_comm_max_int(code);
  if (code) return code;
  if (x->index_text) {
    if (!strcmp(x->index_src, "SLURM_ARRAY_TASK_ID"))
      fprintf(stderr, "pflow: sweep job %zu from SLURM_ARRAY_TASK_ID\n",
              index);
    return run_job(x, index);
  }
  const int size = pf_comm_size(), rank = pf_comm_rank();
  if (size == 1) return run_jobs(x, 0, 1, 1);
  /* MPI: groups of ranks_per_job ranks, each on its own communicator,
   * share the jobs; the exit code is the worst over all ranks. */
  const int per = x->ranks_per_job ? x->ranks_per_job : 1;
  pf_sweep_share sh;
  if ((rc = pf_sweep_share_for(n, rank, size, per, &sh)) < 0 ||
      (rc = pf_comm_split(sh.group, sh.group_rank)) < 0) {
    pf__cli_report(rc);
    return pf_comm_max_int(EXIT_RUNFAIL);
  }
  if (rank == 0)
    fprintf(stderr, "pflow: sweep of %zu jobs over %d ranks: %d groups of "
                    "about %d rank%s (only group 0's jobs are shown)\n", n,
            size, sh.n_groups, sh.group_size, sh.group_size == 1 ? "" : "s");
  code = run_jobs(x, rank, size, per);
  pf_comm_unsplit();
  return pf_comm_max_int(code);
}

int pf_cli_sweep(int argc, char **argv)
{
  sweep_cli x;
  memset(&x, 0, sizeof x);
  int code = sweep_main(&x, argc, argv);
  pf_sweep_destroy(&x.sw);
  free(x.fixed);
  free(x.fixed_argi);
  return code;
}
