/* Validation of a config tree against parameter specs, default filling, and
 * the help tables printed from the same specs.
 *
 * Rules (see config.c for how scalars are read):
 *   - INT: an integer literal (1e6 counts if exactly integral, <= 2^53);
 *     `range` bounds are compared as doubles.
 *   - REAL: any number, integers included.  NaN is always refused.  +-inf
 *     are accepted only when `range` includes them with a closed bracket
 *     ("[0,inf]"); with no range the value must be finite.
 *   - BOOL: plain true/false, yes/no, on/off.
 *   - STRING: any non-null scalar, taken verbatim (plain 2024 is the string
 *     "2024"); `range` "a|b|c" restricts it to those choices.
 *   - REALS / STRINGS: a list, or one scalar read as a 1-element list;
 *     `range` applies to every item.  MATRIX: a non-empty list of non-empty
 *     lists of numbers, all of the first row's length.
 *   - SECTION / PLUGIN: must be mappings.  A plug-in mapping needs `name:`
 *     from its registry; its other keys are checked against
 *     registry->common, then the plug-in's own params.
 *   - A key absent from the config gets its `def` (parsed as YAML, flagged
 *     default, marked with its mapping's position), appended in spec order.
 *     A SECTION without `def` is created empty and filled the same way, so
 *     required keys inside it are still required.  Present keys are never
 *     rewritten, so validating twice gives the same tree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config_tree.h"
#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/registry.h"

/* The implicit `name:` key of every plug-in mapping. */
static const pf_param plugin_name_spec[] = {
    {"name", PF_P_STRING, NULL, NULL, "which plug-in", PF_PARAM_REQUIRED,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

/* The specs a mapping is checked against, searched in order. */
typedef struct spec_set {
  const pf_param *part[3];
  int n;
} spec_set;

enum { PF__MAX_NAMES = 256 };

const char *pf_ptype_name(pf_ptype t)
{
  switch (t) {
  case PF_P_INT: return "integer";
  case PF_P_REAL: return "real";
  case PF_P_BOOL: return "boolean";
  case PF_P_STRING: return "string";
  case PF_P_REALS: return "list of reals";
  case PF_P_MATRIX: return "matrix of reals";
  case PF_P_STRINGS: return "list of strings";
  case PF_P_SECTION: return "section";
  case PF_P_PLUGIN: return "plug-in";
  }
  return "unknown";
}

static const pf_param *spec_find(const spec_set *s, const char *key)
{
  for (int k = 0; k < s->n; k++)
    for (const pf_param *p = s->part[k]; p && p->name; p++)
      if (!strcmp(p->name, key)) return p;
  return NULL;
}

static size_t spec_names(const spec_set *s, const char **names, size_t cap)
{
  size_t n = 0;
  for (int k = 0; k < s->n; k++)
    for (const pf_param *p = s->part[k]; p && p->name && n < cap; p++)
      names[n++] = p->name;
  return n;
}

static size_t registry_names(const pf_registry *r, const char **names,
                             size_t cap)
{
  size_t n = 0;
  for (size_t i = 0; r && i < r->n && n < cap; i++)
    names[n++] = r->items[i]->name;
  return n;
}

/* Split "a|b|c" into names pointing into buf. */
static size_t split_choices(const char *range, char *buf, size_t bufcap,
                            const char **names, size_t cap)
{
  size_t n = 0;
  snprintf(buf, bufcap, "%s", range);
  for (char *s = buf; n < cap;) {
    names[n++] = s;
    char *bar = strchr(s, '|');
    if (!bar) break;
    *bar = '\0';
    s = bar + 1;
  }
  return n;
}

/* ---- messages ----------------------------------------------------------- */

static int fail_expect(const pf_node *n, const char *expect, const char *extra)
{
  char what[128];
  pf__node_describe(n, what, sizeof what);
  return pf__mark_raise(n->mark, PF_ECONFIG, __FILE__, __LINE__,
                        "key '%s': expected %s, found %s%s", n->path, expect,
                        what, extra);
}

/* "an integer in [1,1e9]", "a finite real", ... */
static void expect_text(const pf_param *p, char *buf, size_t cap)
{
  const char *r = p->range;
  switch (p->type) {
  case PF_P_INT:
    snprintf(buf, cap, "an integer%s%s", r ? " in " : "", r ? r : "");
    break;
  case PF_P_REAL:
    snprintf(buf, cap, "a %sreal%s%s", r ? "" : "finite ", r ? " in " : "",
             r ? r : "");
    break;
  case PF_P_REALS:
    snprintf(buf, cap, "a list of reals%s%s", r ? " in " : "", r ? r : "");
    break;
  case PF_P_BOOL:
    snprintf(buf, cap, "a boolean (true/false, yes/no, on/off)");
    break;
  case PF_P_STRING: snprintf(buf, cap, "a string"); break;
  case PF_P_STRINGS: snprintf(buf, cap, "a list of strings"); break;
  case PF_P_MATRIX:
    snprintf(buf, cap, "a matrix (a non-empty list of equal-length lists of "
                       "reals)");
    break;
  case PF_P_SECTION:
    snprintf(buf, cap, "a mapping (the '%s' section)", p->name);
    break;
  case PF_P_PLUGIN:
    snprintf(buf, cap, "a mapping with 'name:' and settings (the '%s' "
                       "plug-in)", p->name);
    break;
  }
}

/* ---- ranges ------------------------------------------------------------- */

typedef struct interval {
  double lo, hi;
  int lo_closed, hi_closed;
} interval;

/* Parse "(0,inf)", "[1,1e9]", "[0,1)"; NULL means (-inf,inf).  A bad range
 * is a bug in the spec, not in the user's config. */
static int parse_interval(const pf_param *p, interval *iv)
{
  const char *r = p->range;
  char *end;
  iv->lo = -INFINITY;
  iv->hi = INFINITY;
  iv->lo_closed = iv->hi_closed = 0;
  if (!r) return 0;
  while (*r == ' ') r++;
  PF_CHECK(*r == '[' || *r == '(', PF_EINVAL,
           "spec of '%s': bad range '%s'", p->name, p->range);
  iv->lo_closed = *r == '[';
  iv->lo = strtod(r + 1, &end);
  PF_CHECK(end != r + 1, PF_EINVAL, "spec of '%s': bad range '%s'", p->name,
           p->range);
  while (*end == ' ') end++;
  PF_CHECK(*end == ',', PF_EINVAL, "spec of '%s': bad range '%s'", p->name,
           p->range);
  r = end + 1;
  iv->hi = strtod(r, &end);
  PF_CHECK(end != r, PF_EINVAL, "spec of '%s': bad range '%s'", p->name,
           p->range);
  while (*end == ' ') end++;
  PF_CHECK((*end == ']' || *end == ')') && end[1] == '\0', PF_EINVAL,
           "spec of '%s': bad range '%s'", p->name, p->range);
  iv->hi_closed = *end == ']';
  return 0;
}

static int in_interval(double v, const interval *iv)
{
  if (isnan(v)) return 0;
  if (v < iv->lo || (v == iv->lo && !iv->lo_closed)) return 0;
  if (v > iv->hi || (v == iv->hi && !iv->hi_closed)) return 0;
  return 1;
}

/* ---- scalar checks ------------------------------------------------------ */

static int check_int(const pf_node *n, const pf_param *p)
{
  char expect[256];
  long long v;
  interval iv;
  expect_text(p, expect, sizeof expect);
  PF_TRY(parse_interval(p, &iv));
  if (!pf__scalar_int(n, &v) || !in_interval((double)v, &iv))
    return fail_expect(n, expect, "");
  return 0;
}

/* Also used for the items of REALS and MATRIX. */
static int check_real(const pf_node *n, const pf_param *p)
{
  char expect[256];
  double v;
  interval iv;
  pf_param q = *p;
  q.type = PF_P_REAL;
  expect_text(&q, expect, sizeof expect);
  PF_TRY(parse_interval(p, &iv));
  if (!pf__scalar_real(n, &v)) return fail_expect(n, expect, "");
  if (isnan(v)) return fail_expect(n, expect, " (NaN is never allowed)");
  if (!in_interval(v, &iv)) return fail_expect(n, expect, "");
  return 0;
}

/* Also used for the items of STRINGS. */
static int check_string(const pf_node *n, const pf_param *p)
{
  enum { MAXC = 64 };
  char buf[1024], valid[1024], what[128];
  const char *names[MAXC] = {0};
  if (n->kind != PF_NODE_SCALAR || pf__scalar_is_null(n))
    return fail_expect(n, "a string", "");
  size_t k;
  /* STRING/STRINGS with a registry: the choices are its plug-in names, so a
   * new diagnostic needs no spec edit. */
  if (p->registry)
    k = registry_names(p->registry, names, MAXC);
  else if (p->range)
    k = split_choices(p->range, buf, sizeof buf, names, MAXC);
  else
    return 0;
  for (size_t i = 0; i < k; i++)
    if (!strcmp(n->text, names[i])) return 0;
  pf_names_join(names, k, valid, sizeof valid);
  pf__node_describe(n, what, sizeof what);
  size_t s = pf_suggest(n->text, names, k);
  if (s < k)
    PF__MARK_RAISE(n->mark, PF_ECONFIG,
                   "key '%s': expected one of (%s), found %s; did you mean "
                   "'%s'?", n->path, valid, what, names[s]);
  PF__MARK_RAISE(n->mark, PF_ECONFIG,
                 "key '%s': expected one of (%s), found %s", n->path, valid,
                 what);
}

/* ---- mappings ----------------------------------------------------------- */

static int validate_map(pf_node *map, const spec_set *set);

static int validate_plugin(pf_node *map, const pf_registry *reg)
{
  const char *names[PF__MAX_NAMES] = {0};
  char valid[2048], expect[2300];
  size_t nn = registry_names(reg, names, PF__MAX_NAMES);
  pf_names_join(names, nn, valid, sizeof valid);
  const char *kind = reg && reg->kind ? reg->kind : "plug-in";
  size_t i = pf__map_find(map, "name");
  if (i == map->n)
    PF__MARK_RAISE(map->mark, PF_ECONFIG,
                   "missing required key '%s%sname' in mapping '%s' (which "
                   "%s to use; valid: %s)", map->path,
                   map->path[0] ? "." : "", map->path, kind, valid);
  const pf_node *name = map->kids[i];
  if (name->kind != PF_NODE_SCALAR || pf__scalar_is_null(name)) {
    snprintf(expect, sizeof expect, "a %s name (valid: %s)", kind, valid);
    return fail_expect(name, expect, "");
  }
  const pf_plugin *pl = pf_registry_get(reg, name->text);
  if (!pl) {
    /* Reuse the registry's "unknown X 'y'; did you mean" wording. */
    char msg[1800];
    if (reg) pf_registry_find(reg, name->text, &pl);
    snprintf(msg, sizeof msg, "%s",
             reg ? pf_error_message() : "no registry for this plug-in");
    PF__MARK_RAISE(name->mark, PF_ECONFIG, "key '%s': %s", name->path, msg);
  }
  spec_set s = {{plugin_name_spec, reg->common, pl->params}, 3};
  PF_TRY(validate_map(map, &s));
  return 0;
}

static int check_value(pf_node *v, const pf_param *p)
{
  char expect[512];
  expect_text(p, expect, sizeof expect);
  switch (p->type) {
  case PF_P_INT: return check_int(v, p);
  case PF_P_REAL: return check_real(v, p);
  case PF_P_BOOL: {
    int b;
    if (!pf__scalar_bool(v, &b)) return fail_expect(v, expect, "");
    return 0;
  }
  case PF_P_STRING: return check_string(v, p);
  case PF_P_REALS:
    if (v->kind == PF_NODE_SCALAR) return check_real(v, p);
    if (v->kind != PF_NODE_SEQ) return fail_expect(v, expect, "");
    for (size_t i = 0; i < v->n; i++) PF_TRY(check_real(v->kids[i], p));
    return 0;
  case PF_P_STRINGS:
    if (v->kind == PF_NODE_SCALAR) return check_string(v, p);
    if (v->kind != PF_NODE_SEQ) return fail_expect(v, expect, "");
    for (size_t i = 0; i < v->n; i++) PF_TRY(check_string(v->kids[i], p));
    return 0;
  case PF_P_MATRIX: {
    if (v->kind != PF_NODE_SEQ || v->n == 0) return fail_expect(v, expect, "");
    size_t cols = 0;
    for (size_t i = 0; i < v->n; i++) {
      const pf_node *row = v->kids[i];
      if (row->kind != PF_NODE_SEQ || row->n == 0)
        return fail_expect(row, "a non-empty list of reals (a matrix row)",
                           "");
      if (i == 0) cols = row->n;
      if (row->n != cols)
        PF__MARK_RAISE(row->mark, PF_ECONFIG,
                       "key '%s': expected a row of %zu numbers like the "
                       "first row, found %zu", row->path, cols, row->n);
      for (size_t j = 0; j < row->n; j++) PF_TRY(check_real(row->kids[j], p));
    }
    return 0;
  }
  case PF_P_SECTION: {
    if (v->kind != PF_NODE_MAP) return fail_expect(v, expect, "");
    spec_set s = {{p->sub}, 1};
    PF_TRY(validate_map(v, &s));
    return 0;
  }
  case PF_P_PLUGIN:
    if (v->kind != PF_NODE_MAP) return fail_expect(v, expect, "");
    PF_TRY(validate_plugin(v, p->registry));
    return 0;
  }
  PF_RAISE(PF_EINVAL, "spec of '%s': unknown type %d", p->name, (int)p->type);
}

static int unknown_key(const pf_node *map, size_t i, const spec_set *set)
{
  const char *names[PF__MAX_NAMES] = {0};
  char valid[2048];
  size_t n = spec_names(set, names, PF__MAX_NAMES);
  /* Per-item sections (diagnostics.kl_knn) are valid keys too. */
  for (int k = 0; k < set->n; k++)
    for (const pf_param *p = set->part[k]; p && p->name; p++)
      if ((p->flags & PF_PARAM_ITEM_SECTIONS) && p->registry)
        n += registry_names(p->registry, names + n, PF__MAX_NAMES - n);
  pf_names_join(names, n, valid, sizeof valid);
  size_t s = pf_suggest(map->keys[i], names, n);
  const char *path = map->kids[i]->path;
  if (s < n)
    PF__MARK_RAISE(map->kmarks[i], PF_ECONFIG,
                   "unknown key '%s'; did you mean '%s'? (valid: %s)", path,
                   names[s], valid);
  PF__MARK_RAISE(map->kmarks[i], PF_ECONFIG, "unknown key '%s' (valid: %s)",
                 path, n ? valid : "none");
}

/* ---- per-item sections (PF_PARAM_ITEM_SECTIONS) ------------------------ */

/* The registry item named `key` of a flagged param of `set`, or NULL. */
static const pf_plugin *item_section_find(const spec_set *set,
                                          const char *key,
                                          const pf_param **owner)
{
  for (int k = 0; k < set->n; k++)
    for (const pf_param *p = set->part[k]; p && p->name; p++) {
      if (!(p->flags & PF_PARAM_ITEM_SECTIONS) || !p->registry) continue;
      const pf_plugin *pl = pf_registry_get(p->registry, key);
      if (pl) {
        *owner = p;
        return pl;
      }
    }
  return NULL;
}

/* 1 when the list `owner` of `map` (a string or a list of strings, maybe
 * absent) names `item`. */
static int item_listed(const pf_node *map, const pf_param *owner,
                       const char *item)
{
  size_t j = pf__map_find(map, owner->name);
  if (j == map->n) return 0;
  const pf_node *l = map->kids[j];
  if (l->kind == PF_NODE_SCALAR) return !strcmp(l->text, item);
  if (l->kind != PF_NODE_SEQ) return 0;
  for (size_t k = 0; k < l->n; k++)
    if (l->kids[k]->kind == PF_NODE_SCALAR && !strcmp(l->kids[k]->text, item))
      return 1;
  return 0;
}

static int check_item_section(pf_node *map, size_t i, const pf_param *owner,
                              const pf_plugin *pl)
{
  pf_node *v = map->kids[i];
  const char *kind = owner->registry->kind ? owner->registry->kind : "item";
  if (!item_listed(map, owner, pl->name))
    PF__MARK_RAISE(map->kmarks[i], PF_ECONFIG,
                   "key '%s': settings for %s '%s', which '%s%s%s' does not "
                   "list (add it there, or remove these settings)", v->path,
                   kind, pl->name, map->path, map->path[0] ? "." : "",
                   owner->name);
  if (v->kind != PF_NODE_MAP) {
    char expect[160];
    snprintf(expect, sizeof expect, "a mapping (the settings of %s '%s')",
             kind, pl->name);
    return fail_expect(v, expect, "");
  }
  spec_set s = {{pl->params}, 1};
  PF_TRY(validate_map(v, &s));
  return 0;
}

/* Listed items with params get their section, filled with defaults, so
 * plug-ins read every setting from the tree and `pflow check` shows them. */
static int fill_item_sections(pf_node *map, const spec_set *set)
{
  for (int k = 0; k < set->n; k++)
    for (const pf_param *p = set->part[k]; p && p->name; p++) {
      if (!(p->flags & PF_PARAM_ITEM_SECTIONS) || !p->registry) continue;
      size_t j = pf__map_find(map, p->name);
      if (j == map->n) continue;
      const pf_node *l = map->kids[j];
      size_t cnt = l->kind == PF_NODE_SEQ ? l->n : 1;
      for (size_t t = 0; t < cnt; t++) {
        const pf_node *it = l->kind == PF_NODE_SEQ ? l->kids[t] : l;
        if (it->kind != PF_NODE_SCALAR) continue;
        const pf_plugin *pl = pf_registry_get(p->registry, it->text);
        if (!pl || !pl->params || !pl->params[0].name) continue;
        if (pf__map_find(map, pl->name) < map->n) continue;
        pf_node *v = NULL;
        PF_TRY(pf__node_new(PF_NODE_MAP, map->mark, &v));
        pf__node_mark_all(v, map->mark, 1);
        int rc = pf__node_adopt(map, pl->name, map->mark, v);
        if (rc < 0) {
          pf__node_free(v);
          return pf__error_push(rc, __FILE__, __LINE__, "pf__node_adopt");
        }
        spec_set s = {{pl->params}, 1};
        PF_TRY(validate_map(v, &s));
      }
    }
  return 0;
}

/* Insert p's default (or an empty section) and validate it, which fills
 * nested defaults too. */
static int insert_default(pf_node *map, const pf_param *p)
{
  pf_node *v = NULL;
  if (p->def)
    PF_TRY(pf__yaml_parse(p->def, strlen(p->def), "default", &v));
  else if (p->type == PF_P_SECTION)
    PF_TRY(pf__node_new(PF_NODE_MAP, map->mark, &v));
  else
    return 0;
  pf__node_mark_all(v, map->mark, 1);
  int rc = pf__node_adopt(map, p->name, map->mark, v);
  if (rc < 0) {
    pf__node_free(v);
    return pf__error_push(rc, __FILE__, __LINE__, "pf__node_adopt");
  }
  PF_TRY(check_value(v, p));
  return 0;
}

static int validate_map(pf_node *map, const spec_set *set)
{
  for (size_t i = 0; i < map->n; i++) {
    const pf_param *p = spec_find(set, map->keys[i]);
    if (!p) {
      const pf_param *owner = NULL;
      const pf_plugin *pl = item_section_find(set, map->keys[i], &owner);
      if (!pl) return unknown_key(map, i, set);
      PF_TRY(check_item_section(map, i, owner, pl));
      continue;
    }
    PF_TRY(check_value(map->kids[i], p));
  }
  for (int k = 0; k < set->n; k++) {
    for (const pf_param *p = set->part[k]; p && p->name; p++) {
      if (pf__map_find(map, p->name) < map->n) continue;
      if (p->flags & PF_PARAM_REQUIRED) {
        char expect[512];
        expect_text(p, expect, sizeof expect);
        if (map->path[0])
          PF__MARK_RAISE(map->mark, PF_ECONFIG,
                         "missing required key '%s.%s' in mapping '%s' "
                         "(expected %s)", map->path, p->name, map->path,
                         expect);
        PF__MARK_RAISE(map->mark, PF_ECONFIG,
                       "missing required key '%s' at the top level (expected "
                       "%s)", p->name, expect);
      }
      PF_TRY(insert_default(map, p));
    }
  }
  PF_TRY(fill_item_sections(map, set));
  return 0;
}

int pf_config_validate(pf_config *c, const pf_param *spec)
{
  PF_CHECK(c && c->root, PF_EINVAL, "pf_config_validate: NULL config");
  spec_set s = {{spec}, 1};
  PF_TRY(validate_map(c->root, &s));
  return 0;
}

/* ---- help tables -------------------------------------------------------- */

/* Widest "indent + name" over the table and its nested rows, so the type
 * column lines up at every depth. */
static int name_width(const pf_param *spec, int offset, int depth)
{
  int w = 0;
  for (const pf_param *p = spec; p && p->name && depth < 8; p++) {
    int len = offset + (int)strlen(p->name);
    if (len > w) w = len;
    const pf_param *sub = p->type == PF_P_SECTION ? p->sub
                          : p->type == PF_P_PLUGIN && p->registry
                              ? p->registry->common
                              : NULL;
    int ws = sub ? name_width(sub, offset + 2, depth + 1) : 0;
    if (ws > w) w = ws;
  }
  return w;
}

static void print_params(const pf_param *spec, FILE *f, int indent,
                         int offset, int w, int depth)
{
  for (const pf_param *p = spec; p && p->name && depth < 8; p++) {
    const char *def = p->def ? p->def
                      : (p->flags & PF_PARAM_REQUIRED) ? "required"
                                                       : "-";
    char range[2100];
    if (p->type == PF_P_PLUGIN && p->registry) {
      const char *names[PF__MAX_NAMES] = {0};
      char valid[2048];
      size_t n = registry_names(p->registry, names, PF__MAX_NAMES);
      pf_names_join(names, n, valid, sizeof valid);
      snprintf(range, sizeof range, "one of: %s", valid);
    } else {
      snprintf(range, sizeof range, "%s", p->range ? p->range : "-");
    }
    fprintf(f, "%*s%-*s  %-15s  %-10s  %-14s  %s\n", indent + offset, "",
            w - offset, p->name, pf_ptype_name(p->type), def, range,
            p->doc ? p->doc : "");
    if ((p->flags & PF_PARAM_ITEM_SECTIONS) && p->registry) {
      char doc[256];
      const char *kind = p->registry->kind ? p->registry->kind : "item";
      snprintf(doc, sizeof doc, "settings of a listed %s, e.g. {k: 5}: see "
               "`pflow help %s NAME`", kind, kind);
      fprintf(f, "%*s%-*s  %-15s  %-10s  %-14s  %s\n", indent + offset, "",
              w - offset, "<NAME>", "section", "-", "-", doc);
    }
    if (p->type == PF_P_SECTION && p->sub)
      print_params(p->sub, f, indent, offset + 2, w, depth + 1);
    if (p->type == PF_P_PLUGIN && p->registry && p->registry->common)
      print_params(p->registry->common, f, indent, offset + 2, w, depth + 1);
  }
}

void pf_params_print(const pf_param *spec, FILE *f, int indent)
{
  if (!f) return;
  if (indent < 0) indent = 0;
  int w = name_width(spec, 0, 0);
  if (w < 12) w = 12;
  fprintf(f, "%*s%-*s  %-15s  %-10s  %-14s  %s\n", indent, "", w, "name",
          "type", "default", "range", "description");
  print_params(spec, f, indent, 0, w, 0);
}
