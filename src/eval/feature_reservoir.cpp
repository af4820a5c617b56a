// FeatureReservoir: a bounded uniform sample of feature rows (Vitter's algorithm R).
// Legend: N rows offered in one call, D feature dimension.
#include <algorithm>
#include <cstring>

#include "dcgan/error.hpp"
#include "eval/metrics.hpp"

namespace dcgan::eval {

FeatureReservoir::FeatureReservoir(int64_t dim, int64_t capacity, uint64_t seed)
    : dim_(dim), capacity_(capacity), rng_(seed) {
  DCGAN_CHECK(dim > 0, "[FeatureReservoir] feature dimension must be positive, got {}", dim);
  DCGAN_CHECK(capacity > 0, "[FeatureReservoir] capacity must be positive, got {}", capacity);
}

void FeatureReservoir::add(const Tensor& features) {
  DCGAN_CHECK(features.ndim() == 2 && features.dim(1) == dim_,
              "[FeatureReservoir] expected features (N, {}), got {}", dim_,
              shape_str(features.shape()));
  add(features.data(), features.dim(0));
}

void FeatureReservoir::add(const float* x, int64_t n) {
  DCGAN_CHECK(n >= 0, "[FeatureReservoir] negative row count {}", n);
  const int64_t D = dim_;
  // Phase 1: append while there is room. The buffer grows geometrically (Tensor::resize only
  // reallocates when growing, and then loses the contents, so growth copies by hand).
  const int64_t n_append = std::min(n, capacity_ - std::min(seen_, capacity_));
  if (n_append > 0) {
    const int64_t old_rows = size();
    const int64_t new_rows = old_rows + n_append;
    if (new_rows > grown_rows_) {
      const int64_t rows = std::min(capacity_, std::max(new_rows, 2 * grown_rows_));
      Tensor bigger({rows, D});
      if (old_rows) std::memcpy(bigger.data(), features_.data(), old_rows * D * sizeof(float));
      features_ = bigger;
      grown_rows_ = rows;
    }
    features_.resize({new_rows, D});
    std::memcpy(features_.data() + old_rows * D, x, n_append * D * sizeof(float));
    seen_ += n_append;
  }
  // Phase 2: reservoir replacement, one draw per row.
  for (int64_t i = n_append; i < n; ++i) {
    const uint64_t j = rng_.below(static_cast<uint64_t>(seen_) + 1);
    if (j < static_cast<uint64_t>(capacity_))
      std::memcpy(features_.data() + j * D, x + i * D, D * sizeof(float));
    ++seen_;
  }
}

}  // namespace dcgan::eval
