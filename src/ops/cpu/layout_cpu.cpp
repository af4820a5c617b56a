// Activation reorders between NCHW and oneDNN's nChw{b}c (dcgan/ops/layout.hpp).
// Legend: N batch, C channels, HW pixels, b block, CB = C / b channel blocks.
//   NCHW:      element (n, c, p) at (n C + c) HW + p
//   nChw{b}c:  element (n, c, p) at ((n CB + c / b) HW + p) b + c % b
#include <cstring>

#include "ops/cpu/layout_cpu.hpp"
#include "ops/layout.hpp"

namespace dcgan::ops::cpu {

namespace {
// Below this many elements one thread is faster than waking a team.
constexpr int64_t kParallelMin = 1 << 15;

// One (n, channel block) tile: b channels x HW pixels, NCHW planes <-> interleaved pixels.
void plain_to_blocked_tile(int64_t HW, int b, const float* src_plane0, int64_t plane_stride,
                           float* dst) {
  for (int64_t p = 0; p < HW; ++p)
    for (int j = 0; j < b; ++j) dst[p * b + j] = src_plane0[j * plane_stride + p];
}
void blocked_to_plain_tile(int64_t HW, int b, const float* src, float* dst_plane0,
                           int64_t plane_stride) {
  for (int j = 0; j < b; ++j)
    for (int64_t p = 0; p < HW; ++p) dst_plane0[j * plane_stride + p] = src[p * b + j];
}
}  // namespace

void reorder_ref(int64_t N, int64_t C, int64_t HW, int from, int to, const float* src, float* dst) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < HW; ++p)
        dst[act_offset(to, C, HW, n, c, p)] = src[act_offset(from, C, HW, n, c, p)];
}

void reorder_fast(int64_t N, int64_t C, int64_t HW, int from, int to, const float* src,
                  float* dst) {
  const int64_t total = N * C * HW;
  if (from == to) {
    std::memcpy(dst, src, size_t(total) * sizeof(float));
    return;
  }
  if (from != 0 && to != 0) {  // blocked -> blocked with another block: through the reference
    reorder_ref(N, C, HW, from, to, src, dst);
    return;
  }
  const int b = from != 0 ? from : to;
  const int64_t CB = C / b;
#pragma omp parallel for collapse(2) schedule(static) if (total >= kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t cb = 0; cb < CB; ++cb) {
      const int64_t plain0 = (n * C + cb * b) * HW;  // plane of channel cb*b
      const int64_t tile = (n * CB + cb) * HW * b;
      if (to != 0)
        plain_to_blocked_tile(HW, b, src + plain0, HW, dst + tile);
      else
        blocked_to_plain_tile(HW, b, src + tile, dst + plain0, HW);
    }
}

}  // namespace dcgan::ops::cpu
