#include <cmath>

#include "dcgan/error.hpp"
#include "nn/layers.hpp"

namespace dcgan {

ConvLayer::ConvLayer(std::string name, bool transposed, int64_t in, int64_t out, int64_t kernel,
                     int64_t stride, int64_t padding, int64_t output_padding, bool bias)
    : Layer(std::move(name)) {
  geom_.C_in = in;
  geom_.C_out = out;
  geom_.kernel = kernel;
  geom_.stride = stride;
  geom_.padding = padding;
  geom_.output_padding = output_padding;
  geom_.transposed = transposed;
  geom_.has_bias = bias;
  DCGAN_CHECK(in > 0 && out > 0, "[{} {}] channels must be positive (got {} -> {})",
              transposed ? "ConvTranspose2d" : "Conv2d", name_, in, out);
  // PyTorch weight layouts: Conv2d (out, in, k, k), ConvTranspose2d (in, out, k, k).
  Shape w = transposed ? Shape{in, out, kernel, kernel} : Shape{out, in, kernel, kernel};
  params_.push_back({"weight", w, {}, {}});
  if (bias) params_.push_back({"bias", {out}, {}, {}});
}

std::string ConvLayer::describe() const {
  std::string s = fmt::format("{}({}, {}, kernel_size={}, stride={}, padding={}",
                              geom_.transposed ? "ConvTranspose2d" : "Conv2d", geom_.C_in,
                              geom_.C_out, geom_.kernel, geom_.stride, geom_.padding);
  if (geom_.output_padding) s += fmt::format(", output_padding={}", geom_.output_padding);
  if (!geom_.has_bias) s += ", bias=False";
  return s + ")";
}

Shape ConvLayer::prepare(const Shape& in, ops::Impl impl) {
  int out_block = 0;
  return prepare_layout(in, impl, 0, false, out_block);
}

Shape ConvLayer::prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool may_block,
                                int& out_block) {
  DCGAN_CHECK(in.size() == 4 && in[1] == geom_.C_in,
              "[{} {}] input {} but the layer expects (N, {}, H, W)",
              geom_.transposed ? "ConvTranspose2d" : "Conv2d", name_, shape_str(in), geom_.C_in);
  geom_.N = in[0];
  geom_.H = in[2];
  geom_.W = in[3];
  geom_.x_block = in_block;
  geom_.y_block = may_block ? ops::ConvGeom::kChooseBlock : 0;
  geom_.validate();
  impl_ = impl;
  op_ = ops::make_conv(geom_, impl);
  op_->cache_weights(true);  // params_changed() says when they change (layer.hpp)
  out_block = op_->geom().y_block;
  return {geom_.N, geom_.C_out, geom_.Ho(), geom_.Wo()};
}

void ConvLayer::forward(const Tensor& x, Tensor& y, Mode) {
  op_->forward(x.data(), params_[0].value.data(),
               geom_.has_bias ? params_[1].value.data() : nullptr, y.data());
}

void ConvLayer::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx,
                         bool param_grads) {
  if (param_grads)
    op_->backward_weights(x.data(), dy.data(), params_[0].grad.data(),
                          geom_.has_bias ? params_[1].grad.data() : nullptr, /*accumulate=*/true);
  if (dx) op_->backward_data(dy.data(), params_[0].value.data(), dx->data());
}

void ConvLayer::params_changed() {
  if (op_) op_->weights_changed();
}

// torch.nn.modules.conv._ConvNd.reset_parameters: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight
// and bias, fan_in = weight.size(1) * k * k (for ConvTranspose2d that is C_out * k * k).
void ConvLayer::reset_parameters(Rng& rng) {
  params_changed();
  const double fan_in = double(params_[0].shape[1] * geom_.kernel * geom_.kernel);
  const double bound = 1.0 / std::sqrt(fan_in);
  for (auto& p : params_)
    for (int64_t i = 0; i < p.value.numel(); ++i)
      p.value[i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
}

}  // namespace dcgan
