/* The config tree: loading YAML with libyaml's event API, dotted overrides,
 * node access, typed getters and emission back to YAML.  Validation against
 * parameter specs lives in config_validate.c.
 *
 * Scalar interpretation (used by the getters and by validation):
 *   - a scalar written quoted ('..' or "..") or as a block scalar (| or >)
 *     is always a string: "1" is not a number and "true" is not a boolean;
 *   - null is a plain "", "~", "null", "Null" or "NULL";
 *   - booleans are the plain YAML 1.1 words true/false, yes/no, on/off in
 *     lower, Capitalised or UPPER case (not y/n: too easy to mean a name);
 *   - numbers are plain decimal literals [+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?
 *     (no hex, octal, underscores or sexagesimal) plus the YAML spellings
 *     [+-].inf/.Inf/.INF and .nan/.NaN/.NAN;
 *   - an integer is a decimal literal without '.'/exponent that fits in 64
 *     bits, or any literal with an exactly integral value of magnitude at
 *     most 2^53 ("1e6", "100.0"), so counts can be written in scientific
 *     notation. */
#include "pflow/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_tree.h"
#include "strbuf.h"
#include "pflow/error.h"

const char pf__cmdline_name[] = "command line";

/* Deeper nesting than this is certainly not a config and would only risk
 * the stack in the recursive builder. */
enum { PF__MAX_DEPTH = 64 };

/* ---- small string helpers ----------------------------------------------- */

static char *str_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (len < 0) return NULL;
  char *s = malloc((size_t)len + 1);
  if (!s) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)len + 1, fmt, ap);
  va_end(ap);
  return s;
}

static char *path_key(const char *parent, const char *key)
{
  return parent[0] ? str_printf("%s.%s", parent, key) : strdup(key);
}

static char *path_index(const char *parent, size_t i)
{
  return str_printf("%s[%zu]", parent, i);
}

/* ---- errors ------------------------------------------------------------- */

int pf__mark_raise(pf_mark m, int code, const char *srcfile, int srcline,
                   const char *fmt, ...)
{
  char msg[1600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return pf__error_set(code, srcfile, srcline, "%s:%d:%d: %s",
                       m.file ? m.file : "?", m.line, m.col, msg);
}

int pf__config_raise(const pf_node *at, const char *key, int code,
                     const char *srcfile, int srcline, const char *fmt, ...)
{
  char msg[1400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!at) {
    if (key)
      return pf__error_set(code, srcfile, srcline, "key '%s': %s", key, msg);
    return pf__error_set(code, srcfile, srcline, "%s", msg);
  }
  /* Point at the value when there is one (that is what the user must
   * fix), else at the deepest mapping on the way to where it belongs. */
  const pf_node *v = key ? pf_node_get(at, key) : NULL;
  if (key && !v) {
    char part[512];
    snprintf(part, sizeof part, "%s", key);
    for (size_t len = strlen(part); !v && len > 0; len--) {
      if (part[len] != '.' && part[len] != '[') continue;
      part[len] = '\0';
      v = pf_node_get(at, part);
    }
  }
  pf_mark m = v ? v->mark : at->mark;
  const char *file = m.file ? m.file : "?";
  if (key)
    return pf__error_set(code, srcfile, srcline, "%s:%d:%d: key '%s%s%s': %s",
                         file, m.line, m.col, at->path,
                         at->path[0] ? "." : "", key, msg);
  return pf__error_set(code, srcfile, srcline, "%s:%d:%d: %s", file, m.line,
                       m.col, msg);
}

/* ---- nodes -------------------------------------------------------------- */

int pf__node_new(pf_node_kind kind, pf_mark mark, pf_node **out)
{
  *out = NULL;
  pf_node *n = calloc(1, sizeof *n);
  PF_CHECK(n, PF_ENOMEM, "allocating a config node");
  n->kind = kind;
  n->mark = mark;
  n->path = strdup("");
  if (kind == PF_NODE_SCALAR) n->text = strdup("");
  if (!n->path || (kind == PF_NODE_SCALAR && !n->text)) {
    pf__node_free(n);
    PF_RAISE(PF_ENOMEM, "allocating a config node");
  }
  *out = n;
  return 0;
}

void pf__node_free(pf_node *n)
{
  if (!n) return;
  for (size_t i = 0; i < n->n; i++) {
    pf__node_free(n->kids[i]);
    if (n->keys) free(n->keys[i]);
  }
  free(n->kids);
  free(n->keys);
  free(n->kmarks);
  free(n->text);
  free(n->path);
  free(n);
}

int pf__node_append(pf_node *parent, const char *key, pf_mark kmark,
                    pf_node *kid)
{
  int is_map = parent->kind == PF_NODE_MAP;
  PF_CHECK(parent->kind != PF_NODE_SCALAR && (key != NULL) == is_map,
           PF_EINVAL, "appending to a config node of the wrong kind");
  if (parent->n == parent->cap) {
    size_t cap = parent->cap ? 2 * parent->cap : 4;
    pf_node **kids = realloc(parent->kids, cap * sizeof *kids);
    PF_CHECK(kids, PF_ENOMEM, "growing a config node");
    parent->kids = kids;
    if (is_map) {
      char **keys = realloc(parent->keys, cap * sizeof *keys);
      PF_CHECK(keys, PF_ENOMEM, "growing a config node");
      parent->keys = keys;
      pf_mark *km = realloc(parent->kmarks, cap * sizeof *km);
      PF_CHECK(km, PF_ENOMEM, "growing a config node");
      parent->kmarks = km;
    }
    parent->cap = cap;
  }
  if (is_map) {
    char *k = strdup(key);
    PF_CHECK(k, PF_ENOMEM, "copying a config key");
    parent->keys[parent->n] = k;
    parent->kmarks[parent->n] = kmark;
  }
  parent->kids[parent->n++] = kid;
  return 0;
}

int pf__node_set_path(pf_node *n, const char *path)
{
  char *p = strdup(path);
  PF_CHECK(p, PF_ENOMEM, "copying a config path");
  free(n->path);
  n->path = p;
  for (size_t i = 0; i < n->n; i++) {
    char *cp = n->kind == PF_NODE_MAP ? path_key(n->path, n->keys[i])
                                      : path_index(n->path, i);
    PF_CHECK(cp, PF_ENOMEM, "composing a config path");
    int rc = pf__node_set_path(n->kids[i], cp);
    free(cp);
    PF_TRY(rc);
  }
  return 0;
}

int pf__node_adopt(pf_node *parent, const char *key, pf_mark kmark,
                   pf_node *kid)
{
  char *cp = key ? path_key(parent->path, key)
                 : path_index(parent->path, parent->n);
  PF_CHECK(cp, PF_ENOMEM, "composing a config path");
  int rc = pf__node_set_path(kid, cp);
  free(cp);
  PF_TRY(rc);
  PF_TRY(pf__node_append(parent, key, kmark, kid));
  return 0;
}

size_t pf__map_find(const pf_node *map, const char *key)
{
  if (!map || map->kind != PF_NODE_MAP) return map ? map->n : 0;
  for (size_t i = 0; i < map->n; i++)
    if (strcmp(map->keys[i], key) == 0) return i;
  return map->n;
}

void pf__node_mark_all(pf_node *n, pf_mark mark, int is_default)
{
  n->mark = mark;
  n->is_default = (unsigned char)(is_default != 0);
  for (size_t i = 0; i < n->n; i++) {
    if (n->kmarks) n->kmarks[i] = mark;
    pf__node_mark_all(n->kids[i], mark, is_default);
  }
}

/* ---- scalar interpretation ---------------------------------------------- */

int pf__scalar_is_null(const pf_node *n)
{
  if (!n || n->kind != PF_NODE_SCALAR || n->quoted) return 0;
  const char *s = n->text;
  return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
         !strcmp(s, "NULL");
}

/* Is s a plain decimal literal?  *integral: no '.' and no exponent. */
static int decimal_shape(const char *s, int *integral)
{
  int digits = 0;
  *integral = 1;
  if (*s == '+' || *s == '-') s++;
  while (isdigit((unsigned char)*s)) s++, digits++;
  if (*s == '.') {
    *integral = 0;
    s++;
    while (isdigit((unsigned char)*s)) s++, digits++;
  }
  if (!digits) return 0;
  if (*s == 'e' || *s == 'E') {
    *integral = 0;
    s++;
    if (*s == '+' || *s == '-') s++;
    if (!isdigit((unsigned char)*s)) return 0;
    while (isdigit((unsigned char)*s)) s++;
  }
  return *s == '\0';
}

static int one_of(const char *s, const char *const *words)
{
  for (; *words; words++)
    if (!strcmp(s, *words)) return 1;
  return 0;
}

int pf__scalar_real(const pf_node *n, double *out)
{
  static const char *const inf[] = {".inf", ".Inf", ".INF", NULL};
  static const char *const nan_[] = {".nan", ".NaN", ".NAN", NULL};
  int integral;
  if (!n || n->kind != PF_NODE_SCALAR || n->quoted) return 0;
  const char *s = n->text;
  if (decimal_shape(s, &integral)) {
    errno = 0;
    double v = strtod(s, NULL);
    /* Overflow to HUGE_VAL is an error; underflow to 0 or a subnormal is
     * the nearest double and fine. */
    if (errno == ERANGE && isinf(v)) return 0;
    *out = v;
    return 1;
  }
  int neg = s[0] == '-';
  const char *t = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
  if (one_of(t, inf)) {
    *out = neg ? -INFINITY : INFINITY;
    return 1;
  }
  if (one_of(s, nan_)) {
    *out = NAN;
    return 1;
  }
  return 0;
}

int pf__scalar_int(const pf_node *n, long long *out)
{
  int integral;
  if (!n || n->kind != PF_NODE_SCALAR || n->quoted) return 0;
  if (!decimal_shape(n->text, &integral)) return 0;
  if (integral) {
    errno = 0;
    long long v = strtoll(n->text, NULL, 10);
    if (errno == ERANGE) return 0;
    *out = v;
    return 1;
  }
  /* 2^53: beyond it a double no longer tells integers apart. */
  double v = strtod(n->text, NULL);
  if (!isfinite(v) || v != floor(v) || fabs(v) > 9007199254740992.0) return 0;
  *out = (long long)v;
  return 1;
}

int pf__scalar_bool(const pf_node *n, int *out)
{
  static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                    "YES",  "on",   "On",   "ON",  NULL};
  static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                   "NO",    "off",   "Off",   "OFF", NULL};
  if (!n || n->kind != PF_NODE_SCALAR || n->quoted) return 0;
  if (one_of(n->text, yes)) {
    *out = 1;
    return 1;
  }
  if (one_of(n->text, no)) {
    *out = 0;
    return 1;
  }
  return 0;
}

void pf__node_describe(const pf_node *n, char *buf, size_t cap)
{
  if (!n) {
    snprintf(buf, cap, "nothing");
  } else if (n->kind == PF_NODE_MAP) {
    snprintf(buf, cap, n->n ? "a mapping" : "an empty mapping");
  } else if (n->kind == PF_NODE_SEQ) {
    if (n->n)
      snprintf(buf, cap, "a list of %zu item%s", n->n, n->n == 1 ? "" : "s");
    else
      snprintf(buf, cap, "an empty list");
  } else if (pf__scalar_is_null(n)) {
    if (n->text[0])
      snprintf(buf, cap, "null ('%s')", n->text);
    else
      snprintf(buf, cap, "an empty value");
  } else {
    /* Long values are cut: the position already says where they are. */
    int cut = strlen(n->text) > 60;
    snprintf(buf, cap, "%s'%.60s%s'", n->quoted ? "the quoted string " : "",
             n->text, cut ? "..." : "");
  }
}

/* ---- YAML loading (libyaml events) -------------------------------------- */

typedef struct yparse {
  yaml_parser_t y;
  const char *name; /* file name the marks borrow */
  const char *text;
  size_t len;
} yparse;

static pf_mark ymark(const yparse *p, yaml_mark_t m)
{
  pf_mark r = {p->name, (int)m.line + 1, (int)m.column + 1};
  return r;
}

/* Turn libyaml's error state into a PF_EPARSE "NAME:L:C: problem (context)". */
static int parse_failure(yparse *p)
{
  const yaml_parser_t *y = &p->y;
  pf_mark m = ymark(p, y->problem_mark);
  const char *problem = y->problem ? y->problem : "malformed YAML";
  if (y->error == YAML_MEMORY_ERROR)
    PF_RAISE(PF_ENOMEM, "%s: out of memory while parsing YAML", p->name);
  if (y->error == YAML_READER_ERROR) {
    /* Reader errors (bad encoding) only carry a byte offset. */
    m.line = 1;
    m.col = 1;
    for (size_t i = 0; i < y->problem_offset && i < p->len; i++) {
      if (p->text[i] == '\n') {
        m.line++;
        m.col = 1;
      } else {
        m.col++;
      }
    }
    PF__MARK_RAISE(m, PF_EPARSE, "%s (byte 0x%02x)", problem,
                   (unsigned)y->problem_value & 0xffu);
  }
  pf_mark cm = ymark(p, y->context_mark);
  if (y->context && cm.line == m.line && cm.col == m.col)
    PF__MARK_RAISE(m, PF_EPARSE, "%s (%s)", problem, y->context);
  if (y->context)
    PF__MARK_RAISE(m, PF_EPARSE, "%s (%s at line %d, column %d)", problem,
                   y->context, cm.line, cm.col);
  PF__MARK_RAISE(m, PF_EPARSE, "%s", problem);
}

static int next_event(yparse *p, yaml_event_t *ev)
{
  if (yaml_parser_parse(&p->y, ev)) return 0;
  return parse_failure(p);
}

/* "key 'a.b': " for messages, or "" at the top level. */
static void where(const char *path, char *buf, size_t cap)
{
  if (path[0])
    snprintf(buf, cap, "key '%s': ", path);
  else
    buf[0] = '\0';
}

/* Anchors, aliases and tags are refused: configs must read literally. */
static int check_props(yparse *p, const yaml_event_t *ev, const char *path)
{
  const yaml_char_t *anchor = NULL, *tag = NULL;
  char w[512];
  pf_mark m = ymark(p, ev->start_mark);
  where(path, w, sizeof w);
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    anchor = ev->data.scalar.anchor;
    tag = ev->data.scalar.tag;
    break;
  case YAML_SEQUENCE_START_EVENT:
    anchor = ev->data.sequence_start.anchor;
    tag = ev->data.sequence_start.tag;
    break;
  case YAML_MAPPING_START_EVENT:
    anchor = ev->data.mapping_start.anchor;
    tag = ev->data.mapping_start.tag;
    break;
  case YAML_ALIAS_EVENT:
    PF__MARK_RAISE(m, PF_EPARSE,
                   "%saliases ('*%s') are not supported; write the value out",
                   w, (const char *)ev->data.alias.anchor);
  default:
    break;
  }
  if (anchor)
    PF__MARK_RAISE(m, PF_EPARSE,
                   "%sanchors ('&%s') are not supported; write the value out",
                   w, (const char *)anchor);
  if (tag)
    PF__MARK_RAISE(m, PF_EPARSE,
                   "%stags ('%s') are not supported; quote a value to make it "
                   "a string", w, (const char *)tag);
  return 0;
}

static int new_node_at(pf_node_kind kind, pf_mark m, const char *path,
                       pf_node **out)
{
  PF_TRY(pf__node_new(kind, m, out));
  char *p = strdup(path);
  if (!p) {
    pf__node_free(*out);
    *out = NULL;
    PF_RAISE(PF_ENOMEM, "copying a config path");
  }
  free((*out)->path);
  (*out)->path = p;
  return 0;
}

static int parse_node(yparse *p, const yaml_event_t *ev, const char *path,
                      int depth, pf_node **out);

static int parse_scalar(yparse *p, const yaml_event_t *ev, const char *path,
                        pf_node **out)
{
  const char *v = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  pf_mark m = ymark(p, ev->start_mark);
  char w[512];
  where(path, w, sizeof w);
  if (memchr(v, '\0', len))
    PF__MARK_RAISE(m, PF_EPARSE, "%sNUL characters are not supported", w);
  pf_node *n;
  PF_TRY(new_node_at(PF_NODE_SCALAR, m, path, &n));
  char *t = strndup(v, len);
  if (!t) {
    pf__node_free(n);
    PF_RAISE(PF_ENOMEM, "copying a config value");
  }
  free(n->text);
  n->text = t;
  n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
  *out = n;
  return 0;
}

static int parse_seq(yparse *p, const yaml_event_t *ev, const char *path,
                     int depth, pf_node **out)
{
  pf_node *n;
  int rc = 0;
  PF_TRY(new_node_at(PF_NODE_SEQ, ymark(p, ev->start_mark), path, &n));
  for (;;) {
    yaml_event_t e;
    pf_node *kid = NULL;
    PF_TRY_GOTO(rc, next_event(p, &e), fail);
    if (e.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&e);
      break;
    }
    char *cp = path_index(path, n->n);
    if (!cp)
      rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__, "composing a path");
    else
      rc = parse_node(p, &e, cp, depth + 1, &kid);
    free(cp);
    yaml_event_delete(&e);
    if (rc < 0) goto fail;
    rc = pf__node_append(n, NULL, kid->mark, kid);
    if (rc < 0) {
      pf__node_free(kid);
      goto fail;
    }
  }
  *out = n;
  return 0;
fail:
  pf__node_free(n);
  return rc;
}

static int parse_map(yparse *p, const yaml_event_t *ev, const char *path,
                     int depth, pf_node **out)
{
  pf_node *n;
  int rc = 0;
  char *key = NULL, *cp = NULL;
  PF_TRY(new_node_at(PF_NODE_MAP, ymark(p, ev->start_mark), path, &n));
  for (;;) {
    yaml_event_t e;
    pf_node *kid = NULL;
    PF_TRY_GOTO(rc, next_event(p, &e), fail);
    if (e.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&e);
      break;
    }
    pf_mark km = ymark(p, e.start_mark);
    if (e.type != YAML_SCALAR_EVENT) {
      char w[512];
      where(path, w, sizeof w);
      yaml_event_delete(&e);
      rc = pf__mark_raise(km, PF_EPARSE, __FILE__, __LINE__,
                          "%sonly plain text keys are supported (found a "
                          "list, mapping or alias as a key)", w);
      goto fail;
    }
    rc = check_props(p, &e, path);
    if (rc >= 0 && memchr(e.data.scalar.value, '\0', e.data.scalar.length))
      rc = pf__mark_raise(km, PF_EPARSE, __FILE__, __LINE__,
                          "NUL characters are not supported in keys");
    if (rc >= 0) {
      key = strndup((const char *)e.data.scalar.value, e.data.scalar.length);
      if (!key)
        rc = pf__error_set(PF_ENOMEM, __FILE__, __LINE__, "copying a key");
    }
    yaml_event_delete(&e);
    if (rc < 0) goto fail;
    cp = path_key(path, key);
    PF_CHECK_GOTO(rc, cp, PF_ENOMEM, fail, "composing a config path");
    size_t j = pf__map_find(n, key);
    if (j < n->n) {
      rc = pf__mark_raise(km, PF_EPARSE, __FILE__, __LINE__,
                          "duplicate key '%s' (first given at line %d, "
                          "column %d)", cp, n->kmarks[j].line,
                          n->kmarks[j].col);
      goto fail;
    }
    PF_TRY_GOTO(rc, next_event(p, &e), fail);
    rc = parse_node(p, &e, cp, depth + 1, &kid);
    yaml_event_delete(&e);
    if (rc < 0) goto fail;
    rc = pf__node_append(n, key, km, kid);
    if (rc < 0) {
      pf__node_free(kid);
      goto fail;
    }
    free(key);
    free(cp);
    key = cp = NULL;
  }
  *out = n;
  return 0;
fail:
  free(key);
  free(cp);
  pf__node_free(n);
  return rc;
}

static int parse_node(yparse *p, const yaml_event_t *ev, const char *path,
                      int depth, pf_node **out)
{
  *out = NULL;
  if (depth > PF__MAX_DEPTH)
    PF__MARK_RAISE(ymark(p, ev->start_mark), PF_EPARSE,
                   "nesting deeper than %d levels", PF__MAX_DEPTH);
  PF_TRY(check_props(p, ev, path));
  switch (ev->type) {
  case YAML_SCALAR_EVENT: return parse_scalar(p, ev, path, out);
  case YAML_SEQUENCE_START_EVENT: return parse_seq(p, ev, path, depth, out);
  case YAML_MAPPING_START_EVENT: return parse_map(p, ev, path, depth, out);
  default: break;
  }
  PF__MARK_RAISE(ymark(p, ev->start_mark), PF_EPARSE,
                 "unexpected YAML event %d", (int)ev->type);
}

int pf__yaml_parse(const char *text, size_t len, const char *name,
                   pf_node **out)
{
  yparse p = {.name = name, .text = text, .len = len};
  yaml_event_t e;
  pf_node *root = NULL;
  int rc = 0;
  *out = NULL;
  PF_CHECK(yaml_parser_initialize(&p.y), PF_ENOMEM,
           "initialising the YAML parser");
  yaml_parser_set_input_string(&p.y, (const unsigned char *)text, len);
  PF_TRY_GOTO(rc, next_event(&p, &e), done); /* stream start */
  yaml_event_delete(&e);
  PF_TRY_GOTO(rc, next_event(&p, &e), done);
  if (e.type == YAML_STREAM_END_EVENT) {
    /* Nothing but comments: an empty (null) document. */
    pf_mark m = {name, 1, 1};
    yaml_event_delete(&e);
    PF_TRY_GOTO(rc, pf__node_new(PF_NODE_SCALAR, m, &root), done);
    goto done;
  }
  yaml_event_delete(&e); /* document start */
  PF_TRY_GOTO(rc, next_event(&p, &e), done);
  rc = parse_node(&p, &e, "", 0, &root);
  yaml_event_delete(&e);
  if (rc < 0) goto done;
  PF_TRY_GOTO(rc, next_event(&p, &e), done); /* document end */
  yaml_event_delete(&e);
  PF_TRY_GOTO(rc, next_event(&p, &e), done);
  if (e.type != YAML_STREAM_END_EVENT) {
    pf_mark m = ymark(&p, e.start_mark);
    yaml_event_delete(&e);
    rc = pf__mark_raise(m, PF_EPARSE, __FILE__, __LINE__,
                        "only one YAML document is allowed ('---' starts a "
                        "second one)");
    goto done;
  }
  yaml_event_delete(&e);
done:
  yaml_parser_delete(&p.y);
  if (rc < 0) {
    pf__node_free(root);
    return rc;
  }
  *out = root;
  return 0;
}

/* ---- configs -------------------------------------------------------- */

static int config_new(const char *file, pf_config **out)
{
  *out = NULL;
  pf_config *c = calloc(1, sizeof *c);
  PF_CHECK(c, PF_ENOMEM, "allocating a config");
  c->file = strdup(file);
  if (!c->file) {
    free(c);
    PF_RAISE(PF_ENOMEM, "allocating a config");
  }
  *out = c;
  return 0;
}

static int load_buffer(const char *text, size_t len, const char *name,
                       pf_config **out)
{
  pf_config *c;
  pf_node *root = NULL;
  int rc;
  *out = NULL;
  PF_TRY(config_new(name, &c));
  PF_TRY_GOTO(rc, pf__yaml_parse(text, len, c->file, &root), fail);
  if (pf__scalar_is_null(root)) {
    /* An empty file is an empty config. */
    pf_mark m = {c->file, 1, 1};
    pf__node_free(root);
    root = NULL;
    PF_TRY_GOTO(rc, pf__node_new(PF_NODE_MAP, m, &root), fail);
  } else if (root->kind != PF_NODE_MAP) {
    char what[128];
    pf__node_describe(root, what, sizeof what);
    rc = pf__mark_raise(root->mark, PF_ECONFIG, __FILE__, __LINE__,
                        "the top level of a config must be a mapping "
                        "(key: value lines), found %s", what);
    goto fail;
  }
  c->root = root;
  *out = c;
  return 0;
fail:
  pf__node_free(root);
  pf_config_destroy(&c);
  return rc;
}

int pf_config_load_string(const char *text, const char *name,
                          pf_config **out)
{
  PF_CHECK(text && out, PF_EINVAL, "pf_config_load_string: NULL argument");
  PF_TRY(load_buffer(text, strlen(text), name ? name : "<string>", out));
  return 0;
}

int pf_config_load(const char *path, pf_config **out)
{
  PF_CHECK(path && out, PF_EINVAL, "pf_config_load: NULL argument");
  *out = NULL;
  FILE *f = fopen(path, "rb");
  PF_CHECK(f, PF_EIO, "cannot open config file '%s': %s", path,
           strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? 2 * cap : 8192;
      char *nb = realloc(buf, cap);
      PF_CHECK_GOTO(rc, nb, PF_ENOMEM, done, "reading config file '%s'",
                    path);
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  /* A directory opens fine on Linux and fails here with EISDIR. */
  PF_CHECK_GOTO(rc, !ferror(f), PF_EIO, done,
                "cannot read config file '%s': %s", path, strerror(errno));
  PF_TRY_GOTO(rc, load_buffer(buf, len, path, out), done);
done:
  free(buf);
  fclose(f);
  return rc;
}

int pf_config_create(pf_config **out)
{
  PF_CHECK(out, PF_EINVAL, "pf_config_create: NULL argument");
  pf_config *c;
  int rc;
  PF_TRY(config_new("(no file)", &c));
  pf_mark m = {c->file, 1, 1};
  PF_TRY_GOTO(rc, pf__node_new(PF_NODE_MAP, m, &c->root), fail);
  *out = c;
  return 0;
fail:
  pf_config_destroy(&c);
  return rc;
}

void pf_config_destroy(pf_config **c)
{
  if (!c || !*c) return;
  pf__node_free((*c)->root);
  free((*c)->file);
  free(*c);
  *c = NULL;
}

const pf_node *pf_config_root(const pf_config *c) { return c ? c->root : NULL; }

/* ---- overrides ---------------------------------------------------------- */

/* Put `val` (marked as coming from the command line) at `key` under the
 * root, creating mappings on the way.  On success the tree owns val. */
static int override_place(pf_config *c, const char *key, pf_node *val,
                          const char *arg, int argi)
{
  pf_mark m = {pf__cmdline_name, argi, 1};
  pf_node *cur = c->root;
  const char *s = key;
  for (;;) {
    const char *dot = strchr(s, '.');
    size_t seglen = dot ? (size_t)(dot - s) : strlen(s);
    const char *br = memchr(s, '[', seglen);
    size_t nlen = br ? (size_t)(br - s) : seglen;
    int last = dot == NULL;
    PF_CHECK(nlen > 0, PF_EUSAGE,
             "invalid override '%s' (argument %d): empty key component in "
             "'%s'", arg, argi, key);
    char *name = strndup(s, nlen);
    PF_CHECK(name, PF_ENOMEM, "copying an override key");
    size_t i = pf__map_find(cur, name);
    if (last && !br) {
      int rc = 0;
      if (i < cur->n) {
        /* Replace in place so the key keeps its position in the file. */
        rc = pf__node_set_path(val, cur->kids[i]->path);
        if (rc >= 0) {
          pf__node_free(cur->kids[i]);
          cur->kids[i] = val;
        }
      } else {
        rc = pf__node_adopt(cur, name, m, val);
      }
      free(name);
      PF_TRY(rc);
      return 0;
    }
    pf_node *next;
    if (i < cur->n) {
      next = cur->kids[i];
      free(name);
    } else {
      int rc = 0;
      if (br)
        rc = pf__error_set(PF_EUSAGE, __FILE__, __LINE__,
                           "invalid override '%s' (argument %d): '%s' is "
                           "not set, so it cannot be indexed", arg, argi,
                           name);
      next = NULL;
      if (rc >= 0) rc = pf__node_new(PF_NODE_MAP, m, &next);
      /* A failed adopt leaves the new node with us. */
      if (rc >= 0 && (rc = pf__node_adopt(cur, name, m, next)) < 0)
        pf__node_free(next);
      free(name);
      PF_TRY(rc);
    }
    /* What the command line touches is no longer a pure default. */
    next->is_default = 0;
    for (const char *q = br; q && q < s + seglen;) {
      char *end;
      errno = 0;
      unsigned long long idx = strtoull(q + 1, &end, 10);
      PF_CHECK(*q == '[' && isdigit((unsigned char)q[1]) && *end == ']' &&
                   end < s + seglen + 1 && errno == 0,
               PF_EUSAGE,
               "invalid override '%s' (argument %d): bad index in '%.*s'",
               arg, argi, (int)seglen, s);
      PF_CHECK(next->kind == PF_NODE_SEQ && idx < next->n, PF_EUSAGE,
               "invalid override '%s' (argument %d): '%s' has no item %llu",
               arg, argi, next->path, idx);
      q = end + 1;
      if (last && q >= s + seglen) {
        PF_TRY(pf__node_set_path(val, next->kids[idx]->path));
        pf__node_free(next->kids[idx]);
        next->kids[idx] = val;
        return 0;
      }
      next = next->kids[idx];
      next->is_default = 0;
    }
    if (next->kind != PF_NODE_MAP) {
      if (!pf__scalar_is_null(next)) {
        char what[128];
        pf__node_describe(next, what, sizeof what);
        PF_RAISE(PF_EUSAGE,
                 "invalid override '%s' (argument %d): '%s' is %s, not a "
                 "mapping, so it has no key '%s'", arg, argi, next->path,
                 what, dot + 1);
      }
      /* `kernel:` left empty in the file: fill it in. */
      free(next->text);
      next->text = NULL;
      next->kind = PF_NODE_MAP;
      next->quoted = 0;
      next->mark = m;
    }
    cur = next;
    s = dot + 1;
  }
}

int pf_config_override(pf_config *c, const char *assignment, int argi)
{
  PF_CHECK(c && assignment, PF_EINVAL, "pf_config_override: NULL argument");
  const char *eq = strchr(assignment, '=');
  PF_CHECK(eq, PF_EUSAGE,
           "invalid override '%s' (argument %d): expected KEY.PATH=VALUE",
           assignment, argi);
  const char *k0 = assignment, *k1 = eq;
  while (k0 < k1 && isspace((unsigned char)*k0)) k0++;
  while (k1 > k0 && isspace((unsigned char)k1[-1])) k1--;
  PF_CHECK(k1 > k0, PF_EUSAGE,
           "invalid override '%s' (argument %d): empty key before '='",
           assignment, argi);
  char *key = strndup(k0, (size_t)(k1 - k0));
  PF_CHECK(key, PF_ENOMEM, "copying an override key");
  pf_node *val = NULL;
  int rc = pf__yaml_parse(eq + 1, strlen(eq + 1), "value", &val);
  if (rc < 0) {
    /* Re-raise as a usage error that quotes the whole argument; the
     * "value:L:C: " position inside a one-line value adds nothing. */
    char msg[1024];
    const char *m = pf_error_message(), *colon = strstr(m, ": ");
    snprintf(msg, sizeof msg, "%s",
             !strncmp(m, "value:", 6) && colon ? colon + 2 : m);
    free(key);
    PF_RAISE(PF_EUSAGE, "invalid override '%s' (argument %d): bad value: %s",
             assignment, argi, msg);
  }
  pf_mark m = {pf__cmdline_name, argi, 1};
  pf__node_mark_all(val, m, 0);
  rc = override_place(c, key, val, assignment, argi);
  free(key);
  if (rc < 0) {
    pf__node_free(val);
    return pf__error_push(rc, __FILE__, __LINE__, "override_place");
  }
  return 0;
}

/* ---- node access -------------------------------------------------------- */

pf_node_kind pf_node_kind_of(const pf_node *n)
{
  return n ? n->kind : PF_NODE_SCALAR;
}

pf_mark pf_node_mark(const pf_node *n)
{
  pf_mark none = {"", 0, 0};
  return n ? n->mark : none;
}

int pf_node_is_default(const pf_node *n) { return n ? n->is_default : 0; }

const char *pf_node_scalar(const pf_node *n)
{
  return n && n->kind == PF_NODE_SCALAR ? n->text : NULL;
}

size_t pf_node_len(const pf_node *n)
{
  return n && n->kind != PF_NODE_SCALAR ? n->n : 0;
}

const pf_node *pf_node_item(const pf_node *n, size_t i)
{
  return n && n->kind == PF_NODE_SEQ && i < n->n ? n->kids[i] : NULL;
}

const char *pf_node_key(const pf_node *n, size_t i)
{
  return n && n->kind == PF_NODE_MAP && i < n->n ? n->keys[i] : NULL;
}

const pf_node *pf_node_value(const pf_node *n, size_t i)
{
  return n && n->kind == PF_NODE_MAP && i < n->n ? n->kids[i] : NULL;
}

/* Paths are "a.b.c" with optional "[i]" sequence indices ("mean[1]"). */
const pf_node *pf_node_get(const pf_node *map, const char *path)
{
  if (!map || !path) return NULL;
  const pf_node *cur = map;
  const char *s = path;
  while (*s) {
    size_t seglen = strcspn(s, ".[");
    if (seglen == 0 && *s != '[') return NULL;
    if (seglen) {
      if (cur->kind != PF_NODE_MAP) return NULL;
      size_t i;
      for (i = 0; i < cur->n; i++)
        if (!strncmp(cur->keys[i], s, seglen) && cur->keys[i][seglen] == '\0')
          break;
      if (i == cur->n) return NULL;
      cur = cur->kids[i];
      s += seglen;
    }
    while (*s == '[') {
      char *end;
      if (!isdigit((unsigned char)s[1])) return NULL;
      unsigned long long idx = strtoull(s + 1, &end, 10);
      if (*end != ']' || cur->kind != PF_NODE_SEQ || idx >= cur->n)
        return NULL;
      cur = cur->kids[idx];
      s = end + 1;
    }
    if (*s == '.') {
      s++;
      if (!*s) return NULL;
    } else if (*s) {
      return NULL;
    }
  }
  return cur;
}

/* ---- typed getters ------------------------------------------------------ */

int pf_cfg_has(const pf_node *map, const char *key)
{
  const pf_node *n = pf_node_get(map, key);
  return n && !pf__scalar_is_null(n);
}

/* The value at key, or PF_ECONFIG naming what was expected. */
static int get_value(const pf_node *map, const char *key, const char *expect,
                     const pf_node **out)
{
  *out = NULL;
  PF_CHECK(map && key, PF_EINVAL, "config getter: NULL argument");
  *out = pf_node_get(map, key);
  if (!*out || pf__scalar_is_null(*out))
    return pf__config_raise(map, key, PF_ECONFIG, __FILE__, __LINE__,
                            "missing (expected %s)", expect);
  return 0;
}

static int wrong_type(const pf_node *n, const char *expect, int srcline)
{
  char what[128];
  pf__node_describe(n, what, sizeof what);
  return pf__mark_raise(n->mark, PF_ECONFIG, __FILE__, srcline,
                        "key '%s': expected %s, found %s", n->path, expect,
                        what);
}

int pf_cfg_int(const pf_node *map, const char *key, long long *out)
{
  const pf_node *n = NULL;
  PF_TRY(get_value(map, key, "an integer", &n));
  if (!pf__scalar_int(n, out)) return wrong_type(n, "an integer", __LINE__);
  return 0;
}

int pf_cfg_real(const pf_node *map, const char *key, double *out)
{
  const pf_node *n = NULL;
  PF_TRY(get_value(map, key, "a real number", &n));
  if (!pf__scalar_real(n, out) || isnan(*out))
    return wrong_type(n, "a real number", __LINE__);
  return 0;
}

int pf_cfg_bool(const pf_node *map, const char *key, int *out)
{
  const pf_node *n = NULL;
  PF_TRY(get_value(map, key, "a boolean", &n));
  if (!pf__scalar_bool(n, out))
    return wrong_type(n, "a boolean (true/false, yes/no, on/off)", __LINE__);
  return 0;
}

const char *pf_cfg_str(const pf_node *map, const char *key)
{
  const pf_node *n = pf_node_get(map, key);
  if (!n || n->kind != PF_NODE_SCALAR || pf__scalar_is_null(n)) return NULL;
  return n->text;
}

int pf_cfg_reals(const pf_node *map, const char *key, double **out, size_t *n)
{
  const pf_node *v = NULL;
  PF_CHECK(out && n, PF_EINVAL, "pf_cfg_reals: NULL argument");
  *out = NULL;
  *n = 0;
  PF_TRY(get_value(map, key, "a list of reals", &v));
  if (v->kind == PF_NODE_MAP) return wrong_type(v, "a list of reals", __LINE__);
  /* A single number is a one-element list. */
  size_t len = v->kind == PF_NODE_SCALAR ? 1 : v->n;
  if (len == 0) return 0;
  double *a = malloc(len * sizeof *a);
  PF_CHECK(a, PF_ENOMEM, "allocating %zu reals for '%s'", len, v->path);
  for (size_t i = 0; i < len; i++) {
    const pf_node *it = v->kind == PF_NODE_SCALAR ? v : v->kids[i];
    if (!pf__scalar_real(it, &a[i]) || isnan(a[i])) {
      free(a);
      return wrong_type(it, "a real number", __LINE__);
    }
  }
  *out = a;
  *n = len;
  return 0;
}

int pf_cfg_matrix(const pf_node *map, const char *key, double **out,
                  size_t *rows, size_t *cols)
{
  const pf_node *v = NULL;
  const char *expect = "a matrix (a non-empty list of equal-length lists of "
                       "reals)";
  PF_CHECK(out && rows && cols, PF_EINVAL, "pf_cfg_matrix: NULL argument");
  *out = NULL;
  *rows = *cols = 0;
  PF_TRY(get_value(map, key, expect, &v));
  if (v->kind != PF_NODE_SEQ || v->n == 0)
    return wrong_type(v, expect, __LINE__);
  size_t r = v->n, c = v->kids[0]->kind == PF_NODE_SEQ ? v->kids[0]->n : 0;
  for (size_t i = 0; i < r; i++) {
    const pf_node *row = v->kids[i];
    if (row->kind != PF_NODE_SEQ || row->n == 0)
      return wrong_type(row, "a non-empty list of reals (a matrix row)",
                        __LINE__);
    if (row->n != c)
      return pf__mark_raise(row->mark, PF_ECONFIG, __FILE__, __LINE__,
                            "key '%s': expected %zu numbers like the first "
                            "row, found %zu", row->path, c, row->n);
  }
  double *a = malloc(r * c * sizeof *a);
  PF_CHECK(a, PF_ENOMEM, "allocating a %zux%zu matrix for '%s'", r, c,
           v->path);
  for (size_t i = 0; i < r; i++) {
    for (size_t j = 0; j < c; j++) {
      const pf_node *it = v->kids[i]->kids[j];
      if (!pf__scalar_real(it, &a[i * c + j]) || isnan(a[i * c + j])) {
        free(a);
        return wrong_type(it, "a real number", __LINE__);
      }
    }
  }
  *out = a;
  *rows = r;
  *cols = c;
  return 0;
}

/* ---- emission ----------------------------------------------------------- */

typedef pf__strbuf sbuf;

static void sb_indent(sbuf *b, int n)
{
  for (int i = 0; i < n; i++) pf__strbuf_put(b, " ", 1);
}

/* Can s be written plain and read back as the same text, inside a block
 * mapping and inside a flow sequence alike?  Conservative on purpose: a
 * plain scalar that fails this is never a number, boolean or null, so
 * quoting it keeps its meaning. */
static int plain_safe(const char *s)
{
  size_t len = strlen(s);
  if (len == 0 || s[0] == ' ' || s[len - 1] == ' ') return 0;
  if (strchr("?:,[]{}#&*!|>'\"%@`", s[0])) return 0;
  if (s[0] == '-' && !(isalnum((unsigned char)s[1]) || s[1] == '.'))
    return 0;
  if (!strncmp(s, "...", 3)) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || strchr(",[]{}", c)) return 0;
    if (c == '#' && s[i - 1] == ' ') return 0;
    if (c == ':' && (s[i + 1] == ' ' || s[i + 1] == '\0')) return 0;
    /* NEL, LS and PS are line breaks to a YAML 1.1 reader. */
    if (c == 0xc2 && (unsigned char)s[i + 1] == 0x85) return 0;
    if (c == 0xe2 && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))
      return 0;
  }
  return 1;
}

static void emit_quoted(sbuf *b, const char *s)
{
  pf__strbuf_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    switch (*p) {
    case '"': pf__strbuf_puts(b, "\\\""); continue;
    case '\\': pf__strbuf_puts(b, "\\\\"); continue;
    case '\n': pf__strbuf_puts(b, "\\n"); continue;
    case '\t': pf__strbuf_puts(b, "\\t"); continue;
    case '\r': pf__strbuf_puts(b, "\\r"); continue;
    default: break;
    }
    if (*p < 0x20 || *p == 0x7f) {
      snprintf(esc, sizeof esc, "\\x%02x", *p);
      pf__strbuf_puts(b, esc);
    } else if (p[0] == 0xc2 && p[1] == 0x85) {
      pf__strbuf_puts(b, "\\N");
      p++;
    } else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
      pf__strbuf_puts(b, p[2] == 0xa8 ? "\\L" : "\\P");
      p += 2;
    } else {
      pf__strbuf_put(b, (const char *)p, 1);
    }
  }
  pf__strbuf_put(b, "\"", 1);
}

static void emit_key(sbuf *b, const char *k)
{
  if (plain_safe(k))
    pf__strbuf_puts(b, k);
  else
    emit_quoted(b, k);
}

/* A plain empty value reads back as null: write "null" where nothing is
 * not an option (sequence items). */
static void emit_scalar(sbuf *b, const pf_node *n)
{
  if (!n->quoted && !n->text[0])
    pf__strbuf_puts(b, "null");
  else if (!n->quoted && plain_safe(n->text))
    pf__strbuf_puts(b, n->text);
  else
    emit_quoted(b, n->text);
}

/* Scalars, empty mappings and sequences of those go on one line. */
static int flowable(const pf_node *n)
{
  if (n->kind == PF_NODE_SCALAR) return 1;
  if (n->kind == PF_NODE_MAP) return n->n == 0;
  for (size_t i = 0; i < n->n; i++)
    if (!flowable(n->kids[i])) return 0;
  return 1;
}

static void emit_flow(sbuf *b, const pf_node *n)
{
  if (n->kind == PF_NODE_SCALAR) {
    emit_scalar(b, n);
  } else if (n->kind == PF_NODE_MAP) {
    pf__strbuf_puts(b, "{}");
  } else {
    pf__strbuf_put(b, "[", 1);
    for (size_t i = 0; i < n->n; i++) {
      if (i) pf__strbuf_puts(b, ", ");
      emit_flow(b, n->kids[i]);
    }
    pf__strbuf_put(b, "]", 1);
  }
}

static void emit_block(sbuf *b, const pf_node *n, int indent, int inline_first,
                       int mark_defaults);

/* One "key: value" entry (value on the line, or nested below). */
static void emit_entry(sbuf *b, const char *key, const pf_node *v, int indent,
                       int mark_defaults)
{
  emit_key(b, key);
  pf__strbuf_put(b, ":", 1);
  int flow = flowable(v);
  if (flow && !(v->kind == PF_NODE_SCALAR && !v->quoted && !v->text[0])) {
    pf__strbuf_put(b, " ", 1);
    emit_flow(b, v);
  }
  if (mark_defaults && v->is_default) pf__strbuf_puts(b, "  # default");
  pf__strbuf_put(b, "\n", 1);
  if (!flow) emit_block(b, v, indent + 2, 0, mark_defaults);
}

/* A non-flowable mapping or sequence in block style at `indent`; with
 * inline_first the first line continues a "- " already written. */
static void emit_block(sbuf *b, const pf_node *n, int indent, int inline_first,
                       int mark_defaults)
{
  for (size_t i = 0; i < n->n; i++) {
    if (i || !inline_first) sb_indent(b, indent);
    if (n->kind == PF_NODE_MAP) {
      emit_entry(b, n->keys[i], n->kids[i], indent, mark_defaults);
      continue;
    }
    const pf_node *it = n->kids[i];
    pf__strbuf_puts(b, "- ");
    if (flowable(it)) {
      emit_flow(b, it);
      pf__strbuf_put(b, "\n", 1);
    } else {
      emit_block(b, it, indent + 2, 1, mark_defaults);
    }
  }
}

int pf_config_emit(const pf_config *c, int mark_defaults, char **out)
{
  PF_CHECK(c && c->root && out, PF_EINVAL, "pf_config_emit: NULL argument");
  sbuf b = {0};
  *out = NULL;
  if (c->root->n == 0)
    pf__strbuf_puts(&b, "{}\n");
  else
    emit_block(&b, c->root, 0, 0, mark_defaults);
  if (b.oom) {
    free(b.p);
    PF_RAISE(PF_ENOMEM, "emitting the config");
  }
  *out = b.p;
  return 0;
}
