// CIFAR-10 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
// data_batch_1..5.bin and test_batch.bin, each 10000 records of <1 x label><3072 x pixel>, the
// pixels as three 32x32 planes R, G, B, rows top to bottom.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "dcgan/error.hpp"
#include "data/formats.hpp"

namespace dcgan::data_detail {

namespace {
constexpr int64_t kRecord = 1 + 3072;
constexpr const char* kCifarHint =
    "give a CIFAR-10 binary batch (data_batch_1.bin ... test_batch.bin from cifar-10-binary.tar.gz) or "
    "the cifar-10-batches-bin directory";
}  // namespace

RawImages read_cifar_batch(const std::string& path) {
  std::error_code ec;
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) throw FileError(path, fmt::format("cannot read: {}", ec.message()), kCifarHint);
  if (size == 0 || size % kRecord != 0) {
    std::string extra = size > 0 && size % 3074 == 0
                            ? " (it looks like CIFAR-100, whose records have 2 label bytes; not supported)"
                            : "";
    throw FileError(path, fmt::format("size {} bytes is not a whole number of CIFAR-10 records of {} bytes{}", size,
                                      kRecord, extra), kCifarHint);
  }
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw FileError(path, "cannot open", "check the path and its permissions");
  RawImages r;
  r.n = size / kRecord;
  r.h = r.w = 32;
  r.c = 3;
  r.planar = true;
  r.data.resize(static_cast<size_t>(r.n * 3072));
  r.labels.resize(static_cast<size_t>(r.n));
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<int64_t>(r.n, 1000) * kRecord));
  for (int64_t i = 0; i < r.n;) {
    int64_t k = std::min<int64_t>(r.n - i, 1000);
    if (std::fread(buf.data(), 1, static_cast<size_t>(k * kRecord), f.get()) != static_cast<size_t>(k * kRecord))
      throw FileError(path, "read error (file changed while reading?)", kCifarHint);
    for (int64_t j = 0; j < k; ++j) {
      const uint8_t* rec = buf.data() + j * kRecord;
      if (rec[0] > 9)
        throw FileError(path, fmt::format("record {} has label {}, but CIFAR-10 labels are 0..9; not a CIFAR-10 batch",
                                          i + j, rec[0]), kCifarHint);
      r.labels[i + j] = rec[0];
      std::copy(rec + 1, rec + kRecord, r.data.begin() + (i + j) * 3072);
    }
    i += k;
  }
  return r;
}

}  // namespace dcgan::data_detail
