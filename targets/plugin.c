/* `plugin`: a target loaded from a user's shared object (the contract is in
 * include/pflow/plugin.h).  The ops table registered here forwards every
 * call to the plug-in's own ops; the plug-in's options come as YAML text in
 * `options`, parsed into a config of their own and validated against the
 * plug-in's parameter spec once the object is loaded (the host config is
 * validated before any plug-in can be loaded, and its specs are static). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/plugin.h"

typedef struct plug {
  void *dl;                  /* dlopen handle */
  const pf_target_ops *ops;  /* the plug-in's table (inside dl) */
  pf_config *options;        /* validated options, alive until destroy */
  void *ctx;                 /* the plug-in's context */
  char *path;
} plug;

/* The API plug-ins may call (plugin.h).  Referencing it from here makes the
 * linker keep every listed function in the pflow executable (this file is
 * always linked, through the target registry), where -rdynamic exports it
 * for the plug-in to resolve. */
typedef void (*pf__anyfn)(void);
extern const pf__anyfn pf__plugin_api[];
const pf__anyfn pf__plugin_api[] = {
    (pf__anyfn)pf__error_set,    (pf__anyfn)pf__error_push,
    (pf__anyfn)pf_error_message, (pf__anyfn)pf_cfg_has,
    (pf__anyfn)pf_cfg_int,       (pf__anyfn)pf_cfg_real,
    (pf__anyfn)pf_cfg_bool,      (pf__anyfn)pf_cfg_str,
    (pf__anyfn)pf_cfg_reals,     (pf__anyfn)pf_cfg_matrix,
    (pf__anyfn)pf_node_get,      (pf__anyfn)pf_node_mark,
    (pf__anyfn)pf_node_kind_of,  (pf__anyfn)pf_node_scalar,
    (pf__anyfn)pf_node_len,      (pf__anyfn)pf_node_item,
    (pf__anyfn)pf_node_key,      (pf__anyfn)pf_node_value,
    (pf__anyfn)pf__config_raise, (pf__anyfn)pf_rng_seed,
    (pf__anyfn)pf_rng_stream,    (pf__anyfn)pf_rng_next,
    (pf__anyfn)pf_rng_advance,   (pf__anyfn)pf_rng_uniform,
    (pf__anyfn)pf_rng_uniforms_open, (pf__anyfn)pf_rng_normal,
    (pf__anyfn)pf_vm_exp,        (pf__anyfn)pf_vm_log,
    (pf__anyfn)pf_vm_log1p,      (pf__anyfn)pf_vm_expm1,
    (pf__anyfn)pf_vm_sincos,     (pf__anyfn)pf_domain_create_str,
    (pf__anyfn)pf_domain_create_free, (pf__anyfn)pf_domain_destroy,
    NULL};

static void plug_destroy(void *ctx)
{
  plug *g = ctx;
  if (!g) return;
  /* The plug-in's context first: its destroy lives in the object. */
  if (g->ops && g->ops->destroy && g->ctx) g->ops->destroy(g->ctx);
  pf_config_destroy(&g->options);
  if (g->dl) dlclose(g->dl);
  free(g->path);
  free(g);
}

static const pf_param no_params[] = {{NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

/* dlopen the object and check its ABI and its ops table. */
static int load(const pf_node *cfg, plug *g)
{
  dlerror();
  g->dl = dlopen(g->path, RTLD_NOW | RTLD_LOCAL);
  if (!g->dl) {
    const char *e = dlerror();
    PF_CFG_RAISE(cfg, "plugin", PF_ECONFIG, "cannot load '%s': %s", g->path,
                 e ? e : "unknown dlopen error");
  }
  const unsigned *abi = dlsym(g->dl, PF_PLUGIN_ABI_SYMBOL);
  if (!abi)
    PF_CFG_RAISE(cfg, "plugin", PF_ECONFIG,
                 "'%s' is not a pflow target plug-in: it does not export '"
                 PF_PLUGIN_ABI_SYMBOL "' (define it with PF_TARGET_PLUGIN "
                 "from pflow/plugin.h)", g->path);
  if (*abi != PF_PLUGIN_ABI)
    PF_CFG_RAISE(cfg, "plugin", PF_ECONFIG,
                 "'%s' was built for plug-in ABI %u but this pflow has ABI "
                 "%u: rebuild it against this pflow's include/pflow/plugin.h",
                 g->path, *abi, PF_PLUGIN_ABI);
  /* POSIX guarantees a data pointer from dlsym converts to a function
   * pointer; the memcpy keeps ISO C's pedantic mode quiet. */
  void *sym = dlsym(g->dl, PF_PLUGIN_ENTRY_SYMBOL);
  pf_target_plugin_fn entry;
  if (!sym)
    PF_CFG_RAISE(cfg, "plugin", PF_ECONFIG,
                 "'%s' is not a pflow target plug-in: it does not export '"
                 PF_PLUGIN_ENTRY_SYMBOL "'", g->path);
  memcpy(&entry, &sym, sizeof entry);
  g->ops = entry();
  if (!g->ops || !g->ops->base.name || !g->ops->create || !g->ops->logp_grad)
    PF_CFG_RAISE(cfg, "plugin", PF_ECONFIG,
                 "plug-in '%s' returned %s", g->path,
                 g->ops ? "an ops table without name, create or logp_grad"
                        : "no ops table");
  return 0;
}

/* Parse `options` (YAML text; absent: empty) into g->options and validate
 * it against the plug-in's spec, filling its defaults. */
static int read_options(const pf_node *cfg, plug *g)
{
  const pf_param *spec = g->ops->base.params ? g->ops->base.params : no_params;
  const char *text = pf_cfg_str(cfg, "options");
  if (!text) {
    PF_TRY(pf_config_create(&g->options));
  } else {
    /* Messages then read "target.options (at cfg.yaml:7:12):1:9: key
     * 'scale': ...": the position inside the text, and where the text is. */
    char name[512];
    pf_mark m = pf_node_mark(pf_node_get(cfg, "options"));
    snprintf(name, sizeof name, "target.options of plug-in '%s' (at %s:%d:%d)",
             g->ops->base.name, m.file ? m.file : "?", m.line, m.col);
    PF_TRY(pf_config_load_string(text, name, &g->options));
  }
  PF_TRY(pf_config_validate(g->options, spec));
  return 0;
}

static int plug_create(const pf_node *cfg, void **ctx, size_t *dim)
{
  int rc = 0;
  plug *g = calloc(1, sizeof *g);
  PF_CHECK(g, PF_ENOMEM, "allocating the plugin target");
  PF_TRY_GOTO(rc, pf_input_path(cfg, "plugin", PF_ECONFIG, &g->path), fail);
  PF_TRY_GOTO(rc, load(cfg, g), fail);
  PF_TRY_GOTO(rc, read_options(cfg, g), fail);
  rc = g->ops->create(pf_config_root(g->options), &g->ctx, dim);
  if (rc < 0) {
    g->ctx = NULL;
    pf__error_push(rc, __FILE__, __LINE__, g->ops->base.name);
    goto fail;
  }
  PF_CHECK_GOTO(rc, *dim > 0, PF_EINVAL, fail,
                "plug-in '%s' (%s) created a target of dimension 0",
                g->ops->base.name, g->path);
  *ctx = g;
  return 0;
fail:
  plug_destroy(g);
  return rc;
}

static int plug_logp_grad(void *ctx, size_t n, const double *X, double *logp,
                          double *grad)
{
  plug *g = ctx;
  return g->ops->logp_grad(g->ctx, n, X, logp, grad);
}

static int plug_sample(void *ctx, pf_rng *rng, size_t n, double *X)
{
  plug *g = ctx;
  PF_CHECK(g->ops->sample, PF_ENOTSUP, "plug-in target '%s' has no exact "
           "sampler", g->ops->base.name);
  return g->ops->sample(g->ctx, rng, n, X);
}

static int plug_moments(void *ctx, double *mean, double *cov)
{
  plug *g = ctx;
  PF_CHECK(g->ops->moments, PF_ENOTSUP, "plug-in target '%s' has no known "
           "mean and covariance", g->ops->base.name);
  return g->ops->moments(g->ctx, mean, cov);
}

static int plug_log_z(void *ctx, double *out)
{
  plug *g = ctx;
  PF_CHECK(g->ops->log_z, PF_ENOTSUP, "plug-in target '%s' has no known "
           "normalizing constant", g->ops->base.name);
  return g->ops->log_z(g->ctx, out);
}

static const pf_domain *plug_domain(void *ctx)
{
  plug *g = ctx;
  return g->ops->domain ? g->ops->domain(g->ctx) : NULL;
}

/* NULL (no sampler) when the plug-in has none, since this table always has
 * a sample op. */
static const char *plug_sample_method(void *ctx)
{
  plug *g = ctx;
  if (!g->ops->sample) return NULL;
  return g->ops->sample_method ? g->ops->sample_method(g->ctx) : "exact";
}

static const pf_param plug_params[] = {
    {"plugin", PF_P_STRING, NULL, NULL,
     "shared object exporting a pflow target (see pflow/plugin.h); relative "
     "to the working directory, then to the config file's directory; $VAR "
     "expanded", PF_PARAM_REQUIRED, NULL, NULL},
    {"options", PF_P_STRING, NULL, NULL,
     "the plug-in's parameters as YAML mapping text, e.g. \"{scale: 2}\"; "
     "validated against the plug-in's own spec", 0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_target_ops pf_target_plugin = {
    .base = {"plugin", "a target from a user's shared object (dlopen)",
             plug_params},
    .example = "{name: plugin, plugin: '${PF_BUILD:-build}/examples/"
               "shifted_gaussian.so', options: '{shift: [1.0, -2.0, 0.5], "
               "scale: 0.5}'}",
    .create = plug_create,
    .destroy = plug_destroy,
    .logp_grad = plug_logp_grad,
    .sample = plug_sample,
    .moments = plug_moments,
    .log_z = plug_log_z,
    .domain = plug_domain,
    .sample_method = plug_sample_method,
};
