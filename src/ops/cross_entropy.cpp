// Softmax cross-entropy with integer labels, mean reduction (src/ops/cross_entropy.hpp).
// https://pytorch.org/docs/1.13/generated/torch.nn.CrossEntropyLoss.html
// Legend: N rows, K classes; x logits (N, K), y labels (N), dx (N, K); g = grad_out.
// The sizes are a classifier's batch (N ~ 100s, K ~ 10): plain single-threaded loops.
#include "ops/cross_entropy.hpp"

#include <algorithm>
#include <cmath>

#include "dcgan/error.hpp"

namespace dcgan::ops {

namespace {

template <class T>
void check_inputs(int64_t n, int64_t k, const T* x, const int64_t* y) {
  DCGAN_CHECK(n > 0, "[cross_entropy] needs at least one row, got N = {}", n);
  DCGAN_CHECK(k > 0, "[cross_entropy] needs at least one class, got K = {}", k);
  for (int64_t i = 0; i < n; ++i)
    if (y[i] < 0 || y[i] >= k)
      throw Error(fmt::format("[cross_entropy] label {} of row {} is outside [0, {})", y[i], i, k),
                  "labels must be class indices 0 .. K-1; check the dataset's labels and the "
                  "classifier's number of classes");
}

// Row maximum and log(sum_k exp(x_k - max)); throws on a non-finite logit.
template <class T>
void row_lse(int64_t k, const T* x, int64_t row, T& m, T& log_sum) {
  m = x[0];
  for (int64_t j = 0; j < k; ++j) {
    if (!std::isfinite(x[j]))
      throw Error(fmt::format("[cross_entropy] logit {} at row {}, class {} is not finite", x[j], row, j),
                  "a NaN or infinity usually means training diverged (try a lower learning rate)");
    m = std::max(m, x[j]);
  }
  T s = 0;
  for (int64_t j = 0; j < k; ++j) s += std::exp(x[j] - m);  // every term in (0, 1], one is 1
  log_sum = std::log(s);
}

template <class T>
T forward_impl(int64_t n, int64_t k, const T* x, const int64_t* y) {
  check_inputs(n, k, x, y);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T* r = x + i * k;
    T m, ls;
    row_lse(k, r, i, m, ls);
    // -log softmax(x)_y = m + log(sum exp(x - m)) - x_y = ls - (x_y - m)
    sum += double(ls - (r[y[i]] - m));
  }
  return static_cast<T>(sum / double(n));
}

template <class T>
void backward_impl(int64_t n, int64_t k, const T* x, const int64_t* y, T g, T* dx) {
  check_inputs(n, k, x, y);
  // dx[i, j] = g (softmax(x_i)_j - [j == y_i]) / N,  softmax_j = exp(x_j - m - ls)     (assigned)
  const T scale = g / static_cast<T>(n);
  for (int64_t i = 0; i < n; ++i) {
    const T* r = x + i * k;
    T* d = dx + i * k;
    T m, ls;
    row_lse(k, r, i, m, ls);
    for (int64_t j = 0; j < k; ++j) d[j] = std::exp(r[j] - m - ls) * scale;
    d[y[i]] -= scale;
  }
}

}  // namespace

float cross_entropy_forward(int64_t n, int64_t k, const float* logits, const int64_t* labels) {
  return forward_impl(n, k, logits, labels);
}
double cross_entropy_forward(int64_t n, int64_t k, const double* logits, const int64_t* labels) {
  return forward_impl(n, k, logits, labels);
}
void cross_entropy_backward(int64_t n, int64_t k, const float* logits, const int64_t* labels,
                            float grad_out, float* dlogits) {
  backward_impl(n, k, logits, labels, grad_out, dlogits);
}
void cross_entropy_backward(int64_t n, int64_t k, const double* logits, const int64_t* labels,
                            double grad_out, double* dlogits) {
  backward_impl(n, k, logits, labels, grad_out, dlogits);
}

int64_t count_correct(int64_t n, int64_t k, const float* logits, const int64_t* labels) {
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* r = logits + i * k;
    correct += (std::max_element(r, r + k) - r) == labels[i];  // first maximum, as torch.argmax
  }
  return correct;
}

}  // namespace dcgan::ops
