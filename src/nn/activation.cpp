#include "dcgan/error.hpp"
#include "dcgan/nn/layers.hpp"

namespace dcgan {

Activation::Activation(ops::Act act, float slope) : act_(act), slope_(slope) {}

std::string Activation::describe() const {
  switch (act_) {
    case ops::Act::relu: return "ReLU()";
    case ops::Act::leaky_relu: return fmt::format("LeakyReLU(negative_slope={})", slope_);
    case ops::Act::tanh: return "Tanh()";
    case ops::Act::sigmoid: return "Sigmoid()";
  }
  return "?";
}

Shape Activation::prepare(const Shape& in, ops::Impl impl) {
  impl_ = impl;
  return in;
}

void Activation::forward(const Tensor& x, Tensor& y, Mode) {
  ops::activation_forward(act_, slope_, x.numel(), x.data(), y.data(), impl_);
}

void Activation::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool) {
  if (dx) ops::activation_backward(act_, slope_, x.numel(), x.data(), y.data(), dy.data(), dx->data(), impl_);
}

Reshape::Reshape(Shape per_sample) : per_sample_(std::move(per_sample)) {}

std::string Reshape::describe() const {
  return per_sample_.empty() ? "Flatten()" : fmt::format("View(N, {})", shape_str(per_sample_));
}

Shape Reshape::prepare(const Shape& in, ops::Impl) {
  DCGAN_CHECK(!in.empty(), "[Reshape] input has no batch dimension");
  Shape rest(in.begin() + 1, in.end());
  if (per_sample_.empty()) return {in[0], numel_of(rest)};
  DCGAN_CHECK(numel_of(rest) == numel_of(per_sample_), "[Reshape] cannot view {} as (N, {})",
              shape_str(in), shape_str(per_sample_).substr(1));
  Shape out{in[0]};
  out.insert(out.end(), per_sample_.begin(), per_sample_.end());
  return out;
}

void Reshape::forward(const Tensor& x, Tensor& y, Mode) { y.copy_from(x); }

void Reshape::backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx, bool) {
  if (dx) dx->copy_from(dy);
}

}  // namespace dcgan
