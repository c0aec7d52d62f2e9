/* Reading matrices from any HDF5 file (reference sets): a 2-D dataset
 * (rows x dim), a 1-D one (rows x 1), or the pflow / ArviZ posterior layout
 * (chain, draw, dim) whose chains and draws are flattened chain-major into
 * rows.  Opens read-only without HDF5 file locking so a file another pflow
 * still writes can be read (best effort, like `pflow info`). */
#include "pflow/io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "pflow/error.h"

/* From h5out.c. */
const char *pf__h5_errdesc(void);
void pf__h5_quiet(void);

int pf_h5_read_matrix(const char *path, const char *dataset, double **X,
                      size_t *rows, size_t *cols)
{
  PF_CHECK(path && dataset && X && rows && cols, PF_EINVAL,
           "pf_h5_read_matrix: path, dataset and outputs are required");
  *X = NULL;
  *rows = *cols = 0;
  pf__h5_quiet();
  struct stat st;
  PF_CHECK(stat(path, &st) == 0, PF_EIO, "cannot read '%s': no such file",
           path);
  int rc = 0;
  double *buf = NULL;
  hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID, d = H5I_INVALID_HID;
  hid_t sp = H5I_INVALID_HID;
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  PF_CHECK_GOTO(rc, fapl >= 0 && H5Pset_file_locking(fapl, 0, 1) >= 0,
                PF_EHDF5, out, "HDF5 property list: %s", pf__h5_errdesc());
  f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  PF_CHECK_GOTO(rc, f >= 0, PF_EIO, out, "cannot open '%s' as HDF5: %s",
                path, pf__h5_errdesc());
  htri_t ok = H5LTpath_valid(f, dataset, 1);
  PF_CHECK_GOTO(rc, ok > 0, PF_ENOTFOUND, out, "no dataset '%s' in '%s'",
                dataset, path);
  d = H5Dopen2(f, dataset, H5P_DEFAULT);
  PF_CHECK_GOTO(rc, d >= 0, PF_ENOTFOUND, out,
                "'%s' in '%s' is not a dataset", dataset, path);
  hid_t t = H5Dget_type(d);
  H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
  if (t >= 0) H5Tclose(t);
  PF_CHECK_GOTO(rc, cls == H5T_FLOAT || cls == H5T_INTEGER, PF_EINVAL, out,
                "dataset '%s' in '%s' is not numeric", dataset, path);
  sp = H5Dget_space(d);
  int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  PF_CHECK_GOTO(rc, nd >= 1 && nd <= 3, PF_EINVAL, out,
                "dataset '%s' in '%s' has %d dimensions; expected (rows, "
                "dim) or (chain, draw, dim)", dataset, path, nd);
  hsize_t dims[3] = {1, 1, 1};
  H5Sget_simple_extent_dims(sp, dims, NULL);
  size_t r = nd == 3 ? (size_t)(dims[0] * dims[1]) : (size_t)dims[0];
  size_t c = nd == 1 ? 1 : (size_t)dims[nd - 1];
  PF_CHECK_GOTO(rc, r > 0 && c > 0, PF_EINVAL, out,
                "dataset '%s' in '%s' is empty", dataset, path);
  buf = malloc(r * c * sizeof *buf);
  PF_CHECK_GOTO(rc, buf, PF_ENOMEM, out, "reading '%s': %zu x %zu values",
                dataset, r, c);
  /* Row-major storage of (chain, draw, dim) is already chain-major rows. */
  PF_CHECK_GOTO(rc,
                H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                        buf) >= 0,
                PF_EHDF5, out, "reading '%s' from '%s': %s", dataset, path,
                pf__h5_errdesc());
  *X = buf;
  *rows = r;
  *cols = c;
  buf = NULL;
out:
  free(buf);
  if (sp >= 0) H5Sclose(sp);
  if (d >= 0) H5Dclose(d);
  if (f >= 0) H5Fclose(f);
  if (fapl >= 0) H5Pclose(fapl);
  return rc;
}
