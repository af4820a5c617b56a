// NaN-propagating minimum and maximum for hand-written tolerance loops.
//
// std::max(m, NaN) and std::min(m, NaN) return m, so a running maximum of errors built with them
// skips NaN, and a check on the result passes when every element is NaN. Likewise `if (d > tol)
// fail` lets d = NaN through; write `if (!(d <= tol)) fail`, or compare with EXPECT_LT / EXPECT_LE
// / EXPECT_NEAR, which fail on NaN.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>

namespace dcgan::testing {

// max(a, b), NaN if either is NaN.
inline double max_nan(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN() : std::max(a, b);
}

// min(a, b), NaN if either is NaN.
inline double min_nan(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN() : std::min(a, b);
}

}  // namespace dcgan::testing
