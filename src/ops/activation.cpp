// Activations: argument checks and dispatch. Kernels: src/ops/cpu/activation_reference.cpp
// (plain loops in double, the oracle) and src/ops/cpu/activation_fast.cpp (the fast path).
// https://pytorch.org/docs/stable/nn.html#non-linear-activations-weighted-sum-nonlinearity
#include "ops/activation.hpp"

#include "dcgan/error.hpp"
#include "ops/cpu/activation_cpu.hpp"

namespace dcgan::ops {

void activation_forward(Act act, float slope, int64_t n, const float* x, float* y, Impl impl) {
  DCGAN_CHECK(n >= 0, "[activation] element count must be >= 0, got {}", n);
  switch (impl) {
    case Impl::reference:
      return cpu::activation_ref_forward(act, double(slope), n, x, y);
    case Impl::fast:
      return cpu::activation_fast_forward(act, slope, n, x, y);
  }
  throw Error("[activation] unknown implementation");
}

void activation_backward(Act act, float slope, int64_t n, const float* x, const float* y,
                         const float* dy, float* dx, Impl impl) {
  DCGAN_CHECK(n >= 0, "[activation] element count must be >= 0, got {}", n);
  switch (impl) {
    case Impl::reference:
      return cpu::activation_ref_backward(act, double(slope), n, x, y, dy, dx);
    case Impl::fast:
      return cpu::activation_fast_backward(act, slope, n, x, y, dy, dx);
  }
  throw Error("[activation] unknown implementation");
}

}  // namespace dcgan::ops
