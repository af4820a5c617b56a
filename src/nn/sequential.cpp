#include "dcgan/nn/sequential.hpp"

#include "dcgan/error.hpp"

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
  acts_.assign(layers_.size() + 1, Tensor());
  dacts_.assign(layers_.size() + 1, Tensor());
  Shape s = in;
  dacts_[0] = Tensor(in);
  for (size_t i = 0; i < layers_.size(); ++i) {
    s = layers_[i]->prepare(s, impl_);
    acts_[i + 1] = Tensor(s);
    dacts_[i + 1] = Tensor(s);
  }
  prepared_for_ = in;
}

const Tensor& Sequential::forward(const Tensor& x, Mode mode) {
  DCGAN_CHECK(finalized_, "[Sequential] forward() before finalize()");
  if (x.shape() != prepared_for_) prepare(x.shape());
  acts_[0] = x;  // shallow: shares x's storage
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->forward(acts_[i], acts_[i + 1], mode);
  return acts_.back();
}

const Tensor& Sequential::backward(const Tensor& dy, bool want_dx, bool param_grads) {
  DCGAN_CHECK(!prepared_for_.empty(), "[Sequential] backward() before forward()");
  DCGAN_CHECK(dy.shape() == acts_.back().shape(), "[Sequential] backward: gradient {} but output {}",
              shape_str(dy.shape()), shape_str(acts_.back().shape()));
  const Tensor* g = &dy;
  for (size_t i = layers_.size(); i-- > 0;) {
    bool need_dx = i > 0 || want_dx;
    layers_[i]->backward(acts_[i], acts_[i + 1], *g, need_dx ? &dacts_[i] : nullptr, param_grads);
    g = &dacts_[i];
  }
  return want_dx ? dacts_[0] : empty_;
}

std::vector<StateRef> Sequential::state() {
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
