/* The communicator (include/pflow/comm.h): MPI when PF_MPI is defined,
 * single-rank otherwise. */
#include "pflow/comm.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pflow/error.h"

#ifdef PF_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_replicated = 0, g_inited = 0;
static double g_seconds = 0.0;


int pf_comm_rank(void) { return g_rank; }
int pf_comm_size(void) { return g_size; }
double pf_comm_seconds(void) { return g_seconds; }
void pf_comm_reset_seconds(void) { g_seconds = 0.0; }
void pf_comm_set_replicated(int on) { g_replicated = on; }
int pf_comm_replicated(void) { return g_replicated; }

const char *pf_comm_backend(void)
{
#ifdef PF_MPI
  return "mpi";
#else
  return "serial";
#endif
}

void pf_comm_block(size_t n, int rank, size_t *lo, size_t *hi)
{
  /* 128-bit products: n * rank overflows 64 bits only for absurd n, but the
   * split must be exact and identical everywhere. */
  *lo = (size_t)((unsigned __int128)n * (unsigned)rank / (unsigned)g_size);
  *hi = (size_t)((unsigned __int128)n * ((unsigned)rank + 1) /
                 (unsigned)g_size);
}

void pf_comm_tiles(size_t nt, size_t *lo, size_t *hi)
{
  if (g_replicated && g_size > 1) {
    pf_comm_block(nt, g_rank, lo, hi);
  } else {
    *lo = 0;
    *hi = nt;
  }
}

#ifdef PF_MPI

/* Per-rank counts and displacements (in doubles) for the v-collectives,
 * allocated at init for the communicator's size. */
static int *g_counts, *g_displs;

static double now(void) { return MPI_Wtime(); }
/* The current communicator: the world, or a group's (pf_comm_split). */
static MPI_Comm g_comm = MPI_COMM_NULL, g_parent = MPI_COMM_NULL;
static int g_parent_rank, g_parent_size;

MPI_Comm pf_comm_mpi(void)
{
  return g_comm == MPI_COMM_NULL ? MPI_COMM_WORLD : g_comm;
}
static double *g_scratch;
static size_t g_scratch_cap;

static void silence(FILE *f)
{
  if (!freopen("/dev/null", "w", f)) { /* keep the stream: nothing better */ }
}

int pf_comm_init(int *argc, char ***argv)
{
  int flag = 0, provided;
  if (g_inited) return 0;
  MPI_Initialized(&flag);
  if (!flag) MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_comm = MPI_COMM_WORLD;
  g_counts = calloc((size_t)g_size, sizeof(int));
  g_displs = calloc((size_t)g_size, sizeof(int));
  PF_CHECK(g_counts && g_displs, PF_ENOMEM, "communicator tables");
  g_inited = 1;
  const char *all = getenv("PFLOW_ALL_RANKS");
  if (g_rank != 0 && !(all && *all == '1')) {
    silence(stdout);
    silence(stderr);
  }
  return 0;
}

void pf_comm_finalize(void)
{
  if (!g_inited) return;
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
  free(g_counts);
  free(g_displs);
  free(g_scratch);
  g_counts = g_displs = NULL;
  g_scratch = NULL;
  g_scratch_cap = 0;
  g_inited = 0;
}

/* counts/displs for blocks of n rows of `width` doubles; block(r) decides
 * the rows of rank r. */
static int set_counts(size_t n, size_t width, size_t unit, size_t nunits)
{
  for (int r = 0; r < g_size; r++) {
    size_t lo, hi;
    pf_comm_block(nunits, r, &lo, &hi);
    lo *= unit;
    hi *= unit;
    if (lo > n) lo = n;
    if (hi > n) hi = n;
    PF_CHECK(hi * width <= (size_t)INT32_MAX, PF_EINVAL,
             "a gather of %zu x %zu doubles exceeds MPI's int counts", n,
             width);
    g_counts[r] = (int)((hi - lo) * width);
    g_displs[r] = (int)(lo * width);
  }
  return 0;
}

static int mpi_ok(int e, const char *what)
{
  if (e == MPI_SUCCESS) return 0;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(e, msg, &len);
  PF_RAISE(PF_EIO, "%s: %s", what, msg);
}

int pf_comm_share_tiles(double *rows, size_t n, size_t d, size_t tile)
{
  if (!g_replicated || g_size == 1) return 0;
  const size_t nt = (n + tile - 1) / tile;
  PF_TRY(set_counts(n, d, tile, nt));
  double t0 = now();
  int e = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows, g_counts,
                         g_displs, MPI_DOUBLE, g_comm);
  g_seconds += now() - t0;
  return mpi_ok(e, "all-gather of pairwise rows");
}

int pf_comm_gather_rows(const double *local, size_t n, size_t width,
                        double *full, int all)
{
  if (g_size == 1) { /* also without pf_comm_init (test programs) */
    if (full && full != local) memmove(full, local, n * width * sizeof *full);
    return 0;
  }
  PF_TRY(set_counts(n, width, 1, n));
  double t0 = now();
  int e;
  if (all)
    e = MPI_Allgatherv(local, g_counts[g_rank], MPI_DOUBLE, full, g_counts,
                       g_displs, MPI_DOUBLE, g_comm);
  else
    e = MPI_Gatherv(local, g_counts[g_rank], MPI_DOUBLE, full, g_counts,
                    g_displs, MPI_DOUBLE, 0, g_comm);
  g_seconds += now() - t0;
  return mpi_ok(e, "gather of particle rows");
}

int pf_comm_gather_bytes(const void *local, size_t bytes, void **full,
                         size_t *counts)
{
  *full = NULL;
  if (g_size == 1) {
    *full = malloc(bytes ? bytes : 1);
    PF_CHECK(*full, PF_ENOMEM, "gather buffer of %zu bytes", bytes);
    if (bytes) memcpy(*full, local, bytes);
    if (counts) counts[0] = bytes;
    return 0;
  }
  unsigned long long mine = bytes, *all = NULL;
  int rc = 0;
  if (g_rank == 0) {
    all = malloc((size_t)g_size * sizeof *all);
    if (!all) rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__, "counts");
  }
  PF_TRY(pf_comm_agree(rc));
  double t0 = now();
  MPI_Gather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all, 1,
             MPI_UNSIGNED_LONG_LONG, 0, g_comm);
  size_t total = 0;
  if (g_rank == 0) {
    for (int r = 0; r < g_size; r++) {
      if (all[r] > (unsigned long long)INT32_MAX ||
          total > (size_t)INT32_MAX - all[r])
        rc = pf__error_set(PF_EINVAL, __FILE__, __LINE__,
                           "a gather of %llu bytes from rank %d exceeds "
                           "MPI's int counts", all[r], r);
      g_counts[r] = (int)all[r];
      g_displs[r] = (int)total;
      total += (size_t)all[r];
      if (counts) counts[r] = (size_t)all[r];
    }
    if (rc == 0 && !(*full = malloc(total ? total : 1)))
      rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__,
                         "gather buffer of %zu bytes", total);
  }
  free(all);
  g_seconds += now() - t0;
  if ((rc = pf_comm_agree(rc)) != 0) {
    free(*full);
    *full = NULL;
    return rc;
  }
  t0 = now(); /* (rank 0 checked every count above) */
  int e = MPI_Gatherv(local, (int)bytes, MPI_BYTE, *full, g_counts, g_displs,
                      MPI_BYTE, 0, g_comm);
  g_seconds += now() - t0;
  return mpi_ok(e, "gather of checkpoint data");
}

int pf_comm_ordered_sum(const double *v, size_t n_local, double *sum,
                        size_t *n_total)
{
  double s = 0.0;
  if (g_size == 1) {
    for (size_t i = 0; i < n_local; i++) s += v[i];
    *sum = s;
    if (n_total) *n_total = n_local;
    return 0;
  }
  unsigned long long nl = n_local, nt = 0;
  double t0 = now();
  MPI_Allreduce(&nl, &nt, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, g_comm);
  g_seconds += now() - t0;
  if (nt > g_scratch_cap) {
    double *b = realloc(g_scratch, (size_t)nt * sizeof(double));
    PF_CHECK(b, PF_ENOMEM, "ordered-sum buffer of %llu doubles", nt);
    g_scratch = b;
    g_scratch_cap = (size_t)nt;
  }
  PF_TRY(pf_comm_gather_rows(v, (size_t)nt, 1, g_scratch, 1));
  for (size_t i = 0; i < (size_t)nt; i++) s += g_scratch[i];
  *sum = s;
  if (n_total) *n_total = (size_t)nt;
  return 0;
}

double pf_comm_sum_counts(double v)
{
  double out = v;
  if (g_size == 1) return v;
  double t0 = now();
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_SUM, g_comm);
  g_seconds += now() - t0;
  return out;
}

unsigned long long pf_comm_min_u64(unsigned long long v)
{
  unsigned long long out = v;
  if (g_size == 1) return v;
  MPI_Allreduce(&v, &out, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, g_comm);
  return out;
}

int pf_comm_max_int(int v)
{
  int out = v;
  if (g_size == 1) return v;
  MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, g_comm);
  return out;
}

int pf_comm_agree(int rc)
{
  if (g_size == 1) return rc;
  int mine = rc ? g_rank : g_size, src = g_size;
  double t0 = now();
  MPI_Allreduce(&mine, &src, 1, MPI_INT, MPI_MIN, g_comm);
  if (src == g_size) {
    g_seconds += now() - t0;
    return 0;
  }
  /* The failing rank's code and message, so every rank reports the same. */
  char msg[1024];
  int code = rc;
  if (g_rank == src) snprintf(msg, sizeof msg, "%s", pf_error_message());
  MPI_Bcast(&code, 1, MPI_INT, src, g_comm);
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, src, g_comm);
  g_seconds += now() - t0;
  if (g_rank == src) return rc;
  return pf__error_set(code, __FILE__, __LINE__, "rank %d: %s", src, msg);
}

int pf_comm_config_load(const char *path, pf_config **out)
{
  if (g_size == 1) return pf_config_load(path, out);
  /* Rank 0 reads; a read error is everyone's (same message). */
  char *text = NULL;
  long long len = -1;
  int rc = 0;
  if (g_rank == 0) {
    FILE *f = fopen(path, "rb");
    if (!f) {
      rc = pf__error_set(PF_EIO, __FILE__, __LINE__,
                         "cannot open config file '%s': %s", path,
                         strerror(errno));
    } else {
      size_t cap = 8192, n = 0, got;
      text = malloc(cap);
      while (text && (got = fread(text + n, 1, cap - 1 - n, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
          char *b = realloc(text, cap *= 2);
          if (!b) { free(text); text = NULL; }
          else text = b;
        }
      }
      if (!text)
        rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__,
                           "reading config file '%s'", path);
      else if (ferror(f))
        rc = pf__error_set(PF_EIO, __FILE__, __LINE__,
                           "cannot read config file '%s': %s", path,
                           strerror(errno));
      else {
        text[n] = '\0';
        len = (long long)n;
      }
      fclose(f);
    }
  }
  rc = pf_comm_agree(rc);
  if (rc) {
    free(text);
    return rc;
  }
  MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, g_comm);
  if (g_rank != 0) {
    text = malloc((size_t)len + 1);
    PF_CHECK(text, PF_ENOMEM, "config text of %lld bytes", len);
  }
  /* Chunks below INT_MAX bytes (a config is small; this is just safe). */
  for (long long off = 0; off < len; off += 1 << 30) {
    long long c = len - off < (1 << 30) ? len - off : (1 << 30);
    MPI_Bcast(text + off, (int)c, MPI_CHAR, 0, g_comm);
  }
  text[len] = '\0';
  rc = pf_config_load_string(text, path, out);
  free(text);
  return rc;
}

int pf_comm_bcast(void *buf, size_t bytes)
{
  if (g_size == 1 || bytes == 0) return 0;
  double t0 = now();
  int e = MPI_SUCCESS;
  for (size_t off = 0; off < bytes && e == MPI_SUCCESS; off += 1u << 30) {
    size_t c = bytes - off < (1u << 30) ? bytes - off : (1u << 30);
    e = MPI_Bcast((char *)buf + off, (int)c, MPI_BYTE, 0, g_comm);
  }
  g_seconds += now() - t0;
  return mpi_ok(e, "broadcast");
}

int pf_comm_split(int color, int key)
{
  if (!g_inited) return 0; /* no MPI (a test process): one rank */
  PF_CHECK(g_parent == MPI_COMM_NULL, PF_EINVAL,
           "pf_comm_split: already on a sub-communicator");
  MPI_Comm sub;
  int e = MPI_Comm_split(g_comm, color, key, &sub);
  PF_TRY(mpi_ok(e, "splitting the communicator"));
  g_parent = g_comm;
  g_parent_rank = g_rank;
  g_parent_size = g_size;
  g_comm = sub;
  MPI_Comm_rank(sub, &g_rank);
  MPI_Comm_size(sub, &g_size);
  return 0;
}

void pf_comm_unsplit(void)
{
  if (g_parent == MPI_COMM_NULL) return;
  MPI_Comm_free(&g_comm);
  g_comm = g_parent;
  g_parent = MPI_COMM_NULL;
  g_rank = g_parent_rank;
  g_size = g_parent_size;
}

#else /* serial build: one rank */

int pf_comm_bcast(void *buf, size_t bytes)
{
  (void)buf;
  (void)bytes;
  return 0;
}

int pf_comm_split(int color, int key)
{
  (void)color;
  (void)key;
  return 0;
}

void pf_comm_unsplit(void) {}


int pf_comm_init(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  g_inited = 1;
  return 0;
}

void pf_comm_finalize(void) { g_inited = 0; }

int pf_comm_share_tiles(double *rows, size_t n, size_t d, size_t tile)
{
  (void)rows;
  (void)n;
  (void)d;
  (void)tile;
  return 0;
}

int pf_comm_gather_bytes(const void *local, size_t bytes, void **full,
                         size_t *counts)
{
  *full = malloc(bytes ? bytes : 1);
  PF_CHECK(*full, PF_ENOMEM, "gather buffer of %zu bytes", bytes);
  if (bytes) memcpy(*full, local, bytes);
  if (counts) counts[0] = bytes;
  return 0;
}

int pf_comm_gather_rows(const double *local, size_t n, size_t width,
                        double *full, int all)
{
  (void)all;
  if (full != local) memmove(full, local, n * width * sizeof(double));
  return 0;
}

int pf_comm_ordered_sum(const double *v, size_t n_local, double *sum,
                        size_t *n_total)
{
  double s = 0.0;
  for (size_t i = 0; i < n_local; i++) s += v[i];
  *sum = s;
  if (n_total) *n_total = n_local;
  return 0;
}

double pf_comm_sum_counts(double v) { return v; }
unsigned long long pf_comm_min_u64(unsigned long long v) { return v; }
int pf_comm_max_int(int v) { return v; }
int pf_comm_agree(int rc) { return rc; }

int pf_comm_config_load(const char *path, pf_config **out)
{
  return pf_config_load(path, out);
}

#endif
