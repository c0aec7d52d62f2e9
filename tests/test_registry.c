/* Registries: lookup, "did you mean", listing and help. */
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/registry.h"

static const pf_plugin p_svgd = {"svgd", "Stein variational gradient descent", NULL};
static const pf_plugin p_msvgd = {"msvgd", "mirrored SVGD", NULL};
static const pf_plugin p_ula = {"ula", "unadjusted Langevin", NULL};
static const pf_plugin *const items[] = {&p_svgd, &p_msvgd, &p_ula};
static const pf_registry reg = {"sampler", "samplers", items, 3, NULL};

static int find_and_suggest(void)
{
  const pf_plugin *p;
  PF_T_OK(pf_registry_find(&reg, "ula", &p));
  PF_T_ASSERT(p == &p_ula, "found the wrong plug-in");
  int rc = pf_registry_find(&reg, "svdg", &p);
  PF_T_ASSERT(rc == PF_ENOTFOUND, "rc %d", rc);
  PF_T_ASSERT(strcmp(pf_error_message(),
                     "unknown sampler 'svdg'; did you mean 'svgd'? valid: "
                     "svgd, msvgd, ula") == 0,
              "message '%s'", pf_error_message());
  rc = pf_registry_find(&reg, "hamiltonian", &p);
  PF_T_ASSERT(rc == PF_ENOTFOUND && !strstr(pf_error_message(), "did you"),
              "no suggestion expected: '%s'", pf_error_message());
  return 0;
}

static int suggest_distances(void)
{
  const char *c[] = {"step_size", "n_particles", "n_iter"};
  PF_T_ASSERT(pf_suggest("step_sise", c, 3) == 0, "substitution");
  PF_T_ASSERT(pf_suggest("n_itre", c, 3) == 2, "transposition");
  PF_T_ASSERT(pf_suggest("particles", c, 3) == 1, "deletion");
  PF_T_ASSERT(pf_suggest("seed", c, 3) == 3, "nothing close");
  return 0;
}

static int builtin_registries_are_consistent(void)
{
  /* Names unique and non-empty, summaries present, in every registry. */
  for (size_t r = 0; pf_all_registries[r]; r++) {
    const pf_registry *g = pf_all_registries[r];
    PF_T_ASSERT(g->n > 0, "registry %s is empty", g->kind);
    for (size_t i = 0; i < g->n; i++) {
      PF_T_ASSERT(g->items[i]->name && g->items[i]->name[0], "name");
      PF_T_ASSERT(g->items[i]->summary && g->items[i]->summary[0],
                  "%s has no summary", g->items[i]->name);
      for (size_t j = 0; j < i; j++)
        PF_T_ASSERT(strcmp(g->items[i]->name, g->items[j]->name) != 0,
                    "duplicate %s '%s'", g->kind, g->items[i]->name);
      char *buf = NULL;
      size_t len = 0;
      FILE *f = open_memstream(&buf, &len);
      PF_T_OK(pf_registry_help(g, g->items[i]->name, f));
      fclose(f);
      PF_T_ASSERT(strstr(buf, g->items[i]->name) != NULL, "help text");
      free(buf);
    }
  }
  return 0;
}

const pf_test_case pf_tests_registry[] = {
    {"find_and_suggest", find_and_suggest},
    {"suggest_distances", suggest_distances},
    {"builtin_registries_are_consistent", builtin_registries_are_consistent},
    {NULL, NULL}};
