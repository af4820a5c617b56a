// .npy image arrays (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
// src/io/npy.cpp reads float32 tensors; images also come as uint8 and in NHWC, so this reader
// parses the header itself and converts to uint8 while streaming (a float file is read twice:
// once for its value range, once to convert; never held as floats in memory).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "data/formats.hpp"
#include "dcgan/error.hpp"

namespace dcgan::data_detail {

namespace {

constexpr const char* kNpyHint =
    "save images with numpy.save as uint8 (N, H, W), (N, C, H, W) or (N, H, W, C) with C in {1, 3, 4}, "
    "or float32 in [0, 1] or [-1, 1]";

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;

struct NpyHeader {
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  int64_t data_offset = 0;
};

// Value of key `key` in the header dict text, starting just after its ':'.
size_t find_key(const std::string& h, const std::string& key, const std::string& path) {
  size_t p = h.find("'" + key + "'");
  if (p == std::string::npos) p = h.find("\"" + key + "\"");
  if (p == std::string::npos) throw FileError(path, fmt::format("malformed .npy header: no '{}' key", key), kNpyHint);
  p = h.find(':', p);
  if (p == std::string::npos) throw FileError(path, "malformed .npy header", kNpyHint);
  ++p;
  while (p < h.size() && h[p] == ' ') ++p;
  return p;
}

NpyHeader parse_header(FILE* f, const std::string& path, int64_t file_size) {
  unsigned char pre[10];
  if (std::fread(pre, 1, 10, f) != 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    throw FileError(path, "not a .npy file (no \\x93NUMPY magic)", kNpyHint);
  const int major = pre[6];
  if (major < 1 || major > 3)
    throw FileError(path, fmt::format(".npy format version {}.{} is not supported (1.0 to 3.0 are)", major, pre[7]),
                    kNpyHint);
  int64_t len = pre[8] | (pre[9] << 8), off = 10;
  if (major >= 2) {
    unsigned char b[2];
    if (std::fread(b, 1, 2, f) != 2) throw FileError(path, "truncated .npy header", kNpyHint);
    len |= (int64_t(b[0]) << 16) | (int64_t(b[1]) << 24);
    off = 12;
  }
  if (len > (1 << 20) || off + len > file_size) throw FileError(path, "truncated or malformed .npy header", kNpyHint);
  std::string h(static_cast<size_t>(len), '\0');
  if (std::fread(h.data(), 1, h.size(), f) != h.size()) throw FileError(path, "truncated .npy header", kNpyHint);
  NpyHeader r;
  r.data_offset = off + len;
  size_t p = find_key(h, "descr", path);
  if (p >= h.size() || (h[p] != '\'' && h[p] != '"'))
    throw FileError(path, "structured .npy dtypes are not supported", kNpyHint);
  size_t q = h.find(h[p], p + 1);
  if (q == std::string::npos) throw FileError(path, "malformed .npy header (descr)", kNpyHint);
  r.descr = h.substr(p + 1, q - p - 1);
  p = find_key(h, "fortran_order", path);
  if (h.compare(p, 4, "True") == 0) r.fortran = true;
  else if (h.compare(p, 5, "False") != 0) throw FileError(path, "malformed .npy header (fortran_order)", kNpyHint);
  p = find_key(h, "shape", path);
  if (p >= h.size() || h[p] != '(') throw FileError(path, "malformed .npy header (shape)", kNpyHint);
  q = h.find(')', p);
  if (q == std::string::npos) throw FileError(path, "malformed .npy header (shape)", kNpyHint);
  std::string s = h.substr(p + 1, q - p - 1);
  for (size_t i = 0; i < s.size();) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == i || j - i > 15) throw FileError(path, fmt::format("malformed .npy shape '({})'", s), kNpyHint);
    r.shape.push_back(std::stoll(s.substr(i, j - i)));
    i = j;
    if (i < s.size() && s[i] == 'L') ++i;
  }
  return r;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "(";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

bool is_channel_count(int64_t v) { return v == 1 || v == 3 || v == 4; }

}  // namespace

RawImages read_npy_images(const std::string& path, std::string* note) {
  std::error_code ec;
  const int64_t file_size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) throw FileError(path, fmt::format("cannot read: {}", ec.message()), kNpyHint);
  FilePtr f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw FileError(path, "cannot open", "check the path and its permissions");
  NpyHeader hd = parse_header(f.get(), path, file_size);

  // dtype
  const std::string& d = hd.descr;
  int item = 0;
  bool is_float = false, big = false;
  if (d == "|u1" || d == "<u1" || d == ">u1" || d == "u1") item = 1;
  else if (d == "<f4" || d == ">f4") { item = 4; is_float = true; big = d[0] == '>'; }
  else if (d == "<f8" || d == ">f8") { item = 8; is_float = true; big = d[0] == '>'; }
  else throw FileError(path, fmt::format(".npy dtype '{}' is not supported for images (uint8, float32, float64 are)", d),
                       kNpyHint);
  if (hd.fortran)
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
  const int64_t have = file_size - hd.data_offset;
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
