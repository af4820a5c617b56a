// .npy image arrays (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
// The header is read by io/npy.hpp's read_npy_header (the one .npy header parser); images come
// as uint8 or float, NCHW, NHWC or (N, H, W), so this reader interprets the layout and converts
// to uint8 while streaming (a float file is read twice: once for its value range, once to
// convert; never held as floats in memory).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "dcgan/error.hpp"
#include "dcgan/io/npy.hpp"
#include "data/formats.hpp"

namespace dcgan::data_detail {

namespace {

constexpr const char* kNpyHint =
    "save images with numpy.save as uint8 (N, H, W), (N, C, H, W) or (N, H, W, C) with C in {1, 3, 4}, "
    "or float32 in [0, 1] or [-1, 1]";

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;

std::string shape_text(const std::vector<int64_t>& s) { return npy_shape_repr(s); }

bool is_channel_count(int64_t v) { return v == 1 || v == 3 || v == 4; }

}  // namespace

RawImages read_npy_images(const std::string& path, std::string* note) {
  FilePtr f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw FileError(path, "cannot open", "check the path and its permissions");
  const NpyHeader hd = read_npy_header(f.get(), path, kNpyHint);
  const int64_t file_size = static_cast<int64_t>(hd.file_size);

  // dtype
  const std::string& d = hd.descr;
  int item = 0;
  bool is_float = false, big = false;
  if (d == "|u1" || d == "<u1" || d == ">u1" || d == "u1") item = 1;
  else if (d == "<f4" || d == ">f4") { item = 4; is_float = true; big = d[0] == '>'; }
  else if (d == "<f8" || d == ">f8") { item = 8; is_float = true; big = d[0] == '>'; }
  else throw FileError(path, fmt::format(".npy dtype '{}' is not supported for images (uint8, float32, float64 are)", d),
                       kNpyHint);
  if (hd.fortran_order)
    throw FileError(path, ".npy array is in Fortran order", "save a C-order array (numpy.ascontiguousarray)");

  // layout
  const auto& s = hd.shape;
  RawImages r;
  std::string layout;
  if (s.size() == 3) {
    r.n = s[0]; r.h = int(s[1]); r.w = int(s[2]); r.c = 1; r.planar = true;
    layout = "(N, H, W) gray";
    if (s[1] > 65535 || s[2] > 65535) throw FileError(path, fmt::format("images of shape {} are too large", shape_text(s)));
  } else if (s.size() == 4) {
    const bool a = is_channel_count(s[1]), b = is_channel_count(s[3]);
    if (a && b)
      throw FileError(path, fmt::format("ambiguous .npy shape {}: both dimension 1 and dimension 3 could be channels",
                                        shape_text(s)),
                      "store images as (N, C, H, W) or (N, H, W, C) with H and W not in {1, 3, 4}, or as (N, H, W) for gray");
    if (!a && !b)
      throw FileError(path, fmt::format(".npy shape {} has no channel dimension of 1, 3 or 4 (at dimension 1 for "
                                        "NCHW or 3 for NHWC)", shape_text(s)), kNpyHint);
    r.n = s[0];
    r.planar = a;
    r.c = int(a ? s[1] : s[3]);
    r.h = int(a ? s[2] : s[1]);
    r.w = int(a ? s[3] : s[2]);
    layout = a ? "NCHW" : "NHWC";
    if (r.h > 65535 || r.w > 65535) throw FileError(path, fmt::format("images of shape {} are too large", shape_text(s)));
  } else {
    throw FileError(path, fmt::format(".npy shape {} is not (N, H, W), (N, C, H, W) or (N, H, W, C)", shape_text(s)),
                    kNpyHint);
  }
  if (r.n == 0 || r.h == 0 || r.w == 0) throw FileError(path, fmt::format(".npy array {} holds no images", shape_text(s)), kNpyHint);

  // size, before allocating
  int64_t count = 1;
  for (int64_t v : s) {
    if (count > (int64_t(1) << 40) / v)
      throw FileError(path, fmt::format(".npy header claims an absurd shape {}", shape_text(s)), kNpyHint);
    count *= v;
  }
  const int64_t have = file_size - static_cast<int64_t>(hd.data_offset);
  if (have < count * item)
    throw FileError(path, fmt::format("truncated: shape {} of '{}' needs {} bytes but the file holds {}", shape_text(s),
                                      d, count * item, have), kNpyHint);
  if (have > count * item)
    throw FileError(path, fmt::format("{} bytes after the data its header declares (shape {}, '{}')",
                                      have - count * item, shape_text(s), d), kNpyHint);

  r.data.resize(static_cast<size_t>(count));
  if (!is_float) {
    if (std::fread(r.data.data(), 1, r.data.size(), f.get()) != r.data.size())
      throw FileError(path, "read error (file changed while reading?)", kNpyHint);
    if (note) *note = fmt::format("uint8 {} {}", shape_text(s), layout);
    return r;
  }

  // Floats: stream twice (range, then conversion) in chunks.
  constexpr int64_t kChunk = 1 << 20;  // elements
  std::vector<unsigned char> buf(static_cast<size_t>(kChunk * item));
  auto for_each_chunk = [&](auto&& fn) {
    std::fseek(f.get(), static_cast<long>(hd.data_offset), SEEK_SET);
    for (int64_t i = 0; i < count; i += kChunk) {
      int64_t k = std::min(kChunk, count - i);
      if (std::fread(buf.data(), static_cast<size_t>(item), static_cast<size_t>(k), f.get()) != static_cast<size_t>(k))
        throw FileError(path, "read error (file changed while reading?)", kNpyHint);
      fn(i, k);
    }
  };
  auto value = [&](int64_t j) -> double {
    unsigned char b[8];
    std::memcpy(b, buf.data() + j * item, static_cast<size_t>(item));
    if (big) std::reverse(b, b + item);
    if (item == 4) { float v; std::memcpy(&v, b, 4); return v; }
    double v; std::memcpy(&v, b, 8); return v;
  };
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int64_t nan_at = -1;
  for_each_chunk([&](int64_t i, int64_t k) {
    for (int64_t j = 0; j < k; ++j) {
      double v = value(j);
      if (std::isnan(v)) { if (nan_at < 0) nan_at = i + j; continue; }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  });
  if (nan_at >= 0) throw FileError(path, fmt::format("float array holds NaN (first at flat index {})", nan_at), kNpyHint);
  const bool signed_range = lo < 0;
  if (lo < -1.0 || hi > 1.0)
    throw FileError(path, fmt::format("float values span [{}, {}]; expected [0, 1] or [-1, 1]", lo, hi),
                    "scale the images to [0, 1] or [-1, 1], or save them as uint8 0..255");
  for_each_chunk([&](int64_t i, int64_t k) {
    for (int64_t j = 0; j < k; ++j) {
      double v = value(j);
      double u = signed_range ? (v + 1.0) * 127.5 : v * 255.0;
      r.data[static_cast<size_t>(i + j)] = static_cast<uint8_t>(std::lround(std::clamp(u, 0.0, 255.0)));
    }
  });
  if (note)
    *note = fmt::format("float{} {} {}, values in [{:.3g}, {:.3g}] read as {} range", item * 8, shape_text(s), layout, lo,
                        hi, signed_range ? "the [-1, 1]" : "the [0, 1]");
  return r;
}

}  // namespace dcgan::data_detail
