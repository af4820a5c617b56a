// Tensor: a float32 array with a shape, row-major (C order). Images are NCHW; weights use
// PyTorch's layouts (Conv2d (Cout, Cin, kH, kW), ConvTranspose2d (Cin, Cout, kH, kW), Linear (out, in)).
// A tensor either owns its storage (64-byte aligned) or is a view into someone else's
// (e.g. a parameter inside a network's one flat buffer).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dcgan {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
std::string shape_str(const Shape& s);  // "(64, 1, 32, 32)"

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);                    // owns, zero-filled
  Tensor(Shape shape, float value);                // owns, filled with value
  static Tensor view(float* data, Shape shape);    // non-owning view; caller keeps data alive

  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_.at(i < 0 ? shape_.size() + i : i); }
  int64_t numel() const { return numel_; }
  bool empty() const { return numel_ == 0; }

  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

  // Reallocates (owning, zero-filled) only when the element count grows; keeps the buffer otherwise.
  // Views cannot be resized to a different element count.
  void resize(const Shape& shape);
  // Same data, new shape with the same element count.
  Tensor reshaped(const Shape& shape) const;
  void fill(float v);
  void zero() { fill(0.f); }
  Tensor clone() const;                            // deep, owning copy
  void copy_from(const Tensor& other);             // element counts must match

 private:
  std::shared_ptr<float[]> storage_;  // null for views
  int64_t capacity_ = 0;              // elements allocated in storage_
  float* data_ = nullptr;
  Shape shape_;
  int64_t numel_ = 0;
};

// Max |a - b| and relative L2 error ||a - b|| / max(||b||, tiny), for tests and tools. Both are
// NaN when a NaN (or inf - inf) occurs, so `result < tol` and `result == 0` fail on it.
double max_abs_diff(const Tensor& a, const Tensor& b);
double rel_l2_error(const Tensor& a, const Tensor& b);

}  // namespace dcgan
