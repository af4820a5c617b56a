// Image folders: every file under the directory (recursively; names starting with '.' ignored),
// sorted by path so the order never depends on the filesystem, decoded with stb_image in
// parallel and converted straight to the model's size, so only converted images stay in memory.
#include <stb_image.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include <fmt/ranges.h>

#include "dcgan/error.hpp"
#include "data/formats.hpp"
#include "data/transforms.hpp"

namespace dcgan::data_detail {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxPixels = int64_t(1) << 28;  // 256 Mpixel: larger files are refused (decompression bombs)
constexpr const char* kFolderHint = "give a folder holding PNG, JPEG, BMP or GIF images (searched recursively)";
constexpr size_t kNamedSkips = 10;                 // how many skipped files the description names

struct Decoded {
  std::vector<uint8_t> pixels;  // (C, size, size), empty when the file was skipped
  int h = 0, w = 0, c = 0;
  std::string error;            // why it was skipped
};

Decoded decode_one(const std::string& path, int size, int out_c) {
  Decoded d;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    d.error = fmt::format("cannot open: {}", std::strerror(errno));
    return d;
  }
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_file(f, &w, &h, &c)) {
    std::fclose(f);
    const char* why = stbi_failure_reason();
    d.error = fmt::format("not a decodable image ({})", why ? why : "unknown format");
    return d;
  }
  if (int64_t(w) * h > kMaxPixels) {
    std::fclose(f);
    d.error = fmt::format("image of {}x{} is too large (more than {} pixels)", w, h, kMaxPixels);
    return d;
  }
  stbi_uc* px = stbi_load_from_file(f, &w, &h, &c, 0);
  std::fclose(f);
  if (!px) {
    const char* why = stbi_failure_reason();
    d.error = fmt::format("cannot decode image ({})", why ? why : "unknown error");
    return d;
  }
  d.h = h;
  d.w = w;
  d.c = c;
  d.pixels.resize(static_cast<size_t>(int64_t(out_c) * size * size));
  try {
    convert_image(px, h, w, c, size, out_c, d.pixels.data());
  } catch (...) {
    stbi_image_free(px);
    throw;
  }
  stbi_image_free(px);
  return d;
}

}  // namespace

std::vector<std::string> list_image_folder(const std::string& dir) {
  const char* kHint = kFolderHint;
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw FileError(dir, fmt::format("cannot list directory: {}", ec.message()), kHint);
  for (; it != end; it.increment(ec)) {
    if (ec) throw FileError(dir, fmt::format("cannot list directory: {}", ec.message()), kHint);
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  if (files.empty())
    throw FileError(dir, "folder holds no files (searched recursively; names starting with '.' are ignored)", kHint);
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<int64_t> image_folder_channels(const std::string& dir) {
  const std::vector<std::string> files = list_image_folder(dir);
  std::vector<int64_t> count(5, 0);
  const int64_t nf = static_cast<int64_t>(files.size());
#pragma omp parallel
  {
    std::vector<int64_t> mine(5, 0);
#pragma omp for schedule(dynamic, 64) nowait
    for (int64_t i = 0; i < nf; ++i) {
      int w = 0, h = 0, c = 0;
      const bool ok = stbi_info(files[i].c_str(), &w, &h, &c) && c >= 1 && c <= 4;
      ++mine[ok ? c : 0];
    }
#pragma omp critical
    for (int k = 0; k < 5; ++k) count[k] += mine[k];
  }
  return count;
}

Dataset load_image_folder(const std::string& dir, const DataSpec& spec) {
  return load_image_files(dir, list_image_folder(dir), spec, nullptr);
}

Dataset load_image_files(const std::string& dir, const std::vector<std::string>& files, const DataSpec& spec,
                         std::vector<int64_t>* kept) {
  const char* kHint = kFolderHint;
  if (files.empty()) throw FileError(dir, "no image files to load", kHint);

  const int size = spec.img_size, out_c = spec.channels;
  std::vector<Decoded> dec(files.size());
  const int64_t nf = static_cast<int64_t>(files.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < nf; ++i) {
    try {
      dec[i] = decode_one(files[i], size, out_c);
    } catch (const std::exception& e) {  // bad_alloc: no exception may leave an OpenMP region
      dec[i] = Decoded{};
      dec[i].error = e.what();
    }
  }

  auto rel = [&](const std::string& p) { return fs::path(p).lexically_relative(dir).string(); };
  std::vector<int64_t> skipped;
  for (int64_t i = 0; i < nf; ++i)
    if (!dec[i].error.empty()) {
      if (spec.strict)
        throw FileError(files[i], dec[i].error,
                        "remove or replace the file, or load the folder without strict mode to skip undecodable files");
      skipped.push_back(i);
    }
  const int64_t n = nf - static_cast<int64_t>(skipped.size());
  if (n == 0)
    throw FileError(dir, fmt::format("none of its {} files decodes as an image (first: {}: {})", nf, rel(files[0]),
                                     dec[0].error), kHint);

  Dataset ds;
  ds.n = n;
  ds.channels = out_c;
  ds.height = ds.width = size;
  ds.source = dir;
  ds.pixels.resize(static_cast<size_t>(n * ds.image_bytes()));
  std::map<int, int64_t> by_channels;  // input channel count -> images
  int64_t resized = 0;
  int min_h = INT32_MAX, min_w = INT32_MAX, max_h = 0, max_w = 0;
  int64_t k = 0;
  if (kept) kept->clear();
  for (int64_t i = 0; i < nf; ++i) {
    Decoded& d = dec[i];
    if (!d.error.empty()) continue;
    if (kept) kept->push_back(i);
    std::copy(d.pixels.begin(), d.pixels.end(), ds.pixels.begin() + k * ds.image_bytes());
    ++k;
    by_channels[d.c]++;
    if (d.h != size || d.w != size) ++resized;
    min_h = std::min(min_h, d.h); max_h = std::max(max_h, d.h);
    min_w = std::min(min_w, d.w); max_w = std::max(max_w, d.w);
    d.pixels = {};
  }

  std::string desc = fmt::format("image folder {}: {} images", dir, n);
  if (min_h == max_h && min_w == max_w) desc += fmt::format(", all {}x{}", min_h, min_w);
  else desc += fmt::format(", sizes from {}x{} to {}x{} (HxW)", min_h, min_w, max_h, max_w);
  static const char* kNames[] = {"", "gray", "gray+alpha", "RGB", "RGBA"};
  std::vector<std::string> kinds, convs;
  for (auto [c, cnt] : by_channels) {
    kinds.push_back(fmt::format("{} {}", cnt, c >= 1 && c <= 4 ? kNames[c] : "?"));
    std::string name = channel_conversion_name(c, out_c);
    if (!name.empty()) convs.push_back(fmt::format("{} {}", cnt, name));
  }
  desc += fmt::format(" ({})", fmt::join(kinds, ", "));
  desc += convs.empty() ? fmt::format("; channels kept ({})", out_c == 1 ? "gray" : "RGB")
                        : fmt::format("; {}", fmt::join(convs, ", "));
  if (resized > 0)
    desc += fmt::format("; {} of {} resized: shorter side to {} (bilinear, antialiased when downscaling), then "
                        "centre-cropped to {}x{}", resized, n, size, size, size);
  else
    desc += fmt::format("; already {}x{}, not resized", size, size);
  if (!skipped.empty()) {
    std::vector<std::string> names;
    for (size_t j = 0; j < skipped.size() && j < kNamedSkips; ++j)
      names.push_back(fmt::format("{} ({})", rel(files[skipped[j]]), dec[skipped[j]].error));
    desc += fmt::format("; skipped {} file{} that did not decode: {}", skipped.size(), skipped.size() == 1 ? "" : "s",
                        fmt::join(names, ", "));
    if (skipped.size() > kNamedSkips)
      desc += fmt::format(" and {} more (--strict stops at the first one and names it)", skipped.size() - kNamedSkips);
  }
  ds.description = desc;
  return ds;
}

}  // namespace dcgan::data_detail
