/* The `postsel` workflow behind `pflow run` for configs with a `postsel`
 * section (pf_postsel_run, include/pflow/postsel.h).
 *
 * Data mode (the `target` section is a selective_lasso):
 *   read + standardize the CSV, select with the randomized Lasso, sample the
 *   selective density of o with the configured sampler `replicas` times
 *   (independent runs, final particles pooled), compute selective intervals
 *   at postsel.level, write /postsel and /posterior/x, print the table.
 *   postsel.init: observed starts every particle at o_obs * exp(jitter z)
 *   instead of the sampler's init: the orthant's default Exp(1) start is
 *   far from o when the response is in its own units (diabetes: o ~ 100),
 *   which the entropic dual's RMSProp steps (~lr in log o per step) need
 *   hundreds of iterations to climb.
 *
 * Study mode (postsel.simulate given, no target section): a coverage study
 *   under the global null: each replication simulates an equicorrelated
 *   design with unit-norm columns and y = sigma z, selects, samples and
 *   computes intervals at every level of simulate.levels; coverage of
 *   beta_E = 0 with 95% Wilson intervals and mean widths, per level.
 *
 * Pivot samples (postsel.proposal, draw_samples): from the selective
 *   density p (observed), from one over-dispersed proposal q for all
 *   coefficients (marginal), or with the replicas split among the
 *   coefficients, block i from coefficient i's proposal (coefficient); the
 *   intervals then weight by p / q (postsel/proposal.c).
 *
 * Streams (pf_rng_stream(seed, index)): particle i of replica r of
 * replication j uses index (j * replicas + r) * n_particles + i (j = 0 in
 * data mode; j is the study-wide index, postsel.simulate.first + the
 * run's own, so a study split into chunks draws the same bits), so every particle of every replica has its own stream and
 * the same config gives the same bits for any thread count.  The data,
 * lambda Monte Carlo, omega and t-draws of the intervals use indices above
 * 2^56 (PS__STREAM_*), far from any particle's.  In data mode the
 * selection is built by pf__selection_from_config, the selective_lasso
 * target's own recipe (same keys, same streams), so it is the one `pflow
 * run` of the same target section samples. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pflow/error.h"
#include "pflow/io.h"
#include "pflow/particles.h"
#include "pflow/postsel.h"
#include "pflow/progress.h"
#include "pflow/registry.h"
#include "pflow/sampler.h"
#include "pflow/target.h"
#include "pflow/version.h"
#include "selection_target.h"

/* High stream indices (ASCII "PS" then a kind byte), plus the replication. */
#define PS__STREAM(kind) ((0x5053ULL << 48) | ((uint64_t)(kind) << 40))
enum { PS_DATA = 1, PS_LAMBDA = 2, PS_OMEGA = 3, PS_TDRAW = 4, PS_CHECK = 5 };

static const pf_param simulate_params[] = {
    {"n", PF_P_INT, "100", "[2,1e7]", "rows of each simulated data set", 0,
     NULL, NULL},
    {"p", PF_P_INT, "40", "[1,1e5]", "predictors", 0, NULL, NULL},
    {"rho", PF_P_REAL, "0.3", "[0,1)",
     "equicorrelation of the design rows before standardization", 0, NULL,
     NULL},
    {"sigma", PF_P_REAL, "1", "(0,inf)", "noise sd: y = sigma z (beta = 0)",
     0, NULL, NULL},
    {"known_sigma", PF_P_BOOL, "false", NULL,
     "use the true sigma in the selected model's covariance instead of the "
     "residual estimate (the published study estimates it)", 0, NULL, NULL},
    {"lambda_frac", PF_P_REAL, "0.7", "(0,inf)",
     "lambda = lambda_frac * E max_j |X_j'z| (Monte Carlo, 1000 draws per "
     "replication); eps and tau by selectiveInference's recipe", 0, NULL,
     NULL},
    {"tau", PF_P_REAL, NULL, "(0,inf)",
     "fixed randomization scale, omega ~ N(0, tau^2 I), for every data set "
     "(default: the recipe's 0.25 sd(y) sqrt(mean |X_j|^2), which depends "
     "on the data while the pivot treats it as fixed)", 0, NULL, NULL},
    {"eps", PF_P_REAL, NULL, "[0,inf)",
     "fixed ridge term for every data set (default: the recipe's "
     "sqrt(mean |X_j|^2) sd(y) / sqrt(n), data-dependent)", 0, NULL, NULL},
    {"replications", PF_P_INT, "200", "[1,1e7]",
     "independent data sets (each its own streams)", 0, NULL, NULL},
    {"first", PF_P_INT, "0", "[0,1e7]",
     "index of the first replication: replications first ... first + "
     "replications - 1 are run (each with the streams of its index), so a "
     "study can be split into chunks over the same data sets", 0, NULL,
     NULL},
    {"levels", PF_P_REALS, "[0.8, 0.85, 0.9, 0.95, 0.98, 0.99]", "(0,1)",
     "nominal levels whose coverage is estimated (postsel.level is not used)",
     0, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_param pf_postsel_params[] = {
    {"level", PF_P_REAL, "0.9", "(0,1)",
     "confidence level of the selective intervals (data mode)", 0, NULL,
     NULL},
    {"replicas", PF_P_INT, "1", "[1,1e6]",
     "independent sampler runs whose final particles are pooled into the "
     "samples of o (replica r: streams offset by r * n_particles)", 0, NULL,
     NULL},
    {"bracket_sd", PF_P_REAL, "10", "(0,1e6]",
     "endpoint search bracket t_hat -/+ bracket_sd * sd; a root outside it "
     "is reported as NaN with an 'unbracketed' flag", 0, NULL, NULL},
    {"weights", PF_P_STRING, "exact", "exact|projected",
     "importance weights of the pivot: exact (the p-dimensional density of "
     "omega given the inactive subgradient) or projected (the reference "
     "code's k-dimensional form; drops a t-dependent factor when eps > 0)",
     0, NULL, NULL},
    {"pivot", PF_P_STRING, "rao_blackwell", "rao_blackwell|paired",
     "pivot estimator: rao_blackwell (the integral over the target "
     "statistic in closed form per sample; continuous in b) or paired (the "
     "reference code's one t-draw per sample; a step function that is 0 or "
     "1 beyond the most extreme t-draw, which caps interval half-widths at "
     "~3.7 sd for 5000 samples; for comparison)", 0, NULL, NULL},
    {"proposal", PF_P_STRING, "auto", "auto|observed|marginal|coefficient",
     "what the sampler draws for the pivot's importance sampling: auto "
     "(coefficient when replicas >= k, else marginal), observed (the "
     "selective density of o at the observed data; its weights degenerate "
     "when tau is small and its intervals come out too wide), marginal (one "
     "run for all coefficients from the o-marginal of the joint selective "
     "law of (T, o), T ~ N(t_hat, proposal_scale^2 Sigma)) or coefficient "
     "(the replicas split among the selected coefficients, each block from "
     "its coefficient's own o-marginal, T_i ~ N(t_hat_i, proposal_scale^2 "
     "Sigma_ii); needs replicas >= k).  The pivot divides by the density "
     "drawn from; see docs/postsel.md", 0, NULL, NULL},
    {"proposal_scale", PF_P_REAL, "1", "[0,1e3]",
     "proposal marginal or coefficient: over-dispersion kappa of T (1: the "
     "o-marginal itself; 0 gives the observed density)", 0, NULL, NULL},
    {"init", PF_P_STRING, "sampler", "sampler|observed",
     "start of the sampler's particles: the sampler section's init "
     "(sampler; on the orthant Exp(1) coordinates, far from o when the "
     "response is in its own units) or the observed o_obs = |beta_E| times "
     "exp(init_jitter z), z ~ N(0, I) per particle (observed: the data's "
     "own scale, no knowledge of the target's law)", 0, NULL, NULL},
    {"init_jitter", PF_P_REAL, "0.1", "[0,10]",
     "init: observed: sd of the multiplicative log-normal jitter", 0, NULL,
     NULL},
    {"simulate", PF_P_SECTION, NULL, NULL,
     "give this section (even empty) to run a coverage study on simulated "
     "data under the global null instead of the target's data set", 0,
     simulate_params, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

static int projected(const pf_node *root)
{
  const char *w = pf_cfg_str(root, "postsel.weights");
  return w && strcmp(w, "projected") == 0;
}

/* How the pivot's samples were drawn: blk[i] .. blk[i + 1] - 1 are the
 * rows of O that serve coefficient i (all m rows for every coefficient
 * unless postsel.proposal is `coefficient`), lr (NULL: none) the log
 * p - log q of each row. */
typedef struct pool {
  size_t k, m;
  int blocked;
  size_t *blk; /* k + 1 */
  double *lr;  /* m or NULL */
} pool;

static void pool_free(pool *pl)
{
  free(pl->blk);
  free(pl->lr);
  memset(pl, 0, sizeof *pl);
}

/* Intervals with the configured weights and pivot estimator; rng: the
 * t-draw stream of the paired estimator. */
static int compute_intervals(const pf_node *root, const pf_selection *s,
                             const pool *pl, const double *O, double level,
                             double bracket, pf_rng *rng, pf_interval *ci)
{
  const char *pv = pf_cfg_str(root, "postsel.pivot");
  pf_ci_options o = {level, bracket, projected(root),
                     pv && strcmp(pv, "paired") == 0 ? rng : NULL, pl->lr,
                     0, 0};
  if (!pl->blocked) return pf_selection_intervals_opt(s, pl->m, O, &o, ci);
  for (size_t i = 0; i < s->k; i++) {
    const size_t a = pl->blk[i], mi = pl->blk[i + 1] - a;
    o.one = 1;
    o.coef = i;
    o.log_ratio = pl->lr ? pl->lr + a : NULL;
    PF_TRY(pf_selection_intervals_opt(s, mi, O + a * s->k, &o, ci));
  }
  return 0;
}

/* ---- sampling ------------------------------------------------------- */

/* postsel.init: observed: particle i at o_obs * exp(jitter z_i), z_i from
 * its own stream (after the sampler's own init draws, so the bits do not
 * depend on the thread split), then its log density and score. */
static int init_observed(const pf_node *root, const pf_selection *s,
                         pf_target *t, pf_particles *p)
{
  double jit;
  PF_TRY(pf_cfg_real(root, "postsel.init_jitter", &jit));
  const size_t n = p->n, d = p->d;
  for (size_t i = 0; i < n; i++) {
    double *x = p->x + i * d;
    pf_rng_normal(&p->rng[i], d, x);
    for (size_t k = 0; k < d; k++) x[k] = s->o_obs[k] * exp(jit * x[k]);
  }
  PF_TRY(pf_target_logp_grad(t, n, p->x, p->logp, p->grad));
  PF_CHECK(pf_particles_find_nonfinite(p) == n, PF_ENONFINITE,
           "postsel.init observed: a start has a non-finite log density or "
           "score");
  return 0;
}

/* `replicas` independent runs of the sampler section ss on t (the
 * density of selection s), final particles of replica r into
 * O + r * n * d; replica r's particle i uses stream
 * (seed, first + r * n + i).  root: the config root (postsel.init). */
static int sample_pool(const pf_node *root, const pf_node *ss, pf_target *t,
                       const pf_selection *s, uint64_t seed, uint64_t first,
                       size_t replicas, double *O)
{
  const char *how = pf_cfg_str(root, "postsel.init");
  const int observed = how && strcmp(how, "observed") == 0;
  const pf_plugin *pl;
  long long n, n_iter;
  PF_TRY(pf_registry_find(&pf_samplers, pf_cfg_str(ss, "name"), &pl));
  const pf_sampler_ops *ops = (const pf_sampler_ops *)pl;
  PF_TRY(pf_cfg_int(ss, "n_particles", &n));
  PF_TRY(pf_cfg_int(ss, "n_iter", &n_iter));
  const size_t d = pf_target_dim(t);
  double *info = calloc(ops->n_info + 1, sizeof(double));
  PF_CHECK(info, PF_ENOMEM, "allocating sampler info");
  int rc = 0;
  for (size_t r = 0; r < replicas && rc == 0; r++) {
    pf_particles *p = NULL;
    void *st = NULL;
    PF_TRY_GOTO(rc, pf_particles_create((size_t)n, d, seed,
                                        first + r * (uint64_t)n, &p), rdone);
    PF_TRY_GOTO(rc, ops->create(ss, t, (size_t)n, d, &st), rdone);
    PF_TRY_GOTO(rc, pf_sampler_init_particles(ss, t, p), rdone);
    if (observed) PF_TRY_GOTO(rc, init_observed(root, s, t, p), rdone);
    PF_TRY_GOTO(rc, ops->init(st, p), rdone);
    for (long it = 1; it <= (long)n_iter; it++)
      PF_TRY_GOTO(rc, ops->step(st, it, p, info), rdone);
    memcpy(O + r * (size_t)n * d, p->x, (size_t)n * d * sizeof(double));
  rdone:
    if (st && ops->destroy) ops->destroy(st);
    pf_particles_destroy(&p);
  }
  free(info);
  return rc;
}

/* Samples O (m x k) against as many exact draws of the density of t from
 * rx: the largest mean error in exact standard deviations (chk[0]) and
 * the range of the sd ratios (chk[1], chk[2]), merged into chk. */
static int check_moments(pf_target *t, const double *O, size_t m,
                         pf_rng *rx, double chk[3])
{
  const size_t k = pf_target_dim(t);
  double *E = pf_alloc_doubles(m * k);
  PF_CHECK(E, PF_ENOMEM, "allocating %zu exact draws", m);
  int rc = pf_target_sample(t, rx, m, E);
  if (rc < 0) {
    free(E);
    return rc;
  }
  for (size_t a = 0; a < k; a++) {
    double ms = 0, me = 0, vs = 0, ve = 0;
    for (size_t n = 0; n < m; n++) {
      ms += O[n * k + a];
      me += E[n * k + a];
    }
    ms /= (double)m;
    me /= (double)m;
    for (size_t n = 0; n < m; n++) {
      vs += (O[n * k + a] - ms) * (O[n * k + a] - ms);
      ve += (E[n * k + a] - me) * (E[n * k + a] - me);
    }
    const double se = sqrt(ve / (double)(m - 1)),
                 ss = sqrt(vs / (double)(m - 1));
    chk[0] = fmax(chk[0], fabs(ms - me) / se);
    chk[1] = fmin(chk[1], ss / se);
    chk[2] = fmax(chk[2], ss / se);
  }
  free(E);
  return 0;
}

/* Draw the pivot's samples of selection s into O (replicas * npart rows,
 * replica r on streams (seed, first + r * npart + i)) as postsel.proposal
 * says: observed (the selective density p), marginal (one over-dispersed
 * proposal for all coefficients) or coefficient (replicas split among the
 * coefficients, each block from its own coefficient's proposal; needs
 * replicas >= k).  Fills pl.  rx (may be NULL): compare every block with
 * as many exact draws of its density (chk, see check_moments). */
static int draw_samples(const pf_node *root, const pf_node *ss,
                        const pf_selection *s, uint64_t seed, uint64_t first,
                        size_t replicas, size_t npart, double *O, pool *pl,
                        pf_rng *rx, double chk[3])
{
  const char *pr = pf_cfg_str(root, "postsel.proposal");
  const size_t k = s->k, m = replicas * npart;
  /* auto: coefficient whenever every coefficient can have a replica */
  const int mode = !pr || strcmp(pr, "observed") == 0 ? 0
                   : strcmp(pr, "marginal") == 0      ? 1
                   : strcmp(pr, "auto") == 0          ? (replicas >= k ? 2 : 1)
                                                      : 2;
  double kappa;
  PF_TRY(pf_cfg_real(root, "postsel.proposal_scale", &kappa));
  memset(pl, 0, sizeof *pl);
  pl->k = k;
  pl->m = m;
  pl->blocked = mode == 2;
  pl->blk = calloc(k + 1, sizeof(size_t));
  PF_CHECK(pl->blk, PF_ENOMEM, "allocating the sample plan");
  if (mode == 2)
    PF_CHECK(replicas >= k, PF_ECONFIG,
             "postsel.proposal: coefficient splits postsel.replicas (%zu) "
             "among the %zu selected coefficients: give replicas >= %zu",
             replicas, k, k);
  if (mode != 0) {
    pl->lr = pf_alloc_doubles(m);
    PF_CHECK(pl->lr, PF_ENOMEM, "allocating %zu weights", m);
  }
  const size_t nb = mode == 2 ? k : 1;
  int rc = 0;
  size_t r0 = 0;
  for (size_t b = 0; b < nb && rc == 0; b++) {
    /* Block b: replicas r0 .. r0 + nr - 1 (an even split, the first
     * replicas % k blocks one more). */
    const size_t nr = nb == 1 ? replicas
                              : replicas / k + (b < replicas % k ? 1 : 0);
    pf_selection_proposal *q = NULL;
    pf_target *t = NULL;
    if (mode == 1) rc = pf_selection_proposal_create(s, kappa, &q);
    if (mode == 2) rc = pf_selection_proposal_create_coef(s, kappa, b, &q);
    if (rc == 0) rc = pf_selection_target(q ? q->q : s, &t);
    double *Ob = O + r0 * npart * k;
    if (rc == 0)
      rc = sample_pool(root, ss, t, s, seed, first + r0 * npart, nr, Ob);
    if (rc == 0 && q)
      pf_selection_proposal_logratio(q, nr * npart, Ob, pl->lr + r0 * npart);
    if (rc == 0 && rx) rc = check_moments(t, Ob, nr * npart, rx, chk);
    pf_target_destroy(&t);
    pf_selection_proposal_destroy(&q);
    if (mode == 2) pl->blk[b] = r0 * npart;
    r0 += nr;
  }
  pl->blk[k] = m;
  if (rc < 0) pool_free(pl);
  return rc;
}

/* ---- data mode ------------------------------------------------------ */

/* Root attributes shared by both modes. */
static int write_root(pf_h5 *h, const pf_config *c, long long seed,
                      const char *target, const char *sampler)
{
  char *text = NULL, ts[64];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  PF_TRY(pf_config_emit(c, 1, &text));
  int rc = pf_h5_attr_str(h, NULL, "config", text);
  free(text);
  PF_TRY(rc);
  PF_TRY(pf_h5_attr_str(h, NULL, "inference_library", "pflow"));
  PF_TRY(pf_h5_attr_str(h, NULL, "inference_library_version", PF_VERSION));
  PF_TRY(pf_h5_attr_str(h, NULL, "created_at", ts));
  PF_TRY(pf_h5_attr_int(h, NULL, "seed", seed));
  PF_TRY(pf_h5_attr_str(h, NULL, "workflow", "postsel"));
  PF_TRY(pf_h5_attr_str(h, NULL, "target", target));
  PF_TRY(pf_h5_attr_str(h, NULL, "sampler", sampler));
  PF_TRY(pf_h5_attr_str(h, NULL, "status", "running"));
  PF_TRY(pf_h5_attr_int(h, NULL, "completed", 0));
  return 0;
}

static int write_f64(pf_h5 *h, const char *g, const char *name,
                     const char *dim, const double *v)
{
  pf_h5var *var;
  const char *dims[1] = {dim};
  PF_TRY(pf_h5_var(h, g, name, PF_H5_F64, 1, dims, &var));
  return pf_h5_var_write(var, v);
}

static int write_i64(pf_h5 *h, const char *g, const char *name,
                     const char *dim, const int64_t *v)
{
  pf_h5var *var;
  const char *dims[1] = {dim};
  PF_TRY(pf_h5_var(h, g, name, PF_H5_I64, 1, dims, &var));
  return pf_h5_var_write(var, v);
}

/* /posterior/x (chain = replica, draw = particle, x_dim_0). */
static int write_posterior(pf_h5 *h, size_t replicas, size_t n, size_t k,
                           const double *O)
{
  pf_h5var *v;
  static const char *const dims[] = {"chain", "draw", "x_dim_0"};
  PF_TRY(pf_h5_group(h, "posterior"));
  PF_TRY(pf_h5_dim(h, "posterior", "chain", replicas, 0));
  PF_TRY(pf_h5_dim(h, "posterior", "draw", n, 0));
  PF_TRY(pf_h5_dim(h, "posterior", "x_dim_0", k, 0));
  PF_TRY(pf_h5_var(h, "posterior", "x", PF_H5_F64, 3, dims, &v));
  return pf_h5_var_write(v, O);
}

static int write_intervals(pf_h5 *h, const pf_selection *s,
                           const pf_regdata *d, const pf_interval *ci)
{
  const size_t k = s->k;
  double *f = malloc((k + 1) * 8 * sizeof(double));
  int64_t *ix = malloc((k + 1) * 4 * sizeof(int64_t));
  char *names = malloc(k * 256 + 1);
  int rc = 0;
  PF_CHECK_GOTO(rc, f && ix && names, PF_ENOMEM, done, "allocating output");
  PF_TRY_GOTO(rc, pf_h5_dim(h, "postsel", "coef", k, 0), done);
  double *est = f, *lo = f + k, *hi = f + 2 * k, *olo = f + 3 * k,
         *ohi = f + 4 * k, *pv = f + 5 * k, *ess = f + 6 * k,
         *sd = f + 7 * k;
  int64_t *lof = ix, *hif = ix + k, *col = ix + 2 * k, *sgn = ix + 3 * k;
  size_t used = 0;
  names[0] = '\0';
  for (size_t i = 0; i < k; i++) {
    est[i] = ci[i].estimate;
    lo[i] = ci[i].lo;
    hi[i] = ci[i].hi;
    olo[i] = ci[i].ols_lo;
    ohi[i] = ci[i].ols_hi;
    pv[i] = ci[i].pvalue;
    ess[i] = ci[i].ess;
    sd[i] = sqrt(s->Sigma[i * k + i]);
    lof[i] = ci[i].lo_flag;
    hif[i] = ci[i].hi_flag;
    col[i] = (int64_t)s->active[i];
    sgn[i] = s->signs[i];
    const char *nm = d && d->names ? d->names[s->active[i]] : NULL;
    int w = nm ? snprintf(names + used, 256, "%s%s", i ? "," : "", nm)
               : snprintf(names + used, 256, "%sx%zu", i ? "," : "",
                          s->active[i]);
    if (w > 0) used += (size_t)(w < 256 ? w : 255);
  }
  PF_TRY_GOTO(rc, write_f64(h, "postsel", "estimate", "coef", est), done);
  PF_TRY_GOTO(rc, write_f64(h, "postsel", "lo", "coef", lo), done);
  PF_TRY_GOTO(rc, write_f64(h, "postsel", "hi", "coef", hi), done);
  PF_TRY_GOTO(rc, write_i64(h, "postsel", "lo_flag", "coef", lof), done);
  PF_TRY_GOTO(rc, write_i64(h, "postsel", "hi_flag", "coef", hif), done);
  PF_TRY_GOTO(rc, write_f64(h, "postsel", "ols_lo", "coef", olo), done);
  PF_TRY_GOTO(rc, write_f64(h, "postsel", "ols_hi", "coef", ohi), done);
  PF_TRY_GOTO(rc, write_f64(h, "postsel", "pvalue", "coef", pv), done);
  PF_TRY_GOTO(rc, write_f64(h, "postsel", "ess", "coef", ess), done);
  PF_TRY_GOTO(rc, write_f64(h, "postsel", "sd", "coef", sd), done);
  PF_TRY_GOTO(rc, write_i64(h, "postsel", "column", "coef", col), done);
  PF_TRY_GOTO(rc, write_i64(h, "postsel", "sign", "coef", sgn), done);
  PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "names", names), done);
  PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "flags",
                                 "lo_flag/hi_flag: 0 ok, 1 unbracketed "
                                 "(endpoint NaN: the pivot did not cross "
                                 "the level inside estimate -/+ bracket_sd "
                                 "* sd)"), done);
done:
  free(f);
  free(ix);
  free(names);
  return rc;
}

static void print_endpoint(FILE *f, double v, int flag)
{
  if (flag == PF_CI_UNBRACKETED)
    fprintf(f, " %10s", "unbrack.");
  else
    fprintf(f, " %10.4g", v);
}

static void print_table(FILE *f, const char *path, const pf_regdata *d,
                        const pf_selection *s, const char *sampler,
                        size_t replicas, size_t n, double level,
                        const pf_interval *ci)
{
  fprintf(f, "post-selection inference: %s (n = %zu, p = %zu)\n", path, d->n,
          d->p);
  fprintf(f, "randomized Lasso: lambda = %.4g, eps = %.4g, tau = %.4g, "
             "sigma = %.4g; selected %zu of %zu\n",
          s->lambda, s->eps, s->tau, sqrt(s->sigma2), s->k, s->p);
  fprintf(f, "sampler %s: %zu replica(s) x %zu particles = %zu samples of "
             "o; level %.4g\n", sampler, replicas, n, replicas * n, level);
  fprintf(f, "%-14s %10s %10s %10s %10s %10s %9s %8s\n", "variable",
          "estimate", "sel_lo", "sel_hi", "ols_lo", "ols_hi", "p-value",
          "ESS");
  int any = 0;
  for (size_t i = 0; i < s->k; i++) {
    const char *nm = d->names ? d->names[s->active[i]] : "?";
    fprintf(f, "%-14s %10.4g", nm, ci[i].estimate);
    print_endpoint(f, ci[i].lo, ci[i].lo_flag);
    print_endpoint(f, ci[i].hi, ci[i].hi_flag);
    fprintf(f, " %10.4g %10.4g %9.3g %8.0f\n", ci[i].ols_lo, ci[i].ols_hi,
            ci[i].pvalue, ci[i].ess);
    any |= ci[i].lo_flag | ci[i].hi_flag;
  }
  if (any)
    fprintf(f, "unbrack.: the pivot did not reach the level inside "
               "estimate -/+ bracket_sd * sd; the endpoint is unknown "
               "(NaN in the output), not the bracket edge\n");
}

/* postsel.proposal and its scale as /postsel attributes. */
static int write_proposal_attrs(pf_h5 *h, const pf_node *root)
{
  double kappa;
  PF_TRY(pf_cfg_real(root, "postsel.proposal_scale", &kappa));
  PF_TRY(pf_h5_attr_str(h, "postsel", "proposal",
                        pf_cfg_str(root, "postsel.proposal")));
  return pf_h5_attr_real(h, "postsel", "proposal_scale", kappa);
}

static int finish(pf_h5 **h, int rc)
{
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", rc ? pf_error_message() : "");
  int wrc = 0;
  if (!*h) return rc;
  if (rc) wrc = pf_h5_attr_str(*h, NULL, "error", msg);
  if (wrc == 0)
    wrc = pf_h5_attr_str(*h, NULL, "status", rc ? "failed" : "completed");
  if (wrc == 0) wrc = pf_h5_attr_int(*h, NULL, "completed", rc == 0);
  int crc = pf_h5_close(h);
  if (rc) {
    /* A failed attribute write would have replaced the run's error. */
    if (wrc || crc) pf__error_set(rc, __FILE__, __LINE__, "%s", msg);
    return rc;
  }
  return wrc ? wrc : crc;
}

/* Data mode needs a selective_lasso target section. */
static int check_target(const pf_node *root)
{
  const pf_node *ts = pf_node_get(root, "target");
  if (!ts)
    PF_CFG_RAISE(root, "target", PF_ECONFIG,
                 "a postsel run needs a target section (name: "
                 "selective_lasso, data: FILE) or a postsel.simulate "
                 "section for a coverage study");
  const char *tname = pf_cfg_str(ts, "name");
  if (strcmp(tname, "selective_lasso") != 0)
    PF_CFG_RAISE(ts, "name", PF_ECONFIG,
                 "postsel needs target 'selective_lasso' (the selective "
                 "density of a randomized Lasso), got '%s'", tname);
  return 0;
}

static int run_data(const pf_config *c, FILE *table)
{
  const pf_node *root = pf_config_root(c);
  const pf_node *ts = pf_node_get(root, "target");
  const pf_node *ss = pf_node_get(root, "sampler");
  PF_TRY(check_target(root));
  const char *tname = pf_cfg_str(ts, "name");
  long long seed, replicas, npart;
  double level, bracket;
  int overwrite;
  PF_TRY(pf_cfg_int(root, "seed", &seed));
  PF_TRY(pf_cfg_int(root, "postsel.replicas", &replicas));
  PF_TRY(pf_cfg_real(root, "postsel.level", &level));
  PF_TRY(pf_cfg_real(root, "postsel.bracket_sd", &bracket));
  PF_TRY(pf_cfg_int(ss, "n_particles", &npart));
  PF_TRY(pf_cfg_bool(root, "output.overwrite", &overwrite));
  const char *out = pf_cfg_str(root, "output.path");
  PF_CHECK(out && *out, PF_ECONFIG, "output.path is not set");

  pf_regdata *d = NULL;
  pf_selection *s = NULL;
  pf_target *t = NULL;
  pf_h5 *h = NULL;
  char *path = NULL;
  double *O = NULL;
  pf_interval *ci = NULL;
  pool pl;
  memset(&pl, 0, sizeof pl);
  int rc = 0;
  PF_TRY_GOTO(rc, pf__selection_from_config(ts, &d, &s, &path), done);
  const size_t k = s->k, m = (size_t)replicas * (size_t)npart;
  if (k > 0) {
    /* Config-level problems of the sampler (e.g. exact on a target
     * without a sampler) surface before the output exists. */
    PF_TRY_GOTO(rc, pf_selection_target(s, &t), done);
  }
  PF_TRY_GOTO(rc, pf_h5_create(out, overwrite, &h), done);
  PF_TRY_GOTO(rc, write_root(h, c, seed, tname, pf_cfg_str(ss, "name")),
              done);
  PF_TRY_GOTO(rc, pf_h5_group(h, "postsel"), done);
  PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "data", path), done);
  PF_TRY_GOTO(rc, pf_h5_attr_int(h, "postsel", "n", (long long)s->n), done);
  PF_TRY_GOTO(rc, pf_h5_attr_int(h, "postsel", "p", (long long)s->p), done);
  PF_TRY_GOTO(rc, pf_h5_attr_int(h, "postsel", "k", (long long)k), done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, "postsel", "lambda", s->lambda), done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, "postsel", "eps", s->eps), done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, "postsel", "tau", s->tau), done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, "postsel", "sigma2", s->sigma2), done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, "postsel", "level", level), done);
  PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "weights",
                                 pf_cfg_str(root, "postsel.weights")), done);
  PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "pivot",
                                 pf_cfg_str(root, "postsel.pivot")), done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, "postsel", "bracket_sd", bracket), done);
  PF_TRY_GOTO(rc, write_proposal_attrs(h, root), done);
  PF_TRY_GOTO(rc, pf_h5_attr_int(h, "postsel", "replicas", replicas), done);
  PF_TRY_GOTO(rc, pf_h5_attr_int(h, "postsel", "n_samples", (long long)m),
              done);
  if (k == 0) {
    PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "result",
                                   "no variables selected"), done);
    if (table)
      fprintf(table, "post-selection inference: %s (n = %zu, p = %zu)\n"
                     "no variables selected (lambda = %.4g, eps = %.4g, "
                     "tau = %.4g): there is nothing to infer; lower "
                     "target.lambda_frac or target.lambda\n",
              path, d->n, d->p, s->lambda, s->eps, s->tau);
    goto done;
  }
  PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "result", "ok"), done);
  O = pf_alloc_doubles(m * k + 1);
  ci = calloc(k, sizeof *ci);
  PF_CHECK_GOTO(rc, O && ci, PF_ENOMEM, done, "allocating %zu samples", m);
  double t0 = pf_wtime();
  PF_TRY_GOTO(rc, draw_samples(root, ss, s, (uint64_t)seed, 0,
                               (size_t)replicas, (size_t)npart, O, &pl, NULL,
                               NULL), done);
  double t1 = pf_wtime();
  pf_rng rng;
  pf_rng_stream(&rng, (uint64_t)seed, PS__STREAM(PS_TDRAW));
  PF_TRY_GOTO(rc, compute_intervals(root, s, &pl, O, level, bracket, &rng,
                                    ci), done);
  PF_TRY_GOTO(rc, write_posterior(h, (size_t)replicas, (size_t)npart, k, O),
              done);
  PF_TRY_GOTO(rc, write_intervals(h, s, d, ci), done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, NULL, "wall_time", pf_wtime() - t0),
              done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, "postsel", "sampling_time", t1 - t0),
              done);
  if (table) {
    print_table(table, path, d, s, pf_cfg_str(ss, "name"), (size_t)replicas,
                (size_t)npart, level, ci);
    fprintf(table, "sampling %.2f s; wrote %s\n", t1 - t0, out);
  }
done:
  rc = finish(&h, rc);
  pf_target_destroy(&t);
  pool_free(&pl);
  pf_selection_destroy(&s);
  pf_regdata_destroy(&d);
  free(path);
  free(O);
  free(ci);
  return rc;
}

/* ---- study mode ----------------------------------------------------- */

/* 95% Wilson score interval of x successes in N trials. */
static void wilson(double x, double N, double *lo, double *hi)
{
  const double z = 1.959963984540054, z2 = z * z;
  if (N <= 0) {
    *lo = *hi = NAN;
    return;
  }
  const double ph = x / N, den = 1 + z2 / N;
  const double mid = (ph + z2 / (2 * N)) / den;
  const double half = z / den * sqrt(ph * (1 - ph) / N + z2 / (4 * N * N));
  *lo = mid - half;
  *hi = mid + half;
}

/* Median of v[0..n) (n >= 1; sorts v in place). */
static int cmp_double(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct study {
  size_t R, L;
  double *levels;
  int64_t *k;          /* R: selected variables */
  int64_t *covered;    /* R x L */
  int64_t *unbr;       /* R x L: intervals with an unbracketed endpoint */
  double *width_sum;   /* R x L: over bracketed intervals */
  double *width_lb;    /* R x L: over all intervals, an unbracketed endpoint
                          at its bracket edge (a lower bound) */
  double *ess_min;     /* R: smallest Kish ESS over the selected */
  double *mean_err;    /* R: max_a |mean_a - exact mean_a| / exact sd_a of
                          the pooled samples against as many exact draws
                          (NaN for the exact sampler) */
  double *sd_ratio_lo, *sd_ratio_hi; /* R: min / max_a sd_a / exact sd_a */
  double *seconds;     /* R */
} study;

static void study_free(study *st)
{
  free(st->levels);
  free(st->k);
  free(st->covered);
  free(st->unbr);
  free(st->width_sum);
  free(st->width_lb);
  free(st->ess_min);
  free(st->mean_err);
  free(st->sd_ratio_lo);
  free(st->sd_ratio_hi);
  free(st->seconds);
}

/* One replication j: simulate, select, sample, intervals at every level. */
static int replicate(const pf_node *root, const pf_node *sim, study *st,
                     size_t j, double **Opool, size_t *opool_cap)
{
  const pf_node *ss = pf_node_get(root, "sampler");
  long long seed, n, p, replicas, npart, first;
  double rho, sigma, frac, bracket;
  int known;
  PF_TRY(pf_cfg_int(root, "seed", &seed));
  PF_TRY(pf_cfg_int(sim, "first", &first));
  /* Replication j of this run is replication g of the study: its data,
   * selection, particles and checks use g's streams. */
  const uint64_t g = (uint64_t)first + j;
  PF_TRY(pf_cfg_int(root, "postsel.replicas", &replicas));
  PF_TRY(pf_cfg_real(root, "postsel.bracket_sd", &bracket));
  PF_TRY(pf_cfg_int(ss, "n_particles", &npart));
  PF_TRY(pf_cfg_int(sim, "n", &n));
  PF_TRY(pf_cfg_int(sim, "p", &p));
  PF_TRY(pf_cfg_real(sim, "rho", &rho));
  PF_TRY(pf_cfg_real(sim, "sigma", &sigma));
  PF_TRY(pf_cfg_real(sim, "lambda_frac", &frac));
  PF_TRY(pf_cfg_bool(sim, "known_sigma", &known));
  const size_t L = st->L;
  pf_regdata *d = NULL;
  pf_selection *s = NULL;
  pf_target *t = NULL;
  pf_interval *ci = NULL;
  pool pl;
  memset(&pl, 0, sizeof pl);
  int rc = 0;
  pf_rng rd, rl, ro, rt, rx;
  pf_rng_stream(&rd, (uint64_t)seed, PS__STREAM(PS_DATA) + g);
  pf_rng_stream(&rl, (uint64_t)seed, PS__STREAM(PS_LAMBDA) + g);
  pf_rng_stream(&ro, (uint64_t)seed, PS__STREAM(PS_OMEGA) + g);
  double lambda, eps, tau;
  PF_TRY_GOTO(rc, pf_regdata_simulate((size_t)n, (size_t)p, rho, sigma, NULL,
                                      PF_STD_UNIT_NORM, &rd, &d), done);
  PF_TRY_GOTO(rc, pf_lasso_defaults(d->n, d->p, d->X, d->y, frac, 1000, &rl,
                                    &lambda, &eps, &tau), done);
  if (pf_cfg_has(sim, "tau")) PF_TRY_GOTO(rc, pf_cfg_real(sim, "tau", &tau), done);
  if (pf_cfg_has(sim, "eps")) PF_TRY_GOTO(rc, pf_cfg_real(sim, "eps", &eps), done);
  PF_TRY_GOTO(rc, pf_selection_create(d->n, d->p, d->X, d->y, lambda, eps,
                                      tau, known ? sigma : 0.0, &ro, &s),
              done);
  st->k[j] = (int64_t)s->k;
  st->ess_min[j] = NAN;
  st->mean_err[j] = st->sd_ratio_lo[j] = st->sd_ratio_hi[j] = NAN;
  if (s->k == 0) goto done;
  const size_t k = s->k, m = (size_t)replicas * (size_t)npart;
  if (*opool_cap < m * k) {
    free(*Opool);
    *Opool = pf_alloc_doubles(m * k);
    PF_CHECK_GOTO(rc, *Opool, PF_ENOMEM, done, "allocating %zu samples", m);
    *opool_cap = m * k;
  }
  ci = calloc(k, sizeof *ci);
  PF_CHECK_GOTO(rc, ci, PF_ENOMEM, done, "allocating intervals");
  /* Samplers other than exact: every block of samples against as many
   * exact draws of its density (stream PS_CHECK + g). */
  const int chk_on = strcmp(pf_cfg_str(ss, "name"), "exact") != 0;
  double chk[3] = {0.0, INFINITY, 0.0};
  pf_rng_stream(&rx, (uint64_t)seed, PS__STREAM(PS_CHECK) + g);
  PF_TRY_GOTO(rc, draw_samples(root, ss, s, (uint64_t)seed, g * m,
                               (size_t)replicas, (size_t)npart, *Opool, &pl,
                               chk_on ? &rx : NULL, chk), done);
  if (chk_on) {
    st->mean_err[j] = chk[0];
    st->sd_ratio_lo[j] = chk[1];
    st->sd_ratio_hi[j] = chk[2];
  }
  for (size_t l = 0; l < L; l++) {
    /* The same t-draws at every level (nested intervals). */
    pf_rng_stream(&rt, (uint64_t)seed, PS__STREAM(PS_TDRAW) + g);
    PF_TRY_GOTO(rc, compute_intervals(root, s, &pl, *Opool, st->levels[l],
                                      bracket, &rt, ci), done);
    int64_t cov = 0, ub = 0;
    double wsum = 0, wlb = 0;
    for (size_t i = 0; i < k; i++) {
      /* beta_E = 0 under the global null.  An unbracketed endpoint is
       * only known to lie beyond a bracket edge, but 0 lies inside the
       * bracket (|t_hat| < bracket_sd sd, checked below), so coverage is
       * still decided exactly: an endpoint past its own edge (flag 1)
       * counts as -inf / +inf, one past the opposite edge (flag 2) as
       * +inf / -inf (the interval misses 0).  Such intervals are left out
       * of the mean width and enter width_lb at the edge. */
      const double sd = sqrt(s->Sigma[i * k + i]);
      const double eL = s->t_hat[i] - bracket * sd,
                   eU = s->t_hat[i] + bracket * sd;
      PF_CHECK_GOTO(rc, eL < 0.0 && 0.0 < eU, PF_EINVAL, done,
                    "replication %zu: 0 lies outside the search bracket "
                    "(t_hat %g, sd %g): raise postsel.bracket_sd", (size_t)g,
                    s->t_hat[i], sd);
      const int lf = ci[i].lo_flag, hf = ci[i].hi_flag;
      const double lo = lf == PF_CI_UNBRACKETED       ? -INFINITY
                        : lf == PF_CI_UNBRACKETED_FAR ? INFINITY
                                                      : ci[i].lo;
      const double hi = hf == PF_CI_UNBRACKETED       ? INFINITY
                        : hf == PF_CI_UNBRACKETED_FAR ? -INFINITY
                                                      : ci[i].hi;
      cov += lo <= 0.0 && 0.0 <= hi;
      if (lf || hf) {
        ub++;
        const double a = lf ? eL : ci[i].lo, b = hf ? eU : ci[i].hi;
        wlb += b > a ? b - a : 0.0;
      } else {
        wsum += hi - lo;
        wlb += hi - lo;
      }
      if (l == 0 && !(ci[i].ess >= st->ess_min[j])) st->ess_min[j] = ci[i].ess;
    }
    st->covered[j * L + l] = cov;
    st->unbr[j * L + l] = ub;
    st->width_sum[j * L + l] = wsum;
    st->width_lb[j * L + l] = wlb;
  }
done:
  free(ci);
  pool_free(&pl);
  pf_target_destroy(&t);
  pf_selection_destroy(&s);
  pf_regdata_destroy(&d);
  if (rc < 0)
    return pf__error_push(rc, __FILE__, __LINE__, "a coverage replication");
  return 0;
}

static int write_study(pf_h5 *h, const study *st, const double *cov,
                       const double *clo, const double *chi,
                       const double *width, const double *width_lb,
                       const int64_t *nint, const int64_t *nub)
{
  static const char *const rl[] = {"replication", "level"};
  pf_h5var *v;
  PF_TRY(pf_h5_dim(h, "postsel", "level", st->L, 0));
  PF_TRY(pf_h5_dim(h, "postsel", "replication", st->R, 0));
  PF_TRY(write_f64(h, "postsel", "nominal", "level", st->levels));
  PF_TRY(write_f64(h, "postsel", "coverage", "level", cov));
  PF_TRY(write_f64(h, "postsel", "coverage_lo", "level", clo));
  PF_TRY(write_f64(h, "postsel", "coverage_hi", "level", chi));
  PF_TRY(write_f64(h, "postsel", "width", "level", width));
  PF_TRY(write_f64(h, "postsel", "width_lb", "level", width_lb));
  PF_TRY(write_i64(h, "postsel", "n_intervals", "level", nint));
  PF_TRY(write_i64(h, "postsel", "n_unbracketed", "level", nub));
  PF_TRY(write_i64(h, "postsel", "k", "replication", st->k));
  PF_TRY(write_f64(h, "postsel", "ess_min", "replication", st->ess_min));
  PF_TRY(write_f64(h, "postsel", "mean_err", "replication", st->mean_err));
  PF_TRY(write_f64(h, "postsel", "sd_ratio_lo", "replication",
                   st->sd_ratio_lo));
  PF_TRY(write_f64(h, "postsel", "sd_ratio_hi", "replication",
                   st->sd_ratio_hi));
  PF_TRY(write_f64(h, "postsel", "seconds", "replication", st->seconds));
  PF_TRY(pf_h5_var(h, "postsel", "covered", PF_H5_I64, 2, rl, &v));
  PF_TRY(pf_h5_var_write(v, st->covered));
  PF_TRY(pf_h5_var(h, "postsel", "unbracketed", PF_H5_I64, 2, rl, &v));
  PF_TRY(pf_h5_var_write(v, st->unbr));
  PF_TRY(pf_h5_var(h, "postsel", "width_sum", PF_H5_F64, 2, rl, &v));
  PF_TRY(pf_h5_var_write(v, st->width_sum));
  PF_TRY(pf_h5_var(h, "postsel", "width_lb_sum", PF_H5_F64, 2, rl, &v));
  PF_TRY(pf_h5_var_write(v, st->width_lb));
  PF_TRY(pf_h5_attr_str(h, "postsel", "coverage_note",
                        "coverage of beta_E = 0 pooled over all selected "
                        "variables of all replications; coverage_lo/hi: 95% "
                        "Wilson interval; width: mean over intervals with "
                        "both endpoints bracketed; width_lb: mean over all "
                        "intervals with unbracketed endpoints at the "
                        "bracket edge (a lower bound); coverage is exact "
                        "for unbracketed endpoints too (0 lies inside the "
                        "bracket, the flag says on which side the root "
                        "is)"));
  return 0;
}

/* Study mode builds its own targets; levels must be non-empty. */
static int check_study(const pf_node *root)
{
  const pf_node *ts = pf_node_get(root, "target");
  const pf_node *sim = pf_node_get(root, "postsel.simulate");
  if (ts)
    PF_CFG_RAISE(ts, NULL, PF_ECONFIG,
                 "postsel.simulate builds the selective target of every "
                 "simulated data set itself: remove the target section (its "
                 "tuning is postsel.simulate.lambda_frac)");
  if (pf_node_len(pf_node_get(sim, "levels")) == 0)
    PF_CFG_RAISE(sim, "levels", PF_ECONFIG, "give at least one level");
  return 0;
}

static int run_study(const pf_config *c, FILE *table)
{
  const pf_node *root = pf_config_root(c);
  const pf_node *sim = pf_node_get(root, "postsel.simulate");
  const pf_node *ss = pf_node_get(root, "sampler");
  PF_TRY(check_study(root));
  long long seed, R, n, p, replicas, npart;
  int overwrite;
  PF_TRY(pf_cfg_int(root, "seed", &seed));
  PF_TRY(pf_cfg_int(sim, "replications", &R));
  PF_TRY(pf_cfg_int(sim, "n", &n));
  PF_TRY(pf_cfg_int(sim, "p", &p));
  PF_TRY(pf_cfg_int(root, "postsel.replicas", &replicas));
  PF_TRY(pf_cfg_int(ss, "n_particles", &npart));
  PF_TRY(pf_cfg_bool(root, "output.overwrite", &overwrite));
  const char *out = pf_cfg_str(root, "output.path");
  PF_CHECK(out && *out, PF_ECONFIG, "output.path is not set");
  study st;
  memset(&st, 0, sizeof st);
  st.R = (size_t)R;
  PF_TRY(pf_cfg_reals(sim, "levels", &st.levels, &st.L));
  const size_t L = st.L;
  int rc = 0;
  pf_h5 *h = NULL;
  pf_progress *prog = NULL;
  double *Opool = NULL;
  size_t ocap = 0;
  double *cov = calloc(6 * L, sizeof(double));
  int64_t *cnt = calloc(2 * L, sizeof(int64_t));
  st.k = calloc(st.R, sizeof(int64_t));
  st.covered = calloc(st.R * L, sizeof(int64_t));
  st.unbr = calloc(st.R * L, sizeof(int64_t));
  st.width_sum = calloc(st.R * L, sizeof(double));
  st.width_lb = calloc(st.R * L, sizeof(double));
  st.ess_min = calloc(st.R, sizeof(double));
  st.mean_err = calloc(st.R, sizeof(double));
  st.sd_ratio_lo = calloc(st.R, sizeof(double));
  st.sd_ratio_hi = calloc(st.R, sizeof(double));
  st.seconds = calloc(st.R, sizeof(double));
  PF_CHECK_GOTO(rc, cov && cnt && st.k && st.covered && st.unbr &&
                        st.width_sum && st.width_lb && st.ess_min &&
                        st.mean_err && st.sd_ratio_lo && st.sd_ratio_hi &&
                        st.seconds,
                PF_ENOMEM, done, "allocating the study records");
  PF_TRY_GOTO(rc, pf_h5_create(out, overwrite, &h), done);
  PF_TRY_GOTO(rc, write_root(h, c, seed, "selective_lasso (simulated)",
                             pf_cfg_str(ss, "name")), done);
  PF_TRY_GOTO(rc, pf_h5_group(h, "postsel"), done);
  PF_TRY_GOTO(rc, pf_progress_create(table ? stderr : NULL, (long)R,
                                     R < 20 ? 1 : R / 20, &prog), done);
  double t0 = pf_wtime();
  for (size_t j = 0; j < st.R; j++) {
    double tj = pf_wtime();
    PF_TRY_GOTO(rc, replicate(root, sim, &st, j, &Opool, &ocap),
                done);
    st.seconds[j] = pf_wtime() - tj;
    char note[64];
    snprintf(note, sizeof note, "k=%lld", (long long)st.k[j]);
    pf_progress_update(prog, (long)j + 1, note);
  }
  pf_progress_finish(prog, (long)R, "completed");
  const double total = pf_wtime() - t0;
  double *c_ = cov, *clo = cov + L, *chi = cov + 2 * L, *w = cov + 3 * L,
         *wl = cov + 4 * L;
  int64_t *nint = cnt, *nub = cnt + L;
  size_t empty = 0;
  for (size_t j = 0; j < st.R; j++) empty += st.k[j] == 0;
  for (size_t l = 0; l < L; l++) {
    double x = 0, N = 0, ws = 0, nb = 0, wb = 0;
    for (size_t j = 0; j < st.R; j++) {
      x += (double)st.covered[j * L + l];
      N += (double)st.k[j];
      nb += (double)st.unbr[j * L + l];
      ws += st.width_sum[j * L + l];
      wb += st.width_lb[j * L + l];
    }
    wl[l] = N > 0 ? wb / N : NAN;
    c_[l] = N > 0 ? x / N : NAN;
    wilson(x, N, &clo[l], &chi[l]);
    w[l] = N - nb > 0 ? ws / (N - nb) : NAN;
    nint[l] = (int64_t)N;
    nub[l] = (int64_t)nb;
  }
  PF_TRY_GOTO(rc, write_study(h, &st, c_, clo, chi, w, wl, nint, nub), done);
  PF_TRY_GOTO(rc, pf_h5_attr_real(h, NULL, "wall_time", total), done);
  PF_TRY_GOTO(rc, pf_h5_attr_int(h, "postsel", "replications", R), done);
  {
    long long first;
    PF_TRY_GOTO(rc, pf_cfg_int(sim, "first", &first), done);
    PF_TRY_GOTO(rc, pf_h5_attr_int(h, "postsel", "first", first), done);
  }
  PF_TRY_GOTO(rc, write_proposal_attrs(h, root), done);
  PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "weights",
                                 pf_cfg_str(root, "postsel.weights")), done);
  PF_TRY_GOTO(rc, pf_h5_attr_str(h, "postsel", "pivot",
                                 pf_cfg_str(root, "postsel.pivot")), done);
  PF_TRY_GOTO(rc, pf_h5_attr_int(h, "postsel", "empty_selections",
                                 (long long)empty), done);
  double kappa_;
  long long first_;
  PF_TRY_GOTO(rc, pf_cfg_real(root, "postsel.proposal_scale", &kappa_), done);
  PF_TRY_GOTO(rc, pf_cfg_int(sim, "first", &first_), done);
  if (table) {
    fprintf(table,
            "coverage study under the global null: %lld replications, n = "
            "%lld, p = %lld; sampler %s, %lld replica(s) x %lld particles\n"
            "%lld intervals (%zu replications selected nothing); %.1f s\n"
            "pivot proposal: %s (scale %g); replications %lld ... %lld\n",
            R, n, p, pf_cfg_str(ss, "name"), replicas, npart,
            (long long)nint[0], empty, total,
            pf_cfg_str(root, "postsel.proposal"), kappa_, first_,
            first_ + R - 1);
    fprintf(table, "%8s %9s %19s %11s %11s %12s\n", "nominal", "coverage",
            "Wilson 95%", "mean width", "width >=", "unbracketed");
    for (size_t l = 0; l < L; l++)
      fprintf(table, "%8.3g %9.3f    [%.3f, %.3f] %11.4g %11.4g %12lld%s\n",
              st.levels[l], c_[l], clo[l], chi[l], w[l], wl[l],
              (long long)nub[l],
              st.levels[l] < clo[l] || st.levels[l] > chi[l]
                  ? "  (nominal outside)" : "");
    if (strcmp(pf_cfg_str(ss, "name"), "exact") != 0) {
      /* Medians over replications of the moment check. */
      double me = 0, lo = 0, hi = 0;
      size_t nn = 0;
      double *tmp = malloc(3 * st.R * sizeof(double));
      if (tmp) {
        for (size_t j = 0; j < st.R; j++)
          if (isfinite(st.mean_err[j])) {
            tmp[nn] = st.mean_err[j];
            tmp[st.R + nn] = st.sd_ratio_lo[j];
            tmp[2 * st.R + nn] = st.sd_ratio_hi[j];
            nn++;
          }
        if (nn) {
          me = median(tmp, nn);
          lo = median(tmp + st.R, nn);
          hi = median(tmp + 2 * st.R, nn);
        }
        free(tmp);
      }
      fprintf(table, "against exact draws (median over replications): "
                     "largest mean error %.3f exact sd, sd ratios "
                     "%.3f-%.3f\n", me, lo, hi);
    }
    fprintf(table, "wrote %s\n", out);
  }
done:
  rc = finish(&h, rc);
  pf_progress_destroy(&prog);
  free(Opool);
  free(cov);
  free(cnt);
  study_free(&st);
  return rc;
}

static int is_study(const pf_config *c)
{
  const pf_node *sim = pf_node_get(pf_config_root(c), "postsel.simulate");
  return sim && !pf_node_is_default(sim);
}

int pf_postsel_given(const pf_config *c)
{
  const pf_node *ps = pf_node_get(pf_config_root(c), "postsel");
  return ps && !pf_node_is_default(ps);
}

int pf_postsel_check(const pf_config *c)
{
  const pf_node *root = pf_config_root(c);
  if (is_study(c)) return check_study(root);
  PF_TRY(check_target(root));
  pf_regdata *d = NULL;
  pf_selection *s = NULL;
  char *path = NULL;
  int rc = pf__selection_from_config(pf_node_get(root, "target"), &d, &s,
                                     &path);
  pf_selection_destroy(&s);
  pf_regdata_destroy(&d);
  free(path);
  return rc;
}

int pf_postsel_run(const pf_config *c, FILE *table)
{
  return is_study(c) ? run_study(c, table) : run_data(c, table);
}
