/* Convergence statistics of Markov chains and of weighted samples.
 *
 * Chains are given as an m x n row-major array (m chains, n draws each:
 * chain c's draw i is x[c * n + i]).  The statistics follow Vehtari,
 * Gelman, Simpson, Carpenter and Buerkner (2021), "Rank-normalization,
 * folding, and localization: an improved R-hat for assessing convergence
 * of MCMC", Bayesian Analysis 16(2):667-718 -- the definitions Stan,
 * ArviZ and the R package `posterior` use:
 *
 *  - split chains: each chain is cut into its first and last n/2 draws
 *    (the middle draw of an odd n is dropped), giving 2m chains;
 *  - rank normalization: pooled fractional (average-of-ties) ranks r of the
 *    S split draws mapped to z = Phi^-1((r - 3/8) / (S + 1/4)) (Blom);
 *  - R-hat = max(split R-hat of the rank-normalized draws, split R-hat of
 *    the rank-normalized folded draws |x - median(x)|);
 *  - bulk ESS = ESS of the rank-normalized split chains;
 *  - tail ESS = min of the ESS of the split-chain indicators
 *    I(x <= q_0.05) and I(x <= q_0.95) (quantiles of the split draws,
 *    linear interpolation, "type 7");
 *  - ESS = S / tau with tau = -1 + 2 sum_t rho_t, the autocorrelations
 *    rho_t = 1 - (W - mean_c acov_c(t)) / var+ combined over chains, the
 *    sum truncated by Geyer's initial positive sequence and made monotone
 *    (Geyer 1992), and tau >= 1 / log10(S) as in Stan (so ESS <= S log10 S).
 *
 * All functions are reentrant (no shared state); they allocate their own
 * O(m n) workspace per call, so they are meant for summaries and periodic
 * diagnostics, not for per-step inner loops. */
#ifndef PFLOW_CHAINS_H
#define PFLOW_CHAINS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The statistics of one scalar quantity over chains.  A value is NaN when
 * it is undefined: non-finite draws, or draws with no spread (all equal,
 * or an indicator that is constant). */
typedef struct pf_chain_stats {
  double rhat;      /* max(rhat_bulk, rhat_tail) */
  double rhat_bulk; /* rank-normalized split R-hat */
  double rhat_tail; /* same of the folded draws |x - median| */
  double ess_bulk;  /* ESS of the rank-normalized split chains */
  double ess_tail;  /* min ESS of the 5% and 95% quantile indicators */
} pf_chain_stats;

/* Everything above for x (m x n, m >= 1 chains, n >= 4 draws each).
 * The ESS values need n >= 10 (5 draws per split chain, the least that
 * Geyer's first pair of lags allows) and are NaN below.  PF_EINVAL for
 * NULL pointers or n < 4, PF_ENOMEM. */
int pf_chain_stats_compute(const double *x, size_t m, size_t n,
                           pf_chain_stats *out);

/* Geyer ESS of the chains exactly as given (no splitting, no rank
 * normalization): the classic ESS of the mean.  m >= 1, n >= 4; *ess is
 * NaN for n < 5 and for non-finite or constant draws. */
int pf_chains_ess(const double *x, size_t m, size_t n, double *ess);

/* Split R-hat (potential scale reduction) of the chains as given, split
 * into halves but not rank-normalized (Gelman et al., BDA3, 11.4).
 * m >= 1, n >= 4. */
int pf_chains_rhat_split(const double *x, size_t m, size_t n, double *rhat);

/* Inverse of the standard normal CDF, Phi^-1(p): Wichura's algorithm AS241
 * (PPND16), Applied Statistics 37(3):477-484, 1988; relative error about
 * 1e-16 over (0, 1).  Returns -inf at 0, +inf at 1, NaN outside [0, 1]. */
double pf_norm_quantile(double p);

/* Quantile p in [0, 1] of n >= 1 sorted values, linear interpolation
 * between order statistics at position p (n - 1) (Hyndman-Fan type 7,
 * numpy's default). */
double pf_quantile_sorted(const double *sorted, size_t n, double p);

/* Normalized effective sample size of n weighted samples from their log
 * weights (any additive constant): (sum w)^2 / (n sum w^2), in [1/n, 1],
 * computed as exp(2 LSE(l) - LSE(2 l) - log n) so that weights spanning
 * any range do not overflow (Kish's ESS divided by n).  -inf log weights
 * are zero weights.  PF_ENONFINITE for a NaN or +inf log weight, PF_EINVAL
 * when n == 0 or every weight is zero. */
int pf_ess_log_weights(const double *logw, size_t n, double *ess_frac);

#ifdef __cplusplus
}
#endif
#endif
