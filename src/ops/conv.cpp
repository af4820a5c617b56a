// Convolution geometry and dispatch: the device-neutral part of the conv op family.
// The kernels live in src/ops/cpu/conv_reference.cpp (plain loops, the oracle) and
// src/ops/cpu/conv_onednn.cpp (the fast path).
#include "ops/conv.hpp"

#include <algorithm>

#include "dcgan/error.hpp"
#include "ops/cpu/conv_cpu.hpp"

namespace dcgan::ops {

namespace {
const char* op_name(const ConvGeom& g) { return g.transposed ? "conv_transpose2d" : "conv2d"; }

// Output size along one spatial axis of input size `in` (see the formulas in conv.hpp).
int64_t out_size(const ConvGeom& g, int64_t in) {
  if (g.transposed) return (in - 1) * g.stride - 2 * g.padding + g.kernel + g.output_padding;
  return (in + 2 * g.padding - g.kernel) / g.stride + 1;
}
}  // namespace

int64_t ConvGeom::Ho() const { return out_size(*this, H); }
int64_t ConvGeom::Wo() const { return out_size(*this, W); }

void ConvGeom::validate() const {
  const char* op = op_name(*this);
  DCGAN_CHECK(N > 0, "[{}] batch N must be positive, got {}", op, N);
  DCGAN_CHECK(C_in > 0, "[{}] input channels C_in must be positive, got {}", op, C_in);
  DCGAN_CHECK(C_out > 0, "[{}] output channels C_out must be positive, got {}", op, C_out);
  DCGAN_CHECK(H > 0 && W > 0, "[{}] input size H x W must be positive, got {} x {}", op, H, W);
  DCGAN_CHECK(kernel > 0, "[{}] kernel must be positive, got {}", op, kernel);
  DCGAN_CHECK(stride > 0, "[{}] stride must be positive, got {}", op, stride);
  DCGAN_CHECK(padding >= 0, "[{}] padding must be non-negative, got {}", op, padding);
  // PyTorch allows any padding, but with padding >= kernel some windows (conv) or output pixels
  // (transposed) see only padding: never wanted in a DCGAN, and oneDNN rejects some such shapes.
  DCGAN_CHECK(padding < kernel, "[{}] padding {} must be smaller than kernel {}", op, padding,
              kernel);
  DCGAN_CHECK(x_block >= 0 && (x_block == 0 || C_in % x_block == 0),
              "[{}] x_block {} must be 0 or divide C_in = {}", op, x_block, C_in);
  DCGAN_CHECK(y_block == kChooseBlock || (y_block >= 0 && (y_block == 0 || C_out % y_block == 0)),
              "[{}] y_block {} must be 0, kChooseBlock or divide C_out = {}", op, y_block, C_out);
  if (!transposed) {
    DCGAN_CHECK(output_padding == 0,
                "[{}] output_padding {} is only meaningful for a transposed convolution", op,
                output_padding);
    const int64_t hp = H + 2 * padding, wp = W + 2 * padding;
    DCGAN_CHECK(kernel <= hp && kernel <= wp, "[{}] kernel {} larger than padded input {}", op,
                kernel, std::min(hp, wp));
  } else {
    DCGAN_CHECK(output_padding >= 0, "[{}] output_padding must be non-negative, got {}", op,
                output_padding);
    // Same rule as PyTorch: output_padding must be smaller than stride (or dilation, always 1).
    DCGAN_CHECK(output_padding < stride, "[{}] output_padding {} must be smaller than stride {}",
                op, output_padding, stride);
    DCGAN_CHECK(Ho() > 0 && Wo() > 0,
                "[{}] padding {} too large: output size would be {} x {}", op, padding, Ho(),
                Wo());
  }
}

std::unique_ptr<ConvOp> make_conv(const ConvGeom& g, Impl impl) {
  g.validate();
  switch (impl) {
    case Impl::reference: return cpu::make_conv_reference(g);
    case Impl::fast: return cpu::make_conv_onednn(g);
  }
  throw Error(fmt::format("[{}] unknown implementation", op_name(g)));
}

}  // namespace dcgan::ops
