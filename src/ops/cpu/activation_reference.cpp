// Reference activations: one plain loop per function, evaluated in double and rounded once.
// Slow on purpose; the oracle for the fast path.
//   https://pytorch.org/docs/stable/generated/torch.nn.ReLU.html
//   https://pytorch.org/docs/stable/generated/torch.nn.LeakyReLU.html
//   https://pytorch.org/docs/stable/generated/torch.nn.Tanh.html
//   https://pytorch.org/docs/stable/generated/torch.nn.Sigmoid.html
// Legend: n elements; x input, y output, dy output gradient, dx input gradient (all n).
// Every loop reads element k before writing it, so y may alias x and dx may alias dy.
#include <cmath>

#include "ops/cpu/activation_cpu.hpp"

namespace dcgan::ops::cpu {

template <class T>
void activation_ref_forward(Act act, double slope, int64_t n, const T* x, T* y) {
  for (int64_t k = 0; k < n; ++k) {
    const double v = x[k];
    double r = 0;
    switch (act) {
      case Act::relu:
        r = v > 0 ? v : 0.0;
        break;  // max(x, 0)
      case Act::leaky_relu:
        r = v > 0 ? v : slope * v;
        break;  // x > 0 ? x : a x
      case Act::tanh:
        r = std::tanh(v);
        break;
      case Act::sigmoid:
        r = 1.0 / (1.0 + std::exp(-v));
        break;
    }
    y[k] = static_cast<T>(std::isnan(v) ? v : r);  // NaN propagates, as in PyTorch
  }
}

template <class T>
void activation_ref_backward(Act act, double slope, int64_t n, const T* x, const T* y, const T* dy,
                             T* dx) {
  for (int64_t k = 0; k < n; ++k) {
    const double v = x[k], out = y[k], d = dy[k];
    double r = 0;
    switch (act) {
      case Act::relu:
        r = v > 0 ? d : 0.0;
        break;  // dx = dy [x > 0]
      case Act::leaky_relu:
        r = v > 0 ? d : slope * d;
        break;  // dx = dy (x > 0 ? 1 : a)
      case Act::tanh:
        r = d * (1.0 - out * out);
        break;  // dx = dy (1 - y^2)
      case Act::sigmoid:
        r = d * out * (1.0 - out);
        break;  // dx = dy y (1 - y)
    }
    dx[k] = static_cast<T>(r);
  }
}

template void activation_ref_forward<float>(Act, double, int64_t, const float*, float*);
template void activation_ref_forward<double>(Act, double, int64_t, const double*, double*);
template void activation_ref_backward<float>(Act, double, int64_t, const float*, const float*,
                                             const float*, float*);
template void activation_ref_backward<double>(Act, double, int64_t, const double*, const double*,
                                              const double*, double*);

}  // namespace dcgan::ops::cpu
