// CPU convolution implementations (private to the library and its tests).
//   make_conv_reference: plain loops, the oracle (conv_reference.cpp).
//   make_conv_onednn:    oneDNN primitives with blocked layouts (conv_onednn.cpp).
// The reference loops are also exposed as templates, instantiated for float and double, so the
// tests can run them in double for finite-difference gradient checks.
//
// Legend: N batch, C_in / C_out channels, H/W input size, Ho/Wo output size (g.Ho(), g.Wo()),
// k kernel. Layouts: x (N, C_in, H, W), y (N, C_out, Ho, Wo), b (C_out),
// w (C_out, C_in, k, k) for Conv2d and (C_in, C_out, k, k) for ConvTranspose2d.
#pragma once
#include <memory>
#include <string>

#include "ops/conv.hpp"

namespace dcgan::ops::cpu {

std::unique_ptr<ConvOp> make_conv_reference(const ConvGeom& g);
std::unique_ptr<ConvOp> make_conv_onednn(const ConvGeom& g);
// The oneDNN kernels a fast op runs, "forward <impl> | backward_data <impl> | backward_weights
// <impl>" (e.g. jit:avx512_core, x64:gemm:jit; ref:any would be the 100x-slower fallback).
// Empty for an op that is not a oneDNN one.
std::string onednn_conv_info(const ConvOp& op);
// The channel block oneDNN's convolutions use for activations on this CPU (16 with AVX-512,
// 8 with AVX2; 0 if it picks no nChw{b}c layout).
int onednn_preferred_block();

// A transposed convolution from a blocked map into a few-channel NCHW image, which oneDNN runs
// slowly (conv_few_channels.cpp): the fast op's forward for ConvTranspose2d(C, <= 4) and its
// data gradient for Conv2d(<= 4, C). Small map src (N, Cs, Hs, Ws) nChw{block}c, big map
// dst (N, Cb, Hb, Wb) NCHW (assigned), w (Cs, Cb, k, k), bias (Cb) or null.
constexpr int64_t kFewChannelsMax = 4, kFewChannelsMaxSmall = 16;
constexpr int64_t kMaxKernel = 16, kMaxStride = 8;
struct FewChannelGeom {
  int64_t N = 0, Cs = 0, Hs = 0, Ws = 0, Cb = 0, Hb = 0, Wb = 0, k = 0, s = 0, p = 0;
  int block = 0;
};
// Whether the kernel is used for Cb image channels, Cs small-map channels, this block, kernel k
// and stride s (AVX2 builds, Cb <= 4, Cs <= 16 where it beats oneDNN, b 8 or 16, k <= 16,
// s <= 8).
bool few_channels_available(int64_t Cb, int64_t Cs, int block, int64_t k, int64_t s);
// packed (k, k, Cb, Cs) from w (Cs, Cb, k, k).
void few_channels_pack(const FewChannelGeom& g, const float* w, float* packed);
void few_channels_run(const FewChannelGeom& g, const float* src, const float* packed,
                      const float* bias, float* dst);
// The weight gradient of the Conv2d(Cb, Cs) whose data gradient few_channels_run computes: from
// the big map x (N, Cb, Hb, Wb) NCHW and the small map dy (N, Cs, Hs, Ws) nChw{block}c,
// dw (Cs, Cb, k, k) and db (Cs, or null) assigned or, with accumulate, added to.
bool few_channels_wgrad_available(int64_t Cb, int64_t Cs, int block, int64_t k, int64_t s);
void few_channels_backward_weights(const FewChannelGeom& g, const float* x, const float* dy,
                                   float* dw, float* db, bool accumulate);

// T = float or double; sums are accumulated in double. Same contract as ConvOp.
// b / db are ignored when g.has_bias is false (may be null).
template <class T>
void conv_ref_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y);
template <class T>
void conv_ref_backward_data(const ConvGeom& g, const T* dy, const T* w, T* dx);
template <class T>
void conv_ref_backward_weights(const ConvGeom& g, const T* x, const T* dy, T* dw, T* db,
                               bool accumulate);

}  // namespace dcgan::ops::cpu
