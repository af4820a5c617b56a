// Reference Linear: plain loops written straight from the definition, summed in double.
// Slow on purpose; the oracle for the BLAS path.
// https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
//
// Legend
//   N batch; in, out features; n, i, o the matching loop indices.
//   x (N, in)  w (out, in)  b (out)  y, dy (N, out)  dx (N, in)  dw (out, in)  db (out)
#include "ops/cpu/linear_cpu.hpp"

namespace dcgan::ops::cpu {

namespace {
using Acc = double;
}  // namespace

template <class T>
void linear_ref_forward(const LinearGeom& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t N = g.N, In = g.in, Out = g.out;
  // y[n,o] = b[o] + sum_i x[n,i] w[o,i]
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < Out; ++o) {
      Acc acc = (g.has_bias && b) ? Acc(b[o]) : Acc(0);
      for (int64_t i = 0; i < In; ++i) acc += Acc(x[n * In + i]) * Acc(w[o * In + i]);
      y[n * Out + o] = static_cast<T>(acc);
    }
}

template <class T>
void linear_ref_backward(const LinearGeom& g, const T* x, const T* w, const T* dy, T* dx, T* dw,
                         T* db) {
  const int64_t N = g.N, In = g.in, Out = g.out;
  // dx[n,i] = sum_o dy[n,o] w[o,i]                                     (assigned)
  if (dx)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < In; ++i) {
        Acc acc = 0;
        for (int64_t o = 0; o < Out; ++o) acc += Acc(dy[n * Out + o]) * Acc(w[o * In + i]);
        dx[n * In + i] = static_cast<T>(acc);
      }
  // dw[o,i] += sum_n dy[n,o] x[n,i]                                    (accumulated)
  if (dw)
    for (int64_t o = 0; o < Out; ++o)
      for (int64_t i = 0; i < In; ++i) {
        Acc acc = Acc(dw[o * In + i]);
        for (int64_t n = 0; n < N; ++n) acc += Acc(dy[n * Out + o]) * Acc(x[n * In + i]);
        dw[o * In + i] = static_cast<T>(acc);
      }
  // db[o] += sum_n dy[n,o]                                             (accumulated)
  if (g.has_bias && db)
    for (int64_t o = 0; o < Out; ++o) {
      Acc acc = Acc(db[o]);
      for (int64_t n = 0; n < N; ++n) acc += Acc(dy[n * Out + o]);
      db[o] = static_cast<T>(acc);
    }
}

template void linear_ref_forward<float>(const LinearGeom&, const float*, const float*, const float*,
                                        float*);
template void linear_ref_forward<double>(const LinearGeom&, const double*, const double*,
                                         const double*, double*);
template void linear_ref_backward<float>(const LinearGeom&, const float*, const float*,
                                         const float*, float*, float*, float*);
template void linear_ref_backward<double>(const LinearGeom&, const double*, const double*,
                                          const double*, double*, double*, double*);

}  // namespace dcgan::ops::cpu
