// A transposed convolution from a blocked feature map into a few-channel NCHW image: the
// generator's last layer (ConvTranspose2d(C, 1 or 3)) and, being the same sum, a Conv2d's data
// gradient into its 1- or 3-channel input (the discriminator's first layer). Also that Conv2d's
// weight gradient (wgrad, below), which oneDNN's AVX2 kernels compute slowly from a 1-channel
// image.
//
// Why a kernel of our own: oneDNN 2.6 has no fast kernel writing a 1-3 channel plain image from
// an nChw{8,16}c input; it either pads the image to a 16-channel block (up to 16x the work) or
// runs im2col + GEMM on plain layouts after a reorder of the input: 4-5 ms per pass for the
// seed 64x64x3 generator's last layer at batch 64 (about 20 GFLOP/s). This kernel reads the
// blocked input as it is, with no reorder. Measured (1 thread, batch 64, ms, this kernel vs
// oneDNN's GEMM path plus the reorder of its input):
//   16 -> 1, 16x16 -> 32x32 (seed 32x32x1):  0.35 vs 0.30 + 0.12
//   16 -> 3, 32x32 -> 64x64 (seed 64x64x3):  3.3  vs 3.6-5.6 + 0.5
//   64 -> 3, 32x32 -> 64x64 (dcgan 64x64x3): 10.7 vs 7.7 + 2.1   (so: used for Cs <= 16 only)
// It is load-bound: 9 loads per 8 fused multiply-adds, at 25-40 GFLOP/s.
//
// Legend: N batch; Cs, Hs, Ws the small map (the transposed conv's input, or the conv's output
// gradient); Cb, Hb, Wb the big map (the image); k kernel, s stride, p padding; b the channel
// block. Big position i = o s - p + t for small position o and tap t, so
//   dst[n, co, oh, ow] = bias[co] + sum_{ci, kh, kw} src[n, ci, ih, iw] w[ci, co, kh, kw]
//   over ih = (oh + p - kh) / s, iw = (ow + p - kw) / s where divisible and inside the map.
//   src (N, Cs, Hs, Ws) nChw{b}c;  w (Cs, Cb, k, k) (ConvTranspose2d's layout, and Conv2d's
//   (C_out, C_in, k, k) for the data gradient);  dst (N, Cb, Hb, Wb) NCHW, assigned.
// Vectorised over ci (b contiguous floats per pixel), 8 lanes (AVX2); the outputs of one row
// with the same ow mod s share their taps and are computed 8 at a time, then reduced together.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "dcgan/error.hpp"
#include "ops/cpu/conv_cpu.hpp"

namespace dcgan::ops::cpu {

bool few_channels_available(int64_t Cb, int64_t Cs, int block, int64_t k, int64_t s) {
#if defined(__AVX2__) && defined(__FMA__)
  return Cb >= 1 && Cb <= kFewChannelsMax && Cs <= kFewChannelsMaxSmall &&
         (block == 8 || block == 16) && k >= 1 && k <= kMaxKernel && s >= 1 && s <= kMaxStride;
#else
  return false;
#endif
}

bool few_channels_wgrad_available(int64_t Cb, int64_t Cs, int block, int64_t k, int64_t s) {
#if defined(__AVX2__) && defined(__FMA__)
  return Cb >= 1 && Cb <= kFewChannelsMax && (block == 8 || block == 16) && Cs % block == 0 &&
         k >= 1 && k <= kMaxKernel && s >= 1 && s <= kMaxStride;
#else
  return false;
#endif
}

// packed[kh][kw][co][ci] = w[ci][co][kh][kw]: a tap's weights for one output channel are Cs
// contiguous floats, read as vectors along ci.
void few_channels_pack(const FewChannelGeom& g, const float* w, float* packed) {
  const int64_t k = g.k;
  for (int64_t ci = 0; ci < g.Cs; ++ci)
    for (int64_t co = 0; co < g.Cb; ++co)
      for (int64_t kh = 0; kh < k; ++kh)
        for (int64_t kw = 0; kw < k; ++kw)
          packed[((kh * k + kw) * g.Cb + co) * g.Cs + ci] = w[((ci * g.Cb + co) * k + kh) * k + kw];
}

#if defined(__AVX2__) && defined(__FMA__)
namespace {

// r[i] = sum of the 8 lanes of v[i].
inline __m256 reduce8(const __m256* v) {
  const __m256 t0 = _mm256_hadd_ps(v[0], v[1]), t1 = _mm256_hadd_ps(v[2], v[3]);
  const __m256 t2 = _mm256_hadd_ps(v[4], v[5]), t3 = _mm256_hadd_ps(v[6], v[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

template <int B>
void run(const FewChannelGeom& g, const float* src, const float* packed, const float* bias,
         float* dst) {
  const int64_t N = g.N, Cs = g.Cs, Hs = g.Hs, Ws = g.Ws, Cb = g.Cb, Hb = g.Hb, Wb = g.Wb;
  const int64_t k = g.k, s = g.s, p = g.p, CB = Cs / B;
  const int64_t tile = Hs * Ws * B;  // floats of one (n, channel block)
  // Column taps per class q = ow mod s: kw with (q + p - kw) divisible by s, at iw = m + dw for
  // ow = q + s m. The rows an output row reads are copied, zero-padded by pad_l / pad_r pixels,
  // so that every tap of every group of 8 outputs reads inside its row copy.
  struct ColTaps {
    int64_t n = 0, kw[kMaxKernel], dw[kMaxKernel], M = 0;
  };
  ColTaps cols[kMaxStride];  // (no allocation per call)
  int64_t pad_l = 0, pad_r = 0;
  for (int64_t q = 0; q < s; ++q) {
    ColTaps& c = cols[q];
    c.M = q < Wb ? (Wb - q + s - 1) / s : 0;
    for (int64_t kw = 0; kw < k; ++kw) {
      const int64_t num = q + p - kw, r = ((num % s) + s) % s;
      if (r) continue;
      c.kw[c.n] = kw, c.dw[c.n] = (num - r) / s, ++c.n;
      pad_l = std::max(pad_l, -c.dw[c.n - 1]);
      pad_r = std::max(pad_r, (c.M + 7) / 8 * 8 - 1 + c.dw[c.n - 1] - (Ws - 1));
    }
  }
  const int64_t Wp = pad_l + Ws + pad_r;  // pixels of a padded row copy
  const int64_t max_taps = (k + s - 1) / s;
#pragma omp parallel if (N * Hb * Wb * Cs >= (1 << 16))
  {
    // This thread's row copies: (max_taps, CB, Wp, B), grown once.
    static thread_local std::vector<float> rows;
    if (rows.size() < size_t(max_taps * CB * Wp * B)) rows.resize(size_t(max_taps * CB * Wp * B));
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t oh = 0; oh < Hb; ++oh) {
        // Row taps: kh with (oh + p - kh) divisible by s and ih inside the map; copy the rows.
        int64_t khs[kMaxKernel], nkh = 0;
        for (int64_t kh = 0; kh < k; ++kh) {
          const int64_t num = oh + p - kh;
          if (num < 0 || num % s || num / s >= Hs) continue;
          float* row = rows.data() + nkh * CB * Wp * B;
          for (int64_t cb = 0; cb < CB; ++cb) {
            float* r = row + cb * Wp * B;
            std::memset(r, 0, size_t(pad_l * B) * sizeof(float));
            std::memcpy(r + pad_l * B, src + (n * CB + cb) * tile + (num / s) * Ws * B,
                        size_t(Ws * B) * sizeof(float));
            std::memset(r + (pad_l + Ws) * B, 0, size_t(pad_r * B) * sizeof(float));
          }
          khs[nkh++] = kh;
        }
        for (int64_t q = 0; q < s; ++q) {
          const ColTaps& c = cols[q];
          for (int64_t co = 0; co < Cb; ++co) {
            float* out = dst + ((n * Cb + co) * Hb + oh) * Wb + q;
            const float b0 = bias ? bias[co] : 0.f;
            for (int64_t m0 = 0; m0 < c.M; m0 += 8) {
              __m256 acc[8];
#pragma GCC unroll 8
              for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
              for (int64_t a = 0; a < nkh; ++a)
                for (int64_t j = 0; j < c.n; ++j) {
                  const float* wv = packed + ((khs[a] * k + c.kw[j]) * Cb + co) * Cs;
                  // Pixel m0 + dw of the row copy; the 8 outputs read 8 consecutive pixels.
                  const float* px = rows.data() + (a * CB * Wp + pad_l + m0 + c.dw[j]) * B;
                  for (int64_t cb = 0; cb < CB; ++cb, px += Wp * B) {
#pragma GCC unroll 2
                    for (int h = 0; h < B; h += 8) {
                      const __m256 w8 = _mm256_loadu_ps(wv + cb * B + h);
#pragma GCC unroll 8
                      for (int i = 0; i < 8; ++i)
                        acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(px + i * B + h), w8, acc[i]);
                    }
                  }
                }
              alignas(32) float r[8];
              _mm256_store_ps(r, _mm256_add_ps(reduce8(acc), _mm256_set1_ps(b0)));
              const int64_t cnt = std::min<int64_t>(8, c.M - m0);
              for (int64_t i = 0; i < cnt; ++i) out[(m0 + i) * s] = r[i];
            }
          }
        }
      }
  }
}

// Weight gradient of Conv2d(Cb <= 4 -> Cs) from the plain image x (the big map) and the blocked
// output gradient dy (the small map):
//   dw[co, ci, kh, kw] (+)= sum_{n, oh, ow} dy[n, co, oh, ow] x[n, ci, oh s - p + kh, ow s - p + kw]
//   db[co] (+)= sum_{n, oh, ow} dy[n, co, oh, ow]
// Vectorised over co, 16 channels (two vectors: one 16-block or two 8-blocks) and four kw taps at
// a time: per output pixel, two dy loads and four broadcasts of x feed 8 fused multiply-adds.
// The x row a tap row reads is copied zero-padded first (once per image row and channel), so
// taps outside the image read zeros. Threads take whole images and sum into their own buffers,
// which are then added in thread order (deterministic for a given thread count).
template <int B>
void wgrad(const FewChannelGeom& g, const float* x, const float* dy, float* dw, float* db,
           bool accumulate) {
  constexpr int64_t kTile = 4;  // kw taps per pass over a row
  const int64_t N = g.N, Cs = g.Cs, Ho = g.Hs, Wo = g.Ws, Cb = g.Cb, H = g.Hb, W = g.Wb;
  const int64_t k = g.k, s = g.s, p = g.p, CB = Cs / B;
  const int64_t taps = (k + kTile - 1) / kTile * kTile;
  // Padded x rows: column j of a copy is x column j - p; (Wo - 1) s + taps columns are read.
  const int64_t Wp = std::max((Wo - 1) * s + taps, p + W);
  // Channel groups of 16 (two vectors): vector v of group q is 8 channels at q 16 + 8 v.
  const int64_t groups = Cs / 16, rest = Cs % 16;  // rest: one 8-channel vector (B = 8 only)
  const int64_t per_thread = Cs * Cb * k * taps + Cs;  // (Cs / 8, Cb, k, taps, 8) sums, then db
  const bool par = N > 1 && N * Cs * Ho * Wo * Cb * k * k >= (1 << 16);
  const int T = par ? omp_get_max_threads() : 1;
  std::vector<float> part(static_cast<size_t>(T * per_thread), 0.f);
  // dy's 8 channels c8 .. c8 + 7 of pixel 0 of row (n, oh); pixels are B floats apart.
  auto dy_at = [&](int64_t n, int64_t oh, int64_t c8) {
    return dy + ((n * CB + c8 / B) * Ho + oh) * Wo * B + c8 % B;
  };
#pragma omp parallel num_threads(T) if (par)
  {
    float* acc = part.data() + omp_get_thread_num() * per_thread;
    float* dbacc = acc + per_thread - Cs;
    std::vector<float> rows(static_cast<size_t>(Cb * H * Wp), 0.f);  // the image, padded
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t r = 0; r < Cb * H; ++r)
        std::memcpy(rows.data() + r * Wp + p, x + (n * Cb * H + r) * W, size_t(W) * sizeof(float));
      for (int64_t oh = 0; oh < Ho; ++oh) {
        for (int64_t c8 = 0; c8 < Cs; c8 += 8) {  // bias: sum of dy
          const float* d = dy_at(n, oh, c8);
          __m256 a = _mm256_loadu_ps(dbacc + c8);
          for (int64_t ow = 0; ow < Wo; ++ow) a = _mm256_add_ps(a, _mm256_loadu_ps(d + ow * B));
          _mm256_storeu_ps(dbacc + c8, a);
        }
        for (int64_t kh = 0; kh < k; ++kh) {
          const int64_t ih = oh * s - p + kh;
          if (ih < 0 || ih >= H) continue;
          for (int64_t ci = 0; ci < Cb; ++ci)
            for (int64_t kw0 = 0; kw0 < taps; kw0 += kTile) {
              const float* xrow = rows.data() + (ci * H + ih) * Wp + kw0;
              // Sums of (8 channels at c8, tap kw0 + j) at acc[((c8 / 8 * Cb + ci) k + kh) taps + kw0 + j].
              auto sums = [&](int64_t c8) { return acc + (((c8 / 8 * Cb + ci) * k + kh) * taps + kw0) * 8; };
              for (int64_t q = 0; q < groups; ++q) {
                const float* d0 = dy_at(n, oh, 16 * q);
                const float* d1 = dy_at(n, oh, 16 * q + 8);
                __m256 a0[kTile], a1[kTile];
                for (int j = 0; j < kTile; ++j) a0[j] = a1[j] = _mm256_setzero_ps();
                const float* xp = xrow;
                for (int64_t ow = 0; ow < Wo; ++ow, xp += s) {
                  const __m256 v0 = _mm256_loadu_ps(d0 + ow * B), v1 = _mm256_loadu_ps(d1 + ow * B);
#pragma GCC unroll 4
                  for (int j = 0; j < kTile; ++j) {
                    const __m256 xv = _mm256_broadcast_ss(xp + j);
                    a0[j] = _mm256_fmadd_ps(v0, xv, a0[j]);
                    a1[j] = _mm256_fmadd_ps(v1, xv, a1[j]);
                  }
                }
                float* o0 = sums(16 * q);
                float* o1 = sums(16 * q + 8);
                for (int j = 0; j < kTile; ++j) {
                  _mm256_storeu_ps(o0 + 8 * j, _mm256_add_ps(_mm256_loadu_ps(o0 + 8 * j), a0[j]));
                  _mm256_storeu_ps(o1 + 8 * j, _mm256_add_ps(_mm256_loadu_ps(o1 + 8 * j), a1[j]));
                }
              }
              if (rest) {
                const float* d0 = dy_at(n, oh, 16 * groups);
                __m256 a0[kTile];
                for (int j = 0; j < kTile; ++j) a0[j] = _mm256_setzero_ps();
                const float* xp = xrow;
                for (int64_t ow = 0; ow < Wo; ++ow, xp += s) {
                  const __m256 v0 = _mm256_loadu_ps(d0 + ow * B);
#pragma GCC unroll 4
                  for (int j = 0; j < kTile; ++j) a0[j] = _mm256_fmadd_ps(v0, _mm256_broadcast_ss(xp + j), a0[j]);
                }
                float* o0 = sums(16 * groups);
                for (int j = 0; j < kTile; ++j)
                  _mm256_storeu_ps(o0 + 8 * j, _mm256_add_ps(_mm256_loadu_ps(o0 + 8 * j), a0[j]));
              }
            }
        }
      }
    }
  }
  // Thread sums added in thread order; taps beyond k (the last tile's padding) are dropped.
  for (int64_t co = 0; co < Cs; ++co) {
    for (int64_t ci = 0; ci < Cb; ++ci)
      for (int64_t kh = 0; kh < k; ++kh)
        for (int64_t kw = 0; kw < k; ++kw) {
          float sum = 0.f;
          for (int t = 0; t < T; ++t)
            sum += part[size_t(t * per_thread + (((co / 8 * Cb + ci) * k + kh) * taps + kw) * 8 + co % 8)];
          float& out = dw[((co * Cb + ci) * k + kh) * k + kw];
          out = accumulate ? out + sum : sum;
        }
    if (db) {
      float sum = 0.f;
      for (int t = 0; t < T; ++t) sum += part[size_t((t + 1) * per_thread - Cs + co)];
      db[co] = accumulate ? db[co] + sum : sum;
    }
  }
}

}  // namespace
#endif

void few_channels_backward_weights(const FewChannelGeom& g, const float* x, const float* dy,
                                   float* dw, float* db, bool accumulate) {
  DCGAN_CHECK(few_channels_wgrad_available(g.Cb, g.Cs, g.block, g.k, g.s),
              "[conv] the few-channel weight gradient does not take Cb={}, Cs={}, block {}, k={}, s={}",
              g.Cb, g.Cs, g.block, g.k, g.s);
#if defined(__AVX2__) && defined(__FMA__)
  if (g.block == 16) return wgrad<16>(g, x, dy, dw, db, accumulate);
  if (g.block == 8) return wgrad<8>(g, x, dy, dw, db, accumulate);
#endif
  throw Error(fmt::format("[conv] no few-channel weight gradient for block {}", g.block));
}

void few_channels_run(const FewChannelGeom& g, const float* src, const float* packed,
                      const float* bias, float* dst) {
  DCGAN_CHECK(few_channels_available(g.Cb, g.Cs, g.block, g.k, g.s),
              "[conv] the few-channel kernel does not take Cb={}, Cs={}, block {}, k={}, s={}",
              g.Cb, g.Cs, g.block, g.k, g.s);
#if defined(__AVX2__) && defined(__FMA__)
  if (g.block == 16) return run<16>(g, src, packed, bias, dst);
  if (g.block == 8) return run<8>(g, src, packed, bias, dst);
#endif
  throw Error(fmt::format("[conv] no few-channel kernel for block {}", g.block));
}

}  // namespace dcgan::ops::cpu
