// Limits before allocation: a small file whose header claims a huge payload must be refused with a
// clear dcgan::FileError before anything that large is allocated. Each case runs in a forked child
// whose address space is capped (RLIMIT_AS = what the process already maps + 512 MiB), so an
// attempt to allocate the claimed size shows up as std::bad_alloc (or a killed child) instead of
// the expected FileError, and must also finish within a few seconds.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "dcgan/error.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "data/formats.hpp"
#include "io/safetensors.hpp"
#include "support/cli.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::TempDir;

struct Limited {
  int status = -1;       // 0 FileError, 1 returned normally, 2 bad_alloc, 3 other exception, 128+sig killed
  std::string message;   // what() of the exception, if any
  double seconds = 0;
};

// Bytes the process maps now (VmSize).
uint64_t mapped_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t pages = 0;
  f >> pages;
  return pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Runs `f` in a child limited to what is mapped now + 512 MiB of address space.
Limited run_limited(const std::function<void()>& f) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t cap = mapped_bytes() + (uint64_t(512) << 20);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    struct rlimit rl{cap, cap};
    ::setrlimit(RLIMIT_AS, &rl);
    int code = 1;
    std::string msg;
    try {
      f();
    } catch (const FileError& e) {
      code = 0;
      msg = e.what();
    } catch (const std::bad_alloc& e) {
      code = 2;
      msg = e.what();
    } catch (const std::exception& e) {
      code = 3;
      msg = e.what();
    }
    if (!msg.empty()) (void)!::write(fds[1], msg.data(), msg.size());
    ::_exit(code);
  }
  ::close(fds[1]);
  Limited r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.message.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// Expects a FileError whose message contains every one of `parts`, in under 5 s.
void expect_refused(const std::function<void()>& f, const std::vector<std::string>& parts) {
  Limited r = run_limited(f);
  EXPECT_EQ(r.status, 0) << "expected a FileError; status " << r.status << ": " << r.message;
  for (const std::string& p : parts) EXPECT_NE(r.message.find(p), std::string::npos) << r.message;
  EXPECT_LT(r.seconds, 5.0) << r.message;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// A safetensors file with this JSON header and `body` bytes after it.
std::string safetensors_bytes(const std::string& json, const std::string& body) {
  return le64(json.size()) + json + body;
}

std::string gzip(const std::string& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, raw.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string npy_bytes(const std::string& dict) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string s = "\x93NUMPY\x01";
  s += '\0';
  s += static_cast<char>(header.size() & 0xff);
  s += static_cast<char>(header.size() >> 8);
  return s + header;
}

TEST(Limits, SelfCheckTheCapCatchesAHugeAllocation) {
  // The mechanism itself: allocating 100 GB under the cap fails instead of succeeding lazily.
  Limited r = run_limited([] {
    std::vector<char> v(size_t(100) << 30);
    v[0] = 1;
  });
  EXPECT_EQ(r.status, 2) << r.message;
}

TEST(Limits, SafetensorsHeaderLengthOf100GB) {
  TempDir d("limits-st");
  write_bytes(d / "a.safetensors", le64(100'000'000'000ull) + "{}");
  expect_refused([&] { read_safetensors(d / "a.safetensors"); },
                 {d / "a.safetensors", "header length field claims 100000000000 bytes", "limit"});
  expect_refused([&] { read_safetensors_header(d / "a.safetensors"); }, {"header length field claims"});
}

TEST(Limits, SafetensorsTensorOf100GB) {
  TempDir d("limits-st");
  const std::string json =
      R"({"w": {"dtype": "F32", "shape": [25000000000], "data_offsets": [0, 100000000000]}})";
  write_bytes(d / "b.safetensors", safetensors_bytes(json, std::string(16, '\0')));
  expect_refused([&] { read_safetensors(d / "b.safetensors"); },
                 {d / "b.safetensors", "tensor 'w'", "beyond the 16 data bytes"});
}

TEST(Limits, SafetensorsShapeThatDoesNotFitItsBytes) {
  TempDir d("limits-st");
  // (1000000, 1000000) F32 claims 4 TB, but its offsets span 8 bytes.
  const std::string json = R"({"w": {"dtype": "F32", "shape": [1000000, 1000000], "data_offsets": [0, 8]}})";
  write_bytes(d / "c.safetensors", safetensors_bytes(json, std::string(8, '\0')));
  expect_refused([&] { read_safetensors(d / "c.safetensors"); },
                 {"tensor 'w' is F32 (1000000, 1000000) which needs 4000000000000 bytes", "span 8"});
  // A shape whose element count overflows 64 bits.
  const std::string json2 =
      R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 8]}})";
  write_bytes(d / "d.safetensors", safetensors_bytes(json2, std::string(8, '\0')));
  expect_refused([&] { read_safetensors(d / "d.safetensors"); }, {"tensor 'w' has a shape whose size overflows"});
  // A zero last: 0 bytes, but the element count before it (2^63) does not fit int64.
  const std::string json3 =
      R"({"w": {"dtype": "U8", "shape": [4294967296, 2147483648, 0], "data_offsets": [0, 0]}})";
  write_bytes(d / "e.safetensors", safetensors_bytes(json3, ""));
  expect_refused([&] { read_safetensors(d / "e.safetensors"); }, {"tensor 'w' has a shape whose size overflows"});
}

TEST(Limits, IdxClaiming2Pow31ImagesRaw) {
  TempDir d("limits-idx");
  // 2^31 images of 28x28 = 1.7 TB: implausible from the header alone.
  write_bytes(d / "x-images-idx3-ubyte", be32(0x803) + be32(0x80000000u) + be32(28) + be32(28) + std::string(784, 'a'));
  expect_refused([&] { data_detail::read_idx_images(d / "x-images-idx3-ubyte"); },
                 {"x-images-idx3-ubyte", "IDX header claims 2147483648 images of 28x28, more than 1 TiB"});
  // 2^31 images of 1x1 = 2 GiB: plausible, but the file holds 784 bytes of data.
  write_bytes(d / "y-images-idx3-ubyte", be32(0x803) + be32(0x80000000u) + be32(1) + be32(1) + std::string(784, 'a'));
  expect_refused([&] { data_detail::read_idx_images(d / "y-images-idx3-ubyte"); },
                 {"truncated: header claims 2147483648 images of 1x1 (2147483648 bytes)", "only 784 bytes of data"});
}

TEST(Limits, IdxClaiming2Pow31ImagesGzip) {
  TempDir d("limits-idx");
  // 2^31 images of 28x28 = 1.7 TB: refused from the header alone.
  write_bytes(d / "a.gz", gzip(be32(0x803) + be32(0x80000000u) + be32(28) + be32(28) + std::string(784, 'a')));
  expect_refused([&] { data_detail::read_idx_images(d / "a.gz"); },
                 {"2147483648 images of 28x28, more than 1 TiB"});
  // 2^31 images of 1x1 = 2 GiB is plausible by the header, so the reader streams: the buffer only
  // grows as data arrives and the short stream is refused (the cap would stop a 2 GiB reserve).
  write_bytes(d / "b.gz", gzip(be32(0x803) + be32(0x80000000u) + be32(1) + be32(1) + std::string(1000, 'a')));
  expect_refused([&] { data_detail::read_idx_images(d / "b.gz"); },
                 {"truncated: header claims 2147483648 images of 1x1", "data ends after 1000 bytes"});
  // Labels: 2^31 of them.
  write_bytes(d / "l.gz", gzip(be32(0x801) + be32(0x80000000u) + std::string(10, '\1')));
  expect_refused([&] { data_detail::read_idx_labels(d / "l.gz"); }, {"2147483648 labels"});
}

TEST(Limits, IdxDimensionProductOverflow) {
  // Fuzzer find (fuzz/regressions/idx/dims_product_overflows_int64): 255 x (2^32-1) x (2^32-1).
  TempDir d("limits-idx");
  write_bytes(d / "o", be32(0x803) + be32(255) + be32(0xffffffffu) + be32(0xffffffffu));
  expect_refused([&] { data_detail::read_idx_images(d / "o"); }, {"more than 1 TiB"});
}

TEST(Limits, NpyClaimingAHugeShape) {
  TempDir d("limits-npy");
  write_bytes(d / "a.npy",
              npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }") + std::string(64, '\0'));
  expect_refused([&] { read_npy(d / "a.npy"); },
                 {d / "a.npy", "truncated .npy file: shape (1000000, 1000000)", "needs 4000000000000 data bytes"});
  expect_refused([&] { data_detail::read_npy_images(d / "a.npy", nullptr); }, {"(1000000, 1000000)"});
  // Images: 2^31 of 28x28 uint8 (1.7 TB) is implausible; 2^31 of 4x4 (32 GiB) is only truncated.
  write_bytes(d / "b.npy",
              npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2147483648, 28, 28), }") + std::string(784, '\0'));
  expect_refused([&] { data_detail::read_npy_images(d / "b.npy", nullptr); },
                 {"b.npy", "header claims an absurd shape (2147483648, 28, 28)"});
  write_bytes(d / "b2.npy",
              npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2147483648, 4, 4), }") + std::string(784, '\0'));
  expect_refused([&] { data_detail::read_npy_images(d / "b2.npy", nullptr); },
                 {"truncated: shape (2147483648, 4, 4)", "needs 34359738368 bytes but the file holds 784"});
  // Overflowing element counts.
  write_bytes(d / "c.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"));
  expect_refused([&] { read_npy(d / "c.npy"); }, {"overflows"});
  expect_refused([&] { data_detail::read_npy_images(d / "c.npy", nullptr); }, {"(4294967296, 4294967296, 4294967296)"});
  // A zero last: no data, but 3 * 2^62 elements before it do not fit int64.
  write_bytes(d / "d.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 3, 0), }"));
  expect_refused([&] { read_npy(d / "d.npy"); }, {"overflows"});
  // A header length of 4 GiB (v2.0 has a 32-bit length).
  write_bytes(d / "e.npy", std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + "{}");
  expect_refused([&] { read_npy(d / "e.npy"); }, {"header length"});
}

TEST(Limits, ImageClaimingHugeDimensions) {
  // A 1x1 gray PNG re-labelled as 20000 x 20000 (stb_image itself would go ahead and allocate
  // 400 MB): the header is checked against the pixel limit first.
  TempDir d("limits-img");
  const ImageU8 one{1, 1, 1, {7}};
  write_png(d / "one.png", one);
  std::ifstream in(d / "one.png", std::ios::binary);
  std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(png.size(), 33u);
  png.replace(16, 8, be32(20000) + be32(20000));  // IHDR width, height (CRC now wrong: stb ignores it)
  write_bytes(d / "huge.png", png);
  expect_refused([&] { decode_image_file(d / "huge.png"); },
                 {"huge.png", "image is 20000x20000, larger than the 268435456 pixels supported"});
  expect_refused(
      [&] { decode_image_memory(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "mem.png"); },
      {"mem.png", "20000x20000"});
}

}  // namespace
}  // namespace dcgan
