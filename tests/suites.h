/* The list of test suites: one line per suite file (tests/test_NAME.c
 * defines `const pf_test_case pf_tests_NAME[]`). */
#ifndef PF_SUITES_H
#define PF_SUITES_H
#include "pf_test.h"

#define PF_SUITE_LIST(X) \
  X(error)               \
  X(registry)            \
  X(rng)                 \
  X(vmath)               \
  X(config)              \
  X(h5out)               \
  X(targets)             \
  X(targets_known)       \
  X(ula)                 \
  X(domains)             \
  X(polytope)            \
  X(simplex_targets)     \
  X(langevin)            \
  X(chains)              \
  X(info_plot)           \
  X(logreg)              \
  X(plugin)              \
  X(knn_diagnostics)     \
  X(kernels)             \
  X(pair_diagnostics)    \
  X(reference)           \
  X(cli)                 \
  X(nn)                  \
  X(pathspace)           \
  X(svmd)                \
  X(svng)                \
  X(mmd_flow)            \
  X(mpi)                 \
  X(sweep)               \
  X(postsel_ci)          \
  X(postsel)             \
  X(orthant_samplers)    \
  X(checkpoint)          \
  X(svgd)

/* Weak so the runner links while a suite is being written; a missing suite
 * is reported as a failure by the runner. */
#define PF__SUITE_DECL(n) \
  extern const pf_test_case pf_tests_##n[] __attribute__((weak));
PF_SUITE_LIST(PF__SUITE_DECL)
#undef PF__SUITE_DECL

static const struct {
  const char *name;
  const pf_test_case *cases;
} pf_suites[] = {
#define PF__SUITE_ENTRY(n) {#n, pf_tests_##n},
    PF_SUITE_LIST(PF__SUITE_ENTRY)
#undef PF__SUITE_ENTRY
    {NULL, NULL}};
#endif
