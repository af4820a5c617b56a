// Fast activations: OpenMP parallel-for-simd loops in float, one per function, the same formulas
// as PyTorch's CPU kernels (sigmoid = 1 / (1 + exp(-x)); tanh from the C library, within an ulp
// or two of PyTorch's vectorised SLEEF tanh).
//   https://pytorch.org/docs/stable/nn.html#non-linear-activations-weighted-sum-nonlinearity
// Legend: n elements; x input, y output, dy output gradient, dx input gradient (all n).
// Every iteration reads element k before writing it, so y may alias x and dx may alias dy.
#include <bit>
#include <cmath>
#include <cstdint>

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
    case Act::tanh:
      DCGAN_ELEMENTWISE
      for (int64_t k = 0; k < n; ++k) y[k] = std::tanh(x[k]);
      return;
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
