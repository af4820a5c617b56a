#include "dcgan/error.hpp"
#include "nn/layers.hpp"
#include "ops/batchnorm.hpp"

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
  last_stats_.mean.assign(size_t(channels), 0.0);
  last_stats_.var.assign(size_t(channels), 0.0);
  scratch_ = Tensor({2 * channels});
}

std::string BatchNorm2d::describe() const {
  return fmt::format("BatchNorm2d({}, eps={}, momentum={})", C_, eps_, momentum_);
}

Shape BatchNorm2d::prepare(const Shape& in, ops::Impl impl) {
  int out_block = 0;
  return prepare_layout(in, impl, 0, false, out_block);
}

Shape BatchNorm2d::prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool,
                                  int& out_block) {
  DCGAN_CHECK(in.size() == 4 && in[1] == C_, "[BatchNorm2d {}] input {} but the layer expects (N, {}, H, W)",
              name_, shape_str(in), C_);
  DCGAN_CHECK(in_block >= 0 && (in_block == 0 || C_ % in_block == 0),
              "[BatchNorm2d {}] channel block {} does not divide {} channels", name_, in_block, C_);
  in_shape_ = in;
  have_batch_stats_ = false;
  impl_ = impl;
  block_ = out_block = in_block;
  act_ = ops::BnAct{};
  return in;
}

bool BatchNorm2d::fuse_next(const Layer& next) {
  const auto* a = dynamic_cast<const Activation*>(&next);
  if (!a) return false;
  const ops::BnAct act{true, a->act(), a->slope()};
  if (!(act.act == ops::Act::relu || (act.act == ops::Act::leaky_relu && act.slope >= 0.f)))
    return false;
  act_ = act;
  return true;
}

void BatchNorm2d::forward(const Tensor& x, Tensor& y, Mode mode) {
  const ops::BatchNormGeom g{in_shape_[0], C_, in_shape_[2] * in_shape_[3], block_};
  if (mode == Mode::train) {
    DCGAN_CHECK(g.N * g.HW > 1,
                "[BatchNorm2d {}] training needs more than one value per channel (input {})", name_,
                shape_str(in_shape_));
    int64_t count = g.N * g.HW;  // the job's, with sync-BN
    ops::batchnorm_forward_train_stats(g, x.data(), params_[0].value.data(),
                                       params_[1].value.data(), eps_, y.data(), save_mean_.data(),
                                       save_invstd_.data(), last_stats_.mean.data(),
                                       last_stats_.var.data(), act_, impl_,
                                       cross_ ? &cross_ : nullptr, &count);
    last_stats_.M = count;
    apply_running_update(last_stats_);
    have_batch_stats_ = true;
  } else {
    ops::batchnorm_forward_eval(g, x.data(), params_[0].value.data(), params_[1].value.data(), eps_,
                                buffers_[0].value.data(), buffers_[1].value.data(), y.data(), act_,
                                impl_);
  }
}

// y is the forward's output: z = act(BatchNorm(x)) when an activation is fused.
void BatchNorm2d::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                           bool param_grads) {
  DCGAN_CHECK(have_batch_stats_,
              "[BatchNorm2d {}] backward needs a train-mode forward first (eval mode saves no batch "
              "statistics)", name_);
  const ops::BatchNormGeom g{in_shape_[0], C_, in_shape_[2] * in_shape_[3], block_};
  if (!param_grads && !dx) return;
  // The op always produces dgamma/dbeta; without param_grads they go to scratch.
  float* dgamma = params_[0].grad.data();
  float* dbeta = params_[1].grad.data();
  if (!param_grads) {
    scratch_.zero();
    dgamma = scratch_.data();
    dbeta = scratch_.data() + C_;
  }
  ops::batchnorm_backward(g, x.data(), dy.data(), params_[0].value.data(), save_mean_.data(),
                          save_invstd_.data(), dx ? dx->data() : nullptr, dgamma, dbeta, y.data(),
                          act_, impl_, cross_ ? &cross_ : nullptr);
}

void BatchNorm2d::apply_running_update(const BatchStats& s) {
  DCGAN_CHECK(int64_t(s.mean.size()) == C_ && int64_t(s.var.size()) == C_ && s.M > 1,
              "[BatchNorm2d {}] running update from statistics of {} channels and {} values, "
              "expected {} channels and more than one value", name_, s.mean.size(), s.M, C_);
  ops::batchnorm_update_running(C_, s.M, momentum_, s.mean.data(), s.var.data(),
                                buffers_[0].value.data(), buffers_[1].value.data());
  ++num_batches_tracked_;
}

void BatchNorm2d::reset_parameters(Rng&) {
  params_[0].value.fill(1.f);
  params_[1].value.fill(0.f);
  buffers_[0].value.fill(0.f);
  buffers_[1].value.fill(1.f);
  num_batches_tracked_ = 0;
}

}  // namespace dcgan
