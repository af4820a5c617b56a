// BatchNorm2d. https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
// x, y (N, C, HW) viewed as NCHW with HW = H*W; gamma, beta, running_mean, running_var (C).
// Train mode: normalise with the batch mean and the *biased* variance; update
//   running_mean = (1 - momentum) running_mean + momentum * mean
//   running_var  = (1 - momentum) running_var  + momentum * var * M / (M - 1),  M = N*HW (unbiased)
// Eval mode: normalise with running_mean / running_var.
#pragma once
#include <cstdint>

#include "dcgan/ops/impl.hpp"

namespace dcgan::ops {

struct BatchNormGeom {
  int64_t N = 0, C = 0, HW = 0;
};

// y assigned; save_mean, save_invstd (C) written for backward (invstd = 1/sqrt(var_biased + eps));
// running stats updated in place.
void batchnorm_forward_train(const BatchNormGeom& g, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd,
                             Impl impl);
// y assigned.
void batchnorm_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                            const float* beta, float eps, const float* running_mean,
                            const float* running_var, float* y, Impl impl);
// Train-mode backward. xhat = (x - mean) * invstd, M = N*HW:
//   dbeta  += sum dy;  dgamma += sum dy * xhat
//   dx = gamma * invstd / M * (M dy - sum dy - xhat sum(dy xhat))          (assigned; skip if null)
void batchnorm_backward(const BatchNormGeom& g, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta, Impl impl);

}  // namespace dcgan::ops
