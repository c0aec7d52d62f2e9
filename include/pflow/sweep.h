/* Parameter sweeps for convergence studies: `--sweep KEY=V1,V2,...` and
 * `--sweep KEY=range(a,b[,step])` flags expanded into the Cartesian product
 * of numbered jobs, each a normal run whose config is the base config plus
 * the fixed overrides plus the job's overrides, with its own output file
 * <dir>/job-NNNN.h5 and one manifest <dir>/sweep.json.
 *
 * Value grammar of one flag (after the first '='):
 *   V1,V2,...            a list, split at top-level commas: commas inside
 *                        [..], {..} or quotes do not split, so
 *                        `target.mean=[0,0],[1,1]` has two values and
 *                        `name='a,b'` one.  Each value is a YAML flow value,
 *                        exactly as in a `key=value` override.
 *   range(stop) | range(start,stop[,step])
 *                        integers start, start+step, ... < stop (> stop for
 *                        a negative step), as Python's range and Hydra's.
 *   linspace(a,b,n)      n reals evenly spaced from a to b inclusive
 *                        (numpy.linspace).
 *   logspace(a,b,n)      n reals 10^a ... 10^b, evenly spaced exponents
 *                        (numpy.logspace): logspace(-3,-1,3) = 0.001, 0.01,
 *                        0.1.
 * Reals are printed with the shortest text that reads back to the same
 * double, so the resolved config and the manifest show e.g. 0.01.
 *
 * Job order: the first flag varies slowest (nested loops, row-major):
 * with flags A (nA values) and B (nB values), job j has A's value j / nB
 * and B's value j % nB. */
#ifndef PFLOW_SWEEP_H
#define PFLOW_SWEEP_H

#include <stddef.h>

#include "pflow/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_sweep pf_sweep;

/* Largest number of jobs a sweep may expand to. */
#define PF_SWEEP_MAX_JOBS 10000000u

/* An empty sweep (0 axes, count 1).  The caller owns *out. */
int pf_sweep_create(pf_sweep **out);
/* NULL-safe; NULLs *s. */
void pf_sweep_destroy(pf_sweep **s);

/* Add one axis from the text of a --sweep flag ("KEY=VALUES").  `argi` is
 * the command-line position reported in messages.  Malformed text, an
 * empty range, a key swept twice, `output.path` (each job gets its own) or
 * a product above PF_SWEEP_MAX_JOBS raise PF_EUSAGE naming the flag.  Keys
 * are not checked here: applying a value to a config and validating it
 * does that (see pf_sweep_blame).  Not thread-safe on the same sweep. */
int pf_sweep_add(pf_sweep *s, const char *spec, int argi);

/* Number of axes (flags) and jobs (product of the axis lengths; 1 for no
 * axes). */
size_t pf_sweep_axes(const pf_sweep *s);
size_t pf_sweep_count(const pf_sweep *s);

/* Axis k: its key, the flag text as given, its argument position, its
 * number of values and value v (YAML text).  Borrowed strings. */
const char *pf_sweep_axis_key(const pf_sweep *s, size_t k);
const char *pf_sweep_axis_spec(const pf_sweep *s, size_t k);
int pf_sweep_axis_argi(const pf_sweep *s, size_t k);
size_t pf_sweep_axis_len(const pf_sweep *s, size_t k);
const char *pf_sweep_axis_value(const pf_sweep *s, size_t k, size_t v);

/* Index into axis k's values of job `job` (first axis slowest). */
size_t pf_sweep_value_index(const pf_sweep *s, size_t job, size_t k);

/* Apply axis k's value v as an override "KEY=VALUE" to c. */
int pf_sweep_apply_value(const pf_sweep *s, size_t k, size_t v, pf_config *c);
/* Apply every axis's value of job `job` to c (raises PF_EINVAL for a job
 * out of range). */
int pf_sweep_apply(const pf_sweep *s, size_t job, pf_config *c);

/* Re-raise the current error (code rc, e.g. from validating a config with
 * axis k's value v applied) as an error naming the flag, its position, the
 * key and the value: "--sweep 'KEY=...' (argument 5), value 'abc': <the
 * validation message>".  Returns rc. */
int pf_sweep_blame(const pf_sweep *s, size_t k, size_t v, int rc);

/* "KEY=VALUE KEY=VALUE" of job `job` into buf (truncated to cap). */
void pf_sweep_job_label(const pf_sweep *s, size_t job, char *buf, size_t cap);

/* The sweep directory of a base output path: the path without its
 * extension ("runs/x.h5" -> "runs/x"; "out" -> "out.sweep" so the directory
 * never collides with a file of the same name). */
int pf_sweep_dir(const char *output_path, char *buf, size_t cap);
/* File name (no directory) of job `job`: "job-0003.h5", zero-padded to 4
 * digits or as many as n_jobs - 1 needs. */
int pf_sweep_job_file(size_t job, size_t n_jobs, char *buf, size_t cap);

/* Write <dir>/sweep.json: the config path, the fixed overrides, the axes
 * and, for each job, its index, file name (relative to dir) and overrides.
 * The text is deterministic (no time stamps), so every task of a job array
 * produces the same bytes: an existing identical manifest is left alone; a
 * different one raises PF_EEXIST unless `overwrite`.  Written atomically
 * (temporary file, fsync, rename).  Creates dir (and parents). */
int pf_sweep_write_manifest(const pf_sweep *s, const char *config_path,
                            int n_fixed, char *const *fixed, const char *dir,
                            int overwrite);

/* Parse a job index given as text (`what` names its source in messages,
 * e.g. "--sweep-index" or "SLURM_ARRAY_TASK_ID"): a non-negative decimal
 * integer below n, else PF_EUSAGE with a message giving the valid range. */
int pf_sweep_parse_index(const char *text, const char *what, size_t n,
                         size_t *out);

/* How the jobs of a sweep are shared among `size` processes (MPI ranks):
 * the ranks form n_groups contiguous groups of about ranks_per_job ranks
 * (0: one rank per job); group g runs jobs g, g + n_groups, g + 2 n_groups,
 * ... with its ranks together (color `group` and key `group_rank` for
 * MPI_Comm_split; group_rank 0 leads and prints).  rank 0, size 1 gives
 * every job in order. */
typedef struct pf_sweep_share {
  int group, n_groups;     /* this rank's group; number of groups */
  int group_rank, group_size;
  size_t first, stride;    /* jobs first, first + stride, ... < n_jobs */
} pf_sweep_share;
int pf_sweep_share_for(size_t n_jobs, int rank, int size, int ranks_per_job,
                       pf_sweep_share *out);

#ifdef __cplusplus
}
#endif
#endif
