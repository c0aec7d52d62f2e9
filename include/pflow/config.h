/* Configuration: YAML files (libyaml) parsed into a tree of nodes that keep
 * their source position, dotted `key.path=value` overrides, validation and
 * default filling against parameter specs, typed getters, and emission of the
 * resolved config (defaults marked) as YAML text. */
#ifndef PFLOW_CONFIG_H
#define PFLOW_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pf_registry;

/* ---- parameter specs ---------------------------------------------------- */

typedef enum pf_ptype {
  PF_P_INT,     /* integer scalar (long long) */
  PF_P_REAL,    /* real scalar (double; ints accepted) */
  PF_P_BOOL,    /* true/false (YAML 1.1 spellings: true/false/yes/no/on/off) */
  PF_P_STRING,  /* string scalar; `range` may list choices "a|b|c" */
  PF_P_REALS,   /* sequence of reals; a scalar is read as a 1-element list */
  PF_P_MATRIX,  /* sequence of equal-length sequences of reals */
  PF_P_STRINGS, /* sequence of strings; `range` may list allowed items */
  PF_P_SECTION, /* nested mapping validated against `sub` */
  PF_P_PLUGIN   /* nested mapping with `name:` chosen from `registry`; other
                   keys validated against registry->common + plug-in params */
} pf_ptype;

enum {
  PF_PARAM_REQUIRED = 1u,
  /* On a STRINGS param with a registry (diagnostics.metrics): the enclosing
   * mapping also accepts one key per registry item, a mapping validated
   * against that item's own params (diagnostics.kl_knn: {k: 5}).  Listed
   * items with params get the subsection filled with defaults; a subsection
   * for an item the list does not name is an error (a typo, or a metric
   * left out of the list, which would silently ignore the settings). */
  PF_PARAM_ITEM_SECTIONS = 2u
};

typedef struct pf_param {
  const char *name;
  pf_ptype type;
  const char *def;   /* default as YAML text ("0.1", "[0, 0]", "abort");
                        NULL: no default (absent unless given) */
  const char *range; /* INT/REAL: interval like "(0,inf)", "[1,1e9]";
                        STRING/STRINGS: choices "abort|backoff"; NULL: any */
  const char *doc;   /* one line */
  unsigned flags;    /* PF_PARAM_REQUIRED */
  const struct pf_param *sub;          /* PF_P_SECTION */
  const struct pf_registry *registry;  /* PF_P_PLUGIN; STRING/STRINGS:
                                          choices are its names */
} pf_param;
/* Specs are arrays terminated by an entry with name == NULL. */

/* Print a spec as a help table: name, type, default, range, doc.  indent is
 * the number of leading spaces; nested sections are printed indented. */
void pf_params_print(const pf_param *spec, FILE *f, int indent);

/* Human name of a type ("real", "list of reals", ...). */
const char *pf_ptype_name(pf_ptype t);

/* ---- the config tree ---------------------------------------------------- */

typedef struct pf_config pf_config;
typedef struct pf_node pf_node;

typedef enum pf_node_kind { PF_NODE_SCALAR, PF_NODE_SEQ, PF_NODE_MAP } pf_node_kind;

typedef struct pf_mark {
  const char *file; /* config file path, or "command line" */
  int line, col;    /* 1-based; for overrides line = argument index */
} pf_mark;

/* Parse a YAML file (one document; mappings, sequences, scalars; anchors and
 * tags are rejected).  Malformed YAML raises PF_EPARSE with
 * "FILE:LINE:COL: <problem>".  The caller owns *out. */
int pf_config_load(const char *path, pf_config **out);
/* Same from a string; `name` is used as the file name in messages. */
int pf_config_load_string(const char *text, const char *name, pf_config **out);
/* An empty config (root is an empty mapping). */
int pf_config_create(pf_config **out);
void pf_config_destroy(pf_config **c);

/* Apply one override "a.b.c=value".  The value is parsed as a YAML flow
 * scalar/sequence/mapping ("0.05", "[1, 2]", "{name: x}").  Missing
 * intermediate mappings are created; the key is checked by validation.
 * `argi` is the command-line position reported in messages.  A text without
 * '=' or with an empty key raises PF_EUSAGE.  An existing sequence item can
 * be replaced with "a.b[0]=value". */
int pf_config_override(pf_config *c, const char *assignment, int argi);

/* Validate against `spec`: unknown keys (with "did you mean"), wrong types,
 * values out of range or not among the choices, missing required keys, and
 * unknown plug-in names all raise PF_ECONFIG with
 * "FILE:LINE:COL: key 'sampler.step_size': <what was expected, what was
 * found>".  Defaults are filled in (marked as defaults).  Idempotent. */
int pf_config_validate(pf_config *c, const pf_param *spec);

/* Emit the (resolved) config as block YAML; when mark_defaults is set,
 * values that came from defaults get a trailing "  # default".  Returns a
 * malloc'ed string in *out (caller frees). */
int pf_config_emit(const pf_config *c, int mark_defaults, char **out);

const pf_node *pf_config_root(const pf_config *c);

/* ---- node access (all borrowed pointers, valid while the config lives) -- */
pf_node_kind pf_node_kind_of(const pf_node *n);
pf_mark pf_node_mark(const pf_node *n);
int pf_node_is_default(const pf_node *n);
const char *pf_node_scalar(const pf_node *n); /* NULL unless scalar */
size_t pf_node_len(const pf_node *n);         /* items or entries; 0 scalar */
const pf_node *pf_node_item(const pf_node *n, size_t i);   /* seq item */
const char *pf_node_key(const pf_node *n, size_t i);       /* map key i */
const pf_node *pf_node_value(const pf_node *n, size_t i);  /* map value i */
/* Value of `path` ("a.b.c") under a mapping; NULL if absent.  Sequence
 * items are addressed 0-based: "target.mean[1]". */
const pf_node *pf_node_get(const pf_node *map, const char *path);

/* ---- typed getters on a validated mapping ------------------------------
 * `key` may be a dotted path.  Absent key or wrong type raises PF_ECONFIG
 * (after validation that only happens for keys without a default). */
/* 1 when key is present and not null (a plain "", "~" or "null"). */
int pf_cfg_has(const pf_node *map, const char *key);
int pf_cfg_int(const pf_node *map, const char *key, long long *out);
int pf_cfg_real(const pf_node *map, const char *key, double *out);
int pf_cfg_bool(const pf_node *map, const char *key, int *out);
/* Borrowed string; NULL if absent. */
const char *pf_cfg_str(const pf_node *map, const char *key);
/* Copy a list of reals into a malloc'ed array (*out, caller frees; NULL
 * when the list is empty) and its length into *n. */
int pf_cfg_reals(const pf_node *map, const char *key, double **out, size_t *n);
/* Copy a matrix row-major into a malloc'ed array; rows and cols out. */
int pf_cfg_matrix(const pf_node *map, const char *key, double **out,
                  size_t *rows, size_t *cols);

/* Raise `code` with a message prefixed by the node's "FILE:LINE:COL: " and
 * "key 'k': " when key is non-NULL.  For semantic checks done by plug-ins
 * (e.g. a covariance that is not positive definite).  Returns code. */
int pf__config_raise(const pf_node *at, const char *key, int code,
                     const char *srcfile, int srcline, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
#define PF_CFG_RAISE(node, key, code, ...) \
  return pf__config_raise((node), (key), (code), __FILE__, __LINE__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
