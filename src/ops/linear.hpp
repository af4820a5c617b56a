// Linear: y = x W^T + b. https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
// x (N, in), W (out, in), b (out), y (N, out).
#pragma once
#include <cstdint>

#include "dcgan/ops/impl.hpp"

namespace dcgan::ops {

struct LinearGeom {
  int64_t N = 0, in = 0, out = 0;
  bool has_bias = true;
};

// y assigned.
void linear_forward(const LinearGeom& g, const float* x, const float* w, const float* b, float* y,
                    Impl impl);
// dx = dy W (assigned; skipped when dx is null). dW += dy^T x, db += sum_n dy (accumulated).
void linear_backward(const LinearGeom& g, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, Impl impl);

}  // namespace dcgan::ops
