/* Numeric CSV tables: a header row of names, then rows of numbers.  Kept
 * deliberately small: no quoting inside data fields, no missing values,
 * because the data sets pflow ships are plain numeric tables and a silent
 * guess (a NaN for an empty field) would corrupt a posterior. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/io.h"

void pf_csv_destroy(pf_csv **pt)
{
  if (!pt || !*pt) return;
  pf_csv *t = *pt;
  if (t->names)
    for (size_t j = 0; j < t->cols; j++) free(t->names[j]);
  free(t->names);
  free(t->data);
  free(t->lines);
  free(t);
  *pt = NULL;
}

size_t pf_csv_column(const pf_csv *t, const char *name)
{
  for (size_t j = 0; j < t->cols; j++)
    if (strcmp(t->names[j], name) == 0) return j;
  return t->cols;
}

/* Strip leading/trailing blanks in place; returns the new start. */
static char *trim(char *s)
{
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                   s[n - 1] == '\n'))
    s[--n] = '\0';
  return s;
}

static int is_blank(const char *s)
{
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
  return 1;
}

static size_t count_fields(const char *s)
{
  size_t n = 1;
  for (; *s; s++) n += *s == ',';
  return n;
}

static int parse_header(pf_csv *t, char *line, long lineno, const char *path)
{
  if (strncmp(line, "\xEF\xBB\xBF", 3) == 0) line += 3; /* UTF-8 BOM */
  t->cols = count_fields(line);
  t->names = calloc(t->cols, sizeof(char *));
  PF_CHECK(t->names, PF_ENOMEM, "reading '%s': allocating %zu names", path,
           t->cols);
  char *p = line;
  for (size_t j = 0; j < t->cols; j++) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    char *name = trim(p);
    size_t len = strlen(name);
    if (len >= 2 && name[0] == '"' && name[len - 1] == '"') {
      name[len - 1] = '\0';
      name++;
    }
    PF_CHECK(name[0], PF_EPARSE, "%s:%ld: column %zu has an empty name",
             path, lineno, j + 1);
    for (size_t k = 0; k < j; k++)
      PF_CHECK(strcmp(t->names[k], name) != 0, PF_EPARSE,
               "%s:%ld: column name '%s' appears twice (columns %zu and "
               "%zu)", path, lineno, name, k + 1, j + 1);
    t->names[j] = strdup(name);
    PF_CHECK(t->names[j], PF_ENOMEM, "reading '%s'", path);
    p = comma ? comma + 1 : p + strlen(p);
  }
  return 0;
}

static int parse_row(pf_csv *t, char *line, long lineno, const char *path,
                     double *row)
{
  size_t nf = count_fields(line);
  PF_CHECK(nf == t->cols, PF_EPARSE,
           "%s:%ld: expected %zu fields as in the header, found %zu", path,
           lineno, t->cols, nf);
  char *p = line;
  for (size_t j = 0; j < t->cols; j++) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    char *f = trim(p), *end;
    PF_CHECK(f[0], PF_EPARSE,
             "%s:%ld: column '%s': empty field (missing values are not "
             "supported)", path, lineno, t->names[j]);
    errno = 0;
    double v = strtod(f, &end);
    PF_CHECK(end != f && *end == '\0', PF_EPARSE,
             "%s:%ld: column '%s': not a number ('%s')", path, lineno,
             t->names[j], f);
    PF_CHECK(isfinite(v), PF_EPARSE,
             "%s:%ld: column '%s': not a finite number ('%s')", path, lineno,
             t->names[j], f);
    row[j] = v;
    p = comma ? comma + 1 : p + strlen(p);
  }
  return 0;
}

static int read_all(FILE *f, const char *path, pf_csv *t)
{
  char *line = NULL;
  size_t cap = 0, rcap = 0;
  long lineno = 0;
  int rc = 0, have_header = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    PF_CHECK_GOTO(rc, memchr(line, '\0', (size_t)len) == NULL, PF_EPARSE,
                  done, "%s:%ld: a NUL byte (not a text file?)", path, lineno);
    if (is_blank(line)) continue;
    if (!have_header) {
      PF_TRY_GOTO(rc, parse_header(t, line, lineno, path), done);
      have_header = 1;
      continue;
    }
    if (t->rows == rcap) {
      size_t ncap = rcap ? 2 * rcap : 256;
      double *d = realloc(t->data, ncap * t->cols * sizeof(double));
      PF_CHECK_GOTO(rc, d, PF_ENOMEM, done, "reading '%s': %zu rows", path,
                    ncap);
      t->data = d;
      long *l = realloc(t->lines, ncap * sizeof(long));
      PF_CHECK_GOTO(rc, l, PF_ENOMEM, done, "reading '%s': %zu rows", path,
                    ncap);
      t->lines = l;
      rcap = ncap;
    }
    PF_TRY_GOTO(rc, parse_row(t, line, lineno, path,
                              t->data + t->rows * t->cols), done);
    t->lines[t->rows++] = lineno;
  }
  PF_CHECK_GOTO(rc, !ferror(f), PF_EIO, done, "reading '%s': %s", path,
                strerror(errno));
  PF_CHECK_GOTO(rc, have_header, PF_EPARSE, done,
                "%s: empty file (expected a header row)", path);
  PF_CHECK_GOTO(rc, t->rows > 0, PF_EPARSE, done,
                "%s: no data rows after the header", path);
done:
  free(line);
  return rc;
}

int pf_csv_read(const char *path, pf_csv **out)
{
  *out = NULL;
  FILE *f = fopen(path, "r");
  PF_CHECK(f, PF_EIO, "cannot open '%s': %s", path, strerror(errno));
  pf_csv *t = calloc(1, sizeof *t);
  if (!t) {
    fclose(f);
    PF_RAISE(PF_ENOMEM, "reading '%s'", path);
  }
  int rc = read_all(f, path, t);
  fclose(f);
  if (rc < 0) {
    pf_csv_destroy(&t);
    return rc;
  }
  *out = t;
  return 0;
}
