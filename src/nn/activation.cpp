#include "dcgan/error.hpp"
#include "nn/layers.hpp"
#include "ops/layout.hpp"

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

Shape Activation::prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool,
                                 int& out_block) {
  out_block = in_block;  // element-wise; blocked layouts have no padding (layout.hpp)
  return prepare(in, impl);
}

void Activation::forward(const Tensor& x, Tensor& y, Mode) {
  ops::activation_forward(act_, slope_, x.numel(), x.data(), y.data(), impl_);
}

void Activation::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool) {
  if (dx) ops::activation_backward(act_, slope_, x.numel(), x.data(), y.data(), dy.data(), dx->data(), impl_);
}

}  // namespace dcgan
