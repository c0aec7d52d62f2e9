/* Plug-in registries: every kind (target, sampler, diagnostic, ...) is a
 * const ops table whose first member is a pf_plugin (name, summary,
 * parameter spec), listed by name in its folder's registry.c. */
#ifndef PFLOW_REGISTRY_H
#define PFLOW_REGISTRY_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pf_param;

/* Common head of every plug-in ops table. */
typedef struct pf_plugin {
  const char *name;              /* registered name, e.g. "ula" */
  const char *summary;           /* one line for `pflow list` */
  const struct pf_param *params; /* parameter spec, {NULL}-terminated */
} pf_plugin;

/* A registry: the plug-ins of one kind.  `common` are parameters every
 * plug-in of the kind accepts (e.g. sampler.n_iter), validated and shown in
 * help before the plug-in's own. */
typedef struct pf_registry {
  const char *kind;               /* "sampler" */
  const char *plural;             /* "samplers" (for `pflow list`) */
  const pf_plugin *const *items;
  size_t n;
  const struct pf_param *common;  /* may be NULL */
} pf_registry;

/* Look up a plug-in by exact name; NULL if absent.  Thread-safe. */
const pf_plugin *pf_registry_get(const pf_registry *r, const char *name);

/* Look up a plug-in by name.  Unknown names raise PF_ENOTFOUND with
 * "unknown sampler 'svdg'; did you mean 'svgd'? valid: a, b, c". */
int pf_registry_find(const pf_registry *r, const char *name,
                     const pf_plugin **out);

/* Print "name  summary" lines for every plug-in. */
void pf_registry_list(const pf_registry *r, FILE *f);

/* Print the common and the plug-in's own parameters (type, default, range,
 * doc), as `pflow help KIND NAME` shows them. */
int pf_registry_help(const pf_registry *r, const char *name, FILE *f);

/* Index of the candidate closest to `name` by edit distance, if close enough
 * to be a plausible typo (distance <= max(2, len/3)); n if none. */
size_t pf_suggest(const char *name, const char *const *cands, size_t n);

/* Write "valid: a, b, c" style list of names into buf (truncated safely). */
void pf_names_join(const char *const *names, size_t n, char *buf,
                   size_t cap);

/* The built-in registries (one per folder's registry.c). */
extern const pf_registry pf_targets;
extern const pf_registry pf_samplers;
extern const pf_registry pf_diagnostics;
extern const pf_registry pf_domains;
extern const pf_registry pf_kernels;

/* All registries, NULL-terminated (for `pflow list`). */
extern const pf_registry *const pf_all_registries[];

#ifdef __cplusplus
}
#endif
#endif
