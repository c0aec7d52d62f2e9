/* The run driver: config -> target, sampler, particles, diagnostics ->
 * iterations -> HDF5 output, with progress, signals and failure policy. */
#include "pflow/run.h"

#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pflow/checkpoint.h"
#include "pflow/comm.h"
#include "pflow/diagnostic.h"
#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/particles.h"
#include "pflow/postsel.h"
#include "pflow/progress.h"
#include "pflow/sampler.h"
#include "pflow/target.h"
#include "pflow/version.h"
#include "pflow/vmath.h"

static const pf_param reference_params[] = {
    {"source", PF_P_STRING, "none", "none|exact|file",
     "reference set for the diagnostics: none; exact (n draws from the "
     "target's sampler); file (a dataset of an HDF5 file)", 0, NULL, NULL},
    {"n", PF_P_INT, "1000", "[1,1e9]",
     "points drawn when source is exact (a file is read whole)", 0, NULL,
     NULL},
    {"file", PF_P_STRING, NULL, NULL,
     "HDF5 file read when source is file (e.g. an earlier run's output)", 0,
     NULL, NULL},
    {"dataset", PF_P_STRING, "/posterior/x", NULL,
     "dataset in the file: (rows, dim) or (chain, draw, dim), flattened", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static const pf_param diagnostics_params[] = {
    {"every", PF_P_INT, "10", "[1,1e12]",
     "compute diagnostics every this many iterations (and at the last)", 0,
     NULL, NULL},
    {"metrics", PF_P_STRINGS, "[]", NULL,
     "diagnostics to compute (see `pflow list diagnostics`); settings of "
     "metric NAME go in diagnostics.NAME", PF_PARAM_ITEM_SECTIONS, NULL,
     &pf_diagnostics},
    {"reference", PF_P_SECTION, NULL, NULL,
     "the reference set, written to /reference/x (reference, x_dim_0)", 0,
     reference_params, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

/* Stream index of the reference set's draws: far above any particle index
 * (particles use 0..n-1), so it never shares a particle's stream.  ASCII
 * "REFERENC". */
#define PF__REF_STREAM 0x5245464552454E43ULL

static const pf_param output_params[] = {
    {"path", PF_P_STRING, NULL, NULL,
     "output HDF5 file (default: runs/<config file name>.h5)", 0, NULL, NULL},
    {"overwrite", PF_P_BOOL, "false", NULL,
     "replace an existing output file (otherwise it is never touched)", 0,
     NULL, NULL},
    {"trajectory_every", PF_P_INT, "10", "[0,1e12]",
     "store all particles every this many iterations (0: never)", 0, NULL,
     NULL},
    {"flush_every", PF_P_INT, "100", "[1,1e12]",
     "flush the file every this many iterations (a killed run keeps every "
     "flushed iteration)", 0, NULL, NULL},
    {"refresh", PF_P_INT, "100", "[1,1e12]",
     "iterations between progress lines when stderr is not a terminal", 0,
     NULL, NULL},
    {"draws", PF_P_STRING, "auto", "auto|final|chains",
     "posterior: the final particle set (final), or each chain's draws after "
     "the sampler's warm-up (chains: samplers whose particles are "
     "independent chains); auto picks chains when the sampler has them", 0,
     NULL, NULL},
    {"thin", PF_P_INT, "0", "[0,1e12]",
     "keep every thin-th post-warm-up draw (0: automatic, at most 1000 draws "
     "per chain and 512 MiB of draws)", 0, NULL, NULL},
    {"io", PF_P_STRING, "collective", "collective|gather",
     "MPI runs with several ranks: every rank writes its own particles "
     "(collective, parallel HDF5) or rank 0 gathers and writes everything "
     "(gather); the files are the same", 0, NULL, NULL},
    {"compression", PF_P_INT, "0", "[0,9]",
     "gzip level for datasets (0: off; gzip writes are ~40x slower)", 0,
     NULL, NULL},
    {"checkpoint_every", PF_P_INT, "0", "[0,1e12]",
     "write the run's full state to <path>.ckpt every this many iterations "
     "(0: never); `pflow run --resume <path>` continues from it", 0, NULL,
     NULL},
    {"checkpoint_seconds", PF_P_REAL, "0", "[0,inf)",
     "also checkpoint when this many seconds passed since the last one (0: "
     "off)", 0, NULL, NULL},
    {"checkpoint_signals", PF_P_BOOL, "true", NULL,
     "on SIGTERM or SIGUSR1 (a scheduler's warning) finish the iteration, "
     "checkpoint and exit with 75 (EX_TEMPFAIL) so the job can be requeued; "
     "false: SIGTERM interrupts (exit 143) and SIGUSR1 is not caught", 0,
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_param pf_root_params[] = {
    {"seed", PF_P_INT, "1", "[0,1e18]",
     "run seed: particle i uses PCG stream (seed, i)", 0, NULL, NULL},
    {"target", PF_P_PLUGIN, NULL, NULL,
     "the density to sample (required, except by a postsel.simulate "
     "coverage study)", 0, NULL, &pf_targets},
    {"sampler", PF_P_PLUGIN, NULL, NULL, "the sampling method",
     PF_PARAM_REQUIRED, NULL, &pf_samplers},
    {"diagnostics", PF_P_SECTION, NULL, NULL,
     "divergence diagnostics written to /diagnostics", 0, diagnostics_params,
     NULL},
    {"output", PF_P_SECTION, NULL, NULL, "the HDF5 output file", 0,
     output_params, NULL},
    {"postsel", PF_P_SECTION, NULL, NULL,
     "post-selection inference (include/pflow/postsel.h): when given, "
     "`pflow run` computes selective intervals instead of a plain run", 0,
     pf_postsel_params, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }

enum { MAX_METRICS = 32, MAX_COLS = 128 };

/* Everything a run owns; released by run_free in one place. */
typedef struct run {
  pf_target *target;
  const pf_sampler_ops *sops;
  void *sstate;
  pf_particles *p;
  const pf_diagnostic_ops *dops[MAX_METRICS];
  void *dctx[MAX_METRICS];
  size_t n_metrics;
  pf_h5 *h5;
  pf_h5var *traj, *cols[MAX_COLS];
  const char *col_names[MAX_COLS];
  size_t n_cols;
  double vals[MAX_COLS];
  pf_progress *prog;
  char *config_text;
  uint64_t seed;
  int chains;           /* posterior = per-chain draws after warm-up */
  long long warmup, thin;
  pf_h5var *post_x, *post_lp, *post_stats[16];
  double *stat_buf;     /* n_chain_stats x n */
  double *ref;             /* reference set (ref_m x d), NULL if none */
  size_t ref_m;
  const char *ref_source;  /* "exact" | "file" */
  const char *ref_method;  /* exact: the target's sample method; file: "file" */
  const char *ref_file, *ref_dataset;
  /* MPI, sharded chains (include/pflow/comm.h): p holds this rank's block,
   * pall every chain, gathered by sync() before anything reads or writes
   * the whole set.  NULL otherwise. */
  pf_particles *pall;
  size_t n_all;         /* particles (chains) over all ranks */
} run;

static void run_free(run *r)
{
  for (size_t i = 0; i < r->n_metrics; i++)
    if (r->dops[i]->destroy) r->dops[i]->destroy(r->dctx[i]);
  if (r->sops && r->sops->destroy) r->sops->destroy(r->sstate);
  pf_particles_destroy(&r->p);
  pf_particles_destroy(&r->pall);
  pf_target_destroy(&r->target);
  pf_h5_close(&r->h5);
  pf_progress_destroy(&r->prog);
  free(r->config_text);
  free(r->stat_buf);
  free(r->ref);
}

static void iso_now(char *buf, size_t cap)
{
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int create_diagnostics(run *r, const pf_node *ds)
{
  const pf_node *m = pf_node_get(ds, "metrics");
  size_t nm = m ? (pf_node_kind_of(m) == PF_NODE_SEQ ? pf_node_len(m) : 1) : 0;
  for (size_t i = 0; i < nm; i++) {
    const char *name = pf_node_kind_of(m) == PF_NODE_SEQ
                           ? pf_node_scalar(pf_node_item(m, i))
                           : pf_node_scalar(m);
    const pf_plugin *pl;
    PF_CHECK(r->n_metrics < MAX_METRICS, PF_ECONFIG, "too many metrics");
    PF_TRY(pf_registry_find(&pf_diagnostics, name, &pl));
    const pf_diagnostic_ops *ops = (const pf_diagnostic_ops *)pl;
    pf_diag_env env = {r->target, r->n_all, r->p->d, r->ref, r->ref_m,
                       r->seed};
    PF_TRY(ops->create(ds, &env, &r->dctx[r->n_metrics]));
    r->dops[r->n_metrics++] = ops;
  }
  return 0;
}

/* The reference set of `diagnostics.reference`: n exact draws on the
 * stream PF__REF_STREAM of the run seed, or a dataset of an HDF5 file.
 * Problems are config errors naming the key (exit 2, before the output
 * exists).  A sampler that is not iid (e.g. "gibbs") is allowed but
 * recorded in /reference's `method` attribute and warned about. */
static int build_reference(run *r, const pf_node *ds, FILE *progress)
{
  const pf_node *rs = pf_node_get(ds, "reference");
  const char *src = rs ? pf_cfg_str(rs, "source") : NULL;
  const size_t d = pf_target_dim(r->target);
  if (!src || !strcmp(src, "none")) return 0;
  if (!strcmp(src, "exact")) {
    long long n;
    pf_rng rng;
    const pf_target_ops *ops = pf_target_ops_of(r->target);
    if (!ops->sample)
      PF_CFG_RAISE(ds, "reference.source", PF_ECONFIG,
                   "source 'exact' needs a target with an exact sampler; "
                   "target '%s' has none (use source: file)", ops->base.name);
    PF_TRY(pf_cfg_int(rs, "n", &n));
    r->ref = malloc((size_t)n * d * sizeof(double));
    PF_CHECK(r->ref, PF_ENOMEM, "reference set of %lld x %zu", n, d);
    pf_rng_stream(&rng, r->seed, PF__REF_STREAM);
    PF_TRY(pf_target_sample(r->target, &rng, (size_t)n, r->ref));
    r->ref_m = (size_t)n;
    r->ref_source = "exact";
    r->ref_method = pf_target_sample_method(r->target);
    if (!r->ref_method) r->ref_method = "exact";
    if (strcmp(r->ref_method, "exact") && strcmp(r->ref_method, "rejection")
        && progress)
      fprintf(progress,
              "pflow: warning: the reference set comes from target '%s''s "
              "'%s' sampler, which is not iid; divergences against it carry "
              "that sampler's error (recorded in /reference attribute "
              "'method')\n", ops->base.name, r->ref_method);
    return 0;
  }
  /* source: file */
  const char *file = pf_cfg_str(rs, "file");
  const char *dset = pf_cfg_str(rs, "dataset");
  size_t rows = 0, cols = 0;
  if (!pf_cfg_has(rs, "file"))
    PF_CFG_RAISE(ds, "reference.file", PF_ECONFIG,
                 "source 'file' needs the path of an HDF5 file");
  int rc = pf_h5_read_matrix(file, dset, &r->ref, &rows, &cols);
  if (rc < 0) {
    char why[1024];
    snprintf(why, sizeof why, "%s", pf_error_message());
    PF_CFG_RAISE(ds, rc == PF_EIO ? "reference.file" : "reference.dataset",
                 PF_ECONFIG, "cannot read the reference set: %s", why);
  }
  r->ref_m = rows;
  if (cols != d)
    PF_CFG_RAISE(ds, "reference.dataset", PF_ECONFIG,
                 "dataset '%s' of '%s' has points of dimension %zu (%zu "
                 "rows); the target's dimension is %zu", dset, file, cols,
                 rows, d);
  for (size_t i = 0; i < rows * cols; i++)
    if (!isfinite(r->ref[i]))
      PF_CFG_RAISE(ds, "reference.dataset", PF_ECONFIG,
                   "dataset '%s' of '%s' holds a non-finite value (row %zu)",
                   dset, file, i / cols);
  r->ref_source = "file";
  r->ref_method = "file";
  r->ref_file = file;
  r->ref_dataset = dset;
  return 0;
}

/* /reference/x (reference, x_dim_0), written once, with its provenance. */
static int write_reference(run *r)
{
  pf_h5 *h = r->h5;
  pf_h5var *v;
  static const char *const dims[] = {"reference", "x_dim_0"};
  if (!r->ref) return 0;
  PF_TRY(pf_h5_group(h, "reference"));
  PF_TRY(pf_h5_dim(h, "reference", "reference", r->ref_m, 0));
  PF_TRY(pf_h5_dim(h, "reference", "x_dim_0", r->p->d, 0));
  PF_TRY(pf_h5_var(h, "reference", "x", PF_H5_F64, 2, dims, &v));
  PF_TRY(pf_h5_var_write(v, r->ref));
  PF_TRY(pf_h5_attr_str(h, "reference", "source", r->ref_source));
  PF_TRY(pf_h5_attr_str(h, "reference", "method", r->ref_method));
  PF_TRY(pf_h5_attr_int(h, "reference", "n", (long long)r->ref_m));
  if (!strcmp(r->ref_source, "exact")) {
    PF_TRY(pf_h5_attr_int(h, "reference", "iid",
                          !strcmp(r->ref_method, "exact") ||
                              !strcmp(r->ref_method, "rejection")));
    PF_TRY(pf_h5_attr_int(h, "reference", "seed", (long long)r->seed));
    PF_TRY(pf_h5_attr_str(h, "reference", "stream",
                          "PCG stream 0x5245464552454E43 (\"REFERENC\") of "
                          "the run seed"));
  } else {
    PF_TRY(pf_h5_attr_str(h, "reference", "file", r->ref_file));
    PF_TRY(pf_h5_attr_str(h, "reference", "dataset", r->ref_dataset));
  }
  return 0;
}

/* Groups, dimensions and growing variables of the output. */
static int create_draws(run *r);

static int create_layout(run *r, const pf_node *root, long long traj_every)
{
  pf_h5 *h = r->h5;
  const size_t n = r->n_all, d = r->p->d;
  char ts[64];
  long long seed;
  iso_now(ts, sizeof ts);
  PF_TRY(pf_cfg_int(root, "seed", &seed));
  PF_TRY(pf_h5_attr_str(h, NULL, "inference_library", "pflow"));
  PF_TRY(pf_h5_attr_str(h, NULL, "inference_library_version", PF_VERSION));
  PF_TRY(pf_h5_attr_str(h, NULL, "created_at", ts));
  PF_TRY(pf_h5_attr_str(h, NULL, "config", r->config_text));
  PF_TRY(pf_h5_attr_int(h, NULL, "seed", seed));
  PF_TRY(pf_h5_attr_int(h, NULL, "threads", omp_get_max_threads()));
  PF_TRY(pf_h5_attr_int(h, NULL, "ranks", pf_comm_size()));
  PF_TRY(pf_h5_attr_str(h, NULL, "simd_isa", pf_vm_isa()));
  PF_TRY(pf_h5_attr_str(h, NULL, "target", pf_target_ops_of(r->target)->base.name));
  PF_TRY(pf_h5_attr_str(h, NULL, "sampler", r->sops->base.name));
  PF_TRY(pf_h5_attr_str(h, NULL, "status", "running"));
  PF_TRY(pf_h5_attr_int(h, NULL, "completed", 0));

  if (traj_every > 0) {
    static const char *const dims[] = {"chain", "iteration", "particle",
                                       "x_dim_0"};
    PF_TRY(pf_h5_group(h, "trajectory"));
    PF_TRY(pf_h5_dim(h, "trajectory", "chain", 1, 0));
    PF_TRY(pf_h5_dim(h, "trajectory", "iteration", 0, 1));
    PF_TRY(pf_h5_dim(h, "trajectory", "particle", n, 0));
    PF_TRY(pf_h5_dim(h, "trajectory", "x_dim_0", d, 0));
    PF_TRY(pf_h5_var_split(h, "trajectory", "x", PF_H5_F64, 4, dims, 2,
                           &r->traj));
  }

  static const char *const ddims[] = {"chain", "iteration"};
  PF_TRY(pf_h5_group(h, "diagnostics"));
  PF_TRY(pf_h5_dim(h, "diagnostics", "chain", 1, 0));
  PF_TRY(pf_h5_dim(h, "diagnostics", "iteration", 0, 1));
  for (size_t i = 0; i < r->n_cols; i++)
    PF_TRY(pf_h5_var(h, "diagnostics", r->col_names[i], PF_H5_F64, 2, ddims,
                     &r->cols[i]));
  PF_TRY(write_reference(r));
  if (r->chains) PF_TRY(create_draws(r));
  return pf_h5_flush(h);
}

/* /posterior/x (chain, draw, x_dim_0) and /sample_stats/<stat> (chain,
 * draw) for chain samplers, growing by one draw every `thin` iterations
 * after the warm-up; the draw coordinate is the iteration number. */
static int create_draws(run *r)
{
  pf_h5 *h = r->h5;
  static const char *const pdims[] = {"chain", "draw", "x_dim_0"};
  static const char *const sdims[] = {"chain", "draw"};
  PF_TRY(pf_h5_group(h, "posterior"));
  PF_TRY(pf_h5_dim(h, "posterior", "chain", r->n_all, 0));
  PF_TRY(pf_h5_dim(h, "posterior", "draw", 0, 1));
  PF_TRY(pf_h5_dim(h, "posterior", "x_dim_0", r->p->d, 0));
  PF_TRY(pf_h5_var_split(h, "posterior", "x", PF_H5_F64, 3, pdims, 0,
                         &r->post_x));
  PF_TRY(pf_h5_attr_int(h, "posterior", "warmup", r->warmup));
  PF_TRY(pf_h5_attr_int(h, "posterior", "thin", r->thin));
  PF_TRY(pf_h5_group(h, "sample_stats"));
  PF_TRY(pf_h5_dim(h, "sample_stats", "chain", r->n_all, 0));
  PF_TRY(pf_h5_dim(h, "sample_stats", "draw", 0, 1));
  PF_TRY(pf_h5_var_split(h, "sample_stats", "lp", PF_H5_F64, 2, sdims, 0,
                         &r->post_lp));
  for (size_t k = 0; k < r->sops->n_chain_stats; k++)
    PF_TRY(pf_h5_var_split(h, "sample_stats", r->sops->chain_stat_names[k],
                           PF_H5_F64, 2, sdims, 0, &r->post_stats[k]));
  return 0;
}

/* MPI, sharded chains: gather every chain's position, log density and
 * score into r->pall on every rank (for the diagnostics; draws and chain
 * stats are written per rank).  Collective; a no-op otherwise. */
static int sync(run *r)
{
  if (!r->pall) return 0;
  const size_t n = r->n_all, d = r->p->d;
  PF_TRY(pf_comm_gather_rows(r->p->x, n, d, r->pall->x, 1));
  PF_TRY(pf_comm_gather_rows(r->p->logp, n, 1, r->pall->logp, 1));
  PF_TRY(pf_comm_gather_rows(r->p->grad, n, d, r->pall->grad, 1));
  return 0;
}

/* The whole particle set (gathered by sync() when sharded). */
static pf_particles *all(run *r) { return r->pall ? r->pall : r->p; }

/* This rank's rows of an n_all x width array of r->p for the output's
 * split variables (pf_h5_var_split): all of r->p when sharded (it is the
 * rank's block), else the rank's block of the replicated set. */
static const double *io_rows(const run *r, const double *v, size_t width)
{
  size_t lo = 0, hi;
  if (!r->pall) pf_comm_block(r->n_all, pf_comm_rank(), &lo, &hi);
  return v + lo * width;
}

static int append_draw(run *r, long iter)
{
  PF_TRY(pf_h5_dim_append(r->h5, "posterior", "draw", iter));
  PF_TRY(pf_h5_var_append(r->post_x, io_rows(r, r->p->x, r->p->d)));
  PF_TRY(pf_h5_dim_append(r->h5, "sample_stats", "draw", iter));
  PF_TRY(pf_h5_var_append(r->post_lp, io_rows(r, r->p->logp, 1)));
  if (r->sops->n_chain_stats) {
    PF_TRY(r->sops->chain_stats(r->sstate, r->stat_buf));
    for (size_t k = 0; k < r->sops->n_chain_stats; k++)
      PF_TRY(pf_h5_var_append(r->post_stats[k],
                              io_rows(r, r->stat_buf + k * r->p->n, 1)));
  }
  return 0;
}

/* Chain draws or the final particle set, and the thinning, from
 * output.draws / output.thin and the sampler's warm-up. */
static int plan_draws(run *r, const pf_node *root, long long n_iter)
{
  const char *mode = pf_cfg_str(root, "output.draws");
  const int has = (r->sops->flags & PF_SAMPLER_CHAINS) != 0;
  if (strcmp(mode, "chains") == 0 && !has)
    PF_CFG_RAISE(pf_node_get(root, "output"), "draws", PF_ECONFIG,
                 "sampler '%s' moves interacting particles, not independent "
                 "chains: use draws: final (or auto)", r->sops->base.name);
  r->chains = has && strcmp(mode, "final") != 0;
  if (!r->chains) return 0;
  PF_CHECK(r->sops->n_chain_stats <= 16, PF_EINVAL, "too many chain stats");
  r->warmup = r->sops->warmup ? r->sops->warmup(r->sstate) : 0;
  if (r->warmup > n_iter) r->warmup = n_iter;
  PF_TRY(pf_cfg_int(root, "output.thin", &r->thin));
  if (r->thin == 0) {
    const long long post = n_iter - r->warmup;
    const double row = (double)r->n_all * (double)r->p->d * 8.0;
    long long t = (post + 999) / 1000, cap = (long long)(512.0 * 1048576.0 / row);
    if (cap < 1) cap = 1;
    if (post / (t ? t : 1) > cap) t = (post + cap - 1) / cap;
    r->thin = t < 1 ? 1 : t;
  }
  r->stat_buf = pf_alloc_doubles(r->sops->n_chain_stats * r->p->n + 1);
  PF_CHECK(r->stat_buf, PF_ENOMEM, "allocating chain statistics");
  return 0;
}

/* Output columns: each metric's outputs, the sampler's info, wall_time. */
static int collect_columns(run *r)
{
  r->n_cols = 0;
  for (size_t i = 0; i < r->n_metrics; i++)
    for (size_t k = 0; k < r->dops[i]->n_outputs; k++) {
      PF_CHECK(r->n_cols < MAX_COLS - 1, PF_ECONFIG, "too many columns");
      r->col_names[r->n_cols++] = r->dops[i]->outputs[k];
    }
  for (size_t k = 0; k < r->sops->n_info; k++) {
    PF_CHECK(r->n_cols < MAX_COLS - 1, PF_ECONFIG, "too many columns");
    r->col_names[r->n_cols++] = r->sops->info_names[k];
  }
  r->col_names[r->n_cols++] = "wall_time";
  for (size_t i = 0; i + 1 < r->n_cols; i++)
    for (size_t j = i + 1; j < r->n_cols; j++)
      PF_CHECK(strcmp(r->col_names[i], r->col_names[j]) != 0, PF_ECONFIG,
               "two diagnostics write the column '%s'", r->col_names[i]);
  return 0;
}

/* Compute metrics into r->vals (sampler info already there) and append. */
static int record_diagnostics(run *r, long iter, const double *info,
                              double wall, pf_run_result *res, char *note,
                              size_t cap)
{
  size_t c = 0;
  for (size_t i = 0; i < r->n_metrics; i++) {
    PF_TRY(r->dops[i]->compute(r->dctx[i], all(r), r->vals + c));
    c += r->dops[i]->n_outputs;
  }
  for (size_t k = 0; k < r->sops->n_info; k++) r->vals[c++] = info[k];
  r->vals[c++] = wall;
  PF_TRY(pf_h5_dim_append(r->h5, "diagnostics", "iteration", iter));
  for (size_t i = 0; i < r->n_cols; i++)
    PF_TRY(pf_h5_var_append(r->cols[i], &r->vals[i]));
  res->n_last = r->n_cols < 64 ? r->n_cols : 64;
  for (size_t i = 0; i < res->n_last; i++) {
    res->last_names[i] = r->col_names[i];
    res->last_values[i] = r->vals[i];
  }
  res->last_iteration = iter;
  size_t used = 0;
  note[0] = '\0';
  for (size_t i = 0; i < r->n_cols && i < 3 && used < cap; i++) {
    int w = snprintf(note + used, cap - used, "%s%s=%.4g", i ? " " : "",
                     r->col_names[i], r->vals[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  return 0;
}

/* Final particles as the posterior (chain = replica, draw = particle). */
static int write_posterior(run *r)
{
  pf_h5 *h = r->h5;
  pf_h5var *v;
  static const char *const pdims[] = {"chain", "draw", "x_dim_0"};
  static const char *const sdims[] = {"chain", "draw"};
  PF_TRY(pf_h5_group(h, "posterior"));
  PF_TRY(pf_h5_dim(h, "posterior", "chain", 1, 0));
  PF_TRY(pf_h5_dim(h, "posterior", "draw", r->n_all, 0));
  PF_TRY(pf_h5_dim(h, "posterior", "x_dim_0", r->p->d, 0));
  PF_TRY(pf_h5_var_split(h, "posterior", "x", PF_H5_F64, 3, pdims, 1, &v));
  PF_TRY(pf_h5_var_write(v, io_rows(r, r->p->x, r->p->d)));
  PF_TRY(pf_h5_group(h, "sample_stats"));
  PF_TRY(pf_h5_dim(h, "sample_stats", "chain", 1, 0));
  PF_TRY(pf_h5_dim(h, "sample_stats", "draw", r->n_all, 0));
  PF_TRY(pf_h5_var_split(h, "sample_stats", "lp", PF_H5_F64, 2, sdims, 1,
                         &v));
  PF_TRY(pf_h5_var_write(v, io_rows(r, r->p->logp, 1)));
  if (r->sops->write_output) PF_TRY(r->sops->write_output(r->sstate, h));
  return 0;
}

static int build(run *r, const pf_config *c, pf_run_result *res,
                 long long *n_iter, FILE *progress)
{
  const pf_node *root = pf_config_root(c);
  const pf_node *ss = pf_node_get(root, "sampler");
  const pf_node *ds = pf_node_get(root, "diagnostics");
  const pf_plugin *pl;
  long long seed, n;
  PF_TRY(pf_cfg_int(root, "seed", &seed));
  r->seed = (uint64_t)seed;
  if (!pf_node_get(root, "target"))
    PF_CFG_RAISE(root, NULL, PF_ECONFIG,
                 "missing required key 'target' at the top level (the "
                 "density to sample)");
  PF_TRY(pf_target_create(pf_node_get(root, "target"), &r->target));
  PF_TRY(pf_registry_find(&pf_samplers, pf_cfg_str(ss, "name"), &pl));
  r->sops = (const pf_sampler_ops *)pl;
  PF_TRY(pf_cfg_int(ss, "n_particles", &n));
  PF_TRY(pf_cfg_int(ss, "n_iter", n_iter));
  size_t d = pf_target_dim(r->target);
  /* MPI: independent chains are sharded (rank r steps chains [lo, hi) on
   * their own global streams); interacting particles are replicated and
   * the pairwise rows split (include/pflow/comm.h). */
  const int R = pf_comm_size();
  const int shard = (r->sops->flags & PF_SAMPLER_CHAINS) && R > 1;
  size_t lo = 0, hi = (size_t)n;
  r->n_all = (size_t)n;
  pf_comm_set_replicated(!shard && R > 1);
  if (shard) {
    if ((long long)R > n)
      PF_CFG_RAISE(ss, "n_particles", PF_ECONFIG,
                   "%lld chains cannot be shared by %d MPI ranks (every "
                   "rank needs at least one)", n, R);
    pf_comm_block((size_t)n, pf_comm_rank(), &lo, &hi);
    PF_TRY(pf_particles_create((size_t)n, d, (uint64_t)seed, 0, &r->pall));
  }
  PF_TRY(pf_particles_create(hi - lo, d, (uint64_t)seed, lo, &r->p));
  PF_TRY(r->sops->create(ss, r->target, hi - lo, d, &r->sstate));
  PF_TRY(build_reference(r, ds, progress));
  PF_TRY(create_diagnostics(r, ds));
  PF_TRY(collect_columns(r));
  PF_TRY(plan_draws(r, root, *n_iter));
  PF_TRY(pf_sampler_init_particles(ss, r->target, r->p));
  PF_TRY(r->sops->init(r->sstate, r->p));
  PF_TRY(pf_config_emit(c, 1, &r->config_text));
  const char *path = pf_cfg_str(root, "output.path");
  PF_CHECK(path && *path, PF_ECONFIG, "output.path is not set");
  snprintf(res->path, sizeof res->path, "%s", path);
  return 0;
}

/* ---- checkpoints (include/pflow/checkpoint.h) --------------------------- */

/* The output's record dimensions, whose lengths are the cursor. */
static const char *const cursor_dims[][2] = {{"trajectory", "iteration"},
                                             {"diagnostics", "iteration"},
                                             {"posterior", "draw"},
                                             {"sample_stats", "draw"}};
enum { N_CURSOR = 4 };

typedef struct ckpt_cursor {
  long long iteration;
  double elapsed;             /* wall time of the sampling loop so far */
  long long len[N_CURSOR];    /* records per dimension, -1: absent */
} ckpt_cursor;

static int cursor_state(void *obj, pf_state_visitor *v)
{
  ckpt_cursor *c = obj;
  PF_TRY(pf_state_i64(v, "iteration", &c->iteration, 1));
  PF_TRY(pf_state_f64(v, "elapsed", &c->elapsed, 1));
  PF_TRY(pf_state_i64(v, "records", c->len, N_CURSOR));
  return 0;
}

static int particles_section(void *obj, pf_state_visitor *v)
{
  return pf_particles_state(obj, v);
}

static int target_section(void *obj, pf_state_visitor *v)
{
  return pf_target_state(obj, v);
}

static int sampler_section(void *obj, pf_state_visitor *v)
{
  run *r = obj;
  return r->sops->state(r->sstate, v);
}

/* Flush the output (it then holds at least the cursor's records), then
 * write <output>.ckpt atomically.  `config` identifies the run (the
 * output's `config` attribute). */
static int write_checkpoint(run *r, const char *path, const char *config,
                            long it, double elapsed)
{
  ckpt_cursor cur = {it, elapsed, {0}};
  for (int k = 0; k < N_CURSOR; k++) {
    size_t len;
    if (pf_h5_dim_len(r->h5, cursor_dims[k][0], cursor_dims[k][1], &len) == 0)
      cur.len[k] = (long long)len;
    else
      cur.len[k] = -1;
  }
  pf_error_clear();
  /* MPI: the checkpoint calls are collective (core/checkpoint.c) */
  PF_TRY(pf_comm_agree(pf_h5_flush(r->h5)));
  pf_ckpt *c;
  char hash[17], ts[64];
  pf_ckpt_hash(config, hash);
  iso_now(ts, sizeof ts);
  PF_TRY(pf_ckpt_create(path, &c));
  int rc = pf_ckpt_set_int(c, "iteration", it);
  if (rc == 0) rc = pf_ckpt_set_str(c, "config", config);
  if (rc == 0) rc = pf_ckpt_set_str(c, "config_hash", hash);
  if (rc == 0) rc = pf_ckpt_set_str(c, "sampler", r->sops->base.name);
  if (rc == 0) rc = pf_ckpt_set_str(c, "created_at", ts);
  if (rc == 0) rc = pf_ckpt_set_real(c, "elapsed", elapsed);
  if (rc == 0) rc = pf_ckpt_section(c, "runner", cursor_state, &cur);
  if (rc == 0) rc = pf_ckpt_section(c, "particles", particles_section, r->p);
  if (rc == 0) rc = pf_ckpt_section(c, "sampler", sampler_section, r);
  if (rc == 0) rc = pf_ckpt_section(c, "target", target_section, r->target);
  if (rc < 0) {
    pf_ckpt_close(&c);
    return rc;
  }
  return pf_ckpt_commit(&c);
}

/* --resume: load the checkpoint over the freshly built run (before the
 * output is touched, so a checkpoint that does not fit leaves it as it
 * was), then reopen the output, drop what the run writes only at its end,
 * cut the records back to the cursor and reopen the growing variables. */
static int resume_output(run *r, const char *path, const char *config,
                         const char *out_path, long long traj_every,
                         long *start, double *elapsed)
{
  pf_ckpt *c = NULL;
  char *cfg = NULL;
  ckpt_cursor cur;
  int rc = 0;
  PF_CHECK(r->sops->state, PF_ENOTSUP,
           "sampler '%s' cannot be checkpointed (no state op)",
           r->sops->base.name);
  /* Under MPI every rank reads the checkpoint, then the ranks agree
   * before the collective reopening (rank 0 then writes the output through
   * the gather backend, io/h5out.c). */
  PF_TRY_GOTO(rc, pf_ckpt_open(path, &c), loaded);
  PF_TRY_GOTO(rc, pf_ckpt_get_str(c, "config", &cfg), loaded);
  if (strcmp(cfg, config) != 0) {
    rc = pf__error_set(PF_EINVAL, __FILE__, __LINE__,
                       "checkpoint '%s' belongs to another run: its config "
                       "differs from the one stored in the output", path);
    goto loaded;
  }
  PF_TRY_GOTO(rc, pf_ckpt_section(c, "runner", cursor_state, &cur), loaded);
  PF_TRY_GOTO(rc, pf_ckpt_section(c, "particles", particles_section, r->p),
              loaded);
  PF_TRY_GOTO(rc, pf_ckpt_section(c, "sampler", sampler_section, r), loaded);
  PF_TRY_GOTO(rc, pf_ckpt_section(c, "target", target_section, r->target),
              loaded);
loaded:
  pf_ckpt_close(&c);
  if ((rc = pf_comm_agree(rc)) != 0) goto out;
  static const char *const keep_final[] = {"trajectory", "diagnostics",
                                           "reference", NULL};
  static const char *const keep_chains[] = {
      "trajectory", "diagnostics", "reference", "posterior", "sample_stats",
      NULL};
  PF_TRY_GOTO(rc, pf_h5_open_append(out_path, r->chains ? keep_chains
                                                         : keep_final,
                                    &r->h5), out);
  for (int k = 0; k < N_CURSOR; k++)
    if (cur.len[k] >= 0)
      PF_TRY_GOTO(rc, pf_h5_dim_truncate(r->h5, cursor_dims[k][0],
                                         cursor_dims[k][1],
                                         (size_t)cur.len[k]), cut);
cut: /* rank 0's file operations, agreed before the collective opens */
  if ((rc = pf_comm_agree(rc)) != 0) goto out;
  if (traj_every > 0) /* split axes as in create_layout / create_draws */
    PF_TRY_GOTO(rc, pf_h5_var_open_split(r->h5, "trajectory", "x", 2,
                                         &r->traj), out);
  for (size_t i = 0; i < r->n_cols; i++)
    PF_TRY_GOTO(rc, pf_h5_var_open(r->h5, "diagnostics", r->col_names[i],
                                   &r->cols[i]), out);
  if (r->chains) {
    PF_TRY_GOTO(rc, pf_h5_var_open_split(r->h5, "posterior", "x", 0,
                                         &r->post_x), out);
    PF_TRY_GOTO(rc, pf_h5_var_open_split(r->h5, "sample_stats", "lp", 0,
                                         &r->post_lp), out);
    for (size_t k = 0; k < r->sops->n_chain_stats; k++)
      PF_TRY_GOTO(rc, pf_h5_var_open_split(r->h5, "sample_stats",
                                           r->sops->chain_stat_names[k], 0,
                                           &r->post_stats[k]), out);
  }
  PF_TRY_GOTO(rc, pf_h5_attr_delete(r->h5, NULL, "error"), out);
  PF_TRY_GOTO(rc, pf_h5_attr_str(r->h5, NULL, "status", "running"), out);
  PF_TRY_GOTO(rc, pf_h5_attr_int(r->h5, NULL, "completed", 0), out);
  PF_TRY_GOTO(rc, pf_h5_flush(r->h5), out);
  *start = (long)cur.iteration + 1;
  *elapsed = cur.elapsed;
out:
  pf_ckpt_close(&c);
  free(cfg);
  return rc;
}

int pf_run(const pf_config *c, FILE *progress, pf_run_result *res)
{
  pf_run_opts o = {0, 0, NULL};
  return pf__run(c, progress, res, &o);
}

int pf__run(const pf_config *c, FILE *progress, pf_run_result *res,
            const pf_run_opts *opts)
{
  run r;
  int rc = 0, overwrite;
  long long n_iter = 0, traj_every, flush_every, diag_every, refresh, level;
  const pf_node *root = pf_config_root(c);
  memset(&r, 0, sizeof r);
  memset(res, 0, sizeof *res);
  if (pf_comm_rank() != 0) progress = NULL; /* only rank 0 prints */
  double info[MAX_COLS] = {0};
  char note[256] = "";

  /* Everything that can reject the config happens before the output file
   * exists, so a bad config never touches an existing file. */
  /* Under MPI all ranks agree on any error before the output is touched. */
  rc = pf_comm_agree(build(&r, c, res, &n_iter, progress));
  if (rc) goto done;
  PF_TRY_GOTO(rc, pf_cfg_bool(root, "output.overwrite", &overwrite), done);
  PF_TRY_GOTO(rc, pf_cfg_int(root, "output.trajectory_every", &traj_every), done);
  PF_TRY_GOTO(rc, pf_cfg_int(root, "output.flush_every", &flush_every), done);
  PF_TRY_GOTO(rc, pf_cfg_int(root, "output.refresh", &refresh), done);
  PF_TRY_GOTO(rc, pf_cfg_int(root, "output.compression", &level), done);
  PF_TRY_GOTO(rc, pf_cfg_int(root, "diagnostics.every", &diag_every), done);

  long long ck_every;
  double ck_secs;
  int ck_signals;
  PF_TRY_GOTO(rc, pf_cfg_int(root, "output.checkpoint_every", &ck_every), done);
  PF_TRY_GOTO(rc, pf_cfg_real(root, "output.checkpoint_seconds", &ck_secs), done);
  PF_TRY_GOTO(rc, pf_cfg_bool(root, "output.checkpoint_signals", &ck_signals), done);
  /* Under MPI rank 0 writes the checkpoint (core/checkpoint.c); every
   * decision to write one is agreed by the ranks. */
  const int ckpt_ok = r.sops->state != NULL;
  if ((ck_every > 0 || ck_secs > 0 || opts->resume || opts->stop_after > 0) &&
      !ckpt_ok) {
    rc = pf__error_set(PF_ECONFIG, __FILE__, __LINE__,
                       "checkpoints need a sampler with a state op ('%s')",
                       r.sops->base.name);
    goto done;
  }
  char ckpt[1100];
  snprintf(ckpt, sizeof ckpt, "%s.ckpt", res->path);
  /* What identifies the run in its checkpoints: the output's config. */
  const char *run_id = opts->config_text ? opts->config_text : r.config_text;
  long start = 1;
  double elapsed0 = 0.0;
  if (opts->resume) {
    rc = pf_comm_agree(resume_output(&r, ckpt, run_id, res->path,
                                     traj_every, &start, &elapsed0));
    if (rc) goto done;
    pf_h5_set_compression(r.h5, (int)level);
  } else {
    const char *io = pf_cfg_str(root, "output.io");
    rc = pf_comm_agree(pf_h5_create_io(res->path, overwrite,
                                       io && strcmp(io, "gather") == 0
                                           ? PF_H5_IO_GATHER
                                           : PF_H5_IO_COLLECTIVE,
                                       &r.h5));
    if (rc) goto done;
    pf_h5_set_compression(r.h5, (int)level);
    rc = pf_comm_agree(create_layout(&r, root, traj_every));
    if (rc) goto done;
  }
  PF_TRY_GOTO(rc, pf_progress_create(progress, (long)n_iter, (long)refresh,
                                     &r.prog), done);

  g_signal = 0;
  struct sigaction sa, old_int, old_term, old_usr1;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  if (ck_signals) sigaction(SIGUSR1, &sa, &old_usr1);

  double t0 = pf_wtime() - elapsed0, last_ck = pf_wtime();
  long stop_at = opts->stop_after > 0 ? start - 1 + opts->stop_after : -1;
  res->iterations = start - 1;
  /* Iteration 0 is the initial state; the sampler's info columns are NaN
   * there because no step has been taken. */
  for (size_t k = 0; k < r.sops->n_info; k++) info[k] = 0.0 / 0.0;
  /* MPI: the collective gather (sync) comes before any write, so a write
   * failing on rank 0 skips no collective; the ranks agree on rc at the end
   * of every iteration. */
  if (start > 1) goto init_end; /* resumed: iteration 0 is on file */
  PF_TRY_GOTO(rc, sync(&r), init_end);
  PF_TRY_GOTO(rc, record_diagnostics(&r, 0, info, 0.0, res, note, sizeof note), init_end);
  if (r.traj) {
    PF_TRY_GOTO(rc, pf_h5_dim_append(r.h5, "trajectory", "iteration", 0), init_end);
    PF_TRY_GOTO(rc, pf_h5_var_append(r.traj, io_rows(&r, r.p->x, r.p->d)),
                init_end);
  }
  PF_TRY_GOTO(rc, pf_h5_flush(r.h5), init_end);
init_end:
  if ((rc = pf_comm_agree(rc)) != 0) goto loop_done;

  long it;
  /* Under MPI the loop stops on the agreed signal (a signal reaching one
   * rank between the agreement and this test must not stop it alone). */
  const int R = pf_comm_size();
  int sig = 0;
  for (it = start;
       it <= (long)n_iter && !(R > 1 ? sig : g_signal) && it - 1 != stop_at;
       it++) {
    PF_TRY_GOTO(rc, r.sops->step(r.sstate, it, r.p, info), iter_end);
    const int draw = r.chains && it > r.warmup && (it - r.warmup) % r.thin == 0;
    const int snap = r.traj && it % traj_every == 0;
    const int diag = it % diag_every == 0 || it == (long)n_iter;
    /* Output takes each rank's own rows (pf_h5_var_split); only the
     * metrics need every chain. */
    if (diag && r.n_metrics) PF_TRY_GOTO(rc, sync(&r), iter_end);
    if (draw) PF_TRY_GOTO(rc, append_draw(&r, it), iter_end);
    if (snap) {
      PF_TRY_GOTO(rc, pf_h5_dim_append(r.h5, "trajectory", "iteration", it), iter_end);
      PF_TRY_GOTO(rc, pf_h5_var_append(r.traj, io_rows(&r, r.p->x, r.p->d)),
                  iter_end);
    }
    if (diag)
      PF_TRY_GOTO(rc, record_diagnostics(&r, it, info, pf_wtime() - t0, res,
                                         note, sizeof note), iter_end);
    if (it % flush_every == 0) PF_TRY_GOTO(rc, pf_h5_flush(r.h5), iter_end);
  iter_end:
    if (R > 1) {
      if ((rc = pf_comm_agree(rc)) != 0) break;
      sig = pf_comm_max_int(g_signal);
    } else if (rc) {
      break;
    }
    /* After the agreement: writing a checkpoint is collective under MPI
     * (rank 0's clock decides the timed ones). */
    int ck_due = ck_secs > 0 && pf_wtime() - last_ck >= ck_secs;
    if (ck_secs > 0 && R > 1) {
      PF_TRY_GOTO(rc, pf_comm_bcast(&ck_due, sizeof ck_due), ck_fail);
    }
    if ((ck_every > 0 && it % ck_every == 0) || ck_due) {
      PF_TRY_GOTO(rc, write_checkpoint(&r, ckpt, run_id, it, pf_wtime() - t0),
                  ck_fail);
      last_ck = pf_wtime();
    }
  ck_fail:
    if (rc) break;
    pf_progress_update(r.prog, it, note);
    res->iterations = it;
  }
loop_done:
  /* MPI: a signal that reached some ranks after the last agreement */
  if (pf_comm_size() > 1 && rc == 0) g_signal = pf_comm_max_int(g_signal);
  res->seconds = pf_wtime() - t0;
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (ck_signals) sigaction(SIGUSR1, &old_usr1, NULL);
  /* Preemption (SIGTERM / SIGUSR1, or stop_after): checkpoint at the last
   * completed iteration and stop with PF_EINTR, res->preempted set. */
  if (rc == 0 && ckpt_ok &&
      ((ck_signals && (g_signal == SIGTERM || g_signal == SIGUSR1)) ||
       (stop_at >= 0 && res->iterations == stop_at &&
        res->iterations < (long)n_iter))) {
    rc = write_checkpoint(&r, ckpt, run_id, res->iterations, res->seconds);
    if (rc == 0) {
      res->preempted = 1;
      res->signal = (int)g_signal;
      rc = pf__error_set(PF_EINTR, __FILE__, __LINE__,
                         "preempted after %ld iterations; checkpoint '%s' "
                         "written (continue with: pflow run --resume %s)",
                         res->iterations, ckpt, res->path);
    }
  } else if (rc == 0 && g_signal) {
    res->signal = (int)g_signal;
    rc = pf__error_set(PF_EINTR, __FILE__, __LINE__,
                       "interrupted by signal %d after %ld iterations",
                       (int)g_signal, res->iterations);
  }
  {
    /* Whatever happened, leave a valid file that says so, with the last
     * good particles as the posterior. */
    const char *status = rc == 0                 ? "completed"
                         : res->preempted        ? "preempted"
                         : rc == PF_EINTR        ? "interrupted"
                                                 : "failed";
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rc ? pf_error_message() : "");
    int wrc = r.chains ? 0 : write_posterior(&r);
    if (wrc == 0 && rc) wrc = pf_h5_attr_str(r.h5, NULL, "error", msg);
    if (wrc == 0) wrc = pf_h5_attr_int(r.h5, NULL, "iterations", res->iterations);
    if (wrc == 0) wrc = pf_h5_attr_real(r.h5, NULL, "wall_time", res->seconds);
    /* rank 0's time inside MPI calls (waits included); 0 on one rank */
    if (wrc == 0 && pf_comm_size() > 1)
      wrc = pf_h5_attr_real(r.h5, NULL, "comm_seconds", pf_comm_seconds());
    if (wrc == 0) wrc = pf_h5_attr_str(r.h5, NULL, "status", status);
    if (wrc == 0) wrc = pf_h5_attr_int(r.h5, NULL, "completed", rc == 0);
    if (wrc == 0) wrc = pf_h5_close(&r.h5);
    /* A completed output is final: its checkpoint has served. */
    if (wrc == 0 && rc == 0 && ckpt_ok) remove(ckpt);
    if (rc == 0) rc = wrc;
    rc = pf_comm_agree(rc);
    pf_progress_finish(r.prog, res->iterations, status);
  }
done:
  run_free(&r);
  return rc;
}
