/* MPI: the communicator's single-rank behaviour (this build) and the
 * multi-rank reproducibility checks of tests/mpi/run.sh, which run the MPI
 * build ($PF_MPI_PFLOW, made by `make test` when MPI is installed) under
 * mpirun and compare every output dataset with the serial build's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/comm.h"
#include "pflow/error.h"
#include "pflow/io.h"

/* In a process that did not start under mpirun (or the serial build) the
 * communicator is one rank: blocks are everything, sums are the plain
 * left-to-right sums, gathers copy. */
static int comm_single_rank(void)
{
  size_t lo, hi;
  PF_T_ASSERT(pf_comm_size() == 1 && pf_comm_rank() == 0, "size %d",
              pf_comm_size());
  pf_comm_block(17, 0, &lo, &hi);
  PF_T_ASSERT(lo == 0 && hi == 17, "block [%zu, %zu)", lo, hi);
  pf_comm_set_replicated(1);
  pf_comm_tiles(5, &lo, &hi);
  pf_comm_set_replicated(0);
  PF_T_ASSERT(lo == 0 && hi == 5, "tiles [%zu, %zu)", lo, hi);
  double v[5] = {1e16, 1.0, -1e16, 0.5, 0.25}, s, ref = 0.0, full[5];
  size_t nt;
  for (int i = 0; i < 5; i++) ref += v[i];
  PF_T_ASSERT(pf_comm_ordered_sum(v, 5, &s, &nt) == 0, "ordered sum");
  PF_T_ASSERT(memcmp(&s, &ref, sizeof s) == 0 && nt == 5,
              "ordered sum %.17g vs %.17g", s, ref);
  PF_T_ASSERT(pf_comm_gather_rows(v, 5, 1, full, 1) == 0 &&
                  memcmp(v, full, sizeof v) == 0, "gather copies");
  PF_T_ASSERT(pf_comm_sum_counts(3.0) == 3.0 && pf_comm_agree(0) == 0 &&
                  pf_comm_max_int(4) == 4 && pf_comm_min_u64(9) == 9,
              "reductions");
  return 0;
}

/* One rank: a sub-communicator is the same rank, a broadcast changes
 * nothing, and a split output variable is a plain one (the whole axis is
 * this rank's; pf_h5_var_split), which refuses an unlimited split axis. */
static int split_single_rank(void)
{
  double b = 2.5;
  PF_T_ASSERT(pf_comm_bcast(&b, sizeof b) == 0 && b == 2.5, "bcast");
  PF_T_ASSERT(pf_comm_split(3, 0) == 0 && pf_comm_size() == 1 &&
                  pf_comm_rank() == 0, "split");
  pf_comm_unsplit();
  char path[1024];
  snprintf(path, sizeof path, "%s/split.h5", pf_test_tmpdir());
  pf_h5 *h = NULL;
  pf_h5var *v = NULL, *bad = NULL;
  static const char *const dims[] = {"chain", "draw", "x_dim_0"};
  static const char *const bdims[] = {"draw", "x_dim_0"};
  double rec[6] = {1, 2, 3, 4, 5, 6}, *X = NULL;
  size_t rows = 0, cols = 0;
  PF_T_ASSERT(pf_h5_create_io(path, 1, PF_H5_IO_COLLECTIVE, &h) == 0 &&
                  pf_h5_dim(h, "posterior", "chain", 3, 0) == 0 &&
                  pf_h5_dim(h, "posterior", "draw", 0, 1) == 0 &&
                  pf_h5_dim(h, "posterior", "x_dim_0", 2, 0) == 0 &&
                  pf_h5_var_split(h, "posterior", "x", PF_H5_F64, 3, dims, 0,
                                  &v) == 0,
              "create: %s", pf_error_message());
  PF_T_ASSERT(pf_h5_var_split(h, "posterior", "y", PF_H5_F64, 2, bdims, 0,
                              &bad) == PF_EINVAL && !bad,
              "an unlimited split axis is refused");
  for (int k = 0; k < 2; k++) {
    PF_T_ASSERT(pf_h5_dim_append(h, "posterior", "draw", k) == 0 &&
                    pf_h5_var_append(v, rec) == 0,
                "append: %s", pf_error_message());
    for (int i = 0; i < 6; i++) rec[i] += 10;
  }
  PF_T_ASSERT(pf_h5_close(&h) == 0, "close");
  PF_T_ASSERT(pf_h5_read_matrix(path, "/posterior/x", &X, &rows, &cols) == 0,
              "read: %s", pf_error_message());
  /* (chain, draw, dim) flattened: chain 1 draw 1 = 3 + 10, 4 + 10 */
  int ok = rows == 6 && cols == 2 && X[0] == 1 && X[3] == 12 && X[4] == 3 &&
           X[7] == 14 && X[11] == 16;
  free(X);
  PF_T_ASSERT(ok, "read back %zu x %zu", rows, cols);
  return 0;
}

/* 1, 2, 3 ranks x 1, 2 threads: bitwise equal datasets for mala, svgd and
 * msvgd; agreed errors.  Skipped (with the reason printed) when there is no
 * MPI build. */
static int ranks_bitwise(void)
{
  const char *mp = getenv("PF_MPI_PFLOW");
  if (!mp || !*mp) mp = "build/mpi/pflow";
  const char *T = pf_test_tmpdir();
  int rc = pf_test_sh("sh tests/mpi/run.sh '%s' '%s' '%s/mpi' >'%s/mpi.log' 2>&1",
                      mp, pf_test_pflow(), T, T);
  pf_test_sh("sed 's/^/    /' '%s/mpi.log'", T); /* the checks, or why skipped */
  return rc == 77 ? 0 : rc;
}

const pf_test_case pf_tests_mpi[] = {{"comm_single_rank", comm_single_rank},
                                     {"split_single_rank",
                                      split_single_rank},
                                     {"ranks_bitwise", ranks_bitwise},
                                     {NULL, NULL}};
