// Reference Conv2d / ConvTranspose2d: plain loops written straight from the definitions, summed
// in double. Slow on purpose; this is the oracle the fast path and the CUDA path are tested
// against, and it is itself checked against PyTorch (tests/reference) and finite differences.
//   https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
//   https://pytorch.org/docs/stable/generated/torch.nn.ConvTranspose2d.html
//
// Legend
//   N batch; C_in, C_out channels; H, W input size; Ho, Wo output size; k kernel;
//   s stride; p padding; n, ci, co, ih, iw, oh, ow, kh, kw the matching loop indices.
//   Conv2d           x (N, C_in, H, W)  w (C_out, C_in, k, k)  b (C_out)  y (N, C_out, Ho, Wo)
//   ConvTranspose2d  x (N, C_in, H, W)  w (C_in, C_out, k, k)  b (C_out)  y (N, C_out, Ho, Wo)
//
// Both ops link a "small" map position o to a "big" map position i through kernel tap t:
//   i = o * s - p + t                                      (`big_of` below)
// Conv2d: small = output, big = input. ConvTranspose2d: small = input, big = output
// (output_padding only adds rows / columns at the bottom / right of the big map).
// Positions outside the map are padding (zeros) and are skipped.

#include <vector>

#include "ops/cpu/conv_cpu.hpp"
#include "ops/cpu/layout_cpu.hpp"

namespace dcgan::ops::cpu {

namespace {

using Acc = double;

// Big-map position touched by small-map position o through tap t.
inline int64_t big_of(const ConvGeom& g, int64_t o, int64_t t) {
  return o * g.stride - g.padding + t;
}

// Small-map position o with big_of(o, t) == i, or -1 when there is none in [0, n_small).
inline int64_t small_of(const ConvGeom& g, int64_t i, int64_t t, int64_t n_small) {
  const int64_t num = i + g.padding - t;
  if (num < 0 || num % g.stride != 0) return -1;
  const int64_t o = num / g.stride;
  return o < n_small ? o : -1;
}

// Flat offset of element (a, b, c, d) in a contiguous (A, B, C, D) array.
inline int64_t at(int64_t a, int64_t b, int64_t c, int64_t d, int64_t B, int64_t C, int64_t D) {
  return ((a * B + b) * C + c) * D + d;
}

// Assign or add.
template <class T>
inline void store(T* dst, Acc v, bool accumulate) {
  *dst = accumulate ? static_cast<T>(*dst + v) : static_cast<T>(v);
}

}  // namespace

template <class T>
void conv_ref_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t N = g.N, Ci = g.C_in, Co = g.C_out, H = g.H, W = g.W, k = g.kernel;
  const int64_t Ho = g.Ho(), Wo = g.Wo();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t co = 0; co < Co; ++co)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          Acc acc = g.has_bias ? Acc(b[co]) : Acc(0);
          for (int64_t ci = 0; ci < Ci; ++ci)
            for (int64_t kh = 0; kh < k; ++kh)
              for (int64_t kw = 0; kw < k; ++kw) {
                if (!g.transposed) {
                  // Conv2d: y[n,co,oh,ow] = b[co] + sum_{ci,kh,kw} x[n,ci,oh*s-p+kh,ow*s-p+kw]
                  //                                                 * w[co,ci,kh,kw]
                  const int64_t ih = big_of(g, oh, kh), iw = big_of(g, ow, kw);
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  acc += Acc(x[at(n, ci, ih, iw, Ci, H, W)]) * Acc(w[at(co, ci, kh, kw, Ci, k, k)]);
                } else {
                  // ConvTranspose2d: y[n,co,oh,ow] = b[co] + sum_{ci,kh,kw} x[n,ci,ih,iw]
                  //     * w[ci,co,kh,kw]  over the (ih, iw) with ih*s-p+kh == oh, iw*s-p+kw == ow
                  const int64_t ih = small_of(g, oh, kh, H), iw = small_of(g, ow, kw, W);
                  if (ih < 0 || iw < 0) continue;
                  acc += Acc(x[at(n, ci, ih, iw, Ci, H, W)]) * Acc(w[at(ci, co, kh, kw, Co, k, k)]);
                }
              }
          y[at(n, co, oh, ow, Co, Ho, Wo)] = static_cast<T>(acc);
        }
}

template <class T>
void conv_ref_backward_data(const ConvGeom& g, const T* dy, const T* w, T* dx) {
  const int64_t N = g.N, Ci = g.C_in, Co = g.C_out, H = g.H, W = g.W, k = g.kernel;
  const int64_t Ho = g.Ho(), Wo = g.Wo();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < Ci; ++ci)
      for (int64_t ih = 0; ih < H; ++ih)
        for (int64_t iw = 0; iw < W; ++iw) {
          Acc acc = 0;
          for (int64_t co = 0; co < Co; ++co)
            for (int64_t kh = 0; kh < k; ++kh)
              for (int64_t kw = 0; kw < k; ++kw) {
                if (!g.transposed) {
                  // Conv2d: dx[n,ci,ih,iw] = sum_{co,kh,kw} dy[n,co,oh,ow] * w[co,ci,kh,kw]
                  //     over the (oh, ow) with oh*s-p+kh == ih, ow*s-p+kw == iw
                  const int64_t oh = small_of(g, ih, kh, Ho), ow = small_of(g, iw, kw, Wo);
                  if (oh < 0 || ow < 0) continue;
                  acc += Acc(dy[at(n, co, oh, ow, Co, Ho, Wo)]) *
                         Acc(w[at(co, ci, kh, kw, Ci, k, k)]);
                } else {
                  // ConvTranspose2d: dx[n,ci,ih,iw] = sum_{co,kh,kw}
                  //     dy[n,co,ih*s-p+kh,iw*s-p+kw] * w[ci,co,kh,kw]
                  const int64_t oh = big_of(g, ih, kh), ow = big_of(g, iw, kw);
                  if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                  acc += Acc(dy[at(n, co, oh, ow, Co, Ho, Wo)]) *
                         Acc(w[at(ci, co, kh, kw, Co, k, k)]);
                }
              }
          dx[at(n, ci, ih, iw, Ci, H, W)] = static_cast<T>(acc);
        }
}

template <class T>
void conv_ref_backward_weights(const ConvGeom& g, const T* x, const T* dy, T* dw, T* db,
                               bool accumulate) {
  const int64_t N = g.N, Ci = g.C_in, Co = g.C_out, H = g.H, W = g.W, k = g.kernel;
  const int64_t Ho = g.Ho(), Wo = g.Wo();
  for (int64_t ci = 0; ci < Ci; ++ci)
    for (int64_t co = 0; co < Co; ++co)
      for (int64_t kh = 0; kh < k; ++kh)
        for (int64_t kw = 0; kw < k; ++kw) {
          Acc acc = 0;
          if (!g.transposed) {
            // Conv2d: dw[co,ci,kh,kw] = sum_{n,oh,ow} dy[n,co,oh,ow] * x[n,ci,oh*s-p+kh,ow*s-p+kw]
            for (int64_t n = 0; n < N; ++n)
              for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                  const int64_t ih = big_of(g, oh, kh), iw = big_of(g, ow, kw);
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  acc += Acc(dy[at(n, co, oh, ow, Co, Ho, Wo)]) * Acc(x[at(n, ci, ih, iw, Ci, H, W)]);
                }
            store(&dw[at(co, ci, kh, kw, Ci, k, k)], acc, accumulate);
          } else {
            // ConvTranspose2d: dw[ci,co,kh,kw] = sum_{n,ih,iw} x[n,ci,ih,iw]
            //                                                * dy[n,co,ih*s-p+kh,iw*s-p+kw]
            for (int64_t n = 0; n < N; ++n)
              for (int64_t ih = 0; ih < H; ++ih)
                for (int64_t iw = 0; iw < W; ++iw) {
                  const int64_t oh = big_of(g, ih, kh), ow = big_of(g, iw, kw);
                  if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                  acc += Acc(x[at(n, ci, ih, iw, Ci, H, W)]) * Acc(dy[at(n, co, oh, ow, Co, Ho, Wo)]);
                }
            store(&dw[at(ci, co, kh, kw, Co, k, k)], acc, accumulate);
          }
        }
  if (!g.has_bias) return;
  // Both ops: db[co] = sum_{n,oh,ow} dy[n,co,oh,ow]
  for (int64_t co = 0; co < Co; ++co) {
    Acc acc = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) acc += Acc(dy[at(n, co, oh, ow, Co, Ho, Wo)]);
    store(&db[co], acc, accumulate);
  }
}

template void conv_ref_forward<float>(const ConvGeom&, const float*, const float*, const float*,
                                      float*);
template void conv_ref_forward<double>(const ConvGeom&, const double*, const double*,
                                       const double*, double*);
template void conv_ref_backward_data<float>(const ConvGeom&, const float*, const float*, float*);
template void conv_ref_backward_data<double>(const ConvGeom&, const double*, const double*,
                                             double*);
template void conv_ref_backward_weights<float>(const ConvGeom&, const float*, const float*,
                                               float*, float*, bool);
template void conv_ref_backward_weights<double>(const ConvGeom&, const double*, const double*,
                                                double*, double*, bool);

namespace {

// The loops above on NCHW; blocked x / y (geom().x_block, y_block) go through NCHW copies.
class ReferenceConv final : public ConvOp {
 public:
  explicit ReferenceConv(const ConvGeom& g) : ConvOp(g) {
    if (geom_.y_block == ConvGeom::kChooseBlock) geom_.y_block = 0;
    if (geom_.x_block) x_plain_.resize(size_t(g.N * g.C_in * g.H * g.W));
    if (geom_.y_block) y_plain_.resize(size_t(g.N * g.C_out * g.Ho() * g.Wo()));
  }
  void forward(const float* x, const float* w, const float* b, float* y) override {
    conv_ref_forward(geom_, in_x(x), w, b, out_y(y));
    from_plain_y(y);
  }
  void backward_data(const float* dy, const float* w, float* dx) override {
    conv_ref_backward_data(geom_, in_y(dy), w, out_x(dx));
    from_plain_x(dx);
  }
  void backward_weights(const float* x, const float* dy, float* dw, float* db,
                        bool accumulate) override {
    conv_ref_backward_weights(geom_, in_x(x), in_y(dy), dw, db, accumulate);
  }

 private:
  int64_t x_hw() const { return geom_.H * geom_.W; }
  int64_t y_hw() const { return geom_.Ho() * geom_.Wo(); }
  const float* in_x(const float* x) {
    if (!geom_.x_block) return x;
    reorder_ref(geom_.N, geom_.C_in, x_hw(), geom_.x_block, 0, x, x_plain_.data());
    return x_plain_.data();
  }
  const float* in_y(const float* y) {
    if (!geom_.y_block) return y;
    reorder_ref(geom_.N, geom_.C_out, y_hw(), geom_.y_block, 0, y, y_plain_.data());
    return y_plain_.data();
  }
  float* out_x(float* x) { return geom_.x_block ? x_plain_.data() : x; }
  float* out_y(float* y) { return geom_.y_block ? y_plain_.data() : y; }
  void from_plain_x(float* x) {
    if (geom_.x_block) reorder_ref(geom_.N, geom_.C_in, x_hw(), 0, geom_.x_block, x_plain_.data(), x);
  }
  void from_plain_y(float* y) {
    if (geom_.y_block) reorder_ref(geom_.N, geom_.C_out, y_hw(), 0, geom_.y_block, y_plain_.data(), y);
  }
  std::vector<float> x_plain_, y_plain_;  // NCHW copies for blocked layouts
};

}  // namespace

std::unique_ptr<ConvOp> make_conv_reference(const ConvGeom& g) {
  return std::make_unique<ReferenceConv>(g);
}

}  // namespace dcgan::ops::cpu
