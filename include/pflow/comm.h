/* The communicator: pflow's only contact with MPI.  Built with MPI when
 * PF_MPI is defined (`make MPI=1`), otherwise every function is a trivial
 * single-rank implementation, so the serial build needs no MPI.
 *
 * Two ways a run spreads over R ranks (core/run.c decides):
 *  - sharded (independent chains, PF_SAMPLER_CHAINS): rank r owns chains
 *    [n r / R, n (r+1) / R) with their own PCG streams (global index), and
 *    cross-chain quantities go through pf_comm_ordered_sum (gathered, then
 *    summed in global index order) or exact integer sums;
 *  - replicated (interacting particles): every rank holds the whole set and
 *    performs the same O(n d) work; the O(n^2 d) pairwise rows are split by
 *    i-tiles (pf_comm_tiles) and the rows all-gathered (pf_comm_share_tiles),
 *    so each row's j-sum is the serial one, bit for bit.
 *
 * Results are bitwise identical for any rank count: no MPI reduction on
 * floating values except sums of integers (exact).  Every function is
 * collective unless it says otherwise: all ranks call it in the same order.
 * Not thread-safe: call from the main thread (MPI_THREAD_FUNNELED). */
#ifndef PFLOW_COMM_H
#define PFLOW_COMM_H

#include <stddef.h>

#include "pflow/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialize MPI (if built with it and not yet initialized; a no-op
 * otherwise) and make the output of ranks other than 0 go to /dev/null
 * (stdout and stderr; PFLOW_ALL_RANKS=1 keeps them), so only rank 0 prints.
 * Call once from main before anything else; pf_comm_finalize at exit. */
int pf_comm_init(int *argc, char ***argv);
void pf_comm_finalize(void);

/* Rank and size (0 and 1 in the serial build or before init). Local. */
int pf_comm_rank(void);
int pf_comm_size(void);
/* "mpi" or "serial". Local. */
const char *pf_comm_backend(void);

/* The contiguous block [*lo, *hi) of n items owned by `rank`:
 * [n rank / R, n (rank+1) / R).  Local. */
void pf_comm_block(size_t n, int rank, size_t *lo, size_t *hi);

/* Replicated mode (interacting samplers): when on and R > 1, the pairwise
 * engine computes only this rank's i-tiles.  Local; set by the run driver
 * on every rank alike. */
void pf_comm_set_replicated(int on);
int pf_comm_replicated(void);

/* i-tiles [*lo, *hi) of nt this rank computes: the block of nt in
 * replicated mode with R > 1, else all.  Local. */
void pf_comm_tiles(size_t nt, size_t *lo, size_t *hi);

/* After each rank filled the rows of its i-tiles (pf_comm_tiles) of the
 * n x d row-major `rows` (tile = rows per tile), give every rank all rows
 * (MPI_Allgatherv in place).  A no-op unless replicated with R > 1. */
int pf_comm_share_tiles(double *rows, size_t n, size_t d, size_t tile);

/* Sharded gather: each rank passes its block (pf_comm_block of n) of
 * `width` doubles per row; full (n x width) receives every block in rank
 * order on every rank (all = 1) or only on rank 0 (all = 0).  In the
 * serial build it copies local into full (when they differ). */
int pf_comm_gather_rows(const double *local, size_t n, size_t width,
                        double *full, int all);

/* Gather `bytes` bytes of every rank to rank 0, in rank order
 * (checkpoints): on rank 0 *full (malloc'ed, caller frees) receives the
 * concatenation and counts (pf_comm_size() entries, may be NULL) each
 * rank's byte count; elsewhere *full = NULL.  One rank: a copy. */
int pf_comm_gather_bytes(const void *local, size_t bytes, void **full,
                         size_t *counts);

/* Sum of the n_local values of every rank's block, in global index order
 * (gathered, then summed left to right, so the result does not depend on
 * R).  *n_total: the number of values summed.  The gather buffer is grown
 * on the first call of a size and reused. */
int pf_comm_ordered_sum(const double *v, size_t n_local, double *sum,
                        size_t *n_total);

/* Sum over ranks of integer-valued doubles (counts below 2^53: exact in any
 * order). */
double pf_comm_sum_counts(double v);

/* Minimum / maximum over ranks. */
unsigned long long pf_comm_min_u64(unsigned long long v);
int pf_comm_max_int(int v);

/* Agree on an error: if any rank has rc != 0, every rank returns the error
 * of the lowest such rank, with its message (prefixed "rank k: " on the
 * other ranks).  Returns 0 when all ranks succeeded. */
int pf_comm_agree(int rc);

/* Rank 0 reads the config file and broadcasts its text; every rank parses
 * it (messages name `path` as pf_config_load would). */
int pf_comm_config_load(const char *path, pf_config **out);

/* Broadcast `bytes` bytes of buf from rank 0 of the current communicator
 * (a no-op on one rank). */
int pf_comm_bcast(void *buf, size_t bytes);

/* Run on a sub-communicator (sweeps across rank groups, cli/sweep_cmd.c):
 * collective over the current communicator, which is split by `color`
 * (ranks ordered by `key`) as MPI_Comm_split does; afterwards rank, size
 * and every collective here (and parallel HDF5 output) refer to this
 * rank's group.  pf_comm_unsplit (collective over the group) returns to the
 * communicator before the split.  One level only.  In the serial build
 * both are no-ops. */
int pf_comm_split(int color, int key);
void pf_comm_unsplit(void);

/* Seconds spent inside communication calls since the last reset (local
 * wall time around the MPI calls, including waiting for other ranks). */
double pf_comm_seconds(void);
void pf_comm_reset_seconds(void);

#ifdef PF_MPI
#include <mpi.h>
/* The current communicator (the world, or this rank's group after
 * pf_comm_split), for MPI-aware I/O (io/h5out.c). Local. */
MPI_Comm pf_comm_mpi(void);
#endif

#ifdef __cplusplus
}
#endif
#endif
