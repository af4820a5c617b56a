// CPU BatchNorm2d implementations (private to the library and its tests).
//   batchnorm_ref_*:  plain loops in double, the oracle (batchnorm_reference.cpp); templates
//                     instantiated for float and double so tests can check gradients in double.
//   batchnorm_fast_*: OpenMP over channels, vectorised inner loops (batchnorm_fast.cpp).
// Legend: N batch, C channels, HW = H*W, M = N*HW values per channel.
//   x, y, dy, dx (N, C, HW); gamma, beta, running_mean, running_var, save_mean, save_invstd,
//   dgamma, dbeta (C). Same contract as dcgan/ops/batchnorm.hpp.
#pragma once

#include "dcgan/ops/batchnorm.hpp"

namespace dcgan::ops::cpu {

template <class T>
void batchnorm_ref_forward_train(const BatchNormGeom& g, const T* x, const T* gamma, const T* beta,
                                 double eps, double momentum, T* running_mean, T* running_var, T* y,
                                 T* save_mean, T* save_invstd);
template <class T>
void batchnorm_ref_forward_eval(const BatchNormGeom& g, const T* x, const T* gamma, const T* beta,
                                double eps, const T* running_mean, const T* running_var, T* y);
template <class T>
void batchnorm_ref_backward(const BatchNormGeom& g, const T* x, const T* dy, const T* gamma,
                            const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta);

void batchnorm_fast_forward_train(const BatchNormGeom& g, const float* x, const float* gamma,
                                  const float* beta, float eps, float momentum, float* running_mean,
                                  float* running_var, float* y, float* save_mean,
                                  float* save_invstd);
void batchnorm_fast_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                                 const float* beta, float eps, const float* running_mean,
                                 const float* running_var, float* y);
void batchnorm_fast_backward(const BatchNormGeom& g, const float* x, const float* dy,
                             const float* gamma, const float* save_mean, const float* save_invstd,
                             float* dx, float* dgamma, float* dbeta);

}  // namespace dcgan::ops::cpu
