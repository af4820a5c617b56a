// The comparison helpers the other tests rely on (tests/support/, and the library's
// max_abs_diff / rel_l2_error): each must fail on NaN and inf, never pass vacuously.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "dcgan/tensor.hpp"
#include "support/bn_bias_share.hpp"
#include "support/nan_safe.hpp"
#include "support/numeric.hpp"

namespace dcgan {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(TestHelpers, MaxMinPropagateNaN) {
  EXPECT_EQ(testing::max_nan(1, 2), 2);
  EXPECT_EQ(testing::min_nan(1, 2), 1);
  EXPECT_TRUE(std::isnan(testing::max_nan(1, kNaN)));
  EXPECT_TRUE(std::isnan(testing::max_nan(kNaN, 1)));
  EXPECT_TRUE(std::isnan(testing::min_nan(1, kNaN)));
  EXPECT_TRUE(std::isnan(testing::min_nan(kNaN, 1)));
  // A running maximum over {0, NaN, 0.5}: NaN, where std::max gives 0.5.
  double m = 0;
  for (double v : {0.0, kNaN, 0.5}) m = testing::max_nan(m, v);
  EXPECT_TRUE(std::isnan(m));
}

TEST(TestHelpers, WithinScaleFailsOnNaNAndInf) {
  using V = std::vector<double>;
  EXPECT_TRUE(testing::within_scale(V{1, 2}, V{1, 2}, 1e-6, 1.0));
  EXPECT_FALSE(testing::within_scale(V{1, 2.1}, V{1, 2}, 1e-6, 1.0));
  EXPECT_FALSE(testing::within_scale(V{1, kNaN}, V{1, 2}, 1e-6, 1.0));   // NaN got
  EXPECT_FALSE(testing::within_scale(V{1, 2}, V{1, kNaN}, 1e-6, 1.0));   // NaN want
  EXPECT_FALSE(testing::within_scale(V{1, kInf}, V{1, 2}, 1e-6, 1.0));   // inf got
  EXPECT_FALSE(testing::within_scale(V{1, kInf}, V{1, kInf}, 1e-6, 1.0));
  EXPECT_FALSE(testing::within_scale(V{1, 2}, V{1, 2}, 1e-6, kNaN));     // NaN scale
  EXPECT_FALSE(testing::within_scale(V{5, 2}, V{1, 2}, 1e-6, kInf));     // inf scale accepts all
  EXPECT_FALSE(testing::within_scale(V{1}, V{1, 2}, 1e-6, 1.0));         // sizes
  // max_abs, the usual scale, passes NaN and inf on, so within_scale refuses them.
  EXPECT_TRUE(std::isnan(testing::max_abs(V{1, kNaN, 3})));
  EXPECT_TRUE(std::isinf(testing::max_abs(V{1, kInf})));
  EXPECT_EQ(testing::max_abs(V{1, -3}), 3);
}

TEST(TestHelpers, LibraryDifferencesPropagateNaN) {
  Tensor a({3}, 1.f), b({3}, 1.f);
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
  EXPECT_EQ(rel_l2_error(a, b), 0.0);
  a[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(max_abs_diff(a, b)));
  EXPECT_TRUE(std::isnan(rel_l2_error(a, b)));
  b[1] = a[1];  // NaN in both at the same place is not "equal"
  EXPECT_TRUE(std::isnan(max_abs_diff(a, b)));
  EXPECT_TRUE(std::isnan(rel_l2_error(a, b)));
  a[1] = b[1] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isnan(max_abs_diff(a, b)));
  EXPECT_FALSE(rel_l2_error(a, b) < 1e-3);
}

TEST(TestHelpers, BiasShareFollowsTheRunningMean) {
  // A BatchNorm running mean fed batch means x_j + b (x_j bias-free, b the bias), momentum m:
  // running_mean - share equals the running mean of the x_j alone.
  const double m = 0.1;
  const std::vector<std::vector<float>> biases = {{0.5f, -1.f}, {0.25f, 2.f}};
  const std::vector<double> x = {0.3, -0.7, 1.1, 0.2, -0.4, 0.9};  // bias-free batch means
  std::vector<double> rm = {0, 0}, rm_free = {0, 0};
  testing::BiasShare share;
  share.c.assign(2, 0.0);
  size_t j = 0;
  for (const auto& b : biases) {  // a "step": 3 running updates while the bias holds b
    for (int k = 0; k < 3; ++k, ++j)
      for (size_t c = 0; c < 2; ++c) {
        rm[c] = (1 - m) * rm[c] + m * (x[j] + b[c]);
        rm_free[c] = (1 - m) * rm_free[c] + m * x[j];
      }
    share.update(b.data(), 3, m);
  }
  Tensor t({2});
  for (size_t c = 0; c < 2; ++c) t[int64_t(c)] = float(rm[c]);
  const Tensor free = share.without(t);
  for (size_t c = 0; c < 2; ++c) EXPECT_NEAR(free[int64_t(c)], rm_free[c], 1e-6) << c;
}

}  // namespace
}  // namespace dcgan
