// CPU BatchNorm2d implementations (private to the library and its tests).
//   batchnorm_ref_*:  plain loops in double, the oracle (batchnorm_reference.cpp); templates
//                     instantiated for float and double so tests can check gradients in double.
//   batchnorm_fast_*: OpenMP, vectorised over pixels (NCHW) or over a channel block (nChw{b}c)
//                     (batchnorm_fast.cpp).
// Legend: N batch, C channels, HW = H*W, M = N*HW values per channel.
//   x, y, z, dy, dx (N, C, HW) in the layout g.block (dcgan/ops/layout.hpp); gamma, beta,
//   running_mean, running_var, save_mean, save_invstd, dgamma, dbeta (C); batch_mean, batch_var
//   (C, double). Same contract as dcgan/ops/batchnorm.hpp.
#pragma once

#include "ops/batchnorm.hpp"

namespace dcgan::ops::cpu {

// running = (1 - momentum) running + momentum new, var unbiased; in double, rounded once.
template <class T>
inline void batchnorm_running_update(int64_t C, int64_t M, double momentum, const double* mean,
                                     const double* var, T* running_mean, T* running_var) {
  const double m = double(M);
  for (int64_t c = 0; c < C; ++c) {
    running_mean[c] =
        static_cast<T>((1.0 - momentum) * double(running_mean[c]) + momentum * mean[c]);
    running_var[c] = static_cast<T>((1.0 - momentum) * double(running_var[c]) +
                                    momentum * var[c] * m / (m - 1.0));
  }
}

template <class T>
void batchnorm_ref_forward_train_stats(const BatchNormGeom& g, const T* x, const T* gamma,
                                       const T* beta, double eps, T* y, T* save_mean,
                                       T* save_invstd, double* batch_mean, double* batch_var,
                                       const BnAct& act);
// = forward_train_stats (no activation) + batchnorm_running_update.
template <class T>
void batchnorm_ref_forward_train(const BatchNormGeom& g, const T* x, const T* gamma, const T* beta,
                                 double eps, double momentum, T* running_mean, T* running_var, T* y,
                                 T* save_mean, T* save_invstd);
template <class T>
void batchnorm_ref_forward_eval(const BatchNormGeom& g, const T* x, const T* gamma, const T* beta,
                                double eps, const T* running_mean, const T* running_var, T* y,
                                const BnAct& act = {});
template <class T>
void batchnorm_ref_backward(const BatchNormGeom& g, const T* x, const T* dy, const T* gamma,
                            const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta,
                            const T* z = nullptr, const BnAct& act = {});

void batchnorm_fast_forward_train(const BatchNormGeom& g, const float* x, const float* gamma,
                                  const float* beta, float eps, float* y, float* save_mean,
                                  float* save_invstd, double* batch_mean, double* batch_var,
                                  const BnAct& act, const CrossSum* cross = nullptr,
                                  int64_t* count = nullptr);
void batchnorm_fast_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                                 const float* beta, float eps, const float* running_mean,
                                 const float* running_var, float* y, const BnAct& act);
void batchnorm_fast_backward(const BatchNormGeom& g, const float* x, const float* dy,
                             const float* gamma, const float* save_mean, const float* save_invstd,
                             float* dx, float* dgamma, float* dbeta, const float* z,
                             const BnAct& act, const CrossSum* cross = nullptr);

}  // namespace dcgan::ops::cpu
