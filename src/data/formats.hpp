// Internal to src/data: readers that return images as stored in a source (before conversion to
// the model's size and channels), and the conversion that turns them into a Dataset.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dcgan/data/dataset.hpp"

namespace dcgan::data_detail {

// n images of h x w with c channels; each image (C, H, W) if planar, else (H, W, C).
struct RawImages {
  int64_t n = 0;
  int h = 0, w = 0, c = 0;
  bool planar = false;
  std::vector<uint8_t> data;    // n * h * w * c
  std::vector<uint8_t> labels;  // n, or empty
};

// IDX (http://yann.lecun.com/exdb/mnist/): big-endian magic 0x000008DD (ubyte, DD dims), then DD
// big-endian u32 sizes, then the data. Raw or gzip (sniffed from the first bytes, not the name).
RawImages read_idx_images(const std::string& path);          // 3 dims (N, H, W)
std::vector<uint8_t> read_idx_labels(const std::string& path);  // 1 dim (N)

// CIFAR-10 binary batch: records of 1 label byte + 3072 bytes (3, 32, 32).
RawImages read_cifar_batch(const std::string& path);

// .npy images (see dataset.hpp for the accepted dtypes and layouts). `note` receives how the
// layout and value range were interpreted, e.g. "float32 NHWC, values in [0, 1]".
RawImages read_npy_images(const std::string& path, std::string* note);

// Converts raw images to spec's size and channels; `what` starts the description.
Dataset finish_dataset(RawImages raw, const DataSpec& spec, const std::string& source, const std::string& what);

// Recursive image folder.
Dataset load_image_folder(const std::string& dir, const DataSpec& spec);
// The given files of folder dir (paths as list_image_folder returns them), in that order; files
// that do not decode are skipped (or, with spec.strict, an error) and `kept`, when given, receives
// the indices into `files` of the images loaded, in order.
Dataset load_image_files(const std::string& dir, const std::vector<std::string>& files, const DataSpec& spec,
                         std::vector<int64_t>* kept);

// The built-in "emoji" source: the PNGs of img_dir (emoji-datasource-google's img/google/64)
// with their categories as labels and a fixed held-out split, both from the package's emoji.json
// (see emoji.cpp). Without emoji.json the folder loads unlabelled and unsplit.
Dataset load_emoji(const std::string& img_dir, const DataSpec& spec);
// The emoji.json that describes img_dir, or "" when there is none.
std::string find_emoji_metadata(const std::string& img_dir);
// Its files in load order (sorted by path; names starting with '.' skipped); throws FileError for
// an unreadable or empty folder.
std::vector<std::string> list_image_folder(const std::string& dir);
// How many of the folder's files have 1, 2, 3 or 4 channels (header only), and how many do not
// decode (index 0).
std::vector<int64_t> image_folder_channels(const std::string& dir);

// "28×28" helpers for descriptions.
std::string describe_resize(int h, int w, int size);

bool is_gzip_file(const std::string& path);

}  // namespace dcgan::data_detail
