/* Plug-in registries: lookup by name with "did you mean", listing, help. */
#include "pflow/registry.h"

#include <stdlib.h>
#include <string.h>

#include "pflow/config.h"
#include "pflow/error.h"

const pf_plugin *pf_registry_get(const pf_registry *r, const char *name)
{
  if (!r || !name) return NULL;
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->items[i]->name, name) == 0) return r->items[i];
  return NULL;
}

/* Optimal string alignment distance (Levenshtein plus adjacent swaps, the
 * commonest typo); names are short so O(len^2) on the stack is fine. */
static size_t edit_distance(const char *a, const char *b)
{
  enum { MAXL = 64 };
  size_t la = strlen(a), lb = strlen(b);
  if (la >= MAXL || lb >= MAXL) return (size_t)-1;
  size_t d[MAXL + 1][MAXL + 1];
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++) {
    for (size_t j = 1; j <= lb; j++) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[la][lb];
}

size_t pf_suggest(const char *name, const char *const *cands, size_t n)
{
  size_t best = n, bestd = (size_t)-1;
  size_t len = strlen(name);
  size_t limit = len / 3 > 2 ? len / 3 : 2;
  for (size_t i = 0; i < n; i++) {
    size_t dist = edit_distance(name, cands[i]);
    if (dist < bestd) {
      bestd = dist;
      best = i;
    }
  }
  return bestd <= limit ? best : n;
}

void pf_names_join(const char *const *names, size_t n, char *buf, size_t cap)
{
  size_t used = 0;
  if (cap == 0) return;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used + 1 < cap; i++) {
    int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  if (used >= cap && cap > 4) strcpy(buf + cap - 4, "...");
}

/* Names of a registry's items in a caller buffer of pointers. */
static size_t registry_names(const pf_registry *r, const char **names,
                             size_t cap)
{
  size_t n = r->n < cap ? r->n : cap;
  for (size_t i = 0; i < n; i++) names[i] = r->items[i]->name;
  return n;
}

int pf_registry_find(const pf_registry *r, const char *name,
                     const pf_plugin **out)
{
  enum { MAXN = 256 };
  const char *names[MAXN] = {0};
  char valid[2048];
  *out = pf_registry_get(r, name);
  if (*out) return 0;
  size_t n = registry_names(r, names, MAXN);
  pf_names_join(names, n, valid, sizeof valid);
  size_t s = pf_suggest(name ? name : "", names, n);
  if (s < n)
    PF_RAISE(PF_ENOTFOUND, "unknown %s '%s'; did you mean '%s'? valid: %s",
             r->kind, name ? name : "", names[s], valid);
  PF_RAISE(PF_ENOTFOUND, "unknown %s '%s'; valid: %s", r->kind,
           name ? name : "", valid);
}

void pf_registry_list(const pf_registry *r, FILE *f)
{
  for (size_t i = 0; i < r->n; i++)
    fprintf(f, "  %-22s %s\n", r->items[i]->name, r->items[i]->summary);
}

int pf_registry_help(const pf_registry *r, const char *name, FILE *f)
{
  const pf_plugin *p;
  PF_TRY(pf_registry_find(r, name, &p));
  fprintf(f, "%s %s: %s\n", r->kind, p->name, p->summary);
  if (r->common && r->common[0].name) {
    fprintf(f, "\nparameters of every %s:\n", r->kind);
    pf_params_print(r->common, f, 2);
  }
  if (p->params && p->params[0].name) {
    fprintf(f, "\nparameters of %s:\n", p->name);
    pf_params_print(p->params, f, 2);
  }
  return 0;
}
