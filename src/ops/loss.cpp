// Losses with mean reduction, element for element the formulas of PyTorch 1.13's CPU kernels
// (aten/src/ATen/native/Loss.cpp), in float, with the sum over elements taken in double.
//   BCELoss            https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html
//   BCEWithLogitsLoss  https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html
// Legend: n elements; p probabilities, x logits, t targets, dp / dx input gradients (all n);
// g = grad_out, the gradient of whatever consumes the (scalar) loss.
// The element counts are a batch's worth (N x 1 discriminator outputs): single-threaded loops.
#include "ops/loss.hpp"

#include <algorithm>
#include <cmath>

#include "dcgan/error.hpp"

namespace dcgan::ops {

namespace {

void check_inputs(const char* op, int64_t n, const float* v, const float* t,
                  bool v_is_probability) {
  DCGAN_CHECK(n > 0, "[{}] needs at least one element, got {}", op, n);
  for (int64_t k = 0; k < n; ++k) {
    // Written so that NaN fails too.
    if (v_is_probability && !(v[k] >= 0.f && v[k] <= 1.f))
      throw Error(
          fmt::format("[{}] input {} at index {} is not a probability in [0, 1]", op, v[k], k),
          "the discriminator's output must go through a Sigmoid; a NaN usually means "
          "training diverged (try a lower learning rate)");
    if (!(t[k] >= 0.f && t[k] <= 1.f))
      throw Error(fmt::format("[{}] target {} at index {} is not in [0, 1]", op, t[k], k));
  }
}

// BCE of one element: (t - 1) max(log1p(-p), -100) - t max(log p, -100), as PyTorch writes it.
inline float bce_elem(float p, float t) {
  return (t - 1.f) * std::max(std::log1p(-p), -100.f) - t * std::max(std::log(p), -100.f);
}

// BCE-with-logits of one element, PyTorch's stable form with m = max(-x, 0):
//   (1 - t) x + m + log(e^-m + e^(-x - m))
inline float bce_logits_elem(float x, float t) {
  const float m = std::max(-x, 0.f);
  return (1.f - t) * x + m + std::log(std::exp(-m) + std::exp(-x - m));
}

}  // namespace

float bce_forward(int64_t n, const float* p, const float* target) {
  check_inputs("bce", n, p, target, true);
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += bce_elem(p[k], target[k]);
  return static_cast<float>(sum / double(n));
}

void bce_backward(int64_t n, const float* p, const float* target, float grad_out, float* dp) {
  DCGAN_CHECK(n > 0, "[bce] needs at least one element, got {}", n);
  // dp = g (p - t) / max((1 - p) p, 1e-12) / n                            (assigned)
  const float fn = static_cast<float>(n), eps = 1e-12f;
  for (int64_t k = 0; k < n; ++k)
    dp[k] = grad_out * (p[k] - target[k]) / std::max((1.f - p[k]) * p[k], eps) / fn;
}

float bce_with_logits_forward(int64_t n, const float* x, const float* target) {
  check_inputs("bce_with_logits", n, x, target, false);
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += bce_logits_elem(x[k], target[k]);
  return static_cast<float>(sum / double(n));
}

void bce_with_logits_backward(int64_t n, const float* x, const float* target, float grad_out,
                              float* dx) {
  DCGAN_CHECK(n > 0, "[bce_with_logits] needs at least one element, got {}", n);
  // dx = (sigmoid(x) - t) g / n,  sigmoid(x) = 1 / (1 + e^-x)            (assigned)
  const float fn = static_cast<float>(n);
  for (int64_t k = 0; k < n; ++k) {
    const float s = 1.f / (1.f + std::exp(-x[k]));
    dx[k] = (s - target[k]) * grad_out / fn;
  }
}

}  // namespace dcgan::ops
