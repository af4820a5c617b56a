// Image output (PNG through stb_image_write, GIF89a through the small LZW encoder below) and image
// decoding through stb_image. Pixel buffers are HWC uint8.
#include "dcgan/io/image.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <stb_image.h>
#include <stb_image_write.h>

#include "dcgan/error.hpp"
#include "io/atomic_file.hpp"

namespace dcgan {

namespace {

void check_image_args(const char* op, int h, int w, int channels) {
  DCGAN_CHECK(h > 0 && w > 0, "[{}] image size {}x{} must be positive", op, h, w);
  DCGAN_CHECK(channels >= 1 && channels <= 4, "[{}] {} channels; expected 1, 2, 3 or 4", op, channels);
  DCGAN_CHECK(static_cast<int64_t>(h) * w * channels <= INT32_MAX, "[{}] image {}x{}x{} is too large", op, h, w,
              channels);
}

// Decoding refuses images above this many pixels before allocating (a 40-byte PNG can claim
// 16384 x 16384 x 4 = 1 GiB).
constexpr int64_t kMaxDecodePixels = int64_t(1) << 28;

}  // namespace

// ---------------------------------------------------------------------------------------------
// float [-1, 1] -> uint8, grids

std::vector<uint8_t> to_uint8_hwc(const float* chw, int C, int H, int W) {
  DCGAN_CHECK(C > 0 && H > 0 && W > 0, "[to_uint8_hwc] bad image shape ({}, {}, {})", C, H, W);
  std::vector<uint8_t> out(static_cast<size_t>(C) * H * W);
  const size_t plane = static_cast<size_t>(H) * W;
  for (int c = 0; c < C; ++c) {
    const float* src = chw + c * plane;
    for (size_t i = 0; i < plane; ++i) {
      float x = src[i];
      if (!(x > -1.f)) x = -1.f;  // also NaN
      if (x > 1.f) x = 1.f;
      // torchvision: sub_(low).div_(high - low), then mul(255).add_(0.5): separately rounded float
      // ops. The volatile keeps the compiler from fusing the multiply-add into one FMA (GCC's
      // default -ffp-contract=fast), which would round differently at exact .5 boundaries.
      volatile float scaled = (x + 1.f) / 2.f * 255.f;
      float y = std::min(scaled + 0.5f, 255.f);
      out[i * C + c] = static_cast<uint8_t>(y);
    }
  }
  return out;
}

ImageU8 make_grid(const Tensor& x, int nrow, int padding) {
  DCGAN_CHECK(x.ndim() == 4, "[make_grid] expected images (N, C, H, W), got {}", shape_str(x.shape()));
  DCGAN_CHECK(nrow > 0, "[make_grid] nrow must be positive, got {}", nrow);
  DCGAN_CHECK(padding >= 0, "[make_grid] padding must be non-negative, got {}", padding);
  const int N = static_cast<int>(x.dim(0)), C = static_cast<int>(x.dim(1));
  const int H = static_cast<int>(x.dim(2)), W = static_cast<int>(x.dim(3));
  DCGAN_CHECK(N > 0 && H > 0 && W > 0, "[make_grid] empty images {}", shape_str(x.shape()));
  DCGAN_CHECK(C >= 1 && C <= 4, "[make_grid] {} channels; expected 1 to 4", C);
  const size_t img_numel = static_cast<size_t>(C) * H * W;
  ImageU8 g;
  g.channels = C;
  if (N == 1) {  // torchvision returns a single image as is
    g.h = H;
    g.w = W;
    g.pixels = to_uint8_hwc(x.data(), C, H, W);
    return g;
  }
  const int xmaps = std::min(nrow, N);
  const int ymaps = (N + xmaps - 1) / xmaps;
  const int cell_h = H + padding, cell_w = W + padding;
  g.h = cell_h * ymaps + padding;
  g.w = cell_w * xmaps + padding;
  g.pixels.assign(static_cast<size_t>(g.h) * g.w * C, 0);
  for (int k = 0; k < N; ++k) {
    const int gy = k / xmaps, gx = k % xmaps;
    std::vector<uint8_t> img = to_uint8_hwc(x.data() + k * img_numel, C, H, W);
    for (int y = 0; y < H; ++y) {
      uint8_t* dst = &g.pixels[((static_cast<size_t>(gy) * cell_h + padding + y) * g.w + gx * cell_w + padding) * C];
      std::memcpy(dst, &img[static_cast<size_t>(y) * W * C], static_cast<size_t>(W) * C);
    }
  }
  return g;
}

ImageU8 make_grid_rows(const Tensor& x, const std::vector<int64_t>& row_lengths, int padding) {
  DCGAN_CHECK(x.ndim() == 4, "[make_grid_rows] expected images (N, C, H, W), got {}", shape_str(x.shape()));
  int64_t total = 0, ncol = 1;
  for (int64_t n : row_lengths) {
    DCGAN_CHECK(n >= 0, "[make_grid_rows] a row length is negative ({})", n);
    total += n;
    ncol = std::max(ncol, n);
  }
  DCGAN_CHECK(total == x.dim(0) && total > 0, "[make_grid_rows] the rows hold {} images, the tensor {}", total,
              x.dim(0));
  // Laid out in a full (rows x ncol) tensor of -1 (black after conversion), then make_grid.
  const int64_t img_numel = x.dim(1) * x.dim(2) * x.dim(3);
  Tensor full({int64_t(row_lengths.size()) * ncol, x.dim(1), x.dim(2), x.dim(3)}, -1.f);
  int64_t src = 0;
  for (size_t r = 0; r < row_lengths.size(); ++r) {
    std::memcpy(full.data() + int64_t(r) * ncol * img_numel, x.data() + src * img_numel,
                static_cast<size_t>(row_lengths[r] * img_numel) * sizeof(float));
    src += row_lengths[r];
  }
  return make_grid(full, int(ncol), padding);
}

// ---------------------------------------------------------------------------------------------
// PNG

std::vector<uint8_t> encode_png(const uint8_t* hwc, int h, int w, int channels) {
  check_image_args("encode_png", h, w, channels);
  std::vector<uint8_t> png;
  auto append = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(append, &png, w, h, channels, hwc, w * channels))
    throw Error(fmt::format("[encode_png] encoding a {}x{}x{} PNG failed (out of memory?)", h, w, channels));
  return png;
}

namespace {
void check_image_buffer(const char* op, const ImageU8& img) {
  DCGAN_CHECK(img.pixels.size() == static_cast<size_t>(img.h) * img.w * img.channels,
              "[{}] image buffer holds {} bytes, expected {}x{}x{}", op, img.pixels.size(), img.h, img.w,
              img.channels);
}
}  // namespace

std::vector<uint8_t> encode_png(const ImageU8& img) {
  check_image_buffer("encode_png", img);
  return encode_png(img.pixels.data(), img.h, img.w, img.channels);
}

void write_png(const std::string& path, const uint8_t* hwc, int h, int w, int channels) {
  check_image_args("write_png", h, w, channels);
  const std::vector<uint8_t> png = encode_png(hwc, h, w, channels);
  write_file_atomic(path, [&](AtomicWriter& f) { f.write(png.data(), png.size()); });
}

void write_png(const std::string& path, const ImageU8& img) {
  check_image_buffer("write_png", img);
  write_png(path, img.pixels.data(), img.h, img.w, img.channels);
}

void save_image_grid(const std::string& path, const Tensor& nchw, int nrow, int padding) {
  write_png(path, make_grid(nchw, nrow, padding));
}

// ---------------------------------------------------------------------------------------------
// GIF89a: https://www.w3.org/Graphics/GIF/spec-gif89a.txt

namespace {

// Variable-width LZW codes, packed LSB first into 255-byte sub-blocks.
class GifBitWriter {
 public:
  explicit GifBitWriter(std::vector<uint8_t>& out) : out_(out) {}
  void put(uint32_t code, int bits) {
    acc_ |= code << nacc_;
    nacc_ += bits;
    while (nacc_ >= 8) {
      byte(static_cast<uint8_t>(acc_ & 0xff));
      acc_ >>= 8;
      nacc_ -= 8;
    }
  }
  void finish() {
    if (nacc_ > 0) byte(static_cast<uint8_t>(acc_ & 0xff));
    acc_ = 0;
    nacc_ = 0;
    flush_block();
    out_.push_back(0);  // block terminator
  }

 private:
  void byte(uint8_t b) {
    block_[nblock_++] = b;
    if (nblock_ == 255) flush_block();
  }
  void flush_block() {
    if (nblock_ == 0) return;
    out_.push_back(static_cast<uint8_t>(nblock_));
    out_.insert(out_.end(), block_, block_ + nblock_);
    nblock_ = 0;
  }
  std::vector<uint8_t>& out_;
  uint32_t acc_ = 0;
  int nacc_ = 0;
  uint8_t block_[255];
  int nblock_ = 0;
};

// LZW with 8-bit symbols (min code size 8): clear = 256, end = 257, codes up to 12 bits. The code
// width follows the decoder's rule (giflib's DGifDecompressInput): after n codes since the last
// clear, the width is the bit length of 257 + n, at most 12. When the dictionary fills (code 4095
// assigned) a clear code is sent and it starts over.
void lzw_encode(const std::vector<uint8_t>& idx, std::vector<uint8_t>& out) {
  constexpr uint32_t kClear = 256, kEnd = 257, kMaxCode = 4095;
  out.push_back(8);  // LZW minimum code size
  GifBitWriter bw(out);
  std::vector<uint16_t> child(4096 * 256);  // child[prefix * 256 + symbol] = code, 0 = none
  int width = 9;
  uint32_t n_codes = 0;     // codes written since the last clear
  uint32_t next_code = 258; // next dictionary code to assign
  auto emit = [&](uint32_t code) {
    bw.put(code, width);
    ++n_codes;
    uint32_t top = 257 + n_codes;
    while (width < 12 && top >= (1u << width)) ++width;
  };
  auto reset = [&] {
    std::fill(child.begin(), child.end(), 0);
    width = 9;
    n_codes = 0;
    next_code = 258;
  };
  bw.put(kClear, width);
  uint32_t cur = idx[0];
  for (size_t i = 1; i < idx.size(); ++i) {
    const uint32_t sym = idx[i];
    const uint16_t c = child[cur * 256 + sym];
    if (c) {
      cur = c;
      continue;
    }
    emit(cur);
    child[cur * 256 + sym] = static_cast<uint16_t>(next_code++);
    if (next_code > kMaxCode) {  // 4095 assigned: dictionary full
      bw.put(kClear, width);
      reset();
    }
    cur = sym;
  }
  emit(cur);
  bw.put(kEnd, width);
  bw.finish();
}

// 4x4 Bayer thresholds in (0, 1).
constexpr float kBayer4[4][4] = {{0.5f / 16, 8.5f / 16, 2.5f / 16, 10.5f / 16},
                                 {12.5f / 16, 4.5f / 16, 14.5f / 16, 6.5f / 16},
                                 {3.5f / 16, 11.5f / 16, 1.5f / 16, 9.5f / 16},
                                 {15.5f / 16, 7.5f / 16, 13.5f / 16, 5.5f / 16}};

inline int dither_level(uint8_t v, int levels, float t) {
  int q = static_cast<int>(v * (levels - 1) / 255.f + t);
  return std::min(q, levels - 1);
}

}  // namespace

void write_gif(const std::string& path, const std::vector<std::vector<uint8_t>>& frames, int h, int w, int channels,
               int delay_cs, int loop) {
  check_image_args("write_gif", h, w, channels);
  DCGAN_CHECK(h <= 65535 && w <= 65535, "[write_gif] {}x{} exceeds the GIF limit of 65535", h, w);
  DCGAN_CHECK(!frames.empty(), "[write_gif] no frames for {}", path);
  DCGAN_CHECK(delay_cs >= 0 && delay_cs <= 65535, "[write_gif] delay {} out of range 0..65535", delay_cs);
  DCGAN_CHECK(loop <= 65535, "[write_gif] loop count {} exceeds 65535", loop);
  const size_t npix = static_cast<size_t>(h) * w;
  for (size_t f = 0; f < frames.size(); ++f)
    DCGAN_CHECK(frames[f].size() == npix * channels, "[write_gif] frame {} holds {} bytes, expected {}x{}x{}", f,
                frames[f].size(), h, w, channels);
  const bool gray = channels <= 2;

  std::vector<uint8_t> out;
  auto u16 = [&](int v) {
    out.push_back(static_cast<uint8_t>(v & 0xff));
    out.push_back(static_cast<uint8_t>((v >> 8) & 0xff));
  };
  for (char c : std::string("GIF89a")) out.push_back(static_cast<uint8_t>(c));
  // Logical screen descriptor: global colour table, 8-bit colour resolution, 256 entries.
  u16(w);
  u16(h);
  out.push_back(0xF7);
  out.push_back(0);  // background colour index
  out.push_back(0);  // pixel aspect ratio: none
  for (int i = 0; i < 256; ++i) {
    uint8_t r, g, b;
    if (gray) {
      r = g = b = static_cast<uint8_t>(i);
    } else if (i < 6 * 7 * 6) {  // index = r * 42 + g * 6 + b
      r = static_cast<uint8_t>((i / 42) * 255 / 5);
      g = static_cast<uint8_t>(((i / 6) % 7) * 255 / 6);
      b = static_cast<uint8_t>((i % 6) * 255 / 5);
    } else {
      r = g = b = 0;
    }
    out.insert(out.end(), {r, g, b});
  }
  if (loop >= 0) {  // NETSCAPE2.0 application extension: repeat count
    out.insert(out.end(), {0x21, 0xFF, 0x0B});
    for (char c : std::string("NETSCAPE2.0")) out.push_back(static_cast<uint8_t>(c));
    out.insert(out.end(), {0x03, 0x01});
    u16(loop);
    out.push_back(0);
  }
  std::vector<uint8_t> idx(npix);
  for (const std::vector<uint8_t>& fr : frames) {
    // Graphic control extension: disposal 1 (leave in place), no transparency, delay.
    out.insert(out.end(), {0x21, 0xF9, 0x04, 0x04});
    u16(delay_cs);
    out.push_back(0);
    out.push_back(0);
    // Image descriptor: full frame, no local colour table, not interlaced.
    out.push_back(0x2C);
    u16(0);
    u16(0);
    u16(w);
    u16(h);
    out.push_back(0);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const size_t p = static_cast<size_t>(y) * w + x;
        const uint8_t* px = &fr[p * channels];
        if (gray) {
          idx[p] = px[0];
        } else {
          const float t = kBayer4[y & 3][x & 3];
          idx[p] = static_cast<uint8_t>(dither_level(px[0], 6, t) * 42 + dither_level(px[1], 7, t) * 6 +
                                        dither_level(px[2], 6, t));
        }
      }
    }
    lzw_encode(idx, out);
  }
  out.push_back(0x3B);  // trailer
  write_file_atomic(path, [&](AtomicWriter& f) { f.write(out.data(), out.size()); });
}

// ---------------------------------------------------------------------------------------------
// Decoding

namespace {

DecodedImage take(stbi_uc* data, int w, int h, int n) {
  DecodedImage img;
  img.h = h;
  img.w = w;
  img.channels = n;
  img.pixels.assign(data, data + static_cast<size_t>(w) * h * n);
  stbi_image_free(data);
  return img;
}

const char* kDecodeHint = "use a PNG, JPEG, BMP, GIF, TGA or PNM image, or remove the file from the dataset";

}  // namespace

DecodedImage decode_image_file(const std::string& path) {
  struct stat sb{};
  if (::stat(path.c_str(), &sb) != 0) {
    int err = errno;
    throw FileError(path, err == ENOENT ? "file not found" : fmt::format("cannot open: {}", std::strerror(err)),
                    "check the path");
  }
  if (!S_ISREG(sb.st_mode)) throw FileError(path, "not a regular file", "give the path of an image file");
  int w = 0, h = 0, n = 0;
  if (stbi_info(path.c_str(), &w, &h, &n) && static_cast<int64_t>(w) * h > kMaxDecodePixels)
    throw FileError(path, fmt::format("image is {}x{}, larger than the {} pixels supported", w, h, kMaxDecodePixels),
                    kDecodeHint);
  stbi_uc* data = stbi_load(path.c_str(), &w, &h, &n, 0);
  if (!data) {
    const char* why = stbi_failure_reason();
    throw FileError(path, fmt::format("cannot decode image: {}", why ? why : "unknown error"), kDecodeHint);
  }
  return take(data, w, h, n);
}

DecodedImage decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size == 0 || size > static_cast<size_t>(INT32_MAX))
    throw FileError(name, fmt::format("cannot decode image: {} bytes", size), kDecodeHint);
  int w = 0, h = 0, n = 0;
  if (stbi_info_from_memory(bytes, static_cast<int>(size), &w, &h, &n) &&
      static_cast<int64_t>(w) * h > kMaxDecodePixels)
    throw FileError(name, fmt::format("image is {}x{}, larger than the {} pixels supported", w, h, kMaxDecodePixels),
                    kDecodeHint);
  stbi_uc* data = stbi_load_from_memory(bytes, static_cast<int>(size), &w, &h, &n, 0);
  if (!data) {
    const char* why = stbi_failure_reason();
    throw FileError(name, fmt::format("cannot decode image: {}", why ? why : "unknown error"), kDecodeHint);
  }
  return take(data, w, h, n);
}

}  // namespace dcgan
