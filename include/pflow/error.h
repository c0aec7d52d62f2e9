/* pflow error codes and error reporting.
 *
 * Every pflow function that can fail returns int: 0 (PF_OK) or a negative
 * PF_E* code.  The codes, their names and their messages come from one
 * X-macro list so they can never drift apart.  The last error's formatted
 * message, with the source file:line that raised it and the chain of
 * callers that propagated it, is kept per thread (pf_error_message()).
 */
#ifndef PFLOW_ERROR_H
#define PFLOW_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message) */
#define PF_ERRNO_MAP(X)                                                      \
  X(ENOMEM, -1, "out of memory")                                             \
  X(EINVAL, -2, "invalid argument")                                          \
  X(ECONFIG, -3, "invalid configuration")                                    \
  X(EPARSE, -4, "malformed input")                                           \
  X(ENOTFOUND, -5, "no such name")                                           \
  X(EIO, -6, "input/output error")                                           \
  X(EHDF5, -7, "HDF5 library error")                                         \
  X(EEXIST, -8, "file exists")                                               \
  X(ENONFINITE, -9, "non-finite value")                                      \
  X(EINTR, -10, "interrupted by a signal")                                   \
  X(ENOTSUP, -11, "operation not supported")                                 \
  X(ELINALG, -12, "linear algebra failure")                                  \
  X(EDOMAIN, -13, "point outside the domain")                                \
  X(EUSAGE, -14, "invalid command line")                                     \
  X(ENOCONV, -15, "iteration did not converge")

enum {
  PF_OK = 0,
#define PF__ERR_ENUM(name, val, msg) PF_##name = (val),
  PF_ERRNO_MAP(PF__ERR_ENUM)
#undef PF__ERR_ENUM
};

/* Short message for an error code ("out of memory"); never NULL. */
const char *pf_strerror(int code);
/* Symbolic name of an error code ("PF_ENOMEM"); never NULL. */
const char *pf_err_name(int code);

/* Record a new error (clears the previous one) and return code.  The message
 * is printf-formatted; file and line are the raising site.  Thread-safe: the
 * record is per thread. */
int pf__error_set(int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Append a propagation frame (file:line and the failed expression) to the
 * current record and return code unchanged. */
int pf__error_push(int code, const char *file, int line, const char *expr);

/* The current thread's last error message (without the source location),
 * "" when none.  Valid until the next pf__error_set on this thread. */
const char *pf_error_message(void);
/* Source location of the raising site ("core/config.c:120"), "" if none. */
const char *pf_error_where(void);
/* Raising site followed by the propagation frames, one per line. */
const char *pf_error_trace(void);
/* Forget the current error. */
void pf_error_clear(void);

/* Raise: record a formatted message and return the code from the caller. */
#define PF_RAISE(code, ...) \
  return pf__error_set((code), __FILE__, __LINE__, __VA_ARGS__)

/* Check a condition; on failure raise code with a formatted message. */
#define PF_CHECK(cond, code, ...)                              \
  do {                                                         \
    if (!(cond))                                               \
      return pf__error_set((code), __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

/* Call and propagate a negative return code, adding a trace frame. */
#define PF_TRY(expr)                                              \
  do {                                                            \
    int pf__rc_ = (expr);                                         \
    if (pf__rc_ < 0)                                              \
      return pf__error_push(pf__rc_, __FILE__, __LINE__, #expr);  \
  } while (0)

/* Like PF_TRY but store the code in rc and jump to label (for cleanup). */
#define PF_TRY_GOTO(rc, expr, label)                              \
  do {                                                            \
    (rc) = (expr);                                                \
    if ((rc) < 0) {                                               \
      pf__error_push((rc), __FILE__, __LINE__, #expr);            \
      goto label;                                                 \
    }                                                             \
  } while (0)

/* Like PF_CHECK but store the code in rc and jump to label. */
#define PF_CHECK_GOTO(rc, cond, code, label, ...)                     \
  do {                                                                \
    if (!(cond)) {                                                    \
      (rc) = pf__error_set((code), __FILE__, __LINE__, __VA_ARGS__);  \
      goto label;                                                     \
    }                                                                 \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif
