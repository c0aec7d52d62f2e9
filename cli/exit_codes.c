/* Exit codes and the error report of the pflow program (exit_codes.h). */
#include "exit_codes.h"

#include <stdio.h>
#include <stdlib.h>

#include "pflow/error.h"
#include "pflow/run.h"

void pf__cli_report(int rc)
{
  fprintf(stderr, "pflow: error: %s\n", pf_error_message());
  if (getenv("PFLOW_DEBUG"))
    fprintf(stderr, "%s", pf_error_trace());
  else
    fprintf(stderr, "  (%s at %s)\n", pf_err_name(rc), pf_error_where());
}

int pf__cli_exit_code(int rc)
{
  switch (rc) {
  case PF_ECONFIG:
  case PF_EPARSE:
  case PF_EUSAGE:
  case PF_ENOTFOUND:
    return EXIT_USAGE;
  default:
    return EXIT_RUNFAIL;
  }
}

int pf__cli_run_failed(int rc, const pf_run_result *res)
{
  if (rc == PF_EINTR && res->preempted) {
    /* Checkpointed (core/checkpoint.c): `pflow run --resume <path>`. */
    fprintf(stderr, "pflow: %s\n", pf_error_message());
    return EXIT_TEMPFAIL;
  }
  if (rc == PF_EINTR) {
    fprintf(stderr, "pflow: interrupted by signal %d after %ld iterations; "
                    "%s is valid and marked interrupted\n",
            res->signal, res->iterations, res->path);
    return 128 + res->signal;
  }
  pf__cli_report(rc);
  return pf__cli_exit_code(rc);
}
