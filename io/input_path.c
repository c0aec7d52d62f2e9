/* Input files named in a config (data sets, plug-in shared objects): one
 * resolution rule for all of them, so a config behaves the same whether it
 * is run from the repository root or from its own directory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/io.h"

/* Growable string. */
typedef struct sbuf {
  char *s;
  size_t n, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n)
{
  if (b->n + n + 1 > b->cap) {
    size_t cap = 2 * (b->n + n + 1) + 64;
    char *p = realloc(b->s, cap);
    PF_CHECK(p, PF_ENOMEM, "allocating a path");
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = '\0';
  return 0;
}

static int is_name_char(char c, int first)
{
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (!first && c >= '0' && c <= '9');
}

/* Expand $NAME, ${NAME} and ${NAME:-default} from the environment.  A '$'
 * not followed by a name or '{' is kept. */
static int expand_env(const pf_node *cfg, const char *key, const char *in,
                      sbuf *b)
{
  const char *p = in;
  PF_TRY(sb_add(b, "", 0));
  while (*p) {
    const char *d = strchr(p, '$');
    if (!d) return sb_add(b, p, strlen(p));
    PF_TRY(sb_add(b, p, (size_t)(d - p)));
    char name[256];
    const char *def = NULL, *next;
    size_t nlen = 0, dlen = 0;
    if (d[1] == '{') {
      const char *q = d + 2, *close = strchr(q, '}');
      if (!close)
        PF_CFG_RAISE(cfg, key, PF_ECONFIG, "unterminated '${' in '%s'", in);
      while (q < close && is_name_char(*q, q == d + 2)) q++;
      nlen = (size_t)(q - (d + 2));
      if (q < close) {
        if (q[0] != ':' || q[1] != '-')
          PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                       "in '%s': expected ${NAME} or ${NAME:-default}", in);
        def = q + 2;
        dlen = (size_t)(close - def);
      }
      if (nlen == 0 || nlen >= sizeof name)
        PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                     "in '%s': a bad environment variable name", in);
      memcpy(name, d + 2, nlen);
      next = close + 1;
    } else {
      const char *q = d + 1;
      while (is_name_char(*q, q == d + 1)) q++;
      nlen = (size_t)(q - (d + 1));
      if (nlen == 0) {
        PF_TRY(sb_add(b, "$", 1));
        p = d + 1;
        continue;
      }
      if (nlen >= sizeof name)
        PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                     "in '%s': a bad environment variable name", in);
      memcpy(name, d + 1, nlen);
      next = q;
    }
    name[nlen] = '\0';
    const char *v = getenv(name);
    if (v && *v)
      PF_TRY(sb_add(b, v, strlen(v)));
    else if (def)
      PF_TRY(sb_add(b, def, dlen));
    else
      PF_CFG_RAISE(cfg, key, PF_ECONFIG,
                   "'%s' uses the environment variable %s, which is not set "
                   "(write ${%s:-default} to give a fallback)", in, name,
                   name);
    p = next;
  }
  return 0;
}

/* Directory part of a config file name ("" when it has none); 0 when the
 * mark names no file (overrides, strings such as "<example>"). */
static int config_dir(const pf_node *v, char *dir, size_t cap)
{
  pf_mark m = pf_node_mark(v);
  if (!m.file || !m.file[0] || m.file[0] == '<' ||
      strcmp(m.file, "command line") == 0 || strcmp(m.file, "default") == 0)
    return 0;
  if (access(m.file, F_OK) != 0) return 0;
  const char *slash = strrchr(m.file, '/');
  size_t n = slash ? (size_t)(slash - m.file) + 1 : 0;
  if (n >= cap) return 0;
  memcpy(dir, m.file, n);
  dir[n] = '\0';
  return 1;
}

int pf_input_path(const pf_node *cfg, const char *key, int missing_code,
                  char **out)
{
  *out = NULL;
  const char *raw = pf_cfg_str(cfg, key);
  if (!raw || !raw[0])
    PF_CFG_RAISE(cfg, key, PF_ECONFIG, "expected a file path");
  sbuf b = {0};
  int rc = expand_env(cfg, key, raw, &b);
  if (rc < 0) {
    free(b.s);
    return rc;
  }
  char dir[4096], *cand = NULL;
  int have_dir = 0;
  if (b.s[0] == '/') {
    if (access(b.s, F_OK) == 0) {
      *out = b.s;
      return 0;
    }
  } else {
    if (access(b.s, F_OK) == 0) {
      if (strchr(b.s, '/')) {
        *out = b.s;
        return 0;
      }
      cand = malloc(b.n + 3);
      if (cand) {
        memcpy(cand, "./", 2);
        memcpy(cand + 2, b.s, b.n + 1);
      }
      free(b.s);
      PF_CHECK(cand, PF_ENOMEM, "allocating a path");
      *out = cand;
      return 0;
    }
    have_dir = config_dir(pf_node_get(cfg, key), dir, sizeof dir) && dir[0];
    if (have_dir) {
      size_t dl = strlen(dir);
      cand = malloc(dl + b.n + 1);
      if (!cand) {
        free(b.s);
        PF_RAISE(PF_ENOMEM, "allocating a path");
      }
      memcpy(cand, dir, dl);
      memcpy(cand + dl, b.s, b.n + 1);
      if (access(cand, F_OK) == 0) {
        free(b.s);
        *out = cand;
        return 0;
      }
      free(cand);
    }
  }
  char where[4400];
  if (b.s[0] == '/')
    snprintf(where, sizeof where, "no such file");
  else if (have_dir)
    snprintf(where, sizeof where,
             "no such file relative to the working directory or to the "
             "config file's directory '%s'", dir);
  else
    snprintf(where, sizeof where,
             "no such file relative to the working directory");
  rc = pf__config_raise(cfg, key, missing_code, __FILE__, __LINE__,
                        "cannot open '%s': %s", b.s, where);
  free(b.s);
  return rc;
}
