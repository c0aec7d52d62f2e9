/* Config: YAML loading, getters, validation against specs (with a private
 * test registry of two fake plug-ins), defaults, overrides, emission. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "pflow/config.h"
#include "pflow/error.h"
#include "pflow/registry.h"

/* ---- specs and a tiny registry ------------------------------------------ */

#define END {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}

static const pf_param kernel_spec[] = {
    {"bandwidth", PF_P_REAL, "1", "(0,inf)", "kernel bandwidth", 0, NULL,
     NULL},
    {"rule", PF_P_STRING, "median", "median|fixed", "bandwidth rule", 0, NULL,
     NULL},
    END};

static const pf_param svgd_params[] = {
    {"step_size", PF_P_REAL, "0.1", "(0,inf)", "step size", 0, NULL, NULL},
    {"kernel", PF_P_SECTION, NULL, NULL, "kernel settings", 0, kernel_spec,
     NULL},
    END};

static const pf_param ula_params[] = {
    {"temperature", PF_P_REAL, "1", "[0,inf]", "temperature", 0, NULL, NULL},
    {"adapt", PF_P_BOOL, "true", NULL, "adapt the step", 0, NULL, NULL},
    END};

static const pf_plugin fake_svgd = {"svgd", "fake Stein sampler", svgd_params};
static const pf_plugin fake_ula = {"ula", "fake Langevin sampler", ula_params};
static const pf_plugin *const fake_items[] = {&fake_svgd, &fake_ula};

static const pf_param common_params[] = {
    {"n_iter", PF_P_INT, "100", "[0,1e9]", "iterations", 0, NULL, NULL},
    {"n_particles", PF_P_INT, "10", "[1,1e6]", "particles", 0, NULL, NULL},
    END};

static const pf_registry fake_reg = {"sampler", "samplers", fake_items, 2,
                                     common_params};

static const pf_param target_spec[] = {
    {"mean", PF_P_REALS, NULL, NULL, "mean vector", PF_PARAM_REQUIRED, NULL,
     NULL},
    {"cov", PF_P_MATRIX, NULL, NULL, "covariance", 0, NULL, NULL},
    {"scale", PF_P_REAL, "1", "(0,inf)", "scale", 0, NULL, NULL},
    END};

static const pf_param output_spec[] = {
    {"path", PF_P_STRING, "out.h5", NULL, "output file", 0, NULL, NULL},
    {"every", PF_P_INT, "10", "[1,inf)", "write every N iterations", 0, NULL,
     NULL},
    END};

static const pf_param top_spec[] = {
    {"seed", PF_P_INT, "1", "[0,1e18]", "random seed", 0, NULL, NULL},
    {"title", PF_P_STRING, NULL, NULL, "free text", 0, NULL, NULL},
    {"verbose", PF_P_BOOL, "false", NULL, "chatty", 0, NULL, NULL},
    {"metrics", PF_P_STRINGS, "[energy]", "energy|ksd|mmd|moments",
     "diagnostics", 0, NULL, NULL},
    {"policy", PF_P_STRING, "abort", "abort|backoff", "non-finite policy", 0,
     NULL, NULL},
    {"target", PF_P_SECTION, NULL, NULL, "target", PF_PARAM_REQUIRED,
     target_spec, NULL},
    {"sampler", PF_P_PLUGIN, NULL, NULL, "sampler", PF_PARAM_REQUIRED, NULL,
     &fake_reg},
    {"output", PF_P_SECTION, NULL, NULL, "output", 0, output_spec, NULL},
    END};

/* Line numbers below are relied on by the tests. */
static const char base_yaml[] =
    "seed: 42\n"                      /* 1 */
    "target:\n"                       /* 2 */
    "  mean: [1, 2.5]\n"              /* 3 */
    "  cov: [[1, 0], [0, 2]]\n"       /* 4 */
    "sampler:\n"                      /* 5 */
    "  name: svgd\n"                  /* 6 */
    "  step_size: 0.05\n"             /* 7 */
    "  kernel: {bandwidth: 0.5}\n"    /* 8 */
    "metrics: [energy, ksd]\n";       /* 9 */

/* ---- helpers ------------------------------------------------------------ */

static int contains(const char *hay, const char *needle)
{
  return hay && needle && strstr(hay, needle) != NULL;
}

/* Load (and validate when spec is given) text that must fail with `code`
 * and a message containing every one of the NULL-terminated substrings. */
static int expect_fail(const char *text, const pf_param *spec, int code,
                       const char *const *subs)
{
  pf_config *c = NULL;
  pf_error_clear();
  int rc = pf_config_load_string(text, "t.yaml", &c);
  if (rc == 0 && spec) rc = pf_config_validate(c, spec);
  pf_config_destroy(&c);
  if (rc != code) {
    fprintf(stderr, "    expected %s, got %s: %s\n    for: %s\n",
            pf_err_name(code), pf_err_name(rc), pf_error_message(), text);
    return 1;
  }
  for (; *subs; subs++) {
    if (!contains(pf_error_message(), *subs)) {
      fprintf(stderr, "    message \"%s\"\n    lacks \"%s\"\n",
              pf_error_message(), *subs);
      return 1;
    }
  }
  return 0;
}

#define EXPECT_FAIL(text, spec, code, ...)                             \
  do {                                                                 \
    const char *const subs_[] = {__VA_ARGS__, NULL};                   \
    if (expect_fail((text), (spec), (code), subs_))                    \
      PF_T_FAIL("wrong failure for the config above");                 \
  } while (0)

/* Structural equality through the public accessors. */
static int tree_equal(const pf_node *a, const pf_node *b)
{
  if (pf_node_kind_of(a) != pf_node_kind_of(b)) return 0;
  if (pf_node_kind_of(a) == PF_NODE_SCALAR)
    return strcmp(pf_node_scalar(a), pf_node_scalar(b)) == 0;
  if (pf_node_len(a) != pf_node_len(b)) return 0;
  for (size_t i = 0; i < pf_node_len(a); i++) {
    if (pf_node_kind_of(a) == PF_NODE_MAP) {
      if (strcmp(pf_node_key(a, i), pf_node_key(b, i))) return 0;
      if (!tree_equal(pf_node_value(a, i), pf_node_value(b, i))) return 0;
    } else if (!tree_equal(pf_node_item(a, i), pf_node_item(b, i))) {
      return 0;
    }
  }
  return 1;
}

static int load_valid(const char *text, pf_config **c)
{
  int rc = pf_config_load_string(text, "t.yaml", c);
  if (rc == 0) rc = pf_config_validate(*c, top_spec);
  return rc;
}

/* ---- tests -------------------------------------------------------------- */

static int test_load_getters(void)
{
  pf_config *c = NULL;
  PF_T_OK(load_valid(base_yaml, &c));
  const pf_node *r = pf_config_root(c);
  long long seed;
  double step, *mean = NULL, *cov = NULL;
  size_t n, rows, cols;
  PF_T_OK(pf_cfg_int(r, "seed", &seed));
  PF_T_ASSERT(seed == 42, "seed %lld", seed);
  PF_T_OK(pf_cfg_real(r, "sampler.step_size", &step));
  PF_T_NEAR(step, 0.05, 0);
  PF_T_ASSERT(!strcmp(pf_cfg_str(r, "sampler.name"), "svgd"), "name");
  PF_T_OK(pf_cfg_reals(r, "target.mean", &mean, &n));
  PF_T_ASSERT(n == 2 && mean[0] == 1 && mean[1] == 2.5, "mean");
  free(mean);
  PF_T_OK(pf_cfg_matrix(r, "target.cov", &cov, &rows, &cols));
  PF_T_ASSERT(rows == 2 && cols == 2 && cov[0] == 1 && cov[1] == 0 &&
                  cov[2] == 0 && cov[3] == 2, "cov");
  free(cov);
  /* A single number is a one-element list. */
  PF_T_OK(pf_cfg_reals(r, "sampler.step_size", &mean, &n));
  PF_T_ASSERT(n == 1 && mean[0] == 0.05, "scalar as list");
  free(mean);

  /* Marks and paths. */
  const pf_node *m1 = pf_node_get(r, "target.mean[1]");
  PF_T_ASSERT(m1 && !strcmp(pf_node_scalar(m1), "2.5"), "mean[1]");
  pf_mark mk = pf_node_mark(pf_node_get(r, "target.mean"));
  PF_T_ASSERT(!strcmp(mk.file, "t.yaml") && mk.line == 3 && mk.col == 9,
              "mark %s:%d:%d", mk.file, mk.line, mk.col);
  mk = pf_node_mark(pf_node_get(r, "sampler.kernel.bandwidth"));
  PF_T_ASSERT(mk.line == 8 && mk.col == 23, "flow mark %d:%d", mk.line,
              mk.col);
  PF_T_ASSERT(pf_node_kind_of(pf_node_get(r, "sampler")) == PF_NODE_MAP,
              "kind");
  PF_T_ASSERT(!strcmp(pf_node_key(r, 0), "seed"), "file order");
  PF_T_ASSERT(pf_node_get(r, "target.mean[2]") == NULL, "index bound");
  PF_T_ASSERT(pf_node_get(r, "nope.x") == NULL, "absent");
  PF_T_ASSERT(pf_cfg_has(r, "target.cov") && !pf_cfg_has(r, "title"), "has");
  PF_T_ASSERT(pf_cfg_str(r, "title") == NULL, "absent string");

  /* Getter errors name the key and its position. */
  long long x;
  PF_T_ASSERT(pf_cfg_int(r, "sampler.name", &x) == PF_ECONFIG, "int(name)");
  PF_T_ASSERT(contains(pf_error_message(), "t.yaml:6:9: key 'sampler.name'")
              && contains(pf_error_message(), "expected an integer"),
              "%s", pf_error_message());
  PF_T_ASSERT(pf_cfg_int(r, "sampler.nope", &x) == PF_ECONFIG, "missing");
  PF_T_ASSERT(contains(pf_error_message(), "t.yaml:6:3: key 'sampler.nope'"),
              "%s", pf_error_message());
  PF_T_ASSERT(pf_cfg_bool(r, "seed", (int *)&x) == PF_ECONFIG, "bool(seed)");

  /* pf__config_raise: value mark when present, else the mapping's. */
  const pf_node *t = pf_node_get(r, "target");
  PF_T_ASSERT(pf__config_raise(t, "cov", PF_ELINALG, __FILE__, __LINE__,
                               "not positive definite (%d)", 3) == PF_ELINALG,
              "raise code");
  PF_T_ASSERT(!strcmp(pf_error_message(), "t.yaml:4:8: key 'target.cov': "
                                          "not positive definite (3)"),
              "%s", pf_error_message());
  PF_T_ASSERT(pf__config_raise(t, "absent", PF_ECONFIG, __FILE__, __LINE__,
                               "x") == PF_ECONFIG, "raise code");
  PF_T_ASSERT(!strcmp(pf_error_message(), "t.yaml:3:3: key 'target.absent': x"),
              "%s", pf_error_message());
  pf_config_destroy(&c);
  PF_T_ASSERT(c == NULL, "destroy clears the pointer");
  pf_config_destroy(&c);
  pf_config_destroy(NULL);
  return 0;
}

static int test_defaults(void)
{
  pf_config *c = NULL;
  PF_T_OK(load_valid(base_yaml, &c));
  const pf_node *r = pf_config_root(c);
  long long v;
  int b;
  /* Given values are not defaults. */
  PF_T_ASSERT(!pf_node_is_default(pf_node_get(r, "seed")), "seed");
  PF_T_ASSERT(!pf_node_is_default(pf_node_get(r, "sampler.kernel.bandwidth")),
              "bandwidth");
  /* Plug-in common and own params, nested section, top-level section. */
  PF_T_OK(pf_cfg_int(r, "sampler.n_iter", &v));
  PF_T_ASSERT(v == 100, "n_iter %lld", v);
  PF_T_ASSERT(pf_node_is_default(pf_node_get(r, "sampler.n_iter")), "flag");
  PF_T_ASSERT(!strcmp(pf_cfg_str(r, "sampler.kernel.rule"), "median"), "rule");
  PF_T_ASSERT(pf_node_is_default(pf_node_get(r, "sampler.kernel.rule")), "f");
  PF_T_OK(pf_cfg_bool(r, "verbose", &b));
  PF_T_ASSERT(b == 0, "verbose");
  PF_T_ASSERT(!strcmp(pf_cfg_str(r, "output.path"), "out.h5"), "output");
  PF_T_ASSERT(pf_node_is_default(pf_node_get(r, "output")), "section flag");
  PF_T_OK(pf_cfg_int(r, "output.every", &v));
  PF_T_ASSERT(v == 10, "every");
  PF_T_ASSERT(!pf_cfg_has(r, "title"), "no default: stays absent");
  /* A default's mark is its mapping's. */
  pf_mark mk = pf_node_mark(pf_node_get(r, "sampler.n_iter"));
  PF_T_ASSERT(mk.line == 6 && mk.col == 3, "default mark %d:%d", mk.line,
              mk.col);
  /* Defaults come after the file's keys, in spec order. */
  const pf_node *s = pf_node_get(r, "sampler");
  PF_T_ASSERT(pf_node_len(s) == 5, "sampler len %zu", pf_node_len(s));
  PF_T_ASSERT(!strcmp(pf_node_key(s, 1), "step_size") &&
                  !strcmp(pf_node_key(s, 3), "n_iter") &&
                  !strcmp(pf_node_key(s, 4), "n_particles"),
              "order");
  PF_T_ASSERT(pf_node_len(r) == 7 && !strcmp(pf_node_key(r, 4), "verbose") &&
                  !strcmp(pf_node_key(r, 5), "policy") &&
                  !strcmp(pf_node_key(r, 6), "output"),
              "top order %s %s %s", pf_node_key(r, 4), pf_node_key(r, 5),
              pf_node_key(r, 6));

  /* Idempotent: a second validation changes nothing. */
  char *e1 = NULL, *e2 = NULL;
  PF_T_OK(pf_config_emit(c, 1, &e1));
  PF_T_OK(pf_config_validate(c, top_spec));
  PF_T_OK(pf_config_emit(c, 1, &e2));
  int same = !strcmp(e1, e2);
  if (!same) fprintf(stderr, "%s---\n%s", e1, e2);
  free(e1);
  free(e2);
  PF_T_ASSERT(same, "validate twice");

  /* The other plug-in gets its own defaults. */
  pf_config_destroy(&c);
  PF_T_OK(load_valid("target: {mean: 0}\nsampler: {name: ula, "
                     "temperature: .inf}\n", &c));
  r = pf_config_root(c);
  PF_T_OK(pf_cfg_bool(r, "sampler.adapt", &b));
  PF_T_ASSERT(b == 1, "adapt");
  double t;
  PF_T_OK(pf_cfg_real(r, "sampler.temperature", &t));
  PF_T_ASSERT(isinf(t) && t > 0, "closed inf bound accepts .inf");
  PF_T_ASSERT(pf_node_get(r, "sampler.step_size") == NULL, "no svgd keys");
  pf_config_destroy(&c);
  return 0;
}

static int test_errors(void)
{
  /* Misspelled keys, with suggestions and the valid list. */
  EXPECT_FAIL("target: {mean: 0}\nsampler:\n  name: svgd\n  step_sise: 0.1\n",
              top_spec, PF_ECONFIG,
              "t.yaml:4:3: unknown key 'sampler.step_sise'; did you mean "
              "'step_size'? (valid: name, n_iter, n_particles, step_size, "
              "kernel)");
  EXPECT_FAIL("sede: 1\n", top_spec, PF_ECONFIG,
              "t.yaml:1:1: unknown key 'sede'; did you mean 'seed'?");
  EXPECT_FAIL("target: {mean: 0, zzzzzz: 1}\n", top_spec, PF_ECONFIG,
              "t.yaml:1:19: unknown key 'target.zzzzzz' (valid: mean, cov, "
              "scale)");
  /* Wrong types. */
  EXPECT_FAIL("seed: abc\n", top_spec, PF_ECONFIG,
              "t.yaml:1:7: key 'seed': expected an integer in [0,1e18], "
              "found 'abc'");
  EXPECT_FAIL("seed: 1.5\n", top_spec, PF_ECONFIG, "key 'seed'", "'1.5'");
  EXPECT_FAIL("verbose: maybe\n", top_spec, PF_ECONFIG,
              "t.yaml:1:10: key 'verbose': expected a boolean");
  EXPECT_FAIL("target: {mean: [1, x]}\n", top_spec, PF_ECONFIG,
              "t.yaml:1:20: key 'target.mean[1]': expected a finite real, "
              "found 'x'");
  EXPECT_FAIL("target: {mean: 0, cov: [[1, 0], [0]]}\n", top_spec, PF_ECONFIG,
              "key 'target.cov[1]'", "first row");
  EXPECT_FAIL("target: {mean: 0, cov: [1, 2]}\n", top_spec, PF_ECONFIG,
              "key 'target.cov[0]'", "matrix row");
  EXPECT_FAIL("target: 3\n", top_spec, PF_ECONFIG,
              "t.yaml:1:9: key 'target': expected a mapping");
  EXPECT_FAIL("target: {mean: 0}\nsampler: svgd\n", top_spec, PF_ECONFIG,
              "t.yaml:2:10: key 'sampler': expected a mapping");
  /* Out of range, special floats. */
  EXPECT_FAIL("target: {mean: 0}\nsampler: {name: svgd, step_size: -1}\n",
              top_spec, PF_ECONFIG,
              "t.yaml:2:34: key 'sampler.step_size': expected a real in "
              "(0,inf), found '-1'");
  EXPECT_FAIL("target: {mean: 0}\nsampler: {name: svgd, step_size: .inf}\n",
              top_spec, PF_ECONFIG, "(0,inf), found '.inf'");
  EXPECT_FAIL("target: {mean: 0}\nsampler: {name: ula, temperature: .nan}\n",
              top_spec, PF_ECONFIG, "NaN");
  EXPECT_FAIL("target: {mean: .inf}\n", top_spec, PF_ECONFIG,
              "key 'target.mean': expected a finite real");
  EXPECT_FAIL("target: {mean: 0}\nsampler: {name: ula, n_particles: 0}\n",
              top_spec, PF_ECONFIG,
              "key 'sampler.n_particles': expected an integer in [1,1e6], "
              "found '0'");
  /* Choices. */
  EXPECT_FAIL("policy: abrot\n", top_spec, PF_ECONFIG,
              "t.yaml:1:9: key 'policy': expected one of (abort, backoff), "
              "found 'abrot'; did you mean 'abort'?");
  EXPECT_FAIL("metrics: [energy, kds]\n", top_spec, PF_ECONFIG,
              "t.yaml:1:19: key 'metrics[1]'", "did you mean 'ksd'?");
  /* Unknown plug-in. */
  EXPECT_FAIL("target: {mean: 0}\nsampler:\n  name: svdg\n", top_spec,
              PF_ECONFIG,
              "t.yaml:3:9: key 'sampler.name': unknown sampler 'svdg'; did "
              "you mean 'svgd'? valid: svgd, ula");
  EXPECT_FAIL("target: {mean: 0}\nsampler:\n  name: zzzzzzzz\n", top_spec,
              PF_ECONFIG, "unknown sampler 'zzzzzzzz'; valid: svgd, ula");
  /* Missing required keys: the mapping's position and the key. */
  EXPECT_FAIL("target: {mean: 0}\n", top_spec, PF_ECONFIG,
              "t.yaml:1:1: missing required key 'sampler' at the top level");
  EXPECT_FAIL("target: {mean: 0}\nsampler:\n  n_iter: 3\n", top_spec,
              PF_ECONFIG,
              "t.yaml:3:3: missing required key 'sampler.name' in mapping "
              "'sampler'", "valid: svgd, ula");
  EXPECT_FAIL("target:\n  cov: [[1]]\nsampler: {name: ula}\n", top_spec,
              PF_ECONFIG,
              "t.yaml:2:3: missing required key 'target.mean' in mapping "
              "'target'");
  /* Malformed YAML and the refused YAML features. */
  EXPECT_FAIL("seed: 1\ntarget: {mean: [1, 2}\n", NULL, PF_EPARSE, "t.yaml:2:",
              "(while parsing a flow sequence at line 2, column 16)");
  EXPECT_FAIL("seed: 1\na: b: c\n", NULL, PF_EPARSE,
              "t.yaml:2:5: mapping values are not allowed in this context");
  EXPECT_FAIL("seed: 1\n  x: 2\n", NULL, PF_EPARSE, "t.yaml:2:");
  EXPECT_FAIL("seed: 1\nsampler:\n  name: a\n  name: b\n", NULL, PF_EPARSE,
              "t.yaml:4:3: duplicate key 'sampler.name' (first given at line "
              "3, column 3)");
  EXPECT_FAIL("a: &x 1\nb: *x\n", NULL, PF_EPARSE,
              "t.yaml:1:4: key 'a': anchors ('&x') are not supported");
  EXPECT_FAIL("seed: !!int 3\n", NULL, PF_EPARSE,
              "t.yaml:1:7: key 'seed': tags ('tag:yaml.org,2002:int')");
  EXPECT_FAIL("seed: 1\n---\nseed: 2\n", NULL, PF_EPARSE,
              "t.yaml:2:1: only one YAML document");
  EXPECT_FAIL("[1, 2]\n", NULL, PF_ECONFIG,
              "t.yaml:1:1: the top level of a config must be a mapping");
  EXPECT_FAIL("{[1]: 2}\n", NULL, PF_EPARSE, "only plain text keys");

  /* Unreadable files. */
  pf_config *c = NULL;
  PF_T_ASSERT(pf_config_load("/nonexistent/pflow.yaml", &c) == PF_EIO, "EIO");
  PF_T_ASSERT(contains(pf_error_message(), "/nonexistent/pflow.yaml"), "%s",
              pf_error_message());
  PF_T_ASSERT(pf_config_load(pf_test_tmpdir(), &c) == PF_EIO, "directory");
  PF_T_ASSERT(c == NULL, "no config on failure");
  return 0;
}

static int test_file_and_numbers(void)
{
  char path[600];
  snprintf(path, sizeof path, "%s/cfg.yaml", pf_test_tmpdir());
  FILE *f = fopen(path, "w");
  PF_T_ASSERT(f, "create %s", path);
  fputs("# comment\nseed: 1e3\ntarget:\n  mean: [-1, +2, .5, 3., 1e-2]\n"
        "sampler: {name: ula, n_iter: 2.0e2}\nverbose: Yes\n", f);
  fclose(f);
  pf_config *c = NULL;
  PF_T_OK(pf_config_load(path, &c));
  PF_T_OK(pf_config_validate(c, top_spec));
  const pf_node *r = pf_config_root(c);
  long long v;
  int b;
  double *m;
  size_t n;
  PF_T_OK(pf_cfg_int(r, "seed", &v));
  PF_T_ASSERT(v == 1000, "1e3 is an integer");
  PF_T_OK(pf_cfg_int(r, "sampler.n_iter", &v));
  PF_T_ASSERT(v == 200, "2.0e2");
  PF_T_OK(pf_cfg_bool(r, "verbose", &b));
  PF_T_ASSERT(b == 1, "Yes");
  PF_T_OK(pf_cfg_reals(r, "target.mean", &m, &n));
  PF_T_ASSERT(n == 5 && m[0] == -1 && m[1] == 2 && m[2] == 0.5 && m[3] == 3 &&
                  m[4] == 0.01, "reals");
  free(m);
  pf_mark mk = pf_node_mark(pf_node_get(r, "seed"));
  PF_T_ASSERT(!strcmp(mk.file, path) && mk.line == 2 && mk.col == 7,
              "file mark %s:%d:%d", mk.file, mk.line, mk.col);
  pf_config_destroy(&c);

  /* Not numbers: hex, words, overflow. */
  EXPECT_FAIL("seed: 0x10\n", top_spec, PF_ECONFIG, "found '0x10'");
  EXPECT_FAIL("target: {mean: inf}\n", top_spec, PF_ECONFIG, "found 'inf'");
  EXPECT_FAIL("target: {mean: 1e999}\n", top_spec, PF_ECONFIG,
              "found '1e999'");
  EXPECT_FAIL("seed: 99999999999999999999\n", top_spec, PF_ECONFIG,
              "key 'seed'");
  /* An empty file is an empty config (and then lacks required keys). */
  EXPECT_FAIL("# nothing\n", top_spec, PF_ECONFIG,
              "missing required key 'target'");
  return 0;
}

static int test_quoted_vs_plain(void)
{
  static const pf_param spec[] = {
      {"a", PF_P_STRING, NULL, NULL, "", 0, NULL, NULL},
      {"b", PF_P_STRING, NULL, NULL, "", 0, NULL, NULL},
      {"n", PF_P_INT, NULL, NULL, "", 0, NULL, NULL},
      {"t", PF_P_BOOL, NULL, NULL, "", 0, NULL, NULL},
      END};
  pf_config *c = NULL;
  PF_T_OK(pf_config_load_string("a: \"1\"\nb: 1\nn: 1\nt: on\n", "q.yaml", &c));
  PF_T_OK(pf_config_validate(c, spec));
  const pf_node *r = pf_config_root(c);
  PF_T_ASSERT(!strcmp(pf_cfg_str(r, "a"), "1") && !strcmp(pf_cfg_str(r, "b"),
                                                           "1"), "strings");
  long long v;
  PF_T_ASSERT(pf_cfg_int(r, "a", &v) == PF_ECONFIG, "quoted is no number");
  PF_T_ASSERT(contains(pf_error_message(), "the quoted string '1'"), "%s",
              pf_error_message());
  PF_T_OK(pf_cfg_int(r, "b", &v));
  char *e = NULL;
  PF_T_OK(pf_config_emit(c, 0, &e));
  int ok = contains(e, "a: \"1\"\n") && contains(e, "b: 1\n");
  if (!ok) fprintf(stderr, "%s", e);
  free(e);
  PF_T_ASSERT(ok, "emission keeps the quotes");
  pf_config_destroy(&c);

  EXPECT_FAIL("n: '5'\n", spec, PF_ECONFIG,
              "t.yaml:1:4: key 'n': expected an integer, found the "
              "quoted string '5'");
  EXPECT_FAIL("t: 'true'\n", spec, PF_ECONFIG, "key 't'", "quoted");
  EXPECT_FAIL("a: ~\n", spec, PF_ECONFIG, "key 'a': expected a string");
  EXPECT_FAIL("a:\n", spec, PF_ECONFIG, "found an empty value");
  /* A block scalar is a string too. */
  PF_T_OK(pf_config_load_string("n: |\n  7\n", "q.yaml", &c));
  PF_T_ASSERT(pf_config_validate(c, spec) == PF_ECONFIG, "block scalar int");
  pf_config_destroy(&c);
  return 0;
}

static int test_overrides(void)
{
  pf_config *c = NULL;
  PF_T_OK(pf_config_load_string(base_yaml, "t.yaml", &c));
  PF_T_OK(pf_config_validate(c, top_spec));
  const pf_node *r = pf_config_root(c);
  /* Replace a value in place: it keeps its position, gets the argv mark. */
  PF_T_OK(pf_config_override(c, "sampler.step_size=0.2", 3));
  double d;
  PF_T_OK(pf_cfg_real(r, "sampler.step_size", &d));
  PF_T_NEAR(d, 0.2, 0);
  const pf_node *s = pf_node_get(r, "sampler");
  PF_T_ASSERT(!strcmp(pf_node_key(s, 1), "step_size"), "position kept");
  pf_mark mk = pf_node_mark(pf_node_get(r, "sampler.step_size"));
  PF_T_ASSERT(!strcmp(mk.file, "command line") && mk.line == 3 && mk.col == 1,
              "mark %s:%d:%d", mk.file, mk.line, mk.col);
  /* Flow list, flow map, quoted text, new keys, nested creation. */
  PF_T_OK(pf_config_override(c, "target.mean=[3, 4, 5]", 4));
  PF_T_ASSERT(pf_node_len(pf_node_get(r, "target.mean")) == 3, "list");
  PF_T_ASSERT(!strcmp(pf_node_get(r, "target.mean[2]") ? "5" : "", "5") &&
                  !strcmp(pf_node_scalar(pf_node_get(r, "target.mean[2]")),
                          "5"), "item path");
  PF_T_OK(pf_config_override(c, "target.mean[0]=9", 5));
  PF_T_ASSERT(!strcmp(pf_cfg_str(r, "target.mean[0]"), "9"), "indexed");
  PF_T_OK(pf_config_override(c, "title='no: problem'", 6));
  PF_T_ASSERT(!strcmp(pf_cfg_str(r, "title"), "no: problem"), "quoted");
  PF_T_OK(pf_config_override(c, "output.path=x.h5", 7));
  PF_T_ASSERT(!pf_node_is_default(pf_node_get(r, "output")),
              "touched section is no longer a default");
  PF_T_ASSERT(pf_node_is_default(pf_node_get(r, "output.every")), "sibling");
  PF_T_OK(pf_config_override(c, "extra.deep.key=on", 8));
  PF_T_ASSERT(!strcmp(pf_cfg_str(r, "extra.deep.key"), "on"), "created");
  PF_T_ASSERT(pf_node_mark(pf_node_get(r, "extra.deep")).line == 8, "mark");
  /* ... which validation then reports with the argument's position. */
  PF_T_ASSERT(pf_config_validate(c, top_spec) == PF_ECONFIG, "extra");
  PF_T_ASSERT(contains(pf_error_message(),
                       "command line:8:1: unknown key 'extra'"),
              "%s", pf_error_message());
  pf_config_destroy(&c);

  /* Replacing a plug-in mapping. */
  PF_T_OK(pf_config_load_string(base_yaml, "t.yaml", &c));
  r = pf_config_root(c);
  PF_T_OK(pf_config_override(c, "sampler={name: ula, temperature: 2}", 1));
  PF_T_OK(pf_config_override(c, " seed = 7 ", 2));
  PF_T_OK(pf_config_validate(c, top_spec));
  PF_T_ASSERT(!strcmp(pf_cfg_str(r, "sampler.name"), "ula"), "plugin");
  PF_T_ASSERT(pf_node_get(r, "sampler.step_size") == NULL, "old keys gone");
  long long seed;
  PF_T_OK(pf_cfg_int(r, "seed", &seed));
  PF_T_ASSERT(seed == 7, "spaces around the key");
  PF_T_ASSERT(pf_config_override(c, "sampler.nam=svgd", 9) == 0, "set");
  PF_T_ASSERT(pf_config_validate(c, top_spec) == PF_ECONFIG, "typo");
  PF_T_ASSERT(contains(pf_error_message(), "command line:9:1: unknown key "
                                           "'sampler.nam'; did you mean "
                                           "'name'?"),
              "%s", pf_error_message());

  /* Usage errors quote the argument. */
  PF_T_ASSERT(pf_config_override(c, "seed", 4) == PF_EUSAGE, "no =");
  PF_T_ASSERT(contains(pf_error_message(), "'seed' (argument 4)"), "%s",
              pf_error_message());
  PF_T_ASSERT(pf_config_override(c, "=3", 5) == PF_EUSAGE, "empty key");
  PF_T_ASSERT(contains(pf_error_message(), "'=3'"), "%s", pf_error_message());
  PF_T_ASSERT(pf_config_override(c, "a..b=3", 5) == PF_EUSAGE, "empty part");
  PF_T_ASSERT(pf_config_override(c, "seed.x=3", 6) == PF_EUSAGE, "scalar");
  PF_T_ASSERT(contains(pf_error_message(), "'seed.x=3' (argument 6)") &&
                  contains(pf_error_message(), "not a mapping"),
              "%s", pf_error_message());
  PF_T_ASSERT(pf_config_override(c, "target.mean=[1, 2", 7) == PF_EUSAGE,
              "bad YAML");
  PF_T_ASSERT(contains(pf_error_message(), "'target.mean=[1, 2' (argument 7)"),
              "%s", pf_error_message());
  PF_T_ASSERT(pf_config_override(c, "target.mean[5]=1", 8) == PF_EUSAGE,
              "index");
  PF_T_ASSERT(pf_config_override(c, "a=*x", 8) == PF_EUSAGE, "alias");
  pf_config_destroy(&c);

  /* An empty config grows from overrides alone. */
  PF_T_OK(pf_config_create(&c));
  PF_T_OK(pf_config_override(c, "target.mean=0", 1));
  PF_T_OK(pf_config_override(c, "sampler.name=svgd", 2));
  PF_T_OK(pf_config_validate(c, top_spec));
  pf_config_destroy(&c);
  return 0;
}

static int roundtrip(const char *text, int validate, int mark_defaults)
{
  pf_config *a = NULL, *b = NULL;
  char *e1 = NULL, *e2 = NULL;
  int bad = 0;
  PF_T_OK(pf_config_load_string(text, "t.yaml", &a));
  if (validate) PF_T_OK(pf_config_validate(a, top_spec));
  PF_T_OK(pf_config_emit(a, mark_defaults, &e1));
  if (pf_config_load_string(e1, "emitted", &b)) {
    fprintf(stderr, "    emitted text does not load: %s\n%s",
            pf_error_message(), e1);
    bad = 1;
  } else {
    if (validate && pf_config_validate(b, top_spec)) bad = 1;
    if (pf_config_emit(b, 0, &e2)) bad = 1;
    if (!bad && !tree_equal(pf_config_root(a), pf_config_root(b))) bad = 1;
    if (!bad && !mark_defaults && strcmp(e1, e2)) bad = 1;
    if (bad) fprintf(stderr, "    first:\n%s    second:\n%s", e1, e2);
  }
  free(e1);
  free(e2);
  pf_config_destroy(&a);
  pf_config_destroy(&b);
  return bad;
}

static int test_emit(void)
{
  static const char awkward[] =
      "plain: hello world\n"
      "q1: \"1\"\n"
      "q2: 'yes'\n"
      "colon: 'a: b'\n"
      "hash: 'x #y'\n"
      "commas: a, b\n"
      "lead: '- x'\n"
      "esc: \"tab\\there\\nnewline \\\"q\\\" back\\\\slash\"\n"
      "block: |\n  two\n  lines\n"
      "empty_str: ''\n"
      "nothing:\n"
      "tilde: ~\n"
      "utf8: caf\xc3\xa9\n"
      "\"key with: colon\": 1\n"
      "list: [1, -2.5, .inf, 'str', [], {}, ~]\n"
      "nested: [[1, 2], [3, 4]]\n"
      "maps:\n  - {a: 1, b: [x, y]}\n  - name: z\n    sub: {c: d}\n"
      "  - [{e: 1}]\n"
      "deep: {a: {b: {c: [1]}}}\n"
      "emptymap: {}\n";
  PF_T_ASSERT(!roundtrip(awkward, 0, 0), "awkward round trip");
  PF_T_ASSERT(!roundtrip(base_yaml, 1, 0), "validated round trip");
  PF_T_ASSERT(!roundtrip(base_yaml, 1, 1), "with default markers");
  PF_T_ASSERT(!roundtrip("{}", 0, 0), "empty");

  /* The exact shape of a resolved config. */
  pf_config *c = NULL;
  char *e = NULL;
  PF_T_OK(pf_config_load_string(base_yaml, "t.yaml", &c));
  PF_T_OK(pf_config_validate(c, top_spec));
  PF_T_OK(pf_config_emit(c, 1, &e));
  static const char want[] =
      "seed: 42\n"
      "target:\n"
      "  mean: [1, 2.5]\n"
      "  cov: [[1, 0], [0, 2]]\n"
      "  scale: 1  # default\n"
      "sampler:\n"
      "  name: svgd\n"
      "  step_size: 0.05\n"
      "  kernel:\n"
      "    bandwidth: 0.5\n"
      "    rule: median  # default\n"
      "  n_iter: 100  # default\n"
      "  n_particles: 10  # default\n"
      "metrics: [energy, ksd]\n"
      "verbose: false  # default\n"
      "policy: abort  # default\n"
      "output:  # default\n"
      "  path: out.h5  # default\n"
      "  every: 10  # default\n";
  int ok = !strcmp(e, want);
  if (!ok) fprintf(stderr, "    got:\n%s", e);
  free(e);
  PF_T_ASSERT(ok, "resolved config text");
  PF_T_OK(pf_config_emit(c, 0, &e));
  ok = !contains(e, "#");
  free(e);
  PF_T_ASSERT(ok, "no markers without mark_defaults");
  pf_config_destroy(&c);

  /* Emitted sequences of mappings use block style. */
  PF_T_OK(pf_config_load_string("l: [{a: 1, b: 2}]\n", "t.yaml", &c));
  PF_T_OK(pf_config_emit(c, 0, &e));
  ok = !strcmp(e, "l:\n  - a: 1\n    b: 2\n");
  if (!ok) fprintf(stderr, "    got:\n%s", e);
  free(e);
  pf_config_destroy(&c);
  PF_T_ASSERT(ok, "block sequence of mappings");
  return 0;
}

static int test_params_print(void)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  PF_T_ASSERT(f, "open_memstream");
  pf_params_print(top_spec, f, 2);
  fclose(f);
  int ok = contains(buf, "  name ") && contains(buf, "description") &&
           contains(buf, "seed ") && contains(buf, "integer") &&
           contains(buf, "[0,1e18]") && contains(buf, "random seed") &&
           contains(buf, "abort|backoff") && contains(buf, "required") &&
           contains(buf, "one of: svgd, ula") &&
           contains(buf, "list of strings") &&
           contains(buf, "\n    path ") &&     /* nested section, indented */
           contains(buf, "\n    n_iter ") &&   /* plug-in common params */
           contains(buf, "[energy]");
  if (!ok) fprintf(stderr, "%s", buf);
  free(buf);
  PF_T_ASSERT(ok, "help table");
  PF_T_ASSERT(!strcmp(pf_ptype_name(PF_P_REALS), "list of reals") &&
                  !strcmp(pf_ptype_name(PF_P_INT), "integer"),
              "type names");
  return 0;
}

const pf_test_case pf_tests_config[] = {
    {"load_getters", test_load_getters},
    {"defaults", test_defaults},
    {"errors", test_errors},
    {"file_and_numbers", test_file_and_numbers},
    {"quoted_vs_plain", test_quoted_vs_plain},
    {"overrides", test_overrides},
    {"emit", test_emit},
    {"params_print", test_params_print},
    {NULL, NULL}};
