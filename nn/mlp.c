/* The Fourier-feature MLP of include/pflow/nn.h: batched forward and
 * backward passes, every dense layer one BLAS GEMM over the batch.
 *
 * Parameter layout of theta (W = width, F = n_freq, D = d_in, O = d_out):
 *   phi[F] | Wt1[W][2F] bt1[W] | Wt2[W][W] bt2[W] | Win[W][D] bin[W] |
 *   depth x (Wl[W][W] bl[W]) | Wout[O][W] bout[O]
 * (weights row-major as [out][in], as in torch.nn.Linear). */
#include "pflow/nn.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sleef.h>

#include "pflow/error.h"
#include "pflow/particles.h"

struct pf_mlp {
  pf_mlp_spec s;
  size_t max_n, n_params;
  size_t o_phi, o_wt1, o_bt1, o_wt2, o_bt2, o_win, o_bin, o_hid, o_wo, o_bo;
  double *freq;            /* F frequencies */
  double *feat;            /* 2F time features of the last forward */
  double *zt1, *dt1;       /* W: gelu and gelu' of the first time layer */
  double *temb;            /* W */
  double *Z, *Dg;          /* (depth+1) x max_n x W: gelu(h_l), gelu'(h_l) */
  double *H;               /* max_n x W pre-activation scratch */
  double *bufA, *bufB;     /* max_n x W backward cotangents */
  double *dtemb, *dz;      /* W each; dz also holds 2F feature cotangents */
  double t_last;
};

/* erf on AVX2 lanes to ~1 ulp: a degree-10 Taylor expansion around the
 * nearest grid point z0 = k/8 of [0, 6], with erf(z0) and 2/sqrt(pi)
 * exp(-z0^2) tabulated (hex, from 40-digit mpmath) and the derivatives
 * erf^(n)(z0) = 2/sqrt(pi) (-1)^(n-1) H_{n-1}(z0) exp(-z0^2) from the
 * Hermite recurrence H_{n+1} = 2 z H_n - 2 n H_{n-1}.  The truncation
 * error is below |h|^11 / 11! max|H_10(z) e^(-z^2)| < 1e-16 for
 * |h| <= 1/16; erf(z) = 1 in double beyond z = 6.  SLEEF's erf costs ~6x
 * more and dominated training time. */
static const double ERF_TAB[49] = {
    0x0.0p+0, 0x1.1f5e1a35c3b89p-3, 0x1.1af54e232d609p-2,
    0x1.9dd0d2b721f39p-2, 0x1.0a7ef5c18edd2p-1, 0x1.3f196dcd0f135p-1,
    0x1.6c1c9759d0e5fp-1, 0x1.91724951b8fc6p-1, 0x1.af767a741088bp-1,
    0x1.c6dad2829ec62p-1, 0x1.d8865d98abe01p-1, 0x1.e5768c3b4a3fcp-1,
    0x1.eea5557137ae0p-1, 0x1.f4f693b67bd77p-1, 0x1.f92d077f8d56dp-1,
    0x1.fbe61eef4cf6ap-1, 0x1.fd9ae142795e3p-1, 0x1.fea4218d6594ap-1,
    0x1.ff404760319b4p-1, 0x1.ff9960f3eb327p-1, 0x1.ffcaa8f4c9beap-1,
    0x1.ffe514bbdc197p-1, 0x1.fff2cfb0453d9p-1, 0x1.fff9ba420e834p-1,
    0x1.fffd1ac4135f9p-1, 0x1.fffeb3ebb267bp-1, 0x1.ffff6f9f67e55p-1,
    0x1.ffffc316d9ed0p-1, 0x1.ffffe710d565ep-1, 0x1.fffff618c3da6p-1,
    0x1.fffffc2f171e3p-1, 0x1.fffffe92ced93p-1, 0x1.ffffff7b91176p-1,
    0x1.ffffffd169d0cp-1, 0x1.fffffff01a8b6p-1, 0x1.fffffffabd229p-1,
    0x1.fffffffe4fa30p-1, 0x1.ffffffff79626p-1, 0x1.ffffffffd759dp-1,
    0x1.fffffffff4188p-1, 0x1.fffffffffc9e8p-1, 0x1.ffffffffff11ap-1,
    0x1.ffffffffffc05p-1, 0x1.ffffffffffef8p-1, 0x1.fffffffffffbep-1,
    0x1.ffffffffffff0p-1, 0x1.ffffffffffffcp-1, 0x1.fffffffffffffp-1,
    0x1.0000000000000p+0,
};
static const double DERF_TAB[49] = {
    0x1.20dd750429b6dp+0, 0x1.1c62fa1e869b6p+0, 0x1.0f5d1602f7e41p+0,
    0x1.f5f0cdaf15313p-1, 0x1.c1efca49a5011p-1, 0x1.86e9694134b9ep-1,
    0x1.492e42d78d2c5p-1, 0x1.0cab61f084b93p-1, 0x1.a911f096fbc26p-2,
    0x1.45e99bcbb7915p-2, 0x1.e4652fadcb6b2p-3, 0x1.5ce595c455b0ap-3,
    0x1.e723726b824a9p-4, 0x1.499d478bca735p-4, 0x1.b055303221015p-5,
    0x1.12ceb37ff9bc3p-5, 0x1.529b9e8cf9a1ep-6, 0x1.94624e78e0fafp-7,
    0x1.d4143a9dfe965p-8, 0x1.06918b6355624p-8, 0x1.1d83170fbf6fbp-9,
    0x1.2ce898809244ep-10, 0x1.3360ccd23db3ap-11, 0x1.30538fbb77ecdp-12,
    0x1.2408e9ba3327fp-13, 0x1.0f9e1b4dd36dfp-14, 0x1.e9b5e8d00ce77p-16,
    0x1.abe09e9144b5ep-17, 0x1.6a597219a93dap-18, 0x1.296a70f414053p-19,
    0x1.d9371e2ff7c35p-21, 0x1.6ce1aa3fd7bddp-22, 0x1.10b1488aeb235p-23,
    0x1.8b0cfce0579e0p-25, 0x1.155a09065d4f7p-26, 0x1.7974e743dea3dp-28,
    0x1.f1e3523b41d7dp-30, 0x1.3e44e45301b92p-31, 0x1.8a61745ec7d1dp-33,
    0x1.d9a880f306bd8p-35, 0x1.13af4f04f9998p-36, 0x1.370ab8327af5ep-38,
    0x1.5422ef5d8949dp-40, 0x1.68823e52970bep-42, 0x1.7258610b3b233p-44,
    0x1.70beaf9c7ffb6p-46, 0x1.63daf8b4b1e0cp-48, 0x1.4cd9c04158cd7p-50,
    0x1.2dc119095729fp-52,
};

static __m256d erf4(__m256d x)
{
  const __m256d sgnmask = _mm256_set1_pd(-0.0);
  __m256d sg = _mm256_and_pd(x, sgnmask);
  __m256d z = _mm256_min_pd(_mm256_andnot_pd(sgnmask, x), _mm256_set1_pd(6.0));
  __m256d kf = _mm256_round_pd(_mm256_mul_pd(z, _mm256_set1_pd(8.0)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m128i idx = _mm256_cvtpd_epi32(kf);
  __m256d z0 = _mm256_mul_pd(kf, _mm256_set1_pd(0.125));
  __m256d h = _mm256_sub_pd(z, z0);
  __m256d e0 = _mm256_i32gather_pd(ERF_TAB, idx, 8);
  __m256d g0 = _mm256_i32gather_pd(DERF_TAB, idx, 8);
  const __m256d two = _mm256_set1_pd(2.0);
  __m256d tz = _mm256_mul_pd(two, z0);
  __m256d Hm = _mm256_set1_pd(1.0), Hc = tz; /* H_0, H_1 */
  __m256d hp = h;                           /* (-1)^(n-1) h^n / n!, n = 1 */
  __m256d sum = h;                          /* n = 1 term: H_0 h */
  static const double mrecip[11] = {0, 0, -1.0 / 2, -1.0 / 3, -1.0 / 4,
                                     -1.0 / 5, -1.0 / 6, -1.0 / 7, -1.0 / 8,
                                     -1.0 / 9, -1.0 / 10};
#pragma GCC unroll 9
  for (int n = 2; n <= 10; n++) {
    hp = _mm256_mul_pd(hp, _mm256_mul_pd(h, _mm256_set1_pd(mrecip[n])));
    sum = _mm256_fmadd_pd(hp, Hc, sum);     /* + hp H_{n-1} */
    __m256d Hn = _mm256_fmsub_pd(
        tz, Hc, _mm256_mul_pd(_mm256_set1_pd(2.0 * (n - 1)), Hm));
    Hm = Hc;
    Hc = Hn;
  }
  __m256d r = _mm256_fmadd_pd(g0, sum, e0);
  return _mm256_or_pd(r, sg);
}

void pf_gelu(size_t n, const double *a, double *y, double *dy)
{
  const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0);
  const __m256d rs2 = _mm256_set1_pd(0.70710678118654752440);
  const __m256d rs2pi = _mm256_set1_pd(0.39894228040143267794);
  const __m256d mhalf = _mm256_set1_pd(-0.5);
  size_t i = 0;
  double ta[4], ty[4], td[4];
  for (;;) {
    __m256d x;
    size_t rem = n - i;
    if (rem == 0) break;
    if (rem >= 4) {
      x = _mm256_loadu_pd(a + i);
    } else {
      ta[0] = ta[1] = ta[2] = ta[3] = 0.0;
      memcpy(ta, a + i, rem * sizeof(double));
      x = _mm256_loadu_pd(ta);
    }
    __m256d cdf = _mm256_mul_pd(
        half, _mm256_add_pd(one, erf4(_mm256_mul_pd(x, rs2))));
    __m256d yy = _mm256_mul_pd(x, cdf);
    __m256d dd = _mm256_setzero_pd();
    if (dy) {
      __m256d pdf = _mm256_mul_pd(
          rs2pi, Sleef_expd4_u10avx2(_mm256_mul_pd(mhalf, _mm256_mul_pd(x, x))));
      dd = _mm256_fmadd_pd(x, pdf, cdf);
    }
    if (rem >= 4) {
      _mm256_storeu_pd(y + i, yy);
      if (dy) _mm256_storeu_pd(dy + i, dd);
      i += 4;
    } else {
      _mm256_storeu_pd(ty, yy);
      _mm256_storeu_pd(td, dd);
      memcpy(y + i, ty, rem * sizeof(double));
      if (dy) memcpy(dy + i, td, rem * sizeof(double));
      break;
    }
  }
}

void pf_mlp_destroy(pf_mlp *m)
{
  if (!m) return;
  free(m->freq);
  free(m->feat);
  free(m->zt1);
  free(m->dt1);
  free(m->temb);
  free(m->Z);
  free(m->Dg);
  free(m->H);
  free(m->bufA);
  free(m->bufB);
  free(m->dtemb);
  free(m->dz);
  free(m);
}

int pf_mlp_create(const pf_mlp_spec *spec, size_t max_n, pf_mlp **out)
{
  *out = NULL;
  PF_CHECK(spec->d_out >= 1 && spec->width >= 1 && spec->n_freq >= 1 &&
               max_n >= 1,
           PF_EINVAL, "MLP needs d_out, width, n_freq and max_n >= 1");
  pf_mlp *m = calloc(1, sizeof *m);
  PF_CHECK(m, PF_ENOMEM, "allocating an MLP");
  m->s = *spec;
  m->max_n = max_n;
  const size_t W = spec->width, F = spec->n_freq, D = spec->d_in,
               O = spec->d_out, L = spec->depth;
  size_t o = 0;
  m->o_phi = o; o += F;
  m->o_wt1 = o; o += W * 2 * F;
  m->o_bt1 = o; o += W;
  m->o_wt2 = o; o += W * W;
  m->o_bt2 = o; o += W;
  m->o_win = o; o += W * D;
  m->o_bin = o; o += W;
  m->o_hid = o; o += L * (W * W + W);
  m->o_wo = o; o += O * W;
  m->o_bo = o; o += O;
  m->n_params = o;
  const size_t wmax = W > 2 * F ? W : 2 * F;
  m->freq = pf_alloc_doubles(F);
  m->feat = pf_alloc_doubles(2 * F);
  m->zt1 = pf_alloc_doubles(W);
  m->dt1 = pf_alloc_doubles(W);
  m->temb = pf_alloc_doubles(W);
  m->Z = pf_alloc_doubles((L + 1) * max_n * W);
  m->Dg = pf_alloc_doubles((L + 1) * max_n * W);
  m->H = pf_alloc_doubles(max_n * W);
  m->bufA = pf_alloc_doubles(max_n * W);
  m->bufB = pf_alloc_doubles(max_n * W);
  m->dtemb = pf_alloc_doubles(W);
  m->dz = pf_alloc_doubles(wmax);
  if (!m->freq || !m->feat || !m->zt1 || !m->dt1 || !m->temb || !m->Z ||
      !m->Dg || !m->H || !m->bufA || !m->bufB || !m->dtemb || !m->dz) {
    pf_mlp_destroy(m);
    PF_CHECK(0, PF_ENOMEM, "allocating MLP workspaces (max_n = %zu, width "
             "= %zu)", max_n, W);
  }
  for (size_t j = 0; j < F; j++)
    m->freq[j] = F == 1 ? spec->f_min
                        : spec->f_min + (spec->f_max - spec->f_min) *
                                            (double)j / (double)(F - 1);
  *out = m;
  return 0;
}

size_t pf_mlp_n_params(const pf_mlp *m) { return m->n_params; }
const pf_mlp_spec *pf_mlp_spec_of(const pf_mlp *m) { return &m->s; }

static void uniform_fill(pf_rng *rng, size_t n, double bound, double *x)
{
  for (size_t i = 0; i < n; i++)
    x[i] = bound * (2.0 * pf_rng_uniform(rng) - 1.0);
}

void pf_mlp_init(const pf_mlp *m, pf_rng *rng, double out_bias, double *theta)
{
  const size_t W = m->s.width, F = m->s.n_freq, D = m->s.d_in,
               O = m->s.d_out;
  pf_rng_normal(rng, F, theta + m->o_phi);
  double b = 1.0 / sqrt(2.0 * (double)F);
  uniform_fill(rng, W * 2 * F + W, b, theta + m->o_wt1); /* Wt1, bt1 */
  b = 1.0 / sqrt((double)W);
  uniform_fill(rng, W * W + W, b, theta + m->o_wt2);
  if (D > 0) {
    b = 1.0 / sqrt((double)D);
    uniform_fill(rng, W * D + W, b, theta + m->o_win);
  } else {
    memset(theta + m->o_bin, 0, W * sizeof(double));
  }
  b = 1.0 / sqrt((double)W);
  uniform_fill(rng, m->s.depth * (W * W + W), b, theta + m->o_hid);
  memset(theta + m->o_wo, 0, O * W * sizeof(double));
  for (size_t k = 0; k < O; k++) theta[m->o_bo + k] = out_bias;
}

/* feat, zt1, dt1, temb at time t. */
static void time_forward(pf_mlp *m, const double *theta, double t)
{
  const size_t W = m->s.width, F = m->s.n_freq;
  const double *phi = theta + m->o_phi;
  for (size_t j = 0; j < F; j++) {
    double a = m->freq[j] * t + phi[j];
    m->feat[j] = sin(a);
    m->feat[F + j] = cos(a);
  }
  double *h = m->dz; /* scratch of >= W */
  memcpy(h, theta + m->o_bt1, W * sizeof(double));
  cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)W, (int)(2 * F), 1.0,
              theta + m->o_wt1, (int)(2 * F), m->feat, 1, 1.0, h, 1);
  pf_gelu(W, h, m->zt1, m->dt1);
  memcpy(m->temb, theta + m->o_bt2, W * sizeof(double));
  cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)W, (int)W, 1.0,
              theta + m->o_wt2, (int)W, m->zt1, 1, 1.0, m->temb, 1);
  m->t_last = t;
}

/* Z_l, Dg_l = gelu(H), gelu'(H) row-parallel (rows are independent). */
static void act_rows(size_t n, size_t W, const double *H, double *Z,
                     double *Dg)
{
#pragma omp parallel for schedule(static) if (n * W > 8192)
  for (size_t i = 0; i < n; i++)
    pf_gelu(W, H + i * W, Z + i * W, Dg ? Dg + i * W : NULL);
}

int pf_mlp_forward(pf_mlp *m, const double *theta, size_t n, const double *X,
                   double t, double *Y, int keep)
{
  PF_CHECK(n <= m->max_n, PF_EINVAL, "MLP batch %zu exceeds its capacity %zu",
           n, m->max_n);
  if (n == 0) return 0;
  const size_t W = m->s.width, D = m->s.d_in, O = m->s.d_out,
               L = m->s.depth;
  time_forward(m, theta, t);
  double *H = m->H;
  const double *bin = theta + m->o_bin;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < W; j++) H[i * W + j] = bin[j] + m->temb[j];
  if (D > 0)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)W,
                (int)D, 1.0, X, (int)D, theta + m->o_win, (int)D, 1.0, H,
                (int)W);
  const size_t blk = m->max_n * W;
  for (size_t l = 0; l <= L; l++) {
    double *Z = m->Z + (keep ? l * blk : 0);
    act_rows(n, W, H, Z, keep ? m->Dg + l * blk : NULL);
    if (l == L) break;
    const double *Wl = theta + m->o_hid + l * (W * W + W), *bl = Wl + W * W;
    for (size_t i = 0; i < n; i++) memcpy(H + i * W, bl, W * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)W,
                (int)W, 1.0, Z, (int)W, Wl, (int)W, 1.0, H, (int)W);
  }
  const double *Zl = m->Z + (keep ? L * blk : 0), *bo = theta + m->o_bo;
  for (size_t i = 0; i < n; i++) memcpy(Y + i * O, bo, O * sizeof(double));
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)O, (int)W,
              1.0, Zl, (int)W, theta + m->o_wo, (int)W, 1.0, Y, (int)O);
  return 0;
}

/* out[j] += sum_i A[i][j] in row order (bitwise independent of threads). */
static void colsum_add(size_t n, size_t c, const double *A, double *out)
{
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < c; j++) out[j] += A[i * c + j];
}

int pf_mlp_backward(pf_mlp *m, const double *theta, size_t n, const double *X,
                    const double *G, double *grad, double *gX)
{
  PF_CHECK(n <= m->max_n, PF_EINVAL, "MLP batch %zu exceeds its capacity %zu",
           n, m->max_n);
  const size_t W = m->s.width, D = m->s.d_in, O = m->s.d_out,
               L = m->s.depth, F = m->s.n_freq;
  const size_t blk = m->max_n * W;
  if (n == 0) return 0;
  /* output layer */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)W, (int)n,
              1.0, G, (int)O, m->Z + L * blk, (int)W, 1.0, grad + m->o_wo,
              (int)W);
  colsum_add(n, O, G, grad + m->o_bo);
  double *dA = m->bufA, *dB = m->bufB;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)W,
              (int)O, 1.0, G, (int)O, theta + m->o_wo, (int)W, 0.0, dA,
              (int)W);
  {
    const double *Dg = m->Dg + L * blk;
    for (size_t i = 0; i < n * W; i++) dA[i] *= Dg[i];
  }
  /* hidden layers: dA is the cotangent of h_l */
  for (size_t l = L; l-- > 0;) {
    const size_t off = m->o_hid + l * (W * W + W);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)W, (int)W,
                (int)n, 1.0, dA, (int)W, m->Z + l * blk, (int)W, 1.0,
                grad + off, (int)W);
    colsum_add(n, W, dA, grad + off + W * W);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)W,
                (int)W, 1.0, dA, (int)W, theta + off, (int)W, 0.0, dB,
                (int)W);
    const double *Dg = m->Dg + l * blk;
    for (size_t i = 0; i < n * W; i++) dB[i] *= Dg[i];
    double *s = dA;
    dA = dB;
    dB = s;
  }
  /* input layer and the time embedding */
  if (D > 0) {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)W, (int)D,
                (int)n, 1.0, dA, (int)W, X, (int)D, 1.0, grad + m->o_win,
                (int)D);
    if (gX)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)D,
                  (int)W, 1.0, dA, (int)W, theta + m->o_win, (int)D, 0.0, gX,
                  (int)D);
  }
  memset(m->dtemb, 0, W * sizeof(double));
  colsum_add(n, W, dA, m->dtemb);
  for (size_t j = 0; j < W; j++) grad[m->o_bin + j] += m->dtemb[j];
  /* temb = Wt2 zt1 + bt2 */
  cblas_dger(CblasRowMajor, (int)W, (int)W, 1.0, m->dtemb, 1, m->zt1, 1,
             grad + m->o_wt2, (int)W);
  for (size_t j = 0; j < W; j++) grad[m->o_bt2 + j] += m->dtemb[j];
  double *dz = m->dz;
  cblas_dgemv(CblasRowMajor, CblasTrans, (int)W, (int)W, 1.0,
              theta + m->o_wt2, (int)W, m->dtemb, 1, 0.0, dz, 1);
  for (size_t j = 0; j < W; j++) dz[j] *= m->dt1[j];
  /* zt1 = gelu(Wt1 feat + bt1) */
  cblas_dger(CblasRowMajor, (int)W, (int)(2 * F), 1.0, dz, 1, m->feat, 1,
             grad + m->o_wt1, (int)(2 * F));
  for (size_t j = 0; j < W; j++) grad[m->o_bt1 + j] += dz[j];
  /* feature cotangents, per frequency (sin and cos share the phase) */
  const double *Wt1 = theta + m->o_wt1;
  for (size_t j = 0; j < F; j++) {
    double gs = 0.0, gc = 0.0;
    for (size_t r = 0; r < W; r++) {
      gs += dz[r] * Wt1[r * 2 * F + j];
      gc += dz[r] * Wt1[r * 2 * F + F + j];
    }
    /* d sin(a)/d phi = cos(a), d cos(a)/d phi = -sin(a) */
    grad[m->o_phi + j] += gs * m->feat[F + j] - gc * m->feat[j];
  }
  return 0;
}

/* ---- optimization ---------------------------------------------------- */

struct pf_adam {
  size_t n;
  double b1, b2, eps;
  double *m, *v;
  long long t;
};

int pf_adam_create(size_t n, double beta1, double beta2, double eps,
                   pf_adam **out)
{
  *out = NULL;
  pf_adam *a = calloc(1, sizeof *a);
  PF_CHECK(a, PF_ENOMEM, "allocating Adam");
  a->n = n;
  a->b1 = beta1;
  a->b2 = beta2;
  a->eps = eps;
  a->m = pf_alloc_doubles(n ? n : 1);
  a->v = pf_alloc_doubles(n ? n : 1);
  if (!a->m || !a->v) {
    pf_adam_destroy(a);
    PF_CHECK(0, PF_ENOMEM, "allocating Adam moments (%zu)", n);
  }
  *out = a;
  return 0;
}

void pf_adam_destroy(pf_adam *a)
{
  if (!a) return;
  free(a->m);
  free(a->v);
  free(a);
}

void pf_adam_state(pf_adam *a, double **m, double **v, long long **t)
{
  *m = a->m;
  *v = a->v;
  *t = &a->t;
}

void pf_adam_step(pf_adam *a, double *theta, const double *g, double lr)
{
  a->t++;
  const double c1 = 1.0 - pow(a->b1, (double)a->t);
  const double c2 = 1.0 - pow(a->b2, (double)a->t);
  const double step = lr / c1, sc2 = sqrt(c2);
  for (size_t i = 0; i < a->n; i++) {
    a->m[i] = a->b1 * a->m[i] + (1.0 - a->b1) * g[i];
    a->v[i] = a->b2 * a->v[i] + (1.0 - a->b2) * g[i] * g[i];
    /* PyTorch's form: theta -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps) */
    theta[i] -= step * a->m[i] / (sqrt(a->v[i]) / sc2 + a->eps);
  }
}

double pf_grad_clip(size_t n, double *g, double max_norm)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += g[i] * g[i];
  double nrm = sqrt(s);
  if (max_norm > 0 && nrm > max_norm) {
    double f = max_norm / (nrm + 1e-6);
    for (size_t i = 0; i < n; i++) g[i] *= f;
  }
  return nrm;
}

void pf_ema_update(size_t n, double *ema, const double *theta, double decay)
{
  for (size_t i = 0; i < n; i++)
    ema[i] = decay * ema[i] + (1.0 - decay) * theta[i];
}

double pf_lr_schedule(double lr0, double lr_final, long long every,
                      long long step, long long n_steps)
{
  if (every <= 0 || lr_final == lr0 || n_steps <= 0) return lr0;
  /* gamma^(n_steps / every) = lr_final / lr0 */
  double gamma = pow(lr_final / lr0, (double)every / (double)n_steps);
  return lr0 * pow(gamma, (double)(step / every));
}
