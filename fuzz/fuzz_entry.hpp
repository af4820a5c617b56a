// The entry points the fuzz targets (fuzz/fuzz_*.cpp) and the regression replay test
// (tests/unit/test_fuzz_regressions.cpp) share: one function per parser of outside data, taking the
// raw bytes of one input. A parser may refuse an input with a dcgan::Error: that is caught here and
// counted, since it is the clean outcome. Anything else (a crash, a sanitizer report, another
// exception type such as std::bad_alloc, std::length_error or nlohmann::json::exception) is a bug.
//
// File-based readers get the bytes through a per-process temporary file.
#pragma once
#include <unistd.h>
#include <stb/stb_image.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dcgan/error.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "dcgan/models/config.hpp"
#include "dcgan/train/trainer.hpp"
#include "data/formats.hpp"
#include "data/transforms.hpp"
#include "io/safetensors.hpp"

namespace dcgan::fuzz {

// What the parsers made of one input: how many stages accepted it, and the messages of those that
// refused it (each a dcgan::Error).
struct Outcome {
  int accepted = 0;
  std::vector<std::string> errors;
};

// Runs one parsing stage, recording a dcgan::Error as a refusal; everything else propagates.
template <class F>
void stage(Outcome& out, F&& f) {
  try {
    f();
    ++out.accepted;
  } catch (const Error& e) {
    out.errors.emplace_back(e.what());
  }
}

// Writes the bytes to $TMPDIR/dcgan-fuzz-<tag>-<pid><ext> (rewritten for every input) and returns the path.
inline std::string temp_file(const std::string& tag, const uint8_t* data, size_t size, const std::string& ext = "") {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/dcgan-fuzz-" + tag + "-" +
                     std::to_string(static_cast<long>(::getpid())) + ext;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::perror(path.c_str());
    std::abort();
  }
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Converts raw images to a small model size unless that would be slow (large n * size^2).
inline void finish_small(data_detail::RawImages raw, int img_size, int channels, const std::string& path) {
  if (raw.n <= 0 || raw.n * int64_t(img_size) * img_size * channels > (int64_t(1) << 22)) return;
  DataSpec spec;
  spec.img_size = img_size;
  spec.channels = channels;
  Dataset ds = data_detail::finish_dataset(std::move(raw), spec, path, "fuzz");
  if (ds.pixels.size() != static_cast<size_t>(ds.n * ds.image_bytes())) std::abort();
}

// safetensors: header-only read, full read, every tensor as float and as an integer, the model
// config from the metadata.
inline Outcome safetensors_one(const uint8_t* data, size_t size) {
  Outcome out;
  const std::string path = temp_file("st", data, size, ".safetensors");
  stage(out, [&] { read_safetensors_header(path); });
  SafeTensors st;
  bool ok = false;
  stage(out, [&] {
    st = read_safetensors(path);
    ok = true;
  });
  if (!ok) return out;
  for (const auto& [name, t] : st.tensors) {
    stage(out, [&, name = name] { st.get(name); });
    stage(out, [&, name = name] { st.get_i64(name); });
  }
  stage(out, [&] { ModelConfig::from_metadata(st.metadata); });
  return out;
}

// .npy: the float32 tensor reader (src/io) and the image-array reader (src/data) + conversion.
inline Outcome npy_one(const uint8_t* data, size_t size) {
  Outcome out;
  const std::string path = temp_file("npy", data, size, ".npy");
  stage(out, [&] { read_npy(path); });
  stage(out, [&] {
    std::string note;
    data_detail::RawImages raw = data_detail::read_npy_images(path, &note);
    finish_small(std::move(raw), 16, 3, path);
  });
  return out;
}

// gzip-compresses `n` bytes (a complete .gz stream).
inline std::vector<uint8_t> gzip_bytes(const uint8_t* p, size_t n) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<uint8_t> out(deflateBound(&zs, n) + 64);
  zs.next_in = const_cast<uint8_t*>(p);
  zs.avail_in = static_cast<uInt>(n);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// IDX. Byte 0 picks the variant: bit 0 gzip-compress the rest first (the gz path then sees a
// well-formed stream holding the fuzzed IDX bytes), bit 1 read as labels instead of images, bit 2
// convert to RGB instead of gray. The rest is the file (which may itself be a fuzzed gzip stream).
inline Outcome idx_one(const uint8_t* data, size_t size) {
  Outcome out;
  if (size < 1) return out;
  const uint8_t mode = data[0];
  std::vector<uint8_t> body(data + 1, data + size);
  if (mode & 1) body = gzip_bytes(body.data(), body.size());
  const std::string path = temp_file("idx", body.data(), body.size());
  if (mode & 2) {
    stage(out, [&] { data_detail::read_idx_labels(path); });
  } else {
    stage(out, [&] {
      data_detail::RawImages raw = data_detail::read_idx_images(path);
      finish_small(std::move(raw), 16, (mode & 4) ? 3 : 1, path);
    });
  }
  return out;
}

// Images: byte 0 picks the model size (8, 16, 32, 64 by bits 0-1), channels (bit 2: RGB) and the
// decoder entry (bit 3: from a file, as image folders read them; else from memory); the rest is an
// encoded image for stb_image (PNG, JPEG, BMP, GIF, TGA, PSD, PNM, HDR, PIC), decoded and converted
// (alpha, channels, resize, centre crop) by convert_image.
inline Outcome image_one(const uint8_t* data, size_t size) {
  Outcome out;
  if (size < 1) return out;
  static const int kSizes[] = {8, 16, 32, 64};
  const int img_size = kSizes[data[0] & 3], channels = (data[0] & 4) ? 3 : 1;
  const bool from_file = data[0] & 8;
  // Fuzzing only: skip images claiming more than 4 Mpixel. The product accepts up to 2^28 pixels
  // (tests/unit/test_limits.cpp checks that limit), and a 100-byte truncated BMP claiming 100
  // Mpixel really does cost stb ~10 s and 350 MB (docs/reliability.md, known limits), which would
  // only make the fuzzer time out on the same known case again and again.
  int w = 0, h = 0, n = 0;
  if (size > 1 && stbi_info_from_memory(data + 1, static_cast<int>(std::min<size_t>(size - 1, INT32_MAX)), &w, &h, &n) &&
      int64_t(w) * h > (int64_t(1) << 22))
    return out;
  stage(out, [&] {
    DecodedImage img = from_file ? decode_image_file(temp_file("img", data + 1, size - 1))
                                 : decode_image_memory(data + 1, size - 1, "fuzz-image");
    if (img.pixels.size() != static_cast<size_t>(img.h) * img.w * img.channels) std::abort();
    std::vector<uint8_t> dst(static_cast<size_t>(channels) * img_size * img_size);
    convert_image(img.pixels.data(), img.h, img.w, img.channels, img_size, channels, dst.data());
  });
  return out;
}

// CIFAR-10 binary batch, converted to 16x16 gray.
inline Outcome cifar_one(const uint8_t* data, size_t size) {
  Outcome out;
  const std::string path = temp_file("cifar", data, size, ".bin");
  stage(out, [&] {
    data_detail::RawImages raw = data_detail::read_cifar_batch(path);
    finish_small(std::move(raw), 16, 1, path);
  });
  return out;
}

// Configuration text: the whole input as TrainConfig JSON (config.json, a checkpoint's
// train_config), and its "key=value" lines as checkpoint __metadata__ for ModelConfig::from_metadata.
inline Outcome config_json_one(const uint8_t* data, size_t size) {
  Outcome out;
  const std::string text(reinterpret_cast<const char*>(data), size);
  stage(out, [&] { TrainConfig::from_json(text); });
  std::map<std::string, std::string> meta;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    size_t eq = line.find('=');
    if (eq != std::string::npos) meta[line.substr(0, eq)] = line.substr(eq + 1);
    pos = nl + 1;
  }
  stage(out, [&] { ModelConfig::from_metadata(meta); });
  return out;
}

}  // namespace dcgan::fuzz
