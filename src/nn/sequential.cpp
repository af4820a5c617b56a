#include "dcgan/nn/sequential.hpp"

#include "dcgan/error.hpp"
#include "dcgan/ops/layout.hpp"

namespace dcgan {

void Sequential::add(std::unique_ptr<Layer> layer) {
  DCGAN_CHECK(!finalized_, "[Sequential] add() after finalize()");
  layers_.push_back(std::move(layer));
}

void Sequential::finalize() {
  DCGAN_CHECK(!finalized_, "[Sequential] finalize() called twice");
  int64_t total = 0;
  for (auto& l : layers_)
    for (auto& p : l->params()) total += numel_of(p.shape);
  values_ = Tensor({total});
  grads_ = Tensor({total});
  int64_t off = 0;
  for (auto& l : layers_)
    for (auto& p : l->params()) {
      p.value = Tensor::view(values_.data() + off, p.shape);
      p.grad = Tensor::view(grads_.data() + off, p.shape);
      off += numel_of(p.shape);
    }
  finalized_ = true;
}

void Sequential::set_impl(ops::Impl impl) {
  impl_ = impl;
  prepared_for_.clear();
}

void Sequential::prepare(const Shape& in) {
  const size_t L = layers_.size();
  const bool fast = impl_ == ops::Impl::fast;
  acts_.assign(L + 1, Tensor());
  dacts_.assign(L + 1, Tensor());
  blocks_.assign(L + 1, 0);
  fused_.assign(L + 1, 0);
  Shape s = in;
  dacts_[0] = Tensor(in);
  for (size_t i = 0; i < L; ++i) {
    s = layers_[i]->prepare_layout(s, impl_, blocks_[i], /*may_block=*/fast, blocks_[i + 1]);
    if (fast && i > 0 && !fused_[i - 1] && layers_[i - 1]->fuse_next(*layers_[i])) fused_[i] = 1;
    acts_[i + 1] = fused_[i] ? acts_[i] : Tensor(s);  // a fused layer's output is its producer's
    dacts_[i + 1] = Tensor(s);
  }
  out_plain_ = blocks_[L] ? Tensor(s) : Tensor();
  dout_blocked_ = blocks_[L] ? Tensor(s) : Tensor();
  prepared_for_ = in;
}

void Sequential::sync_params() {
  if (synced_version_ == params_version_) return;
  for (auto& l : layers_) l->params_changed();
  synced_version_ = params_version_;
}

const Tensor& Sequential::forward(const Tensor& x, Mode mode) {
  DCGAN_CHECK(finalized_, "[Sequential] forward() before finalize()");
  if (x.shape() != prepared_for_) prepare(x.shape());
  sync_params();
  acts_[0] = x;  // shallow: shares x's storage
  const size_t L = layers_.size();
  for (size_t i = 0; i < L; ++i)
    if (!fused_[i]) layers_[i]->forward(acts_[i], acts_[i + 1], mode);
  if (!blocks_[L]) return acts_.back();
  const Shape& s = out_plain_.shape();
  ops::reorder_activation(s[0], s[1], s[2] * s[3], blocks_[L], 0, acts_.back().data(),
                          out_plain_.data(), impl_);
  return out_plain_;
}

const Tensor& Sequential::backward(const Tensor& dy, bool want_dx, bool param_grads) {
  DCGAN_CHECK(!prepared_for_.empty(), "[Sequential] backward() before forward()");
  DCGAN_CHECK(dy.shape() == acts_.back().shape(), "[Sequential] backward: gradient {} but output {}",
              shape_str(dy.shape()), shape_str(acts_.back().shape()));
  sync_params();
  const size_t L = layers_.size();
  const Tensor* g = &dy;
  if (blocks_[L]) {
    const Shape& s = dy.shape();
    ops::reorder_activation(s[0], s[1], s[2] * s[3], 0, blocks_[L], dy.data(),
                            dout_blocked_.data(), impl_);
    g = &dout_blocked_;
  }
  for (size_t i = L; i-- > 0;) {
    if (fused_[i]) continue;  // its producer (layer i - 1) differentiates through it
    bool need_dx = i > 0 || want_dx;
    // A layer that absorbed layer i + 1 gets that layer's output and gradient.
    const Tensor& y = (i + 1 < L && fused_[i + 1]) ? acts_[i + 2] : acts_[i + 1];
    layers_[i]->backward(acts_[i], y, *g, need_dx ? &dacts_[i] : nullptr, param_grads);
    g = &dacts_[i];
  }
  return want_dx ? dacts_[0] : empty_;
}

std::vector<StateRef> Sequential::state() {
  mark_params_changed();
  std::vector<StateRef> out;
  for (auto& l : layers_) {
    for (auto& p : l->params()) out.push_back({l->name() + "." + p.name, &p.value, nullptr, true, &p.grad});
    for (auto& b : l->buffers()) out.push_back({l->name() + "." + b.name, &b.value, nullptr, false, nullptr});
    if (int64_t* n = l->num_batches_tracked())
      out.push_back({l->name() + ".num_batches_tracked", nullptr, n, false, nullptr});
  }
  return out;
}

std::string Sequential::describe() const {
  std::string s;
  for (auto& l : layers_)
    s += fmt::format("  {:<10} {}\n", l->name().empty() ? "-" : l->name(), l->describe());
  return s;
}

}  // namespace dcgan
