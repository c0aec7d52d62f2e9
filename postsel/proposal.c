/* The over-dispersed proposal of the selective pivot
 * (pf_selection_proposal_*, include/pflow/postsel.h).
 *
 * Why.  The pivot of coefficient i importance-weights samples of o towards
 * the o-marginal of the joint selective law of (T_i, o) (postsel/
 * intervals.c).  With samples from p(o) ∝ phi_tau(B o + c) 1{o >= 0}, the
 * law at the observed t_hat only, the weights exp(g^2 / (2 tau^4 P)) grow
 * like a Gaussian in the sample's projection g on B'v_i, and when tau is
 * small against sd(T_i) a handful of extreme samples decide the pivot
 * (Kish ESS < 10 of 5000 in ~20 % of the coverage study's replications).
 *
 * The proposal.  Draw o instead from the o-marginal of the joint law of
 * (T, o) at b = t_hat with T over-dispersed by kappa, T ~ N(t_hat,
 * kappa^2 Sigma).  The KKT offset moves with all of T as c(T) = c + C
 * Sigma^{-1} (T - t_hat) (C = crosscov = Cov(c, T): the regression of c on
 * T), so B o + c ~ N(0, Omega) on the selection event,
 *   Omega = tau^2 I_p + kappa^2 C Sigma^{-1} C'.
 * For every coefficient, C Sigma^{-1} C' >= Sigma_ii v_i v_i' (Cauchy-
 * Schwarz: (e_i'a)^2 <= Sigma_ii a' Sigma^{-1} a), so at kappa >= 1 the
 * proposal is at least as wide as each coefficient's own o-marginal; one
 * sampling run serves all k coefficients.
 *
 * Algebra with k x k solves only.  Sigma = L_S L_S', W = kappa C L_S^{-T}
 * (p x k, W W' = kappa^2 C Sigma^{-1} C'), L L' = tau^2 I_k + W'W.
 * Woodbury: Omega^{-1} = tau^{-2} (I - W (tau^2 I + W'W)^{-1} W'), so with
 * u = B o + c and z = L^{-1} W' u = G o + h (G = L^{-1} W'B, h = L^{-1} W'c),
 *   u' Omega^{-1} u = (|u|^2 - |z|^2) / tau^2.
 * Hence q(o) ∝ exp(-(|u|^2 - |z|^2) / (2 tau^2)): precision (B'B - G'G) /
 * tau^2, linear term (B'c - G'h) / tau^2, which is a "selection" with
 * R'R = B'B - G'G and R'r = B'c - G'h; and
 *   log p(o) - log q(o) = -|G o + h|^2 / (2 tau^2)
 * up to a constant, the per-sample factor of the pivot's weights.  At
 * kappa = 0, W = G = h = 0: q = p and the factor is exactly 0 (R, r are
 * then copied from s, so the samplers see the same bits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "pflow/error.h"
#include "pflow/postsel.h"

/* Lower Cholesky factor of the k x k symmetric A (row-major, in place; the
 * upper triangle is zeroed, so A is the factor itself).  Returns 0, or -1
 * when A is not positive definite. */
static int chol_lower(size_t k, double *A)
{
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)k, A,
                     (lapack_int)k) != 0)
    return -1;
  for (size_t i = 0; i < k; i++)
    for (size_t j = i + 1; j < k; j++) A[i * k + j] = 0.0;
  return 0;
}

/* x := L^{-1} x, L lower k x k, x with stride `inc`. */
static void fsolve(size_t k, const double *L, double *x, size_t inc)
{
  cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)k,
              L, (int)k, x, (int)inc);
}

void pf_selection_proposal_destroy(pf_selection_proposal **pq)
{
  if (!pq || !*pq) return;
  pf_selection_proposal *q = *pq;
  if (q->q) {
    free(q->q->R);
    free(q->q->r);
    free(q->q);
  }
  free(q->G);
  free(q->h);
  free(q);
  *pq = NULL;
}

/* The proposal with Omega = tau^2 I + kappa^2 C Sigma^{-1} C' (coef = k:
 * the joint) or tau^2 I + kappa^2 C_i C_i' / Sigma_ii (coef = i < k). */
static int create(const pf_selection *s, double kappa, size_t coef,
                  pf_selection_proposal **out)
{
  *out = NULL;
  PF_CHECK(s && s->k >= 1, PF_EINVAL,
           "the proposal of an empty selection (nothing selected) is not "
           "defined");
  PF_CHECK(kappa >= 0.0 && isfinite(kappa), PF_EINVAL,
           "proposal scale kappa = %g must be finite and >= 0", kappa);
  const int single = coef < s->k; /* one coefficient's proposal */
  const size_t p = s->p, k = s->k, nw = single ? 1 : k;
  const double t2 = s->tau * s->tau;
  int rc = 0;
  pf_selection_proposal *q = calloc(1, sizeof *q);
  double *W = malloc(p * k * sizeof(double));
  double *Ls = malloc(k * k * sizeof(double));
  double *L = malloc(k * k * sizeof(double));
  double *P = malloc(k * k * sizeof(double));
  double *rhs = malloc(k * sizeof(double));
  PF_CHECK_GOTO(rc, q && W && Ls && L && P && rhs, PF_ENOMEM, done,
                "allocating the proposal (p = %zu, k = %zu)", p, k);
  q->kappa = kappa;
  q->k = k;
  q->rank = nw;
  q->G = calloc(k * k, sizeof(double));
  q->h = calloc(k, sizeof(double));
  PF_CHECK_GOTO(rc, q->G && q->h, PF_ENOMEM, done, "allocating the proposal");
  /* q->q: s with its own R and r (the proposal's); every other field is
   * borrowed from s, which must outlive the proposal. */
  q->q = malloc(sizeof *q->q);
  PF_CHECK_GOTO(rc, q->q, PF_ENOMEM, done, "allocating the proposal");
  *q->q = *s;
  q->q->R = malloc(k * k * sizeof(double));
  q->q->r = malloc(k * sizeof(double));
  PF_CHECK_GOTO(rc, q->q->R && q->q->r, PF_ENOMEM, done,
                "allocating the proposal");
  memcpy(q->q->R, s->R, k * k * sizeof(double));
  memcpy(q->q->r, s->r, k * sizeof(double));
  if (kappa == 0.0) goto done; /* q = p: G = h = 0, R and r are s's */

  if (single) {
    /* W = kappa C[:, i] / sqrt(Sigma_ii) (p x 1). */
    const double S = s->Sigma[coef * k + coef];
    PF_CHECK_GOTO(rc, S > 0.0 && isfinite(S), PF_EINVAL, done,
                  "Sigma[%zu][%zu] = %g is not a positive variance", coef,
                  coef, S);
    for (size_t r = 0; r < p; r++)
      W[r] = kappa * s->crosscov[r * k + coef] / sqrt(S);
  } else {
    /* W = kappa C L_S^{-T}: row w of W solves L_S w' = kappa C[row]'. */
    memcpy(Ls, s->Sigma, k * k * sizeof(double));
    PF_CHECK_GOTO(rc, chol_lower(k, Ls) == 0, PF_EINVAL, done,
                  "the selected model's covariance Sigma is not positive "
                  "definite");
    for (size_t r = 0; r < p; r++) {
      double *w = W + r * k;
      for (size_t a = 0; a < k; a++) w[a] = kappa * s->crosscov[r * k + a];
      fsolve(k, Ls, w, 1);
    }
  }
  /* L L' = tau^2 I + W'W (nw x nw). */
  for (size_t a = 0; a < nw; a++)
    for (size_t b = 0; b <= a; b++) {
      double v = a == b ? t2 : 0.0;
      for (size_t r = 0; r < p; r++) v += W[r * nw + a] * W[r * nw + b];
      L[a * nw + b] = L[b * nw + a] = v;
    }
  PF_CHECK_GOTO(rc, chol_lower(nw, L) == 0, PF_EINVAL, done,
                "tau^2 I + W'W of the proposal is not positive definite");
  /* G = L^{-1} W'B (column by column), h = L^{-1} W'c. */
  for (size_t a = 0; a < nw; a++) {
    for (size_t j = 0; j < k; j++) {
      double v = 0.0;
      for (size_t r = 0; r < p; r++) v += W[r * nw + a] * s->B[r * k + j];
      q->G[a * k + j] = v;
    }
    double v = 0.0;
    for (size_t r = 0; r < p; r++) v += W[r * nw + a] * s->c[r];
    q->h[a] = v;
  }
  for (size_t j = 0; j < k; j++) fsolve(nw, L, q->G + j, k);
  fsolve(nw, L, q->h, 1);
  /* R'R = B'B - G'G (upper R = the lower factor transposed), R'r =
   * B'c - G'h. */
  for (size_t a = 0; a < k; a++) {
    for (size_t b = 0; b <= a; b++) {
      double v = 0.0;
      for (size_t r = 0; r < p; r++) v += s->B[r * k + a] * s->B[r * k + b];
      for (size_t e = 0; e < nw; e++) v -= q->G[e * k + a] * q->G[e * k + b];
      P[a * k + b] = P[b * k + a] = v;
    }
    double v = 0.0;
    for (size_t r = 0; r < p; r++) v += s->B[r * k + a] * s->c[r];
    for (size_t e = 0; e < nw; e++) v -= q->G[e * k + a] * q->h[e];
    rhs[a] = v;
  }
  PF_CHECK_GOTO(rc, chol_lower(k, P) == 0, PF_EINVAL, done,
                "the proposal's precision B' Omega^{-1} B is not positive "
                "definite (kappa = %g)", kappa);
  fsolve(k, P, rhs, 1);
  for (size_t a = 0; a < k; a++) {
    q->q->r[a] = rhs[a];
    for (size_t b = 0; b < k; b++) q->q->R[a * k + b] = P[b * k + a];
  }
done:
  free(W);
  free(Ls);
  free(L);
  free(P);
  free(rhs);
  if (rc < 0) {
    pf_selection_proposal_destroy(&q);
    return rc;
  }
  *out = q;
  return 0;
}

int pf_selection_proposal_create(const pf_selection *s, double kappa,
                                 pf_selection_proposal **out)
{
  return create(s, kappa, s ? s->k : 0, out);
}

int pf_selection_proposal_create_coef(const pf_selection *s, double kappa,
                                      size_t i, pf_selection_proposal **out)
{
  *out = NULL;
  PF_CHECK(s && i < s->k, PF_EINVAL, "coefficient %zu of a selection of %zu",
           i, s ? s->k : 0);
  return create(s, kappa, i, out);
}

void pf_selection_proposal_logratio(const pf_selection_proposal *q,
                                    size_t m, const double *O, double *lr)
{
  const size_t k = q->k;
  const double inv = 1.0 / (q->q->tau * q->q->tau);
  for (size_t n = 0; n < m; n++) {
    double zz = 0.0;
    for (size_t a = 0; a < q->rank; a++) {
      double z = q->h[a];
      for (size_t b = 0; b < k; b++) z += q->G[a * k + b] * O[n * k + b];
      zz += z * z;
    }
    lr[n] = -0.5 * inv * zz;
  }
}
