// CPU activation reorders between NCHW and nChw{b}c (private to the library and its tests).
//   reorder_ref:  one element at a time through act_offset (the oracle);
//   reorder_fast: OpenMP over (n, channel block), contiguous runs (layout_cpu.cpp).
// Legend: N batch, C channels, HW pixels; from / to: 0 (NCHW) or a block b with C % b == 0.
#pragma once
#include <cstdint>

namespace dcgan::ops::cpu {

void reorder_ref(int64_t N, int64_t C, int64_t HW, int from, int to, const float* src, float* dst);
void reorder_fast(int64_t N, int64_t C, int64_t HW, int from, int to, const float* src,
                  float* dst);

}  // namespace dcgan::ops::cpu
