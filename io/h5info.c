/* `pflow info FILE`: a readable summary of a pflow output file -- the run's
 * status and provenance attributes, then each group's dimensions and
 * variables with shapes, and for diagnostics (chain, iteration) the first
 * and last recorded values.  Works on finished files, on files left by a
 * killed run, and (best effort) on a file still being written: HDF5 file
 * locking is turned off for this read-only open because the writer holds an
 * exclusive lock for its whole lifetime. */
#include "pflow/io.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "pflow/error.h"

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
