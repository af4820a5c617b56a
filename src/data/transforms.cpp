// Channel conversion and resize + centre crop (rules in include/dcgan/data/dataset.hpp).
// Names: H height, W width, C channels; `src` is (H, W, C) interleaved, `dst` (C, size, size).
//
// Resize filter: bilinear with antialiasing, the same weights as
// torch.nn.functional.interpolate(x, size, mode="bilinear", align_corners=False, antialias=True)
// (https://pytorch.org/docs/stable/generated/torch.nn.functional.interpolate.html) and PIL's
// Image.resize(BILINEAR), which torchvision's Resize uses: for scale s = in / out,
//   support = max(s, 1),  centre of output i = (i + 0.5) * s,
//   taps j in [trunc(centre - support + 0.5) clamped to 0, trunc(centre + support + 0.5) clamped to in),
//   w_j = max(0, 1 - |(j - centre + 0.5) / max(s, 1)|), normalised to sum 1,
// i.e. plain bilinear (half-pixel centres) when upscaling and a triangle filter widened by s when
// downscaling. Taps outside the image are dropped and the rest renormalised (not clamped).
// Separable: rows first, then columns, in float; rounded to uint8 once at the end. Only the
// output pixels that survive the centre crop are computed. Checked against PyTorch: within +-1
// (final rounding) everywhere. Hand-written rather than stb_image_resize because stb clamps at
// the borders, which differs from PyTorch by up to ~7/255 on the edge pixels when downscaling.
#include "data/transforms.hpp"

#include <cmath>
#include <cstring>
#include <vector>

#include <algorithm>

namespace dcgan {

namespace {

// Over a white background: round((v * a + 255 * (255 - a)) / 255).
inline uint8_t over_white(int v, int a) { return static_cast<uint8_t>((v * a + 255 * (255 - a) + 127) / 255); }
// ITU-R BT.601 luma, rounded: (299 R + 587 G + 114 B) / 1000.
inline uint8_t luma(int r, int g, int b) { return static_cast<uint8_t>((299 * r + 587 * g + 114 * b + 500) / 1000); }

// Python's round() of x / 2 (half to even), as torchvision's CenterCrop computes its offset.
int64_t half_even(int64_t x) {
  int64_t q = x / 2;
  return (x % 2 == 1 && q % 2 == 1) ? q + 1 : q;
}

// Filter taps along one axis for the `n` outputs first..first+n-1 of a resize from `in` to `out`.
struct AxisTaps {
  int max_taps = 0;
  std::vector<int> start, count;  // (n)
  std::vector<float> w;           // (n, max_taps)
};

AxisTaps axis_taps(int in, int64_t out, int64_t first, int n) {
  AxisTaps t;
  const double scale = double(in) / out;
  const double support = scale >= 1.0 ? scale : 1.0;
  const double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.start.resize(n);
  t.count.resize(n);
  t.w.assign(static_cast<size_t>(n) * t.max_taps, 0.f);
  std::vector<double> wd(t.max_taps);
  for (int i = 0; i < n; ++i) {
    const double centre = (first + i + 0.5) * scale;
    const int lo = std::max(static_cast<int>(centre - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(centre + support + 0.5), in);
    const int cnt = std::min(hi - lo, t.max_taps);
    double sum = 0;
    for (int j = 0; j < cnt; ++j) {
      double x = (lo + j - centre + 0.5) * inv;
      wd[j] = std::max(0.0, 1.0 - std::fabs(x));
      sum += wd[j];
    }
    t.start[i] = lo;
    t.count[i] = cnt;
    for (int j = 0; j < cnt; ++j) t.w[size_t(i) * t.max_taps + j] = static_cast<float>(sum > 0 ? wd[j] / sum : 0.0);
  }
  return t;
}

}  // namespace

void resize_shape(int h, int w, int size, int64_t* new_h, int64_t* new_w) {
  if (h <= w) {
    *new_h = size;
    *new_w = int64_t(size) * w / h;
  } else {
    *new_w = size;
    *new_h = int64_t(size) * h / w;
  }
}

std::string channel_conversion_name(int in_c, int out_c) {
  const char* to = out_c == 1 ? "gray" : "RGB";
  switch (in_c) {
    case 1: return out_c == 1 ? "" : "gray → RGB replicated";
    case 2: return out_c == 1 ? "gray+alpha composited over white → gray"
                              : "gray+alpha composited over white → RGB replicated";
    case 3: return out_c == 3 ? "" : "RGB → gray (ITU-R 601 luma 0.299/0.587/0.114)";
    case 4: return out_c == 3 ? "RGBA composited over white → RGB"
                              : "RGBA composited over white → gray (ITU-R 601 luma 0.299/0.587/0.114)";
    default: return std::string("? → ") + to;
  }
}

void convert_image(const uint8_t* src, int h, int w, int c, int size, int out_c, uint8_t* dst) {
  const int64_t px = int64_t(h) * w;
  // 1. Channels, at the original size: tmp is (H, W, out_c).
  std::vector<uint8_t> tmp;
  const uint8_t* conv = src;
  if (!(c == out_c)) {
    tmp.resize(static_cast<size_t>(px * out_c));
    for (int64_t i = 0; i < px; ++i) {
      const uint8_t* s = src + i * c;
      uint8_t* d = tmp.data() + i * out_c;
      int r, g, b;
      switch (c) {
        case 1: r = g = b = s[0]; break;
        case 2: r = g = b = over_white(s[0], s[1]); break;
        case 3: r = s[0]; g = s[1]; b = s[2]; break;
        default: r = over_white(s[0], s[3]); g = over_white(s[1], s[3]); b = over_white(s[2], s[3]); break;
      }
      if (out_c == 1) d[0] = (c <= 2) ? static_cast<uint8_t>(r) : luma(r, g, b);
      else { d[0] = static_cast<uint8_t>(r); d[1] = static_cast<uint8_t>(g); d[2] = static_cast<uint8_t>(b); }
    }
    conv = tmp.data();
  }
  // 2. + 3. Shorter side to `size`, then the centre `size` x `size` window: only that window is
  // computed. Output (y, x) of the crop is pixel (top + y, left + x) of the resized (nh, nw) image.
  int64_t nh, nw;
  resize_shape(h, w, size, &nh, &nw);
  const int64_t top = half_even(nh - size), left = half_even(nw - size);
  if (nh == h && nw == w) {  // no resize: crop only
    for (int ch = 0; ch < out_c; ++ch)
      for (int y = 0; y < size; ++y) {
        const uint8_t* row = conv + (int64_t(top + y) * w + left) * out_c + ch;
        uint8_t* d = dst + (int64_t(ch) * size + y) * size;
        for (int x = 0; x < size; ++x) d[x] = row[int64_t(x) * out_c];
      }
    return;
  }
  const AxisTaps tx = axis_taps(w, nw, left, size), ty = axis_taps(h, nh, top, size);
  // Rows: (H, size, out_c) floats, only the input rows some output row reads.
  const int row_lo = ty.start[0], row_hi = ty.start[size - 1] + ty.count[size - 1];
  std::vector<float> horiz(static_cast<size_t>(int64_t(row_hi - row_lo) * size * out_c));
  for (int y = row_lo; y < row_hi; ++y) {
    const uint8_t* in_row = conv + int64_t(y) * w * out_c;
    float* o = horiz.data() + int64_t(y - row_lo) * size * out_c;
    for (int x = 0; x < size; ++x) {
      const float* wt = tx.w.data() + size_t(x) * tx.max_taps;
      const uint8_t* p = in_row + int64_t(tx.start[x]) * out_c;
      for (int ch = 0; ch < out_c; ++ch) {
        float acc = 0.f;
        for (int j = 0; j < tx.count[x]; ++j) acc += wt[j] * p[int64_t(j) * out_c + ch];
        o[x * out_c + ch] = acc;
      }
    }
  }
  // Columns, round, HWC -> CHW.
  for (int y = 0; y < size; ++y) {
    const float* wt = ty.w.data() + size_t(y) * ty.max_taps;
    const float* base = horiz.data() + int64_t(ty.start[y] - row_lo) * size * out_c;
    for (int x = 0; x < size; ++x)
      for (int ch = 0; ch < out_c; ++ch) {
        float acc = 0.f;
        for (int j = 0; j < ty.count[y]; ++j) acc += wt[j] * base[(int64_t(j) * size + x) * out_c + ch];
        dst[(int64_t(ch) * size + y) * size + x] = static_cast<uint8_t>(std::lround(std::clamp(acc, 0.f, 255.f)));
      }
  }
}

}  // namespace dcgan
