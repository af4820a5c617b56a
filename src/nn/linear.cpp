#include <cmath>

#include "dcgan/error.hpp"
#include "nn/layers.hpp"

namespace dcgan {

Linear::Linear(std::string name, int64_t in, int64_t out, bool bias) : Layer(std::move(name)) {
  DCGAN_CHECK(in > 0 && out > 0, "[Linear {}] in_features {} and out_features {} must be positive",
              name_, in, out);
  geom_.in = in;
  geom_.out = out;
  geom_.has_bias = bias;
  params_.push_back({"weight", {out, in}, {}, {}});
  if (bias) params_.push_back({"bias", {out}, {}, {}});
}

std::string Linear::describe() const {
  return fmt::format("Linear(in_features={}, out_features={}, bias={})", geom_.in, geom_.out,
                     geom_.has_bias ? "True" : "False");
}

Shape Linear::prepare(const Shape& in, ops::Impl impl) {
  DCGAN_CHECK(in.size() == 2 && in[1] == geom_.in, "[Linear {}] input {} but the layer expects (N, {})",
              name_, shape_str(in), geom_.in);
  geom_.N = in[0];
  impl_ = impl;
  return {in[0], geom_.out};
}

void Linear::forward(const Tensor& x, Tensor& y, Mode) {
  ops::linear_forward(geom_, x.data(), params_[0].value.data(),
                      geom_.has_bias ? params_[1].value.data() : nullptr, y.data(), impl_);
}

void Linear::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool param_grads) {
  if (!param_grads && !dx) return;
  if (param_grads) {
    ops::linear_backward(geom_, x.data(), params_[0].value.data(), dy.data(),
                         dx ? dx->data() : nullptr, params_[0].grad.data(),
                         geom_.has_bias ? params_[1].grad.data() : nullptr, impl_);
  } else {
    ops::linear_backward(geom_, x.data(), params_[0].value.data(), dy.data(), dx->data(), nullptr,
                         nullptr, impl_);
  }
}

// torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in))
// for the weight; the bias is U(-1/sqrt(in), 1/sqrt(in)).
void Linear::reset_parameters(Rng& rng) {
  const double bound = 1.0 / std::sqrt(double(geom_.in));
  for (auto& p : params_)
    for (int64_t i = 0; i < p.value.numel(); ++i)
      p.value[i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
}

}  // namespace dcgan
