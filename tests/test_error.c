/* Error codes: names, messages, records and propagation frames. */
#include <string.h>

#include "pf_test.h"
#include "pflow/error.h"

static int raise_it(int v)
{
  PF_CHECK(v > 0, PF_EINVAL, "value %d must be positive", v);
  return 0;
}

static int propagate(int v)
{
  PF_TRY(raise_it(v));
  return 0;
}

static int names_and_messages(void)
{
  PF_T_ASSERT(strcmp(pf_err_name(PF_ENOMEM), "PF_ENOMEM") == 0, "name");
  PF_T_ASSERT(strcmp(pf_strerror(PF_EEXIST), "file exists") == 0, "msg");
  PF_T_ASSERT(strcmp(pf_strerror(PF_OK), "success") == 0, "ok");
  PF_T_ASSERT(strcmp(pf_err_name(-999), "PF_EUNKNOWN") == 0, "unknown");
  /* Every code is negative and distinct. */
  static const int codes[] = {
#define C(name, val, msg) PF_##name,
      PF_ERRNO_MAP(C)
#undef C
  };
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    PF_T_ASSERT(codes[i] < 0, "code %d", codes[i]);
    for (size_t j = 0; j < i; j++) PF_T_ASSERT(codes[i] != codes[j], "dup");
  }
  return 0;
}

static int record_and_trace(void)
{
  pf_error_clear();
  PF_T_ASSERT(propagate(1) == 0, "no error");
  int rc = propagate(-3);
  PF_T_ASSERT(rc == PF_EINVAL, "rc %d", rc);
  PF_T_ASSERT(strcmp(pf_error_message(), "value -3 must be positive") == 0,
              "message '%s'", pf_error_message());
  PF_T_ASSERT(strstr(pf_error_where(), "test_error.c:") != NULL, "where '%s'",
              pf_error_where());
  PF_T_ASSERT(strstr(pf_error_trace(), "raise_it(v)") != NULL, "trace '%s'",
              pf_error_trace());
  pf_error_clear();
  PF_T_ASSERT(pf_error_message()[0] == '\0', "cleared");
  return 0;
}

const pf_test_case pf_tests_error[] = {
    {"names_and_messages", names_and_messages},
    {"record_and_trace", record_and_trace},
    {NULL, NULL}};
