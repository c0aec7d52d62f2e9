/* Error codes, names, messages and the per-thread error record. */
#include "pflow/error.h"

#include <stdio.h>
#include <string.h>

const char *pf_strerror(int code)
{
  switch (code) {
  case PF_OK: return "success";
#define PF__ERR_MSG(name, val, msg) case PF_##name: return msg;
    PF_ERRNO_MAP(PF__ERR_MSG)
#undef PF__ERR_MSG
  }
  return "unknown error";
}

const char *pf_err_name(int code)
{
  switch (code) {
  case PF_OK: return "PF_OK";
#define PF__ERR_NAME(name, val, msg) case PF_##name: return "PF_" #name;
    PF_ERRNO_MAP(PF__ERR_NAME)
#undef PF__ERR_NAME
  }
  return "PF_EUNKNOWN";
}

enum { PF__MSG_LEN = 2048, PF__TRACE_LEN = 4096 };

static _Thread_local char tl_msg[PF__MSG_LEN];
static _Thread_local char tl_where[256];
static _Thread_local char tl_trace[PF__TRACE_LEN];

int pf__error_set(int code, const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
  va_end(ap);
  snprintf(tl_where, sizeof tl_where, "%s:%d", file, line);
  snprintf(tl_trace, sizeof tl_trace, "  raised at %s (%s)\n", tl_where,
           pf_err_name(code));
  return code;
}

int pf__error_push(int code, const char *file, int line, const char *expr)
{
  size_t len = strlen(tl_trace);
  if (tl_msg[0] == '\0') {
    /* Propagating a code nobody described: say at least what failed. */
    snprintf(tl_msg, sizeof tl_msg, "%s", pf_strerror(code));
    snprintf(tl_where, sizeof tl_where, "%s:%d", file, line);
  }
  if (len < sizeof tl_trace - 1)
    snprintf(tl_trace + len, sizeof tl_trace - len, "  from %s:%d: %s\n", file,
             line, expr);
  return code;
}

const char *pf_error_message(void) { return tl_msg; }
const char *pf_error_where(void) { return tl_where; }
const char *pf_error_trace(void) { return tl_trace; }

void pf_error_clear(void)
{
  tl_msg[0] = '\0';
  tl_where[0] = '\0';
  tl_trace[0] = '\0';
}
