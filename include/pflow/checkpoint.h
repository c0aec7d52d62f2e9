/* Checkpoints: the complete mutable state of a run (particles with their
 * PCG streams, the sampler's and the target's own state, the runner's
 * output cursor) written atomically to `<output>.ckpt` (an HDF5 file), so
 * `pflow run --resume OUTPUT` continues bit for bit as if the run had never
 * stopped.
 *
 * State is described, not serialized by hand: each stateful component
 * offers a `state(obj, visitor)` function that names its mutable buffers
 * (pf_state_f64(v, "opt.v", o->v, n * d), ...).  The same function saves
 * (the visitor reads the buffers) and restores (the visitor writes them in
 * place), so a field cannot be saved but forgotten on load.  Only what a
 * freshly created and initialized object does not already hold needs to be
 * named: on resume the runner rebuilds everything exactly as at the start
 * (create, initial particles, init) and then loads the checkpoint over it.
 * Workspaces that every step overwrites before reading are left out. */
#ifndef PFLOW_CHECKPOINT_H
#define PFLOW_CHECKPOINT_H

#include <stddef.h>
#include <stdio.h>

#include "pflow/config.h"
#include "pflow/particles.h"
#include "pflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of state buffers.  I64 is any 8-byte signed integer (long
 * long, int64_t, long on LP64); SIZE is size_t. */
typedef enum pf_state_type {
  PF_STATE_F64,
  PF_STATE_I64,
  PF_STATE_INT,
  PF_STATE_SIZE,
  PF_STATE_U8,
  PF_STATE_RNG
} pf_state_type;

/* A visitor over named buffers.  `buffer` is called once per buffer with
 * its name (unique within the component; letters, digits, '_' and '.'),
 * type, address and element count; it returns 0 or a PF_E* code (loading:
 * PF_EINVAL for a missing buffer or a different count).  `loading` tells a
 * component whether the buffers are being restored, e.g. to refresh a
 * derived value afterwards. */
typedef struct pf_state_visitor pf_state_visitor;
struct pf_state_visitor {
  int (*buffer)(pf_state_visitor *v, const char *name, pf_state_type type,
                void *data, size_t count);
  void *ctx;
  int loading;
};

/* Typed shorthands for v->buffer (they check the pointer types). */
int pf_state_f64(pf_state_visitor *v, const char *name, double *data,
                 size_t count);
int pf_state_i64(pf_state_visitor *v, const char *name, long long *data,
                 size_t count);
int pf_state_int(pf_state_visitor *v, const char *name, int *data,
                 size_t count);
int pf_state_size(pf_state_visitor *v, const char *name, size_t *data,
                  size_t count);
int pf_state_u8(pf_state_visitor *v, const char *name, unsigned char *data,
                size_t count);
int pf_state_rng(pf_state_visitor *v, const char *name, pf_rng *data,
                 size_t count);

/* The particles' state: x, logp, grad and the n streams. */
int pf_particles_state(pf_particles *p, pf_state_visitor *v);

/* ---- checkpoint files ------------------------------------------------ */

/* A checkpoint file open for writing (to `<path>.tmp`, made visible as
 * `path` by pf_ckpt_commit) or for reading.  Layout: root attributes
 * (format, format_version, iteration, config, config_hash, sampler, ...)
 * and one group per component (/particles, /sampler, /target, /runner)
 * holding a 1-D dataset per buffer (pf_rng: 4 uint64 words per stream:
 * state high, state low, increment high, increment low). */
typedef struct pf_ckpt pf_ckpt;

/* Start writing the checkpoint `path` (the data go to `<path>.tmp`, which
 * is truncated; `path` itself is untouched until commit).  Caller owns
 * *out (pf_ckpt_commit or pf_ckpt_close). */
int pf_ckpt_create(const char *path, pf_ckpt **out);
/* Open an existing checkpoint read-only.  PF_EIO naming the path when it
 * is missing, unreadable, not HDF5 or not a pflow checkpoint (wrong format
 * or version). */
int pf_ckpt_open(const char *path, pf_ckpt **out);
/* Visit component `group` ("particles", "sampler", ...) with fn: writing,
 * fn's buffers are stored; reading, they are loaded in place (errors name
 * the file, group and buffer). */
int pf_ckpt_section(pf_ckpt *c, const char *group,
                    int (*fn)(void *obj, pf_state_visitor *v), void *obj);
/* Root attributes. */
int pf_ckpt_set_int(pf_ckpt *c, const char *name, long long value);
int pf_ckpt_set_real(pf_ckpt *c, const char *name, double value);
int pf_ckpt_set_str(pf_ckpt *c, const char *name, const char *value);
int pf_ckpt_get_int(pf_ckpt *c, const char *name, long long *value);
int pf_ckpt_get_real(pf_ckpt *c, const char *name, double *value);
/* *value is malloc'ed (caller frees). */
int pf_ckpt_get_str(pf_ckpt *c, const char *name, char **value);
/* Writing: close `<path>.tmp`, fsync it, rename it over `path` and fsync
 * the directory, so `path` is always either the previous complete
 * checkpoint or the new complete one.  Frees *c (also on failure, after
 * removing the temporary file). */
int pf_ckpt_commit(pf_ckpt **c);
/* Close without committing (a written temporary file is removed).
 * NULL-safe. */
void pf_ckpt_close(pf_ckpt **c);

/* 64-bit FNV-1a hash of a string as 16 hex digits (the config hash). */
void pf_ckpt_hash(const char *text, char out[17]);

/* ---- running from a checkpoint (core/run.c, core/checkpoint.c) ------- */

/* Options of the run driver beyond pf_run's. */
typedef struct pf_run_opts {
  int resume;       /* continue the output named by output.path from its
                       checkpoint instead of creating it */
  long stop_after;  /* > 0: checkpoint and stop as if preempted after this
                       many iterations of this invocation (tests, time
                       slicing) */
  const char *config_text; /* resume: the output's `config` attribute,
                              which identifies the run in checkpoints */
} pf_run_opts;

struct pf_run_result;
/* pf_run with options (internal; pf_run and pf_run_resume call it). */
int pf__run(const pf_config *c, FILE *progress, struct pf_run_result *res,
            const pf_run_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
