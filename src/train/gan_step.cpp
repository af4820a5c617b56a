#include "train/gan_step.hpp"

#include <algorithm>

#include "dcgan/error.hpp"
#include "models/models.hpp"
#include "ops/loss.hpp"

namespace dcgan {

GanStep::GanStep(const ModelConfig& cfg, const GanOptions& opt, ops::Impl impl)
    : config(cfg), options(opt) {
  G = build_generator(cfg, impl);
  D = build_discriminator(cfg, impl);
  g_opt = Adam(G->num_params(), opt.g_adam);
  d_opt = Adam(D->num_params(), opt.d_adam);
  for (auto& l : D->layers())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(l.get())) d_bns_.push_back(bn);
  d_fake_stats_.resize(d_bns_.size());
  if (opt.ema > 0) {
    G_ema = build_generator(cfg, impl);
    start_ema();
  }
}

void GanStep::start_ema() {
  if (G_ema) copy_state(*G, *G_ema);
}

void GanStep::update_ema() {
  const double t = double(g_opt.t);
  const float a = static_cast<float>(1.0 - std::min(options.ema, (1 + t) / (10 + t)));
  auto src = G->state();
  auto dst = G_ema->state();
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i].i64) {
      *dst[i].i64 = *src[i].i64;
      continue;
    }
    const float* g = src[i].tensor->data();
    float* e = dst[i].tensor->data();
    for (int64_t k = 0, n = src[i].tensor->numel(); k < n; ++k) e[k] += a * (g[k] - e[k]);
  }
}

void GanStep::enable_data_parallel(dist::Comm& comm, bool sync_bn) {
  if (comm.size() == 1) return;
  comm_ = &comm;
  g_red_ = std::make_unique<dist::GradientReducer>(comm, *G);
  d_red_ = std::make_unique<dist::GradientReducer>(comm, *D);
  running_stats_.clear();
  for (Sequential* net : {G.get(), D.get()})
    for (auto& l : net->layers())
      if (auto* bn = dynamic_cast<BatchNorm2d*>(l.get())) {
        if (sync_bn) bn->set_cross_sum([&comm](double* d, int64_t n) { comm.allreduce_sum(d, n); });
        else for (auto& b : bn->buffers()) running_stats_.push_back(&b.value);
      }
}

double GanStep::allreduce_wait_seconds() const {
  return (g_red_ ? g_red_->wait_seconds() : 0) + (d_red_ ? d_red_->wait_seconds() : 0);
}

namespace {
float mean_of(const Tensor& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t[i];
  return static_cast<float>(s / double(t.numel()));
}
}  // namespace

StepStats GanStep::step(const Tensor& real, const Tensor& z) {
  const int64_t B = real.dim(0);
  DCGAN_CHECK(z.ndim() == 2 && z.dim(0) == B && z.dim(1) == config.latent_dim,
              "[train] latents {} but expected ({}, {})", shape_str(z.shape()), B, config.latent_dim);
  if (ones_.numel() != B) {
    ones_ = Tensor({B, 1}, 1.f);
    zeros_ = Tensor({B, 1}, 0.f);
    real_targets_ = Tensor({B, 1}, options.real_label);
    dp_ = Tensor({B, 1});
  }
  StepStats s;
  // ---- G step: minimise BCE(D(G(z)), 1). D's parameter gradients are not needed here
  // (PyTorch computes and then zeroes them), only its input gradient.
  G->zero_grad();
  const Tensor& gen = G->forward(z, Mode::train);  // G's output buffer; stays valid (G not run again)
  const Tensor& pf = D->forward(gen, Mode::train);  // D's output buffer; valid until D runs again
  for (size_t i = 0; i < d_bns_.size(); ++i) d_fake_stats_[i] = d_bns_[i]->last_batch_stats();
  s.d_fake = mean_of(pf);
  s.g_loss = ops::bce_forward(B, pf.data(), ones_.data());
  ops::bce_backward(B, pf.data(), ones_.data(), 1.f, dp_.data());
  const Tensor& dgen = D->backward(dp_, /*want_dx=*/true, /*param_grads=*/false);
  if (g_red_) {
    G->backward(dgen, /*want_dx=*/false, /*param_grads=*/true, [this](size_t i) { g_red_->layer_done(i); });
    g_red_->finish();
  } else {
    G->backward(dgen, /*want_dx=*/false, /*param_grads=*/true);
  }
  g_opt.step(G->param_values().data(), G->param_grads().data(), G->impl());

  // ---- D step: (BCE(D(real), real_label) + BCE(D(gen.detach()), 0)) / 2.
  // The fake half first, on the activations D kept from the G step (see the header).
  D->zero_grad();
  const float fake_loss = ops::bce_forward(B, pf.data(), zeros_.data());
  ops::bce_backward(B, pf.data(), zeros_.data(), 0.5f, dp_.data());
  D->backward(dp_, false, true);
  const Tensor& pr = D->forward(real, Mode::train);
  s.d_real = mean_of(pr);
  const float real_loss = ops::bce_forward(B, pr.data(), real_targets_.data());
  ops::bce_backward(B, pr.data(), real_targets_.data(), 0.5f, dp_.data());
  if (d_red_) {  // this backward completes D's gradients: all-reduce them as it goes
    D->backward(dp_, false, true, [this](size_t i) { d_red_->layer_done(i); });
    d_red_->finish();
  } else {
    D->backward(dp_, false, true);
  }
  // PyTorch's third D pass, on gen.detach(), updates the running statistics with the fake
  // batch's statistics once more.
  for (size_t i = 0; i < d_bns_.size(); ++i) d_bns_[i]->apply_running_update(d_fake_stats_[i]);
  if (!running_stats_.empty()) {  // per-rank BatchNorm: the ranks' running statistics averaged
    running_buf_.clear();
    for (Tensor* t : running_stats_) running_buf_.insert(running_buf_.end(), t->data(), t->data() + t->numel());
    comm_->allreduce_sum(running_buf_.data(), int64_t(running_buf_.size()));
    const float inv = 1.f / float(comm_->size());
    size_t k = 0;
    for (Tensor* t : running_stats_)
      for (int64_t i = 0; i < t->numel(); ++i) (*t)[i] = running_buf_[k++] * inv;
  }
  s.d_loss = (real_loss + fake_loss) / 2;
  d_opt.step(D->param_values().data(), D->param_grads().data(), D->impl());
  if (G_ema) update_ema();
  return s;
}

}  // namespace dcgan
