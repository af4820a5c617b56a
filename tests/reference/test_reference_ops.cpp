// Every op against PyTorch: replays DCGAN_REFERENCE_DIR/ops/*.safetensors, written by
// tools/reference/make_reference.py (case a; its docstring lists the tensors of each op), through
// the op API of include/dcgan/ops/*.hpp, for both Impl::reference and Impl::fast. Also checks the
// gradient contract of each header: outputs and data gradients are *assigned* (buffers are
// pre-filled with NaN), parameter gradients are *accumulated* where the header says so (buffers
// are pre-filled with the expected gradient, so the result must be twice it).
//
// Errors are ||got - ref|| / ||scale||: scale is <name>_abssum where the file has one (the same
// sum with every term replaced by its absolute value: float32 rounding error is proportional to
// it, while |ref| itself can be tiny through cancellation), else ref itself (relative L2). The
// references were computed in float64 from the stored float32 inputs, so the error measured is
// ours alone; PyTorch's own float32 result scores <= 2e-7 on every case here.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "dcgan/tensor.hpp"
#include "io/safetensors.hpp"
#include "ops/activation.hpp"
#include "ops/batchnorm.hpp"
#include "ops/conv.hpp"
#include "ops/linear.hpp"
#include "ops/loss.hpp"
#include "support/reference_data.hpp"

namespace dcgan {
namespace {

using ops::Impl;

// Sums of products (linear, conv outputs and all their gradients; BN's gradients), against the
// norm of the summed |terms|: float32 sums of up to ~1000 terms in any order (blocked, threaded)
// stay near 1e-7; 1e-5 leaves a 50x margin and still catches any wrong term.
constexpr double kSumTol = 1e-5;
// BN outputs, running and saved statistics, relative L2: float32 mean and variance over up to 256
// values per channel whose mean is up to ~20 standard deviations away from 0 (cancellation).
constexpr double kBatchNormTol = 1e-5;
// Element-wise activations, relative L2: one exp / tanh per element; vectorised versions may be
// a few ulp (1 ulp = 6e-8) off the correctly rounded value.
constexpr double kElementwiseTol = 1e-6;
// Losses: the mean is accumulated in double (loss.hpp); dx is element-wise.
constexpr double kLossTol = 1e-6;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  std::string name;  // file stem, e.g. conv2d_n4_c3to16_8x8_k4s2p1_bias
  SafeTensors st;
  int64_t i(const std::string& key) const { return std::stoll(st.meta(key)); }
  float f(const std::string& key) const { return std::stof(st.meta(key)); }
  bool b(const std::string& key) const { return st.meta(key) == "1"; }
};

// All cases of one op (file stem `<op>_...`, metadata op == `<op>`). Fails when there are none.
std::vector<Case> cases_of(const std::string& op) {
  std::vector<Case> out;
  for (const auto& path : testing::reference_files("ops")) {
    std::string stem = std::filesystem::path(path).stem().string();
    if (stem.rfind(op + "_", 0) != 0) continue;
    Case c{stem, read_safetensors(path)};
    EXPECT_EQ(c.st.meta("op"), op) << path;
    out.push_back(std::move(c));
  }
  EXPECT_FALSE(out.empty()) << "no '" << op << "_*' cases in " << DCGAN_REFERENCE_DIR
                            << "/ops; run: /usr/bin/python3 tools/reference/make_reference.py "
                            << "--out " << DCGAN_REFERENCE_DIR;
  return out;
}

// ||got - factor ref|| / ||factor scale|| (see the top of the file); +inf when got has a NaN.
double error_vs(const Tensor& got, const Case& c, const std::string& name, double factor = 1.0) {
  Tensor ref = c.st.get(name, got.shape());
  Tensor scale = c.st.has(name + "_abssum") ? c.st.get(name + "_abssum", got.shape()) : ref;
  double num = 0, den = 0;
  for (int64_t k = 0; k < got.numel(); ++k) {
    if (std::isnan(got[k])) return std::numeric_limits<double>::infinity();
    const double d = got[k] - factor * ref[k];
    num += d * d;
    den += factor * factor * double(scale[k]) * scale[k];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

// EXPECT_MATCHES(got, case, "tensor name", tol [, factor]): error_vs(...) < tol, naming the case.
#define EXPECT_MATCHES(GOT, CASE, NAME, TOL, ...)                                    \
  EXPECT_LT(error_vs(GOT, CASE, NAME __VA_OPT__(, ) __VA_ARGS__), TOL)               \
      << (CASE).name << ": " << NAME                                                 \
      << (std::string(#__VA_ARGS__).empty() ? "" : " x" #__VA_ARGS__)

Tensor nan_tensor(const Shape& s) { return Tensor(s, kNaN); }

class ReferenceOps : public ::testing::TestWithParam<Impl> {};

// ---------------------------------------------------------------------------------------------
TEST_P(ReferenceOps, Linear) {
  const Impl impl = GetParam();
  for (const Case& c : cases_of("linear")) {
    ops::LinearGeom g{c.i("N"), c.i("in"), c.i("out"), c.b("bias")};
    Tensor x = c.st.get("x", {g.N, g.in});
    Tensor w = c.st.get("weight", {g.out, g.in});
    Tensor b = g.has_bias ? c.st.get("bias", {g.out}) : Tensor();
    Tensor gy = c.st.get("gy", {g.N, g.out});

    Tensor y = nan_tensor({g.N, g.out});
    ops::linear_forward(g, x.data(), w.data(), g.has_bias ? b.data() : nullptr, y.data(), impl);
    EXPECT_MATCHES(y, c, "y", kSumTol);

    // dx assigned; dW, db accumulated: pre-filled with the expected gradient, so 2x after one
    // call and 3x after a second call that skips dx (null).
    Tensor dx = nan_tensor(x.shape());
    Tensor dw = c.st.get("dweight", w.shape());
    Tensor db = g.has_bias ? c.st.get("dbias", {g.out}) : Tensor();
    float* dbp = g.has_bias ? db.data() : nullptr;
    ops::linear_backward(g, x.data(), w.data(), gy.data(), dx.data(), dw.data(), dbp, impl);
    EXPECT_MATCHES(dx, c, "dx", kSumTol);
    EXPECT_MATCHES(dw, c, "dweight", kSumTol, 2.0);
    if (g.has_bias) EXPECT_MATCHES(db, c, "dbias", kSumTol, 2.0);
    ops::linear_backward(g, x.data(), w.data(), gy.data(), nullptr, dw.data(), dbp, impl);
    EXPECT_MATCHES(dw, c, "dweight", kSumTol, 3.0);
    if (g.has_bias) EXPECT_MATCHES(db, c, "dbias", kSumTol, 3.0);
  }
}

// ---------------------------------------------------------------------------------------------
void check_conv(const std::string& op, Impl impl) {
  for (const Case& c : cases_of(op)) {
    ops::ConvGeom g;
    g.N = c.i("N"), g.C_in = c.i("C_in"), g.H = c.i("H"), g.W = c.i("W"), g.C_out = c.i("C_out");
    g.kernel = c.i("kernel"), g.stride = c.i("stride"), g.padding = c.i("padding");
    g.output_padding = c.i("output_padding");
    g.transposed = op == "convtranspose2d";
    g.has_bias = c.b("bias");
    ASSERT_EQ(g.Ho(), c.i("Ho")) << c.name;
    ASSERT_EQ(g.Wo(), c.i("Wo")) << c.name;
    const int64_t k = g.kernel;
    const Shape wshape = g.transposed ? Shape{g.C_in, g.C_out, k, k} : Shape{g.C_out, g.C_in, k, k};
    Tensor x = c.st.get("x", {g.N, g.C_in, g.H, g.W});
    Tensor w = c.st.get("weight", wshape);
    Tensor b = g.has_bias ? c.st.get("bias", {g.C_out}) : Tensor();
    Tensor gy = c.st.get("gy", {g.N, g.C_out, g.Ho(), g.Wo()});
    auto conv = ops::make_conv(g, impl);

    // Twice: the second call reuses whatever the op cached on the first.
    for (int rep = 0; rep < 2; ++rep) {
      Tensor y = nan_tensor(gy.shape());
      conv->forward(x.data(), w.data(), g.has_bias ? b.data() : nullptr, y.data());
      EXPECT_MATCHES(y, c, "y", kSumTol) << " (call " << rep + 1 << ")";
    }

    Tensor dx = nan_tensor(x.shape());
    conv->backward_data(gy.data(), w.data(), dx.data());
    EXPECT_MATCHES(dx, c, "dx", kSumTol);

    // accumulate = false assigns (NaN pre-fill), accumulate = true adds (2x after the second).
    Tensor dw = nan_tensor(wshape);
    Tensor db = g.has_bias ? nan_tensor({g.C_out}) : Tensor();
    float* dbp = g.has_bias ? db.data() : nullptr;
    conv->backward_weights(x.data(), gy.data(), dw.data(), dbp, false);
    EXPECT_MATCHES(dw, c, "dweight", kSumTol);
    if (g.has_bias) EXPECT_MATCHES(db, c, "dbias", kSumTol);
    conv->backward_weights(x.data(), gy.data(), dw.data(), dbp, true);
    EXPECT_MATCHES(dw, c, "dweight", kSumTol, 2.0);
    if (g.has_bias) EXPECT_MATCHES(db, c, "dbias", kSumTol, 2.0);
  }
}

TEST_P(ReferenceOps, Conv2d) { check_conv("conv2d", GetParam()); }
TEST_P(ReferenceOps, ConvTranspose2d) { check_conv("convtranspose2d", GetParam()); }

// ---------------------------------------------------------------------------------------------
TEST_P(ReferenceOps, BatchNorm2d) {
  const Impl impl = GetParam();
  for (const Case& c : cases_of("batchnorm2d")) {
    const int64_t N = c.i("N"), C = c.i("C"), H = c.i("H"), W = c.i("W");
    ops::BatchNormGeom g{N, C, H * W};
    const float eps = c.f("eps"), momentum = c.f("momentum");
    const Shape xs{N, C, H, W}, cs{C};
    Tensor x = c.st.get("x", xs), gy = c.st.get("gy", xs);
    Tensor gamma = c.st.get("weight", cs), beta = c.st.get("bias", cs);

    // Train-mode forward: y and the saved statistics assigned, running stats updated in place.
    Tensor rm = c.st.get("running_mean_before", cs), rv = c.st.get("running_var_before", cs);
    Tensor y = nan_tensor(xs), save_mean = nan_tensor(cs), save_invstd = nan_tensor(cs);
    ops::batchnorm_forward_train(g, x.data(), gamma.data(), beta.data(), eps, momentum, rm.data(),
                                 rv.data(), y.data(), save_mean.data(), save_invstd.data(), impl);
    EXPECT_MATCHES(y, c, "y", kBatchNormTol);
    EXPECT_MATCHES(save_mean, c, "save_mean", kBatchNormTol);
    EXPECT_MATCHES(save_invstd, c, "save_invstd", kBatchNormTol);
    EXPECT_MATCHES(rm, c, "running_mean_after", kBatchNormTol);
    EXPECT_MATCHES(rv, c, "running_var_after", kBatchNormTol);

    // Eval-mode forward with PyTorch's updated running stats (isolates eval from the update).
    Tensor rm_ref = c.st.get("running_mean_after", cs), rv_ref = c.st.get("running_var_after", cs);
    Tensor y_eval = nan_tensor(xs);
    ops::batchnorm_forward_eval(g, x.data(), gamma.data(), beta.data(), eps, rm_ref.data(),
                                rv_ref.data(), y_eval.data(), impl);
    EXPECT_MATCHES(y_eval, c, "y_eval", kBatchNormTol);

    // Backward from our own saved statistics: dx assigned; dgamma, dbeta accumulated (pre-filled
    // with the expected gradient: 2x, then 3x after a second call that skips dx).
    Tensor dx = nan_tensor(xs);
    Tensor dgamma = c.st.get("dweight", cs), dbeta = c.st.get("dbias", cs);
    ops::batchnorm_backward(g, x.data(), gy.data(), gamma.data(), save_mean.data(),
                            save_invstd.data(), dx.data(), dgamma.data(), dbeta.data(), impl);
    EXPECT_MATCHES(dx, c, "dx", kSumTol);
    EXPECT_MATCHES(dgamma, c, "dweight", kSumTol, 2.0);
    EXPECT_MATCHES(dbeta, c, "dbias", kSumTol, 2.0);
    ops::batchnorm_backward(g, x.data(), gy.data(), gamma.data(), save_mean.data(),
                            save_invstd.data(), nullptr, dgamma.data(), dbeta.data(), impl);
    EXPECT_MATCHES(dgamma, c, "dweight", kSumTol, 3.0);
    EXPECT_MATCHES(dbeta, c, "dbias", kSumTol, 3.0);
  }
}

// ---------------------------------------------------------------------------------------------
void check_activation(const std::string& op, ops::Act act, Impl impl) {
  for (const Case& c : cases_of(op)) {
    const float slope = c.f("slope");
    Tensor x = c.st.get("x");
    Tensor gy = c.st.get("gy", x.shape());
    const int64_t n = x.numel();

    Tensor y = nan_tensor(x.shape());
    ops::activation_forward(act, slope, n, x.data(), y.data(), impl);
    EXPECT_MATCHES(y, c, "y", kElementwiseTol);
    Tensor y_inplace = x.clone();  // y may alias x
    ops::activation_forward(act, slope, n, y_inplace.data(), y_inplace.data(), impl);
    EXPECT_MATCHES(y_inplace, c, "y", kElementwiseTol) << " (in place)";

    // Backward takes the forward input and output; uses PyTorch's y so that only backward is
    // measured.
    Tensor y_ref = c.st.get("y", x.shape());
    Tensor dx = nan_tensor(x.shape());
    ops::activation_backward(act, slope, n, x.data(), y_ref.data(), gy.data(), dx.data(), impl);
    EXPECT_MATCHES(dx, c, "dx", kElementwiseTol);
    Tensor dx_inplace = gy.clone();  // dx may alias dy
    ops::activation_backward(act, slope, n, x.data(), y_ref.data(), dx_inplace.data(),
                             dx_inplace.data(), impl);
    EXPECT_MATCHES(dx_inplace, c, "dx", kElementwiseTol) << " (in place)";
  }
}

TEST_P(ReferenceOps, ReLU) { check_activation("relu", ops::Act::relu, GetParam()); }
TEST_P(ReferenceOps, LeakyReLU) { check_activation("leakyrelu", ops::Act::leaky_relu, GetParam()); }
TEST_P(ReferenceOps, Tanh) { check_activation("tanh", ops::Act::tanh, GetParam()); }
TEST_P(ReferenceOps, Sigmoid) { check_activation("sigmoid", ops::Act::sigmoid, GetParam()); }

INSTANTIATE_TEST_SUITE_P(Impl, ReferenceOps, ::testing::Values(Impl::reference, Impl::fast),
                         [](const ::testing::TestParamInfo<Impl>& info) {
                           return std::string(ops::impl_name(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// Losses have one implementation (no Impl).
using LossForward = float (*)(int64_t, const float*, const float*);
using LossBackward = void (*)(int64_t, const float*, const float*, float, float*);

void check_loss(const std::string& op, LossForward fwd, LossBackward bwd) {
  for (const Case& c : cases_of(op)) {
    Tensor x = c.st.get("x");
    Tensor t = c.st.get("target", x.shape());
    const int64_t n = x.numel();
    ASSERT_EQ(n, c.i("N")) << c.name;
    Tensor loss({1}, fwd(n, x.data(), t.data()));
    EXPECT_MATCHES(loss, c, "loss", kLossTol);
    Tensor dx = nan_tensor(x.shape());
    bwd(n, x.data(), t.data(), c.f("grad_out"), dx.data());
    EXPECT_MATCHES(dx, c, "dx", kLossTol);
  }
}

TEST(ReferenceLosses, BCELoss) { check_loss("bceloss", ops::bce_forward, ops::bce_backward); }
TEST(ReferenceLosses, BCEWithLogitsLoss) {
  check_loss("bcewithlogitsloss", ops::bce_with_logits_forward, ops::bce_with_logits_backward);
}

}  // namespace
}  // namespace dcgan
