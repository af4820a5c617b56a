// CPU Linear implementations (private to the library and its tests).
//   linear_ref_*:  plain loops summed in double, the oracle (linear_reference.cpp); templates
//                  instantiated for float and double so tests can check gradients in double.
//   linear_blas_*: cblas_sgemm on row / column blocks split across OpenMP threads; BLAS itself
//                  is kept single-threaded (dcgan::set_num_threads) (linear_blas.cpp).
// Legend: N batch, in / out features. x (N, in), w (out, in), b (out), y (N, out).
// Same contract as dcgan/ops/linear.hpp: y, dx assigned; dw, db accumulated; a null dx, dw or
// db (or b / db when !g.has_bias) is skipped.
#pragma once

#include "ops/linear.hpp"

namespace dcgan::ops::cpu {

template <class T>
void linear_ref_forward(const LinearGeom& g, const T* x, const T* w, const T* b, T* y);
template <class T>
void linear_ref_backward(const LinearGeom& g, const T* x, const T* w, const T* dy, T* dx, T* dw,
                         T* db);

void linear_blas_forward(const LinearGeom& g, const float* x, const float* w, const float* b,
                         float* y);
void linear_blas_backward(const LinearGeom& g, const float* x, const float* w, const float* dy,
                          float* dx, float* dw, float* db);

}  // namespace dcgan::ops::cpu
