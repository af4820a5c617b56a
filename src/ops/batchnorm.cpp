// BatchNorm2d: argument checks and dispatch. Kernels: src/ops/cpu/batchnorm_reference.cpp
// (plain loops in double, the oracle) and src/ops/cpu/batchnorm_fast.cpp (the fast path).
// https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
#include "ops/batchnorm.hpp"

#include <cmath>
#include <vector>

#include "dcgan/error.hpp"
#include "ops/cpu/batchnorm_cpu.hpp"

namespace dcgan::ops {

namespace {
void validate(const BatchNormGeom& g) {
  DCGAN_CHECK(g.N > 0 && g.C > 0 && g.HW > 0,
              "[batchnorm] sizes N={}, C={}, HW={} must be positive", g.N, g.C, g.HW);
  DCGAN_CHECK(g.block >= 0 && (g.block == 0 || g.C % g.block == 0),
              "[batchnorm] channel block {} does not divide C={}", g.block, g.C);
}
void validate(const BatchNormGeom& g, float eps) {
  validate(g);
  DCGAN_CHECK(eps >= 0 && std::isfinite(eps), "[batchnorm] eps must be finite and >= 0, got {}",
              eps);
}
}  // namespace

void check_bn_act(const BnAct& a) {
  if (!a.on) return;
  DCGAN_CHECK(a.act == Act::relu || (a.act == Act::leaky_relu && a.slope >= 0.f),
              "[batchnorm] only ReLU and LeakyReLU with a slope >= 0 can be fused (got act {}, "
              "slope {})",
              int(a.act), a.slope);
}

void batchnorm_forward_train_stats(const BatchNormGeom& g, const float* x, const float* gamma,
                                   const float* beta, float eps, float* y, float* save_mean,
                                   float* save_invstd, double* batch_mean, double* batch_var,
                                   const BnAct& act, Impl impl, const CrossSum* cross,
                                   int64_t* count) {
  validate(g, eps);
  DCGAN_CHECK(!cross || impl == Impl::fast, "[batchnorm] sync-BN (a CrossSum) runs on the fast path only");
  check_bn_act(act);
  // Same refusal as PyTorch: the unbiased variance needs two values.
  DCGAN_CHECK(g.N * g.HW > 1,
              "[batchnorm] training needs more than one value per channel, got N={} x HW={}", g.N,
              g.HW);
  switch (impl) {
    case Impl::reference:
      return cpu::batchnorm_ref_forward_train_stats(g, x, gamma, beta, double(eps), y, save_mean,
                                                    save_invstd, batch_mean, batch_var, act);
    case Impl::fast:
      return cpu::batchnorm_fast_forward_train(g, x, gamma, beta, eps, y, save_mean, save_invstd,
                                               batch_mean, batch_var, act, cross, count);
  }
  throw Error("[batchnorm] unknown implementation");
}

void batchnorm_update_running(int64_t C, int64_t M, float momentum, const double* batch_mean,
                              const double* batch_var, float* running_mean, float* running_var) {
  DCGAN_CHECK(C > 0 && M > 1, "[batchnorm] running update needs C > 0 and M > 1, got C={}, M={}",
              C, M);
  DCGAN_CHECK(momentum >= 0 && momentum <= 1, "[batchnorm] momentum must be in [0, 1], got {}",
              momentum);
  cpu::batchnorm_running_update(C, M, double(momentum), batch_mean, batch_var, running_mean,
                                running_var);
}

void batchnorm_forward_train(const BatchNormGeom& g, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd,
                             Impl impl) {
  DCGAN_CHECK(momentum >= 0 && momentum <= 1, "[batchnorm] momentum must be in [0, 1], got {}",
              momentum);
  std::vector<double> mean(size_t(std::max<int64_t>(g.C, 0))), var(mean.size());
  batchnorm_forward_train_stats(g, x, gamma, beta, eps, y, save_mean, save_invstd, mean.data(),
                                var.data(), BnAct{}, impl);
  batchnorm_update_running(g.C, g.N * g.HW, momentum, mean.data(), var.data(), running_mean,
                           running_var);
}

void batchnorm_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                            const float* beta, float eps, const float* running_mean,
                            const float* running_var, float* y, const BnAct& act, Impl impl) {
  validate(g, eps);
  check_bn_act(act);
  switch (impl) {
    case Impl::reference:
      return cpu::batchnorm_ref_forward_eval(g, x, gamma, beta, double(eps), running_mean,
                                             running_var, y, act);
    case Impl::fast:
      return cpu::batchnorm_fast_forward_eval(g, x, gamma, beta, eps, running_mean, running_var, y,
                                              act);
  }
  throw Error("[batchnorm] unknown implementation");
}

void batchnorm_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                            const float* beta, float eps, const float* running_mean,
                            const float* running_var, float* y, Impl impl) {
  batchnorm_forward_eval(g, x, gamma, beta, eps, running_mean, running_var, y, BnAct{}, impl);
}

void batchnorm_backward(const BatchNormGeom& g, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta, const float* z, const BnAct& act, Impl impl,
                        const CrossSum* cross) {
  validate(g);
  DCGAN_CHECK(!cross || impl == Impl::fast, "[batchnorm] sync-BN (a CrossSum) runs on the fast path only");
  check_bn_act(act);
  DCGAN_CHECK(!act.on || z, "[batchnorm] a fused activation's backward needs its output z");
  switch (impl) {
    case Impl::reference:
      return cpu::batchnorm_ref_backward(g, x, dy, gamma, save_mean, save_invstd, dx, dgamma,
                                         dbeta, z, act);
    case Impl::fast:
      return cpu::batchnorm_fast_backward(g, x, dy, gamma, save_mean, save_invstd, dx, dgamma,
                                          dbeta, z, act, cross);
  }
  throw Error("[batchnorm] unknown implementation");
}

void batchnorm_backward(const BatchNormGeom& g, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta, Impl impl) {
  batchnorm_backward(g, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, nullptr, BnAct{},
                     impl);
}

}  // namespace dcgan::ops
