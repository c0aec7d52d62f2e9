/* Sweeps: --sweep flags parsed into axes of values, jobs numbered in
 * row-major order (first axis slowest), per-job overrides, output names,
 * the manifest, and how jobs are shared among ranks.  See
 * include/pflow/sweep.h for the grammar. */
#include "pflow/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pflow/error.h"
#include "strbuf.h"

typedef struct axis {
  char *key, *spec;
  int argi;
  size_t limit;   /* most values the axis may have within the job cap */
  size_t n, cap;
  char **values;
} axis;

struct pf_sweep {
  size_t n_axes;
  axis *axes;
};

int pf_sweep_create(pf_sweep **out)
{
  PF_CHECK(out, PF_EINVAL, "pf_sweep_create: NULL output");
  *out = calloc(1, sizeof **out);
  PF_CHECK(*out, PF_ENOMEM, "allocating a sweep");
  return 0;
}

static void axis_free(axis *a)
{
  for (size_t i = 0; i < a->n; i++) free(a->values[i]);
  free(a->values);
  free(a->key);
  free(a->spec);
}

void pf_sweep_destroy(pf_sweep **s)
{
  if (!s || !*s) return;
  for (size_t k = 0; k < (*s)->n_axes; k++) axis_free(&(*s)->axes[k]);
  free((*s)->axes);
  free(*s);
  *s = NULL;
}

/* Append a copy of text[0..len) to the axis. */
static int push(axis *a, const char *text, size_t len)
{
  PF_CHECK(a->n < a->limit, PF_EUSAGE,
           "invalid --sweep '%s' (argument %d): the sweep would have more "
           "than %u jobs", a->spec, a->argi, PF_SWEEP_MAX_JOBS);
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 8;
    char **v = realloc(a->values, cap * sizeof *v);
    PF_CHECK(v, PF_ENOMEM, "sweep values");
    a->values = v;
    a->cap = cap;
  }
  a->values[a->n] = strndup(text, len);
  PF_CHECK(a->values[a->n], PF_ENOMEM, "sweep values");
  a->n++;
  return 0;
}

/* Shortest "%.Ng" text that reads back to x (0.01, not
 * 0.010000000000000000208). */
static void real_text(double x, char *buf, size_t cap)
{
  /* Plain decimals where they are short (10, 0.001, not 1e+01); %g with
   * an exponent for very small or large magnitudes. */
  const double ax = fabs(x);
  if (ax == 0.0 || (ax >= 1e-4 && ax < 1e15)) {
    for (int p = 0; p <= 20; p++) {
      snprintf(buf, cap, "%.*f", p, x);
      if (strtod(buf, NULL) == x) return;
    }
  }
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, cap, "%.*g", p, x);
    if (strtod(buf, NULL) == x) return;
  }
}

#define BAD(a, ...)                                                       \
  return pf__error_set(PF_EUSAGE, __FILE__, __LINE__,                     \
                       "invalid --sweep '%s' (argument %d): " __VA_ARGS__)

/* Split "a, b, c" (the inside of f(...)) at commas into at most max
 * trimmed fields; returns the count, or -1 for an empty field. */
static int fields(char *in, char **f, int max)
{
  int n = 0;
  char *p = in;
  if (!*in) return 0;
  for (;;) {
    char *c = strchr(p, ',');
    if (c) *c = '\0';
    while (isspace((unsigned char)*p)) p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1])) *--e = '\0';
    if (!*p) return -1;
    if (n == max) return max + 1;
    f[n++] = p;
    if (!c) break;
    p = c + 1;
  }
  return n;
}

static int parse_ll(const char *t, long long *out)
{
  char *end;
  errno = 0;
  *out = strtoll(t, &end, 10);
  return errno == 0 && end != t && *end == '\0';
}

static int parse_d(const char *t, double *out)
{
  char *end;
  errno = 0;
  *out = strtod(t, &end);
  return errno == 0 && end != t && *end == '\0' && isfinite(*out);
}

/* range(...), linspace(...), logspace(...): fill the axis. */
static int expand_function(axis *a, const char *fn, char *args)
{
  char *f[4];
  char buf[64];
  int n = fields(args, f, 3);
  if (!strcmp(fn, "range")) {
    long long v[3] = {0, 0, 1};
    if (n < 1 || n > 3)
      BAD(a, "range takes 1 to 3 integers: range(stop), range(start, stop) "
             "or range(start, stop, step)", a->spec, a->argi);
    for (int i = 0; i < n; i++)
      if (!parse_ll(f[i], &v[n == 1 ? 1 : i]))
        BAD(a, "range: '%s' is not an integer", a->spec, a->argi, f[i]);
    if (v[2] == 0) BAD(a, "range: the step is 0", a->spec, a->argi);
    const long long lo = v[0], hi = v[1], st = v[2];
    /* Count first: a huge range fails at once, not after filling. */
    const double span = ((double)hi - (double)lo) / (double)st;
    if (span > (double)a->limit)
      BAD(a, "the sweep would have more than %u jobs", a->spec, a->argi,
          PF_SWEEP_MAX_JOBS);
    for (long long x = lo; st > 0 ? x < hi : x > hi; x += st) {
      snprintf(buf, sizeof buf, "%lld", x);
      PF_TRY(push(a, buf, strlen(buf)));
      if ((st > 0 && x > hi - st) || (st < 0 && x < hi - st)) break;
    }
    if (a->n == 0)
      BAD(a, "range(%lld, %lld, %lld) is empty", a->spec, a->argi, lo, hi,
          st);
    return 0;
  }
  /* linspace / logspace */
  double lo, hi, cnt;
  if (n != 3)
    BAD(a, "%s takes 3 arguments: %s(start, stop, count)", a->spec, a->argi,
        fn, fn);
  if (!parse_d(f[0], &lo) || !parse_d(f[1], &hi))
    BAD(a, "%s: start and stop must be finite reals", a->spec, a->argi, fn);
  long long m;
  if (!parse_ll(f[2], &m) || m < 1)
    BAD(a, "%s: the count '%s' must be an integer >= 1", a->spec, a->argi,
        fn, f[2]);
  if ((unsigned long long)m > a->limit)
    BAD(a, "the sweep would have more than %u jobs", a->spec, a->argi,
        PF_SWEEP_MAX_JOBS);
  cnt = (double)m;
  for (long long i = 0; i < m; i++) {
    /* The end points exactly, as numpy does. */
    double t = m == 1 ? lo : i == m - 1 ? hi : lo + (double)i * (hi - lo) / (cnt - 1);
    double x = fn[1] == 'i' ? t : pow(10.0, t);
    real_text(x, buf, sizeof buf);
    PF_TRY(push(a, buf, strlen(buf)));
  }
  return 0;
}

/* Split a value list at commas outside [], {} and quotes. */
static int split_list(axis *a, const char *t)
{
  int depth = 0;
  char quote = 0;
  const char *start = t;
  for (const char *p = t;; p++) {
    const char c = *p;
    if (quote) {
      if (c == '\0')
        BAD(a, "unterminated %c quote", a->spec, a->argi, quote);
      /* YAML: '' inside single quotes, \x inside double quotes. */
      if (c == '\\' && quote == '"' && p[1]) p++;
      else if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') quote = c;
    else if (c == '[' || c == '{') depth++;
    else if ((c == ']' || c == '}') && depth > 0) depth--;
    else if (c == '\0' || (c == ',' && depth == 0)) {
      const char *b = start, *e = p;
      while (b < e && isspace((unsigned char)*b)) b++;
      while (e > b && isspace((unsigned char)e[-1])) e--;
      if (e == b)
        BAD(a, "empty value (value %zu); a value containing commas needs "
               "brackets or quotes, e.g. [1,2] or 'a,b'",
            a->spec, a->argi, a->n + 1);
      PF_TRY(push(a, b, (size_t)(e - b)));
      if (c == '\0') break;
      start = p + 1;
    }
  }
  if (depth) BAD(a, "unbalanced brackets", a->spec, a->argi);
  return 0;
}

static int parse_values(axis *a, const char *t)
{
  /* A whole-value function call: name(args). */
  const char *p = t;
  while (isalpha((unsigned char)*p) || *p == '_') p++;
  size_t tl = strlen(t);
  if (p > t && *p == '(' && tl > 0 && t[tl - 1] == ')' &&
      !memchr(p + 1, '(', tl - (size_t)(p - t) - 2)) {
    char fn[32], *args;
    size_t fl = (size_t)(p - t);
    snprintf(fn, sizeof fn, "%.*s", (int)fl, t);
    if (strcmp(fn, "range") && strcmp(fn, "linspace") &&
        strcmp(fn, "logspace"))
      BAD(a, "unknown function '%.*s'; valid: range(a,b[,step]), "
             "linspace(a,b,n), logspace(a,b,n) (quote a value that only "
             "looks like a call)", a->spec, a->argi, (int)fl, t);
    args = strndup(p + 1, tl - fl - 2);
    PF_CHECK(args, PF_ENOMEM, "sweep arguments");
    int rc = expand_function(a, fn, args);
    free(args);
    return rc;
  }
  return split_list(a, t);
}

int pf_sweep_add(pf_sweep *s, const char *spec, int argi)
{
  PF_CHECK(s && spec, PF_EINVAL, "pf_sweep_add: NULL argument");
  axis a;
  memset(&a, 0, sizeof a);
  a.argi = argi;
  a.limit = PF_SWEEP_MAX_JOBS / pf_sweep_count(s);
  a.spec = strdup(spec);
  PF_CHECK(a.spec, PF_ENOMEM, "sweep flag");
  int rc = 0;
  const char *eq = strchr(spec, '=');
  const char *k0 = spec, *k1 = eq ? eq : spec;
  while (k0 < k1 && isspace((unsigned char)*k0)) k0++;
  while (k1 > k0 && isspace((unsigned char)k1[-1])) k1--;
  if (!eq || k1 == k0) {
    rc = pf__error_set(PF_EUSAGE, __FILE__, __LINE__,
                       "invalid --sweep '%s' (argument %d): expected "
                       "KEY=V1,V2,... or KEY=range(a,b[,step])", spec, argi);
    goto fail;
  }
  a.key = strndup(k0, (size_t)(k1 - k0));
  PF_CHECK_GOTO(rc, a.key, PF_ENOMEM, fail, "sweep key");
  if (!strcmp(a.key, "output.path")) {
    rc = pf__error_set(PF_EUSAGE, __FILE__, __LINE__,
                       "invalid --sweep '%s' (argument %d): output.path "
                       "cannot be swept: each job writes "
                       "<output.path without .h5>/job-NNNN.h5", spec, argi);
    goto fail;
  }
  for (size_t k = 0; k < s->n_axes; k++)
    if (!strcmp(s->axes[k].key, a.key)) {
      rc = pf__error_set(PF_EUSAGE, __FILE__, __LINE__,
                         "invalid --sweep '%s' (argument %d): key '%s' is "
                         "already swept by --sweep '%s' (argument %d)", spec,
                         argi, a.key, s->axes[k].spec, s->axes[k].argi);
      goto fail;
    }
  {
    char *vals = strdup(eq + 1);
    PF_CHECK_GOTO(rc, vals, PF_ENOMEM, fail, "sweep values");
    char *b = vals, *e = vals + strlen(vals);
    while (isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) *--e = '\0';
    if (!*b)
      rc = pf__error_set(PF_EUSAGE, __FILE__, __LINE__,
                         "invalid --sweep '%s' (argument %d): no values "
                         "after '='", spec, argi);
    else
      rc = parse_values(&a, b);
    free(vals);
    if (rc < 0) goto fail;
  }
  axis *na = realloc(s->axes, (s->n_axes + 1) * sizeof *na);
  PF_CHECK_GOTO(rc, na, PF_ENOMEM, fail, "sweep axes");
  s->axes = na;
  s->axes[s->n_axes++] = a;
  return 0;
fail:
  axis_free(&a);
  return rc;
}

size_t pf_sweep_axes(const pf_sweep *s) { return s ? s->n_axes : 0; }

size_t pf_sweep_count(const pf_sweep *s)
{
  size_t n = 1;
  for (size_t k = 0; s && k < s->n_axes; k++) n *= s->axes[k].n;
  return n;
}

const char *pf_sweep_axis_key(const pf_sweep *s, size_t k)
{
  return s && k < s->n_axes ? s->axes[k].key : NULL;
}

const char *pf_sweep_axis_spec(const pf_sweep *s, size_t k)
{
  return s && k < s->n_axes ? s->axes[k].spec : NULL;
}

int pf_sweep_axis_argi(const pf_sweep *s, size_t k)
{
  return s && k < s->n_axes ? s->axes[k].argi : 0;
}

size_t pf_sweep_axis_len(const pf_sweep *s, size_t k)
{
  return s && k < s->n_axes ? s->axes[k].n : 0;
}

const char *pf_sweep_axis_value(const pf_sweep *s, size_t k, size_t v)
{
  return s && k < s->n_axes && v < s->axes[k].n ? s->axes[k].values[v]
                                                 : NULL;
}

size_t pf_sweep_value_index(const pf_sweep *s, size_t job, size_t k)
{
  /* Row-major: divide out the axes after k. */
  for (size_t j = s->n_axes; j-- > k + 1;) job /= s->axes[j].n;
  return job % s->axes[k].n;
}

int pf_sweep_apply_value(const pf_sweep *s, size_t k, size_t v, pf_config *c)
{
  PF_CHECK(s && c && k < s->n_axes && v < s->axes[k].n, PF_EINVAL,
           "pf_sweep_apply_value: bad arguments");
  const axis *a = &s->axes[k];
  size_t len = strlen(a->key) + strlen(a->values[v]) + 2;
  char *assign = malloc(len);
  PF_CHECK(assign, PF_ENOMEM, "sweep override");
  snprintf(assign, len, "%s=%s", a->key, a->values[v]);
  int rc = pf_config_override(c, assign, a->argi);
  free(assign);
  if (rc < 0) return pf_sweep_blame(s, k, v, rc);
  return 0;
}

int pf_sweep_apply(const pf_sweep *s, size_t job, pf_config *c)
{
  PF_CHECK(s && c && job < pf_sweep_count(s), PF_EINVAL,
           "pf_sweep_apply: job %zu out of range", job);
  for (size_t k = 0; k < s->n_axes; k++)
    PF_TRY(pf_sweep_apply_value(s, k, pf_sweep_value_index(s, job, k), c));
  return 0;
}

int pf_sweep_blame(const pf_sweep *s, size_t k, size_t v, int rc)
{
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", pf_error_message());
  /* Already blamed (pf_sweep_apply_value then a caller). */
  if (!strncmp(msg, "--sweep '", 9)) return rc;
  return pf__error_set(rc, __FILE__, __LINE__,
                       "--sweep '%s' (argument %d), value '%s' of key '%s': "
                       "%s", s->axes[k].spec, s->axes[k].argi,
                       s->axes[k].values[v], s->axes[k].key, msg);
}

void pf_sweep_job_label(const pf_sweep *s, size_t job, char *buf, size_t cap)
{
  size_t used = 0;
  if (cap) buf[0] = '\0';
  for (size_t k = 0; k < s->n_axes && used < cap; k++) {
    int w = snprintf(buf + used, cap - used, "%s%s=%s", k ? " " : "",
                     s->axes[k].key,
                     s->axes[k].values[pf_sweep_value_index(s, job, k)]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

int pf_sweep_dir(const char *output_path, char *buf, size_t cap)
{
  PF_CHECK(output_path && *output_path, PF_EINVAL, "no output path");
  const char *slash = strrchr(output_path, '/');
  const char *base = slash ? slash + 1 : output_path;
  const char *dot = strrchr(base, '.');
  int n;
  if (dot && dot != base)
    n = snprintf(buf, cap, "%.*s", (int)(dot - output_path), output_path);
  else
    n = snprintf(buf, cap, "%s.sweep", output_path);
  PF_CHECK(n > 0 && (size_t)n < cap, PF_EINVAL, "output path too long: %s",
           output_path);
  return 0;
}

int pf_sweep_job_file(size_t job, size_t n_jobs, char *buf, size_t cap)
{
  int width = 4;
  for (size_t m = n_jobs ? n_jobs - 1 : 0, p = 10000; m >= p && width < 20;
       p *= 10)
    width++;
  int n = snprintf(buf, cap, "job-%0*zu.h5", width, job);
  PF_CHECK(n > 0 && (size_t)n < cap, PF_EINVAL, "job file name too long");
  return 0;
}

/* ---- manifest ------------------------------------------------------------ */

typedef pf__strbuf sbuf;

/* A JSON string literal. */
static void putj(sbuf *b, const char *t)
{
  char esc[8];
  pf__strbuf_puts(b, "\"");
  for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      pf__strbuf_put(b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      pf__strbuf_puts(b, esc);
    } else {
      pf__strbuf_put(b, (const char *)p, 1);
    }
  }
  pf__strbuf_puts(b, "\"");
}

static int mkdirs(const char *dir)
{
  char tmp[4096];
  int n = snprintf(tmp, sizeof tmp, "%s", dir);
  PF_CHECK(n > 0 && (size_t)n < sizeof tmp, PF_EINVAL, "path too long");
  for (char *p = tmp + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        PF_RAISE(PF_EIO, "cannot create directory %s: %s", tmp,
                 strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  struct stat st;
  PF_CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), PF_EIO,
           "%s exists and is not a directory", dir);
  return 0;
}

static char *read_all(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  sbuf b = {0};
  char chunk[4096];
  size_t r;
  while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) pf__strbuf_put(&b, chunk, r);
  fclose(f);
  if (!b.p) pf__strbuf_put(&b, "", 0);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

static int manifest_text(const pf_sweep *s, const char *config_path,
                         int n_fixed, char *const *fixed, sbuf *b)
{
  char line[128], file[64];
  const size_t n = pf_sweep_count(s);
  pf__strbuf_puts(b, "{\n  \"pflow_sweep\": 1,\n  \"config\": ");
  putj(b, config_path);
  pf__strbuf_puts(b, ",\n  \"overrides\": [");
  for (int i = 0; i < n_fixed; i++) {
    pf__strbuf_puts(b, i ? ", " : "");
    putj(b, fixed[i]);
  }
  pf__strbuf_puts(b, "],\n  \"order\": \"the first --sweep varies slowest\",\n"
           "  \"axes\": [");
  for (size_t k = 0; k < s->n_axes; k++) {
    pf__strbuf_puts(b, k ? ",\n    {\"key\": " : "\n    {\"key\": ");
    putj(b, s->axes[k].key);
    pf__strbuf_puts(b, ", \"flag\": ");
    putj(b, s->axes[k].spec);
    pf__strbuf_puts(b, ", \"values\": [");
    for (size_t v = 0; v < s->axes[k].n; v++) {
      pf__strbuf_puts(b, v ? ", " : "");
      putj(b, s->axes[k].values[v]);
    }
    pf__strbuf_puts(b, "]}");
  }
  snprintf(line, sizeof line, "],\n  \"n_jobs\": %zu,\n  \"jobs\": [", n);
  pf__strbuf_puts(b, line);
  for (size_t j = 0; j < n; j++) {
    PF_TRY(pf_sweep_job_file(j, n, file, sizeof file));
    snprintf(line, sizeof line, "%s\n    {\"index\": %zu, \"file\": ",
             j ? "," : "", j);
    pf__strbuf_puts(b, line);
    putj(b, file);
    pf__strbuf_puts(b, ", \"overrides\": {");
    for (size_t k = 0; k < s->n_axes; k++) {
      pf__strbuf_puts(b, k ? ", " : "");
      putj(b, s->axes[k].key);
      pf__strbuf_puts(b, ": ");
      putj(b, s->axes[k].values[pf_sweep_value_index(s, j, k)]);
    }
    pf__strbuf_puts(b, "}}");
  }
  pf__strbuf_puts(b, "\n  ]\n}\n");
  PF_CHECK(!b->oom, PF_ENOMEM, "manifest text");
  return 0;
}

int pf_sweep_write_manifest(const pf_sweep *s, const char *config_path,
                            int n_fixed, char *const *fixed, const char *dir,
                            int overwrite)
{
  PF_CHECK(s && config_path && dir, PF_EINVAL,
           "pf_sweep_write_manifest: NULL argument");
  sbuf b = {0};
  char path[4096], tmp[4200];
  int rc = 0, fd = -1;
  PF_TRY(mkdirs(dir));
  snprintf(path, sizeof path, "%s/sweep.json", dir);
  PF_TRY_GOTO(rc, manifest_text(s, config_path, n_fixed, fixed, &b), done);
  char *old = read_all(path);
  if (old) {
    int same = strcmp(old, b.p) == 0;
    free(old);
    if (same) goto done;
    PF_CHECK_GOTO(rc, overwrite, PF_EEXIST, done,
                  "%s describes a different sweep (another config, "
                  "overrides or --sweep values); choose another output.path "
                  "or set output.overwrite=true", path);
  }
  /* Atomic: a reader (or another array task) sees the old file or the
   * whole new one.  The pid keeps concurrent tasks' temporaries apart. */
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  PF_CHECK_GOTO(rc, fd >= 0, PF_EIO, done, "cannot create %s: %s", tmp,
                strerror(errno));
  for (size_t off = 0; off < b.n;) {
    ssize_t w = write(fd, b.p + off, b.n - off);
    if (w < 0 && errno == EINTR) continue;
    PF_CHECK_GOTO(rc, w > 0, PF_EIO, done, "writing %s: %s", tmp,
                  strerror(errno));
    off += (size_t)w;
  }
  PF_CHECK_GOTO(rc, fsync(fd) == 0, PF_EIO, done, "fsync %s: %s", tmp,
                strerror(errno));
  close(fd);
  fd = -1;
  PF_CHECK_GOTO(rc, rename(tmp, path) == 0, PF_EIO, done,
                "cannot rename %s to %s: %s", tmp, path, strerror(errno));
done:
  if (fd >= 0) {
    close(fd);
    unlink(tmp);
  }
  free(b.p);
  return rc;
}

int pf_sweep_parse_index(const char *text, const char *what, size_t n,
                         size_t *out)
{
  const char *p = text ? text : "";
  while (isspace((unsigned char)*p)) p++;
  long long v;
  char *end;
  errno = 0;
  v = strtoll(p, &end, 10);
  while (end && isspace((unsigned char)*end)) end++;
  PF_CHECK(isdigit((unsigned char)*p) && errno == 0 && *end == '\0',
           PF_EUSAGE, "%s '%s' is not a job index (a non-negative integer)",
           what, text ? text : "");
  PF_CHECK((unsigned long long)v < n, PF_EUSAGE,
           "%s %lld is out of range: the sweep has %zu job%s (0..%zu)", what,
           v, n, n == 1 ? "" : "s", n - 1);
  *out = (size_t)v;
  return 0;
}

int pf_sweep_share_for(size_t n_jobs, int rank, int size, int ranks_per_job,
                       pf_sweep_share *out)
{
  PF_CHECK(out && size >= 1 && rank >= 0 && rank < size && n_jobs >= 1,
           PF_EINVAL, "pf_sweep_share_for: rank %d of %d, %zu jobs", rank,
           size, n_jobs);
  int per = ranks_per_job > 0 ? ranks_per_job : 1;
  if (per > size) per = size;
  size_t g = (size_t)(size / per);
  if (g > n_jobs) g = n_jobs;
  const int ng = (int)g;
  /* Contiguous groups of nearly equal size: group i holds ranks
   * [ceil(i size / ng), ceil((i+1) size / ng)). */
  const int grp = (int)((long long)rank * ng / size);
  const int lo = (int)(((long long)grp * size + ng - 1) / ng);
  const int hi = (int)(((long long)(grp + 1) * size + ng - 1) / ng);
  out->group = grp;
  out->n_groups = ng;
  out->group_rank = rank - lo;
  out->group_size = hi - lo;
  out->first = (size_t)grp;
  out->stride = (size_t)ng;
  return 0;
}
