// Numeric helpers shared by the op and layout unit tests: float vectors, seeded random data, the
// library's threading setup, and the max-difference check their near_max assertions build on.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "dcgan/threads.hpp"
#include "core/rng.hpp"
#include "support/nan_safe.hpp"

namespace dcgan::testing {

using Vec = std::vector<float>;
using VecD = std::vector<double>;
inline const float kNaN = std::numeric_limits<float>::quiet_NaN();

// The library's threading setup (OpenMP threads, single-threaded BLAS), as the CLI uses it.
[[maybe_unused]] inline const bool kThreadsSet = [] {
  set_num_threads(0);
  return true;
}();

inline Vec randn(Rng& rng, int64_t n, float mean = 0.f, float std = 1.f) {
  Vec v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.normal(mean, std);
  return v;
}

// max |want|, at least 1e-30: the natural scale of a tensor's rounding errors. NaN or inf in
// `want` give NaN or inf, which within_scale refuses.
template <class B>
double max_abs(const B& want) {
  double m = 1e-30;
  for (size_t k = 0; k < want.size(); ++k) m = max_nan(m, std::abs(double(want[k])));
  return m;
}

// max |got - want| <= tol * scale. Fails on NaN or inf anywhere (in got, want or the scale): an
// infinite scale would accept anything.
template <class A, class B>
::testing::AssertionResult within_scale(const A& got, const B& want, double tol, double scale) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  if (!std::isfinite(scale) || !std::isfinite(tol))
    return ::testing::AssertionFailure() << "scale " << scale << ", tolerance " << tol << " (not finite)";
  double worst = 0;
  size_t at = 0;
  for (size_t k = 0; k < want.size(); ++k) {
    const double d = std::abs(double(got[k]) - double(want[k]));
    if (!std::isfinite(d))
      return ::testing::AssertionFailure() << "element " << k << ": got " << got[k] << ", want " << want[k];
    if (d > worst) worst = d, at = k;
  }
  if (worst <= tol * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max diff " << worst << " at " << at << " (got " << got[at] << ", want " << want[at]
         << "), scale " << scale << ", relative " << worst / scale << " > tol " << tol;
}

}  // namespace dcgan::testing
