// The layers a DCGAN needs, named and parameterised as in torch.nn.
#pragma once
#include <memory>
#include <vector>

#include "nn/layer.hpp"
#include "ops/activation.hpp"
#include "ops/batchnorm.hpp"
#include "ops/conv.hpp"
#include "ops/linear.hpp"

namespace dcgan {

// https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
// x (N, in) -> y (N, out); weight (out, in), bias (out).
class Linear : public Layer {
 public:
  Linear(std::string name, int64_t in, int64_t out, bool bias = true);
  std::string describe() const override;
  Shape prepare(const Shape& in, ops::Impl impl) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                bool param_grads) override;
  void reset_parameters(Rng& rng) override;

 private:
  ops::LinearGeom geom_;  // N set by prepare
  ops::Impl impl_ = ops::Impl::fast;
};

// Conv2d (transposed = false) and ConvTranspose2d (transposed = true), square kernels.
// https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
// https://pytorch.org/docs/stable/generated/torch.nn.ConvTranspose2d.html
// x (N, C_in, H, W) -> y (N, C_out, Ho, Wo); weight (C_out, C_in, k, k) for Conv2d,
// (C_in, C_out, k, k) for ConvTranspose2d; bias (C_out).
class ConvLayer : public Layer {
 public:
  ConvLayer(std::string name, bool transposed, int64_t in, int64_t out, int64_t kernel,
            int64_t stride, int64_t padding, int64_t output_padding, bool bias);
  std::string describe() const override;
  Shape prepare(const Shape& in, ops::Impl impl) override;
  // Any input layout; a blocked output when may_block and the op picks one (ConvGeom::y_block).
  Shape prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool may_block,
                       int& out_block) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                bool param_grads) override;
  void reset_parameters(Rng& rng) override;
  void params_changed() override;
  bool transposed() const { return geom_.transposed; }
  // Kernel, stride, padding and channels (N, H, W are those of the last prepare): what an
  // exporter needs to write the same convolution elsewhere (src/export/onnx.cpp).
  const ops::ConvGeom& geometry() const { return geom_; }

 private:
  ops::ConvGeom geom_;                  // N, H, W set by prepare
  std::unique_ptr<ops::ConvOp> op_;     // prepared for geom_
  ops::Impl impl_ = ops::Impl::fast;
};

inline std::unique_ptr<ConvLayer> Conv2d(std::string name, int64_t in, int64_t out, int64_t k,
                                         int64_t stride, int64_t padding, bool bias = true) {
  return std::make_unique<ConvLayer>(std::move(name), false, in, out, k, stride, padding, 0, bias);
}
inline std::unique_ptr<ConvLayer> ConvTranspose2d(std::string name, int64_t in, int64_t out,
                                                  int64_t k, int64_t stride, int64_t padding,
                                                  int64_t output_padding = 0, bool bias = true) {
  return std::make_unique<ConvLayer>(std::move(name), true, in, out, k, stride, padding,
                                     output_padding, bias);
}

// https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
// x, y (N, C, H, W); weight, bias, running_mean, running_var (C).
class BatchNorm2d : public Layer {
 public:
  // One train-mode batch's per-channel statistics, as the forward pass computed them (double,
  // var biased), and its value count per channel M = N*H*W: what the running-statistics update
  // of that pass used, so it can be replayed (apply_running_update).
  struct BatchStats {
    std::vector<double> mean, var;  // (C)
    int64_t M = 0;
  };

  BatchNorm2d(std::string name, int64_t channels, float eps = 1e-5f, float momentum = 0.1f);
  std::string describe() const override;
  Shape prepare(const Shape& in, ops::Impl impl) override;
  // Any layout, kept for the output.
  Shape prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool may_block,
                       int& out_block) override;
  // Absorbs a following ReLU, or LeakyReLU with slope >= 0 (ops::BnAct).
  bool fuse_next(const Layer& next) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                bool param_grads) override;
  void reset_parameters(Rng& rng) override;
  int64_t* num_batches_tracked() override { return &num_batches_tracked_; }
  float eps() const { return eps_; }

  // The statistics of the last train-mode forward (empty M before the first one).
  const BatchStats& last_batch_stats() const { return last_stats_; }
  // Updates running_mean / running_var from `s` exactly as a train-mode forward pass over that
  // batch does, and counts it in num_batches_tracked: GanStep uses it to apply the third update
  // of PyTorch's fake -> real -> fake order without running the third forward pass.
  void apply_running_update(const BatchStats& s);
  // Sync-BN (data-parallel training, dist/): train-mode passes use the statistics of the whole
  // job's batch, summed over the processes by `sum` (ops::CrossSum); an empty function goes back
  // to this process's own batch.
  void set_cross_sum(ops::CrossSum sum) { cross_ = std::move(sum); }

 private:
  int64_t C_;
  float eps_, momentum_;
  int64_t num_batches_tracked_ = 0;
  Tensor save_mean_, save_invstd_;  // (C) from the last train-mode forward
  BatchStats last_stats_;           // (C) from the last train-mode forward
  bool have_batch_stats_ = false;  // a train forward saved the statistics backward uses (eval forwards keep them)
  Shape in_shape_;
  int block_ = 0;                   // layout of x and y
  ops::BnAct act_;                  // fused activation (fuse_next)
  ops::Impl impl_ = ops::Impl::fast;
  Tensor scratch_;                  // (2C) parameter-gradient sink when param_grads is false
  ops::CrossSum cross_;             // sync-BN: sums over the job's processes (empty: none)
};

// ReLU, LeakyReLU(slope), Tanh, Sigmoid: element-wise, any shape.
class Activation : public Layer {
 public:
  explicit Activation(ops::Act act, float slope = 0.f);
  std::string describe() const override;
  Shape prepare(const Shape& in, ops::Impl impl) override;
  // Element-wise: any layout, kept for the output.
  Shape prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool may_block,
                       int& out_block) override;
  ops::Act act() const { return act_; }
  float slope() const { return slope_; }
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                bool param_grads) override;

 private:
  ops::Act act_;
  float slope_;
  ops::Impl impl_ = ops::Impl::fast;
};

inline std::unique_ptr<Activation> ReLU() { return std::make_unique<Activation>(ops::Act::relu); }
inline std::unique_ptr<Activation> LeakyReLU(float slope) {
  return std::make_unique<Activation>(ops::Act::leaky_relu, slope);
}
inline std::unique_ptr<Activation> Tanh() { return std::make_unique<Activation>(ops::Act::tanh); }
inline std::unique_ptr<Activation> Sigmoid() {
  return std::make_unique<Activation>(ops::Act::sigmoid);
}

// View as another shape with the batch dimension kept: (N, ...) -> (N, dims...).
// PyTorch's `out.view(N, 128, s, s)` and `out.view(N, -1)` (flatten).
class Reshape : public Layer {
 public:
  explicit Reshape(Shape per_sample);  // per_sample empty = flatten to (N, rest)
  std::string describe() const override;
  const Shape& per_sample() const { return per_sample_; }
  Shape prepare(const Shape& in, ops::Impl impl) override;
  // The view is of NCHW data: a blocked input is reordered to NCHW (flatten before a Linear);
  // an NCHW input viewed as (N, C, H, W) may be reordered to the block convolutions prefer.
  Shape prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool may_block,
                       int& out_block) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                bool param_grads) override;

 private:
  Shape per_sample_;
  Shape in_, out_;                    // (N, ...) input and output shapes from prepare
  int in_block_ = 0, out_block_ = 0;  // their layouts (at most one blocked)
  ops::Impl impl_ = ops::Impl::fast;
};

}  // namespace dcgan
