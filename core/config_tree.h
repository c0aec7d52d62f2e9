/* Internal: the config tree, shared by core/config.c (loading, overrides,
 * getters, emission) and core/config_validate.c (validation against specs,
 * default filling, help tables).  Not installed; nothing outside core/
 * includes it. */
#ifndef PFLOW_CORE_CONFIG_TREE_H
#define PFLOW_CORE_CONFIG_TREE_H

#include <stddef.h>

#include "pflow/config.h"

/* One node.  Mappings keep their entries in insertion order (file order,
 * then overrides, then defaults in spec order), which is the emission
 * order. */
struct pf_node {
  pf_node_kind kind;
  pf_mark mark;            /* where the value starts */
  char *path;              /* "sampler.kernel.name", "target.mean[1]"; ""
                              for the root */
  unsigned char is_default; /* inserted from a spec default */
  unsigned char quoted;    /* scalar written quoted or as a block scalar:
                              always a string, never a number/bool/null */
  char *text;              /* scalar text, never NULL for scalars */
  size_t n, cap;           /* entries (maps) or items (sequences) */
  pf_node **kids;          /* sequence items / mapping values */
  char **keys;             /* mapping keys (NULL for sequences) */
  pf_mark *kmarks;         /* mapping key positions */
};

struct pf_config {
  pf_node *root;           /* always a mapping */
  char *file;              /* owns the file name the marks point to */
};

/* File name of nodes that come from overrides (borrowed by marks). */
extern const char pf__cmdline_name[];

/* ---- nodes ---------------------------------------------------------- */

/* New empty node of `kind` at `mark`, with path "" (scalars get text ""). */
int pf__node_new(pf_node_kind kind, pf_mark mark, pf_node **out);
/* Free a subtree (NULL-safe). */
void pf__node_free(pf_node *n);
/* Append `kid` to a sequence (key NULL) or mapping; paths are left alone.
 * On failure the caller still owns kid. */
int pf__node_append(pf_node *parent, const char *key, pf_mark kmark,
                    pf_node *kid);
/* Append and give kid (and its subtree) its path under parent. */
int pf__node_adopt(pf_node *parent, const char *key, pf_mark kmark,
                   pf_node *kid);
/* Recompute the paths of a subtree whose root is at `path`. */
int pf__node_set_path(pf_node *n, const char *path);
/* Index of `key` in a mapping; map->n if absent (or not a mapping). */
size_t pf__map_find(const pf_node *map, const char *key);
/* Set the mark (and the default flag) of a whole subtree. */
void pf__node_mark_all(pf_node *n, pf_mark mark, int is_default);

/* Parse one YAML document (any root kind; an empty stream gives a plain
 * empty scalar).  Paths are relative to "".  Errors are PF_EPARSE with
 * "NAME:LINE:COL: problem"; `name` must outlive the tree (marks borrow it). */
int pf__yaml_parse(const char *text, size_t len, const char *name,
                   pf_node **out);

/* ---- scalar interpretation (YAML 1.1-ish, documented in config.c) ---
 * Predicates: 1 when the node is a plain scalar of that type, else 0. */
int pf__scalar_is_null(const pf_node *n);
int pf__scalar_int(const pf_node *n, long long *out);
int pf__scalar_real(const pf_node *n, double *out); /* may give inf/nan */
int pf__scalar_bool(const pf_node *n, int *out);
/* What a node is, for "found ..." in messages: "'abc'", "the quoted string
 * '1'", "a list", "a mapping", "an empty value". */
void pf__node_describe(const pf_node *n, char *buf, size_t cap);

/* Raise code with "FILE:LINE:COL: " + message; returns code. */
int pf__mark_raise(pf_mark m, int code, const char *srcfile, int srcline,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define PF__MARK_RAISE(mark, code, ...) \
  return pf__mark_raise((mark), (code), __FILE__, __LINE__, __VA_ARGS__)

#endif
