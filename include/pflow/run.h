/* Running an experiment: from a validated config to an output file. */
#ifndef PFLOW_RUN_H
#define PFLOW_RUN_H

#include <stdio.h>

#include "pflow/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The root spec of a config file: seed, target, sampler, diagnostics,
 * output. */
extern const pf_param pf_root_params[];

typedef struct pf_run_result {
  long iterations;   /* iterations completed */
  int signal;        /* signal that interrupted the run, 0 if none */
  double seconds;    /* wall time of the sampling loop */
  char path[1024];   /* output file written */
  size_t n_last;     /* diagnostics columns recorded last: */
  const char *last_names[64]; /* static strings owned by the plug-ins */
  double last_values[64];
  long last_iteration;
  int preempted;     /* stopped by SIGTERM/SIGUSR1 after a checkpoint */
} pf_run_result;

/* Run the experiment described by the validated config c.  Progress goes to
 * `progress` (NULL: silent).  Returns 0, PF_EINTR after SIGINT/SIGTERM (the
 * output is flushed and marked interrupted; with output.checkpoint_signals
 * SIGTERM and SIGUSR1 first write <path>.ckpt, mark the output preempted
 * and set res->preempted), or another error (a file
 * already written is marked failed).  Config problems found while building
 * the run are reported before the output file is created.  Installs
 * SIGINT/SIGTERM handlers for its duration.  Not thread-safe. */
int pf_run(const pf_config *c, FILE *progress, pf_run_result *res);

/* Continue the run whose output is `output` from its checkpoint
 * `<output>.ckpt` (core/checkpoint.c): the config is the output's root
 * attribute `config` (with output.path set to `output`); the output is cut
 * back to the checkpoint's cursor and extended, bit for bit as if the run
 * had never stopped.  Errors (missing or corrupted checkpoint, a
 * checkpoint of another run, a completed output) are raised before the
 * output is modified.  Returns like pf_run. */
int pf_run_resume(const char *output, FILE *progress, pf_run_result *res);

#ifdef __cplusplus
}
#endif
#endif
