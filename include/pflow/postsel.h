/* Post-selection inference after a randomized Lasso (Tian & Taylor 2018;
 * the experiment of Shi, Liu & Mackey 2022): the Lasso solver, the
 * selection event and its selective density of the optimization variables,
 * selective confidence intervals from importance-weighted pivots, and the
 * `postsel` workflow behind `pflow run` for configs with a `postsel`
 * section.
 *
 * Model.  Data X (n x p, standardized as the caller chose), y (n).  The
 * randomized Lasso solves
 *   min_beta 1/2 |y - X beta|^2 + lambda |beta|_1 - omega' beta
 *            + eps/2 |beta|^2,   omega ~ N(0, tau^2 I_p).
 * Its KKT conditions with active set E, signs s_E, o = |beta_E| > 0 and the
 * inactive subgradient z_{-E} (|z| <= 1) read
 *   omega = B o + c,   B = (X'X_E + eps I_{.,E}) diag(s_E)   (p x |E|),
 *                      c = u - X'y,  u_E = lambda s_E, u_{-E} = lambda z.
 * Conditioning on z leaves the selective density of o, a Gaussian
 * restricted to the nonnegative orthant:
 *   p(o) ∝ exp(-|B o + c|^2 / (2 tau^2)) 1{o >= 0}
 *        ∝ exp(-|R o + r|^2 / (2 tau^2)) 1{o >= 0},
 * R = chol(B'B) (upper), r = R^{-T} B' c.
 *
 * Everything here is single-threaded unless stated and allocation-owning
 * objects follow create/destroy (destroy is NULL-safe and clears the
 * pointer). */
#ifndef PFLOW_POSTSEL_H
#define PFLOW_POSTSEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pflow/config.h"
#include "pflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Regression data ----------------------------------------------- */

/* A design and response, owned by the object (pf_regdata_destroy). */
typedef struct pf_regdata {
  size_t n, p;
  double *X;    /* n x p row-major */
  double *y;    /* n */
  char **names; /* p column names (NULL for simulated data) */
} pf_regdata;

/* How columns are standardized: none; centred and scaled to unit Euclidean
 * norm (selectiveInference's scale=TRUE, the coverage study's design); or
 * centred and scaled to unit sample standard deviation.  y is centred
 * unless none. */
typedef enum pf_standardize {
  PF_STD_NONE,
  PF_STD_UNIT_NORM,
  PF_STD_SD
} pf_standardize;

/* Read a CSV with a header row: `response` names the y column (NULL: the
 * last column), every other column is a predictor.  Errors (message
 * naming the file, and the line and column where it applies): PF_EIO
 * unreadable file; PF_EPARSE (from pf_csv_read, "PATH:LINE: column 'x':
 * not a number ('abc')") non-numeric or missing cell, wrong field count;
 * PF_EINVAL unknown response name (with a "did you mean"), a constant
 * predictor column when standardizing (named; with PF_STD_NONE it is kept,
 * e.g. an intercept), fewer than 2 rows. */
int pf_regdata_read_csv(const char *path, const char *response,
                        pf_standardize std, pf_regdata **out);

/* Simulated data for coverage studies: rows of X ~ N(0, Sigma_rho) with
 * equicorrelation rho, standardized as `std` says, y = X beta + sigma z
 * (beta NULL: the global null, beta = 0), all from the given stream. */
int pf_regdata_simulate(size_t n, size_t p, double rho, double sigma,
                        const double *beta, pf_standardize std, pf_rng *rng,
                        pf_regdata **out);
void pf_regdata_destroy(pf_regdata **d);

/* ---- Lasso --------------------------------------------------------- */

/* Solve the randomized Lasso above by cyclic coordinate descent with
 * active-set sweeps.  X is n x p row-major, y length n, omega length p
 * (NULL: zero), eps >= 0 the ridge.  beta (length p) is the warm start on
 * entry and the solution on return.  Converged when the largest KKT
 * violation, max_j |x_j'(y - X beta) + omega_j - eps beta_j - lambda
 * sub_j|, is below tol * max(1, |X'y|_inf) (sub_j = sign(beta_j), or the
 * violation outside [-lambda, lambda] for beta_j = 0); PF_ENOCONV after
 * max_iter sweeps.  *kkt (may be NULL) receives the final violation. */
int pf_lasso_solve(size_t n, size_t p, const double *X, const double *y,
                   double lambda, const double *omega, double eps,
                   double tol, int max_iter, double *beta, double *kkt);

/* Default tuning of the R package selectiveInference's randomizedLasso
 * (also used by Shi et al.): with m2 = mean_j |X_j|^2 and sd(y) the sample
 * standard deviation,
 *   tau    = 0.25 sd(y) sqrt(m2),
 *   eps    = sqrt(m2) sd(y) / sqrt(n),
 *   lambda = lambda_frac * E max_j |X_j' z|,  z ~ N(0, I_n), estimated from
 *            n_mc draws of the given stream (sigma_est = 1).
 * Any output pointer may be NULL (that quantity is skipped). */
int pf_lasso_defaults(size_t n, size_t p, const double *X, const double *y,
                      double lambda_frac, size_t n_mc, pf_rng *rng,
                      double *lambda, double *eps, double *tau);

/* ---- The selection event ------------------------------------------- */

/* Everything the selective density and the intervals need.  Arrays are
 * owned by the object; k = |E|. */
typedef struct pf_selection {
  size_t n, p, k;
  double lambda, eps, tau;
  size_t *active;   /* E, increasing column indices (k) */
  int *signs;       /* s_E (k) */
  double *beta;     /* randomized Lasso solution (p) */
  double *omega;    /* the randomization draw (p) */
  double *B;        /* p x k row-major */
  double *c;        /* p: u - X'y at the observed data */
  double *R;        /* k x k upper triangular row-major, R'R = B'B */
  double *r;        /* k: R^{-T} B' c */
  double *o_obs;    /* k: |beta_E|, the observed optimization variables */
  /* The selected model y ~ N(X_E beta_E, sigma^2 I): OLS on E. */
  double *t_hat;    /* k: (X_E'X_E)^{-1} X_E'y */
  double *Sigma;    /* k x k: sigma_hat^2 (X_E'X_E)^{-1}, sigma_hat^2 from
                       the residuals with n - k degrees of freedom (or the
                       given sigma when known, see pf_selection_create) */
  double *crosscov; /* p x k: Cov(c, t) = -X'X_E Sigma.  Moving t_i by
                       delta (all else in the data fixed) moves c by
                       crosscov[:, i] delta / Sigma_ii */
  double sigma2;    /* sigma_hat^2 used in Sigma */
  double kkt;       /* KKT violation of the solve */
} pf_selection;

/* Fit the randomized Lasso on (X, y) with omega ~ N(0, tau^2 I) drawn from
 * `rng`, and build the selection object.  lambda/eps/tau as given (use
 * pf_lasso_defaults for the usual recipe).  sigma > 0 fixes the noise level
 * of the selected model; sigma <= 0 estimates it from the OLS residuals on
 * E.  The solve uses tol 1e-10 (pf_lasso_solve) from beta = 0.  Errors
 * (PF_EINVAL with a message): n <= k with sigma estimated, a singular
 * X_E'X_E, non-finite data, n < p with eps = 0 (no unique solution).  Nothing selected (k = 0) is not an
 * error: *out is created with k = 0 and the caller reports an empty
 * result. */
int pf_selection_create(size_t n, size_t p, const double *X, const double *y,
                        double lambda, double eps, double tau, double sigma,
                        pf_rng *rng, pf_selection **out);
void pf_selection_destroy(pf_selection **s);

/* log p(o) up to a constant and its gradient, for m points O (m x k);
 * -inf with a zero gradient outside the orthant.  Thread-safe (const). */
void pf_selection_logp_grad(const pf_selection *s, size_t m, const double *O,
                            double *logp, double *grad);

struct pf_target; /* include/pflow/target.h */

/* A target (dimension k, orthant domain, density above, exact sampler: the
 * truncated Gaussian's rejection or chord-Gibbs sampler) that borrows s,
 * which must outlive it.  k = 0 is PF_EINVAL.  Used by the workflow to run
 * any sampler on the selective density; the `selective_lasso` target of a
 * config builds the same from its data section and owns its selection. */
int pf_selection_target(const pf_selection *s, struct pf_target **out);

/* ---- Selective intervals ------------------------------------------- */

/* Endpoint flags. */
enum {
  PF_CI_OK = 0,
  PF_CI_UNBRACKETED = 1,    /* the pivot did not cross the level inside the
                               search bracket and the root lies beyond the
                               edge on the endpoint's own side (lo below
                               t_hat - bracket_sd sd, hi above t_hat +
                               bracket_sd sd): the interval reaches past
                               the bracket.  The endpoint is NaN, never the
                               bracket edge */
  PF_CI_UNBRACKETED_FAR = 2 /* the root lies beyond the opposite edge (lo
                               above t_hat + bracket_sd sd, hi below
                               t_hat - bracket_sd sd); NaN as well */
};

typedef struct pf_interval {
  double estimate;        /* t_hat_i */
  double lo, hi;          /* selective interval (NaN when unbracketed) */
  int lo_flag, hi_flag;   /* PF_CI_* */
  double ols_lo, ols_hi;  /* unadjusted interval t_hat_i -/+ z sd */
  double pvalue;          /* two-sided selective p-value of beta_i = 0 */
  double ess;             /* effective sample size of the weights at the
                             estimate (Kish) */
} pf_interval;

/* Selective intervals at `level` for every selected coefficient from m
 * samples O (m x k) of the selective density at the observed data.  The
 * pivot at parameter value b is the self-normalized importance estimate of
 * P_b(T_i <= t_hat_i | selection) over the samples of o, with weights from
 * the exact p-dimensional density of omega (no projection onto range(B),
 * so it stays exact for eps > 0) and the integral over T_i done in closed
 * form for each sample (Rao-Blackwellized: no t-draws, see
 * postsel/intervals.c), so `rng` is not used (kept for estimators that
 * draw; may be NULL).  Endpoints come from a bracketed root search over
 * t_hat_i -/+ bracket_sd sd_i.  out has k entries.  Errors (PF_EINVAL):
 * k = 0, m < 2, level outside (0, 1), a sample outside the orthant or not
 * finite, a non-positive Sigma_ii. */
int pf_selection_intervals(const pf_selection *s, size_t m, const double *O,
                           double level, double bracket_sd, pf_rng *rng,
                           pf_interval *out);

/* The same with the reference implementation's projected k-dimensional
 * weights exp(-|R o + r + l s|^2 / (2 tau^2)), l = R^{-T} B' v: equal to
 * the exact ones when eps = 0, an approximation (it drops a t-dependent
 * factor) when eps > 0, with narrower intervals.  For comparison
 * (`postsel.weights: projected`). */
int pf_selection_intervals_projected(const pf_selection *s, size_t m,
                                     const double *O, double level,
                                     double bracket_sd, pf_interval *out);

/* The reference implementation's estimator, for comparison
 * (`postsel.pivot: paired`): each sample o_n is paired with one draw t_n ~
 * N(b, Sigma_ii) (m standard normals from `rng` per coefficient, reused
 * for every b) and P(b) is the self-normalized weighted fraction of t_n <=
 * t_hat_i.  Consistent, but a step function of b that is exactly 0 or 1
 * once b is further from t_hat_i than the most extreme draw (~3.7 sd for
 * 5000 draws), which caps the intervals' half-widths there.  projected:
 * the reference's k-dimensional weights instead of the exact ones.  rng is
 * required (PF_EINVAL if NULL). */
int pf_selection_intervals_paired(const pf_selection *s, size_t m,
                                  const double *O, double level,
                                  double bracket_sd, int projected,
                                  pf_rng *rng, pf_interval *out);

/* ---- The over-dispersed proposal (postsel/proposal.c) --------------- */

/* The pivot importance-weights samples of o towards the o-marginal of the
 * joint selective law of (T, o), which is much wider than p(o) when tau is
 * small against sd(T).  The proposal is that marginal at b = t_hat with T
 * over-dispersed by kappa:
 *   q(o) ∝ int phi(t; t_hat, kappa^2 Sigma) phi_tau(B o + c + C Sigma^{-1}
 *          (t - t_hat)) dt 1{o >= 0},   C = crosscov,
 * i.e. B o + c ~ N(0, Omega), Omega = tau^2 I + kappa^2 C Sigma^{-1} C',
 * a Gaussian in o with precision B' Omega^{-1} B truncated to the orthant:
 * the family of p(o) itself, so every sampler draws it unchanged.  One
 * proposal serves all k coefficients (C Sigma^{-1} C' dominates each
 * coefficient's own Sigma_ii v_i v_i').  kappa = 0 gives p itself. */
typedef struct pf_selection_proposal {
  double kappa;
  size_t k;
  size_t rank;     /* columns of W: k (joint) or 1 (one coefficient) */
  pf_selection *q; /* s with its own R, r, the proposal's (R'R = tau^2 B'
                      Omega^{-1} B, R'r = tau^2 B' Omega^{-1} c), so
                      pf_selection_target(q) samples q; every other field
                      is borrowed from s, which must outlive the proposal */
  double *G;       /* rank x k: G = L^{-1} W' B, L L' = tau^2 I + W'W,
                      W = kappa C L_Sigma^{-T} (p x k), Sigma = L_Sigma
                      L_Sigma' */
  double *h;       /* rank: L^{-1} W' c */
} pf_selection_proposal;

/* Build the proposal of selection s (k >= 1) at scale kappa >= 0 with
 * k x k solves only (Woodbury: Omega^{-1} = tau^{-2} (I - W (tau^2 I +
 * W'W)^{-1} W')).  Errors: PF_EINVAL (k = 0, kappa < 0 or not finite, a
 * non-positive-definite Sigma or proposal precision), PF_ENOMEM. */
int pf_selection_proposal_create(const pf_selection *s, double kappa,
                                 pf_selection_proposal **out);

/* The proposal of coefficient i alone: the o-marginal of the joint law of
 * (T_i, o) with T_i ~ N(t_hat_i, kappa^2 Sigma_ii), Omega = tau^2 I +
 * kappa^2 Sigma_ii v_i v_i' (W = kappa C[:, i] / sqrt(Sigma_ii), p x 1; G
 * is then 1 x k and h has 1 entry).  At kappa = 1 it is exactly the
 * o-marginal the pivot of coefficient i weights towards at b = t_hat_i.
 * Errors as pf_selection_proposal_create, and PF_EINVAL for i >= k. */
int pf_selection_proposal_create_coef(const pf_selection *s, double kappa,
                                      size_t i, pf_selection_proposal **out);
void pf_selection_proposal_destroy(pf_selection_proposal **q);

/* lr_n = log p(o_n) - log q(o_n) up to one constant for m samples O (m x
 * k): -|G o_n + h|^2 / (2 tau^2), exactly 0 at kappa = 0.  Thread-safe. */
void pf_selection_proposal_logratio(const pf_selection_proposal *q,
                                    size_t m, const double *O, double *lr);

/* Options of pf_selection_intervals_opt. */
typedef struct pf_ci_options {
  double level, bracket_sd;
  int projected;           /* the reference's k-dimensional weights */
  pf_rng *paired;          /* non-NULL: the paired estimator with t-draws
                              from this stream */
  const double *log_ratio; /* m: log p(o_n) - log q(o_n) when O are draws of
                              a proposal q (pf_selection_proposal_logratio);
                              NULL: O are draws of p */
  int one;                 /* nonzero: only coefficient `coef` (out[coef]
                              written, the rest untouched); 0: all k */
  size_t coef;
} pf_ci_options;

/* All estimators in one entry point; with log_ratio NULL it equals
 * pf_selection_intervals / _projected / _paired bit for bit. */
int pf_selection_intervals_opt(const pf_selection *s, size_t m,
                               const double *O, const pf_ci_options *opt,
                               pf_interval *out);

/* ---- The workflow -------------------------------------------------- */

/* Spec of the root `postsel` section (see postsel/workflow.c): level,
 * replicas, bracket_sd and the optional `simulate` subsection (coverage
 * study).  Validation fills every section with defaults, so a config
 * without `postsel` still gets one, marked default: use pf_postsel_given. */
extern const pf_param pf_postsel_params[];

/* 1 when the validated config has a `postsel` section the user wrote (not
 * the one validation filled with defaults): `pflow run` and `pflow check`
 * then take the post-selection workflow. */
int pf_postsel_given(const pf_config *c);

/* What `pflow check` runs for a postsel config: the checks the specs
 * cannot express (data mode: a selective_lasso target section, the data
 * read, standardized and the selection fitted, an empty selection being
 * fine; study mode: no target section, at least one level).  Config
 * problems are PF_ECONFIG naming file, line and key. */
int pf_postsel_check(const pf_config *c);

/* Run the post-selection workflow of a validated config that has a
 * `postsel` section: read and standardize the data (or simulate it),
 * select, sample the selective density with the configured sampler, write
 * intervals to the HDF5 output and print the table to `table` (NULL:
 * silent).  Errors name the file, line and key. */
int pf_postsel_run(const pf_config *c, FILE *table);

#ifdef __cplusplus
}
#endif
#endif
