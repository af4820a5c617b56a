// IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed, read through zlib's gzread (which
// passes raw files through unchanged). Limits: a raw file's size must match its header exactly,
// checked before allocating; a gzip file's uncompressed size is unknown upfront, so its data is
// read incrementally (the buffer grows as bytes arrive, never pre-sized to the header's claim
// beyond kReserveCap) and a stream that ends early is an error.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "dcgan/error.hpp"
#include "data/formats.hpp"

namespace dcgan::data_detail {

namespace {

constexpr const char* kIdxHint =
    "give an IDX images file such as train-images-idx3-ubyte or train-images-idx3-ubyte.gz "
    "(re-download it if it is truncated)";
constexpr int64_t kReserveCap = int64_t(64) << 20;   // bytes reserved upfront for gzip data
constexpr int64_t kMaxBytes = int64_t(1) << 40;      // no IDX file we accept holds more

struct GzCloser {
  void operator()(gzFile_s* f) const { if (f) gzclose(f); }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly n bytes unless the stream ends; returns bytes read; throws on zlib errors.
int64_t gz_read_some(gzFile f, const std::string& path, uint8_t* dst, int64_t n) {
  int64_t got = 0;
  while (got < n) {
    unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - got, 1 << 24));
    int r = gzread(f, dst + got, chunk);
    if (r < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      throw FileError(path, fmt::format("corrupt or truncated gzip data ({})", msg ? msg : "zlib error"), kIdxHint);
    }
    if (r == 0) break;
    got += r;
  }
  return got;
}

struct IdxFile {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

IdxFile read_idx(const std::string& path, int want_dims) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw FileError(path, "not found or not a regular file", kIdxHint);
  const bool gz = is_gzip_file(path);
  const int64_t file_size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  GzPtr f(gzopen(path.c_str(), "rb"));
  if (!f) throw FileError(path, "cannot open", "check the path and its permissions");
  gzbuffer(f.get(), 1 << 20);

  uint8_t magic[4];
  if (gz_read_some(f.get(), path, magic, 4) != 4)
    throw FileError(path, "too short to be an IDX file (no 4-byte magic number)", kIdxHint);
  const uint32_t m = (uint32_t(magic[0]) << 24) | (uint32_t(magic[1]) << 16) | (uint32_t(magic[2]) << 8) | magic[3];
  if (magic[0] != 0 || magic[1] != 0 || magic[3] < 1 || magic[3] > 4)
    throw FileError(path, fmt::format("not an IDX file: bad magic number 0x{:08x} (expected 0x0000080{})", m, want_dims),
                    kIdxHint);
  if (magic[2] != 0x08)
    throw FileError(path, fmt::format("IDX element type 0x{:02x} (magic 0x{:08x}) is not supported; only unsigned "
                                      "bytes (0x08) are", magic[2], m), kIdxHint);
  if (magic[3] != want_dims) {
    if (want_dims == 3 && magic[3] == 1)
      throw FileError(path, "is an IDX labels file (magic 0x00000801), not images",
                      "give the matching images file (...-images-idx3-ubyte); labels are read from its sibling");
    throw FileError(path, fmt::format("IDX file has {} dimensions (magic 0x{:08x}); expected {} (magic 0x0000080{})",
                                      magic[3], m, want_dims, want_dims), kIdxHint);
  }
  IdxFile out;
  int64_t total = 1;
  for (int d = 0; d < want_dims; ++d) {
    uint8_t b[4];
    if (gz_read_some(f.get(), path, b, 4) != 4)
      throw FileError(path, "truncated IDX header (dimension sizes missing)", kIdxHint);
    int64_t v = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | b[3];
    if (v == 0) throw FileError(path, fmt::format("IDX header has a zero dimension (dimension {})", d), kIdxHint);
    out.dims.push_back(v);
  }
  auto claim = [&] {
    return want_dims == 3 ? fmt::format("{} images of {}x{}", out.dims[0], out.dims[1], out.dims[2])
                          : fmt::format("{} labels", out.dims[0]);
  };
  for (int64_t v : out.dims) {  // checked before multiplying: total <= 2^40 and v < 2^32 can overflow
    if (v > kMaxBytes / total)
      throw FileError(path, fmt::format("IDX header claims {}, more than 1 TiB; not a plausible IDX file", claim()),
                      kIdxHint);
    total *= v;
  }
  const int64_t header = 4 + 4 * int64_t(want_dims);
  if (!gz) {
    // Raw: the size is known, so a false claim is refused before any allocation.
    int64_t have = file_size - header;
    if (have < total)
      throw FileError(path, fmt::format("truncated: header claims {} ({} bytes) but the file holds only {} bytes of data",
                                        claim(), total, have), kIdxHint);
    if (have > total)
      throw FileError(path, fmt::format("{} bytes after the {} its header declares; not a well-formed IDX file",
                                        have - total, claim()), kIdxHint);
    out.data.resize(static_cast<size_t>(total));
    if (gz_read_some(f.get(), path, out.data.data(), total) != total)
      throw FileError(path, "read error (file changed while reading?)", kIdxHint);
    return out;
  }
  // gzip: grow as data arrives.
  out.data.reserve(static_cast<size_t>(std::min(total, kReserveCap)));
  int64_t got = 0;
  while (got < total) {
    int64_t chunk = std::min<int64_t>(total - got, int64_t(8) << 20);
    out.data.resize(static_cast<size_t>(got + chunk));
    int64_t r = gz_read_some(f.get(), path, out.data.data() + got, chunk);
    got += r;
    if (r < chunk) {
      int64_t per = want_dims == 3 ? out.dims[1] * out.dims[2] : 1;
      throw FileError(path, fmt::format("truncated: header claims {} ({} bytes) but the data ends after {} bytes "
                                        "({} complete {})", claim(), total, got, got / per,
                                        want_dims == 3 ? "images" : "labels"), kIdxHint);
    }
  }
  uint8_t extra;
  if (gz_read_some(f.get(), path, &extra, 1) != 0)
    throw FileError(path, fmt::format("data continues after the {} its header declares; not a well-formed IDX file",
                                      claim()), kIdxHint);
  return out;
}

}  // namespace

bool is_gzip_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return false;
  unsigned char b[2] = {0, 0};
  return std::fread(b, 1, 2, f.get()) == 2 && b[0] == 0x1f && b[1] == 0x8b;
}

RawImages read_idx_images(const std::string& path) {
  IdxFile f = read_idx(path, 3);
  if (f.dims[1] > 65535 || f.dims[2] > 65535)
    throw FileError(path, fmt::format("IDX images of {}x{} are too large", f.dims[1], f.dims[2]), kIdxHint);
  RawImages r;
  r.n = f.dims[0];
  r.h = static_cast<int>(f.dims[1]);
  r.w = static_cast<int>(f.dims[2]);
  r.c = 1;
  r.data = std::move(f.data);
  return r;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) { return read_idx(path, 1).data; }

}  // namespace dcgan::data_detail
