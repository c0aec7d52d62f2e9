/* `pflow info FILE`: a readable summary of a pflow output file -- the run's
 * status and provenance attributes, then each group's dimensions and
 * variables with shapes, and for diagnostics (chain, iteration) the first
 * and last recorded values.  Works on finished files, on files left by a
 * killed run, and (best effort) on a file still being written: HDF5 file
 * locking is turned off for this read-only open because the writer holds an
 * exclusive lock for its whole lifetime. */
#include "pflow/io.h"

#include <errno.h>
#include <omp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "pflow/error.h"
#include "pflow/chains.h"

/* From h5out.c. */
const char *pf__h5_errdesc(void);
void pf__h5_quiet(void);

enum { PF__INFO_MAXDIMS = 32, PF__INFO_CHAINS = 4 };

/* Attributes the layout machinery owns; not shown. */
static const char *const hidden_attrs[] = {
    "_Netcdf4Dimid", "_Netcdf4Coordinates", "DIMENSION_LIST", "REFERENCE_LIST",
    "CLASS",         "NAME",                "_NCProperties",  NULL};

/* Root attributes shown first, in this order. */
static const char *const status_attrs[] = {
    "status",  "completed", "created_at",
    "finished_at", "seed",  "inference_library",
    "inference_library_version", "threads", "ranks",
    "simd_isa", "git_describe", NULL};

static int in_list(const char *s, const char *const *list)
{
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return 1;
  return 0;
}

/* ------------------------------------------------------ a list of names */

typedef struct names {
  char **v;
  size_t n, cap;
} names;

static void names_free(names *l)
{
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int names_add(names *l, const char *s)
{
  if (l->n == l->cap) {
    size_t nc = l->cap ? 2 * l->cap : 16;
    char **p = realloc(l->v, nc * sizeof *p);
    if (!p) return -1;
    l->v = p;
    l->cap = nc;
  }
  size_t len = strlen(s) + 1;
  char *d = malloc(len);
  if (!d) return -1;
  memcpy(d, s, len);
  l->v[l->n++] = d;
  return 0;
}

static herr_t collect_attr(hid_t loc, const char *name, const H5A_info_t *ai,
                           void *data)
{
  (void)loc;
  (void)ai;
  return names_add(data, name) < 0 ? -1 : 0;
}

static herr_t collect_link(hid_t g, const char *name, const H5L_info_t *li,
                           void *data)
{
  (void)g;
  (void)li;
  return names_add(data, name) < 0 ? -1 : 0;
}

/* Attribute names of obj in creation order (name order for files written
 * without creation-order tracking). */
static int list_attrs(hid_t obj, names *out)
{
  hsize_t idx = 0;
  if (H5Aiterate2(obj, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, collect_attr,
                  out) >= 0)
    return 0;
  names_free(out);
  idx = 0;
  PF_CHECK(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr,
                       out) >= 0,
           PF_EHDF5, "listing attributes: %s", pf__h5_errdesc());
  return 0;
}

static int list_links(hid_t g, names *out)
{
  hsize_t idx = 0;
  if (H5Literate(g, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, collect_link,
                 out) >= 0)
    return 0;
  names_free(out);
  idx = 0;
  PF_CHECK(H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link,
                      out) >= 0,
           PF_EHDF5, "listing a group: %s", pf__h5_errdesc());
  return 0;
}

/* --------------------------------------------------------- attribute text */

/* Print an attribute's value: strings (long or multi-line ones shortened),
 * numbers, short arrays. */
static void print_attr_value(hid_t a, FILE *out)
{
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
  if (cls == H5T_STRING && np == 1) {
    char *s = NULL, *fixed = NULL;
    if (H5Tis_variable_str(t) > 0) {
      hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, H5T_VARIABLE);
      H5Tset_cset(mt, H5Tget_cset(t));
      if (H5Aread(a, mt, &s) < 0) s = NULL;
      H5Tclose(mt);
    } else {
      size_t n = H5Tget_size(t);
      fixed = calloc(n + 1, 1);
      if (fixed && H5Aread(a, t, fixed) >= 0) s = fixed;
    }
    if (!s) {
      fprintf(out, "(unreadable string)");
    } else {
      size_t lines = 0;
      for (const char *p = s; *p; p++) lines += *p == '\n';
      size_t len = strcspn(s, "\n");
      if (lines > 1)
        fprintf(out, "(%zu lines) %.*s%s", lines, (int)(len > 50 ? 50 : len),
                s, len > 50 ? "..." : "");
      else if (len > 70)
        fprintf(out, "%.67s...", s);
      else
        fprintf(out, "%.*s", (int)len, s);
    }
    if (fixed)
      free(fixed);
    else if (s)
      H5free_memory(s);
  } else if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && np >= 1) {
    enum { MAXV = 6 };
    size_t n = (size_t)np;
    double *d = malloc(n * sizeof *d);
    long long *ll = malloc(n * sizeof *ll);
    int ok = d && ll &&
             (cls == H5T_FLOAT ? H5Aread(a, H5T_NATIVE_DOUBLE, d)
                               : H5Aread(a, H5T_NATIVE_LLONG, ll)) >= 0;
    if (!ok) {
      fprintf(out, "(unreadable)");
    } else {
      if (n > 1) fputc('[', out);
      for (size_t i = 0; i < n && i < MAXV; i++) {
        if (i) fputs(", ", out);
        if (cls == H5T_FLOAT)
          fprintf(out, "%.10g", d[i]);
        else
          fprintf(out, "%lld", ll[i]);
      }
      if (n > MAXV) fprintf(out, ", ... (%zu values)", n);
      if (n > 1) fputc(']', out);
    }
    free(d);
    free(ll);
  } else {
    fprintf(out, "(%s)", np == 0 ? "empty" : "value not shown");
  }
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
}

static void print_attr(hid_t obj, const char *name, const char *indent,
                       FILE *out)
{
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return;
  fprintf(out, "%s%-26s ", indent, name);
  print_attr_value(a, out);
  fputc('\n', out);
  H5Aclose(a);
}

/* Root attributes: the status/provenance ones first, then the others. */
static int print_root_attrs(hid_t root, FILE *out)
{
  names l = {0};
  PF_TRY(list_attrs(root, &l));
  for (const char *const *k = status_attrs; *k; k++)
    for (size_t i = 0; i < l.n; i++)
      if (strcmp(l.v[i], *k) == 0) print_attr(root, *k, "  ", out);
  for (size_t i = 0; i < l.n; i++)
    if (!in_list(l.v[i], status_attrs) && !in_list(l.v[i], hidden_attrs))
      print_attr(root, l.v[i], "  ", out);
  names_free(&l);
  return 0;
}

/* ------------------------------------------------------------ datasets */

static const char *type_name(hid_t d, char *buf, size_t size)
{
  hid_t t = H5Dget_type(d);
  H5T_class_t c = H5Tget_class(t);
  size_t bytes = H5Tget_size(t);
  if (c == H5T_FLOAT)
    snprintf(buf, size, "float%zu", 8 * bytes);
  else if (c == H5T_INTEGER)
    snprintf(buf, size, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "",
             8 * bytes);
  else if (c == H5T_STRING)
    snprintf(buf, size, "string");
  else
    snprintf(buf, size, "other");
  H5Tclose(t);
  return buf;
}

static herr_t scale_name_cb(hid_t did, unsigned dim, hid_t scale, void *data)
{
  (void)did;
  (void)dim;
  char *buf = data;
  if (H5DSget_scale_name(scale, buf, 64) <= 0) buf[0] = '\0';
  return 1; /* first attached scale is enough */
}

/* Name of the dimension scale on axis `axis` ("" if none). */
static void dim_name(hid_t d, int axis, char *buf)
{
  buf[0] = '\0';
  if (H5DSget_num_scales(d, (unsigned)axis) > 0)
    H5DSiterate_scales(d, (unsigned)axis, NULL, scale_name_cb, buf);
}

/* Read element `idx` of a 1-D coordinate as long long. */
static int coord_at(hid_t g, const char *name, hsize_t idx, long long *v)
{
  if (!name[0] || H5Lexists(g, name, H5P_DEFAULT) <= 0) return -1;
  hid_t c = H5Dopen2(g, name, H5P_DEFAULT);
  if (c < 0) return -1;
  hid_t fs = H5Dget_space(c);
  hsize_t n = 0, one = 1;
  int rc = -1;
  if (fs >= 0 && H5Sget_simple_extent_ndims(fs) == 1 &&
      H5Sget_simple_extent_dims(fs, &n, NULL) == 1 && idx < n) {
    hid_t ms = H5Screate_simple(1, &one, NULL);
    if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, &idx, NULL, &one, NULL) >= 0 &&
        H5Dread(c, H5T_NATIVE_LLONG, ms, fs, H5P_DEFAULT, v) >= 0)
      rc = 0;
    H5Sclose(ms);
  }
  if (fs >= 0) H5Sclose(fs);
  H5Dclose(c);
  return rc;
}

/* Column `it` of a (chain, iteration) dataset as doubles. */
static int read_column(hid_t d, hsize_t nchain, hsize_t it, double *buf)
{
  hid_t fs = H5Dget_space(d);
  hsize_t start[2] = {0, it}, count[2] = {nchain, 1};
  hid_t ms = H5Screate_simple(2, count, NULL);
  int rc = fs >= 0 && ms >= 0 &&
                   H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count,
                                       NULL) >= 0 &&
                   H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf) >= 0
               ? 0
               : -1;
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return rc;
}

static void print_point(FILE *out, const char *what, double v, int have_it,
                        long long it)
{
  if (isnan(v))
    fprintf(out, "  %s nan", what); /* not "-nan" */
  else
    fprintf(out, "  %s %.6g", what, v);
  if (have_it) fprintf(out, " (iteration %lld)", it);
}

/* First and last value of a diagnostics (chain, iteration) variable. */
static void print_diag(hid_t g, hid_t d, const hsize_t *shape,
                       const char *itname, FILE *out)
{
  hsize_t nchain = shape[0], n = shape[1];
  if (n == 0 || nchain == 0) {
    fprintf(out, "      no records yet\n");
    return;
  }
  double *first = malloc(nchain * sizeof *first);
  double *last = malloc(nchain * sizeof *last);
  long long it0 = 0, it1 = 0;
  int h0 = coord_at(g, itname, 0, &it0) == 0;
  int h1 = coord_at(g, itname, n - 1, &it1) == 0;
  if (!first || !last || read_column(d, nchain, 0, first) < 0 ||
      read_column(d, nchain, n - 1, last) < 0) {
    fprintf(out, "      (values unreadable)\n");
  } else {
    for (hsize_t c = 0; c < nchain && c < PF__INFO_CHAINS; c++) {
      fprintf(out, "      ");
      if (nchain > 1) fprintf(out, "chain %llu:", (unsigned long long)c);
      print_point(out, "first", first[c], h0, it0);
      print_point(out, " last", last[c], h1, it1);
      fputc('\n', out);
    }
    if (nchain > PF__INFO_CHAINS)
      fprintf(out, "      ... %llu more chains\n",
              (unsigned long long)(nchain - PF__INFO_CHAINS));
  }
  free(first);
  free(last);
}

static void print_var(hid_t g, const char *gname, const char *name, hid_t d,
                      FILE *out)
{
  char tbuf[32], dims[PF__INFO_MAXDIMS][64];
  hid_t sp = H5Dget_space(d);
  int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  hsize_t shape[PF__INFO_MAXDIMS];
  if (nd < 0 || nd > PF__INFO_MAXDIMS ||
      H5Sget_simple_extent_dims(sp, shape, NULL) < 0) {
    fprintf(out, "    %-18s (unreadable shape)\n", name);
    if (sp >= 0) H5Sclose(sp);
    return;
  }
  H5Sclose(sp);
  fprintf(out, "    %-18s %-8s (", name, type_name(d, tbuf, sizeof tbuf));
  for (int i = 0; i < nd; i++) {
    dim_name(d, i, dims[i]);
    fprintf(out, "%s%s=%llu", i ? ", " : "", dims[i][0] ? dims[i] : "?",
            (unsigned long long)shape[i]);
  }
  fprintf(out, ")\n");
  const char *leaf = strrchr(gname, '/');
  leaf = leaf ? leaf + 1 : gname;
  if (strcmp(leaf, "diagnostics") == 0 && nd == 2 &&
      strcmp(dims[0], "chain") == 0 && strcmp(dims[1], "iteration") == 0)
    print_diag(g, d, shape, dims[1], out);
}

/* One group: its dimensions (coordinate variables) on one line, then its
 * variables, then its subgroups. */
static int print_group(hid_t file, const char *gname, FILE *out)
{
  int rc = 0;
  names l = {0};
  hid_t g = H5Gopen2(file, gname[0] ? gname : "/", H5P_DEFAULT);
  PF_CHECK(g >= 0, PF_EHDF5, "opening group '%s': %s", gname,
           pf__h5_errdesc());
  PF_TRY_GOTO(rc, list_links(g, &l), out);

  int ndatasets = 0, ndims = 0;
  for (size_t i = 0; i < l.n; i++) {
    hid_t o = H5Oopen(g, l.v[i], H5P_DEFAULT);
    if (o < 0) continue;
    if (H5Iget_type(o) == H5I_DATASET) {
      if (!ndatasets++ && !gname[0]) fprintf(out, "\ngroup /\n");
      if (H5DSis_scale(o) > 0) {
        hid_t sp = H5Dget_space(o);
        hsize_t n = 0, max = 0;
        if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1)
          H5Sget_simple_extent_dims(sp, &n, &max);
        if (sp >= 0) H5Sclose(sp);
        fprintf(out, "%s%s=%llu%s", ndims++ ? ", " : "  dims: ", l.v[i],
                (unsigned long long)n,
                max == H5S_UNLIMITED ? " (unlimited)" : "");
      }
    }
    H5Oclose(o);
  }
  if (ndims) fputc('\n', out);
  if (!l.n) fprintf(out, "  (empty)\n");
  int nvars = 0;
  for (size_t i = 0; i < l.n; i++) {
    hid_t o = H5Oopen(g, l.v[i], H5P_DEFAULT);
    if (o < 0) continue;
    if (H5Iget_type(o) == H5I_DATASET && H5DSis_scale(o) <= 0) {
      if (!nvars++) fprintf(out, "  variables:\n");
      print_var(g, gname, l.v[i], o, out);
    }
    H5Oclose(o);
  }
  for (size_t i = 0; i < l.n; i++) {
    hid_t o = H5Oopen(g, l.v[i], H5P_DEFAULT);
    if (o < 0) continue;
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    if (t != H5I_GROUP) continue;
    char sub[1024];
    snprintf(sub, sizeof sub, "%s%s%s", gname, gname[0] ? "/" : "", l.v[i]);
    fprintf(out, "\ngroup %s\n", sub);
    PF_TRY_GOTO(rc, print_group(file, sub, out), out);
  }
out:
  names_free(&l);
  H5Gclose(g);
  return rc;
}

int pf_h5_info(const char *path, FILE *out)
{
  PF_CHECK(path && out, PF_EINVAL, "pf_h5_info: NULL argument");
  pf__h5_quiet();
  struct stat st;
  PF_CHECK(stat(path, &st) == 0, PF_EIO, "cannot open '%s': %s", path,
           strerror(errno));
  int rc = 0;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = H5I_INVALID_HID;
  hid_t root = H5I_INVALID_HID;
  PF_CHECK_GOTO(rc, fapl >= 0 && H5Pset_file_locking(fapl, 0, 1) >= 0,
                PF_EHDF5, done, "file access list: %s", pf__h5_errdesc());
  file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  PF_CHECK_GOTO(rc, file >= 0, PF_EIO, done,
                "cannot open '%s' as an HDF5 file: %s", path,
                pf__h5_errdesc());
  root = H5Gopen2(file, "/", H5P_DEFAULT);
  PF_CHECK_GOTO(rc, root >= 0, PF_EHDF5, done, "opening '/' of '%s': %s",
                path, pf__h5_errdesc());

  fprintf(out, "file %s\n", path);
  htri_t has_status = H5Aexists(root, "status");
  if (has_status == 0)
    fprintf(out, "  (no status attribute: the run did not record one; a "
                 "killed run keeps what was last flushed)\n");
  PF_TRY_GOTO(rc, print_root_attrs(root, out), done);
  PF_TRY_GOTO(rc, print_group(file, "", out), done);
done:
  if (root >= 0) H5Gclose(root);
  if (file >= 0) H5Fclose(file);
  if (fapl >= 0) H5Pclose(fapl);
  return rc;
}

/* ====================================================================
 * `pflow info`: a summary in the manner of Stan's stansummary -- run
 * header, a per-coordinate table of /posterior/x with ESS and R-hat,
 * the last diagnostics, sample statistics and warnings.  Reads only what
 * it prints: the posterior columns shown and the post-warm-up slice of
 * the trajectory, in blocks of coordinates bounded by PF__SUM_BUDGET.
 * ==================================================================== */

enum {
  PF__SUM_ROWS = 20,         /* coordinates shown without --all */
  PF__SUM_MIN_DRAWS = 10,    /* post-warm-up snapshots for ESS/R-hat */
  PF__SUM_BUDGET = 1 << 24,  /* doubles read at once (128 MiB) */
  PF__SUM_ALLSTATS = 1 << 24 /* chains x draws x coords: all coordinates */
};

/* A dataset found by path, with its shape; id < 0 when absent. */
typedef struct dset {
  hid_t id;
  int rank;
  hsize_t dims[PF__INFO_MAXDIMS];
} dset;

static void dset_close(dset *d)
{
  if (d->id >= 0) H5Dclose(d->id);
  d->id = H5I_INVALID_HID;
}

/* Open group/name if both exist (a missing group is not an error). */
static dset dset_open(hid_t file, const char *group, const char *name)
{
  dset d = {H5I_INVALID_HID, 0, {0}};
  char path[512];
  snprintf(path, sizeof path, "%s/%s", group, name);
  if (H5Lexists(file, group, H5P_DEFAULT) <= 0 ||
      H5Lexists(file, path, H5P_DEFAULT) <= 0)
    return d;
  hid_t id = H5Dopen2(file, path, H5P_DEFAULT);
  if (id < 0) return d;
  hid_t sp = H5Dget_space(id);
  int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  if (r < 0 || r > PF__INFO_MAXDIMS ||
      H5Sget_simple_extent_dims(sp, d.dims, NULL) < 0) {
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(id);
    return d;
  }
  H5Sclose(sp);
  d.id = id;
  d.rank = r;
  return d;
}

/* Read the hyperslab start/count (rank d->rank) as doubles into buf. */
static int dset_read(const dset *d, const hsize_t *start,
                     const hsize_t *count, double *buf)
{
  hid_t fs = H5Dget_space(d->id);
  hid_t ms = H5Screate_simple(d->rank, count, NULL);
  int ok = fs >= 0 && ms >= 0 &&
           H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count,
                               NULL) >= 0 &&
           H5Dread(d->id, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf) >= 0;
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  PF_CHECK(ok, PF_EHDF5, "reading a dataset: %s", pf__h5_errdesc());
  return 0;
}

/* Whole 1-D integer dataset (a coordinate) as long long; *n = 0 if absent. */
static long long *read_coord(hid_t file, const char *group, const char *name,
                             hsize_t *n)
{
  dset d = dset_open(file, group, name);
  long long *v = NULL;
  *n = 0;
  if (d.id >= 0 && d.rank == 1 && d.dims[0] > 0) {
    v = malloc(d.dims[0] * sizeof *v);
    if (v && H5Dread(d.id, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     v) >= 0)
      *n = d.dims[0];
    else {
      free(v);
      v = NULL;
    }
  }
  dset_close(&d);
  return v;
}

/* Root attribute as a malloc'ed string (NULL if absent or not a string). */
static char *attr_string(hid_t root, const char *name)
{
  if (H5Aexists(root, name) <= 0) return NULL;
  hid_t a = H5Aopen(root, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  hid_t t = H5Aget_type(a);
  char *res = NULL;
  if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
    if (H5Tis_variable_str(t) > 0) {
      char *s = NULL;
      hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, H5T_VARIABLE);
      H5Tset_cset(mt, H5Tget_cset(t));
      if (H5Aread(a, mt, &s) >= 0 && s) {
        size_t len = strlen(s) + 1;
        res = malloc(len);
        if (res) memcpy(res, s, len);
        H5free_memory(s);
      }
      H5Tclose(mt);
    } else {
      size_t n = H5Tget_size(t);
      res = calloc(n + 1, 1);
      if (res && H5Aread(a, t, res) < 0) {
        free(res);
        res = NULL;
      }
    }
  }
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return res;
}

/* Numeric root attribute; returns 1 when present. */
static int attr_num(hid_t root, const char *name, double *v)
{
  if (H5Aexists(root, name) <= 0) return 0;
  hid_t a = H5Aopen(root, name, H5P_DEFAULT);
  if (a < 0) return 0;
  hid_t t = H5Aget_type(a);
  H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
  int ok = (c == H5T_INTEGER || c == H5T_FLOAT) &&
           H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0;
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return ok;
}

/* The explicitly given scalar keys of the `sampler:` block of the stored
 * config (lines without the "# default" mark), "k v, k v, ..." into buf;
 * also its n_iter.  The text is pflow's own block YAML: two-space indent,
 * one key per line. */
static void sampler_keys(const char *cfg, char *buf, size_t cap,
                         long long *n_iter)
{
  buf[0] = '\0';
  *n_iter = -1;
  if (!cfg) return;
  const char *p = strncmp(cfg, "sampler:", 8) == 0 ? cfg
                                                    : strstr(cfg, "\nsampler:");
  if (!p) return;
  p = strchr(p + 1, '\n'); /* the newline ending the "sampler:" line */
  size_t used = 0;
  while (p && p[1] == ' ' && p[2] == ' ') {
    const char *line = p + 3, *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    p = end;
    if (line[0] == ' ') continue; /* nested block lines */
    char l[256];
    snprintf(l, sizeof l, "%.*s", (int)(len < 255 ? len : 255), line);
    char *colon = strchr(l, ':');
    if (!colon || strstr(l, "# default")) continue;
    *colon = '\0';
    const char *val = colon + 1;
    while (*val == ' ') val++;
    if (!*val) continue; /* a nested block: skip */
    if (strcmp(l, "n_iter") == 0) *n_iter = atoll(val);
    if (strcmp(l, "name") == 0) continue;
    int w = snprintf(buf + used, cap - used, "%s%s %s", used ? ", " : "", l,
                     val);
    if (w < 0 || (size_t)w >= cap - used) {
      if (used + 4 < cap) snprintf(buf + used, cap - used, ", ...");
      break;
    }
    used += (size_t)w;
  }
}

/* Per-coordinate results. */
typedef struct coord_row {
  double mean, sd, q05, q50, q95;
  size_t n_bad; /* non-finite values among the draws */
  pf_chain_stats cs;
  int have_cs;
} coord_row;

/* Everything the summary found. */
typedef struct summary {
  hid_t file;
  FILE *out;
  unsigned flags;
  size_t d, shown;          /* coordinates, rows shown */
  coord_row *rows;          /* d rows */
  /* where the draws came from */
  int from_traj_last;       /* posterior missing: last snapshot used */
  long long draws_iter;     /* its iteration */
  size_t n_draws;           /* pooled draws per coordinate */
  /* chain statistics */
  int chains_ok;
  size_t n_chains, n_cdraws, chains_used;
  long long warm_from, warm_to, last_snap;
  size_t n_snap, n_stats;   /* snapshots in the file; coords with stats */
  char chains_note[256];
} summary;

static int cmp_dbl(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* mean, sd (1/(n-1)), 5/50/95% quantiles of the finite values of v (n of
 * them; v is reordered). */
static void describe(double *v, size_t n, coord_row *r)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i])) v[k++] = v[i];
  r->n_bad = n - k;
  r->mean = r->sd = r->q05 = r->q50 = r->q95 = NAN;
  if (!k) return;
  double s = 0.0;
  for (size_t i = 0; i < k; i++) s += v[i];
  r->mean = s / (double)k;
  if (k > 1) {
    double ss = 0.0;
    for (size_t i = 0; i < k; i++) ss += (v[i] - r->mean) * (v[i] - r->mean);
    r->sd = sqrt(ss / (double)(k - 1));
  }
  qsort(v, k, sizeof *v, cmp_dbl);
  r->q05 = pf_quantile_sorted(v, k, 0.05);
  r->q50 = pf_quantile_sorted(v, k, 0.5);
  r->q95 = pf_quantile_sorted(v, k, 0.95);
}

/* Read coordinates [k0, k1) of a dataset whose last axis is the
 * coordinate: `lead` = product of the other (selected) axes.  start/count
 * describe the selection of the leading axes (rank - 1 of them). */
static int read_coords(const dset *ds, const hsize_t *start0,
                       const hsize_t *count0, size_t k0, size_t k1,
                       double *buf)
{
  hsize_t start[PF__INFO_MAXDIMS], count[PF__INFO_MAXDIMS];
  int r = ds->rank;
  for (int i = 0; i < r - 1; i++) {
    start[i] = start0[i];
    count[i] = count0[i];
  }
  start[r - 1] = k0;
  count[r - 1] = k1 - k0;
  return dset_read(ds, start, count, buf);
}

/* Posterior columns: mean, sd, quantiles of rows [0, s->shown). */
static int posterior_stats(summary *s, const dset *ds, const hsize_t *start,
                           const hsize_t *count, size_t lead)
{
  int rc = 0;
  size_t kb = PF__SUM_BUDGET / (lead ? lead : 1);
  if (kb < 1) kb = 1;
  if (kb > s->shown) kb = s->shown;
  double *buf = malloc(lead * kb * sizeof *buf);
  double *v = malloc(lead * sizeof *v);
  PF_CHECK_GOTO(rc, buf && v, PF_ENOMEM, done,
                "reading %zu draws x %zu coordinates", lead, kb);
  for (size_t k0 = 0; k0 < s->shown; k0 += kb) {
    size_t k1 = k0 + kb < s->shown ? k0 + kb : s->shown;
    PF_TRY_GOTO(rc, read_coords(ds, start, count, k0, k1, buf), done);
    for (size_t k = k0; k < k1; k++) {
      for (size_t i = 0; i < lead; i++) v[i] = buf[i * (k1 - k0) + (k - k0)];
      describe(v, lead, &s->rows[k]);
    }
  }
done:
  free(buf);
  free(v);
  return rc;
}

/* The draws: /posterior/x pooled over its leading axes, or, when the run
 * wrote none yet, the last trajectory snapshot. */
static int load_draws(summary *s, const dset *post, const dset *traj,
                      const long long *titer, hsize_t ntiter)
{
  hsize_t start[PF__INFO_MAXDIMS] = {0}, count[PF__INFO_MAXDIMS];
  const dset *ds;
  size_t lead = 1;
  if (post->id >= 0 && post->rank >= 3) { /* (chain, draw, x_dim_0) */
    ds = post;
    for (int i = 0; i < ds->rank - 1; i++) {
      count[i] = ds->dims[i];
      lead *= ds->dims[i];
    }
  } else if (traj->id >= 0 && traj->rank == 4 && traj->dims[1] > 0) {
    ds = traj;
    hsize_t t = traj->dims[1] - 1;
    count[0] = ds->dims[0];
    start[1] = t;
    count[1] = 1;
    count[2] = ds->dims[2];
    lead = ds->dims[0] * ds->dims[2];
    s->from_traj_last = 1;
    s->draws_iter = t < ntiter ? titer[t] : -1;
  } else {
    return 0;
  }
  s->d = ds->dims[ds->rank - 1];
  s->n_draws = lead;
  if (s->d == 0 || lead == 0) return 0;
  s->shown = (s->flags & PF_H5_SUMMARY_ALL) || s->d <= PF__SUM_ROWS
                 ? s->d
                 : PF__SUM_ROWS;
  s->rows = calloc(s->d, sizeof *s->rows);
  PF_CHECK(s->rows, PF_ENOMEM, "summary rows (%zu)", s->d);
  return posterior_stats(s, ds, start, count, lead);
}

/* Chain statistics of coordinates [0, nk) from a selection (start, count)
 * of a (chain, draw[, particle], coordinate) dataset: chains are the
 * (chain, particle) pairs, C x Pu of them, with n draws each. */
static int block_stats(summary *s, const dset *ds, const hsize_t *start,
                       const hsize_t *count, size_t C, size_t n, size_t Pu,
                       size_t nk)
{
  int rc = 0;
  const size_t m = C * Pu, lead = m * n;
  size_t kb = PF__SUM_BUDGET / lead;
  if (kb < 1) kb = 1;
  if (kb > nk) kb = nk;
  /* Coordinates are independent: one per thread, each with its own
   * gather buffer (the statistics do not depend on the thread count). */
  const int nth = omp_get_max_threads() < (int)kb ? omp_get_max_threads()
                                                  : (int)kb;
  double *buf = malloc(lead * kb * sizeof *buf);
  double *x = malloc(lead * (size_t)nth * sizeof *x);
  int *krc = malloc(kb * sizeof *krc);
  PF_CHECK_GOTO(rc, buf && x && krc, PF_ENOMEM, done,
                "reading the draws (%zu x %zu values)", lead, kb);
  for (size_t k0 = 0; k0 < nk; k0 += kb) {
    const size_t k1 = k0 + kb < nk ? k0 + kb : nk, w = k1 - k0;
    PF_TRY_GOTO(rc, read_coords(ds, start, count, k0, k1, buf), done);
#pragma omp parallel for schedule(dynamic) num_threads(nth)
    for (size_t k = k0; k < k1; k++) {
      /* buf is (C, n, Pu, w); chains (c, p) become rows of xt. */
      double *xt = x + lead * (size_t)omp_get_thread_num();
      for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < n; i++)
          for (size_t p = 0; p < Pu; p++)
            xt[(c * Pu + p) * n + i] = buf[((c * n + i) * Pu + p) * w + k - k0];
      krc[k - k0] = pf_chain_stats_compute(xt, m, n, &s->rows[k].cs);
      s->rows[k].have_cs = krc[k - k0] == 0;
    }
    for (size_t k = 0; k < w; k++)
      PF_CHECK_GOTO(rc, krc[k] == 0, krc[k], done,
                    "chain statistics of x[%zu]: %s", k0 + k,
                    pf_strerror(krc[k]));
  }
  s->chains_ok = 1;
done:
  free(buf);
  free(x);
  free(krc);
  return rc;
}

/* Chain statistics from the trajectory: chains = (chain, particle) pairs,
 * draws = snapshots at iterations >= last/2. */
static int chain_stats(summary *s, const dset *traj, const long long *titer,
                       hsize_t ntiter)
{
  if (traj->id < 0 || traj->rank != 4 || !s->rows) {
    snprintf(s->chains_note, sizeof s->chains_note,
             "no /trajectory/x in the file");
    return 0;
  }
  hsize_t T = traj->dims[1] < ntiter ? traj->dims[1] : ntiter;
  const size_t C = traj->dims[0], P = traj->dims[2], d = traj->dims[3];
  s->n_snap = T;
  if (T == 0 || d != s->d || C * P == 0) {
    snprintf(s->chains_note, sizeof s->chains_note,
             T == 0 ? "the trajectory has no snapshots yet"
                    : "the trajectory does not match the posterior's shape");
    return 0;
  }
  s->last_snap = titer[T - 1];
  hsize_t t0 = 0;
  while (t0 < T && 2 * titer[t0] < s->last_snap) t0++;
  size_t n = T - t0;
  s->warm_from = t0 < T ? titer[t0] : s->last_snap;
  s->warm_to = s->last_snap;
  s->n_cdraws = n;
  if (n < PF__SUM_MIN_DRAWS) {
    snprintf(s->chains_note, sizeof s->chains_note,
             "only %zu snapshot%s after warm-up (need %d)", n,
             n == 1 ? "" : "s", PF__SUM_MIN_DRAWS);
    return 0;
  }
  /* Memory: at most the budget per block; too many particles -> the first
   * ones that fit serve as the chains. */
  size_t Pu = P;
  if (C * n * Pu > PF__SUM_BUDGET) Pu = PF__SUM_BUDGET / (C * n);
  if (Pu < 1) {
    snprintf(s->chains_note, sizeof s->chains_note,
             "the post-warm-up trajectory is too long to read (%zu "
             "snapshots)", n);
    return 0;
  }
  const size_t m = C * Pu, lead = C * n * Pu;
  s->n_chains = C * P;
  s->chains_used = m;
  /* All coordinates when cheap (warnings then cover all), else the shown. */
  size_t nk = s->shown;
  if ((s->flags & PF_H5_SUMMARY_ALL) || (double)d * lead <= PF__SUM_ALLSTATS)
    nk = d;
  s->n_stats = nk;
  hsize_t start[3] = {0, t0, 0}, count[3] = {C, n, Pu};
  return block_stats(s, traj, start, count, C, n, Pu, nk);
}

/* Chain statistics from chain draws: /posterior/x (chain, draw, x_dim_0)
 * as written by chain samplers (Langevin family) after their warm-up. */
static int posterior_chain_stats(summary *s, const dset *post)
{
  const size_t C = post->dims[0], n = post->dims[1], d = post->dims[2];
  s->n_cdraws = n;
  if (n < PF__SUM_MIN_DRAWS) {
    snprintf(s->chains_note, sizeof s->chains_note,
             "only %zu draw%s per chain (need %d)", n, n == 1 ? "" : "s",
             PF__SUM_MIN_DRAWS);
    return 0;
  }
  size_t Cu = C;
  if (Cu * n > PF__SUM_BUDGET) Cu = PF__SUM_BUDGET / n;
  if (Cu < 2) {
    snprintf(s->chains_note, sizeof s->chains_note,
             "the chains are too long to read (%zu draws)", n);
    return 0;
  }
  const size_t lead = Cu * n;
  s->n_chains = C;
  s->chains_used = Cu;
  size_t nk = s->shown;
  if ((s->flags & PF_H5_SUMMARY_ALL) || (double)d * lead <= PF__SUM_ALLSTATS)
    nk = d;
  s->n_stats = nk;
  hsize_t start[2] = {0, 0}, count[2] = {Cu, n};
  return block_stats(s, post, start, count, Cu, n, 1, nk);
}

/* Numbers in the table: "-" for undefined. */
static void put_num(FILE *out, double v, int width, int ess)
{
  if (isnan(v))
    fprintf(out, " %*s", width, "-");
  else if (ess)
    fprintf(out, " %*.0f", width, v);
  else
    fprintf(out, " %*.4g", width, v);
}

static void print_table(const summary *s)
{
  FILE *out = s->out;
  int w = 6;
  char name[32];
  snprintf(name, sizeof name, "x[%zu]", s->d ? s->d - 1 : 0);
  if ((int)strlen(name) > w) w = (int)strlen(name);
  fprintf(out, "%-*s %10s %10s %10s %10s %10s %9s %9s %7s\n", w, "", "mean",
          "sd", "5%", "50%", "95%", "ess_bulk", "ess_tail", "r_hat");
  for (size_t k = 0; k < s->shown; k++) {
    const coord_row *r = &s->rows[k];
    snprintf(name, sizeof name, "x[%zu]", k);
    fprintf(out, "%-*s", w, name);
    put_num(out, r->mean, 10, 0);
    put_num(out, r->sd, 10, 0);
    put_num(out, r->q05, 10, 0);
    put_num(out, r->q50, 10, 0);
    put_num(out, r->q95, 10, 0);
    put_num(out, r->have_cs ? r->cs.ess_bulk : NAN, 9, 1);
    put_num(out, r->have_cs ? r->cs.ess_tail : NAN, 9, 1);
    if (r->have_cs && !isnan(r->cs.rhat))
      fprintf(out, " %7.3f", r->cs.rhat);
    else
      fprintf(out, " %7s", "-");
    fputc('\n', out);
  }
  if (s->shown < s->d)
    fprintf(out, "... (%zu more coordinates; --all shows every one)\n",
            s->d - s->shown);
}

/* Final value of every (chain, iteration) variable in /diagnostics. */
static void print_diagnostics(summary *s)
{
  FILE *out = s->out;
  names l = {0};
  hsize_t nit = 0;
  long long *it = read_coord(s->file, "diagnostics", "iteration", &nit);
  hid_t g = H5Lexists(s->file, "diagnostics", H5P_DEFAULT) > 0
                ? H5Gopen2(s->file, "diagnostics", H5P_DEFAULT)
                : H5I_INVALID_HID;
  if (g < 0 || list_links(g, &l) < 0) {
    fprintf(out, "\ndiagnostics: none in the file\n");
    pf_error_clear();
    goto done;
  }
  int header = 0;
  for (size_t i = 0; i < l.n; i++) {
    dset d = dset_open(s->file, "diagnostics", l.v[i]);
    if (d.id < 0) continue;
    if (d.rank == 2 && H5DSis_scale(d.id) <= 0) {
      hsize_t n = d.dims[1] < nit || !it ? d.dims[1] : nit;
      if (!header++)
        fprintf(out, "\ndiagnostics (last record%s):\n",
                it && n ? "" : "; no iteration coordinate");
      if (n == 0 || d.dims[0] == 0) {
        fprintf(out, "  %-20s (no records yet)\n", l.v[i]);
      } else {
        double v[PF__INFO_CHAINS];
        hsize_t nc = d.dims[0] < PF__INFO_CHAINS ? d.dims[0] : PF__INFO_CHAINS;
        hsize_t start[2] = {0, n - 1}, count[2] = {nc, 1};
        fprintf(out, "  %-20s", l.v[i]);
        if (dset_read(&d, start, count, v) < 0) {
          fprintf(out, " (unreadable)");
          pf_error_clear();
        } else {
          for (hsize_t c = 0; c < nc; c++)
            if (isnan(v[c]))
              fprintf(out, " %12s", "nan"); /* not "-nan" */
            else
              fprintf(out, " %12.6g", v[c]);
          if (d.dims[0] > nc)
            fprintf(out, " ... (%llu chains)",
                    (unsigned long long)d.dims[0]);
          if (it) fprintf(out, "   at iteration %lld", it[n - 1]);
        }
        fputc('\n', out);
      }
    }
    dset_close(&d);
  }
  if (!header) fprintf(out, "\ndiagnostics: none in the file\n");
done:
  if (g >= 0) H5Gclose(g);
  names_free(&l);
  free(it);
}

/* Mean of a (chain, draw) float dataset, its sum (for counts); 1 if read. */
static int sample_stat(hid_t file, const char *name, double *mean,
                       double *sum, size_t *n)
{
  dset d = dset_open(file, "sample_stats", name);
  int ok = 0;
  if (d.id >= 0) {
    size_t k = 1;
    for (int i = 0; i < d.rank; i++) k *= d.dims[i];
    double *v = k ? malloc(k * sizeof *v) : NULL;
    if (v && H5Dread(d.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     v) >= 0) {
      double s = 0.0;
      size_t f = 0;
      for (size_t i = 0; i < k; i++)
        if (isfinite(v[i])) {
          s += v[i];
          f++;
        }
      *sum = s;
      *mean = f ? s / (double)f : NAN;
      *n = k;
      ok = 1;
    }
    free(v);
  }
  dset_close(&d);
  return ok;
}

/* Mean and sum of the finite values of /diagnostics/<name> (chain 0... all
 * chains), over records at iterations >= N/2 when second_half is set (N:
 * the last record's iteration); 1 if the column exists and has records. */
static int diag_stat(hid_t file, const char *name, int second_half,
                     double *mean, double *sum, size_t *n)
{
  dset d = dset_open(file, "diagnostics", name);
  hsize_t nit = 0;
  long long *it = read_coord(file, "diagnostics", "iteration", &nit);
  int ok = 0;
  if (d.id >= 0 && d.rank == 2 && it && d.dims[0] > 0) {
    hsize_t T = d.dims[1] < nit ? d.dims[1] : nit, C = d.dims[0];
    double *v = T ? malloc(C * T * sizeof *v) : NULL;
    hsize_t start[2] = {0, 0}, count[2] = {C, T};
    if (v && dset_read(&d, start, count, v) == 0) {
      double s = 0.0;
      size_t f = 0;
      for (hsize_t c = 0; c < C; c++)
        for (hsize_t t = 0; t < T; t++)
          if ((!second_half || 2 * it[t] >= it[T - 1]) &&
              isfinite(v[c * T + t])) {
            s += v[c * T + t];
            f++;
          }
      *sum = s;
      *mean = f ? s / (double)f : NAN;
      *n = f;
      ok = f > 0;
    } else {
      pf_error_clear();
    }
    free(v);
  }
  free(it);
  dset_close(&d);
  return ok;
}

/* Status, provenance and the run's extent. */
typedef struct run_info {
  char *status, *target, *sampler, *config, *error, *created, *version;
  char *isa;
  double seed, threads, ranks, iterations, wall;
  int has_seed, has_threads, has_ranks, has_iterations, has_wall;
  long long n_iter, last_diag, last_traj;
  char keys[512];
} run_info;

static void run_info_free(run_info *r)
{
  free(r->status);
  free(r->target);
  free(r->sampler);
  free(r->config);
  free(r->error);
  free(r->created);
  free(r->version);
  free(r->isa);
}

static void print_header(summary *s, hid_t root, run_info *ri)
{
  FILE *out = s->out;
  ri->status = attr_string(root, "status");
  ri->target = attr_string(root, "target");
  ri->sampler = attr_string(root, "sampler");
  ri->config = attr_string(root, "config");
  ri->error = attr_string(root, "error");
  ri->created = attr_string(root, "created_at");
  ri->version = attr_string(root, "inference_library_version");
  ri->isa = attr_string(root, "simd_isa");
  ri->has_seed = attr_num(root, "seed", &ri->seed);
  ri->has_threads = attr_num(root, "threads", &ri->threads);
  ri->has_ranks = attr_num(root, "ranks", &ri->ranks);
  ri->has_iterations = attr_num(root, "iterations", &ri->iterations);
  ri->has_wall = attr_num(root, "wall_time", &ri->wall);
  sampler_keys(ri->config, ri->keys, sizeof ri->keys, &ri->n_iter);
  hsize_t n;
  long long *v = read_coord(s->file, "diagnostics", "iteration", &n);
  ri->last_diag = v && n ? v[n - 1] : -1;
  free(v);
  v = read_coord(s->file, "trajectory", "iteration", &n);
  ri->last_traj = v && n ? v[n - 1] : -1;
  free(v);

  const char *st = ri->status ? ri->status : "unknown";
  long long done = ri->has_iterations ? (long long)ri->iterations
                   : ri->last_diag > ri->last_traj ? ri->last_diag
                                                   : ri->last_traj;
  fprintf(out, "%-10s %s\n", "status", st);
  if (strcmp(st, "completed") != 0 && strcmp(st, "unknown") != 0)
    fprintf(out, "%-10s %s\n", "",
            strcmp(st, "running") == 0
                ? "(no final status: still running, or killed)"
            : strcmp(st, "interrupted") == 0 ? "(stopped by a signal)"
                                             : "(the run failed)");
  if (ri->error && ri->error[0])
    fprintf(out, "%-10s %s\n", "error", ri->error);
  if (done >= 0 && ri->n_iter > 0)
    fprintf(out, "%-10s %lld of %lld%s\n", "iterations", done, ri->n_iter,
            ri->has_iterations ? "" : " (last flushed record)");
  else if (done >= 0)
    fprintf(out, "%-10s %lld%s\n", "iterations", done,
            ri->has_iterations ? "" : " (last flushed record)");
  fprintf(out, "%-10s %s\n", "target", ri->target ? ri->target : "?");
  fprintf(out, "%-10s %s%s%s\n", "sampler", ri->sampler ? ri->sampler : "?",
          ri->keys[0] ? ": " : "", ri->keys);
  if (ri->has_seed) fprintf(out, "%-10s %.0f\n", "seed", ri->seed);
  if (ri->has_wall) {
    fprintf(out, "%-10s %.3g s", "wall time", ri->wall);
    if (done > 0 && ri->wall > 0) fprintf(out, " (%.4g it/s)", done / ri->wall);
    fputc('\n', out);
  }
  if (ri->has_threads) {
    fprintf(out, "%-10s %.0f", "threads", ri->threads);
    if (ri->has_ranks) fprintf(out, " x %.0f rank%s", ri->ranks,
                               ri->ranks == 1 ? "" : "s");
    if (ri->isa) fprintf(out, ", SIMD %s", ri->isa);
    fputc('\n', out);
  }
  if (ri->created)
    fprintf(out, "%-10s %s%s%s\n", "created", ri->created,
            ri->version ? " by pflow " : "", ri->version ? ri->version : "");
}

static void print_warnings(summary *s, const run_info *ri, int have_div,
                           double ndiv, const char *div_src)
{
  FILE *out = s->out;
  int nw = 0;
  fprintf(out, "\nwarnings:\n");
  const char *st = ri->status ? ri->status : "";
  long long flushed = ri->last_diag > ri->last_traj ? ri->last_diag
                                                    : ri->last_traj;
  if (strcmp(st, "completed") != 0) {
    nw++;
    if (strcmp(st, "interrupted") == 0)
      fprintf(out, "  ! the run was interrupted after %.0f iterations%s%lld "
                   "planned); every flushed iteration is in the file\n",
              ri->has_iterations ? ri->iterations : (double)flushed,
              ri->n_iter > 0 ? " (of " : " (", ri->n_iter > 0 ? ri->n_iter : 0);
    else if (strcmp(st, "failed") == 0)
      fprintf(out, "  ! the run failed after %lld iterations: %s\n", flushed,
              ri->error ? ri->error : "(no message)");
    else
      fprintf(out, "  ! the run is not complete (status '%s'): iterations up "
                   "to %lld were flushed (diagnostics to %lld, trajectory "
                   "to %lld)%s\n",
              st[0] ? st : "none", flushed, ri->last_diag, ri->last_traj,
              s->from_traj_last ? "; no /posterior yet" : "");
  }
  if (have_div && ndiv > 0) {
    nw++;
    fprintf(out, "  ! %.0f divergent transitions (%s/diverging)\n", ndiv,
            div_src);
  }
  if (s->rows) {
    size_t bad = 0, nr = 0, nb = 0, nt = 0, nu = 0, ir = 0, ib = 0, it = 0;
    double maxr = 0.0, minb = INFINITY, mint = INFINITY;
    const double need = 100.0 * (double)s->chains_used;
    for (size_t k = 0; k < s->d; k++) {
      const coord_row *r = &s->rows[k];
      if (k < s->shown && r->n_bad) bad++;
      if (!r->have_cs) continue;
      /* Undefined (no spread, non-finite draws): counted apart. */
      if (isnan(r->cs.rhat) || isnan(r->cs.ess_bulk) ||
          isnan(r->cs.ess_tail)) {
        nu++;
        continue;
      }
      if (r->cs.rhat > 1.01) {
        nr++;
        if (r->cs.rhat > maxr) maxr = r->cs.rhat, ir = k;
      }
      if (r->cs.ess_bulk < need) {
        nb++;
        if (r->cs.ess_bulk < minb) minb = r->cs.ess_bulk, ib = k;
      }
      if (r->cs.ess_tail < need) {
        nt++;
        if (r->cs.ess_tail < mint) mint = r->cs.ess_tail, it = k;
      }
    }
    if (bad) {
      nw++;
      fprintf(out, "  ! non-finite values in %zu of the coordinates shown\n",
              bad);
    }
    if (nu) {
      nw++;
      fprintf(out, "  ! ESS/R-hat undefined for %zu coordinates: their "
                   "post-warm-up draws do not vary\n    (particles at rest) "
                   "or are not finite\n", nu);
    }
    if (nr) {
      nw++;
      fprintf(out, "  ! R-hat > 1.01 for %zu of %zu coordinates (worst x[%zu]"
                   ": %.3g): the chains' post-warm-up\n    draws disagree, "
                   "or each chain is short compared with its autocorrelation "
                   "time\n",
              nr, s->n_stats, ir, maxr);
    }
    if (nb || nt) {
      nw++;
      fprintf(out, "  ! ESS below 100 x chains = %.0f (Stan's rule, 100 per "
                   "chain) for bulk %zu, tail %zu of %zu\n    coordinates "
                   "(lowest bulk x[%zu]: %.0f, tail x[%zu]: %.0f): R-hat and "
                   "ESS are unreliable;\n    run longer or store snapshots "
                   "more often (output.trajectory_every)\n",
              need, nb, nt, s->n_stats, ib, minb, it, mint);
    }
    if (s->chains_ok && s->n_stats < s->d)
      fprintf(out, "    (ESS and R-hat checked for the %zu coordinates shown; "
                   "--all checks all %zu)\n", s->n_stats, s->d);
  }
  if (!nw) fprintf(out, "  none\n");
}

int pf_h5_summary(const char *path, unsigned flags, FILE *out)
{
  PF_CHECK(path && out, PF_EINVAL, "pf_h5_summary: NULL argument");
  pf__h5_quiet();
  struct stat st;
  PF_CHECK(stat(path, &st) == 0, PF_EIO, "cannot open '%s': %s", path,
           strerror(errno));
  int rc = 0;
  summary s;
  run_info ri;
  memset(&s, 0, sizeof s);
  memset(&ri, 0, sizeof ri);
  dset post = {H5I_INVALID_HID, 0, {0}}, traj = {H5I_INVALID_HID, 0, {0}};
  long long *titer = NULL;
  hsize_t ntiter = 0;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), root = H5I_INVALID_HID;
  s.file = H5I_INVALID_HID;
  s.out = out;
  s.flags = flags;
  PF_CHECK_GOTO(rc, fapl >= 0 && H5Pset_file_locking(fapl, 0, 1) >= 0,
                PF_EHDF5, done, "file access list: %s", pf__h5_errdesc());
  s.file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  PF_CHECK_GOTO(rc, s.file >= 0, PF_EIO, done,
                "cannot open '%s' as an HDF5 file: %s", path,
                pf__h5_errdesc());
  root = H5Gopen2(s.file, "/", H5P_DEFAULT);
  PF_CHECK_GOTO(rc, root >= 0, PF_EHDF5, done, "opening '/' of '%s': %s",
                path, pf__h5_errdesc());

  fprintf(out, "%-10s %s\n", "file", path);
  print_header(&s, root, &ri);

  post = dset_open(s.file, "posterior", "x");
  traj = dset_open(s.file, "trajectory", "x");
  titer = read_coord(s.file, "trajectory", "iteration", &ntiter);
  PF_TRY_GOTO(rc, load_draws(&s, &post, &traj, titer, ntiter), done);
  /* Chain samplers write (chain, draw) draws after their warm-up; those
   * are the chains.  Otherwise particles along the trajectory are. */
  const int chain_draws = post.id >= 0 && post.rank == 3 && post.dims[0] > 1 &&
                          H5Aexists_by_name(s.file, "posterior", "warmup",
                                            H5P_DEFAULT) > 0;
  if (chain_draws && s.rows)
    PF_TRY_GOTO(rc, posterior_chain_stats(&s, &post), done);
  else
    PF_TRY_GOTO(rc, chain_stats(&s, &traj, titer, ntiter), done);

  if (!s.rows) {
    fprintf(out, "\nposterior: no draws in the file (no /posterior/x, no "
                 "trajectory snapshot)\n");
  } else {
    if (s.from_traj_last)
      fprintf(out, "\nposterior: /posterior/x not written yet; the last "
                   "trajectory snapshot (iteration %lld): %zu draws, d = "
                   "%zu\n", s.draws_iter, s.n_draws, s.d);
    else
      fprintf(out, "\nposterior: /posterior/x, %zu draws (chains and draws "
                   "pooled), d = %zu\n", s.n_draws, s.d);
    if (chain_draws) {
      if (s.chains_ok)
        fprintf(out, "ESS/R-hat: chains = the sampler's chains (%zu%s), "
                     "draws = /posterior/x (%zu per chain, after warm-up)\n",
                s.chains_used,
                s.chains_used < s.n_chains ? ", the first ones that fit" : "",
                s.n_cdraws);
      else
        fprintf(out, "ESS/R-hat: '-': %s\n", s.chains_note);
      fprintf(out, "  rank-normalized split R-hat (bulk and folded) and "
                   "bulk/tail ESS as in Vehtari et al.\n  (2021), over the "
                   "chains' post-warm-up draws; mean, sd and quantiles pool "
                   "all draws.\n\n");
      print_table(&s);
    } else {
    if (s.chains_ok)
      fprintf(out, "ESS/R-hat: chains = particles (%zu%s), draws = trajectory "
                   "snapshots after warm-up\n           (iterations %lld..%lld"
                   ", %zu snapshots)\n",
              s.chains_used,
              s.chains_used < s.n_chains ? ", the first ones that fit" : "",
              s.warm_from, s.warm_to, s.n_cdraws);
    else
      fprintf(out, "ESS/R-hat: '-': %s\n", s.chains_note);
    fprintf(out,
            "  rule: chains = particles, draws = /trajectory/x snapshots at "
            "iterations >= N/2 (N: last\n"
            "  snapshot), used when there are >= %d; rank-normalized split "
            "R-hat (bulk and folded)\n"
            "  and bulk/tail ESS as in Vehtari et al. (2021).  They treat "
            "each particle as a Markov\n"
            "  chain (Langevin-type samplers); for interacting particle flows "
            "(SVGD, MMD) they only\n"
            "  say how much particles still move.  mean, sd and quantiles "
            "are over the posterior draws.\n\n",
            PF__SUM_MIN_DRAWS);
    print_table(&s);
    }
  }

  print_diagnostics(&s);

  double lp_mean = NAN, lp_sum, acc = NAN, acc_sum, div_mean, ndiv = 0.0;
  size_t nlp = 0, nacc = 0, nd = 0;
  int have_lp = sample_stat(s.file, "lp", &lp_mean, &lp_sum, &nlp);
  int have_acc = sample_stat(s.file, "acceptance_rate", &acc, &acc_sum, &nacc);
  int have_div = sample_stat(s.file, "diverging", &div_mean, &ndiv, &nd);
  /* Samplers that report these per step write them to /diagnostics at the
   * recorded iterations only. */
  const char *acc_src = "sample_stats", *div_src = "sample_stats";
  if (!have_acc &&
      diag_stat(s.file, "acceptance_rate", 1, &acc, &acc_sum, &nacc)) {
    have_acc = 1;
    acc_src = "diagnostics";
  }
  if (!have_div &&
      diag_stat(s.file, "diverging", 0, &div_mean, &ndiv, &nd)) {
    have_div = 1;
    div_src = "diagnostics";
  }
  if (have_lp || have_acc || have_div) {
    fprintf(out, "\nsample stats:\n");
    if (have_lp)
      fprintf(out, "  %-20s %12.6g   mean over %zu draws\n", "lp", lp_mean,
              nlp);
    if (have_acc)
      fprintf(out, "  %-20s %12.4g   mean over %zu %s\n", "acceptance_rate",
              acc, nacc,
              acc_src[0] == 's' ? "draws"
                                : "recorded iterations >= N/2 (/diagnostics)");
    if (have_div)
      fprintf(out, "  %-20s %12.0f   in %zu %s\n", "divergences", ndiv, nd,
              div_src[0] == 's' ? "draws"
                                : "recorded iterations (/diagnostics; steps "
                                  "between records are not counted)");
  }
  print_warnings(&s, &ri, have_div, ndiv, div_src);
done:
  free(titer);
  free(s.rows);
  dset_close(&post);
  dset_close(&traj);
  run_info_free(&ri);
  if (root >= 0) H5Gclose(root);
  if (s.file >= 0) H5Fclose(s.file);
  if (fapl >= 0) H5Pclose(fapl);
  return rc;
}
