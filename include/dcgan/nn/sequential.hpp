// Sequential: a runtime list of layers built from options, with its parameters in ONE flat
// buffer (values and gradients share the layout: the optimizer is one loop, a checkpoint one write)
// and activation buffers sized once per batch shape (nothing allocated inside a training step).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "dcgan/nn/layer.hpp"

namespace dcgan {

// One named entry of a network's state: a float tensor (parameter or buffer) or an I64 counter.
struct StateRef {
  std::string name;        // full state_dict name: "model.2.weight"
  Tensor* tensor = nullptr;
  int64_t* i64 = nullptr;  // BatchNorm's num_batches_tracked
  bool is_param = false;
  Tensor* grad = nullptr;  // for parameters
};

class Sequential {
 public:
  explicit Sequential(ops::Impl impl = ops::Impl::fast) : impl_(impl) {}
  void add(std::unique_ptr<Layer> layer);
  // Allocates the flat parameter/gradient buffers and binds every Param's views. Call once, after
  // the last add(). Parameters are zero until initialised.
  void finalize();

  // x: (N, ...). Returns this network's output buffer (valid until the next forward).
  // x must stay alive and unchanged until backward().
  const Tensor& forward(const Tensor& x, Mode mode);
  // dy: gradient w.r.t. the last forward's output. Returns the gradient w.r.t. the input when
  // want_dx (else an empty tensor). Parameter gradients accumulate when param_grads.
  const Tensor& backward(const Tensor& dy, bool want_dx, bool param_grads = true);

  void zero_grad() { grads_.zero(); }
  Tensor& param_values() { return values_; }  // (P) all parameters, flat
  Tensor& param_grads() { return grads_; }    // (P)
  int64_t num_params() const { return values_.numel(); }
  std::vector<StateRef> state();              // parameters, buffers, counters in layer order
  std::vector<std::unique_ptr<Layer>>& layers() { return layers_; }
  std::string describe() const;
  ops::Impl impl() const { return impl_; }
  // Drops prepared ops and caches; the next forward prepares again (e.g. after changing impl).
  void set_impl(ops::Impl impl);

 private:
  void prepare(const Shape& in);
  ops::Impl impl_;
  std::vector<std::unique_ptr<Layer>> layers_;
  Tensor values_, grads_;
  Shape prepared_for_;
  std::vector<Tensor> acts_;   // acts_[0] = input, acts_[i + 1] = output of layer i
  std::vector<Tensor> dacts_;  // gradients, same shapes
  Tensor empty_;
  bool finalized_ = false;
};

}  // namespace dcgan
