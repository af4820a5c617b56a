// CPU element-wise activations (private to the library and its tests).
//   activation_ref_*:  plain loops evaluated in double, the oracle (activation_reference.cpp);
//                      templates instantiated for float and double for gradient checks.
//   activation_fast_*: OpenMP parallel-for-simd loops in float (activation_fast.cpp).
// x, y, dy, dx: n elements, any shape. Same contract as dcgan/ops/activation.hpp (y may alias x,
// dx may alias dy).
#pragma once
#include <cstdint>

#include "ops/activation.hpp"

namespace dcgan::ops::cpu {

template <class T>
void activation_ref_forward(Act act, double slope, int64_t n, const T* x, T* y);
template <class T>
void activation_ref_backward(Act act, double slope, int64_t n, const T* x, const T* y, const T* dy,
                             T* dx);

void activation_fast_forward(Act act, float slope, int64_t n, const float* x, float* y);
void activation_fast_backward(Act act, float slope, int64_t n, const float* x, const float* y,
                              const float* dy, float* dx);

}  // namespace dcgan::ops::cpu
