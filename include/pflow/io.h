/* HDF5 output: one file per run, laid out as netCDF-4 / ArviZ
 * InferenceData (groups posterior, sample_stats, trajectory, diagnostics,
 * ...).  Every axis is a netCDF dimension with an int64 coordinate variable
 * (HDF5 dimension scale with _Netcdf4Dimid), link and attribute creation
 * order are tracked and indexed, variables growing along an unlimited
 * dimension are chunked along it and extended record by record.
 *
 * Crash safety: the metadata cache never evicts between flushes, so the
 * file on disk always describes the state at the last pf_h5_flush(); a
 * process killed afterwards leaves a file that opens with every flushed
 * record.  A kill during a flush's own metadata writes (microseconds) can
 * lose that flush's records and, rarely, a few earlier ones (io/h5out.c has
 * the details; under MPI-IO, pf_h5_create_io, the window is wider).  Not
 * thread-safe: call from one thread. */
#ifndef PFLOW_IO_H
#define PFLOW_IO_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_h5 pf_h5;
typedef struct pf_h5var pf_h5var; /* owned by its pf_h5 */

typedef enum pf_h5type { PF_H5_F64, PF_H5_I64, PF_H5_I8 } pf_h5type;

/* Create the output file.  If `path` exists and overwrite is 0, raise
 * PF_EEXIST and leave the file untouched (the check is atomic: exclusive
 * create).  With overwrite the file is truncated.  Missing parent
 * directories are created.  The caller owns *out.  The root gets the ArviZ
 * attributes (see pf_h5_group) and the file is flushed, so it is valid from
 * here on.  HDF5's own error printing is turned off (errors come back as
 * PF_E* with HDF5's reason in pf_error_message()). */
int pf_h5_create(const char *path, int overwrite, pf_h5 **out);

/* Output backends of an MPI run (include/pflow/comm.h) with R > 1 ranks.
 * GATHER: rank 0 alone has the file; on the other ranks every call does
 * nothing except the gathers of split variables.  COLLECTIVE: every rank
 * opens the file with the MPI-IO driver and writes its own rows of split
 * variables (the rest by rank 0), all writes collective.  AUTO: collective.
 * With one rank (or the serial build) all three are the plain file.  The
 * files are the same either way (data, layout and chunk shapes). */
typedef enum pf_h5io {
  PF_H5_IO_AUTO,
  PF_H5_IO_GATHER,
  PF_H5_IO_COLLECTIVE
} pf_h5io;

/* pf_h5_create with a backend.  Collective over the ranks (with
 * COLLECTIVE, so is every later call on the handle: all ranks make the
 * same calls in the same order with the same arguments; attribute values
 * are taken from rank 0). */
int pf_h5_create_io(const char *path, int overwrite, pf_h5io io,
                    pf_h5 **out);

/* gzip level (0 = off, the default) for variables created afterwards:
 * shuffle + deflate.  Applies to fixed-size variables and to record
 * variables whose record is at least 4 KiB; those are chunked one record per
 * chunk so a compressed chunk is written once (a rewritten one changes size,
 * which would break crash safety).  Smaller records stay uncompressed. */
void pf_h5_set_compression(pf_h5 *h, int level);

/* Create group `group` (a path without leading '/', e.g. "posterior") if
 * missing, with the ArviZ group attributes (created_at, inference_library,
 * inference_library_version). */
int pf_h5_group(pf_h5 *h, const char *group);

/* Attributes on the root (group NULL or "") or on a group; created or
 * replaced (delete + create: the type may change).  Strings are scalar
 * UTF-8 variable-length, integers int64, reals float64.  Each call flushes
 * (a replaced attribute frees file space the last flush still refers to). */
int pf_h5_attr_str(pf_h5 *h, const char *group, const char *name,
                   const char *value);
int pf_h5_attr_int(pf_h5 *h, const char *group, const char *name,
                   long long value);
int pf_h5_attr_real(pf_h5 *h, const char *group, const char *name,
                    double value);

/* Define dimension `name` in `group` with its int64 coordinate variable.
 * Fixed: len values 0..len-1.  Unlimited (len ignored): starts empty and
 * grows with pf_h5_dim_append.  Creates the group if missing. */
int pf_h5_dim(pf_h5 *h, const char *group, const char *name, size_t len,
              int unlimited);

/* Append one coordinate value to an unlimited dimension (e.g. the iteration
 * number), growing it by one. */
int pf_h5_dim_append(pf_h5 *h, const char *group, const char *name,
                     long long coord);

/* Create variable `name` in `group` over the named dimensions (defined
 * before, in that group; at most one unlimited).  Dimension scales are
 * attached.  The handle is owned by h.  Optional attributes (units,
 * long_name) can be set with pf_h5_attr_* on "group/name". */
int pf_h5_var(pf_h5 *h, const char *group, const char *name, pf_h5type type,
              int ndims, const char *const *dims, pf_h5var **out);

/* pf_h5_var for a variable whose axis `split` (a fixed dimension; the
 * axes before it of length 1 or unlimited; float64) is split across MPI
 * ranks: rank r holds rows pf_comm_block(len, r, ...) of it, and
 * pf_h5_var_write / pf_h5_var_append take only those rows (C-contiguous,
 * the other axes whole).  With one rank it is pf_h5_var.  Under MPI every
 * write to it is collective (all ranks call it). */
int pf_h5_var_split(pf_h5 *h, const char *group, const char *name,
                    pf_h5type type, int ndims, const char *const *dims,
                    int split, pf_h5var **out);

/* Write the whole variable (no unlimited dimension); data is C-contiguous
 * of the variable's type (double, int64_t or int8_t). */
int pf_h5_var_write(pf_h5var *v, const void *data);

/* Write one record: the slice at the last index of the variable's unlimited
 * dimension (after pf_h5_dim_append grew it), extending the variable to the
 * dimension's length.  data holds the remaining axes in order,
 * C-contiguous. */
int pf_h5_var_append(pf_h5var *v, const void *data);

/* Flush everything to disk (H5Fflush, global scope). */
int pf_h5_flush(pf_h5 *h);

/* Close the file (flushes).  NULL-safe; clears the pointer. */
int pf_h5_close(pf_h5 **h);

/* ---- reopening a pflow output for appending (`pflow run --resume`) ---- */

/* Open `path`, written by pf_h5_create, read-write with the same crash
 * safety (under MPI: collective; rank 0 opens the file and the others get
 * its dimensions, i.e. the gather backend of pf_h5_create_io); remove every root group whose name is not in the NULL-terminated
 * list `keep` (the groups a run writes only when it ends); register the
 * remaining dimensions so pf_h5_dim_append / pf_h5_dim and new variables
 * work as in the original run.  Raises PF_EIO when the file cannot be
 * opened (missing, locked by a running pflow, not HDF5).  Caller owns *out
 * (pf_h5_close). */
int pf_h5_open_append(const char *path, const char *const *keep,
                      pf_h5 **out);
/* Current length of a dimension (PF_ENOTFOUND when there is none). */
int pf_h5_dim_len(pf_h5 *h, const char *group, const char *name,
                  size_t *len);
/* Shrink unlimited dimension group/name to len records (PF_EINVAL when it
 * has fewer).  Variables over it are cut by pf_h5_var_open. */
int pf_h5_dim_truncate(pf_h5 *h, const char *group, const char *name,
                       size_t len);
/* Reopen existing variable group/name for appending (record variables) or
 * writing; a record variable longer than its dimension is cut to it.  The
 * handle is owned by h. */
int pf_h5_var_open(pf_h5 *h, const char *group, const char *name,
                   pf_h5var **out);
/* pf_h5_var_open for a variable created by pf_h5_var_split with axis
 * `split` (-1: none): under MPI (more than one rank) pf_h5_open_append
 * gives the gather backend, and appends and writes then take this rank's
 * block of rows along that axis, as with pf_h5_var_split.  Collective
 * under MPI. */
int pf_h5_var_open_split(pf_h5 *h, const char *group, const char *name,
                         int split, pf_h5var **out);
/* Delete an attribute of the root (group NULL) or a group if present;
 * flushes. */
int pf_h5_attr_delete(pf_h5 *h, const char *group, const char *name);

/* Read a numeric dataset of any HDF5 file as a row-major matrix of doubles
 * (io/h5read.c): 2-D (rows, cols); 1-D (rows, 1); 3-D (chain, draw, dim),
 * the pflow / ArviZ posterior layout, flattened to (chain * draw, dim).
 * *X is malloc'ed (caller frees).  Raises PF_EIO when the file is missing
 * or not HDF5, PF_ENOTFOUND when the dataset is absent, PF_EINVAL for other
 * ranks or non-numeric data; messages name the path and the dataset.
 * Opens read-only without file locking. */
int pf_h5_read_matrix(const char *path, const char *dataset, double **X,
                      size_t *rows, size_t *cols);

/* Print a summary of a pflow output file: status, provenance attributes,
 * each group's variables with dimensions and shapes, and for diagnostics
 * the first and last recorded values.  Raises PF_EIO on a file HDF5 cannot
 * open.  Opens without HDF5 file locking, so it also reads a file a running
 * pflow holds (best effort: it may catch a flush half-way). */
int pf_h5_info(const char *path, FILE *out);

/* Flags of pf_h5_summary. */
enum { PF_H5_SUMMARY_ALL = 1 /* every coordinate, not the first 20 */ };

/* Print the summary `pflow info` shows (in the manner of stansummary): the
 * run's status, target, sampler, seed, iterations, wall time and threads;
 * per coordinate of /posterior/x (or, when the run has not written it, of
 * the last trajectory snapshot) mean, sd, 5/50/95% quantiles, bulk/tail
 * ESS and R-hat (include/pflow/chains.h) with chains = particles and draws
 * = trajectory snapshots at iterations >= N/2, when there are >= 10 of
 * them; the last value of every /diagnostics variable; acceptance and
 * divergences from /sample_stats; warnings.  Missing groups are reported,
 * not errors.  Reads only the columns shown and the post-warm-up slice of
 * the trajectory (in blocks of <= 128 MiB).  Same file access as
 * pf_h5_info. */
int pf_h5_summary(const char *path, unsigned flags, FILE *out);

/* ---- numeric CSV tables and input files named in a config (io/csv.c,
 * io/input_path.c) ---------------------------------------------------- */

struct pf_node;

/* A numeric table read from a CSV file: a header row of column names, then
 * rows of numbers.  Owned by the caller (pf_csv_destroy). */
typedef struct pf_csv {
  size_t rows, cols;
  char **names;  /* cols column names (header fields, trimmed, unquoted) */
  double *data;  /* rows x cols, row-major */
  long *lines;   /* rows: the file line each row came from (for messages) */
} pf_csv;

/* Read `path`: comma separated, header row first, every later non-blank
 * line a row of `cols` finite numbers (strtod syntax; surrounding blanks,
 * a UTF-8 byte-order mark and CRLF line ends are accepted; quoting is only
 * understood around header names).  Errors: PF_EIO "cannot open 'PATH':
 * <reason>"; PF_EPARSE "PATH:LINE: column 'x': not a number ('abc')" (also
 * empty fields, non-finite values, wrong field counts, empty or duplicate
 * names, no data rows).  Thread-safe. */
int pf_csv_read(const char *path, pf_csv **out);
/* Free a table; NULL-safe, clears the pointer. */
void pf_csv_destroy(pf_csv **t);
/* Index of the column called `name`, or t->cols when there is none. */
size_t pf_csv_column(const pf_csv *t, const char *name);

/* Resolve the input file named by string key `key` of config mapping `cfg`
 * (e.g. target.data).  $NAME, ${NAME} and ${NAME:-default} are first
 * replaced from the environment (an unset NAME without default is a
 * PF_ECONFIG naming the key).  An absolute path is used as is; a relative
 * one is tried against the current working directory, then against the
 * directory of the config file the value was written in (not for values
 * from command-line overrides or strings).  The first that exists wins.
 * When none exists, raise `missing_code` (e.g. PF_EIO) with the key's
 * file:line:col, the path and the places tried.  *out (malloc'ed, caller
 * frees) always contains a '/' (a bare name becomes "./name"), so it can
 * be given to dlopen without a library search. */
int pf_input_path(const struct pf_node *cfg, const char *key,
                  int missing_code, char **out);

#ifdef __cplusplus
}
#endif
#endif
