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
} pf_run_result;

/* Run the experiment described by the validated config c.  Progress goes to
 * `progress` (NULL: silent).  Returns 0, PF_EINTR after SIGINT/SIGTERM (the
 * output is flushed and marked interrupted), or another error (a file
 * already written is marked failed).  Config problems found while building
 * the run are reported before the output file is created.  Installs
 * SIGINT/SIGTERM handlers for its duration.  Not thread-safe. */
int pf_run(const pf_config *c, FILE *progress, pf_run_result *res);

#ifdef __cplusplus
}
#endif
#endif
