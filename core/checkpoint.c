/* Checkpoint files (see include/pflow/checkpoint.h) and `--resume`.
 *
 * A checkpoint is a small HDF5 file, independent of the output file: the
 * output keeps its own crash-safety rules (io/h5out.c) and the checkpoint
 * only records how far the output is valid (the cursor).  Atomicity comes
 * from the file system: the data are written to `<path>.tmp`, closed,
 * fsync'ed, renamed over `<path>` (rename(2) is atomic within a directory)
 * and the directory is fsync'ed so the rename itself is durable.  A crash at
 * any point leaves either the previous checkpoint or the new one.
 *
 * MPI: rank 0 writes the one file; writing is collective.  With replicated
 * particles (interacting samplers) every rank holds the same state and
 * rank 0 writes its own copy, so the file is the one a single process
 * writes and resumes on any number of ranks.  With sharded chains every
 * buffer is gathered to rank 0 in rank order (pf_comm_gather_bytes) and
 * stored concatenated with an attribute `rank_counts` (elements per rank);
 * each rank reads its own part back, so such a checkpoint resumes on the
 * same number of ranks (root attribute `chain_ranks`, checked at open).
 * While writing on several ranks, errors are kept (the first one) rather
 * than returned, so every rank makes the same sequence of collective calls;
 * pf_ckpt_commit agrees on them before the rename. */
#include "pflow/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "pflow/comm.h"
#include "pflow/error.h"
#include "pflow/run.h"

#define CKPT_FORMAT "pflow-checkpoint"
#define CKPT_VERSION 1

_Static_assert(sizeof(long long) == 8, "PF_STATE_I64 needs 8-byte long long");
_Static_assert(sizeof(size_t) == 8, "PF_STATE_SIZE is stored as uint64");

const char *pf__h5_errdesc(void);
void pf__h5_quiet(void);

/* ---- typed shorthands ------------------------------------------------ */

int pf_state_f64(pf_state_visitor *v, const char *name, double *data,
                 size_t count)
{
  return v->buffer(v, name, PF_STATE_F64, data, count);
}

int pf_state_i64(pf_state_visitor *v, const char *name, long long *data,
                 size_t count)
{
  return v->buffer(v, name, PF_STATE_I64, data, count);
}

int pf_state_int(pf_state_visitor *v, const char *name, int *data,
                 size_t count)
{
  return v->buffer(v, name, PF_STATE_INT, data, count);
}

int pf_state_size(pf_state_visitor *v, const char *name, size_t *data,
                  size_t count)
{
  return v->buffer(v, name, PF_STATE_SIZE, data, count);
}

int pf_state_u8(pf_state_visitor *v, const char *name, unsigned char *data,
                size_t count)
{
  return v->buffer(v, name, PF_STATE_U8, data, count);
}

int pf_state_rng(pf_state_visitor *v, const char *name, pf_rng *data,
                 size_t count)
{
  return v->buffer(v, name, PF_STATE_RNG, data, count);
}

int pf_particles_state(pf_particles *p, pf_state_visitor *v)
{
  PF_TRY(pf_state_f64(v, "x", p->x, p->n * p->d));
  PF_TRY(pf_state_f64(v, "logp", p->logp, p->n));
  PF_TRY(pf_state_f64(v, "grad", p->grad, p->n * p->d));
  PF_TRY(pf_state_rng(v, "rng", p->rng, p->n));
  return 0;
}

void pf_ckpt_hash(const char *text, char out[17])
{
  uint64_t h = 1469598103934665603ULL; /* FNV-1a offset basis */
  for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
    h ^= *s;
    h *= 1099511628211ULL; /* FNV prime */
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- the file -------------------------------------------------------- */

struct pf_ckpt {
  hid_t file;
  int writing;
  char *path, *tmp;
  hid_t group;        /* the section being visited */
  const char *gname;
  int lead;           /* holds the file: rank 0 (or the only rank) */
  int par;            /* writing on more than one rank (collective) */
  int sharded;        /* chains split over ranks: buffers per rank */
  int rc;             /* par: the first error, reported at commit */
  char msg[1024];
};

/* The ranks the chains are split over: the size when sharded, else 1. */
static long long chain_ranks(void)
{
  return pf_comm_size() > 1 && !pf_comm_replicated() ? pf_comm_size() : 1;
}

/* While writing on several ranks: remember the first error and carry on
 * (see the top); otherwise return it. */
static int keep(pf_ckpt *c, int rc)
{
  if (rc == 0 || !c->par) return rc;
  if (c->rc == 0) {
    c->rc = rc;
    snprintf(c->msg, sizeof c->msg, "%s", pf_error_message());
  }
  return 0;
}

static const char *const type_names[] = {"f64", "i64", "int", "size", "u8",
                                         "rng"};

static hid_t file_type(pf_state_type t)
{
  switch (t) {
  case PF_STATE_F64: return H5T_IEEE_F64LE;
  case PF_STATE_I64: return H5T_STD_I64LE;
  case PF_STATE_INT: return H5T_STD_I32LE;
  case PF_STATE_SIZE:
  case PF_STATE_RNG: return H5T_STD_U64LE;
  case PF_STATE_U8: return H5T_STD_U8LE;
  }
  return H5T_STD_U8LE;
}

static hid_t mem_type(pf_state_type t)
{
  switch (t) {
  case PF_STATE_F64: return H5T_NATIVE_DOUBLE;
  case PF_STATE_I64: return H5T_NATIVE_LLONG;
  case PF_STATE_INT: return H5T_NATIVE_INT;
  case PF_STATE_SIZE:
  case PF_STATE_RNG: return H5T_NATIVE_UINT64;
  case PF_STATE_U8: return H5T_NATIVE_UCHAR;
  }
  return H5T_NATIVE_UCHAR;
}

/* pf_rng <-> 4 words (fixed order, independent of the struct layout). */
static void rng_pack(const pf_rng *r, size_t n, uint64_t *w)
{
  for (size_t i = 0; i < n; i++) {
    w[4 * i + 0] = (uint64_t)(r[i].state >> 64);
    w[4 * i + 1] = (uint64_t)r[i].state;
    w[4 * i + 2] = (uint64_t)(r[i].inc >> 64);
    w[4 * i + 3] = (uint64_t)r[i].inc;
  }
}

static void rng_unpack(const uint64_t *w, size_t n, pf_rng *r)
{
  for (size_t i = 0; i < n; i++) {
    r[i].state = ((pf_u128)w[4 * i + 0] << 64) | w[4 * i + 1];
    r[i].inc = ((pf_u128)w[4 * i + 2] << 64) | w[4 * i + 3];
  }
}

static int valid_name(const char *name)
{
  if (!name || !*name) return 0;
  for (const char *s = name; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'))
      return 0;
  return 1;
}

static int put_buffer(pf_ckpt *c, const char *name, pf_state_type type,
                      void *data, size_t count, const size_t *rank_counts,
                      int nranks)
{
  int rc = 0;
  PF_CHECK(count < ((size_t)1 << 56), PF_EINVAL, "state buffer '%s': %zu "
           "elements", name, count);
  const size_t words = type == PF_STATE_RNG ? 4 * count : count;
  hsize_t dim = words;
  uint64_t *packed = NULL;
  const void *src = data;
  hid_t sp = H5Screate_simple(1, &dim, NULL), ds = H5I_INVALID_HID;
  PF_CHECK_GOTO(rc, sp >= 0, PF_EHDF5, out, "checkpoint dataspace: %s",
                pf__h5_errdesc());
  if (type == PF_STATE_RNG) {
    packed = malloc((words ? words : 1) * sizeof *packed);
    PF_CHECK_GOTO(rc, packed, PF_ENOMEM, out, "packing %zu streams", count);
    rng_pack(data, count, packed);
    src = packed;
  }
  ds = H5Dcreate2(c->group, name, file_type(type), sp, H5P_DEFAULT,
                  H5P_DEFAULT, H5P_DEFAULT);
  PF_CHECK_GOTO(rc, ds >= 0, PF_EHDF5, out,
                "checkpoint '%s': cannot create %s/%s (a buffer named twice?)"
                ": %s", c->tmp, c->gname, name, pf__h5_errdesc());
  if (words)
    PF_CHECK_GOTO(rc,
                  H5Dwrite(ds, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                           src) >= 0,
                  PF_EHDF5, out, "checkpoint '%s': writing %s/%s: %s", c->tmp,
                  c->gname, name, pf__h5_errdesc());
  {
    hid_t as = H5Screate(H5S_SCALAR), st = H5Tcopy(H5T_C_S1);
    const char *tn = type_names[type];
    H5Tset_size(st, strlen(tn) + 1);
    hid_t a = H5Acreate2(ds, "type", st, as, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = a >= 0 ? H5Awrite(a, st, tn) : -1;
    if (a >= 0) H5Aclose(a);
    H5Tclose(st);
    H5Sclose(as);
    PF_CHECK_GOTO(rc, w >= 0, PF_EHDF5, out, "checkpoint type attribute: %s",
                  pf__h5_errdesc());
  }
  if (rank_counts) {
    hsize_t nr = (hsize_t)nranks;
    uint64_t rcs[nranks];
    for (int r = 0; r < nranks; r++) rcs[r] = rank_counts[r];
    hid_t as = H5Screate_simple(1, &nr, NULL);
    hid_t a = as >= 0 ? H5Acreate2(ds, "rank_counts", H5T_STD_U64LE, as,
                                   H5P_DEFAULT, H5P_DEFAULT)
                      : H5I_INVALID_HID;
    herr_t w = a >= 0 ? H5Awrite(a, H5T_NATIVE_UINT64, rcs) : -1;
    if (a >= 0) H5Aclose(a);
    if (as >= 0) H5Sclose(as);
    PF_CHECK_GOTO(rc, w >= 0, PF_EHDF5, out, "checkpoint rank_counts: %s",
                  pf__h5_errdesc());
  }
out:
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
  free(packed);
  return rc;
}

static int get_buffer(pf_ckpt *c, const char *name, pf_state_type type,
                      void *data, size_t count)
{
  int rc = 0;
  PF_CHECK(count < ((size_t)1 << 56), PF_EINVAL, "state buffer '%s': %zu "
           "elements", name, count);
  const size_t words = type == PF_STATE_RNG ? 4 * count : count;
  uint64_t *packed = NULL;
  hid_t sp = H5I_INVALID_HID, ds = H5I_INVALID_HID;
  htri_t ex = H5Lexists(c->group, name, H5P_DEFAULT);
  PF_CHECK(ex > 0, PF_EINVAL,
           "checkpoint '%s' has no %s/%s (written by another pflow version "
           "or another sampler?)", c->path, c->gname, name);
  ds = H5Dopen2(c->group, name, H5P_DEFAULT);
  PF_CHECK_GOTO(rc, ds >= 0, PF_EIO, out, "checkpoint '%s': opening %s/%s: %s",
                c->path, c->gname, name, pf__h5_errdesc());
  {
    char tn[16] = "";
    hid_t a = H5Aopen(ds, "type", H5P_DEFAULT);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, sizeof tn);
    herr_t r = a >= 0 ? H5Aread(a, st, tn) : -1;
    if (a >= 0) H5Aclose(a);
    H5Tclose(st);
    PF_CHECK_GOTO(rc, r >= 0 && strcmp(tn, type_names[type]) == 0, PF_EINVAL,
                  out, "checkpoint '%s': %s/%s has type '%s', expected '%s'",
                  c->path, c->gname, name, tn, type_names[type]);
  }
  sp = H5Dget_space(ds);
  hssize_t have = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  /* Sharded chains: this rank's part of the concatenation (see the top). */
  hsize_t off = 0;
  const int part = H5Aexists(ds, "rank_counts") > 0;
  if (part) {
    const int R = pf_comm_size(), me = pf_comm_rank();
    uint64_t rcs[R];
    hid_t a = H5Aopen(ds, "rank_counts", H5P_DEFAULT);
    hid_t as = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    const int ok = as >= 0 && H5Sget_simple_extent_npoints(as) == R &&
                   H5Aread(a, H5T_NATIVE_UINT64, rcs) >= 0;
    if (as >= 0) H5Sclose(as);
    if (a >= 0) H5Aclose(a);
    PF_CHECK_GOTO(rc, ok && chain_ranks() == R, PF_EINVAL, out,
                  "checkpoint '%s': %s/%s was split over another number of "
                  "MPI ranks than this run's %d", c->path, c->gname, name, R);
    for (int r = 0; r < me; r++) off += rcs[r];
    PF_CHECK_GOTO(rc, rcs[me] == count, PF_EINVAL, out,
                  "checkpoint '%s': %s/%s holds %llu values for rank %d, "
                  "this run needs %zu (a different config?)", c->path,
                  c->gname, name, (unsigned long long)rcs[me], me, count);
    if (type == PF_STATE_RNG) off *= 4;
  } else {
    PF_CHECK_GOTO(rc, have == (hssize_t)words, PF_EINVAL, out,
                  "checkpoint '%s': %s/%s holds %lld values, this run needs "
                  "%zu (a different config?)", c->path, c->gname, name,
                  (long long)have, words);
  }
  void *dst = data;
  if (type == PF_STATE_RNG) {
    packed = malloc((words ? words : 1) * sizeof *packed);
    PF_CHECK_GOTO(rc, packed, PF_ENOMEM, out, "unpacking %zu streams", count);
    dst = packed;
  }
  if (words) {
    hid_t ms = H5S_ALL, fs = H5S_ALL;
    herr_t r = 0;
    if (part) {
      hsize_t w = words;
      ms = H5Screate_simple(1, &w, NULL);
      r = ms >= 0 ? H5Sselect_hyperslab(sp, H5S_SELECT_SET, &off, NULL, &w,
                                        NULL)
                  : -1;
      fs = sp;
    }
    if (r >= 0) r = H5Dread(ds, mem_type(type), ms, fs, H5P_DEFAULT, dst);
    if (part && ms >= 0) H5Sclose(ms);
    PF_CHECK_GOTO(rc, r >= 0, PF_EIO, out,
                  "checkpoint '%s': reading %s/%s: %s", c->path, c->gname,
                  name, pf__h5_errdesc());
  }
  if (packed) rng_unpack(packed, count, data);
out:
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
  free(packed);
  return rc;
}

static size_t elem_size(pf_state_type t)
{
  switch (t) {
  case PF_STATE_INT: return sizeof(int);
  case PF_STATE_U8: return 1;
  case PF_STATE_RNG: return sizeof(pf_rng);
  default: return 8;
  }
}

static int check_buffer(const char *name, const void *data, size_t count)
{
  PF_CHECK(valid_name(name), PF_EINVAL, "invalid state buffer name '%s'",
           name ? name : "(null)");
  PF_CHECK(data || count == 0, PF_EINVAL, "state buffer '%s': NULL data",
           name);
  return 0;
}

static int visit_buffer(pf_state_visitor *v, const char *name,
                        pf_state_type type, void *data, size_t count)
{
  pf_ckpt *c = v->ctx;
  if (!c->par) {
    PF_TRY(check_buffer(name, data, count));
    return c->writing ? put_buffer(c, name, type, data, count, NULL, 0)
                      : get_buffer(c, name, type, data, count);
  }
  /* Writing on several ranks; every rank sees the same names. */
  if (keep(c, check_buffer(name, data, count)) || c->rc) {
    if (!c->sharded) return 0;
  }
  if (!c->sharded) {
    if (c->lead && c->group >= 0)
      return keep(c, put_buffer(c, name, type, data, count, NULL, 0));
    return 0;
  }
  const int R = pf_comm_size();
  const size_t es = elem_size(type);
  size_t counts[R];
  void *full = NULL;
  int rc = pf_comm_gather_bytes(data, data ? count * es : 0, &full, counts);
  if (rc == 0 && c->lead && c->rc == 0 && c->group >= 0) {
    size_t total = 0;
    for (int r = 0; r < R; r++) total += (counts[r] /= es);
    rc = put_buffer(c, name, type, full, total, counts, R);
  }
  free(full);
  return keep(c, rc);
}

static void ckpt_free(pf_ckpt *c)
{
  if (!c) return;
  if (c->file >= 0) H5Fclose(c->file);
  free(c->path);
  free(c->tmp);
  free(c);
}

static hid_t fapl_nolock(void)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  /* The checkpoint is private to one run; no lock needed (and some file
   * systems have none). */
  if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
  return fapl;
}

int pf_ckpt_create(const char *path, pf_ckpt **out)
{
  *out = NULL;
  pf__h5_quiet();
  pf_ckpt *c = calloc(1, sizeof *c);
  const size_t n = strlen(path);
  if (c) {
    c->path = malloc(n + 1);
    c->tmp = malloc(n + 5);
  }
  int crc = c && c->path && c->tmp
                ? 0
                : pf__error_set(PF_ENOMEM, __FILE__, __LINE__,
                                "allocating a checkpoint");
  if ((crc = pf_comm_agree(crc)) != 0) {
    if (c) {
      free(c->path);
      free(c->tmp);
    }
    free(c);
    return crc;
  }
  c->file = H5I_INVALID_HID;
  c->group = H5I_INVALID_HID;
  c->writing = 1;
  c->lead = pf_comm_rank() == 0;
  c->par = pf_comm_size() > 1;
  c->sharded = chain_ranks() > 1;
  memcpy(c->path, path, n + 1);
  snprintf(c->tmp, n + 5, "%s.tmp", path);
  int e = 0;
  if (c->lead) {
    hid_t fapl = fapl_nolock();
    c->file = H5Fcreate(c->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (c->file < 0)
      e = pf__error_set(PF_EIO, __FILE__, __LINE__,
                        "cannot create checkpoint '%s': %s", c->tmp,
                        pf__h5_errdesc());
  }
  if ((e = pf_comm_agree(e)) != 0) {
    if (c->lead && c->file >= 0) {
      H5Fclose(c->file);
      c->file = H5I_INVALID_HID;
      remove(c->tmp);
    }
    ckpt_free(c);
    return e;
  }
  int rc = pf_ckpt_set_str(c, "format", CKPT_FORMAT);
  if (rc == 0) rc = pf_ckpt_set_int(c, "format_version", CKPT_VERSION);
  if (rc == 0) rc = pf_ckpt_set_int(c, "chain_ranks", chain_ranks());
  if (rc < 0) {
    pf_ckpt_close(&c);
    return rc;
  }
  *out = c;
  return 0;
}

int pf_ckpt_open(const char *path, pf_ckpt **out)
{
  *out = NULL;
  pf__h5_quiet();
  struct stat st;
  if (stat(path, &st) != 0)
    PF_RAISE(PF_EIO, "no checkpoint '%s' (%s)", path, strerror(errno));
  pf_ckpt *c = calloc(1, sizeof *c);
  PF_CHECK(c, PF_ENOMEM, "allocating a checkpoint");
  c->group = H5I_INVALID_HID;
  c->lead = 1; /* reading: every rank reads the file itself */
  c->path = malloc(strlen(path) + 1);
  if (!c->path) {
    free(c);
    PF_RAISE(PF_ENOMEM, "allocating a checkpoint");
  }
  strcpy(c->path, path);
  hid_t fapl = fapl_nolock();
  c->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  int rc = 0;
  char *fmt = NULL;
  long long ver = 0;
  if (c->file < 0) {
    rc = pf__error_set(PF_EIO, __FILE__, __LINE__,
                       "checkpoint '%s' is not a readable HDF5 file (%s); "
                       "it may be corrupted", path, pf__h5_errdesc());
    goto fail;
  }
  if (pf_ckpt_get_str(c, "format", &fmt) < 0 || strcmp(fmt, CKPT_FORMAT) ||
      pf_ckpt_get_int(c, "format_version", &ver) < 0 || ver != CKPT_VERSION) {
    rc = pf__error_set(PF_EIO, __FILE__, __LINE__,
                       "'%s' is not a pflow checkpoint of format version %d",
                       path, CKPT_VERSION);
    goto fail;
  }
  free(fmt);
  fmt = NULL;
  {
    long long cr = 1;
    if (H5Aexists(c->file, "chain_ranks") > 0 &&
        pf_ckpt_get_int(c, "chain_ranks", &cr) < 0)
      cr = -1;
    if (cr != chain_ranks()) {
      rc = pf__error_set(PF_EINVAL, __FILE__, __LINE__,
                         "checkpoint '%s' holds chains split over %lld MPI "
                         "rank(s): resume it with %lld (this run has %lld)",
                         path, cr, cr, chain_ranks());
      goto fail;
    }
  }
  *out = c;
  return 0;
fail:
  free(fmt);
  ckpt_free(c);
  return rc;
}

int pf_ckpt_section(pf_ckpt *c, const char *group,
                    int (*fn)(void *obj, pf_state_visitor *v), void *obj)
{
  PF_CHECK(c && group && fn, PF_EINVAL, "pf_ckpt_section: NULL argument");
  if (c->par) { /* every rank visits (see the top) */
    c->group = H5I_INVALID_HID;
    if (c->lead && c->rc == 0) {
      c->group = H5Gcreate2(c->file, group, H5P_DEFAULT, H5P_DEFAULT,
                            H5P_DEFAULT);
      if (c->group < 0)
        keep(c, pf__error_set(PF_EHDF5, __FILE__, __LINE__,
                              "checkpoint '%s': section '%s': %s", c->tmp,
                              group, pf__h5_errdesc()));
    }
    c->gname = group;
    pf_state_visitor v = {visit_buffer, c, 0};
    int rc = keep(c, fn(obj, &v));
    if (c->group >= 0) H5Gclose(c->group);
    c->group = H5I_INVALID_HID;
    return rc;
  }
  if (c->writing) {
    c->group = H5Gcreate2(c->file, group, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
  } else {
    htri_t ex = H5Lexists(c->file, group, H5P_DEFAULT);
    PF_CHECK(ex > 0, PF_EINVAL, "checkpoint '%s' has no section '%s'",
             c->path, group);
    c->group = H5Gopen2(c->file, group, H5P_DEFAULT);
  }
  PF_CHECK(c->group >= 0, PF_EHDF5, "checkpoint '%s': section '%s': %s",
           c->writing ? c->tmp : c->path, group, pf__h5_errdesc());
  c->gname = group;
  pf_state_visitor v = {visit_buffer, c, !c->writing};
  int rc = fn(obj, &v);
  H5Gclose(c->group);
  c->group = H5I_INVALID_HID;
  return rc;
}

/* ---- root attributes ------------------------------------------------- */

static int set_attr1(pf_ckpt *c, const char *name, hid_t ftype, hid_t mtype,
                     const void *buf)
{
  hid_t sp = H5Screate(H5S_SCALAR);
  if (H5Aexists(c->file, name) > 0) H5Adelete(c->file, name);
  hid_t a = H5Acreate2(c->file, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t w = a >= 0 ? H5Awrite(a, mtype, buf) : -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  PF_CHECK(w >= 0, PF_EHDF5, "checkpoint '%s': attribute '%s': %s", c->tmp,
           name, pf__h5_errdesc());
  return 0;
}

/* Rank 0 writes (the others hold no file). */
static int set_attr(pf_ckpt *c, const char *name, hid_t ftype, hid_t mtype,
                    const void *buf)
{
  if (!c->lead || c->rc) return 0;
  return keep(c, set_attr1(c, name, ftype, mtype, buf));
}

int pf_ckpt_set_int(pf_ckpt *c, const char *name, long long value)
{
  return set_attr(c, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
}

int pf_ckpt_set_real(pf_ckpt *c, const char *name, double value)
{
  return set_attr(c, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

int pf_ckpt_set_str(pf_ckpt *c, const char *name, const char *value)
{
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  int rc = set_attr(c, name, t, t, &value);
  H5Tclose(t);
  return rc;
}

static int get_attr(pf_ckpt *c, const char *name, hid_t mtype, void *buf)
{
  PF_CHECK(H5Aexists(c->file, name) > 0, PF_EINVAL,
           "checkpoint '%s' has no attribute '%s'", c->path, name);
  hid_t a = H5Aopen(c->file, name, H5P_DEFAULT);
  herr_t r = a >= 0 ? H5Aread(a, mtype, buf) : -1;
  if (a >= 0) H5Aclose(a);
  PF_CHECK(r >= 0, PF_EIO, "checkpoint '%s': reading attribute '%s': %s",
           c->path, name, pf__h5_errdesc());
  return 0;
}

int pf_ckpt_get_int(pf_ckpt *c, const char *name, long long *value)
{
  return get_attr(c, name, H5T_NATIVE_LLONG, value);
}

int pf_ckpt_get_real(pf_ckpt *c, const char *name, double *value)
{
  return get_attr(c, name, H5T_NATIVE_DOUBLE, value);
}

int pf_ckpt_get_str(pf_ckpt *c, const char *name, char **value)
{
  *value = NULL;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  char *s = NULL;
  int rc = get_attr(c, name, t, &s);
  H5Tclose(t);
  PF_TRY(rc);
  PF_CHECK(s, PF_EIO, "checkpoint '%s': attribute '%s' is empty", c->path,
           name);
  *value = malloc(strlen(s) + 1);
  if (*value) strcpy(*value, s);
  H5free_memory(s);
  PF_CHECK(*value, PF_ENOMEM, "copying attribute '%s'", name);
  return 0;
}

/* ---- commit ---------------------------------------------------------- */

static int fsync_path(const char *path, int dir)
{
  int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  PF_CHECK(fd >= 0, PF_EIO, "cannot open '%s' to sync it: %s", path,
           strerror(errno));
  int r = fsync(fd), e = errno;
  close(fd);
  PF_CHECK(r == 0, PF_EIO, "fsync '%s': %s", path, strerror(e));
  return 0;
}

int pf_ckpt_commit(pf_ckpt **cp)
{
  PF_CHECK(cp && *cp && (*cp)->writing, PF_EINVAL,
           "pf_ckpt_commit: no checkpoint being written");
  pf_ckpt *c = *cp;
  *cp = NULL;
  int rc = 0;
  if (c->lead) {
    herr_t cl = H5Fclose(c->file);
    c->file = H5I_INVALID_HID;
    if (c->rc == 0 && cl < 0)
      rc = pf__error_set(PF_EIO, __FILE__, __LINE__,
                         "closing checkpoint '%s': %s", c->tmp,
                         pf__h5_errdesc());
    if (c->rc == 0 && rc == 0) rc = fsync_path(c->tmp, 0);
  }
  /* Every rank's first error (see keep), agreed before the rename. */
  if (c->rc) rc = pf__error_set(c->rc, __FILE__, __LINE__, "%s", c->msg);
  if (c->par) rc = pf_comm_agree(rc);
  if (rc) goto fail;
  if (!c->lead) {
    ckpt_free(c);
    return 0;
  }
  PF_CHECK_GOTO(rc, rename(c->tmp, c->path) == 0, PF_EIO, fail,
                "cannot rename checkpoint '%s' to '%s': %s", c->tmp, c->path,
                strerror(errno));
  {
    /* the directory entry: without this a power loss can undo the rename */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", c->path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
      dir[1] = '\0';
    else if (slash)
      *slash = '\0';
    else
      snprintf(dir, sizeof dir, ".");
    rc = fsync_path(dir, 1);
  }
  ckpt_free(c);
  return rc;
fail:
  if (c->lead) remove(c->tmp);
  ckpt_free(c);
  return rc;
}

void pf_ckpt_close(pf_ckpt **cp)
{
  if (!cp || !*cp) return;
  pf_ckpt *c = *cp;
  *cp = NULL;
  if (c->file >= 0) H5Fclose(c->file);
  c->file = H5I_INVALID_HID;
  if (c->writing && c->lead) remove(c->tmp);
  ckpt_free(c);
}

/* ---- pflow run --resume ---------------------------------------------- */

/* The resolved config stored in the output's root attribute `config`. */
static int output_config(const char *path, char **text)
{
  *text = NULL;
  struct stat st;
  if (stat(path, &st) != 0)
    PF_RAISE(PF_EIO, "cannot resume '%s': %s", path, strerror(errno));
  hid_t fapl = fapl_nolock();
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PF_CHECK(f >= 0, PF_EIO, "cannot resume '%s': not a readable HDF5 file (%s)",
           path, pf__h5_errdesc());
  int rc = 0;
  char *s = NULL;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t a = H5Aexists(f, "config") > 0 ? H5Aopen(f, "config", H5P_DEFAULT)
                                       : H5I_INVALID_HID;
  herr_t r = a >= 0 ? H5Aread(a, t, &s) : -1;
  if (a >= 0) H5Aclose(a);
  H5Tclose(t);
  long long done = 0;
  a = H5Aexists(f, "completed") > 0 ? H5Aopen(f, "completed", H5P_DEFAULT)
                                    : H5I_INVALID_HID;
  if (a >= 0) {
    if (H5Aread(a, H5T_NATIVE_LLONG, &done) < 0) done = 0;
    H5Aclose(a);
  }
  H5Fclose(f);
  PF_CHECK_GOTO(rc, r >= 0 && s, PF_EIO, out,
                "cannot resume '%s': it has no root attribute 'config' (not "
                "a pflow output?)", path);
  PF_CHECK_GOTO(rc, !done, PF_EINVAL, out,
                "'%s' is a completed run: nothing to resume", path);
  *text = malloc(strlen(s) + 1);
  PF_CHECK_GOTO(rc, *text, PF_ENOMEM, out, "copying the config");
  strcpy(*text, s);
out:
  if (s) H5free_memory(s);
  return rc;
}

int pf_run_resume(const char *output, FILE *progress, pf_run_result *res)
{
  char *text = NULL, assign[4200];
  pf_config *c = NULL;
  int rc = 0;
  memset(res, 0, sizeof *res);
  snprintf(res->path, sizeof res->path, "%s", output);
  PF_TRY(output_config(output, &text));
  PF_TRY_GOTO(rc, pf_config_load_string(text, output, &c), done);
  /* The file may have been moved since: write where it is now.  YAML
   * single quotes escape a quote by doubling it. */
  size_t k = 0;
  k += (size_t)snprintf(assign, sizeof assign, "output.path='");
  for (const char *s = output; *s && k + 4 < sizeof assign; s++) {
    if (*s == '\'') assign[k++] = '\'';
    assign[k++] = *s;
  }
  assign[k++] = '\'';
  assign[k] = '\0';
  PF_TRY_GOTO(rc, pf_config_override(c, assign, 0), done);
  PF_TRY_GOTO(rc, pf_config_validate(c, pf_root_params), done);
  pf_run_opts o = {1, 0, text};
  rc = pf__run(c, progress, res, &o);
done:
  pf_config_destroy(&c);
  free(text);
  return rc;
}
