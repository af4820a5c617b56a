#include "dcgan/error.hpp"
#include "dcgan/nn/layers.hpp"
#include "dcgan/ops/batchnorm.hpp"

namespace dcgan {

BatchNorm2d::BatchNorm2d(std::string name, int64_t channels, float eps, float momentum)
    : Layer(std::move(name)), C_(channels), eps_(eps), momentum_(momentum) {
  DCGAN_CHECK(channels > 0, "[BatchNorm2d {}] num_features must be positive", name_);
  DCGAN_CHECK(eps > 0, "[BatchNorm2d {}] eps must be positive (got {})", name_, eps);
  DCGAN_CHECK(momentum > 0 && momentum <= 1, "[BatchNorm2d {}] momentum must be in (0, 1] (got {})",
              name_, momentum);
  params_.push_back({"weight", {channels}, {}, {}});
  params_.push_back({"bias", {channels}, {}, {}});
  buffers_.push_back({"running_mean", Tensor({channels}, 0.f)});
  buffers_.push_back({"running_var", Tensor({channels}, 1.f)});
  save_mean_ = Tensor({channels});
  save_invstd_ = Tensor({channels});
}

std::string BatchNorm2d::describe() const {
  return fmt::format("BatchNorm2d({}, eps={}, momentum={})", C_, eps_, momentum_);
}

Shape BatchNorm2d::prepare(const Shape& in, ops::Impl impl) {
  DCGAN_CHECK(in.size() == 4 && in[1] == C_, "[BatchNorm2d {}] input {} but the layer expects (N, {}, H, W)",
              name_, shape_str(in), C_);
  in_shape_ = in;
  impl_ = impl;
  return in;
}

void BatchNorm2d::forward(const Tensor& x, Tensor& y, Mode mode) {
  ops::BatchNormGeom g{in_shape_[0], C_, in_shape_[2] * in_shape_[3]};
  last_mode_ = mode;
  if (mode == Mode::train) {
    DCGAN_CHECK(g.N * g.HW > 1,
                "[BatchNorm2d {}] training needs more than one value per channel (input {})", name_,
                shape_str(in_shape_));
    ops::batchnorm_forward_train(g, x.data(), params_[0].value.data(), params_[1].value.data(),
                                 eps_, momentum_, buffers_[0].value.data(),
                                 buffers_[1].value.data(), y.data(), save_mean_.data(),
                                 save_invstd_.data(), impl_);
    ++num_batches_tracked_;
  } else {
    ops::batchnorm_forward_eval(g, x.data(), params_[0].value.data(), params_[1].value.data(), eps_,
                                buffers_[0].value.data(), buffers_[1].value.data(), y.data(), impl_);
  }
}

void BatchNorm2d::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx,
                           bool param_grads) {
  DCGAN_CHECK(last_mode_ == Mode::train,
              "[BatchNorm2d {}] backward after an eval-mode forward is not supported", name_);
  ops::BatchNormGeom g{in_shape_[0], C_, in_shape_[2] * in_shape_[3]};
  if (!param_grads && !dx) return;
  // The op always produces dgamma/dbeta; without param_grads they go to scratch.
  float* dgamma = params_[0].grad.data();
  float* dbeta = params_[1].grad.data();
  Tensor scratch;
  if (!param_grads) {
    scratch = Tensor({2 * C_});
    dgamma = scratch.data();
    dbeta = scratch.data() + C_;
  }
  ops::batchnorm_backward(g, x.data(), dy.data(), params_[0].value.data(), save_mean_.data(),
                          save_invstd_.data(), dx ? dx->data() : nullptr, dgamma, dbeta, impl_);
}

void BatchNorm2d::reset_parameters(Rng&) {
  params_[0].value.fill(1.f);
  params_[1].value.fill(0.f);
  buffers_[0].value.fill(0.f);
  buffers_[1].value.fill(1.f);
  num_batches_tracked_ = 0;
}

}  // namespace dcgan
