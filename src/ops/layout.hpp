// Memory layouts of (N, C, H, W) activations inside a network.
//
// block == 0: NCHW, PyTorch's; element (n, c, p) at (n C + c) HW + p,  p = h W + w, HW = H W.
// block == b: oneDNN's nChw{b}c (b = 8 on AVX2, 16 on AVX-512): (N, C/b, HW, b),
//             element (n, c, p) at ((n C/b + c/b) HW + p) b + c % b.
// Blocked layouts are used only when C % b == 0, so a blocked tensor has exactly the NCHW
// tensor's element count and can live in the same buffer; its Tensor keeps the NCHW shape.
// Inside a fast-path Sequential the convolutions, BatchNorm and activations exchange blocked
// tensors so that no reorder runs between them; every public interface (Sequential's input and
// output, checkpoints, .npy files) stays NCHW.
#pragma once
#include <cstdint>

#include "dcgan/ops/impl.hpp"

namespace dcgan::ops {

// Offset of element (n, c, p) in a tensor of C channels and HW pixels stored with `block`.
inline int64_t act_offset(int block, int64_t C, int64_t HW, int64_t n, int64_t c, int64_t p) {
  if (block == 0) return (n * C + c) * HW + p;
  return ((n * (C / block) + c / block) * HW + p) * block + c % block;
}

// The block the fast convolutions prefer for C channels on this CPU (16 with AVX-512, else 8),
// or 0 when C is not a multiple of it.
int preferred_block(int64_t C);

// dst = src converted from layout `from` to layout `to` (both 0 or a block dividing C); src and
// dst must not overlap. Reference: one element at a time; fast: OpenMP over (n, channel block).
void reorder_activation(int64_t N, int64_t C, int64_t HW, int from, int to, const float* src,
                        float* dst, Impl impl);

}  // namespace dcgan::ops
