/* The pflow program's exit codes and error report, shared by the commands
 * in cli/main.c and the sweeps in cli/sweep_cmd.c. */
#ifndef PFLOW_CLI_EXIT_CODES_H
#define PFLOW_CLI_EXIT_CODES_H

/* 0 ok; 1 run failed; 2 usage or config error; 75 preempted (EX_TEMPFAIL:
 * a checkpoint was written, requeue with `run --resume`). */
enum { EXIT_RUNFAIL = 1, EXIT_USAGE = 2, EXIT_TEMPFAIL = 75 };

/* Print the current error (pf_error_message) to stderr with its source
 * location, or the whole trace when PFLOW_DEBUG is set. */
void pf__cli_report(int rc);

/* The exit code of a failed command: usage/config errors give 2, anything
 * else 1. */
int pf__cli_exit_code(int rc);

struct pf_run_result;
/* Report a failed run (rc < 0 from pf_run / pf_run_resume) and return its
 * exit code: 75 after a preemption checkpoint, 128 + signal after an
 * interruption (the output stays valid and marked interrupted), else as
 * pf__cli_exit_code. */
int pf__cli_run_failed(int rc, const struct pf_run_result *res);

#endif
