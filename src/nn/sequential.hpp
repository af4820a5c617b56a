// Sequential: a runtime list of layers built from options, with its parameters in ONE flat
// buffer (values and gradients share the layout: the optimizer is one loop, a checkpoint one write)
// and activation buffers sized once per batch shape (nothing allocated inside a training step).
//
// Memory: what a pass needs is allocated on its first use for a batch shape, and no more.
//   - Mode::train forward keeps every layer's output (backward reads them): one buffer per layer.
//   - Mode::eval forward is inference: the layers' outputs alternate between two buffers of the
//     largest output's size, so generating a batch costs two activations, not one per layer.
//     It leaves the last train forward's activations alone; backward() with no train forward
//     of the current batch shape is refused.
//   - backward's gradients alternate between two buffers too (a layer's output gradient is dead
//     once its input gradient is written), allocated on the first backward.
//
// On the fast path (Impl::fast) the layers agree on memory layouts when they are prepared
// (Layer::prepare_layout): convolutions, BatchNorm and activations exchange oneDNN's blocked
// nChw{b}c tensors, so no reorder runs between them, and each BatchNorm absorbs the ReLU /
// LeakyReLU after it (Layer::fuse_next). Input, output and input gradient stay NCHW. The
// reference path (Impl::reference) runs every layer on NCHW, unfused: the oracle.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/layer.hpp"

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
  // Mode::train: x must stay alive and unchanged until backward(). Mode::eval: inference, no
  // backward afterwards (see the memory note above).
  const Tensor& forward(const Tensor& x, Mode mode);
  // dy: gradient w.r.t. the last train-mode forward's output (eval forwards in between do not
  // count). Returns the gradient w.r.t. the
  // input when want_dx (else an empty tensor), valid until the next backward. Parameter
  // gradients accumulate when param_grads. `layer_done(i)`, when given, is called as soon as layer
  // i's parameter gradients are complete (layers run last to first), so a data-parallel job can
  // start all-reducing them while the earlier layers still run backward (dist/reducer.hpp).
  const Tensor& backward(const Tensor& dy, bool want_dx, bool param_grads = true,
                         const std::function<void(size_t)>& layer_done = {});

  // Zeroes the gradient buffer, on the OpenMP threads (a serial fill of the 1.6 MB of the seed
  // models' gradients kept the second core idle for 1 % of a training step).
  void zero_grad();
  // Parameter access. Every non-const accessor that can reach parameter values
  // (param_values, state, layers) counts as a change: the layers drop what they derived from
  // the values (converted weights, layer.hpp) before the next forward or backward. Code that
  // keeps a pointer from an earlier call and writes through it later calls
  // mark_params_changed() itself.
  Tensor& param_values() {  // (P) all parameters, flat
    mark_params_changed();
    return values_;
  }
  const Tensor& param_values() const { return values_; }
  Tensor& param_grads() { return grads_; }    // (P)
  int64_t num_params() const { return values_.numel(); }
  std::vector<StateRef> state();              // parameters, buffers, counters in layer order
  std::vector<std::unique_ptr<Layer>>& layers() {
    mark_params_changed();
    return layers_;
  }
  void mark_params_changed() { ++params_version_; }
  std::string describe() const;
  ops::Impl impl() const { return impl_; }
  // After the first forward, for tests and benchmarks: activation_blocks()[i] is the layout
  // (dcgan/ops/layout.hpp) of layer i's input, [i + 1] of its output; fused_layers()[i] says
  // whether layer i is absorbed by layer i - 1.
  const std::vector<int>& activation_blocks() const { return blocks_; }
  const std::vector<char>& fused_layers() const { return fused_; }
  // Drops prepared ops and caches; the next forward prepares again (e.g. after changing impl).
  void set_impl(ops::Impl impl);

 private:
  void prepare(const Shape& in);
  void sync_params();  // tells the layers about parameter changes since the last call
  // Allocate, on first use after prepare(): the train-mode activations, the eval-mode pair, the
  // gradient pair (see the memory note above).
  void ensure_train_acts();
  void ensure_eval_acts();
  void ensure_grads();
  ops::Impl impl_;
  uint64_t params_version_ = 1, synced_version_ = 0;
  std::vector<std::unique_ptr<Layer>> layers_;
  Tensor values_, grads_;
  Shape prepared_for_;
  std::vector<Shape> shapes_;  // shapes_[0] = input, shapes_[i + 1] = output of layer i
  std::vector<Tensor> acts_;   // train mode: acts_[0] = input, acts_[i + 1] = output of layer i
  std::vector<Tensor> eval_acts_;  // eval mode: the same, views into eval_buf_
  std::vector<Tensor> dacts_;  // gradients, same shapes, views into grad_buf_
  Tensor eval_buf_[2], grad_buf_[2];  // the alternating pairs
  bool train_ready_ = false, eval_ready_ = false, grads_ready_ = false;
  bool kept_ = false;  // a train forward of the prepared shape completed: backward may run
  std::vector<int> blocks_;    // blocks_[i]: layout of acts_[i] and dacts_[i] (layout.hpp)
  std::vector<char> fused_;    // fused_[i]: layer i is absorbed by layer i - 1 and skipped
  Tensor out_plain_, dout_blocked_;  // NCHW output / blocked output gradient, if the last
                                     // layer's output is blocked
  Tensor empty_;
  bool finalized_ = false;
};

// Copies every parameter, buffer and counter of `from` into `to`, which must be built from the
// same configuration (same state names and shapes, checked).
void copy_state(Sequential& from, Sequential& to);

}  // namespace dcgan
