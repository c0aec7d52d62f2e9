/* The path-space engine (nn/pathspace.h): rollouts with the log RND, the
 * log-variance and reverse-KL gradients, training steps and sampling.
 *
 * Layout: every per-step buffer is step-major (step k holds a cap x d
 * block), so the network and the target see one contiguous n x d block per
 * step.  Rows (trajectories) are independent: row work runs in OpenMP
 * loops with static schedule, and every sum over rows (batch statistics,
 * bias gradients, c(t) gradients) is done in row order, so the bits do not
 * depend on the thread count.  Noise: trajectory i draws its increments
 * from its own PCG stream, d normals per step. */
#include "pathspace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pflow/chains.h"
#include "pflow/checkpoint.h"
#include "pflow/error.h"
#include "pflow/io.h"

const char *const pf__ps_info[PF__PS_N_INFO] = {
    "loss",          "log_z_lb",      "log_z_is",      "ess",
    "dropped",       "grad_norm",     "lr",            "eval_log_z_lb",
    "eval_log_z_is", "eval_ess",      "eval_dropped"};

/* Trajectories whose |R| exceeds this are dropped (as sde_sampler's
 * max_rnd). */
#define PS_MAX_RND 1e8
/* Row loops go parallel only when there is enough work: small batches
 * would spend more in fork/join (and in fights with BLAS's own threads)
 * than they save.  Rows are independent, so this changes no bits. */
#define PS_PAR(m) ((m) * s->d >= 8192)
#define LOG_2PI 1.83787706640934548356

/* ---- SDE coefficients ------------------------------------------------ */

static double beta_at(const pf__ps *s, double t)
{
  return s->beta_max + (s->beta_min - s->beta_max) * t / s->T;
}

static double sigma_at(const pf__ps *s, size_t k)
{
  return s->kind == PF__PS_PIS ? s->sigma : sqrt(beta_at(s, s->times[k]));
}

/* mu(x, t_k) = mfac_k x */
static double mfac_at(const pf__ps *s, size_t k)
{
  return s->kind == PF__PS_PIS ? 0.0 : 0.5 * beta_at(s, s->times[k]);
}

/* score part of the control: c (a clip(grad log rho) + b x) */
static void score_ab(const pf__ps *s, size_t k, double *a, double *b)
{
  if (s->kind == PF__PS_PIS) {
    *a = 1.0;
    *b = 0.0;
    return;
  }
  double sg = sigma_at(s, k), r = s->times[k] / s->T;
  *a = sg * r;
  *b = -sg * (1.0 - r);
}

static double clipv(double v, double c)
{
  return v > c ? c : v < -c ? -c : v;
}

/* Buffer blocks of step k (two slots when not storing every step). */
static double *xblk(const pf__ps *s, size_t k)
{
  return s->X + (s->store ? k : (k & 1)) * s->cap * s->d;
}
static double *sblk(const pf__ps *s, double *base, size_t k)
{
  return base + (s->store ? k : 0) * s->cap * s->d;
}

/* Terminal (and for dis, initial) terms of R for row i. */
static double boundary(const pf__ps *s, size_t i)
{
  const size_t d = s->d;
  const double *xN = xblk(s, s->N) + i * d;
  double v = -s->lp_end[i];
  if (s->kind == PF__PS_PIS) {
    double var = s->sigma * s->sigma * s->T, q = 0.0;
    for (size_t j = 0; j < d; j++) q += xN[j] * xN[j];
    v += -0.5 * q / var - 0.5 * (double)d * (LOG_2PI + log(var));
  } else {
    const double *x0 = xblk(s, 0) + i * d;
    double q = 0.0;
    for (size_t j = 0; j < d; j++) q += x0[j] * x0[j];
    v += -0.5 * q - 0.5 * (double)d * LOG_2PI - s->div_const;
  }
  return v;
}

/* c(t_k) (0 without score), keeping the activations for a backward. */
static int coef_at(pf__ps *s, const double *theta, double t, double *c,
                   int keep)
{
  *c = 0.0;
  if (!s->use_score) return 0;
  return pf_mlp_forward(s->coef, theta + s->np_net, 1, NULL, t, c, keep);
}

int pf__ps_rollout(pf__ps *s, const double *theta, size_t m, pf_rng *rngs,
                   int reuse_noise)
{
  const size_t d = s->d, N = s->N;
  PF_CHECK(m <= s->cap, PF_EINVAL, "rollout of %zu rows exceeds %zu", m,
           s->cap);
  double *X0 = xblk(s, 0);
  const int dis = s->kind == PF__PS_DIS;
#pragma omp parallel for schedule(static) if (PS_PAR(m))
  for (size_t i = 0; i < m; i++) {
    s->dead[i] = 0;
    s->R[i] = s->Rn[i] = 0.0;
    double *x = X0 + i * d;
    if (!dis)
      memset(x, 0, d * sizeof(double));
    else if (!reuse_noise)
      pf_rng_normal(&rngs[i], d, x);
  }
  for (size_t k = 0; k < N; k++) {
    const double t = s->times[k], dt = s->times[k + 1] - t;
    const double sg = sigma_at(s, k), mf = mfac_at(s, k), sdt = sqrt(dt);
    double a, b, c;
    score_ab(s, k, &a, &b);
    double *Xk = xblk(s, k), *Xk1 = xblk(s, k + 1);
    double *dWk = sblk(s, s->dW, k), *Uk = sblk(s, s->U, k);
    double *Sk = s->use_score ? sblk(s, s->S, k) : NULL;
    PF_TRY(coef_at(s, theta, t, &c, 0));
    if (Sk) PF_TRY(pf_target_logp_grad(s->t, m, Xk, NULL, Sk));
    PF_TRY(pf_mlp_forward(s->net, theta, m, Xk, t, s->nn, 0));
    const double clip = s->clip;
#pragma omp parallel for schedule(static) if (PS_PAR(m))
    for (size_t i = 0; i < m; i++) {
      double *x1 = Xk1 + i * d;
      if (s->dead[i]) {
        memset(x1, 0, d * sizeof(double));
        continue;
      }
      const double *x = Xk + i * d, *nn = s->nn + i * d;
      double *dw = dWk + i * d, *u = Uk + i * d;
      if (!reuse_noise) {
        pf_rng_normal(&rngs[i], d, dw);
        for (size_t j = 0; j < d; j++) dw[j] *= sdt;
      }
      double run = 0.0, ito = 0.0;
      int ok = 1;
      for (size_t j = 0; j < d; j++) {
        double uj = clipv(nn[j], clip);
        if (Sk) uj += c * (a * clipv(Sk[i * d + j], clip) + b * x[j]);
        u[j] = uj;
        run += 0.5 * uj * uj;
        ito += uj * dw[j];
        x1[j] = x[j] + (mf * x[j] + sg * uj) * dt + sg * dw[j];
        if (!isfinite(x1[j])) ok = 0;
      }
      s->Rn[i] += run * dt;
      s->R[i] += run * dt + ito;
      if (!ok || !isfinite(s->R[i])) {
        s->dead[i] = 1;
        memset(x1, 0, d * sizeof(double));
      }
    }
  }
  double *XN = xblk(s, N);
  PF_TRY(pf_target_logp_grad(s->t, m, XN, s->lp_end, s->g_end));
#pragma omp parallel for schedule(static) if (PS_PAR(m))
  for (size_t i = 0; i < m; i++) {
    if (!s->dead[i]) {
      double bnd = boundary(s, i);
      s->R[i] += bnd;
      s->Rn[i] += bnd;
      if (!isfinite(s->R[i]) || !isfinite(s->Rn[i]) ||
          fabs(s->R[i]) > PS_MAX_RND)
        s->dead[i] = 1;
    }
    if (s->dead[i]) s->R[i] = s->Rn[i] = NAN;
  }
  return 0;
}

/* Statistics of rows whose R is finite. */
static void stats_of(const double *R, const double *Rn, size_t m,
                     pf__ps_loss loss, double *logw, pf__ps_stats *st)
{
  size_t ne = 0;
  double sr = 0.0, srn = 0.0, mx = -INFINITY;
  for (size_t i = 0; i < m; i++) {
    if (!isfinite(R[i])) continue;
    ne++;
    sr += R[i];
    srn += Rn[i];
    if (-R[i] > mx) mx = -R[i];
  }
  st->dropped = (double)(m - ne);
  if (ne == 0) {
    st->loss = st->log_z_lb = st->log_z_is = st->ess = NAN;
    return;
  }
  double mean = sr / (double)ne, v = 0.0, se = 0.0;
  for (size_t i = 0; i < m; i++) {
    if (!isfinite(R[i])) {
      logw[i] = -INFINITY;
      continue;
    }
    v += (R[i] - mean) * (R[i] - mean);
    se += exp(-R[i] - mx);
    logw[i] = -R[i];
  }
  st->log_z_lb = -srn / (double)ne;
  st->log_z_is = mx + log(se / (double)ne);
  st->loss = loss == PF__PS_KL ? srn / (double)ne
                               : (ne > 1 ? v / (double)(ne - 1) : NAN);
  double e = NAN;
  if (pf_ess_log_weights(logw, m, &e) != 0) e = NAN;
  st->ess = e;
}

void pf__ps_batch_stats(const pf__ps *s, size_t m, pf__ps_stats *st)
{
  /* s->ct holds >= cap doubles of scratch */
  stats_of(s->R, s->Rn, m, s->loss, s->ct, st);
}

/* Recompute the control of step k at theta over the stored positions:
 * s->nn = NN output (activations kept), *c = c(t_k) (kept). */
static int control_forward(pf__ps *s, const double *theta, size_t k, size_t m,
                           double *c)
{
  PF_TRY(coef_at(s, theta, s->times[k], c, 1));
  return pf_mlp_forward(s->net, theta, m, xblk(s, k), s->times[k], s->nn, 1);
}

int pf__ps_rnd_fixed(pf__ps *s, const double *theta, size_t m, double *R)
{
  const size_t d = s->d;
  for (size_t i = 0; i < m; i++) R[i] = s->dead[i] ? NAN : boundary(s, i);
  for (size_t k = 0; k < s->N; k++) {
    const double dt = s->times[k + 1] - s->times[k];
    double a, b, c;
    score_ab(s, k, &a, &b);
    PF_TRY(control_forward(s, theta, k, m, &c));
    const double *Xk = xblk(s, k), *dWk = sblk(s, s->dW, k),
                 *Uk = sblk(s, s->U, k);
    const double *Sk = s->use_score ? sblk(s, s->S, k) : NULL;
    for (size_t i = 0; i < m; i++) {
      if (s->dead[i]) continue;
      double acc = 0.0;
      for (size_t j = 0; j < d; j++) {
        double u = clipv(s->nn[i * d + j], s->clip);
        if (Sk)
          u += c * (a * clipv(Sk[i * d + j], s->clip) + b * Xk[i * d + j]);
        acc += u * (Uk[i * d + j] - 0.5 * u) * dt + u * dWk[i * d + j];
      }
      R[i] += acc;
    }
  }
  return 0;
}

/* Backward through the control at step k: G = cotangent on u (m x d) ->
 * network parameter gradient (and input VJP into s->gx when want_gx), and
 * c(t_k) gradient from cw (per-row sums of G . score part). */
static int control_backward(pf__ps *s, const double *theta, size_t k,
                            size_t m, double *grad, int want_gx)
{
  PF_TRY(pf_mlp_backward(s->net, theta, m, xblk(s, k), s->gu, grad,
                         want_gx ? s->gx : NULL));
  if (s->use_score) {
    double dc = 0.0;
    for (size_t i = 0; i < m; i++) dc += s->cw[i];
    PF_TRY(pf_mlp_backward(s->coef, theta + s->np_net, 1, NULL, &dc,
                           grad + s->np_net, NULL));
  }
  return 0;
}

/* Log-variance: grad Var(R) = 2/(B-1) sum_i (R_i - mean) grad R_i with the
 * trajectories and w fixed: dR_i/du_ik = (w_ik - u_ik) dt + dW_ik. */
static int grad_lv(pf__ps *s, const double *theta, size_t m, double *grad)
{
  const size_t d = s->d;
  size_t ne = 0;
  double mean = 0.0;
  for (size_t i = 0; i < m; i++)
    if (!s->dead[i]) {
      ne++;
      mean += s->R[i];
    }
  if (ne < 2) return 0;
  mean /= (double)ne;
  double *ci = s->ct;
  for (size_t i = 0; i < m; i++)
    ci[i] = s->dead[i] ? 0.0 : 2.0 * (s->R[i] - mean) / (double)(ne - 1);
  for (size_t k = 0; k < s->N; k++) {
    const double dt = s->times[k + 1] - s->times[k];
    double a, b, c;
    score_ab(s, k, &a, &b);
    PF_TRY(control_forward(s, theta, k, m, &c));
    const double *Xk = xblk(s, k), *dWk = sblk(s, s->dW, k),
                 *Uk = sblk(s, s->U, k);
    const double *Sk = s->use_score ? sblk(s, s->S, k) : NULL;
    const double clip = s->clip;
#pragma omp parallel for schedule(static) if (PS_PAR(m))
    for (size_t i = 0; i < m; i++) {
      double cw = 0.0;
      for (size_t j = 0; j < d; j++) {
        const size_t ij = i * d + j;
        double nn = s->nn[ij], u = clipv(nn, clip), sp = 0.0;
        if (Sk) {
          sp = a * clipv(Sk[ij], clip) + b * Xk[ij];
          u += c * sp;
        }
        double g = ci[i] == 0.0 ? 0.0 : ci[i] * ((Uk[ij] - u) * dt + dWk[ij]);
        s->gu[ij] = fabs(nn) < clip ? g : 0.0;
        cw += g * sp;
      }
      s->cw[i] = cw;
    }
    PF_TRY(control_backward(s, theta, k, m, grad, 0));
  }
  return 0;
}

/* Hessian-vector products H(x_i) v_i of log rho by central differences of
 * its gradient, step eps_i = delta (1 + |x_i|) / |v_i| along v_i (targets
 * have no HVP op).  v in s->gu-shaped buffer `v`, result into `hv`. */
static int hvp_fd(pf__ps *s, size_t m, const double *X, const double *v,
                  double *hv)
{
  const size_t d = s->d;
  double *xe = s->xe, *ge = s->ge, *eps = s->cw;
#pragma omp parallel for schedule(static) if (PS_PAR(m))
  for (size_t i = 0; i < m; i++) {
    const double *x = X + i * d, *vi = v + i * d;
    double nv = 0.0, nx = 0.0;
    for (size_t j = 0; j < d; j++) {
      nv += vi[j] * vi[j];
      nx += x[j] * x[j];
    }
    nv = sqrt(nv);
    eps[i] = nv > 0 ? s->hvp_delta * (1.0 + sqrt(nx)) / nv : 0.0;
    for (size_t j = 0; j < d; j++) {
      xe[i * d + j] = x[j] + eps[i] * vi[j];
      xe[(m + i) * d + j] = x[j] - eps[i] * vi[j];
    }
  }
  PF_TRY(pf_target_logp_grad(s->t, 2 * m, xe, NULL, ge));
#pragma omp parallel for schedule(static) if (PS_PAR(m))
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < d; j++)
      hv[i * d + j] = eps[i] > 0 ? (ge[i * d + j] - ge[(m + i) * d + j]) /
                                       (2.0 * eps[i])
                                 : 0.0;
  return 0;
}

/* Reverse KL: d/dtheta of mean_i Rn_i through the Euler chain (discrete
 * adjoint).  a_N = grad Phi(x_N) / B; for k = N-1..0 with g = dL/du_k =
 * u_k dt / B + sigma_k dt a_{k+1}:
 *   a_k = a_{k+1} (1 + mfac_k dt) + (du_k/dx_k)^T g,
 *   (du/dx)^T g = NN_x^T (g * mask) + c (a_k H (g * mask_s) + b_k g). */
static int grad_kl(pf__ps *s, const double *theta, size_t m, double *grad)
{
  const size_t d = s->d, N = s->N;
  size_t ne = 0;
  for (size_t i = 0; i < m; i++) ne += !s->dead[i];
  if (ne == 0) return 0;
  const double inv = 1.0 / (double)ne;
  double *adj = s->adj, *hv = s->xe + 2 * s->cap * d; /* see create */
  const double *XN = xblk(s, N);
  const double pvar = s->sigma * s->sigma * s->T;
#pragma omp parallel for schedule(static) if (PS_PAR(m))
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < d; j++) {
      const size_t ij = i * d + j;
      double g = -s->g_end[ij];
      if (s->kind == PF__PS_PIS) g -= XN[ij] / pvar;
      adj[ij] = s->dead[i] ? 0.0 : inv * g;
    }
  for (size_t k = N; k-- > 0;) {
    const double dt = s->times[k + 1] - s->times[k];
    const double sg = sigma_at(s, k), mf = mfac_at(s, k);
    double a, b, c;
    score_ab(s, k, &a, &b);
    PF_TRY(control_forward(s, theta, k, m, &c));
    const double *Xk = xblk(s, k);
    const double *Sk = s->use_score ? sblk(s, s->S, k) : NULL;
    const double clip = s->clip;
    double *v = s->nn; /* after the loop below nn is no longer needed */
#pragma omp parallel for schedule(static) if (PS_PAR(m))
    for (size_t i = 0; i < m; i++) {
      double cw = 0.0;
      for (size_t j = 0; j < d; j++) {
        const size_t ij = i * d + j;
        double nn = s->nn[ij], u = clipv(nn, clip), sp = 0.0;
        int ms = 1;
        if (Sk) {
          sp = a * clipv(Sk[ij], clip) + b * Xk[ij];
          ms = fabs(Sk[ij]) < clip;
          u += c * sp;
        }
        double g = s->dead[i] ? 0.0 : inv * u * dt + sg * dt * adj[ij];
        s->gu[ij] = fabs(nn) < clip ? g : 0.0;
        cw += g * sp;
        /* the HVP direction replaces nn (only read at ij) */
        v[ij] = ms ? g : 0.0;
        /* keep g for the adjoint update: stash in hv until the HVP */
        hv[ij] = g;
      }
      s->cw[i] = cw;
    }
    PF_TRY(control_backward(s, theta, k, m, grad, 1));
    /* adj <- adj (1 + mf dt) + gx + c b g   (g from hv) */
#pragma omp parallel for schedule(static) if (PS_PAR(m))
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < d; j++) {
        const size_t ij = i * d + j;
        adj[ij] = adj[ij] * (1.0 + mf * dt) + s->gx[ij] + c * b * hv[ij];
      }
    if (Sk && c * a != 0.0) {
      PF_TRY(hvp_fd(s, m, Xk, v, hv));
#pragma omp parallel for schedule(static) if (PS_PAR(m))
      for (size_t i = 0; i < m * d; i++) adj[i] += c * a * hv[i];
    }
  }
  return 0;
}

int pf__ps_gradient(pf__ps *s, const double *theta, size_t m, double *grad)
{
  memset(grad, 0, s->np * sizeof(double));
  return s->loss == PF__PS_KL ? grad_kl(s, theta, m, grad)
                              : grad_lv(s, theta, m, grad);
}

/* ---- creation -------------------------------------------------------- */

void pf__ps_destroy(pf__ps *s)
{
  if (!s) return;
  pf_mlp_destroy(s->net);
  pf_mlp_destroy(s->coef);
  pf_adam_destroy(s->adam);
  free(s->times);
  free(s->clip_ms);
  free(s->theta);
  free(s->ema);
  free(s->grad);
  free(s->rng_train);
  free(s->X);
  free(s->dW);
  free(s->U);
  free(s->S);
  free(s->R);
  free(s->Rn);
  free(s->lp_end);
  free(s->g_end);
  free(s->dead);
  free(s->nn);
  free(s->gx);
  free(s->adj);
  free(s->gu);
  free(s->xe);
  free(s->ge);
  free(s->cw);
  free(s->ct);
  free(s->logw);
  free(s->eR);
  free(s->eRn);
  free(s->rs_x);
  free(s->rs_g);
  free(s->rs_l);
  free(s);
}

void pf__ps_destroy_state(void *state) { pf__ps_destroy(state); }

static int read_grid(const pf_node *cfg, pf__ps *s)
{
  if (pf_cfg_has(cfg, "times")) {
    double *v;
    size_t nv;
    PF_TRY(pf_cfg_reals(cfg, "times", &v, &nv));
    int bad = nv < 2 || v[0] != 0.0;
    for (size_t k = 1; k < nv && !bad; k++) bad = !(v[k] > v[k - 1]);
    if (bad) {
      free(v);
      PF_CFG_RAISE(cfg, "times", PF_ECONFIG,
                   "needs at least 2 increasing times starting at 0");
    }
    s->times = v;
    s->N = nv - 1;
  } else {
    long long ns;
    double p;
    PF_TRY(pf_cfg_int(cfg, "n_steps", &ns));
    PF_TRY(pf_cfg_real(cfg, "grid_power", &p));
    s->N = (size_t)ns;
    s->times = malloc((s->N + 1) * sizeof(double));
    PF_CHECK(s->times, PF_ENOMEM, "allocating the time grid");
    /* t_k = T (1 - (1 - k/N)^p): p > 1 refines the grid toward T, where
     * the target's transition variance departs most from the Euler step's
     * fixed sigma^2 dt (the discretization gap of the log RND; see the
     * README section on grid9) */
    for (size_t k = 0; k <= s->N; k++)
      s->times[k] =
          p == 1.0 ? s->T * (double)k / (double)s->N
                   : s->T * (1.0 - pow(1.0 - (double)k / (double)s->N, p));
    s->times[0] = 0.0;
    s->times[s->N] = s->T;
  }
  s->T = s->times[s->N];
  return 0;
}

static int load_theta(const pf_node *cfg, pf__ps *s)
{
  char *path = NULL;
  double *v = NULL;
  size_t r = 0, c = 0;
  PF_TRY(pf_input_path(cfg, "load", PF_ECONFIG, &path));
  int rc = pf_h5_read_matrix(path, "/learned/theta", &v, &r, &c);
  if (rc < 0) {
    char why[1024];
    snprintf(why, sizeof why, "%s", pf_error_message());
    free(path);
    PF_CFG_RAISE(cfg, "load", PF_ECONFIG, "cannot read trained parameters: "
                 "%s", why);
  }
  free(path);
  if (r * c != s->np) {
    free(v);
    PF_CFG_RAISE(cfg, "load", PF_ECONFIG,
                 "/learned/theta holds %zu parameters; this sampler's "
                 "network (dimension, width, depth, n_freq, score) has %zu: "
                 "use the architecture of the run that trained it", r * c,
                 s->np);
  }
  memcpy(s->theta, v, s->np * sizeof(double));
  free(v);
  return 0;
}

int pf__ps_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                  pf__ps_kind kind, pf__ps **out)
{
  int rc = 0;
  long long v;
  *out = NULL;
  pf__ps *s = calloc(1, sizeof *s);
  PF_CHECK(s, PF_ENOMEM, "allocating a path-space sampler");
  s->kind = kind;
  s->t = t;
  s->n = n;
  s->d = d;
  s->loss = strcmp(pf_cfg_str(cfg, "loss"), "kl") == 0 ? PF__PS_KL
                                                         : PF__PS_LV;
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "batch_size", &v), fail);
  s->B = v > 0 ? (size_t)v : n;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "t_end", &s->T), fail);
  PF_TRY_GOTO(rc, read_grid(cfg, s), fail);
  if (kind == PF__PS_PIS) {
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "sigma", &s->sigma), fail);
  } else {
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "beta_min", &s->beta_min), fail);
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "beta_max", &s->beta_max), fail);
    /* int_0^T div mu dt, trapezoid over the grid as the reference code */
    for (size_t k = 0; k < s->N; k++)
      s->div_const += 0.25 * (double)d *
                      (beta_at(s, s->times[k]) + beta_at(s, s->times[k + 1])) *
                      (s->times[k + 1] - s->times[k]);
  }
  PF_TRY_GOTO(rc, pf_cfg_bool(cfg, "score", &s->use_score), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "score_init", &s->score_init), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "clip", &s->clip0), fail);
  s->clip = s->clip0;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "clip_gamma", &s->clip_gamma), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "max_loss", &s->max_loss0), fail);
  PF_TRY_GOTO(rc, pf_cfg_reals(cfg, "clip_milestones", &s->clip_ms,
                               &s->n_clip_ms), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "hvp_delta", &s->hvp_delta), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "lr", &s->lr), fail);
  s->lr_final = s->lr;
  if (pf_cfg_has(cfg, "lr_final"))
    PF_TRY_GOTO(rc, pf_cfg_real(cfg, "lr_final", &s->lr_final), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "lr_every", &s->lr_every), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "grad_clip", &s->grad_clip), fail);
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "ema_decay", &s->ema_decay), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "ema_start", &s->ema_start), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "eval_every", &s->eval_every), fail);
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "n_iter", &s->n_iter), fail);
  PF_TRY_GOTO(rc, pf_cfg_bool(cfg, "resample", &s->resample), fail);
  s->train = !pf_cfg_has(cfg, "load");

  pf_mlp_spec ns = {d, d, 0, 0, 0, 0.1, 100.0};
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "width", &v), fail);
  ns.width = (size_t)v;
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "depth", &v), fail);
  ns.depth = (size_t)v;
  PF_TRY_GOTO(rc, pf_cfg_int(cfg, "n_freq", &v), fail);
  ns.n_freq = (size_t)v;
  PF_TRY_GOTO(rc, pf_cfg_real(cfg, "f_max", &ns.f_max), fail);
  if (ns.f_max < ns.f_min) ns.f_min = ns.f_max;
  /* Training keeps every step; sampling only needs two slots, so a
   * trained network samples large n in chunks of `cap` rows. */
  s->store = s->train;
  s->cap = s->train ? s->B : (n < 8192 ? n : 8192);
  PF_TRY_GOTO(rc, pf_mlp_create(&ns, s->cap, &s->net), fail);
  s->np_net = pf_mlp_n_params(s->net);
  s->np = s->np_net;
  if (s->use_score) {
    /* c(t): the same time features, a time-only MLP, scalar output */
    pf_mlp_spec cs = ns;
    cs.d_in = 0;
    cs.d_out = 1;
    PF_TRY_GOTO(rc, pf_mlp_create(&cs, 1, &s->coef), fail);
    s->np += pf_mlp_n_params(s->coef);
  }
  const size_t cap = s->cap, N = s->N, slots = s->store ? N + 1 : 2;
  s->theta = pf_alloc_doubles(s->np);
  s->ema = pf_alloc_doubles(s->np);
  s->grad = pf_alloc_doubles(s->np);
  s->X = pf_alloc_doubles(slots * cap * d);
  s->dW = pf_alloc_doubles((s->store ? N : 1) * cap * d);
  s->U = pf_alloc_doubles((s->store ? N : 1) * cap * d);
  if (s->use_score) s->S = pf_alloc_doubles((s->store ? N : 1) * cap * d);
  s->R = pf_alloc_doubles(cap);
  s->Rn = pf_alloc_doubles(cap);
  s->lp_end = pf_alloc_doubles(cap);
  s->g_end = pf_alloc_doubles(cap * d);
  s->dead = calloc(cap, 1);
  s->nn = pf_alloc_doubles(cap * d);
  s->gx = pf_alloc_doubles(cap * d);
  s->adj = pf_alloc_doubles(cap * d);
  s->gu = pf_alloc_doubles(cap * d);
  s->xe = pf_alloc_doubles(3 * cap * d); /* 2 cap x d + an HVP result */
  s->ge = pf_alloc_doubles(2 * cap * d);
  s->cw = pf_alloc_doubles(cap);
  s->ct = pf_alloc_doubles(cap > n ? cap : n);
  s->logw = pf_alloc_doubles(n);
  s->eR = pf_alloc_doubles(n);
  s->eRn = pf_alloc_doubles(n);
  if (s->resample) {
    s->rs_x = pf_alloc_doubles(n * d);
    s->rs_g = pf_alloc_doubles(n * d);
    s->rs_l = pf_alloc_doubles(n);
    PF_CHECK_GOTO(rc, s->rs_x && s->rs_g && s->rs_l, PF_ENOMEM, fail,
                  "allocating resampling buffers");
  }
  PF_CHECK_GOTO(rc, s->theta && s->ema && s->grad && s->X && s->dW && s->U &&
                        (!s->use_score || s->S) && s->R && s->Rn &&
                        s->lp_end && s->g_end && s->dead && s->nn && s->gx &&
                        s->adj && s->gu && s->xe && s->ge && s->cw && s->ct &&
                        s->logw && s->eR && s->eRn,
                PF_ENOMEM, fail,
                "allocating trajectory buffers (%zu steps x %zu rows x %zu)",
                N, cap, d);
  if (s->train) {
    PF_TRY_GOTO(rc, pf_adam_create(s->np, 0.9, 0.999, 1e-8, &s->adam), fail);
    s->rng_train = calloc(s->B, sizeof *s->rng_train);
    PF_CHECK_GOTO(rc, s->rng_train, PF_ENOMEM, fail, "allocating streams");
  } else {
    PF_TRY_GOTO(rc, load_theta(cfg, s), fail);
    /* a loaded network samples with the clip of a completed schedule */
    for (size_t j = 0; j < s->n_clip_ms; j++) s->clip *= s->clip_gamma;
  }
  s->last.loss = s->last.log_z_lb = s->last.log_z_is = s->last.ess = NAN;
  s->last.dropped = NAN;
  s->eval = s->last;
  s->last_grad_norm = NAN;
  s->last_lr = s->train ? s->lr : NAN;
  *out = s;
  return 0;
fail:
  pf__ps_destroy(s);
  return rc;
}

/* ---- sampler glue ---------------------------------------------------- */

/* Stream indices of the network initialization and the training batches
 * under the seed drawn from particle 0's stream; they never meet the
 * particles' own streams (a different seed). */
#define PS_STREAM_INIT 0x4E4E494E4954ULL /* "NNINIT" */

int pf__ps_init(void *state, pf_particles *p)
{
  pf__ps *s = state;
  if (!s->train) return 0;
  const uint64_t seed = pf_rng_next(&p->rng[0]);
  pf_rng r;
  pf_rng_stream(&r, seed, PS_STREAM_INIT);
  pf_mlp_init(s->net, &r, 0.0, s->theta);
  if (s->use_score)
    pf_mlp_init(s->coef, &r, s->score_init, s->theta + s->np_net);
  for (size_t j = 0; j < s->B; j++) pf_rng_stream(&s->rng_train[j], seed, j);
  return 0;
}

/* Copy rows [r0, r0+m) of the last rollout into the particles. */
static void to_particles(pf__ps *s, size_t r0, size_t m, pf_particles *p)
{
  const size_t d = s->d;
  const double *XN = xblk(s, s->N);
  memcpy(p->x + r0 * d, XN, m * d * sizeof(double));
  memcpy(p->logp + r0, s->lp_end, m * sizeof(double));
  memcpy(p->grad + r0 * d, s->g_end, m * d * sizeof(double));
  memcpy(s->eR + r0, s->R, m * sizeof(double));
  memcpy(s->eRn + r0, s->Rn, m * sizeof(double));
  for (size_t i = 0; i < m; i++)
    s->logw[r0 + i] = s->dead[i] ? -INFINITY : -s->R[i];
}

/* Systematic resampling of the particles by exp(logw) (one uniform from
 * particle 0's stream); afterwards equal weights (logw = 0). */
static void resample(pf__ps *s, pf_particles *p)
{
  const size_t n = s->n, d = s->d;
  double mx = -INFINITY, tot = 0.0;
  for (size_t i = 0; i < n; i++)
    if (s->logw[i] > mx) mx = s->logw[i];
  if (!isfinite(mx)) return;
  double *cum = s->ct;
  for (size_t i = 0; i < n; i++) {
    tot += exp(s->logw[i] - mx);
    cum[i] = tot;
  }
  memcpy(s->rs_x, p->x, n * d * sizeof(double));
  memcpy(s->rs_g, p->grad, n * d * sizeof(double));
  memcpy(s->rs_l, p->logp, n * sizeof(double));
  const double u0 = pf_rng_uniform(&p->rng[0]);
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    const double u = (u0 + (double)i) / (double)n * tot;
    while (j + 1 < n && cum[j] <= u) j++;
    memcpy(p->x + i * d, s->rs_x + j * d, d * sizeof(double));
    memcpy(p->grad + i * d, s->rs_g + j * d, d * sizeof(double));
    p->logp[i] = s->rs_l[j];
  }
  for (size_t i = 0; i < n; i++) s->logw[i] = 0.0;
}

/* Sample the n particles with parameters theta in chunks of cap rows. */
static int sample_particles(pf__ps *s, const double *theta, pf_particles *p)
{
  for (size_t r0 = 0; r0 < s->n; r0 += s->cap) {
    size_t m = s->n - r0 < s->cap ? s->n - r0 : s->cap;
    PF_TRY(pf__ps_rollout(s, theta, m, p->rng + r0, 0));
    to_particles(s, r0, m, p);
  }
  stats_of(s->eR, s->eRn, s->n, s->loss, s->ct, &s->eval);
  if (s->resample) resample(s, p);
  return 0;
}

static int grad_finite(const double *g, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite(g[i])) return 0;
  return 1;
}

/* The reference's MultiStepParams (sde_sampler conf/utils/scheduler.yaml):
 * after each milestone (counted in optimizer steps taken, as its scheduler
 * only steps with the optimizer) the clip grows by clip_gamma and the
 * skip threshold on the loss shrinks by 1e-4.  A function of n_updates, so
 * checkpoints need no extra state. */
static double clip_schedule(pf__ps *s, double *max_loss)
{
  double c = s->clip0, ml = s->max_loss0;
  for (size_t j = 0; j < s->n_clip_ms; j++)
    if ((double)s->n_updates >= s->clip_ms[j]) {
      c *= s->clip_gamma;
      ml *= 1e-4;
    }
  *max_loss = ml;
  return c;
}

int pf__ps_step(void *state, long iter, pf_particles *p, double *info)
{
  pf__ps *s = state;
  const double *theta_s = s->theta;
  if (s->train) {
    double max_loss;
    s->clip = clip_schedule(s, &max_loss);
    s->last_lr = pf_lr_schedule(s->lr, s->lr_final, s->lr_every, iter - 1,
                                s->n_iter);
    PF_TRY(pf__ps_rollout(s, s->theta, s->B, s->rng_train, 0));
    pf__ps_batch_stats(s, s->B, &s->last);
    PF_TRY(pf__ps_gradient(s, s->theta, s->B, s->grad));
    /* the reference compares the loss scaled by 1/d (scale_loss) */
    if (s->B - (size_t)s->last.dropped >= 2 && grad_finite(s->grad, s->np) &&
        fabs(s->last.loss) / (double)s->d <= max_loss) {
      s->last_grad_norm = pf_grad_clip(s->np, s->grad, s->grad_clip);
      pf_adam_step(s->adam, s->theta, s->grad, s->last_lr);
      s->n_updates++;
      if (s->ema_decay > 0 && iter >= s->ema_start) {
        if (!s->ema_on) {
          memcpy(s->ema, s->theta, s->np * sizeof(double));
          s->ema_on = 1;
        } else {
          double k = (double)(iter - s->ema_start);
          double dec = (1.0 + k) / (10.0 + k);
          pf_ema_update(s->np, s->ema, s->theta,
                        dec < s->ema_decay ? dec : s->ema_decay);
        }
      }
    } else {
      s->n_skipped++;
      s->last_grad_norm = NAN;
    }
    if (s->B == s->n) to_particles(s, 0, s->n, p);
    theta_s = s->ema_on ? s->ema : s->theta;
  }
  int eval = !s->train || iter == s->n_iter ||
             (s->eval_every > 0 && iter % s->eval_every == 0);
  if (eval) PF_TRY(sample_particles(s, theta_s, p));
  const pf__ps_stats *l = s->train ? &s->last : &s->eval;
  info[0] = l->loss;
  info[1] = l->log_z_lb;
  info[2] = l->log_z_is;
  info[3] = l->ess;
  info[4] = l->dropped;
  info[5] = s->last_grad_norm;
  info[6] = s->last_lr;
  info[7] = s->eval.log_z_lb;
  info[8] = s->eval.log_z_is;
  info[9] = s->eval.ess;
  info[10] = s->eval.dropped;
  return 0;
}

int pf__ps_write_output(void *state, pf_h5 *h)
{
  pf__ps *s = state;
  pf_h5var *v;
  static const char *const sdims[] = {"chain", "draw"};
  static const char *const pdims[] = {"param"};
  PF_TRY(pf_h5_var(h, "sample_stats", "log_weight", PF_H5_F64, 2, sdims, &v));
  PF_TRY(pf_h5_var_write(v, s->logw));
  PF_TRY(pf_h5_group(h, "learned"));
  PF_TRY(pf_h5_dim(h, "learned", "param", s->np, 0));
  PF_TRY(pf_h5_var(h, "learned", "theta", PF_H5_F64, 1, pdims, &v));
  PF_TRY(pf_h5_var_write(v, s->ema_on ? s->ema : s->theta));
  if (s->ema_on) {
    PF_TRY(pf_h5_var(h, "learned", "theta_raw", PF_H5_F64, 1, pdims, &v));
    PF_TRY(pf_h5_var_write(v, s->theta));
  }
  const pf_mlp_spec *ns = pf_mlp_spec_of(s->net);
  PF_TRY(pf_h5_attr_str(h, "learned", "sampler",
                        s->kind == PF__PS_PIS ? "pis" : "dis"));
  PF_TRY(pf_h5_attr_str(h, "learned", "loss",
                        s->loss == PF__PS_KL ? "kl" : "log_variance"));
  PF_TRY(pf_h5_attr_int(h, "learned", "dim", (long long)s->d));
  PF_TRY(pf_h5_attr_int(h, "learned", "width", (long long)ns->width));
  PF_TRY(pf_h5_attr_int(h, "learned", "depth", (long long)ns->depth));
  PF_TRY(pf_h5_attr_int(h, "learned", "n_freq", (long long)ns->n_freq));
  PF_TRY(pf_h5_attr_int(h, "learned", "score", s->use_score));
  PF_TRY(pf_h5_attr_int(h, "learned", "updates", s->n_updates));
  PF_TRY(pf_h5_attr_int(h, "learned", "skipped_updates", s->n_skipped));
  PF_TRY(pf_h5_attr_int(h, "learned", "ema", s->ema_on));
  PF_TRY(pf_h5_attr_int(h, "learned", "resampled", s->resample));
  PF_TRY(pf_h5_attr_real(h, "learned", "log_z_lb", s->eval.log_z_lb));
  PF_TRY(pf_h5_attr_real(h, "learned", "log_z_is", s->eval.log_z_is));
  PF_TRY(pf_h5_attr_real(h, "learned", "ess", s->eval.ess));
  PF_TRY(pf_h5_attr_real(h, "learned", "dropped", s->eval.dropped));
  return 0;
}

int pf__ps_state(void *state, pf_state_visitor *v)
{
  pf__ps *s = state;
  const size_t n = s->n;
  PF_TRY(pf_state_f64(v, "theta", s->theta, s->np));
  PF_TRY(pf_state_f64(v, "ema", s->ema, s->np));
  PF_TRY(pf_state_int(v, "ema_on", &s->ema_on, 1));
  PF_TRY(pf_state_i64(v, "n_updates", &s->n_updates, 1));
  PF_TRY(pf_state_i64(v, "n_skipped", &s->n_skipped, 1));
  if (s->adam) {
    double *m, *a;
    long long *t;
    pf_adam_state(s->adam, &m, &a, &t);
    PF_TRY(pf_state_f64(v, "adam.m", m, s->np));
    PF_TRY(pf_state_f64(v, "adam.v", a, s->np));
    PF_TRY(pf_state_i64(v, "adam.t", t, 1));
  }
  if (s->rng_train) PF_TRY(pf_state_rng(v, "rng_train", s->rng_train, s->B));
  PF_TRY(pf_state_f64(v, "log_weight", s->logw, n));
  PF_TRY(pf_state_f64(v, "eval_R", s->eR, n));
  PF_TRY(pf_state_f64(v, "eval_Rn", s->eRn, n));
  /* the statistics the info columns repeat until the next batch / eval */
  double st[12] = {s->last.loss, s->last.log_z_lb, s->last.log_z_is,
                   s->last.ess, s->last.dropped, s->eval.loss,
                   s->eval.log_z_lb, s->eval.log_z_is, s->eval.ess,
                   s->eval.dropped, s->last_grad_norm, s->last_lr};
  PF_TRY(pf_state_f64(v, "stats", st, 12));
  if (v->loading) {
    pf__ps_stats *l = &s->last, *e = &s->eval;
    l->loss = st[0], l->log_z_lb = st[1], l->log_z_is = st[2];
    l->ess = st[3], l->dropped = st[4];
    e->loss = st[5], e->log_z_lb = st[6], e->log_z_is = st[7];
    e->ess = st[8], e->dropped = st[9];
    s->last_grad_norm = st[10];
    s->last_lr = st[11];
  }
  return 0;
}
