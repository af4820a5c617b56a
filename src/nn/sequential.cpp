#include "nn/sequential.hpp"

#include <algorithm>
#include <cstring>

#include "dcgan/error.hpp"
#include "ops/layout.hpp"

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
  // Drop the buffers of the previous shape first (their memory is released before the new
  // shape's is allocated).
  acts_.assign(L + 1, Tensor());
  eval_acts_.assign(L + 1, Tensor());
  dacts_.assign(L + 1, Tensor());
  eval_buf_[0] = eval_buf_[1] = grad_buf_[0] = grad_buf_[1] = Tensor();
  train_ready_ = eval_ready_ = grads_ready_ = kept_ = false;
  shapes_.assign(L + 1, Shape());
  blocks_.assign(L + 1, 0);
  fused_.assign(L + 1, 0);
  shapes_[0] = in;
  for (size_t i = 0; i < L; ++i) {
    shapes_[i + 1] = layers_[i]->prepare_layout(shapes_[i], impl_, blocks_[i], /*may_block=*/fast,
                                                blocks_[i + 1]);
    if (fast && i > 0 && !fused_[i - 1] && layers_[i - 1]->fuse_next(*layers_[i])) fused_[i] = 1;
  }
  const Shape& s = shapes_[L];
  out_plain_ = blocks_[L] ? Tensor(s) : Tensor();
  dout_blocked_ = Tensor();
  prepared_for_ = in;
}

namespace {
// The largest element count of shapes[from, to): the size of each buffer of an alternating pair
// (a layer's output, or input gradient, goes to the buffer its input does not use).
int64_t largest(const std::vector<Shape>& shapes, size_t from, size_t to) {
  int64_t m = 0;
  for (size_t i = from; i < to; ++i) m = std::max(m, numel_of(shapes[i]));
  return m;
}
}  // namespace

void Sequential::ensure_train_acts() {
  if (train_ready_) return;
  const size_t L = layers_.size();
  for (size_t i = 0; i < L; ++i)  // a fused layer's output is its producer's
    acts_[i + 1] = fused_[i] ? acts_[i] : Tensor(shapes_[i + 1]);
  train_ready_ = true;
}

void Sequential::ensure_eval_acts() {
  if (eval_ready_) return;
  const size_t L = layers_.size();
  const int64_t m = largest(shapes_, 1, L + 1);
  eval_buf_[0] = Tensor({m});
  eval_buf_[1] = Tensor({m});
  int cur = 1;  // the input is the caller's; the first output goes to buffer 0
  for (size_t i = 0; i < L; ++i) {
    if (fused_[i]) {
      eval_acts_[i + 1] = eval_acts_[i];
      continue;
    }
    cur ^= 1;
    eval_acts_[i + 1] = Tensor::view(eval_buf_[cur].data(), shapes_[i + 1]);
  }
  eval_ready_ = true;
}

void Sequential::ensure_grads() {
  if (grads_ready_) return;
  const size_t L = layers_.size();
  const int64_t m = largest(shapes_, 0, L);
  grad_buf_[0] = Tensor({m});
  grad_buf_[1] = Tensor({m});
  int cur = 1;  // the output gradient is the caller's (or dout_blocked_)
  for (size_t i = L; i-- > 0;) {
    if (fused_[i]) continue;
    cur ^= 1;
    dacts_[i] = Tensor::view(grad_buf_[cur].data(), shapes_[i]);
  }
  if (blocks_[L]) dout_blocked_ = Tensor(shapes_[L]);
  grads_ready_ = true;
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
  const bool keep = mode == Mode::train;
  if (keep)
    ensure_train_acts();
  else
    ensure_eval_acts();
  std::vector<Tensor>& acts = keep ? acts_ : eval_acts_;
  acts[0] = x;  // shallow: shares x's storage
  if (keep) kept_ = false;  // until this pass completes
  const size_t L = layers_.size();
  for (size_t i = 0; i < L; ++i)
    if (!fused_[i]) layers_[i]->forward(acts[i], acts[i + 1], mode);
  if (keep) kept_ = true;  // an eval pass leaves the last train pass's activations as they were
  if (!blocks_[L]) return acts.back();
  const Shape& s = out_plain_.shape();
  ops::reorder_activation(s[0], s[1], s[2] * s[3], blocks_[L], 0, acts.back().data(),
                          out_plain_.data(), impl_);
  return out_plain_;
}

const Tensor& Sequential::backward(const Tensor& dy, bool want_dx, bool param_grads,
                                   const std::function<void(size_t)>& layer_done) {
  DCGAN_CHECK(!prepared_for_.empty(), "[Sequential] backward() before forward()");
  DCGAN_CHECK(kept_, "[Sequential] backward() needs a Mode::train forward of this batch shape "
                     "first (an eval-mode forward keeps no activations)");
  DCGAN_CHECK(dy.shape() == acts_.back().shape(), "[Sequential] backward: gradient {} but output {}",
              shape_str(dy.shape()), shape_str(acts_.back().shape()));
  sync_params();
  ensure_grads();
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
    if (layer_done) layer_done(i);
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

void Sequential::zero_grad() {
  float* g = grads_.data();
  const int64_t n = grads_.numel();
  constexpr int64_t kChunk = 1 << 14;  // floats per task: 64 KB
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c)
    std::memset(g + c * kChunk, 0, sizeof(float) * size_t(std::min(kChunk, n - c * kChunk)));
}

void copy_state(Sequential& from, Sequential& to) {
  auto src = from.state();
  auto dst = to.state();
  DCGAN_CHECK(src.size() == dst.size(), "[copy_state] {} state entries into {}", src.size(), dst.size());
  for (size_t i = 0; i < src.size(); ++i) {
    DCGAN_CHECK(src[i].name == dst[i].name, "[copy_state] '{}' into '{}'", src[i].name, dst[i].name);
    if (src[i].i64) *dst[i].i64 = *src[i].i64;
    else dst[i].tensor->copy_from(*src[i].tensor);
  }
}

}  // namespace dcgan
