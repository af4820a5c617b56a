// Element-wise activations. https://pytorch.org/docs/stable/nn.html#non-linear-activations-weighted-sum-nonlinearity
//   relu(x) = max(x, 0);                 d/dx = x > 0
//   leaky_relu(x) = x > 0 ? x : a x;      d/dx = x > 0 ? 1 : a
//   tanh(x);                             d/dx = 1 - y^2
//   sigmoid(x) = 1 / (1 + e^-x);         d/dx = y (1 - y)
#pragma once
#include <cstdint>

#include "dcgan/ops/impl.hpp"

namespace dcgan::ops {

enum class Act { relu, leaky_relu, tanh, sigmoid };

// y assigned (y may alias x).
void activation_forward(Act act, float slope, int64_t n, const float* x, float* y, Impl impl);
// dx assigned (dx may alias dy). x is the forward input, y the forward output.
void activation_backward(Act act, float slope, int64_t n, const float* x, const float* y,
                         const float* dy, float* dx, Impl impl);

}  // namespace dcgan::ops
