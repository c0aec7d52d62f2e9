/* The test runner: every suite, one line per test, then
 * "N passed, N failed".  `runner [SUBSTRING...]` runs only tests whose
 * "suite/name" contains one of the substrings. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pf_test.h"
#include "suites.h"

const char *pf_test_pflow(void)
{
  const char *p = getenv("PFLOW");
  return p && *p ? p : "build/pflow";
}

const char *pf_test_builddir(void)
{
  const char *p = getenv("PF_BUILD");
  return p && *p ? p : "build";
}

const char *pf_test_python(void)
{
  const char *p = getenv("PF_PYTHON");
  if (p && *p) return p;
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                : "python3";
}

const char *pf_test_slurp(const char *path)
{
  static char buf[1 << 17];
  FILE *f = fopen(path, "r");
  buf[0] = '\0';
  if (!f) return buf;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

const char *pf_test_tmpdir(void)
{
  static char dir[512];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "%s/test-tmp", pf_test_builddir());
    pf_test_sh("rm -rf '%s' && mkdir -p '%s'", dir, dir);
  }
  return dir;
}

int pf_test_sh(const char *fmt, ...)
{
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  fflush(stdout);
  fflush(stderr);
  int st = system(cmd);
  if (st == -1) return -1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int selected(const char *full, int argc, char **argv)
{
  if (argc <= 1) return 1;
  for (int i = 1; i < argc; i++)
    if (strstr(full, argv[i])) return 1;
  return 0;
}

int main(int argc, char **argv)
{
  int passed = 0, failed = 0;
  char failures[8192] = "";
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (size_t s = 0; pf_suites[s].name; s++) {
    if (!pf_suites[s].cases) {
      failed++;
      printf("FAIL %-52s (suite not linked)\n", pf_suites[s].name);
      continue;
    }
    for (const pf_test_case *t = pf_suites[s].cases; t->name; t++) {
      char full[256];
      snprintf(full, sizeof full, "%s/%s", pf_suites[s].name, t->name);
      if (!selected(full, argc, argv)) continue;
      double t0 = now();
      fflush(stdout);
      int rc = t->fn();
      fflush(stderr);
      double dt = now() - t0;
      if (rc == 0) {
        passed++;
        printf("ok   %-52s %8.2f s\n", full, dt);
      } else {
        failed++;
        printf("FAIL %-52s %8.2f s\n", full, dt);
        size_t len = strlen(failures);
        snprintf(failures + len, sizeof failures - len, "  %s\n", full);
      }
    }
  }
  if (failed) printf("failed tests:\n%s", failures);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
