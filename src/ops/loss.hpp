// Losses, mean reduction.
//   BCELoss            https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html
//     l = -(t log p + (1 - t) log(1 - p)), each log clamped to >= -100 as PyTorch does;
//     dl/dp = (p - t) / max(p (1 - p), 1e-12)
//   BCEWithLogitsLoss  https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html
//     l = (1 - t) x + log(1 + e^-x) computed stably; dl/dx = sigmoid(x) - t
#pragma once
#include <cstdint>

namespace dcgan::ops {

// Returns the mean loss over n elements (accumulated in double).
float bce_forward(int64_t n, const float* p, const float* target);
// dp = grad_out * dl/dp / n (assigned).
void bce_backward(int64_t n, const float* p, const float* target, float grad_out, float* dp);

float bce_with_logits_forward(int64_t n, const float* x, const float* target);
void bce_with_logits_backward(int64_t n, const float* x, const float* target, float grad_out,
                              float* dx);

}  // namespace dcgan::ops
