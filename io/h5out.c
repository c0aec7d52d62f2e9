/* HDF5 writer: one file per run in netCDF-4 / ArviZ layout (see io.h).
 *
 * Layout rules (what h5netcdf, netCDF-C and ArviZ need from a plain HDF5
 * file): every axis of every dataset has an attached dimension scale; each
 * dimension is an int64 coordinate dataset named after it, made a scale with
 * H5DSset_scale and tagged with a scalar int32 _Netcdf4Dimid (ids are
 * distinct file-wide, numbered 0, 1, 2, ... in creation order); variables
 * carry _Netcdf4Coordinates, the int32 ids of their dimensions, as netCDF-C
 * writes it; link and attribute creation order are tracked and indexed on
 * the file, every group and every dataset.  String attributes are scalar,
 * variable-length UTF-8 (h5py and h5netcdf read them back as str); integer
 * attributes are scalar int64, real ones scalar float64.
 *
 * Chunking of record variables (those over the unlimited dimension): a
 * record is the slice at one index of that dimension.  A chunk holds K whole
 * records, K = 512 KiB / record bytes clamped to [1, 4096] (the cap keeps a
 * one-chain diagnostic from allocating a 512 KiB chunk for a few values).
 * A record larger than 4 MiB is also split along its largest other axis,
 * halving until a chunk is at most 1 MiB.
 *
 * Crash safety: the metadata cache is configured never to evict (and never
 * to resize), so dirty metadata reaches the disk only in H5Fflush; between
 * flushes the file on disk describes the state at the last flush.  Raw data
 * written in between either lands in new space or rewrites an uncompressed
 * chunk in place with its flushed records unchanged: the append path frees
 * no file space that on-disk metadata could still point at.  A compressed
 * chunk that is rewritten
 * changes size and its old space may be reused before the next flush, so
 * compressed record variables use one record per chunk (each chunk written
 * once, complete) and only records of at least 4 KiB are compressed.
 * Operations that free file space (replacing an attribute, rewriting a
 * compressed fixed variable) and every structural change flush right away.
 * The default (earliest) superblock version has no "open for writing" flag,
 * so a killed run's file opens without h5clear.  No SWMR.
 *
 * Residual window: one H5Fflush is not atomic.  It writes metadata in place
 * in address order, superblock (end-of-file address) last.  A kill during
 * those few writes can leave the records of that flush unreadable or NaN,
 * and, if a chunk-index (v1 B-tree) node split since the previous flush,
 * older records whose index entries moved to the new node.  Splits happen
 * about once per 32-64 chunks of a variable.  The odds per kill scale with
 * flushes and splits per second: a stress run flushing every ~1 ms and
 * splitting every ~0.1 s lost flushed records in about 1 kill of 300.
 * Closing it needs ordered metadata writes, i.e. the SWMR-era file format
 * with its "open for writing" flag.
 *
 * MPI (pf_h5_create_io; the run driver's output.io): with R > 1 ranks the
 * file is either written by rank 0 alone (gather: the other ranks' handles
 * write nothing; a variable split across ranks, pf_h5_var_split, is
 * gathered to rank 0 with MPI_Gatherv) or opened by every rank with the
 * MPI-IO driver (collective).  Collective: every call here is collective,
 * made by all ranks in the same order with the same arguments (what
 * parallel HDF5 needs for metadata: group, attribute, dimension and
 * variable creation, extent changes, flushes); attribute values and the
 * created_at stamps are broadcast from rank 0 so they are identical; every
 * write is H5FD_MPIO_COLLECTIVE: a split variable's record is written by
 * each rank as its own hyperslab, anything else by rank 0 with the other
 * ranks taking part with empty (H5Sselect_none) selections.  Along a split
 * axis of n rows divisible by R a chunk holds exactly one rank's block, so
 * every chunk has one writer; the chunk shapes depend on R, not on the
 * backend.  Crash safety under MPI-IO: the cache still never evicts, but
 * parallel HDF5 also writes dirty metadata at its sync points once
 * dirty_bytes_threshold bytes accumulated (set to its maximum, 32 MiB, so
 * in practice only H5Fflush writes it, which also calls MPI_File_sync);
 * the residual window above is wider (rank 0 writes the metadata while
 * the others may still be writing raw data), and the file locking is
 * MPI-IO's, not flock.  Checkpoint/resume are single-rank (sec2). */
#include "pflow/io.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "pflow/comm.h"
#include "pflow/error.h"
#include "pflow/version.h"

#ifndef PF_VERSION
#define PF_VERSION "0.1.0"
#endif

enum {
  PF__H5_MAXDIMS = 16,          /* axes per variable */
  PF__H5_CHUNK_MAXREC = 4096,   /* records per chunk, upper bound */
  PF__H5_ZMIN_RECORD = 4096,    /* smallest record (bytes) worth deflating */
};
#define PF__H5_CHUNK_TARGET ((hsize_t)512 << 10)
#define PF__H5_SPLIT_ABOVE ((hsize_t)4 << 20)
#define PF__H5_SPLIT_TO ((hsize_t)1 << 20)

typedef struct pf__h5dim {
  char *group; /* "" for the root */
  char *name;
  hid_t dset;
  hid_t fspace; /* unlimited only: file dataspace kept at the current extent */
  int id;       /* _Netcdf4Dimid */
  int unlimited;
  hsize_t len;
} pf__h5dim;

struct pf_h5var {
  pf_h5 *h;
  char *path;
  hid_t dset;
  hid_t mtype;  /* native memory type (not owned) */
  hid_t mspace; /* record shape (unlimited axis = 1) or H5S_ALL */
  hid_t fspace; /* kept at the current extent, reused by every append */
  int ndims;
  int uaxis;    /* index of the unlimited axis, -1 if none */
  size_t udim;  /* index into h->dims of the unlimited dimension */
  int compressed;
  int written;
  int split;     /* axis split across MPI ranks (pf_h5_var_split), or -1 */
  size_t slen, width; /* rows along it; doubles per row after it */
  double *gbuf;  /* gather backend, rank 0: the whole record */
  hsize_t cur[PF__H5_MAXDIMS];
  hsize_t start[PF__H5_MAXDIMS];
  hsize_t count[PF__H5_MAXDIMS];
};

struct pf_h5 {
  hid_t file;
  hid_t mspace1; /* one-element memory space for coordinate appends */
  char *path;
  int level;
  pf__h5dim *dims;
  size_t ndims, capdims;
  pf_h5var **vars;
  size_t nvars, capvars;
  int noop; /* an MPI rank other than 0: only rank 0 writes (the
               serial_gather backend), every call here does nothing but
               track dimensions and take part in split variables' gathers */
  int coll;   /* MPI-IO, every rank writes (collective backend) */
  int gather; /* gather backend with more than one rank */
  hid_t dxpl; /* collective transfer properties, or H5I_INVALID_HID */
};

/* Transfer properties of every raw-data write. */
static hid_t xfer(const pf_h5 *h)
{
  return h->dxpl >= 0 ? h->dxpl : H5P_DEFAULT;
}

/* Whether this rank writes data that is not split across ranks: rank 0
 * under MPI-IO, otherwise whoever has a file. */
static int lead(const pf_h5 *h) { return !h->coll || pf_comm_rank() == 0; }

/* Under MPI-IO: give every rank rank 0's copy of a value about to become
 * metadata (parallel HDF5 needs identical metadata on all ranks). */
static int bcast_str(const pf_h5 *h, const char *in, char **out)
{
  *out = NULL;
  if (!h->coll) return 0;
  unsigned long long n = strlen(in);
  PF_TRY(pf_comm_bcast(&n, sizeof n));
  *out = malloc((size_t)n + 1);
  PF_CHECK(*out, PF_ENOMEM, "out of memory");
  if (pf_comm_rank() == 0) memcpy(*out, in, (size_t)n);
  (*out)[n] = '\0';
  int rc = pf_comm_bcast(*out, (size_t)n);
  if (rc < 0) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

/* Write a whole dataset from the lead rank; under MPI-IO the others take
 * part with empty selections (writes are collective). */
static herr_t write_all(const pf_h5 *h, hid_t dset, hid_t mtype,
                        const void *buf)
{
  if (lead(h)) return H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, xfer(h), buf);
  hid_t fs = H5Dget_space(dset);
  if (fs < 0) return -1;
  herr_t r = H5Sselect_none(fs) >= 0
                 ? H5Dwrite(dset, mtype, fs, fs, xfer(h), buf)
                 : -1;
  H5Sclose(fs);
  return r;
}

/* ---------------------------------------------------------------- helpers */

static herr_t errwalk(unsigned n, const H5E_error2_t *e, void *data)
{
  char *buf = data;
  /* Upward walk: entry 0 is where HDF5 detected the error (the most specific
   * text, e.g. an errno); add the next, more general one unless entry 0
   * already says what the OS reported. */
  if (!e->desc || !e->desc[0]) return 0;
  size_t len = strlen(buf);
  if (len == 0)
    snprintf(buf, 512, "%s", e->desc);
  else if (n == 1 && !strstr(buf, "errno"))
    snprintf(buf + len, 512 - len, " (%s)", e->desc);
  return 0;
}

/* Text of the current HDF5 error stack, most specific first; never empty.
 * Shared with h5info.c. */
const char *pf__h5_errdesc(void)
{
  static _Thread_local char buf[512];
  buf[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, errwalk, buf);
  if (!buf[0]) snprintf(buf, sizeof buf, "unknown HDF5 error");
  for (char *p = buf; *p; p++)
    if (*p == '\n') *p = ' ';
  return buf;
}

/* HDF5 prints its error stack to stderr by default; pflow reports errors
 * through its own record instead.  Shared with h5info.c. */
void pf__h5_quiet(void)
{
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5close(hid_t *id)
{
  if (*id < 0) return;
  switch (H5Iget_type(*id)) {
  case H5I_FILE: H5Fclose(*id); break;
  case H5I_GROUP: H5Gclose(*id); break;
  case H5I_DATATYPE: H5Tclose(*id); break;
  case H5I_DATASPACE: H5Sclose(*id); break;
  case H5I_DATASET: H5Dclose(*id); break;
  case H5I_ATTR: H5Aclose(*id); break;
  case H5I_GENPROP_LST: H5Pclose(*id); break;
  default: H5Idec_ref(*id); break;
  }
  *id = H5I_INVALID_HID;
}

static char *dupstr(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Group argument -> normalized relative path ("" for the root). */
static const char *grp(const char *group)
{
  if (!group) return "";
  while (*group == '/') group++;
  return group;
}

/* "group/name" (or "name" at the root) into buf. */
static int joinpath(char *buf, size_t size, const char *group,
                    const char *name)
{
  int n = *group ? snprintf(buf, size, "%s/%s", group, name)
                 : snprintf(buf, size, "%s", name);
  PF_CHECK(n >= 0 && (size_t)n < size, PF_EINVAL, "HDF5 path too long: %s/%s",
           group, name);
  return 0;
}

static int valid_name(const char *name)
{
  return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0;
}

/* mkdir -p of the directories above path. */
static int mkparents(const char *path)
{
  size_t n = strlen(path);
  char *buf = dupstr(path);
  PF_CHECK(buf, PF_ENOMEM, "out of memory");
  int rc = 0;
  for (size_t i = 1; i < n; i++) {
    if (buf[i] != '/') continue;
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
      int e = errno;
      rc = pf__error_set(PF_EIO, __FILE__, __LINE__,
                         "cannot create directory '%s' for '%s': %s", buf,
                         path, strerror(e));
      break;
    }
    buf[i] = '/';
  }
  free(buf);
  return rc;
}

static int iso8601_now(char *buf, size_t size)
{
  time_t t = time(NULL);
  struct tm tm;
  PF_CHECK(gmtime_r(&t, &tm), PF_EIO, "gmtime failed");
  strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return 0;
}

static int flush(pf_h5 *h)
{
  PF_CHECK(H5Fflush(h->file, H5F_SCOPE_GLOBAL) >= 0, PF_EHDF5,
           "flushing '%s' failed: %s", h->path, pf__h5_errdesc());
  return 0;
}

/* Property lists with creation order tracked and indexed (netCDF-C needs
 * it to append to a file; h5netcdf sets it too). */
static hid_t gcpl_new(void)
{
  hid_t p = H5Pcreate(H5P_GROUP_CREATE);
  if (p < 0) return p;
  unsigned fl = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
  if (H5Pset_link_creation_order(p, fl) < 0 ||
      H5Pset_attr_creation_order(p, fl) < 0) {
    H5Pclose(p);
    return H5I_INVALID_HID;
  }
  return p;
}

static hid_t dcpl_new(void)
{
  hid_t p = H5Pcreate(H5P_DATASET_CREATE);
  if (p < 0) return p;
  if (H5Pset_attr_creation_order(p, H5P_CRT_ORDER_TRACKED |
                                        H5P_CRT_ORDER_INDEXED) < 0) {
    H5Pclose(p);
    return H5I_INVALID_HID;
  }
  return p;
}

/* ------------------------------------------------------------- attributes */

/* Create or replace a scalar attribute on an open object (no flush). */
static int put_attr(hid_t obj, const char *where, const char *name,
                    hid_t ftype, hid_t mtype, const void *buf)
{
  int rc = 0;
  hid_t sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
  htri_t ex = H5Aexists(obj, name);
  PF_CHECK_GOTO(rc, ex >= 0, PF_EHDF5, out, "attribute '%s' on '%s': %s",
                name, where, pf__h5_errdesc());
  /* Delete and recreate: the type or size may change. */
  if (ex)
    PF_CHECK_GOTO(rc, H5Adelete(obj, name) >= 0, PF_EHDF5, out,
                  "cannot replace attribute '%s' on '%s': %s", name, where,
                  pf__h5_errdesc());
  sp = H5Screate(H5S_SCALAR);
  PF_CHECK_GOTO(rc, sp >= 0, PF_EHDF5, out, "H5Screate: %s",
                pf__h5_errdesc());
  a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
  PF_CHECK_GOTO(rc, a >= 0 && H5Awrite(a, mtype, buf) >= 0, PF_EHDF5, out,
                "cannot write attribute '%s' on '%s': %s", name, where,
                pf__h5_errdesc());
out:
  h5close(&a);
  h5close(&sp);
  return rc;
}

static int put_attr_str(hid_t obj, const char *where, const char *name,
                        const char *value)
{
  hid_t t = H5Tcopy(H5T_C_S1);
  PF_CHECK(t >= 0, PF_EHDF5, "H5Tcopy: %s", pf__h5_errdesc());
  int rc = 0;
  if (H5Tset_size(t, H5T_VARIABLE) < 0 ||
      H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
      H5Tset_strpad(t, H5T_STR_NULLTERM) < 0)
    rc = pf__error_set(PF_EHDF5, __FILE__, __LINE__, "string type: %s",
                       pf__h5_errdesc());
  else
    rc = put_attr(obj, where, name, t, t, &value);
  H5Tclose(t);
  return rc < 0 ? pf__error_push(rc, __FILE__, __LINE__, "put_attr") : 0;
}

/* ArviZ group attributes (created_at: rank 0's clock under MPI-IO). */
static int arviz_attrs(const pf_h5 *h, hid_t obj, const char *where)
{
  char now[40], *b = NULL;
  PF_TRY(iso8601_now(now, sizeof now));
  PF_TRY(bcast_str(h, now, &b));
  if (b) snprintf(now, sizeof now, "%s", b);
  free(b);
  PF_TRY(put_attr_str(obj, where, "created_at", now));
  PF_TRY(put_attr_str(obj, where, "inference_library", "pflow"));
  PF_TRY(put_attr_str(obj, where, "inference_library_version", PF_VERSION));
  return 0;
}

/* Open the group or dataset at `path` ("" = root). */
static int open_target(pf_h5 *h, const char *path, hid_t *obj)
{
  const char *p = *path ? path : "/";
  htri_t ok = *path ? H5LTpath_valid(h->file, p, 1) : 1;
  PF_CHECK(ok >= 0, PF_EHDF5, "looking up '%s' in '%s': %s", p, h->path,
           pf__h5_errdesc());
  PF_CHECK(ok > 0, PF_ENOTFOUND, "no group or variable '%s' in '%s'", p,
           h->path);
  *obj = H5Oopen(h->file, p, H5P_DEFAULT);
  PF_CHECK(*obj >= 0, PF_EHDF5, "cannot open '%s' in '%s': %s", p, h->path,
           pf__h5_errdesc());
  return 0;
}

static int attr_common(pf_h5 *h, const char *group, const char *name,
                       hid_t ftype, hid_t mtype, const void *buf, int str)
{
  PF_CHECK(h && name && *name, PF_EINVAL, "attribute: handle and name needed");
  if (h->noop) return 0;
  hid_t obj = H5I_INVALID_HID;
  /* MPI-IO: rank 0's value everywhere (e.g. wall_time differs by rank). */
  char *sb = NULL, val[16];
  if (str) {
    PF_TRY(bcast_str(h, *(const char *const *)buf, &sb));
  } else if (h->coll) {
    size_t n = H5Tget_size(mtype);
    PF_CHECK(n <= sizeof val, PF_EINVAL, "attribute '%s': type size", name);
    memcpy(val, buf, n);
    PF_TRY(pf_comm_bcast(val, n));
    buf = val;
  }
  int rc = open_target(h, grp(group), &obj);
  if (rc == 0) {
    const char *where = *grp(group) ? grp(group) : "/";
    rc = str ? put_attr_str(obj, where, name,
                            sb ? sb : *(const char *const *)buf)
             : put_attr(obj, where, name, ftype, mtype, buf);
  }
  free(sb);
  h5close(&obj);
  PF_TRY(rc);
  /* A replaced attribute freed file space that the last flushed metadata
   * still points at; flush before anything can reuse it. */
  PF_TRY(flush(h));
  return 0;
}

int pf_h5_attr_str(pf_h5 *h, const char *group, const char *name,
                   const char *value)
{
  PF_CHECK(value, PF_EINVAL, "attribute '%s': NULL string",
           name ? name : "(null)");
  PF_TRY(attr_common(h, group, name, -1, -1, &value, 1));
  return 0;
}

int pf_h5_attr_int(pf_h5 *h, const char *group, const char *name,
                   long long value)
{
  PF_TRY(attr_common(h, group, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value,
                     0));
  return 0;
}

int pf_h5_attr_real(pf_h5 *h, const char *group, const char *name,
                    double value)
{
  PF_TRY(attr_common(h, group, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                     &value, 0));
  return 0;
}

/* ------------------------------------------------------------ file, group */

static void var_free(pf_h5var *v)
{
  if (!v) return;
  h5close(&v->fspace);
  h5close(&v->mspace);
  h5close(&v->dset);
  free(v->gbuf);
  free(v->path);
  free(v);
}

/* Free a handle, closing whatever is still open (also the file: used on
 * the failure path of pf_h5_create). */
static void destroy(pf_h5 *h)
{
  for (size_t i = 0; i < h->nvars; i++) var_free(h->vars[i]);
  for (size_t i = 0; i < h->ndims; i++) {
    h5close(&h->dims[i].fspace);
    h5close(&h->dims[i].dset);
    free(h->dims[i].group);
    free(h->dims[i].name);
  }
  free(h->vars);
  free(h->dims);
  h5close(&h->mspace1);
  h5close(&h->dxpl);
  h5close(&h->file);
  free(h->path);
  free(h);
}

int pf_h5_create(const char *path, int overwrite, pf_h5 **out)
{
  return pf_h5_create_io(path, overwrite, PF_H5_IO_AUTO, out);
}

int pf_h5_create_io(const char *path, int overwrite, pf_h5io io,
                    pf_h5 **out)
{
  PF_CHECK(path && *path && out, PF_EINVAL,
           "pf_h5_create: a path and an output handle are required");
  *out = NULL;
#ifdef PF_MPI
  const int coll = pf_comm_size() > 1 && io != PF_H5_IO_GATHER;
#else
  (void)io;
  const int coll = 0;
#endif
  if (!coll && pf_comm_rank() != 0) { /* gather: rank 0 writes */
    pf_h5 *h = calloc(1, sizeof *h);
    PF_CHECK(h, PF_ENOMEM, "output handle");
    h->file = h->mspace1 = h->dxpl = H5I_INVALID_HID;
    h->noop = h->gather = 1;
    *out = h;
    return 0;
  }
  pf__h5_quiet();
  PF_TRY(mkparents(path));

  int rc = 0;
  hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID;
  hid_t root = H5I_INVALID_HID;
  pf_h5 *h = calloc(1, sizeof *h);
  PF_CHECK(h, PF_ENOMEM, "out of memory");
  h->file = h->mspace1 = h->dxpl = H5I_INVALID_HID;
  h->coll = coll;
  h->gather = !coll && pf_comm_size() > 1;
  h->path = dupstr(path);
  PF_CHECK_GOTO(rc, h->path, PF_ENOMEM, fail, "out of memory");

  unsigned fl = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
  fcpl = H5Pcreate(H5P_FILE_CREATE);
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  PF_CHECK_GOTO(rc,
                fcpl >= 0 && fapl >= 0 &&
                    H5Pset_link_creation_order(fcpl, fl) >= 0 &&
                    H5Pset_attr_creation_order(fcpl, fl) >= 0,
                PF_EHDF5, fail, "HDF5 property lists: %s", pf__h5_errdesc());

  /* The crash-safety setting: dirty metadata stays in memory until
   * H5Fflush.  Evictions can only be disabled with automatic resizing off. */
  H5AC_cache_config_t mdc;
  memset(&mdc, 0, sizeof mdc);
  mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  PF_CHECK_GOTO(rc, H5Pget_mdc_config(fapl, &mdc) >= 0, PF_EHDF5, fail,
                "H5Pget_mdc_config: %s", pf__h5_errdesc());
  mdc.evictions_enabled = 0;
  mdc.incr_mode = H5C_incr__off;
  mdc.flash_incr_mode = H5C_flash_incr__off;
  mdc.decr_mode = H5C_decr__off;
#ifdef PF_MPI
  if (coll) {
    /* Parallel caches also write dirty metadata at sync points past this
     * many dirty bytes: the maximum, so flushes do it (see the top). */
    mdc.dirty_bytes_threshold = 32 << 20;
    h->dxpl = H5Pcreate(H5P_DATASET_XFER);
    PF_CHECK_GOTO(rc,
                  h->dxpl >= 0 &&
                      H5Pset_dxpl_mpio(h->dxpl, H5FD_MPIO_COLLECTIVE) >= 0 &&
                      H5Pset_fapl_mpio(fapl, pf_comm_mpi(), MPI_INFO_NULL) >=
                          0 &&
                      H5Pset_all_coll_metadata_ops(fapl, 1) >= 0 &&
                      H5Pset_coll_metadata_write(fapl, 1) >= 0,
                  PF_EHDF5, fail, "MPI-IO file access: %s", pf__h5_errdesc());
  }
#endif
  PF_CHECK_GOTO(rc, H5Pset_mdc_config(fapl, &mdc) >= 0, PF_EHDF5, fail,
                "H5Pset_mdc_config: %s", pf__h5_errdesc());
  /* Keep HDF5's lock against a second writer, but do not fail on file
   * systems without flock (Lustre, some NFS). */
  PF_CHECK_GOTO(rc, H5Pset_file_locking(fapl, 1, 1) >= 0, PF_EHDF5, fail,
                "H5Pset_file_locking: %s", pf__h5_errdesc());

  /* EXCL makes "never touch an existing file" atomic. */
  h->file = H5Fcreate(path, overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, fcpl,
                      fapl);
  if (h->file < 0) {
    const char *why = pf__h5_errdesc();
    struct stat st;
    if (!overwrite && stat(path, &st) == 0)
      rc = pf__error_set(PF_EEXIST, __FILE__, __LINE__,
                         "output file '%s' already exists (remove it or "
                         "allow overwriting)",
                         path);
    else
      /* Errors from the OS carry "errno = N" in HDF5's text. */
      rc = pf__error_set(strstr(why, "errno") ? PF_EIO : PF_EHDF5, __FILE__,
                         __LINE__, "cannot create HDF5 file '%s': %s", path,
                         why);
    goto fail;
  }
  hsize_t one = 1;
  h->mspace1 = H5Screate_simple(1, &one, NULL);
  PF_CHECK_GOTO(rc, h->mspace1 >= 0, PF_EHDF5, fail, "H5Screate_simple: %s",
                pf__h5_errdesc());
  root = H5Oopen(h->file, "/", H5P_DEFAULT);
  PF_CHECK_GOTO(rc, root >= 0, PF_EHDF5, fail, "opening '/' of '%s': %s",
                path, pf__h5_errdesc());
  /* The root also gets the provenance attributes so even a file killed
   * before the caller wrote any is self-describing. */
  PF_TRY_GOTO(rc, arviz_attrs(h, root, "/"), fail);
  h5close(&root);
  /* From here on the file on disk is a valid (empty) pflow file. */
  PF_TRY_GOTO(rc, flush(h), fail);
  h5close(&fcpl);
  h5close(&fapl);
  *out = h;
  return 0;

fail:
  h5close(&root);
  h5close(&fcpl);
  h5close(&fapl);
  destroy(h);
  return rc;
}

void pf_h5_set_compression(pf_h5 *h, int level)
{
  if (!h) return;
  h->level = level < 0 ? 0 : level > 9 ? 9 : level;
}

/* Create the groups along `g` (no flush); *created set if any was new. */
static int make_groups(pf_h5 *h, const char *g, int *created)
{
  char path[1024];
  size_t n = strlen(g);
  PF_CHECK(n < sizeof path, PF_EINVAL, "group path too long: %s", g);
  memcpy(path, g, n + 1);
  for (size_t i = 0; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    char c = path[i];
    path[i] = '\0';
    /* Empty components ("a//b", "a/") are not valid names. */
    PF_CHECK(i > 0 && path[i - 1] != '/', PF_EINVAL,
             "invalid group name '%s'", g);
    htri_t ex = H5Lexists(h->file, path, H5P_DEFAULT);
    PF_CHECK(ex >= 0, PF_EHDF5, "looking up group '%s' in '%s': %s", path,
             h->path, pf__h5_errdesc());
    if (!ex) {
      hid_t gcpl = gcpl_new();
      PF_CHECK(gcpl >= 0, PF_EHDF5, "group property list: %s",
               pf__h5_errdesc());
      hid_t gid = H5Gcreate2(h->file, path, H5P_DEFAULT, gcpl, H5P_DEFAULT);
      H5Pclose(gcpl);
      PF_CHECK(gid >= 0, PF_EHDF5, "cannot create group '%s' in '%s': %s",
               path, h->path, pf__h5_errdesc());
      int rc = arviz_attrs(h, gid, path);
      H5Gclose(gid);
      PF_TRY(rc);
      *created = 1;
    } else {
      hid_t o = H5Oopen(h->file, path, H5P_DEFAULT);
      PF_CHECK(o >= 0, PF_EHDF5, "cannot open '%s' in '%s': %s", path,
               h->path, pf__h5_errdesc());
      H5I_type_t t = H5Iget_type(o);
      H5Oclose(o);
      PF_CHECK(t == H5I_GROUP, PF_EINVAL,
               "'%s' in '%s' exists and is not a group", path, h->path);
    }
    path[i] = c;
  }
  return 0;
}

int pf_h5_group(pf_h5 *h, const char *group)
{
  PF_CHECK(h, PF_EINVAL, "pf_h5_group: NULL handle");
  if (h->noop) return 0;
  const char *g = grp(group);
  if (!*g) return 0;
  int created = 0;
  PF_TRY(make_groups(h, g, &created));
  if (created) PF_TRY(flush(h));
  return 0;
}

/* ------------------------------------------------------------- dimensions */

static pf__h5dim *find_dim(pf_h5 *h, const char *g, const char *name)
{
  for (size_t i = 0; i < h->ndims; i++)
    if (strcmp(h->dims[i].name, name) == 0 &&
        strcmp(h->dims[i].group, g) == 0)
      return &h->dims[i];
  return NULL;
}

/* Chunk shape.  u: unlimited axis or -1; len: current lengths (u's
 * ignored); sax: the axis split over R MPI ranks, or -1.  Sets *z when the
 * variable is to be deflated (decided on the whole record). */
static void plan_chunks(int nd, const hsize_t *len, int u, size_t esize,
                        int level, hsize_t *chunk, int *z, int sax, int R)
{
  hsize_t bytes = esize;
  for (int i = 0; i < nd; i++) {
    chunk[i] = i == u ? 1 : len[i];
    bytes *= chunk[i];
  }
  *z = level > 0 && bytes > 0 && (u < 0 || bytes >= PF__H5_ZMIN_RECORD);
  /* Split across R ranks in equal blocks: one block per chunk, so each
   * chunk has one writer. */
  if (sax >= 0 && sax != u && R > 1 && len[sax] % (hsize_t)R == 0 &&
      len[sax] > 0) {
    bytes = bytes / chunk[sax];
    chunk[sax] = len[sax] / (hsize_t)R;
    bytes *= chunk[sax];
  }
  /* Split a huge record (or a compressed fixed variable) along its largest
   * axes; otherwise the chunk is the whole record. */
  int split = u >= 0 ? bytes > PF__H5_SPLIT_ABOVE : *z;
  while (split && bytes > PF__H5_SPLIT_TO) {
    int big = -1;
    for (int i = 0; i < nd; i++)
      if (i != u && chunk[i] > 1 && (big < 0 || chunk[i] > chunk[big]))
        big = i;
    if (big < 0) break;
    bytes = bytes / chunk[big];
    chunk[big] = (chunk[big] + 1) / 2;
    bytes *= chunk[big];
  }
  if (u >= 0) {
    /* Compressed chunks are written once, complete: one record each. */
    hsize_t k = *z ? 1 : PF__H5_CHUNK_TARGET / (bytes ? bytes : 1);
    chunk[u] = k < 1 ? 1 : k > PF__H5_CHUNK_MAXREC ? PF__H5_CHUNK_MAXREC : k;
  }
}

static int grow(void **arr, size_t *cap, size_t need, size_t esize)
{
  if (need <= *cap) return 0;
  size_t nc = *cap ? 2 * *cap : 8;
  while (nc < need) nc *= 2;
  void *p = realloc(*arr, nc * esize);
  PF_CHECK(p, PF_ENOMEM, "out of memory");
  *arr = p;
  *cap = nc;
  return 0;
}

int pf_h5_dim(pf_h5 *h, const char *group, const char *name, size_t len,
              int unlimited)
{
  PF_CHECK(h, PF_EINVAL, "pf_h5_dim: NULL handle");
  PF_CHECK(valid_name(name), PF_EINVAL, "invalid dimension name '%s'",
           name ? name : "(null)");
  const char *g = grp(group);
  PF_CHECK(!find_dim(h, g, name), PF_EINVAL,
           "dimension '%s' is already defined in group '%s'", name,
           *g ? g : "/");
  if (h->noop) { /* no file: only the lengths, for split variables */
    PF_TRY(grow((void **)&h->dims, &h->capdims, h->ndims + 1,
                sizeof *h->dims));
    pf__h5dim nd = {dupstr(g), dupstr(name), H5I_INVALID_HID,
                    H5I_INVALID_HID, (int)h->ndims, unlimited != 0,
                    unlimited ? 0 : (hsize_t)len};
    if (!nd.group || !nd.name) {
      free(nd.group);
      free(nd.name);
      PF_RAISE(PF_ENOMEM, "out of memory");
    }
    h->dims[h->ndims++] = nd;
    return 0;
  }
  char path[1024];
  PF_TRY(joinpath(path, sizeof path, g, name));
  int created = 0;
  if (*g) PF_TRY(make_groups(h, g, &created));
  htri_t ex = H5Lexists(h->file, path, H5P_DEFAULT);
  PF_CHECK(ex >= 0, PF_EHDF5, "looking up '%s' in '%s': %s", path, h->path,
           pf__h5_errdesc());
  PF_CHECK(ex == 0, PF_EINVAL, "'%s' already exists in '%s'", path, h->path);
  PF_TRY(grow((void **)&h->dims, &h->capdims, h->ndims + 1, sizeof *h->dims));

  int rc = 0;
  pf__h5dim d = {NULL, NULL, H5I_INVALID_HID, H5I_INVALID_HID, (int)h->ndims,
                 unlimited != 0, unlimited ? 0 : (hsize_t)len};
  hid_t dcpl = H5I_INVALID_HID, space = H5I_INVALID_HID;
  long long *vals = NULL;
  d.group = dupstr(g);
  d.name = dupstr(name);
  PF_CHECK_GOTO(rc, d.group && d.name, PF_ENOMEM, fail, "out of memory");

  hsize_t cur = d.len, max = unlimited ? H5S_UNLIMITED : d.len;
  dcpl = dcpl_new();
  space = H5Screate_simple(1, &cur, &max);
  PF_CHECK_GOTO(rc, dcpl >= 0 && space >= 0, PF_EHDF5, fail,
                "dimension '%s': %s", path, pf__h5_errdesc());
  if (unlimited) {
    hsize_t chunk;
    int z;
    plan_chunks(1, &cur, 0, sizeof(int64_t), 0, &chunk, &z, -1, 1);
    PF_CHECK_GOTO(rc, H5Pset_chunk(dcpl, 1, &chunk) >= 0, PF_EHDF5, fail,
                  "dimension '%s': chunking: %s", path, pf__h5_errdesc());
  }
  d.dset = H5Dcreate2(h->file, path, H5T_STD_I64LE, space, H5P_DEFAULT, dcpl,
                      H5P_DEFAULT);
  PF_CHECK_GOTO(rc, d.dset >= 0, PF_EHDF5, fail,
                "cannot create dimension '%s' in '%s': %s", path, h->path,
                pf__h5_errdesc());
  if (!unlimited && len > 0) {
    vals = malloc(len * sizeof *vals);
    PF_CHECK_GOTO(rc, vals, PF_ENOMEM, fail, "out of memory");
    for (size_t i = 0; i < len; i++) vals[i] = (long long)i;
    PF_CHECK_GOTO(rc, write_all(h, d.dset, H5T_NATIVE_LLONG, vals) >= 0,
                  PF_EHDF5, fail, "writing coordinate '%s': %s", path,
                  pf__h5_errdesc());
  }
  PF_CHECK_GOTO(rc, H5DSset_scale(d.dset, name) >= 0, PF_EHDF5, fail,
                "dimension scale '%s': %s", path, pf__h5_errdesc());
  int32_t dimid = d.id;
  PF_TRY_GOTO(rc,
              put_attr(d.dset, path, "_Netcdf4Dimid", H5T_STD_I32LE,
                       H5T_NATIVE_INT32, &dimid),
              fail);
  if (unlimited) {
    d.fspace = H5Scopy(space);
    PF_CHECK_GOTO(rc, d.fspace >= 0, PF_EHDF5, fail, "H5Scopy: %s",
                  pf__h5_errdesc());
  }
  free(vals);
  h5close(&dcpl);
  h5close(&space);
  h->dims[h->ndims++] = d;
  PF_TRY(flush(h));
  return 0;

fail:
  free(vals);
  h5close(&dcpl);
  h5close(&space);
  if (d.dset >= 0) {
    h5close(&d.dset);
    H5Ldelete(h->file, path, H5P_DEFAULT);
  }
  h5close(&d.fspace);
  free(d.group);
  free(d.name);
  return rc;
}

int pf_h5_dim_append(pf_h5 *h, const char *group, const char *name,
                     long long coord)
{
  PF_CHECK(h && name, PF_EINVAL, "pf_h5_dim_append: NULL argument");
  const char *g = grp(group);
  pf__h5dim *d = find_dim(h, g, name);
  PF_CHECK(d, PF_ENOTFOUND, "no dimension '%s' in group '%s' of '%s'", name,
           *g ? g : "/", h->path ? h->path : "(rank 0's file)");
  if (h->noop) {
    d->len++;
    return 0;
  }
  PF_CHECK(d->unlimited, PF_EINVAL,
           "dimension '%s' in '%s' is fixed; only unlimited ones grow", name,
           *g ? g : "/");
  hsize_t n = d->len + 1, max = H5S_UNLIMITED, start = d->len, one = 1;
  const int w = lead(h); /* MPI-IO: rank 0 writes, the others select none */
  PF_CHECK(H5Dset_extent(d->dset, &n) >= 0 &&
               H5Sset_extent_simple(d->fspace, 1, &n, &max) >= 0 &&
               (w ? H5Sselect_hyperslab(d->fspace, H5S_SELECT_SET, &start,
                                        NULL, &one, NULL)
                  : H5Sselect_none(d->fspace)) >= 0 &&
               (w ? 0 : H5Sselect_none(h->mspace1)) >= 0 &&
               H5Dwrite(d->dset, H5T_NATIVE_LLONG, h->mspace1, d->fspace,
                        xfer(h), &coord) >= 0,
           PF_EHDF5, "appending to dimension '%s' in '%s': %s", name, h->path,
           pf__h5_errdesc());
  d->len = n;
  return 0;
}

/* -------------------------------------------------------------- variables */

static hid_t file_type(pf_h5type t)
{
  return t == PF_H5_F64 ? H5T_IEEE_F64LE
         : t == PF_H5_I64 ? H5T_STD_I64LE
                          : H5T_STD_I8LE;
}

static hid_t mem_type(pf_h5type t)
{
  return t == PF_H5_F64 ? H5T_NATIVE_DOUBLE
         : t == PF_H5_I64 ? H5T_NATIVE_INT64
                          : H5T_NATIVE_INT8;
}


int pf_h5_var(pf_h5 *h, const char *group, const char *name, pf_h5type type,
              int ndims, const char *const *dims, pf_h5var **out)
{
  return pf_h5_var_split(h, group, name, type, ndims, dims, -1, out);
}

int pf_h5_var_split(pf_h5 *h, const char *group, const char *name,
                    pf_h5type type, int ndims, const char *const *dims,
                    int split, pf_h5var **out)
{
  PF_CHECK(h && out, PF_EINVAL, "pf_h5_var: NULL argument");
  *out = NULL;
  PF_CHECK(valid_name(name), PF_EINVAL, "invalid variable name '%s'",
           name ? name : "(null)");
  PF_CHECK(type == PF_H5_F64 || type == PF_H5_I64 || type == PF_H5_I8,
           PF_EINVAL, "variable '%s': unknown type %d", name, (int)type);
  PF_CHECK(ndims >= 0 && ndims <= PF__H5_MAXDIMS && (ndims == 0 || dims),
           PF_EINVAL, "variable '%s': %d dimensions (at most %d)", name,
           ndims, PF__H5_MAXDIMS);
  const char *g = grp(group);
  char path[1024];
  PF_TRY(joinpath(path, sizeof path, g, name));
  PF_TRY(grow((void **)&h->vars, &h->capvars, h->nvars + 1, sizeof *h->vars));

  /* Resolve the dimensions. */
  pf__h5dim *dd[PF__H5_MAXDIMS];
  hsize_t max[PF__H5_MAXDIMS], chunk[PF__H5_MAXDIMS];
  int uaxis = -1;
  for (int i = 0; i < ndims; i++) {
    PF_CHECK(dims[i], PF_EINVAL, "variable '%s': NULL dimension name", path);
    dd[i] = find_dim(h, g, dims[i]);
    PF_CHECK(dd[i], PF_ENOTFOUND,
             "variable '%s': no dimension '%s' in group '%s' (define it "
             "first)",
             path, dims[i], *g ? g : "/");
    PF_CHECK(strcmp(dims[i], name) != 0, PF_EINVAL,
             "variable '%s' has the name of a dimension", path);
    for (int j = 0; j < i; j++)
      PF_CHECK(dd[j] != dd[i], PF_EINVAL,
               "variable '%s': dimension '%s' used twice", path, dims[i]);
    if (dd[i]->unlimited) {
      PF_CHECK(uaxis < 0, PF_EINVAL,
               "variable '%s': more than one unlimited dimension", path);
      uaxis = i;
    }
  }
  /* The split axis: rank r holds rows pf_comm_block(len, r); the axes
   * before it have length 1 (or grow), so the blocks concatenate. */
  size_t slen = 0, width = 1, slo = 0, shi = 0;
  if (split >= 0) {
    PF_CHECK(split < ndims && !dd[split]->unlimited && type == PF_H5_F64,
             PF_EINVAL, "variable '%s': axis %d cannot be split across "
             "ranks (a fixed axis of a float64 variable)", path, split);
    for (int i = 0; i < split; i++)
      PF_CHECK(dd[i]->unlimited || dd[i]->len == 1, PF_EINVAL,
               "variable '%s': axis '%s' before the split axis is not of "
               "length 1", path, dims[i]);
    slen = (size_t)dd[split]->len;
    for (int i = split + 1; i < ndims; i++)
      if (!dd[i]->unlimited) width *= (size_t)dd[i]->len;
    pf_comm_block(slen, pf_comm_rank(), &slo, &shi);
  } else {
    split = -1;
  }
  if (h->noop) { /* writes nothing; takes part in split gathers */
    pf_h5var *nv = calloc(1, sizeof *nv);
    PF_CHECK(nv, PF_ENOMEM, "variable handle");
    nv->h = h;
    nv->dset = nv->mspace = nv->fspace = H5I_INVALID_HID;
    nv->uaxis = uaxis;
    nv->split = split;
    nv->slen = slen;
    nv->width = width;
    h->vars[h->nvars++] = *out = nv;
    return 0;
  }
  int created = 0;
  if (*g) PF_TRY(make_groups(h, g, &created));
  htri_t ex = H5Lexists(h->file, path, H5P_DEFAULT);
  PF_CHECK(ex >= 0, PF_EHDF5, "looking up '%s' in '%s': %s", path, h->path,
           pf__h5_errdesc());
  PF_CHECK(ex == 0, PF_EINVAL, "'%s' already exists in '%s'", path, h->path);

  int rc = 0;
  hid_t dcpl = H5I_INVALID_HID, space = H5I_INVALID_HID;
  pf_h5var *v = calloc(1, sizeof *v);
  PF_CHECK(v, PF_ENOMEM, "out of memory");
  v->h = h;
  v->dset = v->mspace = v->fspace = H5I_INVALID_HID;
  v->mtype = mem_type(type);
  v->ndims = ndims;
  v->uaxis = uaxis;
  v->split = split;
  v->slen = slen;
  v->width = width;
  v->path = dupstr(path);
  PF_CHECK_GOTO(rc, v->path, PF_ENOMEM, fail, "out of memory");
  for (int i = 0; i < ndims; i++) {
    v->cur[i] = dd[i]->unlimited ? 0 : dd[i]->len;
    max[i] = dd[i]->unlimited ? H5S_UNLIMITED : dd[i]->len;
    if (uaxis >= 0 && i != uaxis)
      PF_CHECK_GOTO(rc, dd[i]->len > 0, PF_EINVAL, fail,
                    "variable '%s': zero-length dimension '%s' in a record "
                    "variable",
                    path, dims[i]);
  }
  if (uaxis >= 0) v->udim = (size_t)(dd[uaxis] - h->dims);

  dcpl = dcpl_new();
  space = ndims ? H5Screate_simple(ndims, v->cur, max)
                : H5Screate(H5S_SCALAR);
  PF_CHECK_GOTO(rc, dcpl >= 0 && space >= 0, PF_EHDF5, fail,
                "variable '%s': %s", path, pf__h5_errdesc());
  int z = 0;
  if (ndims > 0) {
    size_t esize = H5Tget_size(v->mtype);
    plan_chunks(ndims, v->cur, uaxis, esize, h->level, chunk, &z, split,
                pf_comm_size());
    if (uaxis >= 0 || z)
      PF_CHECK_GOTO(rc, H5Pset_chunk(dcpl, ndims, chunk) >= 0, PF_EHDF5, fail,
                    "variable '%s': chunking: %s", path, pf__h5_errdesc());
    if (z)
      PF_CHECK_GOTO(rc,
                    H5Pset_shuffle(dcpl) >= 0 &&
                        H5Pset_deflate(dcpl, (unsigned)h->level) >= 0,
                    PF_EHDF5, fail, "variable '%s': compression: %s", path,
                    pf__h5_errdesc());
  }
  if (type == PF_H5_F64) {
    /* Unwritten values (a variable added after the run started) read as
     * NaN, also through h5netcdf's padding. */
    double nan = NAN;
    PF_CHECK_GOTO(rc, H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan) >= 0,
                  PF_EHDF5, fail, "variable '%s': fill value: %s", path,
                  pf__h5_errdesc());
  }
  v->compressed = z;
  v->dset = H5Dcreate2(h->file, path, file_type(type), space, H5P_DEFAULT,
                       dcpl, H5P_DEFAULT);
  PF_CHECK_GOTO(rc, v->dset >= 0, PF_EHDF5, fail,
                "cannot create variable '%s' in '%s': %s", path, h->path,
                pf__h5_errdesc());
  for (int i = 0; i < ndims; i++)
    PF_CHECK_GOTO(rc, H5DSattach_scale(v->dset, dd[i]->dset, (unsigned)i) >= 0,
                  PF_EHDF5, fail,
                  "variable '%s': attaching dimension '%s': %s", path,
                  dims[i], pf__h5_errdesc());
  if (ndims > 0) {
    int32_t ids[PF__H5_MAXDIMS];
    for (int i = 0; i < ndims; i++) ids[i] = dd[i]->id;
    hsize_t n = (hsize_t)ndims;
    hid_t asp = H5Screate_simple(1, &n, NULL);
    hid_t a = asp >= 0 ? H5Acreate2(v->dset, "_Netcdf4Coordinates",
                                    H5T_STD_I32LE, asp, H5P_DEFAULT,
                                    H5P_DEFAULT)
                       : H5I_INVALID_HID;
    herr_t w = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT32, ids) : -1;
    h5close(&a);
    h5close(&asp);
    PF_CHECK_GOTO(rc, w >= 0, PF_EHDF5, fail,
                  "variable '%s': _Netcdf4Coordinates: %s", path,
                  pf__h5_errdesc());
  }
  if (h->gather && split >= 0) {
    v->gbuf = malloc((slen ? slen : 1) * width * sizeof(double));
    PF_CHECK_GOTO(rc, v->gbuf, PF_ENOMEM, fail, "variable '%s': gather "
                  "buffer", path);
  }
  if (uaxis >= 0 || split >= 0) {
    /* Record memory layout: the variable's axes with the unlimited one of
     * length 1, which is C-contiguous (chain, rest...) as documented;
     * under MPI-IO only this rank's rows of a split axis. */
    hsize_t rec[PF__H5_MAXDIMS];
    for (int i = 0; i < ndims; i++) {
      rec[i] = i == uaxis ? 1 : v->cur[i];
      v->start[i] = 0;
      if (i == split && h->coll) {
        rec[i] = shi - slo;
        v->start[i] = slo;
      }
      v->count[i] = rec[i];
    }
    v->mspace = H5Screate_simple(ndims, rec, NULL);
    v->fspace = H5Scopy(space);
    PF_CHECK_GOTO(rc, v->mspace >= 0 && v->fspace >= 0, PF_EHDF5, fail,
                  "variable '%s': dataspaces: %s", path, pf__h5_errdesc());
  }
  h5close(&dcpl);
  h5close(&space);
  h->vars[h->nvars++] = v;
  *out = v;
  PF_TRY(flush(h));
  return 0;

fail:
  h5close(&dcpl);
  h5close(&space);
  if (v->dset >= 0) {
    h5close(&v->dset);
    H5Ldelete(h->file, path, H5P_DEFAULT);
  }
  var_free(v);
  return rc;
}

/* Gather backend: a split variable's blocks to rank 0 (collective). */
static int gathered(pf_h5var *v, const void **data)
{
  if (v->split < 0 || !v->h->gather) return 0;
  PF_TRY(pf_comm_gather_rows(*data, v->slen, v->width, v->gbuf, 0));
  *data = v->gbuf;
  return 0;
}

/* Select this rank's part of a split record (start/count set), or nothing
 * (an empty block, or data rank 0 writes alone under MPI-IO). */
static herr_t select_part(pf_h5var *v)
{
  const int none = v->split >= 0 ? v->h->coll && v->count[v->split] == 0
                                 : !lead(v->h);
  if (none)
    return H5Sselect_none(v->fspace) < 0 ? -1 : H5Sselect_none(v->mspace);
  return H5Sselect_hyperslab(v->fspace, H5S_SELECT_SET, v->start, NULL,
                             v->count, NULL);
}

int pf_h5_var_write(pf_h5var *v, const void *data)
{
  PF_CHECK(v && data, PF_EINVAL, "pf_h5_var_write: NULL argument");
  PF_TRY(gathered(v, &data));
  if (v->h->noop) return 0;
  PF_CHECK(v->uaxis < 0, PF_EINVAL,
           "variable '%s' grows along an unlimited dimension: use "
           "pf_h5_var_append",
           v->path);
  herr_t w;
  if (v->split >= 0 && v->h->coll)
    w = select_part(v) < 0 ? -1
                           : H5Dwrite(v->dset, v->mtype, v->mspace, v->fspace,
                                      xfer(v->h), data);
  else
    w = write_all(v->h, v->dset, v->mtype, data);
  PF_CHECK(w >= 0, PF_EHDF5, "writing variable '%s' in '%s': %s", v->path,
           v->h->path, pf__h5_errdesc());
  /* Rewritten compressed chunks change size and free their old space. */
  if (v->compressed && v->written) PF_TRY(flush(v->h));
  v->written = 1;
  return 0;
}

int pf_h5_var_append(pf_h5var *v, const void *data)
{
  PF_CHECK(v && data, PF_EINVAL, "pf_h5_var_append: NULL argument");
  PF_TRY(gathered(v, &data));
  if (v->h->noop) return 0;
  PF_CHECK(v->uaxis >= 0, PF_EINVAL,
           "variable '%s' has no unlimited dimension: use pf_h5_var_write",
           v->path);
  const pf__h5dim *d = &v->h->dims[v->udim];
  PF_CHECK(d->len > 0, PF_EINVAL,
           "variable '%s': dimension '%s' is empty (call pf_h5_dim_append "
           "first)",
           v->path, d->name);
  int u = v->uaxis;
  if (v->cur[u] != d->len) {
    hsize_t max[PF__H5_MAXDIMS];
    for (int i = 0; i < v->ndims; i++) max[i] = i == u ? H5S_UNLIMITED : v->cur[i];
    v->cur[u] = d->len;
    PF_CHECK(H5Dset_extent(v->dset, v->cur) >= 0 &&
                 H5Sset_extent_simple(v->fspace, v->ndims, v->cur, max) >= 0,
             PF_EHDF5, "extending variable '%s' in '%s': %s", v->path,
             v->h->path, pf__h5_errdesc());
  }
  v->start[u] = d->len - 1;
  PF_CHECK(select_part(v) >= 0 &&
               H5Dwrite(v->dset, v->mtype, v->mspace, v->fspace, xfer(v->h),
                        data) >= 0,
           PF_EHDF5, "appending to variable '%s' in '%s': %s", v->path,
           v->h->path, pf__h5_errdesc());
  v->written = 1;
  return 0;
}

int pf_h5_flush(pf_h5 *h)
{
  PF_CHECK(h, PF_EINVAL, "pf_h5_flush: NULL handle");
  if (h->noop) return 0;
  PF_TRY(flush(h));
  return 0;
}

int pf_h5_close(pf_h5 **hp)
{
  if (!hp || !*hp) return 0;
  pf_h5 *h = *hp;
  *hp = NULL;
  int rc = 0;
  if (h->noop) {
    destroy(h);
    return 0;
  }
  /* Objects first: the file only really closes with its last id. */
  for (size_t i = 0; i < h->nvars; i++) {
    var_free(h->vars[i]);
    h->vars[i] = NULL;
  }
  h->nvars = 0;
  for (size_t i = 0; i < h->ndims; i++) {
    h5close(&h->dims[i].fspace);
    h5close(&h->dims[i].dset);
  }
  if (H5Fclose(h->file) < 0)
    rc = pf__error_set(PF_EHDF5, __FILE__, __LINE__, "closing '%s': %s",
                       h->path, pf__h5_errdesc());
  h->file = H5I_INVALID_HID;
  destroy(h);
  return rc;
}

/* ------------------------------------------- reopening for append (resume)
 * Used by `pflow run --resume` (core/run.c): reopen a file this writer
 * created, forget the groups its run writes only at the end, register the
 * existing dimensions (in _Netcdf4Dimid order, so dimensions created later
 * get the ids an uninterrupted run would give them), cut unlimited
 * dimensions back to a checkpoint's cursor and reopen record variables. */

typedef struct pf__h5scan {
  pf_h5 *h;
  int rc;
  char **names; /* root groups to drop */
  size_t nnames;
  const char *const *keep;
} pf__h5scan;

static herr_t scan_root(hid_t g, const char *name, const H5L_info_t *info,
                        void *data)
{
  (void)info;
  pf__h5scan *s = data;
  for (size_t i = 0; s->keep && s->keep[i]; i++)
    if (strcmp(s->keep[i], name) == 0) return 0;
  H5O_info_t oi;
  if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0) return -1;
  if (oi.type != H5O_TYPE_GROUP) return 0;
  char **p = realloc(s->names, (s->nnames + 1) * sizeof *p);
  if (!p) return -1;
  s->names = p;
  s->names[s->nnames] = dupstr(name);
  return s->names[s->nnames++] ? 0 : -1;
}

/* Every dataset carrying _Netcdf4Dimid is a dimension of this writer. */
static herr_t scan_dims(hid_t g, const char *name, const H5L_info_t *info,
                        void *data)
{
  (void)info;
  pf__h5scan *s = data;
  pf_h5 *h = s->h;
  H5O_info_t oi;
  if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0) return -1;
  if (oi.type != H5O_TYPE_DATASET) return 0;
  hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
  if (ds < 0) return -1;
  if (H5Aexists(ds, "_Netcdf4Dimid") <= 0) {
    H5Dclose(ds);
    return 0;
  }
  int32_t id = -1;
  hid_t a = H5Aopen(ds, "_Netcdf4Dimid", H5P_DEFAULT);
  herr_t r = a >= 0 ? H5Aread(a, H5T_NATIVE_INT32, &id) : -1;
  if (a >= 0) H5Aclose(a);
  hid_t sp = H5Dget_space(ds);
  hsize_t cur = 0, max = 0;
  int nd = sp >= 0 ? H5Sget_simple_extent_dims(sp, &cur, &max) : -1;
  if (r < 0 || nd != 1 || grow((void **)&h->dims, &h->capdims, h->ndims + 1,
                               sizeof *h->dims) < 0) {
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(ds);
    s->rc = PF_EHDF5;
    return -1;
  }
  pf__h5dim d = {NULL, NULL, ds, H5I_INVALID_HID, (int)id,
                 max == H5S_UNLIMITED, cur};
  const char *slash = strrchr(name, '/');
  d.name = dupstr(slash ? slash + 1 : name);
  d.group = dupstr(name);
  if (d.group) d.group[slash ? (size_t)(slash - name) : 0] = '\0';
  if (d.unlimited)
    d.fspace = sp;
  else
    H5Sclose(sp);
  h->dims[h->ndims++] = d;
  if (!d.name || !d.group) {
    s->rc = PF_ENOMEM;
    return -1;
  }
  return 0;
}

static int dim_by_id(const void *a, const void *b)
{
  const pf__h5dim *x = a, *y = b;
  return (x->id > y->id) - (x->id < y->id);
}

static int open_append1(const char *path, const char *const *keep,
                        pf_h5 **out)
{
  PF_CHECK(path && out, PF_EINVAL, "pf_h5_open_append: NULL argument");
  *out = NULL;
  pf__h5_quiet();
  int rc = 0;
  hid_t fapl = H5I_INVALID_HID;
  pf__h5scan s = {NULL, 0, NULL, 0, keep};
  pf_h5 *h = calloc(1, sizeof *h);
  PF_CHECK(h, PF_ENOMEM, "out of memory");
  h->file = h->mspace1 = h->dxpl = H5I_INVALID_HID;
  s.h = h;
  h->path = dupstr(path);
  PF_CHECK_GOTO(rc, h->path, PF_ENOMEM, fail, "out of memory");
  /* The same crash-safety setting as pf_h5_create. */
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5AC_cache_config_t mdc;
  memset(&mdc, 0, sizeof mdc);
  mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  PF_CHECK_GOTO(rc, fapl >= 0 && H5Pget_mdc_config(fapl, &mdc) >= 0, PF_EHDF5,
                fail, "H5Pget_mdc_config: %s", pf__h5_errdesc());
  mdc.evictions_enabled = 0;
  mdc.incr_mode = H5C_incr__off;
  mdc.flash_incr_mode = H5C_flash_incr__off;
  mdc.decr_mode = H5C_decr__off;
  PF_CHECK_GOTO(rc,
                H5Pset_mdc_config(fapl, &mdc) >= 0 &&
                    H5Pset_file_locking(fapl, 1, 1) >= 0,
                PF_EHDF5, fail, "file access properties: %s",
                pf__h5_errdesc());
  h->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
  PF_CHECK_GOTO(rc, h->file >= 0, PF_EIO, fail,
                "cannot open '%s' for appending: %s", path, pf__h5_errdesc());
  hsize_t one = 1;
  h->mspace1 = H5Screate_simple(1, &one, NULL);
  PF_CHECK_GOTO(rc, h->mspace1 >= 0, PF_EHDF5, fail, "H5Screate_simple: %s",
                pf__h5_errdesc());
  PF_CHECK_GOTO(rc,
                H5Literate(h->file, H5_INDEX_NAME, H5_ITER_INC, NULL,
                           scan_root, &s) >= 0,
                PF_EHDF5, fail, "listing the groups of '%s': %s", path,
                pf__h5_errdesc());
  for (size_t i = 0; i < s.nnames; i++)
    PF_CHECK_GOTO(rc, H5Ldelete(h->file, s.names[i], H5P_DEFAULT) >= 0,
                  PF_EHDF5, fail, "removing group '%s' of '%s': %s",
                  s.names[i], path, pf__h5_errdesc());
  PF_CHECK_GOTO(rc,
                H5Lvisit(h->file, H5_INDEX_NAME, H5_ITER_INC, scan_dims,
                         &s) >= 0,
                s.rc ? s.rc : PF_EHDF5, fail,
                "reading the dimensions of '%s': %s", path, pf__h5_errdesc());
  qsort(h->dims, h->ndims, sizeof *h->dims, dim_by_id);
  for (size_t i = 0; i < h->ndims; i++)
    PF_CHECK_GOTO(rc, h->dims[i].id == (int)i, PF_EINVAL, fail,
                  "'%s': dimension ids are not 0..%zu (not written by "
                  "pflow?)", path, h->ndims - 1);
  PF_TRY_GOTO(rc, flush(h), fail);
  for (size_t i = 0; i < s.nnames; i++) free(s.names[i]);
  free(s.names);
  H5Pclose(fapl);
  *out = h;
  return 0;
fail:
  for (size_t i = 0; i < s.nnames; i++) free(s.names[i]);
  free(s.names);
  if (fapl >= 0) H5Pclose(fapl);
  destroy(h);
  return rc;
}

/* Under MPI (resume): rank 0's dimension table to every rank, packed as
 * (id, unlimited, len, "group\0name\0") records.  Collective. */
static int share_dims(pf_h5 *h)
{
  unsigned long long bytes = 0;
  char *buf = NULL;
  int rc = 0;
  if (pf_comm_rank() == 0) {
    for (size_t i = 0; i < h->ndims; i++)
      bytes += 3 * sizeof(long long) + strlen(h->dims[i].group) +
               strlen(h->dims[i].name) + 2;
    buf = malloc(bytes ? bytes : 1);
    if (!buf) rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__,
                                 "dimension table");
    for (size_t i = 0, k = 0; buf && i < h->ndims; i++) {
      long long v[3] = {h->dims[i].id, h->dims[i].unlimited,
                        (long long)h->dims[i].len};
      memcpy(buf + k, v, sizeof v);
      k += sizeof v;
      size_t lg = strlen(h->dims[i].group) + 1,
             ln = strlen(h->dims[i].name) + 1;
      memcpy(buf + k, h->dims[i].group, lg);
      memcpy(buf + k + lg, h->dims[i].name, ln);
      k += lg + ln;
    }
  }
  PF_TRY(pf_comm_agree(rc));
  PF_TRY(pf_comm_bcast(&bytes, sizeof bytes));
  if (pf_comm_rank() != 0) {
    buf = malloc(bytes ? bytes : 1);
    rc = buf ? 0 : pf__error_set(PF_ENOMEM, __FILE__, __LINE__,
                                 "dimension table");
  }
  if ((rc = pf_comm_agree(rc)) == 0) rc = pf_comm_bcast(buf, bytes);
  for (size_t k = 0; rc == 0 && pf_comm_rank() != 0 && k < bytes;) {
    long long v[3];
    memcpy(v, buf + k, sizeof v);
    k += sizeof v;
    const char *g = buf + k, *nm = g + strlen(g) + 1;
    k = (size_t)(nm + strlen(nm) + 1 - buf);
    rc = grow((void **)&h->dims, &h->capdims, h->ndims + 1, sizeof *h->dims);
    if (rc == 0) {
      pf__h5dim nd = {dupstr(g), dupstr(nm), H5I_INVALID_HID,
                      H5I_INVALID_HID, (int)v[0], (int)v[1], (hsize_t)v[2]};
      h->dims[h->ndims++] = nd;
      if (!nd.group || !nd.name)
        rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__, "out of memory");
    }
  }
  free(buf);
  return rc;
}

int pf_h5_open_append(const char *path, const char *const *keep,
                      pf_h5 **out)
{
  if (pf_comm_size() == 1) return open_append1(path, keep, out);
  /* MPI: the gather backend from here on (rank 0 writes; the others keep
   * the dimension lengths and take part in the split variables' gathers),
   * whatever output.io the run was created with: same data and layout. */
  PF_CHECK(out, PF_EINVAL, "pf_h5_open_append: NULL argument");
  *out = NULL;
  pf_h5 *h = NULL;
  int rc = 0;
  if (pf_comm_rank() == 0) {
    rc = open_append1(path, keep, &h);
  } else {
    h = calloc(1, sizeof *h);
    if (h) {
      h->file = h->mspace1 = h->dxpl = H5I_INVALID_HID;
      h->noop = 1;
    } else {
      rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__, "output handle");
    }
  }
  if (h) h->gather = 1;
  rc = pf_comm_agree(rc);
  if (rc == 0) rc = share_dims(h);
  if (rc != 0) {
    if (h) {
      pf_h5 *hh = h;
      pf_h5_close(&hh);
    }
    return rc;
  }
  *out = h;
  return 0;
}

int pf_h5_dim_len(pf_h5 *h, const char *group, const char *name,
                  size_t *len)
{
  PF_CHECK(h && name && len, PF_EINVAL, "pf_h5_dim_len: NULL argument");
  const pf__h5dim *d = find_dim(h, grp(group), name);
  PF_CHECK(d, PF_ENOTFOUND, "no dimension '%s' in group '%s' of '%s'", name,
           *grp(group) ? grp(group) : "/", h->path);
  *len = (size_t)d->len;
  return 0;
}

int pf_h5_dim_truncate(pf_h5 *h, const char *group, const char *name,
                       size_t len)
{
  PF_CHECK(h && name, PF_EINVAL, "pf_h5_dim_truncate: NULL argument");
  const char *g = grp(group);
  pf__h5dim *d = find_dim(h, g, name);
  PF_CHECK(d, PF_ENOTFOUND, "no dimension '%s' in group '%s' of '%s'", name,
           *g ? g : "/", h->path);
  PF_CHECK(d->unlimited, PF_EINVAL, "dimension '%s/%s' is fixed", g, name);
  PF_CHECK((hsize_t)len <= d->len, PF_EINVAL,
           "'%s': dimension '%s/%s' has %llu records, fewer than the %zu the "
           "checkpoint needs (records written before the checkpoint were "
           "lost)", h->path ? h->path : "(rank 0's file)", g, name,
           (unsigned long long)d->len, len);
  if (h->noop) {
    d->len = len;
    return 0;
  }
  hsize_t n = len, max = H5S_UNLIMITED;
  PF_CHECK(H5Dset_extent(d->dset, &n) >= 0 &&
               H5Sset_extent_simple(d->fspace, 1, &n, &max) >= 0,
           PF_EHDF5, "truncating dimension '%s/%s' of '%s': %s", g, name,
           h->path, pf__h5_errdesc());
  d->len = n;
  return 0;
}

int pf_h5_var_open(pf_h5 *h, const char *group, const char *name,
                   pf_h5var **out)
{
  return pf_h5_var_open_split(h, group, name, -1, out);
}

static int var_open1(pf_h5 *h, const char *group, const char *name,
                     pf_h5var **out);

int pf_h5_var_open_split(pf_h5 *h, const char *group, const char *name,
                         int split, pf_h5var **out)
{
  PF_CHECK(h && name && out, PF_EINVAL, "pf_h5_var_open: NULL argument");
  *out = NULL;
  int rc = 0;
  unsigned long long sw[2] = {0, 1}; /* rows along the split axis, width */
  pf_h5var *v = NULL;
  if (h->noop) {
    v = calloc(1, sizeof *v);
    if (v) {
      v->h = h;
      v->dset = v->mspace = v->fspace = H5I_INVALID_HID;
      v->uaxis = v->split = -1;
    }
    rc = v ? grow((void **)&h->vars, &h->capvars, h->nvars + 1,
                  sizeof *h->vars)
           : pf__error_set(PF_ENOMEM, __FILE__, __LINE__, "variable handle");
    if (rc == 0) h->vars[h->nvars++] = v;
    else free(v);
  } else {
    rc = var_open1(h, group, name, &v);
    if (rc == 0 && split >= 0 && !(split < v->ndims && split != v->uaxis))
      rc = pf__error_set(PF_EINVAL, __FILE__, __LINE__,
                         "variable '%s': axis %d cannot be split", v->path,
                         split);
    if (rc == 0 && split >= 0) {
      sw[0] = v->cur[split];
      for (int i = split + 1; i < v->ndims; i++)
        if (i != v->uaxis) sw[1] *= v->cur[i];
    }
  }
  if (h->gather) { /* more than one rank: rank 0's shape everywhere */
    PF_TRY(pf_comm_agree(rc));
    PF_TRY(pf_comm_bcast(sw, sizeof sw));
  }
  PF_TRY(rc);
  if (split >= 0) {
    v->split = split;
    v->slen = (size_t)sw[0];
    v->width = (size_t)sw[1];
    if (h->gather && !h->noop) {
      v->gbuf = malloc((v->slen ? v->slen : 1) * v->width * sizeof(double));
      PF_CHECK(v->gbuf, PF_ENOMEM, "variable '%s': gather buffer", v->path);
    }
  }
  *out = v;
  return 0;
}

static int var_open1(pf_h5 *h, const char *group, const char *name,
                     pf_h5var **out)
{
  PF_CHECK(h && name && out, PF_EINVAL, "pf_h5_var_open: NULL argument");
  *out = NULL;
  const char *g = grp(group);
  char path[1024];
  PF_TRY(joinpath(path, sizeof path, g, name));
  PF_TRY(grow((void **)&h->vars, &h->capvars, h->nvars + 1, sizeof *h->vars));
  int rc = 0;
  hid_t sp = H5I_INVALID_HID, ty = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  pf_h5var *v = calloc(1, sizeof *v);
  PF_CHECK(v, PF_ENOMEM, "out of memory");
  v->h = h;
  v->dset = v->mspace = v->fspace = H5I_INVALID_HID;
  v->uaxis = -1;
  v->split = -1;
  v->path = dupstr(path);
  PF_CHECK_GOTO(rc, v->path, PF_ENOMEM, fail, "out of memory");
  htri_t ex = H5Lexists(h->file, path, H5P_DEFAULT);
  PF_CHECK_GOTO(rc, ex > 0, PF_ENOTFOUND, fail, "no variable '%s' in '%s'",
                path, h->path);
  v->dset = H5Dopen2(h->file, path, H5P_DEFAULT);
  PF_CHECK_GOTO(rc, v->dset >= 0, PF_EHDF5, fail, "opening '%s' in '%s': %s",
                path, h->path, pf__h5_errdesc());
  ty = H5Dget_type(v->dset);
  sp = H5Dget_space(v->dset);
  dcpl = H5Dget_create_plist(v->dset);
  PF_CHECK_GOTO(rc, ty >= 0 && sp >= 0 && dcpl >= 0, PF_EHDF5, fail,
                "variable '%s': %s", path, pf__h5_errdesc());
  v->mtype = H5Tget_class(ty) == H5T_FLOAT ? H5T_NATIVE_DOUBLE
             : H5Tget_size(ty) == 1        ? H5T_NATIVE_INT8
                                           : H5T_NATIVE_INT64;
  v->compressed = H5Pget_nfilters(dcpl) > 0;
  v->written = 1;
  hsize_t max[PF__H5_MAXDIMS];
  v->ndims = H5Sget_simple_extent_ndims(sp);
  PF_CHECK_GOTO(rc, v->ndims >= 0 && v->ndims <= PF__H5_MAXDIMS, PF_EINVAL,
                fail, "variable '%s': %d dimensions", path, v->ndims);
  H5Sget_simple_extent_dims(sp, v->cur, max);
  for (int i = 0; i < v->ndims; i++)
    if (max[i] == H5S_UNLIMITED) v->uaxis = i;
  if (v->uaxis >= 0) {
    int32_t ids[PF__H5_MAXDIMS];
    hid_t a = H5Aopen(v->dset, "_Netcdf4Coordinates", H5P_DEFAULT);
    herr_t r = a >= 0 ? H5Aread(a, H5T_NATIVE_INT32, ids) : -1;
    if (a >= 0) H5Aclose(a);
    PF_CHECK_GOTO(rc, r >= 0, PF_EHDF5, fail,
                  "variable '%s': _Netcdf4Coordinates: %s", path,
                  pf__h5_errdesc());
    int32_t id = ids[v->uaxis];
    PF_CHECK_GOTO(rc, id >= 0 && (size_t)id < h->ndims &&
                          h->dims[id].unlimited,
                  PF_EINVAL, fail,
                  "variable '%s': its unlimited axis has no dimension", path);
    v->udim = (size_t)id;
    const int u = v->uaxis;
    hsize_t rec[PF__H5_MAXDIMS];
    /* Cut the records past the dimension's (truncated) length. */
    if (v->cur[u] != h->dims[id].len) {
      v->cur[u] = h->dims[id].len;
      PF_CHECK_GOTO(rc, H5Dset_extent(v->dset, v->cur) >= 0, PF_EHDF5, fail,
                    "truncating variable '%s' of '%s': %s", path, h->path,
                    pf__h5_errdesc());
    }
    for (int i = 0; i < v->ndims; i++) {
      rec[i] = i == u ? 1 : v->cur[i];
      v->count[i] = rec[i];
      v->start[i] = 0;
      max[i] = i == u ? H5S_UNLIMITED : v->cur[i];
    }
    v->mspace = H5Screate_simple(v->ndims, rec, NULL);
    v->fspace = H5Screate_simple(v->ndims, v->cur, max);
    PF_CHECK_GOTO(rc, v->mspace >= 0 && v->fspace >= 0, PF_EHDF5, fail,
                  "variable '%s': dataspaces: %s", path, pf__h5_errdesc());
  }
  H5Tclose(ty);
  H5Sclose(sp);
  H5Pclose(dcpl);
  h->vars[h->nvars++] = v;
  *out = v;
  return 0;
fail:
  if (ty >= 0) H5Tclose(ty);
  if (sp >= 0) H5Sclose(sp);
  if (dcpl >= 0) H5Pclose(dcpl);
  var_free(v);
  return rc;
}

int pf_h5_attr_delete(pf_h5 *h, const char *group, const char *name)
{
  PF_CHECK(h && name, PF_EINVAL, "pf_h5_attr_delete: NULL argument");
  if (h->noop) return 0;
  hid_t obj = H5I_INVALID_HID;
  PF_TRY(open_target(h, grp(group), &obj));
  htri_t ex = H5Aexists(obj, name);
  herr_t r = ex > 0 ? H5Adelete(obj, name) : ex;
  h5close(&obj);
  PF_CHECK(r >= 0, PF_EHDF5, "deleting attribute '%s' in '%s': %s", name,
           h->path, pf__h5_errdesc());
  PF_TRY(flush(h));
  return 0;
}
