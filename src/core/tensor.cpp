#include "dcgan/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "dcgan/error.hpp"

namespace dcgan {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    DCGAN_CHECK(d >= 0, "[tensor] negative dimension in shape {}", shape_str(s));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

namespace {
std::shared_ptr<float[]> allocate(int64_t n) {
  size_t bytes = ((static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw Error(fmt::format("[tensor] out of memory allocating {} bytes", bytes));
  std::memset(p, 0, bytes);
  return std::shared_ptr<float[]>(static_cast<float*>(p), [](float* q) { std::free(q); });
}
}  // namespace

Tensor::Tensor(Shape shape) : shape_(std::move(shape)) {
  numel_ = numel_of(shape_);
  storage_ = allocate(numel_);
  capacity_ = numel_;
  data_ = storage_.get();
}

Tensor::Tensor(Shape shape, float value) : Tensor(std::move(shape)) { fill(value); }

Tensor Tensor::view(float* data, Shape shape) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.numel_ = numel_of(t.shape_);
  t.data_ = data;
  t.capacity_ = t.numel_;
  return t;
}

void Tensor::resize(const Shape& shape) {
  int64_t n = numel_of(shape);
  if (n > capacity_ || (data_ == nullptr && n > 0)) {
    DCGAN_CHECK(storage_ || data_ == nullptr, "[tensor] cannot grow a view from {} to {}",
                shape_str(shape_), shape_str(shape));
    storage_ = allocate(n);
    capacity_ = n;
    data_ = storage_.get();
  }
  shape_ = shape;
  numel_ = n;
}

Tensor Tensor::reshaped(const Shape& shape) const {
  DCGAN_CHECK(numel_of(shape) == numel_, "[tensor] cannot reshape {} to {}", shape_str(shape_),
              shape_str(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

void Tensor::fill(float v) { std::fill(data_, data_ + numel_, v); }

Tensor Tensor::clone() const {
  Tensor t(shape_);
  if (numel_) std::memcpy(t.data_, data_, numel_ * sizeof(float));
  return t;
}

void Tensor::copy_from(const Tensor& other) {
  DCGAN_CHECK(other.numel_ == numel_, "[tensor] copy of {} into {}: element counts differ",
              shape_str(other.shape_), shape_str(shape_));
  if (numel_) std::memcpy(data_, other.data_, numel_ * sizeof(float));
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  DCGAN_CHECK(a.numel() == b.numel(), "[tensor] max_abs_diff: {} vs {}", shape_str(a.shape()),
              shape_str(b.shape()));
  // NaN anywhere makes the result NaN (std::max(m, NaN) would return m and hide it).
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

double rel_l2_error(const Tensor& a, const Tensor& b) {
  DCGAN_CHECK(a.numel() == b.numel(), "[tensor] rel_l2_error: {} vs {}", shape_str(a.shape()),
              shape_str(b.shape()));
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

}  // namespace dcgan
