// Fast BatchNorm2d: OpenMP over channels, vectorisable inner loops over one (n, c) plane.
// https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
//
// Legend
//   N batch; C channels; HW = H*W; M = N*HW values per channel; n, c, i the loop indices.
//   x, y, dy, dx (N, C, HW): plane (n, c) starts at (n*C + c)*HW and has HW contiguous floats.
//   gamma, beta, running_mean, running_var, save_mean, save_invstd, dgamma, dbeta (C)
//
// Statistics take one pass, accumulated in double on values shifted by K, one sample of the
// channel:  s1 = sum (x - K),  s2 = sum (x - K)^2,  mean = K + s1/M,  var = s2/M - (s1/M)^2.
// The shift keeps (mean - K)^2 comparable to var, so the subtraction loses a few bits of double's
// 53, never float's 24 (the naive sum x^2 / M - mean^2 cancels catastrophically when
// |mean| >> std). A channel's planes are then normalised while still in cache.
#include <algorithm>
#include <cmath>

#include "ops/cpu/batchnorm_cpu.hpp"

namespace dcgan::ops::cpu {

namespace {

// Below this many elements one thread is faster than waking a team.
constexpr int64_t kParallelMin = 1 << 14;

inline int64_t plane(const BatchNormGeom& g, int64_t n, int64_t c) { return (n * g.C + c) * g.HW; }

}  // namespace

void batchnorm_fast_forward_train(const BatchNormGeom& g, const float* x, const float* gamma,
                                  const float* beta, float eps, float momentum, float* running_mean,
                                  float* running_var, float* y, float* save_mean,
                                  float* save_invstd) {
  const int64_t N = g.N, C = g.C, HW = g.HW;
  const double M = double(N * HW);
#pragma omp parallel for schedule(static) if (C > 1 && N * C * HW >= kParallelMin)
  for (int64_t c = 0; c < C; ++c) {
    // Shifted one-pass sums (see the file comment).
    const double K = x[plane(g, 0, c)];
    double s1 = 0, s2 = 0;
    for (int64_t n = 0; n < N; ++n) {
      const float* xp = x + plane(g, n, c);
#pragma omp simd reduction(+ : s1, s2)
      for (int64_t i = 0; i < HW; ++i) {
        const double d = double(xp[i]) - K;
        s1 += d;
        s2 += d * d;
      }
    }
    const double dm = s1 / M;
    const double var = std::max(s2 / M - dm * dm, 0.0);  // biased, used to normalise
    const double mean = K + dm;
    const double invstd = 1.0 / std::sqrt(var + double(eps));

    // y = (x - mean) * invstd * gamma + beta = (x - m) * a + b, with m = float(mean) and the
    // rounding residual mean - m folded into b so that it costs no accuracy.
    const double a = double(gamma[c]) * invstd;
    const float m = static_cast<float>(mean);
    const float fa = static_cast<float>(a);
    const float fb = static_cast<float>(double(beta[c]) - (mean - double(m)) * a);
    for (int64_t n = 0; n < N; ++n) {
      const float* xp = x + plane(g, n, c);
      float* yp = y + plane(g, n, c);
#pragma omp simd
      for (int64_t i = 0; i < HW; ++i) yp[i] = std::fma(xp[i] - m, fa, fb);
    }

    save_mean[c] = m;
    save_invstd[c] = static_cast<float>(invstd);
    // running = (1 - momentum) running + momentum * new, with the unbiased variance var M/(M-1)
    const double mom = momentum;
    running_mean[c] = static_cast<float>((1.0 - mom) * double(running_mean[c]) + mom * mean);
    running_var[c] =
        static_cast<float>((1.0 - mom) * double(running_var[c]) + mom * var * M / (M - 1.0));
  }
}

void batchnorm_fast_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                                 const float* beta, float eps, const float* running_mean,
                                 const float* running_var, float* y) {
  const int64_t N = g.N, C = g.C, HW = g.HW;
#pragma omp parallel for collapse(2) schedule(static) if (N * C * HW >= kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      // y = (x - running_mean) * a + beta,  a = gamma / sqrt(running_var + eps)
      const float fa =
          static_cast<float>(double(gamma[c]) / std::sqrt(double(running_var[c]) + double(eps)));
      const float m = running_mean[c], b = beta[c];
      const float* xp = x + plane(g, n, c);
      float* yp = y + plane(g, n, c);
#pragma omp simd
      for (int64_t i = 0; i < HW; ++i) yp[i] = std::fma(xp[i] - m, fa, b);
    }
}

void batchnorm_fast_backward(const BatchNormGeom& g, const float* x, const float* dy,
                             const float* gamma, const float* save_mean, const float* save_invstd,
                             float* dx, float* dgamma, float* dbeta) {
  const int64_t N = g.N, C = g.C, HW = g.HW;
  const double M = double(N * HW);
#pragma omp parallel for schedule(static) if (C > 1 && N * C * HW >= kParallelMin)
  for (int64_t c = 0; c < C; ++c) {
    const float m = save_mean[c];
    const double invstd = save_invstd[c];
    // sdy = sum dy;  sdyx = sum dy (x - mean) = sum(dy xhat) / invstd
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; ++n) {
      const float* xp = x + plane(g, n, c);
      const float* dp = dy + plane(g, n, c);
#pragma omp simd reduction(+ : sdy, sdyx)
      for (int64_t i = 0; i < HW; ++i) {
        const double d = dp[i];
        sdy += d;
        sdyx += d * (double(xp[i]) - double(m));
      }
    }
    // dbeta += sum dy;  dgamma += sum dy * xhat                        (accumulated)
    dbeta[c] = static_cast<float>(double(dbeta[c]) + sdy);
    dgamma[c] = static_cast<float>(double(dgamma[c]) + sdyx * invstd);
    if (!dx) continue;
    // dx = gamma invstd / M (M dy - sum dy - xhat sum(dy xhat))         (assigned)
    //    = a dy + b (x - mean) + k,  a = gamma invstd,  b = -a invstd^2 sdyx / M,  k = -a sdy / M
    const double a = double(gamma[c]) * invstd;
    const float fa = static_cast<float>(a);
    const float fb = static_cast<float>(-a * invstd * invstd * sdyx / M);
    const float fk = static_cast<float>(-a * sdy / M);
    for (int64_t n = 0; n < N; ++n) {
      const float* xp = x + plane(g, n, c);
      const float* dp = dy + plane(g, n, c);
      float* op = dx + plane(g, n, c);
#pragma omp simd
      for (int64_t i = 0; i < HW; ++i) op[i] = std::fma(fa, dp[i], std::fma(fb, xp[i] - m, fk));
    }
  }
}

}  // namespace dcgan::ops::cpu
