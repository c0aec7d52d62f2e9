/* svmd (and the direction engine svng shares): the paper-code identities
 * (a) identity map + every eigenpair = SVGD up to the jitter, (b) one
 * particle = (1 + jitter)[grad log p + hess psi div hess psi^-1]; the
 * engine against a naive evaluation of the definition with finite
 * differences on the simplex; bitwise 1 vs 2 threads; a short sparse
 * Dirichlet run reaching a low energy distance. */
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../samplers/svmd.h"
#include "conformance.h"
#include "pf_test.h"
#include "pflow/error.h"
#include "pflow/kernel.h"
#include "pflow/registry.h"

extern const pf_kernel_ops pf_kernel_imq;

/* Points from a fixed LCG-free recipe: particle i of n in R^d. */
static void test_points(size_t n, size_t d, double *X)
{
  for (size_t i = 0; i < n; i++)
    for (size_t c = 0; c < d; c++)
      X[i * d + c] = sin(1.7 * (double)(i + 1) + 0.9 * (double)c * (double)c) +
                     0.1 * (double)c;
}

static void identity_stack(size_t n, size_t d, double *H)
{
  memset(H, 0, n * d * d * sizeof(double));
  for (size_t i = 0; i < n; i++)
    for (size_t c = 0; c < d; c++) H[i * d * d + c * d + c] = 1.0;
}

/* (a) psi = |x|^2 / 2 (H = I) and tau = 1: the SVMD direction is
 * (1/n) sum_l [(k_kl + jitter delta_kl) s_l + grad_l k(x_l, x_k)], i.e.
 * pf_pair_svgd's direction plus (jitter / n) s_k.  Compared to 1e-12
 * relative (both are O(n^2) sums of O(1) terms, eigenvectors orthonormal
 * to ~1e-14); without the jitter correction they differ by jitter |s| / n,
 * far above that. */
static int identity_a_svgd(void)
{
  const size_t n = 40, d = 3;
  const double jit = 1e-5;
  double X[40 * 3], S[40 * 3], g[40 * 3], phi[40 * 3], H[40 * 9];
  test_points(n, d, X);
  for (size_t i = 0; i < n * d; i++) S[i] = cos(3.1 * (double)i) - 0.5 * X[i];
  identity_stack(n, d, H);
  pf_kernel *k;
  pf_pairwise *pw;
  pf__svmd *w;
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_imq, NULL, PF_BW_MEDIAN, 0, NULL,
                               0, n, &k));
  PF_T_OK(pf_kernel_fit(k, n, d, X));
  PF_T_OK(pf_pairwise_create(n, n, d, &pw));
  PF_T_OK(pf__svmd_create(n, d, &w));
  size_t r = 0;
  PF_T_OK(pf__svmd_direction(w, k, X, S, H, H, jit, 1.0, g, &r));
  PF_T_OK(pf_pair_svgd(pw, k, n, X, 0, NULL, S, phi));
  PF_T_ASSERT(r == n, "kept %zu of %zu eigenpairs", r, n);
  double err = 0.0, err_nojit = 0.0, scale = 0.0;
  for (size_t i = 0; i < n * d; i++) {
    err = fmax(err, fabs(g[i] - (phi[i] + jit * S[i] / (double)n)));
    err_nojit = fmax(err_nojit, fabs(g[i] - phi[i]));
    scale = fmax(scale, fabs(phi[i]));
  }
  PF_T_ASSERT(err <= 1e-12 * scale, "max error %.3g (scale %.3g)", err,
              scale);
  PF_T_ASSERT(err_nojit > 100 * err, "the jitter term (%.3g) is not seen",
              err_nojit);
  pf__svmd_destroy(&w);
  pf_pairwise_destroy(&pw);
  pf_kernel_destroy(&k);
  return 0;
}

/* (b) one particle, through the sampler: with the plain step rule,
 * eta_1 - eta_0 = lr g and g = k(0) (1 + jitter) [grad log p + hess psi
 * div hess psi^-1] (k(0) = 1 for IMQ with c = 1), in the dual coordinates
 * of the simplex's entropic map (div hess psi^-1 = 1 - D theta).  lr is
 * small so eta_1 - eta_0 loses only ~1e-13 relative to cancellation. */
static int identity_b_one_particle(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_particles *p0, *p1;
  const char *tgt = "{name: dirichlet, alpha: [2.5, 3.0, 4.0, 1.5]}";
  const char *s0 = "{name: svmd, n_particles: 1, n_iter: 0, init: dirichlet, "
                   "optimizer: plain, step_size: 1e-4, jitter: 1e-3}";
  const char *s1 = "{name: svmd, n_particles: 1, n_iter: 1, init: dirichlet, "
                   "optimizer: plain, step_size: 1e-4, jitter: 1e-3}";
  PF_T_OK(pf_test_target(tgt, &cfg, &t));
  PF_T_OK(pf_test_run_sampler(s0, t, 7, 0, &p0));
  PF_T_OK(pf_test_run_sampler(s1, t, 7, 0, &p1));
  const pf_domain *dom = pf_target_domain(t);
  const pf_mirror_ops *m = pf_domain_mirror(dom);
  const void *mc = pf_domain_ctx(dom);
  double wk[64], e0[3], e1[3], gl[3], one[3], Hv[3], lp;
  const double *x = p0->x;
  PF_T_OK(m->grad_psi(mc, p0->x, e0, wk));
  PF_T_OK(m->grad_psi(mc, p1->x, e1, wk));
  PF_T_OK(pf_target_logp_grad(t, 1, x, &lp, gl));
  for (int c = 0; c < 3; c++) one[c] = 1.0 - 4.0 * x[c];
  PF_T_OK(m->hess_psi_vec(mc, x, one, Hv, wk));
  for (int c = 0; c < 3; c++) {
    double want = (1.0 + 1e-3) * (gl[c] + Hv[c]);
    double got = (e1[c] - e0[c]) / 1e-4;
    PF_T_NEAR(got, want, 1e-8 * (1.0 + fabs(want)));
  }
  pf_particles_destroy(&p0);
  pf_particles_destroy(&p1);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* ---- naive SVMD from the definition (notes item 7) --------------------- */

typedef struct naive {
  size_t n, d, r;
  const double *X;
  const pf_kernel *k;
  double *V;   /* n x r: v_j(theta_p) = sqrt(n) U_pj */
  double *lam; /* r */
  const pf_mirror_ops *m;
  const void *mc;
} naive;

static double kval(const naive *nv, const double *x, const double *y)
{
  double r2 = 0.0, f, wk[PF_KERNEL_WORK];
  for (size_t c = 0; c < nv->d; c++) r2 += (x[c] - y[c]) * (x[c] - y[c]);
  pf_kernel_eval(nv->k, 1, &r2, &f, NULL, NULL, wk);
  return f;
}

/* k^1/2(theta_m, y) with the Nystrom u_j(y). */
static double khalf(const naive *nv, size_t mi, const double *y)
{
  const size_t n = nv->n, d = nv->d;
  double acc = 0.0;
  for (size_t j = 0; j < nv->r; j++) {
    double u = 0.0;
    for (size_t q = 0; q < n; q++)
      u += kval(nv, y, nv->X + q * d) * nv->V[q * nv->r + j];
    u /= nv->lam[j];
    acc += sqrt(nv->lam[j] / (double)n) * nv->V[mi * nv->r + j] * u;
  }
  return acc;
}

/* out (d x d) = K_t(theta_k, y) H^-1(y). */
static int kt_hinv(const naive *nv, size_t ki, const double *y, double *out)
{
  const size_t n = nv->n, d = nv->d;
  double K[16] = {0}, col[4], e[4] = {0}, wk[64];
  for (size_t mi = 0; mi < n; mi++) {
    double a = khalf(nv, mi, nv->X + ki * d) * khalf(nv, mi, y) / (double)n;
    for (size_t c = 0; c < d; c++) {
      e[c] = 1.0;
      PF_TRY(nv->m->hess_psi_vec(nv->mc, nv->X + mi * d, e, col, wk));
      e[c] = 0.0;
      for (size_t b = 0; b < d; b++) K[b * d + c] += a * col[b];
    }
  }
  for (size_t c = 0; c < d; c++) { /* column c of K H^-1 = K (H^-1 e_c) */
    e[c] = 1.0;
    PF_TRY(nv->m->hess_psi_inv_vec(nv->mc, y, e, col, wk));
    e[c] = 0.0;
    for (size_t b = 0; b < d; b++) {
      double s = 0.0;
      for (size_t a = 0; a < d; a++) s += K[b * d + a] * col[a];
      out[b * d + c] = s;
    }
  }
  return 0;
}

/* On a D = 4 simplex (entropic map) with n = 7 interior points, tau = 0.9
 * (some eigenpairs dropped) and no jitter (so Nystrom values at the
 * particles equal the eigenvector entries, as the engine assumes): g_k =
 * (1/n) sum_l [K_t(k,l) H_l^-1 grad log p_l + sum_c d/dy_c (K_t(k,y)
 * H^-1(y))_{:,c}], the derivative by central differences (step 1e-5: error
 * ~1e-10 relative).  Tolerance 1e-6 relative to max |g|. */
static int engine_vs_naive_simplex(void)
{
  enum { n = 7, d = 3 };
  pf_config *cfg;
  pf_target *t;
  PF_T_OK(pf_test_target("{name: dirichlet, alpha: [2.5, 3.0, 4.0, 1.5]}",
                         &cfg, &t));
  const pf_domain *dom = pf_target_domain(t);
  naive nv = {n, d, 0, NULL, NULL, NULL, NULL, pf_domain_mirror(dom),
              pf_domain_ctx(dom)};
  double X[n * d], GL[n * d], S[n * d], H[n * d * d], Hi[n * d * d];
  double lp[n], wk[64], e[d], col[d], g[n * d], gn[n * d] = {0};
  for (size_t i = 0; i < n; i++) {
    double a = 0.15 + 0.05 * (double)i, b = 0.3 - 0.03 * (double)i,
           c = 0.2 + 0.02 * (double)((i * 3) % 5);
    X[i * d] = a;
    X[i * d + 1] = b;
    X[i * d + 2] = c;
  }
  PF_T_OK(pf_target_logp_grad(t, n, X, lp, GL));
  for (size_t i = 0; i < n; i++) {
    double val, dv[d];
    const double *x = X + i * d;
    PF_T_OK(nv.m->hess_psi_inv_vec(nv.mc, x, GL + i * d, S + i * d, wk));
    PF_T_OK(nv.m->logdet_hess_psi_star(nv.mc, x, &val, dv, wk));
    for (size_t c = 0; c < d; c++) S[i * d + c] += dv[c];
    memset(e, 0, sizeof e);
    for (size_t c = 0; c < d; c++) {
      e[c] = 1.0;
      PF_T_OK(nv.m->hess_psi_vec(nv.mc, x, e, col, wk));
      for (size_t a = 0; a < d; a++) H[i * d * d + a * d + c] = col[a];
      PF_T_OK(nv.m->hess_psi_inv_vec(nv.mc, x, e, col, wk));
      for (size_t a = 0; a < d; a++) Hi[i * d * d + a * d + c] = col[a];
      e[c] = 0.0;
    }
  }
  pf_kernel *k;
  pf__svmd *w;
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_imq, NULL, PF_BW_MEDIAN, 0, NULL,
                               0, n, &k));
  PF_T_OK(pf_kernel_fit(k, n, d, X));
  PF_T_OK(pf__svmd_create(n, d, &w));
  size_t r = 0;
  const double tau = 0.9;
  PF_T_OK(pf__svmd_direction(w, k, X, S, H, Hi, 0.0, tau, g, &r));
  PF_T_ASSERT(r > 1 && r < n, "r = %zu: the test should drop eigenpairs", r);

  /* The naive side: its own Gram matrix and eigendecomposition. */
  double G[n * n], lam[n], V[n * n];
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      nv.X = X;
      nv.k = k;
      G[i * n + j] = kval(&nv, X + i * d, X + j * d);
    }
  PF_T_ASSERT(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', n, G, n, lam) == 0,
              "dsyev");
  double tot = 0, cum = 0;
  for (size_t j = 0; j < n; j++) tot += lam[j];
  size_t rn = 0;
  for (size_t j = 0; j < n; j++) {
    cum += lam[n - 1 - j];
    rn++;
    if (!(cum / tot < tau)) break;
  }
  PF_T_ASSERT(rn == r, "naive r = %zu, engine r = %zu", rn, r);
  double lr_[n];
  for (size_t j = 0; j < r; j++) {
    lr_[j] = lam[n - 1 - j];
    for (size_t p = 0; p < n; p++)
      V[p * r + j] = sqrt((double)n) * G[p * n + (n - 1 - j)];
  }
  nv.r = r;
  nv.V = V;
  nv.lam = lr_;
  const double h = 1e-5;
  for (size_t ki = 0; ki < n; ki++)
    for (size_t l = 0; l < n; l++) {
      double KH[d * d], Kp[d * d], Km[d * d], y[d];
      const double *xl = X + l * d;
      PF_T_OK(kt_hinv(&nv, ki, xl, KH));
      for (size_t b = 0; b < d; b++) { /* K_t H^-1 grad log p */
        double s = 0;
        for (size_t a = 0; a < d; a++) s += KH[b * d + a] * GL[l * d + a];
        gn[ki * d + b] += s / (double)n;
      }
      for (size_t c = 0; c < d; c++) {
        memcpy(y, xl, sizeof y);
        y[c] = xl[c] + h;
        PF_T_OK(kt_hinv(&nv, ki, y, Kp));
        y[c] = xl[c] - h;
        PF_T_OK(kt_hinv(&nv, ki, y, Km));
        for (size_t b = 0; b < d; b++)
          gn[ki * d + b] +=
              (Kp[b * d + c] - Km[b * d + c]) / (2 * h) / (double)n;
      }
    }
  double err = 0, scale = 0;
  for (size_t i = 0; i < n * d; i++) {
    err = fmax(err, fabs(g[i] - gn[i]));
    scale = fmax(scale, fabs(gn[i]));
  }
  PF_T_ASSERT(err <= 1e-6 * scale, "max error %.3g, scale %.3g", err, scale);
  pf__svmd_destroy(&w);
  pf_kernel_destroy(&k);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* Energy distance (V-statistic, as the reference code's utils.py) between
 * n x d X and m x d Y. */
static double energy_v(size_t n, const double *X, size_t m, const double *Y,
                       size_t d)
{
  double xy = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < m; j++) {
      double s = 0;
      for (size_t c = 0; c < d; c++)
        s += (X[i * d + c] - Y[j * d + c]) * (X[i * d + c] - Y[j * d + c]);
      xy += sqrt(s);
    }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t c = 0; c < d; c++)
        s += (X[i * d + c] - X[j * d + c]) * (X[i * d + c] - X[j * d + c]);
      xx += sqrt(s);
    }
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < m; j++) {
      double s = 0;
      for (size_t c = 0; c < d; c++)
        s += (Y[i * d + c] - Y[j * d + c]) * (Y[i * d + c] - Y[j * d + c]);
      yy += sqrt(s);
    }
  return 2 * xy / ((double)n * m) - xx / ((double)n * n) -
         yy / ((double)m * m);
}

/* The sparse Dirichlet (D = 20) with the paper's settings (500
 * iterations).  The energy distance starts at ~1.5; the paper's SVMD
 * is at 0.01-0.02 by T = 200.  Threshold 0.02: ~15x the V-statistic floor
 * of 50 iid draws against 1000 (~0.0013, notes section 6), so it fails
 * for any sampler that has not converged, and the 1000-draw reference
 * adds only ~1e-3 of noise.  Also bitwise identical for 1 and 2
 * threads. */
static int sparse_dirichlet_short(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_particles *p, *p2;
  PF_T_OK(pf_test_target("{name: dirichlet, preset: sparse20}", &cfg, &t));
  const char *s = "{name: svmd, n_particles: 50, n_iter: 500, init: "
                  "dirichlet, init_concentration: 5, eigen_threshold: 0.998, "
                  "kernel: {name: imq, bandwidth: median_ref}, optimizer: "
                  "rmsprop, step_size: 0.1}";
  PF_T_OK(pf_test_run_sampler(s, t, 1, 1, &p));
  PF_T_OK(pf_test_run_sampler(s, t, 1, 2, &p2));
  PF_T_ASSERT(memcmp(p->x, p2->x, p->n * p->d * sizeof(double)) == 0,
              "1 and 2 threads differ");
  const size_t m = 1000, d = p->d;
  double *Y = malloc(m * d * sizeof(double));
  pf_rng rng;
  pf_rng_stream(&rng, 99, 0);
  PF_T_OK(pf_target_sample(t, &rng, m, Y));
  double ed = energy_v(p->n, p->x, m, Y, d);
  double m0 = 0;
  for (size_t i = 0; i < p->n; i++) m0 += p->x[i * d];
  m0 /= (double)p->n;
  free(Y);
  pf_particles_destroy(&p);
  pf_particles_destroy(&p2);
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  PF_T_ASSERT(ed < 0.02, "energy distance %.4f", ed);
  /* E theta_1 = 90.1 / 102; the issue's +-0.01 */
  PF_T_NEAR(m0, 90.1 / 102.0, 0.01);
  return 0;
}

/* A domain without a mirror map is a config error naming the sampler. */
static int needs_mirror_map(void)
{
  pf_config *cfg;
  pf_target *t;
  pf_particles *p = NULL;
  PF_T_OK(pf_test_target("{name: uniform, domain: {name: simplex, coords: "
                         "full, dim: 3}}", &cfg, &t));
  int rc = pf_test_run_sampler("{name: svmd, n_particles: 5, n_iter: 1}", t,
                               1, 0, &p);
  PF_T_ASSERT(rc == PF_ECONFIG && strstr(pf_error_message(), "mirror"),
              "rc %d: %s", rc, pf_error_message());
  pf_target_destroy(&t);
  pf_config_destroy(&cfg);
  return 0;
}

/* Only the kept eigenvectors (MRRR on an index range, used when r <= n/4)
 * against all of them: n = 80 points in 2-D, IMQ median kernel, tau = 0.9
 * (r well below n/4), random metrics H = I + a a^T: the same r and the same
 * direction to rounding (1e-9 relative: eigenvectors of the separated
 * leading eigenvalues agree to ~1e-12). */
static int subset_eigenvectors(void)
{
  enum { n = 80, d = 2 };
  double X[n * d], S[n * d], H[n * d * d], Hi[n * d * d], g0[n * d],
      g1[n * d];
  unsigned long long st = 12345;
  for (size_t i = 0; i < n * d; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    X[i] = (double)(st >> 11) / 9007199254740992.0 - 0.5;
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    S[i] = (double)(st >> 11) / 9007199254740992.0 - 0.5;
  }
  for (size_t i = 0; i < n; i++) {
    const double a0 = 0.3 * X[i * d], a1 = 0.5 * X[i * d + 1];
    double *h = H + i * d * d, *hi = Hi + i * d * d;
    h[0] = 1 + a0 * a0;
    h[1] = h[2] = a0 * a1;
    h[3] = 1 + a1 * a1;
    const double det = h[0] * h[3] - h[1] * h[2];
    hi[0] = h[3] / det;
    hi[1] = hi[2] = -h[1] / det;
    hi[3] = h[0] / det;
  }
  pf_kernel *k;
  pf__svmd *w;
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_imq, NULL, PF_BW_MEDIAN, 0, NULL,
                               0, n, &k));
  PF_T_OK(pf_kernel_fit(k, n, d, X));
  PF_T_OK(pf__svmd_create(n, d, &w));
  size_t r0 = 0, r1 = 0;
  PF_T_OK(pf__svmd_direction(w, k, X, S, H, Hi, 1e-5, 0.9, g0, &r0));
  pf__svmd_set_subset(w, 0);
  PF_T_OK(pf__svmd_direction(w, k, X, S, H, Hi, 1e-5, 0.9, g1, &r1));
  PF_T_ASSERT(r0 == r1 && r0 > 1 && 4 * r0 <= n,
              "r = %zu (subset) vs %zu (all): the test needs 1 < r <= n/4",
              r0, r1);
  double err = 0, scale = 0;
  for (size_t i = 0; i < n * d; i++) {
    err = fmax(err, fabs(g0[i] - g1[i]));
    scale = fmax(scale, fabs(g1[i]));
  }
  PF_T_ASSERT(err <= 1e-9 * scale, "max difference %.3g, scale %.3g", err,
              scale);
  pf__svmd_destroy(&w);
  pf_kernel_destroy(&k);
  return 0;
}

/* The block Krylov eigensolver (n >= PF__SVMD_KRYLOV_MIN_N, tau < 1)
 * against the dense path on three particle sets in 2-D (IMQ, fixed
 * bandwidth 0.3, metrics H = I + a a^T, tau = 0.998): uniform random
 * points; the 17 x 17 square grid, whose symmetry (the square's group has
 * 2-dimensional representations) makes many Gram eigenvalues double, the
 * case a single-vector Lanczos misses; the same grid moved by 1e-7
 * (near-degenerate pairs).  Required: the Krylov path was taken, the same
 * r (17-19 here), eigenvalues within 1e-12 lambda_max (measured ~2e-15),
 * each dense kept eigenvector inside the Krylov subspace to 1e-7 (distance
 * to its projection; measured 1.5e-10 random, 1.0e-8 grid: residual
 * tolerance 1e-10 lambda_max over the gap at the cut), and the direction
 * equal to 1e-9 relative (measured 1e-12 to 5e-12).  Also bitwise equal
 * for 1 and 2 threads. */
static void krylov_points(int kind, size_t n, double *X)
{
  unsigned long long st = 777;
  for (size_t i = 0; i < n; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = (double)(st >> 11) / 9007199254740992.0 - 0.5;
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    const double v = (double)(st >> 11) / 9007199254740992.0 - 0.5;
    if (kind == 0) {
      X[2 * i] = u;
      X[2 * i + 1] = v;
    } else {
      X[2 * i] = -0.5 + (double)(i % 17) / 16.0 + (kind == 2 ? 1e-7 * u : 0);
      X[2 * i + 1] = -0.5 + (double)(i / 17) / 16.0 + (kind == 2 ? 1e-7 * v : 0);
    }
  }
}

static int krylov_vs_dense(void)
{
  enum { n = 289, d = 2 };
  const double tau = 0.998;
  double *X = malloc(n * d * sizeof(double)), *S = malloc(n * d * sizeof(double)),
         *H = malloc(n * d * d * sizeof(double)),
         *Hi = malloc(n * d * d * sizeof(double)),
         *g0 = malloc(n * d * sizeof(double)), *g1 = malloc(n * d * sizeof(double)),
         *g2 = malloc(n * d * sizeof(double)),
         *Ud = malloc(n * n * sizeof(double)), *ld = malloc(n * sizeof(double));
  PF_T_ASSERT(X && S && H && Hi && g0 && g1 && g2 && Ud && ld, "out of memory");
  const int nthr = omp_get_max_threads();
  for (int kind = 0; kind < 3; kind++) {
    krylov_points(kind, n, X);
    for (size_t i = 0; i < n * d; i++) S[i] = sin(2.3 * (double)i) - X[i];
    for (size_t i = 0; i < n; i++) {
      const double a0 = 0.3 * X[i * d], a1 = 0.5 * X[i * d + 1];
      double *h = H + i * d * d, *hi = Hi + i * d * d;
      h[0] = 1 + a0 * a0;
      h[1] = h[2] = a0 * a1;
      h[3] = 1 + a1 * a1;
      const double det = h[0] * h[3] - h[1] * h[2];
      hi[0] = h[3] / det;
      hi[1] = hi[2] = -h[1] / det;
      hi[3] = h[0] / det;
    }
    pf_kernel *k;
    pf__svmd *w, *w2;
    PF_T_OK(pf_kernel_create_ops(&pf_kernel_imq, NULL, PF_BW_FIXED, 0.3, NULL,
                                 0, n, &k));
    PF_T_OK(pf_kernel_fit(k, n, d, X));
    omp_set_num_threads(1);
    PF_T_OK(pf__svmd_create(n, d, &w));
    omp_set_num_threads(2);
    PF_T_OK(pf__svmd_create(n, d, &w2));
    omp_set_num_threads(nthr);
    size_t r0 = 0, r1 = 0, r2 = 0, m = 0;
    const double *ut, *lr;
    pf__svmd_set_method(w, PF__SVMD_DENSE);
    PF_T_OK(pf__svmd_direction(w, k, X, S, H, Hi, 1e-5, tau, g0, &r0));
    PF_T_ASSERT(!pf__svmd_last_krylov(w, NULL), "forced dense path");
    pf__svmd_kept(w, &ut, &lr);
    memcpy(Ud, ut, r0 * n * sizeof(double));
    memcpy(ld, lr, r0 * sizeof(double));
    size_t doubles = 0;
    for (size_t j = 0; j + 1 < r0; j++)
      if (ld[j + 1] - ld[j] <= (kind == 1 ? 1e-10 : 1e-6) * ld[r0 - 1])
        doubles++;
    pf__svmd_set_method(w, PF__SVMD_AUTO);
    PF_T_OK(pf__svmd_direction(w, k, X, S, H, Hi, 1e-5, tau, g1, &r1));
    PF_T_ASSERT(pf__svmd_last_krylov(w, &m), "set %d: the Krylov path was "
                "not taken (r = %zu)", kind, r1);
    PF_T_ASSERT(r0 == r1, "set %d: r = %zu (dense) vs %zu (Krylov)", kind, r0,
                r1);
    PF_T_ASSERT(kind == 0 || doubles >= 5, "set %d: the grid should give "
                "repeated or nearly repeated kept eigenvalues (found %zu "
                "pairs)", kind, doubles);
    pf__svmd_kept(w, &ut, &lr);
    double el = 0, es = 0;
    for (size_t j = 0; j < r0; j++) {
      el = fmax(el, fabs(lr[j] - ld[j]));
      /* |u - P u| for the dense vector u, P the Krylov projector. */
      double res2 = 0.0;
      const double *u = Ud + j * n;
      double *c = g2; /* r0 <= n * d coefficients */
      for (size_t a = 0; a < r0; a++) {
        c[a] = 0.0;
        for (size_t t = 0; t < n; t++) c[a] += ut[a * n + t] * u[t];
      }
      for (size_t t = 0; t < n; t++) {
        double v = u[t];
        for (size_t a = 0; a < r0; a++) v -= c[a] * ut[a * n + t];
        res2 += v * v;
      }
      es = fmax(es, sqrt(res2));
    }
    PF_T_ASSERT(el <= 1e-12 * ld[r0 - 1], "set %d: eigenvalues differ by "
                "%.3g (lambda_max %.3g)", kind, el, ld[r0 - 1]);
    PF_T_ASSERT(es <= 1e-7, "set %d: a dense eigenvector is %.3g away from "
                "the Krylov subspace", kind, es);
    double err = 0, scale = 0;
    for (size_t i = 0; i < n * d; i++) {
      err = fmax(err, fabs(g0[i] - g1[i]));
      scale = fmax(scale, fabs(g0[i]));
    }
    PF_T_ASSERT(err <= 1e-9 * scale, "set %d (r = %zu, basis %zu): direction "
                "differs by %.3g (scale %.3g)", kind, r0, m, err, scale);
    PF_T_OK(pf__svmd_direction(w2, k, X, S, H, Hi, 1e-5, tau, g2, &r2));
    PF_T_ASSERT(pf__svmd_last_krylov(w2, NULL) && r2 == r1 &&
                    memcmp(g1, g2, n * d * sizeof(double)) == 0,
                "set %d: 1 and 2 threads differ", kind);
    pf__svmd_destroy(&w);
    pf__svmd_destroy(&w2);
    pf_kernel_destroy(&k);
  }
  free(X);
  free(S);
  free(H);
  free(Hi);
  free(g0);
  free(g1);
  free(g2);
  free(Ud);
  free(ld);
  return 0;
}

/* metric_terms recognizes H^-1 = diag(a) - x x^T (simplex entropic map,
 * exact off-diagonal products) and diagonal H^-1, and then uses three
 * n^2 d GEMMs instead of the packed n^2 d(d+1) one: both must give the
 * general path's direction to rounding.  One off-diagonal entry nudged by
 * one ulp (or a 1e-300 off-diagonal entry for the diagonal case) forces
 * the general path on the same data. */
static int structured_hinv(void)
{
  enum { n = 40, d = 5 };
  double *X = malloc(n * d * sizeof(double)), *S = malloc(n * d * sizeof(double)),
         *H = malloc(n * d * d * sizeof(double)),
         *Hi = malloc(n * d * d * sizeof(double)),
         *g0 = malloc(n * d * sizeof(double)), *g1 = malloc(n * d * sizeof(double));
  PF_T_ASSERT(X && S && H && Hi && g0 && g1, "out of memory");
  for (size_t i = 0; i < n; i++) {
    double tot = 0.0;
    for (size_t c = 0; c <= d; c++)
      tot += 1.2 + sin(1.3 * (double)(i + 1) * (double)(c + 1));
    for (size_t c = 0; c < d; c++)
      X[i * d + c] = (1.2 + sin(1.3 * (double)(i + 1) * (double)(c + 1))) / tot;
  }
  for (size_t i = 0; i < n * d; i++) S[i] = cos(0.7 * (double)i);
  identity_stack(n, d, H);
  pf_kernel *k;
  pf__svmd *w;
  PF_T_OK(pf_kernel_create_ops(&pf_kernel_imq, NULL, PF_BW_MEDIAN, 0, NULL,
                               0, n, &k));
  PF_T_OK(pf_kernel_fit(k, n, d, X));
  PF_T_OK(pf__svmd_create(n, d, &w));
  for (int kind = 0; kind < 2; kind++) {
    for (size_t i = 0; i < n; i++) {
      const double *x = X + i * d;
      double *h = Hi + i * d * d;
      for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++)
          h[a * d + b] = kind == 0 ? x[a] * ((a == b) - x[b])
                                   : (a == b) * (0.5 + x[a]);
    }
    size_t r0 = 0, r1 = 0;
    PF_T_OK(pf__svmd_direction(w, k, X, S, H, Hi, 1e-5, 0.95, g0, &r0));
    if (kind == 0) {
      Hi[1] = nextafter(Hi[1], 0.0);
      Hi[d] = Hi[1];
    } else {
      Hi[1] = Hi[d] = 1e-300;
    }
    PF_T_OK(pf__svmd_direction(w, k, X, S, H, Hi, 1e-5, 0.95, g1, &r1));
    double err = 0, scale = 0;
    for (size_t i = 0; i < n * d; i++) {
      err = fmax(err, fabs(g0[i] - g1[i]));
      scale = fmax(scale, fabs(g0[i]));
    }
    PF_T_ASSERT(r0 == r1 && r0 > 1 && r0 < n, "kind %d: r = %zu vs %zu",
                kind, r0, r1);
    PF_T_ASSERT(err <= 1e-11 * scale, "kind %d: structured and general "
                "paths differ by %.3g (scale %.3g)", kind, err, scale);
  }
  pf__svmd_destroy(&w);
  pf_kernel_destroy(&k);
  free(X);
  free(S);
  free(H);
  free(Hi);
  free(g0);
  free(g1);
  return 0;
}

const pf_test_case pf_tests_svmd[] = {
    {"identity_a_svgd", identity_a_svgd},
    {"identity_b_one_particle", identity_b_one_particle},
    {"engine_vs_naive_simplex", engine_vs_naive_simplex},
    {"subset_eigenvectors", subset_eigenvectors},
    {"krylov_vs_dense", krylov_vs_dense},
    {"structured_hinv", structured_hinv},
    {"sparse_dirichlet_short", sparse_dirichlet_short},
    {"needs_mirror_map", needs_mirror_map},
    {NULL, NULL}};
