/* Minimal in-house test harness: each suite file exports a NULL-terminated
 * table of test cases; tests/runner.c runs every suite, prints one line per
 * test and ends with "N passed, N failed".  A test returns 0 on success. */
#ifndef PF_TEST_H
#define PF_TEST_H

#include <math.h>
#include <stdio.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct pf_test_case {
  const char *name;
  int (*fn)(void);
} pf_test_case;

/* Path of the built pflow program and the build directory (from the
 * environment the Makefile sets; defaults "build/pflow", "build"). */
const char *pf_test_pflow(void);
const char *pf_test_builddir(void);
/* Python with Debian's h5py/xarray/h5netcdf: $PF_PYTHON, else
 * /usr/bin/python3 (a "python3" earlier in PATH, e.g. pyenv, may lack
 * them), else "python3". */
const char *pf_test_python(void);
/* The text of a file (at most 128 KiB; "" if unreadable), in a static
 * buffer that the next call overwrites. */
const char *pf_test_slurp(const char *path);
/* A fresh scratch directory for this test run (created once). */
const char *pf_test_tmpdir(void);
/* Run a shell command, return its exit status (or -1); output goes to the
 * runner's stdout/stderr. */
int pf_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define PF_T_FAIL(...)                                        \
  do {                                                        \
    fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);       \
    fprintf(stderr, __VA_ARGS__);                             \
    fprintf(stderr, "\n");                                    \
    return 1;                                                 \
  } while (0)

#define PF_T_ASSERT(cond, ...)                                \
  do {                                                        \
    if (!(cond)) {                                            \
      fprintf(stderr, "    %s:%d: assertion '%s' failed: ",   \
              __FILE__, __LINE__, #cond);                     \
      fprintf(stderr, __VA_ARGS__);                           \
      fprintf(stderr, "\n");                                  \
      return 1;                                               \
    }                                                         \
  } while (0)

/* |a - b| <= tol */
#define PF_T_NEAR(a, b, tol)                                           \
  do {                                                                 \
    double pf_a_ = (a), pf_b_ = (b), pf_t_ = (tol);                    \
    if (!(fabs(pf_a_ - pf_b_) <= pf_t_)) {                             \
      fprintf(stderr, "    %s:%d: %s = %.17g, expected %.17g +- %.3g\n", \
              __FILE__, __LINE__, #a, pf_a_, pf_b_, pf_t_);            \
      return 1;                                                        \
    }                                                                  \
  } while (0)

/* Expect a pflow call to return 0. */
#define PF_T_OK(expr)                                                  \
  do {                                                                 \
    int pf_rc_ = (expr);                                               \
    if (pf_rc_ != 0) {                                                 \
      fprintf(stderr, "    %s:%d: %s returned %d: %s\n%s", __FILE__,   \
              __LINE__, #expr, pf_rc_, pf_error_message(),             \
              pf_error_trace());                                       \
      return 1;                                                        \
    }                                                                  \
  } while (0)

#endif
