// Reshape: a view of each sample as another shape (the seed generator's (N, 128 s s) -> (N, 128, s, s),
// the discriminators' flatten), converting from / to a blocked layout on the way (ops/layout.hpp).
#include "dcgan/error.hpp"
#include "nn/layers.hpp"
#include "ops/layout.hpp"

namespace dcgan {

Reshape::Reshape(Shape per_sample) : per_sample_(std::move(per_sample)) {}

std::string Reshape::describe() const {
  return per_sample_.empty() ? "Flatten()" : fmt::format("View(N, {})", shape_str(per_sample_));
}

Shape Reshape::prepare(const Shape& in, ops::Impl impl) {
  int out_block = 0;
  return prepare_layout(in, impl, 0, false, out_block);
}

Shape Reshape::prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool may_block,
                              int& out_block) {
  DCGAN_CHECK(!in.empty(), "[Reshape] input has no batch dimension");
  DCGAN_CHECK(in_block == 0 || in.size() == 4, "[Reshape] a blocked input must be (N, C, H, W)");
  Shape rest(in.begin() + 1, in.end());
  Shape out;
  if (per_sample_.empty()) {
    out = {in[0], numel_of(rest)};
  } else {
    DCGAN_CHECK(numel_of(rest) == numel_of(per_sample_), "[Reshape] cannot view {} as (N, {})",
                shape_str(in), shape_str(per_sample_).substr(1));
    out = {in[0]};
    out.insert(out.end(), per_sample_.begin(), per_sample_.end());
  }
  // One reorder at most: NCHW -> blocked output, or blocked input -> NCHW output.
  out_block = (may_block && in_block == 0 && out.size() == 4) ? ops::preferred_block(out[1]) : 0;
  in_ = in;
  out_ = out;
  in_block_ = in_block;
  out_block_ = out_block;
  impl_ = impl;
  return out;
}

// Of NCHW data the view is a copy; a blocked side is converted from / to NCHW on the way.
void Reshape::forward(const Tensor& x, Tensor& y, Mode) {
  if (in_block_)
    ops::reorder_activation(in_[0], in_[1], in_[2] * in_[3], in_block_, 0, x.data(), y.data(), impl_);
  else if (out_block_)
    ops::reorder_activation(out_[0], out_[1], out_[2] * out_[3], 0, out_block_, x.data(), y.data(),
                            impl_);
  else
    y.copy_from(x);
}

void Reshape::backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx, bool) {
  if (!dx) return;
  if (in_block_)
    ops::reorder_activation(in_[0], in_[1], in_[2] * in_[3], 0, in_block_, dy.data(), dx->data(),
                            impl_);
  else if (out_block_)
    ops::reorder_activation(out_[0], out_[1], out_[2] * out_[3], out_block_, 0, dy.data(),
                            dx->data(), impl_);
  else
    dx->copy_from(dy);
}

}  // namespace dcgan
