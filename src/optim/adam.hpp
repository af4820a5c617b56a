// Adam exactly as PyTorch 1.13's single-tensor path (torch/optim/adam.py, _single_tensor_adam):
//   t += 1
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   step_size = lr / (1 - beta1^t)                      (double, as Python computes it)
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps           (float32 element-wise)
//   p -= step_size * m / denom
// Over one flat parameter buffer: a network's parameters, gradients and both moments share one layout.
#pragma once
#include <cstdint>

#include "dcgan/ops/impl.hpp"
#include "dcgan/optim/adam_options.hpp"
#include "dcgan/tensor.hpp"

namespace dcgan {


class Adam {
 public:
  Adam() = default;
  Adam(int64_t n, AdamOptions opt);
  // params, grads: n floats each.
  void step(float* params, const float* grads, ops::Impl impl = ops::Impl::fast);

  AdamOptions options;
  int64_t t = 0;      // steps taken
  Tensor exp_avg;     // (n) first moment
  Tensor exp_avg_sq;  // (n) second moment
};

}  // namespace dcgan
