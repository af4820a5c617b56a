// BatchNorm2d. https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
// x, y (N, C, HW) with HW = H*W, stored as NCHW or as oneDNN's nChw{b}c (BatchNormGeom::block,
// see dcgan/ops/layout.hpp); gamma, beta, running_mean, running_var (C).
// Train mode: normalise with the batch mean and the *biased* variance; update
//   running_mean = (1 - momentum) running_mean + momentum * mean
//   running_var  = (1 - momentum) running_var  + momentum * var * M / (M - 1),  M = N*HW (unbiased)
// Eval mode: normalise with running_mean / running_var.
#pragma once
#include <cstdint>
#include <functional>

#include "dcgan/ops/impl.hpp"
#include "ops/activation.hpp"

namespace dcgan::ops {

struct BatchNormGeom {
  int64_t N = 0, C = 0, HW = 0;
  int block = 0;  // 0: NCHW; b > 0: nChw{b}c, (N, C/b, HW, b), needs C % b == 0 (layout.hpp)
};

// An activation fused into BatchNorm's passes (one pass over memory instead of two):
//   forward writes z = act(y) in place of y;
//   backward takes dz (the gradient w.r.t. z) and z (the forward's output) and differentiates
//   through act first: dy = dz act'(y), with act'(y) read off z's sign (z > 0 iff y > 0).
// Only relu and leaky_relu with slope >= 0, for which that sign rule holds.
struct BnAct {
  bool on = false;
  Act act = Act::relu;
  float slope = 0.f;
};
// Sync-BN (data-parallel training over processes, dist/): sums per-channel partial sums over all
// processes of the job, in place (n doubles); every process calls it at the same points. Given to
// the train-mode passes below, it makes the statistics those of the job's whole batch: the
// forward pass normalises with the job's mean and variance (count = the job's values per channel),
// and backward's dx uses the job's sums of dy and dy xhat, while dgamma and dbeta stay this
// process's own (they are summed with the other parameter gradients). Fast path only.
using CrossSum = std::function<void(double* data, int64_t n)>;

// Throws dcgan::Error for an activation that cannot be fused.
void check_bn_act(const BnAct& a);

// Train-mode forward without the running-statistics update. y assigned (z when act.on);
// save_mean, save_invstd (C) written for backward (invstd = 1/sqrt(var_biased + eps));
// batch_mean, batch_var (C, double, var biased) written for batchnorm_update_running.
// With `cross` (CrossSum above), `count` receives the job's values per channel.
void batchnorm_forward_train_stats(const BatchNormGeom& g, const float* x, const float* gamma,
                                   const float* beta, float eps, float* y, float* save_mean,
                                   float* save_invstd, double* batch_mean, double* batch_var,
                                   const BnAct& act, Impl impl, const CrossSum* cross = nullptr,
                                   int64_t* count = nullptr);
// The running-statistics update from one batch's statistics (M = N*HW values per channel), in
// double, rounded once to float; the only place it is computed, so a replayed update
// (BatchNorm2d::apply_running_update) equals the one the forward pass makes.
void batchnorm_update_running(int64_t C, int64_t M, float momentum, const double* batch_mean,
                              const double* batch_var, float* running_mean, float* running_var);
// Train-mode forward: batchnorm_forward_train_stats (no activation) + batchnorm_update_running.
void batchnorm_forward_train(const BatchNormGeom& g, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd,
                             Impl impl);
// y assigned (z when act.on).
void batchnorm_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                            const float* beta, float eps, const float* running_mean,
                            const float* running_var, float* y, const BnAct& act, Impl impl);
void batchnorm_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                            const float* beta, float eps, const float* running_mean,
                            const float* running_var, float* y, Impl impl);
// Train-mode backward. xhat = (x - mean) * invstd, M = N*HW:
//   dbeta  += sum dy;  dgamma += sum dy * xhat
//   dx = gamma * invstd / M * (M dy - sum dy - xhat sum(dy xhat))          (assigned; skip if null)
// With act.on, dy is dz act'(y) (see BnAct) and z is the forward's output; else z is unused.
void batchnorm_backward(const BatchNormGeom& g, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta, const float* z, const BnAct& act, Impl impl,
                        const CrossSum* cross = nullptr);
void batchnorm_backward(const BatchNormGeom& g, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta, Impl impl);

}  // namespace dcgan::ops
