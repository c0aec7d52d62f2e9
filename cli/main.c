/* The pflow program: run, check, list, help, info. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit_codes.h"
#include "pflow/comm.h"
#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/postsel.h"
#include "pflow/registry.h"
#include "pflow/run.h"
#include "pflow/target.h"
#include "pflow/version.h"

#include "sweep_cmd.h"


static const char usage[] =
    "usage: pflow <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  run CONFIG [key.path=value ...]    run an experiment\n"
    "  run --resume OUTPUT.h5             continue a run from OUTPUT.h5.ckpt\n"
    "  check CONFIG [key.path=value ...]  validate and print the resolved "
    "config\n"
    "  list [targets|samplers|domains|kernels|diagnostics]\n"
    "                                     registered components\n"
    "  help [config | KIND NAME]          parameters of the config file or of "
    "a component\n"
    "  info [--all] [--layout] FILE.h5    summary of an output file\n"
    "  version                            print the version\n"
    "\n"
    "sweeps (run and check): --sweep KEY=V1,V2,... | KEY=range(a,b[,step]) |\n"
    "  KEY=linspace(a,b,n) | KEY=logspace(a,b,n), repeatable (Cartesian\n"
    "  product, first flag slowest); --sweep-count prints the number of jobs;\n"
    "  --sweep-index I (default $SLURM_ARRAY_TASK_ID) runs job I only; each job\n"
    "  writes <output.path without .h5>/job-NNNN.h5, listed in sweep.json\n"
    "\n"
    "exit codes: 0 ok, 1 run failed, 2 usage or config error, 75 preempted\n"
    "  (SIGTERM/SIGUSR1: checkpoint written, requeue with run --resume),\n"
    "  130 interrupted (SIGINT; 143 for SIGTERM with "
    "output.checkpoint_signals: false)\n";

/* Output path when the config gives none: runs/<config stem>.h5. */
static int default_output(pf_config *c, const char *cfgpath)
{
  const pf_node *o = pf_node_get(pf_config_root(c), "output.path");
  if (o) return 0;
  const char *base = strrchr(cfgpath, '/');
  base = base ? base + 1 : cfgpath;
  char stem[512], assign[700];
  snprintf(stem, sizeof stem, "%s", base);
  char *dot = strrchr(stem, '.');
  if (dot && dot != stem) *dot = '\0';
  snprintf(assign, sizeof assign, "output.path='runs/%s.h5'", stem);
  return pf_config_override(c, assign, 0);
}

/* Load CONFIG, apply the overrides argv[first..], validate. */
static int load_config(int argc, char **argv, int first, pf_config **out)
{
  pf_config *c = NULL;
  int rc;
  *out = NULL;
  PF_TRY(pf_comm_config_load(argv[first - 1], &c)); /* rank 0 reads */
  for (int i = first; i < argc; i++)
    PF_TRY_GOTO(rc, pf_config_override(c, argv[i], i), fail);
  PF_TRY_GOTO(rc, pf_config_validate(c, pf_root_params), fail);
  PF_TRY_GOTO(rc, default_output(c, argv[first - 1]), fail);
  PF_TRY_GOTO(rc, pf_config_validate(c, pf_root_params), fail);
  *out = c;
  return 0;
fail:
  pf_config_destroy(&c);
  return rc;
}

static int cmd_check(int argc, char **argv)
{
  pf_config *c;
  char *text = NULL;
  int rc = load_config(argc, argv, 3, &c);
  if (rc < 0) {
    pf__cli_report(rc);
    return pf__cli_exit_code(rc);
  }
  /* Build the target too: shape and value errors the specs cannot see
   * (alpha of the wrong length, a covariance that is not SPD, an empty
   * polytope) are config errors, reported here rather than at run time. */
  pf_target *t = NULL;
  const pf_node *tsec = pf_node_get(pf_config_root(c), "target");
  if (pf_postsel_given(c))
    rc = pf_postsel_check(c);
  else if (!tsec)
    rc = pf__config_raise(pf_config_root(c), NULL, PF_ECONFIG, __FILE__,
                          __LINE__, "missing required key 'target' at the "
                          "top level (the density to sample)");
  else
    rc = pf_target_create(tsec, &t);
  pf_target_destroy(&t);
  if (rc == 0) rc = pf_config_emit(c, 1, &text);
  if (rc == 0) {
    printf("# resolved config of %s (\"# default\": not given, default "
           "used)\n%s", argv[2], text);
    fprintf(stderr, "%s: ok\n", argv[2]);
  } else {
    pf__cli_report(rc);
  }
  free(text);
  pf_config_destroy(&c);
  return rc ? pf__cli_exit_code(rc) : 0;
}

static int cmd_run(int argc, char **argv)
{
  pf_config *c;
  pf_run_result res;
  int rc;
  if (strcmp(argv[2], "--resume") == 0) {
    if (argc != 4) {
      fprintf(stderr, "usage: pflow run --resume OUTPUT.h5 (the config is "
                      "the one stored in OUTPUT.h5)\n");
      return EXIT_USAGE;
    }
    rc = pf_run_resume(argv[3], stderr, &res);
    goto finish;
  }
  rc = load_config(argc, argv, 3, &c);
  if (rc < 0) {
    pf__cli_report(rc);
    return pf__cli_exit_code(rc);
  }
  if (pf_postsel_given(c)) {
    /* Post-selection inference: intervals table on stdout. */
    rc = pf_postsel_run(c, stdout);
    pf_config_destroy(&c);
    if (rc < 0) {
      pf__cli_report(rc);
      return pf__cli_exit_code(rc);
    }
    return 0;
  }
  rc = pf_run(c, stderr, &res);
  pf_config_destroy(&c);
finish:
  if (rc < 0) return pf__cli_run_failed(rc, &res);
  printf("wrote %s: %ld iterations in %.2f s (%.1f it/s)\n", res.path,
         res.iterations, res.seconds,
         res.seconds > 0 ? (double)res.iterations / res.seconds : 0.0);
  if (res.n_last) {
    printf("diagnostics at iteration %ld:\n", res.last_iteration);
    for (size_t i = 0; i < res.n_last; i++)
      printf("  %-16s %.6g\n", res.last_names[i], res.last_values[i]);
  }
  return 0;
}

static const pf_registry *registry_named(const char *kind)
{
  for (size_t i = 0; pf_all_registries[i]; i++) {
    const pf_registry *r = pf_all_registries[i];
    if (strcmp(kind, r->kind) == 0 || strcmp(kind, r->plural) == 0) return r;
  }
  return NULL;
}

static int unknown_kind(const char *kind)
{
  const char *names[16];
  size_t n = 0;
  char valid[256];
  for (; pf_all_registries[n] && n < 16; n++) names[n] = pf_all_registries[n]->plural;
  pf_names_join(names, n, valid, sizeof valid);
  fprintf(stderr, "pflow: error: unknown kind '%s'; valid: %s\n", kind, valid);
  return EXIT_USAGE;
}

static int cmd_list(int argc, char **argv)
{
  if (argc > 2) {
    const pf_registry *r = registry_named(argv[2]);
    if (!r) return unknown_kind(argv[2]);
    pf_registry_list(r, stdout);
    return 0;
  }
  for (size_t i = 0; pf_all_registries[i]; i++) {
    printf("%s:\n", pf_all_registries[i]->plural);
    pf_registry_list(pf_all_registries[i], stdout);
  }
  return 0;
}

static int cmd_help(int argc, char **argv)
{
  if (argc == 2) {
    fputs(usage, stdout);
    return 0;
  }
  if (strcmp(argv[2], "config") == 0) {
    printf("config file keys:\n");
    pf_params_print(pf_root_params, stdout, 2);
    return 0;
  }
  const pf_registry *r = registry_named(argv[2]);
  if (!r) return unknown_kind(argv[2]);
  if (argc < 4) {
    pf_registry_list(r, stdout);
    return 0;
  }
  int rc = pf_registry_help(r, argv[3], stdout);
  if (rc < 0) {
    pf__cli_report(rc);
    return EXIT_USAGE;
  }
  return 0;
}

static int cmd_info(int argc, char **argv)
{
  const char *path = NULL;
  unsigned flags = 0;
  int layout = 0, bad = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--all") == 0)
      flags |= PF_H5_SUMMARY_ALL;
    else if (strcmp(argv[i], "--layout") == 0)
      layout = 1;
    else if (argv[i][0] == '-' || path)
      bad = 1;
    else
      path = argv[i];
  }
  if (!path || bad) {
    fprintf(stderr, "usage: pflow info [--all] [--layout] FILE.h5\n"
                    "  --all     every coordinate (default: the first 20)\n"
                    "  --layout  groups, variables, shapes and attributes "
                    "instead of the summary\n");
    return EXIT_USAGE;
  }
  int rc = layout ? pf_h5_info(path, stdout)
                  : pf_h5_summary(path, flags, stdout);
  if (rc < 0) {
    pf__cli_report(rc);
    return EXIT_RUNFAIL;
  }
  return 0;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fputs(usage, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0 || strcmp(cmd, "check") == 0) {
    if (argc < 3) {
      fprintf(stderr, "usage: pflow %s CONFIG [key.path=value ...]\n", cmd);
      return EXIT_USAGE;
    }
    if (cmd[0] != 'r')
      return pf_cli_has_sweep(argc, argv) ? pf_cli_sweep(argc, argv)
                                          : cmd_check(argc, argv);
    /* Under mpirun every rank runs; only rank 0 prints (core/comm.c). */
    int rc = pf_comm_init(&argc, &argv);
    /* --sweep: cli/sweep_cmd.c */
    rc = rc                          ? EXIT_RUNFAIL
         : pf_cli_has_sweep(argc, argv) ? pf_cli_sweep(argc, argv)
                                        : cmd_run(argc, argv);
    pf_comm_finalize();
    return rc;
  }
  if (strcmp(cmd, "list") == 0) return cmd_list(argc, argv);
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 ||
      strcmp(cmd, "--help") == 0)
    return cmd_help(argc, argv);
  if (strcmp(cmd, "info") == 0) return cmd_info(argc, argv);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("pflow %s\n", PF_VERSION);
    return 0;
  }
  const char *cmds[] = {"run", "check", "list", "help", "info", "version"};
  size_t s = pf_suggest(cmd, cmds, 6);
  if (s < 6)
    fprintf(stderr, "pflow: unknown command '%s'; did you mean '%s'?\n", cmd,
            cmds[s]);
  else
    fprintf(stderr, "pflow: unknown command '%s'\n", cmd);
  fputs(usage, stderr);
  return EXIT_USAGE;
}
