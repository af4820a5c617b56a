// Layer: bookkeeping (shapes, parameters, what is cached for backward) around device-neutral ops.
// Layers never see a device; they call dcgan::ops with the Impl chosen at prepare() time.
//
// Gradient contract (tested in tests/unit/test_ops.cpp and tests/unit/test_models.cpp):
//   - parameter gradients ACCUMULATE into Param::grad; the owner zeroes them explicitly;
//   - the input gradient dx is ASSIGNED.
// Parameter contract: a layer may keep its parameters converted into an internal layout (the
// fast convolutions do); whoever changes a layer's parameter values calls params_changed() before
// the layer's next forward or backward. Sequential does this for its layers (see
// Sequential::mark_params_changed).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dcgan/ops/impl.hpp"
#include "dcgan/tensor.hpp"
#include "core/rng.hpp"

namespace dcgan {

enum class Mode { train, eval };

// A learnable tensor. value and grad are views into the owning network's flat buffers
// (bound by Sequential::finalize), so the optimizer is one flat loop and a checkpoint one write.
struct Param {
  std::string name;  // state_dict suffix: "weight", "bias"
  Shape shape;
  Tensor value;
  Tensor grad;
};

// Non-learnable state saved in checkpoints (BatchNorm's running statistics).
struct Buffer {
  std::string name;  // "running_mean", "running_var"
  Tensor value;
};

class Layer {
 public:
  explicit Layer(std::string name = {}) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // state_dict prefix ("model.2", "main.0", "l1.0"); empty for parameter-free layers.
  const std::string& name() const { return name_; }
  // PyTorch-like description: "ConvTranspose2d(128, 64, kernel_size=4, stride=2, padding=1)".
  virtual std::string describe() const = 0;

  // Validates the input shape (throws dcgan::Error naming the layer), sizes caches and prepared
  // ops for it, and returns the output shape. Called once per new batch shape. Input, output
  // and their gradients are NCHW.
  virtual Shape prepare(const Shape& in, ops::Impl impl) = 0;
  // prepare() with memory layouts (dcgan/ops/layout.hpp), what Sequential calls: the input and
  // dx will be stored with channel block `in_block` (0: NCHW); the layer sets `out_block` to
  // the layout its output and dy will have, which may be blocked only when `may_block`. The
  // default accepts NCHW only and keeps it.
  virtual Shape prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool may_block,
                               int& out_block);
  // Sequential's fast path offers each layer the one after it: a layer that can compute
  // `next`'s function in its own passes (BatchNorm2d absorbing a ReLU) returns true, and then
  // writes next(own output) as its output and takes next's output gradient in backward, while
  // Sequential skips `next`. Valid until the next prepare / prepare_layout.
  virtual bool fuse_next(const Layer& next) { return false; }
  // y is already sized to the output shape; it is assigned.
  virtual void forward(const Tensor& x, Tensor& y, Mode mode) = 0;
  // x, y: this layer's last forward input and output; dy: gradient of the loss w.r.t. y.
  // dx (may be null: not needed) is assigned; parameter grads accumulate when param_grads.
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                        bool param_grads) = 0;

  // PyTorch's default initialisation for this layer type (reset_parameters()).
  virtual void reset_parameters(Rng& rng) {}
  // The parameter values changed: drop anything derived from them (see the contract above).
  virtual void params_changed() {}

  std::vector<Param>& params() { return params_; }
  std::vector<Buffer>& buffers() { return buffers_; }
  // BatchNorm's num_batches_tracked (I64 in checkpoints); null for other layers.
  virtual int64_t* num_batches_tracked() { return nullptr; }

 protected:
  std::string name_;
  std::vector<Param> params_;
  std::vector<Buffer> buffers_;
};

}  // namespace dcgan
