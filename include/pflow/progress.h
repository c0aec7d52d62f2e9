/* Progress reporting on a stream: a redrawn bar with it/s, ETA and the
 * latest diagnostic on a terminal; a plain line every `refresh` iterations
 * otherwise. */
#ifndef PFLOW_PROGRESS_H
#define PFLOW_PROGRESS_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_progress pf_progress;

/* total: iterations planned; refresh: iterations between plain lines.
 * f NULL gives a silent reporter.  Caller owns *out. */
int pf_progress_create(FILE *f, long total, long refresh, pf_progress **out);
/* Report that iteration `iter` finished; `note` (may be NULL) is the latest
 * diagnostic text, e.g. "mean_err=0.012". */
void pf_progress_update(pf_progress *p, long iter, const char *note);
/* Final line with the total time. */
void pf_progress_finish(pf_progress *p, long iter, const char *status);
void pf_progress_destroy(pf_progress **p);
/* Monotonic wall clock in seconds. */
double pf_wtime(void);

#ifdef __cplusplus
}
#endif
#endif
