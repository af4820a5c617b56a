// BatchNorm2d: argument checks and dispatch. Kernels: src/ops/cpu/batchnorm_reference.cpp
// (plain loops in double, the oracle) and src/ops/cpu/batchnorm_fast.cpp (the fast path).
// https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
#include "dcgan/ops/batchnorm.hpp"

#include <cmath>

#include "dcgan/error.hpp"
#include "ops/cpu/batchnorm_cpu.hpp"

namespace dcgan::ops {

namespace {
void validate(const BatchNormGeom& g, float eps) {
  DCGAN_CHECK(g.N > 0 && g.C > 0 && g.HW > 0,
              "[batchnorm] sizes N={}, C={}, HW={} must be positive", g.N, g.C, g.HW);
  DCGAN_CHECK(eps >= 0 && std::isfinite(eps), "[batchnorm] eps must be finite and >= 0, got {}",
              eps);
}
}  // namespace

void batchnorm_forward_train(const BatchNormGeom& g, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd,
                             Impl impl) {
  validate(g, eps);
  // Same refusal as PyTorch: the unbiased variance needs two values.
  DCGAN_CHECK(g.N * g.HW > 1,
              "[batchnorm] training needs more than one value per channel, got N={} x HW={}", g.N,
              g.HW);
  DCGAN_CHECK(momentum >= 0 && momentum <= 1, "[batchnorm] momentum must be in [0, 1], got {}",
              momentum);
  switch (impl) {
    case Impl::reference:
      return cpu::batchnorm_ref_forward_train(g, x, gamma, beta, double(eps), double(momentum),
                                              running_mean, running_var, y, save_mean, save_invstd);
    case Impl::fast:
      return cpu::batchnorm_fast_forward_train(g, x, gamma, beta, eps, momentum, running_mean,
                                               running_var, y, save_mean, save_invstd);
  }
  throw Error("[batchnorm] unknown implementation");
}

void batchnorm_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                            const float* beta, float eps, const float* running_mean,
                            const float* running_var, float* y, Impl impl) {
  validate(g, eps);
  switch (impl) {
    case Impl::reference:
      return cpu::batchnorm_ref_forward_eval(g, x, gamma, beta, double(eps), running_mean,
                                             running_var, y);
    case Impl::fast:
      return cpu::batchnorm_fast_forward_eval(g, x, gamma, beta, eps, running_mean, running_var, y);
  }
  throw Error("[batchnorm] unknown implementation");
}

void batchnorm_backward(const BatchNormGeom& g, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta, Impl impl) {
  DCGAN_CHECK(g.N > 0 && g.C > 0 && g.HW > 0,
              "[batchnorm] sizes N={}, C={}, HW={} must be positive", g.N, g.C, g.HW);
  switch (impl) {
    case Impl::reference:
      return cpu::batchnorm_ref_backward(g, x, dy, gamma, save_mean, save_invstd, dx, dgamma,
                                         dbeta);
    case Impl::fast:
      return cpu::batchnorm_fast_backward(g, x, dy, gamma, save_mean, save_invstd, dx, dgamma,
                                          dbeta);
  }
  throw Error("[batchnorm] unknown implementation");
}

}  // namespace dcgan::ops
