// Activation layouts: argument checks and dispatch. Kernels: src/ops/cpu/layout_cpu.cpp.
#include "ops/layout.hpp"

#include "dcgan/error.hpp"
#include "ops/cpu/conv_cpu.hpp"
#include "ops/cpu/layout_cpu.hpp"

namespace dcgan::ops {

int preferred_block(int64_t C) {
  const int b = cpu::onednn_preferred_block();
  return (b > 0 && C > 0 && C % b == 0) ? b : 0;
}

void reorder_activation(int64_t N, int64_t C, int64_t HW, int from, int to, const float* src,
                        float* dst, Impl impl) {
  DCGAN_CHECK(N >= 0 && C > 0 && HW >= 0, "[reorder] sizes N={}, C={}, HW={} are invalid", N, C,
              HW);
  for (int b : {from, to})
    DCGAN_CHECK(b >= 0 && (b == 0 || C % b == 0),
                "[reorder] block {} does not divide the {} channels", b, C);
  switch (impl) {
    case Impl::reference: return cpu::reorder_ref(N, C, HW, from, to, src, dst);
    case Impl::fast: return cpu::reorder_fast(N, C, HW, from, to, src, dst);
  }
  throw Error("[reorder] unknown implementation");
}

}  // namespace dcgan::ops
