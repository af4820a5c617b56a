// Convolution and transposed convolution (2-D, square kernel, NCHW float32).
// Mirrors https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html and
//         https://pytorch.org/docs/stable/generated/torch.nn.ConvTranspose2d.html
// One engine, three entry points: a transposed conv's forward is a conv's data gradient, and its
// data gradient is a conv's forward.
//
// Legend: N batch, C_in / C_out channels, H/W input size, Ho/Wo output size, k kernel.
// Conv2d:          Ho = (H + 2p - k) / s + 1,            weight (C_out, C_in, k, k)
// ConvTranspose2d: Ho = (H - 1) s - 2p + k + output_pad, weight (C_in, C_out, k, k)
#pragma once
#include <cstdint>
#include <memory>

#include "dcgan/ops/impl.hpp"

namespace dcgan::ops {

struct ConvGeom {
  int64_t N = 0, C_in = 0, H = 0, W = 0;  // layer input (N, C_in, H, W)
  int64_t C_out = 0;
  int64_t kernel = 4, stride = 2, padding = 1, output_padding = 0;  // output_padding: transposed only
  bool transposed = false;
  bool has_bias = true;
  // Memory layouts (dcgan/ops/layout.hpp) of x and dx (x_block) and of y and dy (y_block):
  // 0 NCHW, b oneDNN's nChw{b}c with C % b == 0. y_block = kChooseBlock lets the op pick: the
  // fast op takes oneDNN's choice when it is such a layout (else 0), the reference op takes 0;
  // the op's geom() reports the result.
  static constexpr int kChooseBlock = -1;
  int x_block = 0, y_block = 0;
  int64_t Ho() const;
  int64_t Wo() const;
  // Throws dcgan::Error naming the bad field when the geometry is impossible.
  void validate() const;
};

// A prepared convolution for one geometry (sized once per batch shape; implementations cache
// primitives, layouts and scratch here). x, dx, y, dy are in the layouts geom().x_block and
// geom().y_block; w, b, dw, db in PyTorch's. Gradient contract:
//   forward           y  (N, C_out, Ho, Wo) assigned
//   backward_data     dx (N, C_in, H, W)    assigned
//   backward_weights  dw (weight shape), db (C_out): assigned when accumulate == false, added
//                     to when accumulate == true; db is ignored when has_bias is false.
class ConvOp {
 public:
  virtual ~ConvOp() = default;
  virtual void forward(const float* x, const float* w, const float* b, float* y) = 0;
  virtual void backward_data(const float* dy, const float* w, float* dx) = 0;
  virtual void backward_weights(const float* x, const float* dy, float* dw, float* db,
                                bool accumulate) = 0;
  const ConvGeom& geom() const { return geom_; }

  // Weight caching. By default forward and backward_data read w afresh on every call. After
  // cache_weights(true), an op that converts w into an internal layout keeps the converted copy
  // and reuses it for as long as w's address stays the same and weights_changed() has not been
  // called: the caller promises to call weights_changed() after every change to w's values.
  void cache_weights(bool on) {
    cache_weights_ = on;
    weights_changed();
  }
  virtual void weights_changed() {}

 protected:
  explicit ConvOp(const ConvGeom& g) : geom_(g) {}
  ConvGeom geom_;
  bool cache_weights_ = false;
};

std::unique_ptr<ConvOp> make_conv(const ConvGeom& g, Impl impl);

}  // namespace dcgan::ops
