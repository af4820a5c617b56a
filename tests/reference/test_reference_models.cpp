// Whole generator and discriminator, forward and backward in train mode, against PyTorch
// (tools/reference/make_reference.py, case b), for both Impl::reference and Impl::fast.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "models/checkpoint_io.hpp"
#include "models/models.hpp"
#include "support/reference_data.hpp"

namespace dcgan {
namespace {

// Forward outputs: float32 rounding through ~10 layers; 1e-5 relative L2 leaves ample room.
constexpr double kForwardTol = 1e-5;
// Parameter gradients: reductions over batch and space in different orders than PyTorch
// (oneDNN blocked kernels), amplified through BatchNorm's backward: 1e-4 relative L2.
constexpr double kGradTol = 1e-4;
// Biases directly before a BatchNorm have an exactly zero gradient (BN removes any per-channel
// shift); PyTorch stores 0 (computed in float64) and float32 code computes rounding noise. The
// noise of a float32 sum scales with the sum of its terms' magnitudes, which the reference stores
// per channel (g_grad_abssum / d_grad_abssum: sum of |dL/dy| over batch and pixels of the layer's
// output y). Measured |noise| / abssum <= 1.1e-7 for the conv biases and 6.3e-7 for the 16 px seed
// G's l1.0.bias (both impls, 1 and 2 threads, native and DNNL_MAX_CPU_ISA=AVX2); 5e-6 leaves 8x.
// (The former 1e-4 absolute equalled D's whole gradients there: their RMS is 3.5e-5 to 1.4e-4.)
constexpr double kZeroGradTol = 5e-6;

// |grad[c]| <= kZeroGradTol * abssum[c] for every channel c; NaN fails.
::testing::AssertionResult zero_grad_noise(const Tensor& grad, const Tensor& abssum) {
  if (grad.numel() != abssum.numel())
    return ::testing::AssertionFailure() << grad.numel() << " gradients but " << abssum.numel() << " scales";
  for (int64_t c = 0; c < grad.numel(); ++c) {
    if (!(abssum[c] > 0)) return ::testing::AssertionFailure() << "no scale for channel " << c;
    const double r = std::fabs(double(grad[c])) / double(abssum[c]);
    if (!(r <= kZeroGradTol))  // also NaN
      return ::testing::AssertionFailure() << "channel " << c << ": " << grad[c] << " is " << r
                                           << " of the sum of its terms' magnitudes " << abssum[c]
                                           << " (tolerance " << kZeroGradTol << ")";
  }
  return ::testing::AssertionSuccess();
}

void check_model_file(const std::string& path, ops::Impl impl) {
  SCOPED_TRACE(path + " impl=" + ops::impl_name(impl));
  SafeTensors st = read_safetensors(path);
  ModelConfig cfg = ModelConfig::from_metadata(st.metadata);
  auto G = build_generator(cfg, impl);
  auto D = build_discriminator(cfg, impl);
  load_network(st, "generator.", *G);
  load_network(st, "discriminator.", *D);

  // Generator: forward, backward of dot(out, g_gy).
  Tensor z = st.get("z");
  const Tensor& out = G->forward(z, Mode::train);
  Tensor ref_out = st.get("g_out", out.shape());
  EXPECT_LT(rel_l2_error(out, ref_out), kForwardTol) << "generator output";
  G->zero_grad();
  G->backward(st.get("g_gy", out.shape()), false, true);
  auto g_zero = testing::meta_list(st, "g_zero_grad_params");
  auto d_zero = testing::meta_list(st, "d_zero_grad_params");
  size_t zero_checked = 0;  // every listed parameter must be found and checked
  for (auto& e : G->state()) {
    if (e.is_param && g_zero.count(e.name)) {
      EXPECT_TRUE(zero_grad_noise(*e.grad, st.get("g_grad_abssum." + e.name)))
          << "generator grad " << e.name << " should be zero";
      ++zero_checked;
    } else if (e.is_param) {
      Tensor ref = st.get("g_grad." + e.name, e.grad->shape());
      EXPECT_LT(rel_l2_error(*e.grad, ref), kGradTol) << "generator grad " << e.name;
    } else if (e.tensor && st.has("g_buffers_after." + e.name)) {
      Tensor ref = st.get("g_buffers_after." + e.name, e.tensor->shape());
      EXPECT_LT(rel_l2_error(*e.tensor, ref), kForwardTol) << "generator buffer " << e.name;
    }
  }

  // Discriminator: forward, backward with input gradient.
  Tensor x = st.get("x");
  const Tensor& dout = D->forward(x, Mode::train);
  EXPECT_LT(rel_l2_error(dout, st.get("d_out")), kForwardTol) << "discriminator output";
  D->zero_grad();
  const Tensor& dx = D->backward(st.get("d_gy", dout.shape()), true, true);
  EXPECT_LT(rel_l2_error(dx, st.get("d_dx", x.shape())), kGradTol) << "discriminator input grad";
  for (auto& e : D->state()) {
    if (e.is_param && d_zero.count(e.name)) {
      EXPECT_TRUE(zero_grad_noise(*e.grad, st.get("d_grad_abssum." + e.name)))
          << "discriminator grad " << e.name << " should be zero";
      ++zero_checked;
    } else if (e.is_param) {
      Tensor ref = st.get("d_grad." + e.name, e.grad->shape());
      EXPECT_LT(rel_l2_error(*e.grad, ref), kGradTol) << "discriminator grad " << e.name;
    } else if (e.tensor && st.has("d_buffers_after." + e.name)) {
      Tensor ref = st.get("d_buffers_after." + e.name, e.tensor->shape());
      EXPECT_LT(rel_l2_error(*e.tensor, ref), kForwardTol) << "discriminator buffer " << e.name;
    }
  }
  EXPECT_EQ(zero_checked, g_zero.size() + d_zero.size());
  EXPECT_EQ(zero_checked > 0, cfg.arch == "seed") << "the seed nets have conv biases before BatchNorms";
}

TEST(ReferenceModels, ForwardBackwardMatchPyTorch) {
  auto files = testing::reference_files("models");
  std::set<std::string> archs;
  for (auto& f : files) {
    archs.insert(read_safetensors(f).meta("arch"));
    for (ops::Impl impl : {ops::Impl::reference, ops::Impl::fast}) check_model_file(f, impl);
  }
  EXPECT_EQ(archs, (std::set<std::string>{"dcgan", "seed"})) << "models of each architecture";
}

}  // namespace
}  // namespace dcgan
