// Reference BatchNorm2d: plain loops in double, two-pass statistics. Slow on purpose; the oracle
// for the fast path. https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
//
// Legend
//   N batch; C channels; HW = H*W; M = N*HW values per channel; n, c, i the loop indices.
//   x, y, z, dy, dx (N, C, HW), element (n, c, i) at act_offset(g.block, C, HW, n, c, i)
//   (NCHW: (n*C + c)*HW + i; nChw{b}c: see dcgan/ops/layout.hpp)
//   gamma, beta, running_mean, running_var, save_mean, save_invstd, dgamma, dbeta (C)
// A fused activation (BnAct) is applied as the separate layer would: to y rounded to T.
#include <cmath>
#include <vector>

#include "ops/cpu/batchnorm_cpu.hpp"
#include "ops/layout.hpp"

namespace dcgan::ops::cpu {

namespace {

using Acc = double;

inline int64_t at(const BatchNormGeom& g, int64_t n, int64_t c, int64_t i) {
  return act_offset(g.block, g.C, g.HW, n, c, i);
}

// sum over (n, i) of f(offset) for channel c.
template <class F>
Acc channel_sum(const BatchNormGeom& g, int64_t c, F&& f) {
  Acc s = 0;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t i = 0; i < g.HW; ++i) s += f(at(g, n, c, i));
  return s;
}

// z = act(y): relu max(y, 0); leaky_relu y > 0 ? y : slope y (NaN propagates).
template <class T>
T fused_act(const BnAct& a, T y) {
  if (!a.on) return y;
  const Acc v = y;
  if (std::isnan(v)) return y;
  return static_cast<T>(v > 0 ? v : (a.act == Act::relu ? 0.0 : Acc(a.slope) * v));
}

// dy = dz act'(y), act'(y) read off z: 1 if z > 0, else 0 (relu) or slope (leaky_relu).
template <class T>
Acc fused_dact(const BnAct& a, T z, T dz) {
  if (!a.on || Acc(z) > 0) return Acc(dz);
  return a.act == Act::relu ? 0.0 : Acc(a.slope) * Acc(dz);
}

}  // namespace

template <class T>
void batchnorm_ref_forward_train_stats(const BatchNormGeom& g, const T* x, const T* gamma,
                                       const T* beta, double eps, T* y, T* save_mean,
                                       T* save_invstd, double* batch_mean, double* batch_var,
                                       const BnAct& act) {
  const Acc M = Acc(g.N * g.HW);
  for (int64_t c = 0; c < g.C; ++c) {
    // mean = sum x / M;  var = sum (x - mean)^2 / M  (biased, used to normalise)
    const Acc mean = channel_sum(g, c, [&](int64_t k) { return Acc(x[k]); }) / M;
    const Acc var = channel_sum(g, c,
                                [&](int64_t k) {
                                  const Acc d = Acc(x[k]) - mean;
                                  return d * d;
                                }) /
                    M;
    const Acc invstd = 1.0 / std::sqrt(var + eps);
    // y = (x - mean) * invstd * gamma + beta;  z = act(y)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.HW; ++i) {
        const int64_t k = at(g, n, c, i);
        y[k] = fused_act(act, static_cast<T>((Acc(x[k]) - mean) * invstd * Acc(gamma[c]) +
                                             Acc(beta[c])));
      }
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    batch_mean[c] = mean;
    batch_var[c] = var;
  }
}

template <class T>
void batchnorm_ref_forward_train(const BatchNormGeom& g, const T* x, const T* gamma, const T* beta,
                                 double eps, double momentum, T* running_mean, T* running_var, T* y,
                                 T* save_mean, T* save_invstd) {
  std::vector<double> mean(g.C), var(g.C);
  batchnorm_ref_forward_train_stats(g, x, gamma, beta, eps, y, save_mean, save_invstd,
                                    mean.data(), var.data(), BnAct{});
  batchnorm_running_update(g.C, g.N * g.HW, momentum, mean.data(), var.data(), running_mean,
                           running_var);
}

template <class T>
void batchnorm_ref_forward_eval(const BatchNormGeom& g, const T* x, const T* gamma, const T* beta,
                                double eps, const T* running_mean, const T* running_var, T* y,
                                const BnAct& act) {
  for (int64_t c = 0; c < g.C; ++c) {
    // y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta;  z = act(y)
    const Acc invstd = 1.0 / std::sqrt(Acc(running_var[c]) + eps);
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.HW; ++i) {
        const int64_t k = at(g, n, c, i);
        y[k] = fused_act(act, static_cast<T>((Acc(x[k]) - Acc(running_mean[c])) * invstd *
                                                 Acc(gamma[c]) +
                                             Acc(beta[c])));
      }
  }
}

template <class T>
void batchnorm_ref_backward(const BatchNormGeom& g, const T* x, const T* dy, const T* gamma,
                            const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta,
                            const T* z, const BnAct& act) {
  const Acc M = Acc(g.N * g.HW);
  // The gradient w.r.t. BatchNorm's own output: dy, or dz act'(y) with a fused activation.
  auto dyv = [&](int64_t k) { return act.on ? fused_dact(act, z[k], dy[k]) : Acc(dy[k]); };
  for (int64_t c = 0; c < g.C; ++c) {
    const Acc mean = Acc(save_mean[c]), invstd = Acc(save_invstd[c]);
    auto xhat = [&](int64_t k) { return (Acc(x[k]) - mean) * invstd; };
    const Acc sum_dy = channel_sum(g, c, dyv);
    const Acc sum_dy_xhat = channel_sum(g, c, [&](int64_t k) { return dyv(k) * xhat(k); });
    // dbeta += sum dy;  dgamma += sum dy * xhat                         (accumulated)
    dbeta[c] = static_cast<T>(Acc(dbeta[c]) + sum_dy);
    dgamma[c] = static_cast<T>(Acc(dgamma[c]) + sum_dy_xhat);
    // dx = gamma * invstd / M * (M dy - sum dy - xhat * sum(dy xhat))    (assigned)
    if (!dx) continue;
    const Acc scale = Acc(gamma[c]) * invstd / M;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.HW; ++i) {
        const int64_t k = at(g, n, c, i);
        dx[k] = static_cast<T>(scale * (M * dyv(k) - sum_dy - xhat(k) * sum_dy_xhat));
      }
  }
}

#define DCGAN_INSTANTIATE(T)                                                                       \
  template void batchnorm_ref_forward_train_stats<T>(const BatchNormGeom&, const T*, const T*,     \
                                                     const T*, double, T*, T*, T*, double*,        \
                                                     double*, const BnAct&);                       \
  template void batchnorm_ref_forward_train<T>(const BatchNormGeom&, const T*, const T*, const T*, \
                                               double, double, T*, T*, T*, T*, T*);                \
  template void batchnorm_ref_forward_eval<T>(const BatchNormGeom&, const T*, const T*, const T*,  \
                                              double, const T*, const T*, T*, const BnAct&);       \
  template void batchnorm_ref_backward<T>(const BatchNormGeom&, const T*, const T*, const T*,      \
                                          const T*, const T*, T*, T*, T*, const T*, const BnAct&);
DCGAN_INSTANTIATE(float)
DCGAN_INSTANTIATE(double)
#undef DCGAN_INSTANTIATE

}  // namespace dcgan::ops::cpu
