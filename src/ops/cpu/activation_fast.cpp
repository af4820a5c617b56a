// Fast activations: OpenMP parallel-for-simd loops in float, one per function, the same formulas
// as PyTorch's CPU kernels (sigmoid = 1 / (1 + exp(-x))). tanh is Cephes' tanhf algorithm,
// 8 lanes at a time with AVX2 (the C library's tanhf costs ~10 ns per element, and a generator's
// output is up to 128 x 3 x 64 x 64 of them per pass): relative error about 1.3e-7, i.e. within
// an ulp or two, like PyTorch's vectorised SLEEF tanh.
//   https://pytorch.org/docs/stable/nn.html#non-linear-activations-weighted-sum-nonlinearity
// Legend: n elements; x input, y output, dy output gradient, dx input gradient (all n).
// Every iteration reads element k before writing it, so y may alias x and dx may alias dy.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "ops/cpu/activation_cpu.hpp"

namespace dcgan::ops::cpu {

namespace {
// Below this many elements one thread is faster than waking a team.
constexpr int64_t kParallelMin = 1 << 15;

// c ? a : b picked with integer masks. Written as `c ? v : v * slope`, GCC keeps a branch (the
// multiply in one arm may trap under -ftrapping-math, so it is not if-converted) and the loop
// neither vectorises nor predicts: random signs cost ~10 ns per element.
inline float select(bool c, float a, float b) {
  const uint32_t m = c ? ~0u : 0u;
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & m) | (std::bit_cast<uint32_t>(b) & ~m));
}
// ---- tanh (Cephes tanhf) --------------------------------------------------------------------
//   |x| <= 0.625:  tanh x = x + x z P(z),  z = x^2, P of degree 4
//   |x| >  0.625:  tanh x = sign(x) (1 - 2 / (e^{2|x|} + 1)),  |x| clamped to 9 (tanh rounds to 1)
// e^t (Cephes expf, t in [1.25, 18]): n = floor(t log2(e) + 1/2), r = t - n ln2 (ln2 in two
// parts), e^r = 1 + r + r^2 Q(r) with Q of degree 5, times 2^n through the exponent bits.
// The scalar and the 8-lane versions round identically (the same fused multiply-adds), so a
// result does not depend on an element's position.
namespace tanh_c {
constexpr float kSmall = 0.625f, kClamp = 9.f;
constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float Q0 = 1.9875691500e-4f, Q1 = 1.3981999507e-3f, Q2 = 8.3334519073e-3f,
                Q3 = 4.1665795894e-2f, Q4 = 1.6666665459e-1f, Q5 = 5.0000001201e-1f;
constexpr float P0 = -5.70498872745e-3f, P1 = 2.06390887954e-2f, P2 = -5.37397155531e-2f,
                P3 = 1.33314422036e-1f, P4 = -3.33332819422e-1f;
}  // namespace tanh_c

inline float tanh_scalar(float x) {
  using namespace tanh_c;
  const float ax = std::fabs(x);
  if (!(ax > kSmall)) {  // also NaN: propagates through the polynomial
    const float z = x * x;
    float p = std::fma(P0, z, P1);
    p = std::fma(p, z, P2);
    p = std::fma(p, z, P3);
    p = std::fma(p, z, P4);
    return std::fma(p * z, x, x);
  }
  const float t = 2.f * std::fmin(ax, kClamp);
  const float n = std::floor(std::fma(t, kLog2e, 0.5f));
  float r = std::fma(-n, kLn2Hi, t);
  r = std::fma(-n, kLn2Lo, r);
  float q = std::fma(Q0, r, Q1);
  q = std::fma(q, r, Q2);
  q = std::fma(q, r, Q3);
  q = std::fma(q, r, Q4);
  q = std::fma(q, r, Q5);
  const float er = std::fma(q, r * r, r) + 1.f;
  const float e = er * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  const float v = 1.f - 2.f / (e + 1.f);
  return std::copysign(v, x);
}

#if defined(__AVX2__) && defined(__FMA__)
inline __m256 tanh8(__m256 x) {
  using namespace tanh_c;
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  // Small branch.
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(P0), z, _mm256_set1_ps(P1));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(P2));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(P3));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(P4));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  // Large branch.
  const __m256 t = _mm256_mul_ps(_mm256_set1_ps(2.f), _mm256_min_ps(ax, _mm256_set1_ps(kClamp)));
  const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(t, _mm256_set1_ps(kLog2e), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), t);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(Q0), r, _mm256_set1_ps(Q1));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(Q2));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(Q3));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(Q4));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(Q5));
  const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.f));
  const __m256i bits = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 e = _mm256_mul_ps(er, _mm256_castsi256_ps(bits));
  const __m256 v = _mm256_sub_ps(_mm256_set1_ps(1.f),
                                 _mm256_div_ps(_mm256_set1_ps(2.f), _mm256_add_ps(e, _mm256_set1_ps(1.f))));
  const __m256 large = _mm256_or_ps(v, _mm256_and_ps(sign, x));  // copysign (v >= 0)
  return _mm256_blendv_ps(small, large, _mm256_cmp_ps(ax, _mm256_set1_ps(kSmall), _CMP_GT_OQ));
}
#endif

// y = tanh(x) over [0, n).
void tanh_range(int64_t n, const float* x, float* y) {
  int64_t k = 0;
#if defined(__AVX2__) && defined(__FMA__)
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, tanh8(_mm256_loadu_ps(x + k)));
#endif
  for (; k < n; ++k) y[k] = tanh_scalar(x[k]);
}

}  // namespace

#define DCGAN_ELEMENTWISE _Pragma("omp parallel for simd schedule(static) if (n >= kParallelMin)")

void activation_fast_forward(Act act, float slope, int64_t n, const float* x, float* y) {
  switch (act) {
    case Act::relu:  // max(x, 0), keeping NaN
      DCGAN_ELEMENTWISE
      for (int64_t k = 0; k < n; ++k) {
        const float v = x[k];
        y[k] = v < 0.f ? 0.f : v;
      }
      return;
    case Act::leaky_relu:  // x > 0 ? x : a x
      DCGAN_ELEMENTWISE
      for (int64_t k = 0; k < n; ++k) {
        const float v = x[k];
        y[k] = v * select(v > 0.f, 1.f, slope);  // v * 1 == v exactly
      }
      return;
    case Act::tanh: {
      // Blocks of 1024 (a multiple of 8) split over the threads.
      constexpr int64_t kBlock = 1024;
      const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t k0 = b * kBlock;
        tanh_range(std::min(kBlock, n - k0), x + k0, y + k0);
      }
      return;
    }
    case Act::sigmoid:  // 1 / (1 + e^-x)
      DCGAN_ELEMENTWISE
      for (int64_t k = 0; k < n; ++k) y[k] = 1.f / (1.f + std::exp(-x[k]));
      return;
  }
}

void activation_fast_backward(Act act, float slope, int64_t n, const float* x, const float* y,
                              const float* dy, float* dx) {
  switch (act) {
    case Act::relu:  // dx = dy [x > 0]
      DCGAN_ELEMENTWISE
      for (int64_t k = 0; k < n; ++k) dx[k] = x[k] > 0.f ? dy[k] : 0.f;
      return;
    case Act::leaky_relu:  // dx = dy (x > 0 ? 1 : a)
      DCGAN_ELEMENTWISE
      for (int64_t k = 0; k < n; ++k) dx[k] = dy[k] * select(x[k] > 0.f, 1.f, slope);
      return;
    case Act::tanh:  // dx = dy (1 - y^2)
      DCGAN_ELEMENTWISE
      for (int64_t k = 0; k < n; ++k) dx[k] = dy[k] * (1.f - y[k] * y[k]);
      return;
    case Act::sigmoid:  // dx = dy y (1 - y), in PyTorch's order dy (1 - y) y
      DCGAN_ELEMENTWISE
      for (int64_t k = 0; k < n; ++k) dx[k] = dy[k] * (1.f - y[k]) * y[k];
      return;
  }
}

#undef DCGAN_ELEMENTWISE

}  // namespace dcgan::ops::cpu
