// Softmax cross-entropy (src/ops/cross_entropy.hpp):
//   - against PyTorch: tools/reference/make_reference_eval.py, run by this test into a fresh
//     temporary directory (F.cross_entropy in float64 on float32 inputs), including logits that
//     overflow a naive exp();
//   - finite-difference gradients of g * loss in double;
//   - the gradient contract (dlogits assigned: NaN-prefilled buffers fully overwritten);
//   - errors on bad labels and non-finite logits; argmax accuracy with ties.
// The python used is $DCGAN_PYTHON, else /usr/bin/python3 (it needs torch and numpy).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "dcgan/error.hpp"
#include "core/rng.hpp"
#include "io/safetensors.hpp"
#include "ops/cross_entropy.hpp"
#include "support/cli.hpp"
#include "support/nan_safe.hpp"

namespace fs = std::filesystem;

namespace dcgan::ops {
namespace {

std::string python() {
  const char* p = std::getenv("DCGAN_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

std::vector<int64_t> labels_of(const SafeTensors& st) {
  const StTensor& t = st.tensors.at("labels");
  EXPECT_EQ(t.dtype, "I64");
  std::vector<int64_t> y(t.bytes.size() / sizeof(int64_t));
  std::memcpy(y.data(), t.bytes.data(), t.bytes.size());
  return y;
}

TEST(CrossEntropy, MatchesPyTorch) {
  testing::TempDir dir("cross-entropy-ref");
  const std::string cmd = python() + " " DCGAN_SOURCE_DIR "/tools/reference/make_reference_eval.py --out '" +
                          dir.str() + "' >/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0)
      << cmd << "\nHINT: the reference data needs PyTorch; set DCGAN_PYTHON to a python with torch";
  int cases = 0;
  for (auto& e : fs::directory_iterator(dir.path)) {
    if (e.path().filename().string().rfind("cross_entropy_", 0) != 0) continue;
    SCOPED_TRACE(e.path().filename().string());
    SafeTensors st = read_safetensors(e.path().string());
    const int64_t N = std::stoll(st.meta("N")), K = std::stoll(st.meta("K"));
    const float g = std::stof(st.meta("grad_out"));
    Tensor x = st.get("logits", {N, K});
    std::vector<int64_t> y = labels_of(st);
    ASSERT_EQ(int64_t(y.size()), N);
    const float ref_loss = st.get("loss", {1})[0];
    const float loss = cross_entropy_forward(N, K, x.data(), y.data());
    // A row's loss is lse - (x_y - m): two float terms of magnitude <= |x| each carrying ~1 ulp.
    double xmax = 1;
    for (int64_t i = 0; i < x.numel(); ++i) xmax = testing::max_nan(xmax, double(std::abs(x[i])));
    xmax = std::min(xmax, 1e5);  // beyond this the terms are exact differences of equal logits
    EXPECT_NEAR(loss, ref_loss, 4e-7 * std::max<double>(std::abs(ref_loss), xmax)) << "loss";
    Tensor dx({N, K}, std::numeric_limits<float>::quiet_NaN());
    cross_entropy_backward(N, K, x.data(), y.data(), g, dx.data());
    Tensor ref_dx = st.get("dlogits", {N, K});
    // Every element is g/N times a probability (or probability - 1): a few float ulps of g/N.
    EXPECT_LE(max_abs_diff(dx, ref_dx), 1e-6 * std::abs(g) / N) << "dlogits";
    ++cases;
  }
  EXPECT_GE(cases, 5) << "expected the reference script to write 5 cross_entropy cases";
}

TEST(CrossEntropy, FiniteDifferenceGradientInDouble) {
  Rng rng(17);
  for (auto [N, K] : {std::pair<int64_t, int64_t>{1, 1}, {1, 2}, {5, 7}, {13, 10}, {3, 100}}) {
    SCOPED_TRACE(fmt::format("N={} K={}", N, K));
    std::vector<double> x(N * K), dx(N * K, std::nan(""));
    std::vector<int64_t> y(N);
    for (auto& v : x) v = 3.0 * rng.normal();
    for (auto& v : y) v = int64_t(rng.below(uint64_t(K)));
    const double g = 0.7;
    cross_entropy_backward(N, K, x.data(), y.data(), g, dx.data());
    // L(x) = g * loss(x); central differences, h = 1e-5: truncation ~h^2, rounding ~1e-16 / h.
    const double h = 1e-5;
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < N * K; ++i) {
      const double keep = x[i];
      x[i] = keep + h;
      const double lp = g * cross_entropy_forward(N, K, x.data(), y.data());
      x[i] = keep - h;
      const double lm = g * cross_entropy_forward(N, K, x.data(), y.data());
      x[i] = keep;
      worst = testing::max_nan(worst, std::abs((lp - lm) / (2 * h) - dx[i]));  // dx was NaN-filled
      scale = testing::max_nan(scale, std::abs(dx[i]));
    }
    EXPECT_LE(worst, 1e-8 * std::max(scale, g / N));
    if (K == 1) EXPECT_EQ(scale, 0.0) << "one class: the loss is constant 0";
  }
}

TEST(CrossEntropy, KnownValuesAndStability) {
  // Uniform logits: loss = log K; gradient (1/K - onehot) / N.
  const float x[6] = {2, 2, 2, -1, -1, -1};
  const int64_t y[2] = {0, 2};
  EXPECT_NEAR(cross_entropy_forward(2, 3, x, y), std::log(3.f), 1e-6);
  float dx[6];
  cross_entropy_backward(2, 3, x, y, 1.f, dx);
  EXPECT_NEAR(dx[0], (1.f / 3 - 1) / 2, 1e-7);
  EXPECT_NEAR(dx[1], (1.f / 3) / 2, 1e-7);
  EXPECT_NEAR(dx[5], (1.f / 3 - 1) / 2, 1e-7);
  // exp(1000) overflows float; the max-subtracted form gives the exact answer.
  const float big[2] = {1000.f, 0.f};
  const int64_t lab[1] = {1};
  EXPECT_FLOAT_EQ(cross_entropy_forward(1, 2, big, lab), 1000.f);
  cross_entropy_backward(1, 2, big, lab, 1.f, dx);
  EXPECT_FLOAT_EQ(dx[0], 1.f);
  EXPECT_FLOAT_EQ(dx[1], -1.f);
}

TEST(CrossEntropy, ErrorsNameTheProblem) {
  const float x[4] = {0, 1, 2, 3};
  const int64_t bad[2] = {0, 2};
  try {
    cross_entropy_forward(2, 2, x, bad);
    FAIL() << "label 2 with K = 2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 2 of row 1"), std::string::npos) << e.what();
  }
  const int64_t neg[1] = {-1};
  EXPECT_THROW(cross_entropy_forward(1, 4, x, neg), Error);
  const float nan[2] = {0, std::numeric_limits<float>::quiet_NaN()};
  const int64_t ok[1] = {0};
  float dx[2];
  EXPECT_THROW(cross_entropy_forward(1, 2, nan, ok), Error);
  EXPECT_THROW(cross_entropy_backward(1, 2, nan, ok, 1.f, dx), Error);
  EXPECT_THROW(cross_entropy_forward(0, 2, x, ok), Error);
}

TEST(CrossEntropy, CountCorrectTakesTheFirstMaximum) {
  const float x[9] = {0, 5, 1,   //
                      3, 3, 0,   // tie: argmax is 0
                      -1, -2, -0.5f};
  const int64_t y[3] = {1, 1, 2};
  EXPECT_EQ(count_correct(3, 3, x, y), 2);
}

}  // namespace
}  // namespace dcgan::ops
