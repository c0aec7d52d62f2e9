/* `pflow run|check CONFIG [overrides] --sweep ...`: sweeps on the command
 * line (cli/sweep_cmd.c; the sweep grammar is in include/pflow/sweep.h). */
#ifndef PFLOW_CLI_SWEEP_CMD_H
#define PFLOW_CLI_SWEEP_CMD_H

/* 1 when argv[3..] holds --sweep, --sweep-count or --sweep-index (in any
 * spelling, including a misspelled --sweep... option, so the sweep code
 * reports it). */
int pf_cli_has_sweep(int argc, char **argv);

/* Handle `pflow run|check` (argv[1]) with sweep options; returns the exit
 * code: 0 ok, 1 a job failed (or an output exists), 2 usage or config
 * error (before any job ran), 75 preempted (the job was checkpointed),
 * 128+signal when interrupted. */
int pf_cli_sweep(int argc, char **argv);

#endif
