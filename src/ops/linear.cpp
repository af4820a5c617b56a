// Linear: argument checks and dispatch. Kernels: src/ops/cpu/linear_reference.cpp (plain loops,
// the oracle) and src/ops/cpu/linear_blas.cpp (the fast path).
// https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
#include "ops/linear.hpp"

#include <limits>

#include "dcgan/error.hpp"
#include "ops/cpu/linear_cpu.hpp"

namespace dcgan::ops {

namespace {
void validate(const LinearGeom& g) {
  DCGAN_CHECK(g.N > 0, "[linear] batch N must be positive, got {}", g.N);
  DCGAN_CHECK(g.in > 0 && g.out > 0, "[linear] in_features {} and out_features {} must be positive",
              g.in, g.out);
  // cblas takes int sizes and leading dimensions.
  constexpr int64_t kMax = std::numeric_limits<int>::max();
  DCGAN_CHECK(g.N <= kMax && g.in <= kMax && g.out <= kMax,
              "[linear] sizes N={}, in={}, out={} exceed the BLAS int range", g.N, g.in, g.out);
}
}  // namespace

void linear_forward(const LinearGeom& g, const float* x, const float* w, const float* b, float* y,
                    Impl impl) {
  validate(g);
  DCGAN_CHECK(!g.has_bias || b, "[linear] has_bias is set but the bias pointer is null");
  switch (impl) {
    case Impl::reference:
      return cpu::linear_ref_forward(g, x, w, b, y);
    case Impl::fast:
      return cpu::linear_blas_forward(g, x, w, b, y);
  }
  throw Error("[linear] unknown implementation");
}

void linear_backward(const LinearGeom& g, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, Impl impl) {
  validate(g);
  switch (impl) {
    case Impl::reference:
      return cpu::linear_ref_backward(g, x, w, dy, dx, dw, db);
    case Impl::fast:
      return cpu::linear_blas_backward(g, x, w, dy, dx, dw, db);
  }
  throw Error("[linear] unknown implementation");
}

}  // namespace dcgan::ops
