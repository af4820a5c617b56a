// Softmax cross-entropy with integer class labels, mean reduction, as
// torch.nn.functional.cross_entropy(logits, labels) (no weights, no ignore_index, no smoothing).
// https://pytorch.org/docs/1.13/generated/torch.nn.CrossEntropyLoss.html
//
// Legend: N rows (samples), K classes; logits (N, K) row-major, labels (N) in [0, K),
// dlogits (N, K); g = grad_out, the gradient of whatever consumes the (scalar) loss.
//   loss    = (1 / N) sum_n [ logsumexp(logits[n, :]) - logits[n, labels[n]] ]
//   logsumexp(x) = m + log(sum_k exp(x_k - m)),  m = max_k x_k   (never overflows)
//   dlogits[n, k] = g (softmax(logits[n, :])_k - [k == labels[n]]) / N          (assigned)
// Float and double instantiations share the code; the double one is what the finite-difference
// test differentiates. Sums over rows are taken in double.
#pragma once
#include <cstdint>

namespace dcgan::ops {

// Returns the mean loss. Throws dcgan::Error for N < 1, K < 1, a label outside [0, K) (naming
// the row), or non-finite logits (a NaN would otherwise propagate silently into the weights).
float cross_entropy_forward(int64_t n, int64_t k, const float* logits, const int64_t* labels);
double cross_entropy_forward(int64_t n, int64_t k, const double* logits, const int64_t* labels);

// dlogits assigned (every element written).
void cross_entropy_backward(int64_t n, int64_t k, const float* logits, const int64_t* labels,
                            float grad_out, float* dlogits);
void cross_entropy_backward(int64_t n, int64_t k, const double* logits, const int64_t* labels,
                            double grad_out, double* dlogits);

// Number of rows whose largest logit (first one on ties, as torch.argmax) is at the label.
int64_t count_correct(int64_t n, int64_t k, const float* logits, const int64_t* labels);

}  // namespace dcgan::ops
