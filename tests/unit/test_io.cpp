// File formats: safetensors, .npy, PNG, GIF, atomic writes. Round trips, cross-checks against the
// real libraries (NumPy, PyTorch, PIL through /usr/bin/python3; stb_image in-process) and corrupt
// inputs, each of which must be refused with a FileError that names the file.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dcgan/error.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "dcgan/tensor.hpp"
#include "io/atomic_file.hpp"
#include "io/safetensors.hpp"
#include "support/require.hpp"

namespace fs = std::filesystem;
using namespace dcgan;

namespace {

const char* kPython = "/usr/bin/python3";  // the interpreter with numpy/torch (not the one on PATH)

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(s.data(), static_cast<std::streamsize>(s.size()));
}

std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// A safetensors file from a header text and a data buffer, no validation: for corrupt inputs.
std::string raw_safetensors(const std::string& header, const std::string& data) {
  return u64le(header.size()) + header + data;
}

Tensor iota(const Shape& s, float scale = 0.25f, float offset = -1.f) {
  Tensor t(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = offset + scale * static_cast<float>(i);
  return t;
}

bool python_with(const char* module) {
  std::string cmd = fmt::format("{} -c 'import {}' >/dev/null 2>&1", kPython, module);
  return access(kPython, X_OK) == 0 && std::system(cmd.c_str()) == 0;
}

bool have_numpy() {
  static const bool ok = python_with("numpy");
  return ok;
}
bool have_pil() {
  static const bool ok = python_with("PIL");
  return ok;
}
bool have_torch() {
  static const bool ok = python_with("torch");
  return ok;
}

class IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(DCGAN_BINARY_DIR) / "test_io_tmp" / (std::string(info->test_suite_name()) + "." + info->name());
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs a Python script (cwd = the test dir, tools/reference importable); its output is shown on
  // failure. Returns true when it exits with 0.
  bool run_python(const std::string& code) {
    write_bytes(dir_ / "script.py", code);
    std::string cmd = fmt::format("cd '{}' && PYTHONPATH='{}/tools/reference' {} script.py > script.out 2>&1",
                                  dir_.string(), DCGAN_SOURCE_DIR, kPython);
    int rc = std::system(cmd.c_str());
    if (rc != 0) ADD_FAILURE() << "python failed (" << rc << "):\n" << code << "\n---\n" << read_bytes(dir_ / "script.out");
    return rc == 0;
  }

  // Expects `fn` to throw a FileError for `file` whose message names it and says `what`.
  void expect_file_error(const std::string& file, const std::function<void()>& fn, const std::string& what = "") {
    try {
      fn();
      ADD_FAILURE() << "no FileError for " << file;
    } catch (const FileError& e) {
      EXPECT_EQ(e.path(), file);
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
      if (!what.empty()) {
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "expected FileError for " << file << ", got: " << e.what();
    }
  }

  bool no_temp_files() const {
    for (auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) return false;
    return true;
  }

  fs::path dir_;
};

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], b[i]) << "at " << i;
}

// ================================================================================================
// safetensors

TEST_F(IoTest, SafetensorsRoundTripF32I64Metadata) {
  SafeTensors st;
  st.put("generator.model.0.weight", iota({4, 3, 2, 2}));
  st.put("generator.scalar", iota({}, 0.f, 3.5f));
  st.put("generator.empty", Tensor(Shape{0, 3}));
  st.put("discriminator.bias", iota({7}));
  st.put_i64("generator.model.1.num_batches_tracked", 123456789012345LL);
  st.put_i64("negative", -7);
  st.metadata["arch"] = "dcgan";
  st.metadata["note"] = "quotes \" and \\ and unicode \xc3\xa9 and\nnewline";
  const std::string p = path("ckpt.safetensors");
  write_safetensors_atomic(p, st);
  EXPECT_TRUE(no_temp_files());

  // The data starts 8-byte aligned.
  std::string raw = read_bytes(p);
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);

  SafeTensors back = read_safetensors(p);
  EXPECT_EQ(back.path, p);
  EXPECT_EQ(back.metadata, st.metadata);
  ASSERT_EQ(back.tensors.size(), st.tensors.size());
  for (auto& [name, t] : st.tensors) {
    ASSERT_TRUE(back.has(name)) << name;
    EXPECT_EQ(back.tensors.at(name).dtype, t.dtype);
    EXPECT_EQ(back.tensors.at(name).shape, t.shape);
    EXPECT_EQ(back.tensors.at(name).bytes, t.bytes);
  }
  expect_same(back.get("generator.model.0.weight", {4, 3, 2, 2}), iota({4, 3, 2, 2}));
  Tensor s = back.get("generator.scalar", {});
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s[0], 3.5f);
  EXPECT_EQ(back.get("generator.empty", {0, 3}).numel(), 0);
  EXPECT_EQ(back.get_i64("generator.model.1.num_batches_tracked"), 123456789012345LL);
  EXPECT_EQ(back.get_i64("negative"), -7);
  EXPECT_EQ(back.tensors.at("negative").shape, Shape{});
  EXPECT_EQ(back.meta("arch"), "dcgan");
  EXPECT_EQ(back.meta("absent", "x"), "x");

  // get_into copies into an existing buffer (e.g. a view into a flat parameter buffer).
  std::vector<float> flat(7 + 3, -9.f);
  Tensor view = Tensor::view(flat.data() + 3, {7});
  back.get_into("discriminator.bias", view);
  EXPECT_EQ(flat[2], -9.f);
  EXPECT_EQ(flat[3], -1.f);
  EXPECT_EQ(flat[9], -1.f + 6 * 0.25f);

  // Header only: metadata, dtypes and shapes, no bytes.
  SafeTensors h = read_safetensors_header(p);
  EXPECT_EQ(h.metadata, st.metadata);
  EXPECT_EQ(h.tensors.at("generator.model.0.weight").shape, (Shape{4, 3, 2, 2}));
  EXPECT_EQ(h.tensors.at("generator.model.1.num_batches_tracked").dtype, "I64");
  EXPECT_TRUE(h.tensors.at("generator.model.0.weight").bytes.empty());
  expect_file_error(p, [&] { h.get("generator.model.0.weight"); });
}

TEST_F(IoTest, SafetensorsOverwriteAndEmpty) {
  const std::string p = path("a.safetensors");
  SafeTensors one;
  one.put("x", iota({3}));
  write_safetensors_atomic(p, one);
  SafeTensors empty;  // no tensors, no metadata: "{}" padded
  write_safetensors_atomic(p, empty);
  SafeTensors back = read_safetensors(p);
  EXPECT_TRUE(back.tensors.empty());
  EXPECT_TRUE(back.metadata.empty());
}

TEST_F(IoTest, SafetensorsGetErrorsNameTensorAndShapes) {
  SafeTensors st;
  st.put("generator.w", iota({2, 3}));
  st.put_i64("generator.n", 5);
  const std::string p = path("m.safetensors");
  write_safetensors_atomic(p, st);
  SafeTensors back = read_safetensors(p);
  try {
    back.get("generator.w", {3, 2});
    ADD_FAILURE() << "no error";
  } catch (const FileError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_NE(m.find("generator.w"), std::string::npos) << m;
    EXPECT_NE(m.find("(2, 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("(3, 2)"), std::string::npos) << m;
    EXPECT_FALSE(e.hint().empty());
  }
  expect_file_error(p, [&] { back.get("generator.missing", {1}); }, "generator.missing");
  expect_file_error(p, [&] { back.get("generator.n"); }, "I64");
  expect_file_error(p, [&] { back.get_i64("generator.w"); }, "generator.w");
  Tensor wrong({3, 2});
  expect_file_error(p, [&] { back.get_into("generator.w", wrong); }, "(3, 2)");
}

// F16 / BF16 / F64 tensors (e.g. from a half-precision export) are converted to float32.
TEST_F(IoTest, SafetensorsConvertsHalfBfloatDouble) {
  SafeTensors st;
  auto raw = [](const std::string& dtype, Shape shape, const void* p, size_t n) {
    StTensor t;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.bytes.assign(static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    return t;
  };
  // 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14 (smallest normal), -0, +inf, 0.333 (0x3555)
  const uint16_t f16[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0400, 0x8000, 0x7C00, 0x3555};
  const uint16_t bf16[] = {0x3F80, 0xC040, 0x0000};  // 1, -3, 0
  const double f64[] = {0.1, -1e30, 3.0};
  st.tensors["h"] = raw("F16", {8}, f16, sizeof f16);
  st.tensors["b"] = raw("BF16", {3}, bf16, sizeof bf16);
  st.tensors["d"] = raw("F64", {3}, f64, sizeof f64);
  const std::string p = path("half.safetensors");
  write_safetensors_atomic(p, st);
  SafeTensors back = read_safetensors(p);
  Tensor h = back.get("h", {8});
  EXPECT_EQ(h[0], 1.f);
  EXPECT_EQ(h[1], -2.f);
  EXPECT_EQ(h[2], 65504.f);
  EXPECT_EQ(h[3], std::ldexp(1.f, -24));
  EXPECT_EQ(h[4], std::ldexp(1.f, -14));
  EXPECT_TRUE(h[5] == 0.f && std::signbit(h[5]));
  EXPECT_TRUE(std::isinf(h[6]) && h[6] > 0);
  EXPECT_EQ(h[7], 0.333251953125f);
  Tensor b = back.get("b", {3});
  EXPECT_EQ(b[0], 1.f);
  EXPECT_EQ(b[1], -3.f);
  EXPECT_EQ(b[2], 0.f);
  Tensor d = back.get("d", {3});
  EXPECT_EQ(d[0], 0.1f);
  EXPECT_EQ(d[1], -1e30f);
  EXPECT_EQ(d[2], 3.f);
}

// NumPy (through tools/reference/safetensors_io.py) reads what we write.
TEST_F(IoTest, SafetensorsPythonReadsOurs) {
  DCGAN_REQUIRE_OR_SKIP(have_numpy(), fmt::format("{} with numpy", kPython), "apt install python3-numpy");
  SafeTensors st;
  st.put("generator.model.0.weight", iota({4, 3, 2, 2}));
  st.put("generator.scalar", iota({}, 0.f, 3.5f));
  st.put_i64("generator.model.1.num_batches_tracked", 42);
  st.metadata["arch"] = "seed";
  st.metadata["img_size"] = "32";
  write_safetensors_atomic(path("ours.safetensors"), st);
  EXPECT_TRUE(run_python(R"(
import numpy as np
from safetensors_io import load_file
t, m = load_file("ours.safetensors")
assert m == {"arch": "seed", "img_size": "32"}, m
w = t["generator.model.0.weight"]
assert w.dtype == np.float32 and w.shape == (4, 3, 2, 2), (w.dtype, w.shape)
assert np.array_equal(w.ravel(), (-1 + 0.25 * np.arange(48)).astype(np.float32))
s = t["generator.scalar"]
assert s.shape == () and s == 3.5
n = t["generator.model.1.num_batches_tracked"]
assert n.dtype == np.int64 and n.shape == () and n == 42
)"));
}

// We read what NumPy writes, including F16/F64 and a 0-dim I64.
TEST_F(IoTest, SafetensorsReadsPythonFile) {
  DCGAN_REQUIRE_OR_SKIP(have_numpy(), fmt::format("{} with numpy", kPython), "apt install python3-numpy");
  ASSERT_TRUE(run_python(R"(
import numpy as np
from safetensors_io import save_file
save_file({
    "generator.w": (np.arange(24, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 4),
    "generator.h": np.array([1.5, -0.25, 1024], dtype=np.float16),
    "generator.d": np.array([[0.1, 0.2]], dtype=np.float64),
    "generator.bn.num_batches_tracked": np.array(77, dtype=np.int64),
    "z": np.zeros((0,), np.float32),
}, "py.safetensors", {"arch": "dcgan", "latent_dim": "100"})
)"));
  SafeTensors st = read_safetensors(path("py.safetensors"));
  EXPECT_EQ(st.meta("arch"), "dcgan");
  EXPECT_EQ(st.meta("latent_dim"), "100");
  Tensor w = st.get("generator.w", {2, 3, 4});
  for (int i = 0; i < 24; ++i) EXPECT_EQ(w[i], i * 0.5f - 3.f);
  Tensor h = st.get("generator.h", {3});
  EXPECT_EQ(h[0], 1.5f);
  EXPECT_EQ(h[1], -0.25f);
  EXPECT_EQ(h[2], 1024.f);
  Tensor d = st.get("generator.d", {1, 2});
  EXPECT_EQ(d[0], 0.1f);
  EXPECT_EQ(d[1], 0.2f);
  EXPECT_EQ(st.get_i64("generator.bn.num_batches_tracked"), 77);
  EXPECT_EQ(st.get("z", {0}).numel(), 0);
}

TEST_F(IoTest, SafetensorsCorruptFilesAreRefusedNamingTheFile) {
  const std::string f32x2 = R"("dtype":"F32","shape":[2])";
  struct Case {
    const char* name;
    std::string bytes;
    const char* what;  // a piece of the expected message
  };
  const std::string eight(8, '\0');
  std::vector<Case> cases = {
      {"empty", "", "fewer than"},
      {"short", "abc", "fewer than"},
      {"header_beyond_file", u64le(1000) + "{}", "only 2 follow"},
      {"huge_header_100GB", u64le(100ull << 30) + "{}", "limit"},
      {"max_u64_header", u64le(~0ull) + "{}", "limit"},
      {"garbage_json", raw_safetensors("{\"a\": [1, 2,, }", ""), "not valid JSON"},
      {"binary_garbage", raw_safetensors(std::string("\xff\xfe\x00\x01garbage", 11), ""), "not valid JSON"},
      {"not_an_object", raw_safetensors("[1, 2, 3]", ""), "not a JSON object"},
      {"entry_not_object", raw_safetensors(R"({"a": 3})", ""), "'a'"},
      {"no_dtype", raw_safetensors(R"({"a": {"shape": [2], "data_offsets": [0, 8]}})", eight), "dtype"},
      {"unknown_dtype", raw_safetensors(R"({"a": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}})", eight),
       "F33"},
      {"negative_dim", raw_safetensors(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", eight),
       "negative"},
      {"float_dim", raw_safetensors(R"({"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", eight),
       "dimension 0"},
      {"overflowing_shape",
       raw_safetensors(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", eight),
       "overflow"},
      {"offsets_beyond_file", raw_safetensors("{\"a\": {" + f32x2 + ",\"data_offsets\": [0, 8]}}", "1234"),
       "beyond"},
      {"begin_after_end", raw_safetensors("{\"a\": {" + f32x2 + ",\"data_offsets\": [8, 0]}}", eight), "begin > end"},
      {"bytes_shape_mismatch", raw_safetensors("{\"a\": {" + f32x2 + ",\"data_offsets\": [0, 4]}}", "1234"),
       "needs 8 bytes"},
      {"overlap",
       raw_safetensors("{\"a\": {" + f32x2 + ",\"data_offsets\": [0, 8]}, \"b\": {" + f32x2 +
                           ",\"data_offsets\": [4, 12]}}",
                       eight + "1234"),
       "overlap"},
      {"gap",
       raw_safetensors("{\"a\": {" + f32x2 + ",\"data_offsets\": [4, 12]}}", eight + "1234"), "gap"},
      {"trailing_bytes", raw_safetensors("{\"a\": {" + f32x2 + ",\"data_offsets\": [0, 8]}}", eight + "xx"),
       "cover 8"},
      {"metadata_not_string", raw_safetensors(R"({"__metadata__": {"step": 5}})", ""), "step"},
      {"metadata_not_object", raw_safetensors(R"({"__metadata__": [1]})", ""), "__metadata__"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string p = path(std::string(c.name) + ".safetensors");
    write_bytes(p, c.bytes);
    expect_file_error(p, [&] { read_safetensors(p); }, c.what);
    expect_file_error(p, [&] { read_safetensors_header(p); }, c.what);
    try {
      read_safetensors(p);
    } catch (const FileError& e) {
      EXPECT_FALSE(e.hint().empty());
    }
  }

  // A valid file cut short anywhere is refused.
  SafeTensors st;
  st.put("w", iota({5, 5}));
  st.metadata["k"] = "v";
  const std::string good = path("good.safetensors");
  write_safetensors_atomic(good, st);
  const std::string bytes = read_bytes(good);
  for (size_t cut : {size_t(0), size_t(4), size_t(8), size_t(20), bytes.size() - 100, bytes.size() - 1}) {
    SCOPED_TRACE(cut);
    const std::string p = path("cut.safetensors");
    write_bytes(p, bytes.substr(0, cut));
    expect_file_error(p, [&] { read_safetensors(p); }, "corrupt or truncated");
  }

  expect_file_error(path("missing.safetensors"), [&] { read_safetensors(path("missing.safetensors")); },
                    "not found");
  expect_file_error(dir_.string(), [&] { read_safetensors(dir_.string()); }, "regular file");
}

// ================================================================================================
// atomic writes

TEST_F(IoTest, AtomicWriteIntoMissingOrNonDirectoryFails) {
  SafeTensors st;
  st.put("x", iota({3}));
  const std::string missing = path("no/such/dir/x.safetensors");
  expect_file_error(missing, [&] { write_safetensors_atomic(missing, st); }, "No such file");
  EXPECT_FALSE(fs::exists(path("no")));

  write_bytes(path("plainfile"), "I am a file");
  const std::string under_file = path("plainfile/x.npy");
  expect_file_error(under_file, [&] { write_npy(under_file, iota({2})); }, "Not a directory");
  EXPECT_EQ(read_bytes(path("plainfile")), "I am a file");
}

TEST_F(IoTest, AtomicWriteIntoReadonlyDirectoryKeepsOldFile) {
  const std::string p = path("ro/x.safetensors");
  fs::create_directories(path("ro"));
  write_bytes(p, "old contents");
  SafeTensors st;
  st.put("x", iota({3}));
  auto attempt = [&]() -> int {  // 0: refused as expected
    try {
      write_safetensors_atomic(p, st);
      return 2;
    } catch (const FileError& e) {
      const std::string m = e.what();
      return e.path() == p && m.find(p) != std::string::npos && m.find("Permission denied") != std::string::npos ? 0
                                                                                                              : 3;
    } catch (...) {
      return 4;
    }
  };
  if (geteuid() != 0) {
    fs::permissions(path("ro"), fs::perms::owner_read | fs::perms::owner_exec);
    int rc = attempt();
    fs::permissions(path("ro"), fs::perms::owner_all);
    EXPECT_EQ(rc, 0);
  } else {
    // Root ignores directory permissions: try as user `nobody` in a child process instead.
    fs::permissions(path("ro"), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
    fflush(nullptr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (setgid(65534) != 0 || setuid(65534) != 0) _exit(77);
      if (access(path("ro").c_str(), X_OK) != 0) _exit(77);  // an ancestor is not searchable
      _exit(attempt());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot switch to user nobody to test permissions (the machine allows no "
                                                  "such test; the fault is also tested by DiskFaults."
                                                  "DirectoryBecomesReadOnlyMidRun, docs/reliability.md)";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "2 no error, 3 wrong message, 4 other exception";
  }
  EXPECT_EQ(read_bytes(p), "old contents");
  EXPECT_EQ(std::distance(fs::directory_iterator(path("ro")), fs::directory_iterator()), 1);  // no temp file
}

TEST_F(IoTest, AtomicWriteFailureInBodyKeepsOldFile) {
  const std::string p = path("config.json");
  write_file_atomic(p, std::string_view("{\"old\": true}\n"));
  EXPECT_THROW(write_file_atomic(p,
                                 [](AtomicWriter& w) {
                                   w.write("{\"new\": ");
                                   throw std::runtime_error("serialiser failed");
                                 }),
               std::runtime_error);
  EXPECT_EQ(read_bytes(p), "{\"old\": true}\n");
  EXPECT_TRUE(no_temp_files());
  write_file_atomic(p, std::string_view("{\"new\": true}\n"));
  EXPECT_EQ(read_bytes(p), "{\"new\": true}\n");
  EXPECT_TRUE(no_temp_files());
}

// A real write failure (the file size limit, which fails writes with EFBIG as a full disk fails
// them with ENOSPC) must be detected, reported naming the file, and leave the old file intact.
TEST_F(IoTest, AtomicWriteDiskFullKeepsOldFile) {
  const std::string p = path("ckpt.safetensors");
  SafeTensors small;
  small.put("x", iota({4}));
  write_safetensors_atomic(p, small);
  const std::string before = read_bytes(p);
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // child: limit file size to 64 KiB and try to write 1 MB
    signal(SIGXFSZ, SIG_IGN);
    rlimit lim{65536, 65536};
    setrlimit(RLIMIT_FSIZE, &lim);
    SafeTensors big;
    big.put("x", iota({256 * 1024}));
    int code = 1;
    try {
      write_safetensors_atomic(p, big);
      code = 2;  // no error
    } catch (const FileError& e) {
      code = std::string(e.what()).find(p) != std::string::npos && e.path() == p ? 0 : 3;
    } catch (...) {
      code = 4;
    }
    if (code == 0 && fs::exists(atomic_temp_path(p))) code = 5;
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1 succeeded, 2 no error, 3 message, 4 other exception, 5 temp left";
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_TRUE(no_temp_files());
  expect_same(read_safetensors(p).get("x", {4}), iota({4}));
}

TEST_F(IoTest, AtomicWriteOntoDirectoryFailsAndCleansUp) {
  fs::create_directories(path("adir/inner"));
  const std::string p = path("adir");
  expect_file_error(p, [&] { write_npy(p, iota({2})); });
  EXPECT_TRUE(fs::is_directory(p));
  EXPECT_TRUE(no_temp_files());
}

// ================================================================================================
// .npy

const std::vector<Shape> kNpyShapes = {{}, {0}, {5}, {2, 3}, {2, 3, 4, 5}, {1, 1, 1}, {0, 4}, {3, 1}, {1000}};

TEST_F(IoTest, NpyRoundTrip) {
  for (const Shape& s : kNpyShapes) {
    SCOPED_TRACE(shape_str(s));
    const std::string p = path("a.npy");
    Tensor t = iota(s, 0.1f, -2.f);
    write_npy(p, t);
    EXPECT_EQ(fs::file_size(p) % 64, (t.numel() * 4) % 64);  // header padded to 64 bytes
    expect_same(read_npy(p), t);
  }
  EXPECT_TRUE(no_temp_files());
}

// Our files are byte-identical to numpy.save's, and numpy reads them back.
TEST_F(IoTest, NpyMatchesNumpyByteForByte) {
  DCGAN_REQUIRE_OR_SKIP(have_numpy(), fmt::format("{} with numpy", kPython), "apt install python3-numpy");
  std::string py = "import numpy as np\n";
  for (size_t i = 0; i < kNpyShapes.size(); ++i) {
    const Shape& s = kNpyShapes[i];
    write_npy(path(fmt::format("ours{}.npy", i)), iota(s, 0.125f, -2.f));  // exact in float32
    std::string tuple = "(";
    for (auto d : s) tuple += std::to_string(d) + ",";
    tuple += ")";
    int64_t n = numel_of(s);
    py += fmt::format(
        "ref = (-2 + 0.125 * np.arange({n})).astype(np.float32).reshape({t})\n"
        "np.save('ref{i}.npy', ref)\n"
        "got = np.load('ours{i}.npy')\n"
        "assert got.dtype == np.float32 and got.shape == {t}, (got.dtype, got.shape)\n"
        "assert np.array_equal(got, ref), {i}\n"
        "assert open('ours{i}.npy', 'rb').read() == open('ref{i}.npy', 'rb').read(), 'bytes differ: {i}'\n",
        fmt::arg("n", n), fmt::arg("t", tuple), fmt::arg("i", i));
  }
  EXPECT_TRUE(run_python(py));
}

TEST_F(IoTest, NpyReadsNumpyFiles) {
  DCGAN_REQUIRE_OR_SKIP(have_numpy(), fmt::format("{} with numpy", kPython), "apt install python3-numpy");
  ASSERT_TRUE(run_python(R"(
import numpy as np
from numpy.lib import format as fmt
a = (np.arange(120, dtype=np.float32) * 0.5 - 7).reshape(2, 3, 4, 5)
np.save("f4.npy", a)
np.save("f8.npy", a.astype(np.float64))
np.save("f8r.npy", np.array([0.1, 1 / 3, -1e30]))
np.save("scalar.npy", np.float32(2.5))
np.save("latents.npy", np.linspace(-1, 1, 64 * 100, dtype=np.float32).reshape(64, 100))
for v in [(2, 0), (3, 0)]:
    with open("v%d.npy" % v[0], "wb") as f:
        fmt.write_array(f, a, version=v)
np.save("fortran.npy", np.asfortranarray(a))
np.save("int64.npy", np.arange(6).reshape(2, 3))
np.save("bigendian.npy", a.astype(">f4"))
np.save("structured.npy", np.zeros(3, dtype=[("x", "<f4"), ("y", "<i4")]))
np.save("objects.npy", np.array([1, "a"], dtype=object))
np.savez("archive.npz", a=a)
)"));
  Tensor expect({2, 3, 4, 5});
  for (int i = 0; i < 120; ++i) expect[i] = i * 0.5f - 7.f;
  expect_same(read_npy(path("f4.npy")), expect);
  expect_same(read_npy(path("f8.npy")), expect);
  Tensor r = read_npy(path("f8r.npy"));  // rounded to nearest float32
  EXPECT_EQ(r[0], 0.1f);
  EXPECT_EQ(r[1], static_cast<float>(1.0 / 3.0));
  EXPECT_EQ(r[2], -1e30f);
  expect_same(read_npy(path("v2.npy")), expect);
  expect_same(read_npy(path("v3.npy")), expect);
  Tensor s = read_npy(path("scalar.npy"));
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s[0], 2.5f);
  Tensor z = read_npy(path("latents.npy"));
  EXPECT_EQ(z.shape(), (Shape{64, 100}));
  EXPECT_EQ(z[0], -1.f);
  EXPECT_EQ(z[6399], 1.f);

  expect_file_error(path("fortran.npy"), [&] { read_npy(path("fortran.npy")); }, "Fortran");
  expect_file_error(path("int64.npy"), [&] { read_npy(path("int64.npy")); }, "<i8");
  expect_file_error(path("bigendian.npy"), [&] { read_npy(path("bigendian.npy")); }, ">f4");
  expect_file_error(path("structured.npy"), [&] { read_npy(path("structured.npy")); }, "structured");
  expect_file_error(path("objects.npy"), [&] { read_npy(path("objects.npy")); }, "|O");
  expect_file_error(path("archive.npz"), [&] { read_npy(path("archive.npz")); }, ".npz");
}

TEST_F(IoTest, NpyCorruptFilesAreRefusedNamingTheFile) {
  auto npy = [](const std::string& header, const std::string& data, int major = 1) {
    std::string s = "\x93NUMPY";
    s += static_cast<char>(major);
    s += '\0';
    s += static_cast<char>(header.size() & 0xff);
    s += static_cast<char>(header.size() >> 8);
    if (major > 1) s += std::string(2, '\0');
    return s + header + data;
  };
  const std::string f4x2 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  struct Case {
    const char* name;
    std::string bytes;
    const char* what;
  };
  std::vector<Case> cases = {
      {"empty", "", "too short"},
      {"not_npy", "hello world, not numpy", "magic"},
      {"bad_version", npy(f4x2, std::string(8, '\0'), 9), "version 9.0"},
      {"header_beyond_file", npy(f4x2, "").substr(0, 30), "header claims"},
      {"truncated_data", npy(f4x2, "1234"), "needs 8 data bytes"},
      {"huge_shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,), }\n", "1234"),
       "truncated"},
      {"overflowing_shape",
       npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }\n", ""), "overflow"},
      {"giant_dim", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }\n", ""),
       "overflow"},
      {"negative_dim", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", "12345678"), "negative"},
      {"not_a_dict", npy("[1, 2]\n", ""), "not a dict"},
      {"garbage_header", npy("{'descr': '<f4', 'fortran_order': Fals", ""), "malformed"},
      {"missing_key", npy("{'descr': '<f4', 'shape': (2,), }\n", "12345678"), "needs the keys"},
      {"extra_key", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", "12345678"), "'x'"},
      {"shape_not_tuple", npy("{'descr': '<f4', 'fortran_order': False, 'shape': 2, }\n", "12345678"), "tuple"},
      {"shape_of_strings", npy("{'descr': '<f4', 'fortran_order': False, 'shape': ('a',), }\n", "12345678"),
       "integers"},
      {"escape", npy("{'descr': '<f\\4', 'fortran_order': False, 'shape': (2,), }\n", "12345678"), "escape"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string p = path(std::string(c.name) + ".npy");
    write_bytes(p, c.bytes);
    expect_file_error(p, [&] { read_npy(p); }, c.what);
  }
  // Hand-written headers that are valid: double quotes, no trailing comma, Python 2 long suffix,
  // and Fortran order where it is the same layout as C order (one non-unit dimension).
  const std::string data = std::string("\0\0\x80\x3f\0\0\0\x40", 8);  // 1.0f, 2.0f
  for (const std::string& h : {std::string("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}"),
                               std::string("{'shape': (2L,), 'descr': '<f4', 'fortran_order': False}"),
                               std::string("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 1), }")}) {
    SCOPED_TRACE(h);
    write_bytes(path("ok.npy"), npy(h + "\n", data));
    Tensor t = read_npy(path("ok.npy"));
    ASSERT_EQ(t.numel(), 2);
    EXPECT_EQ(t[0], 1.f);
    EXPECT_EQ(t[1], 2.f);
  }
  expect_file_error(path("missing.npy"), [&] { read_npy(path("missing.npy")); }, "not found");
}

// ================================================================================================
// images

TEST_F(IoTest, ToUint8MapsMinusOneOneTo0To255) {
  const float chw[] = {-1.f, 1.f, 0.f, std::nanf(""), 2.f, -3.f,  // channel 0, H=2, W=3
                       -0.99f, 0.5f, 1.f / 255, -1.f / 255, 3.f / 255, 0.996f};
  auto px = to_uint8_hwc(chw, 2, 2, 3);
  ASSERT_EQ(px.size(), 12u);
  const uint8_t c0[] = {0, 255, 128, 0, 255, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(px[i * 2], c0[i]) << i;
  EXPECT_EQ(px[1], 1);    // (0.01 / 2) * 255 + 0.5 = 1.775
  EXPECT_EQ(px[3], 191);  // 0.75 * 255 + 0.5 = 191.75
}

// Bit-exact against torchvision's save_image arithmetic done by PyTorch itself.
TEST_F(IoTest, ToUint8MatchesTorchArithmetic) {
  DCGAN_REQUIRE_OR_SKIP(have_torch(), fmt::format("{} with torch", kPython), "PyTorch 1.13 for /usr/bin/python3 (scripts/setup.sh)");
  // Every value that maps exactly onto a .5 rounding boundary, their float neighbours, and random
  // values beyond the range.
  std::vector<float> v;
  for (int k = 0; k <= 512; ++k) {
    float x = k / 256.f - 1.f;
    v.push_back(x);
    v.push_back(std::nextafter(x, 2.f));
    v.push_back(std::nextafter(x, -2.f));
  }
  for (int k = 0; k <= 255; ++k) {
    float x = (k + 0.5f) / 255.f * 2.f - 1.f;
    v.push_back(x);
    v.push_back(std::nextafter(x, 2.f));
    v.push_back(std::nextafter(x, -2.f));
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.5f, 1.5f);
  while (v.size() % 4 != 0 || v.size() < 4000) v.push_back(u(rng));
  const int W = static_cast<int>(v.size() / 4);
  Tensor t({1, 1, 4, W});
  std::memcpy(t.data(), v.data(), v.size() * 4);
  write_npy(path("x.npy"), t);
  ASSERT_TRUE(run_python(R"(
import numpy as np, torch
x = torch.from_numpy(np.load("x.npy"))[0]
low, high = -1.0, 1.0
x = x.clamp(min=low, max=high).sub_(low).div_(max(high - low, 1e-5))  # make_grid(normalize, value_range)
u = x.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)                 # save_image
np.save("u.npy", u.numpy()[0].astype(np.float32))
)"));
  Tensor ref = read_npy(path("u.npy"));
  auto ours = to_uint8_hwc(t.data(), 1, 4, W);
  ASSERT_EQ(ref.numel(), static_cast<int64_t>(ours.size()));
  int bad = 0;
  for (size_t i = 0; i < ours.size(); ++i)
    if (ours[i] != static_cast<uint8_t>(ref[static_cast<int64_t>(i)]) && bad++ < 5)
      ADD_FAILURE() << "x=" << v[i] << " ours " << int(ours[i]) << " torch " << ref[static_cast<int64_t>(i)];
  EXPECT_EQ(bad, 0);
}

TEST_F(IoTest, MakeGridLikeTorchvision) {
  // 5 images (1 channel, 2x3), nrow 2, padding 2: a 2-wide, 3-tall grid.
  const int N = 5, H = 2, W = 3;
  Tensor x({N, 1, H, W});
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < H * W; ++i) x[n * H * W + i] = (n * 10 + i) / 100.f;  // distinct, in [0, 1)
  ImageU8 g = make_grid(x, 2, 2);
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.h, (H + 2) * 3 + 2);
  EXPECT_EQ(g.w, (W + 2) * 2 + 2);
  ASSERT_EQ(g.pixels.size(), static_cast<size_t>(g.h * g.w));
  std::vector<int> expect(g.h * g.w, 0);  // padding is black
  for (int n = 0; n < N; ++n) {
    auto px = to_uint8_hwc(x.data() + n * H * W, 1, H, W);
    int gy = n / 2, gx = n % 2;
    for (int y = 0; y < H; ++y)
      for (int xx = 0; xx < W; ++xx) expect[(gy * (H + 2) + 2 + y) * g.w + gx * (W + 2) + 2 + xx] = px[y * W + xx];
  }
  for (int i = 0; i < g.h * g.w; ++i) ASSERT_EQ(g.pixels[i], expect[i]) << i;

  // RGB interleaves channels; one image comes back unpadded, as torchvision does.
  Tensor one({1, 3, 2, 2});
  for (int i = 0; i < 12; ++i) one[i] = i < 4 ? -1.f : (i < 8 ? 0.f : 1.f);
  ImageU8 s = make_grid(one, 8, 2);
  EXPECT_EQ(s.h, 2);
  EXPECT_EQ(s.w, 2);
  EXPECT_EQ(s.channels, 3);
  EXPECT_EQ(s.pixels, (std::vector<uint8_t>{0, 128, 255, 0, 128, 255, 0, 128, 255, 0, 128, 255}));
  // nrow larger than N: one row.
  ImageU8 r = make_grid(x, 64, 0);
  EXPECT_EQ(r.h, H);
  EXPECT_EQ(r.w, W * N);
}

ImageU8 random_image(int h, int w, int c, uint32_t seed) {
  std::mt19937 rng(seed);
  ImageU8 img{h, w, c, std::vector<uint8_t>(static_cast<size_t>(h) * w * c)};
  for (auto& p : img.pixels) p = static_cast<uint8_t>(rng() & 0xff);
  return img;
}

TEST_F(IoTest, PngRoundTripThroughStbAndPil) {
  for (int c = 1; c <= 4; ++c) {
    SCOPED_TRACE(c);
    ImageU8 img = random_image(37, 23, c, 100 + c);
    const std::string p = path(fmt::format("img{}.png", c));
    write_png(p, img);
    DecodedImage d = decode_image_file(p);
    EXPECT_EQ(d.h, 37);
    EXPECT_EQ(d.w, 23);
    EXPECT_EQ(d.channels, c);
    EXPECT_EQ(d.pixels, img.pixels);
    std::string bytes = read_bytes(p);
    DecodedImage m = decode_image_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
    EXPECT_EQ(m.pixels, img.pixels);
    const std::vector<uint8_t> mem = encode_png(img);  // what dcgan serve sends: the file's bytes
    EXPECT_EQ(std::string(mem.begin(), mem.end()), bytes);
    write_bytes(path(fmt::format("img{}.raw", c)), std::string(img.pixels.begin(), img.pixels.end()));
  }
  EXPECT_THROW(encode_png(nullptr, 0, 5, 1), Error);
  EXPECT_THROW(encode_png(ImageU8{2, 2, 3, std::vector<uint8_t>(5)}), Error);
  EXPECT_TRUE(no_temp_files());
  DCGAN_REQUIRE_OR_SKIP(have_pil(), fmt::format("{} with PIL", kPython), "apt install python3-pil");
  EXPECT_TRUE(run_python(R"(
import numpy as np
from PIL import Image
for c, mode in [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")]:
    im = Image.open("img%d.png" % c)
    assert im.mode == mode and im.size == (23, 37), (im.mode, im.size)
    raw = np.fromfile("img%d.raw" % c, dtype=np.uint8).reshape(37, 23, c)
    assert np.array_equal(np.asarray(im).reshape(37, 23, c), raw), c
)"));
}

TEST_F(IoTest, DecodeErrorsNameTheFile) {
  expect_file_error(path("missing.png"), [&] { decode_image_file(path("missing.png")); }, "not found");
  write_bytes(path("garbage.png"), "\x89PNG\r\n\x1a\nthis is not really a png");
  expect_file_error(path("garbage.png"), [&] { decode_image_file(path("garbage.png")); }, "cannot decode image");
  write_bytes(path("text.jpg"), "hello");
  expect_file_error(path("text.jpg"), [&] { decode_image_file(path("text.jpg")); }, "cannot decode image");
  // A truncated PNG.
  ImageU8 img = random_image(16, 16, 3, 1);
  write_png(path("full.png"), img);
  std::string bytes = read_bytes(path("full.png"));
  write_bytes(path("cut.png"), bytes.substr(0, bytes.size() / 2));
  expect_file_error(path("cut.png"), [&] { decode_image_file(path("cut.png")); }, "cannot decode image");
  expect_file_error("inmem", [&] { decode_image_memory(reinterpret_cast<const uint8_t*>("xx"), 2, "inmem"); });

  // A tiny PNG claiming 17000 x 17000 gray (289 MB; stb_image itself refuses above 1 GiB) is
  // refused before decoding.
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  std::string ihdr = "IHDR" + be32(17000) + be32(17000) + std::string("\x08\x00\x00\x00\x00", 5);
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr +
                    be32(static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(ihdr.data()), 17)));
  write_bytes(path("huge.png"), png);
  expect_file_error(path("huge.png"), [&] { decode_image_file(path("huge.png")); }, "larger than");
  expect_file_error("huge", [&] {
    decode_image_memory(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "huge");
  }, "larger than");
}

TEST_F(IoTest, GifHeaderAndStructure) {
  std::vector<std::vector<uint8_t>> frames;
  for (int f = 0; f < 3; ++f) frames.push_back(random_image(5, 7, 1, f).pixels);
  const std::string p = path("a.gif");
  write_gif(p, frames, 5, 7, 1, 8, 0);
  const std::string b = read_bytes(p);
  ASSERT_GT(b.size(), 13u + 768u);
  EXPECT_EQ(b.substr(0, 6), "GIF89a");
  EXPECT_EQ(static_cast<uint8_t>(b[6]), 7);  // width, LE
  EXPECT_EQ(static_cast<uint8_t>(b[7]), 0);
  EXPECT_EQ(static_cast<uint8_t>(b[8]), 5);  // height
  EXPECT_EQ(static_cast<uint8_t>(b[10]), 0xF7);  // global colour table of 256
  EXPECT_EQ(b.substr(13 + 768, 3), "\x21\xFF\x0B");
  EXPECT_EQ(b.substr(13 + 768 + 3, 11), "NETSCAPE2.0");
  EXPECT_EQ(static_cast<uint8_t>(b.back()), 0x3B);
  // Play once: no loop extension.
  write_gif(p, frames, 5, 7, 1, 8, -1);
  EXPECT_EQ(read_bytes(p).find("NETSCAPE2.0"), std::string::npos);
  // stb_image decodes the first frame (as RGBA).
  write_gif(p, frames, 5, 7, 1, 8, 0);
  DecodedImage d = decode_image_file(p);
  ASSERT_EQ(d.h, 5);
  ASSERT_EQ(d.w, 7);
  for (int i = 0; i < 35; ++i) ASSERT_EQ(d.pixels[i * d.channels], frames[0][i]) << i;
  EXPECT_THROW(write_gif(p, {}, 5, 7, 1), Error);
  EXPECT_THROW(write_gif(p, {std::vector<uint8_t>(10)}, 5, 7, 1), Error);
}

// PIL decodes our GIFs to exactly the pixels we encoded: gray frames of many sizes (random
// content, so the LZW dictionary fills and resets, and the code width changes at every boundary),
// and RGB frames whose colours lie on the palette cube.
TEST_F(IoTest, GifDecodesExactlyWithPil) {
  DCGAN_REQUIRE_OR_SKIP(have_pil(), fmt::format("{} with PIL", kPython), "apt install python3-pil");
  std::string sizes;
  std::vector<std::pair<int, int>> hw = {{1, 1}, {2, 3}, {16, 16}, {64, 64}, {150, 211}, {200, 200}};
  for (int n = 250; n <= 270; n += 5) hw.push_back({1, n});
  // A row with no repeated pair of neighbours compresses to exactly one code per pixel, so these
  // widths put the last code on each code-width switch (after 255, 767, 1791 codes) and on the
  // dictionary reset (3838 codes), the edge cases of an LZW encoder.
  const size_t first_distinct = hw.size();
  for (int n : {254, 255, 256, 766, 767, 768, 1790, 1791, 1792, 3837, 3838, 3839, 3840}) hw.push_back({1, n});
  auto distinct_pairs = [](int n) {  // blocks j * s mod 256 for odd steps s = 1, 3, 5, ...
    std::vector<uint8_t> v;
    for (int s = 1; static_cast<int>(v.size()) < n; s += 2)
      for (int j = 0; j < 256 && static_cast<int>(v.size()) < n; ++j) v.push_back(static_cast<uint8_t>(j * s));
    return v;
  };
  for (size_t k = 0; k < hw.size(); ++k) {
    auto [h, w] = hw[k];
    std::vector<std::vector<uint8_t>> frames;
    std::string raw;
    for (int f = 0; f < 2; ++f) {
      auto px = random_image(h, w, 1, static_cast<uint32_t>(k * 7 + f)).pixels;
      if (f == 0 && k >= first_distinct) px = distinct_pairs(w);
      if (f == 1)  // a smooth, compressible frame too
        for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i / 7);
      raw.append(px.begin(), px.end());
      frames.push_back(std::move(px));
    }
    write_gif(path(fmt::format("g{}.gif", k)), frames, h, w, 1, 4, 0);
    write_bytes(path(fmt::format("g{}.raw", k)), raw);
    sizes += fmt::format("({}, {}),", h, w);
  }
  // RGB on the 6x7x6 cube, and RGBA (alpha ignored).
  std::vector<std::vector<uint8_t>> rgb;
  std::string rgb_raw;
  std::mt19937 rng(3);
  for (int f = 0; f < 3; ++f) {
    std::vector<uint8_t> px(20 * 30 * 4);
    for (size_t i = 0; i < px.size(); i += 4) {
      px[i] = static_cast<uint8_t>((rng() % 6) * 255 / 5);
      px[i + 1] = static_cast<uint8_t>((rng() % 7) * 255 / 6);
      px[i + 2] = static_cast<uint8_t>((rng() % 6) * 255 / 5);
      px[i + 3] = static_cast<uint8_t>(rng());
      rgb_raw.append(reinterpret_cast<char*>(&px[i]), 3);
    }
    rgb.push_back(std::move(px));
  }
  write_gif(path("rgb.gif"), rgb, 20, 30, 4, 12, 3);
  write_bytes(path("rgb.raw"), rgb_raw);
  EXPECT_TRUE(run_python("sizes = [" + sizes + "]\n" + R"(
import numpy as np
from PIL import Image, ImageSequence
def frames(name, mode):
    im = Image.open(name)
    return im, [np.asarray(f.convert(mode)) for f in ImageSequence.Iterator(im)]
for k, (h, w) in enumerate(sizes):
    im, fr = frames("g%d.gif" % k, "L")
    assert im.size == (w, h), (k, im.size)
    assert len(fr) == 2, (k, len(fr))
    assert im.info.get("loop") == 0 and im.info.get("duration") == 40, (k, im.info)
    raw = np.fromfile("g%d.raw" % k, dtype=np.uint8).reshape(2, h, w)
    for f in range(2):
        assert np.array_equal(fr[f], raw[f]), (k, f)

# A strict LZW decoder written from the GIF89a spec (appendix F): besides the pixels, it checks what
# forgiving decoders such as PIL skip: the code width at every step, the end code right after the
# last pixel, and nothing but zero bits after it.
def strict_frames(name):
    b = open(name, "rb").read()
    assert b[:6] == b"GIF89a" and b[10] == 0xF7
    pos, out = 13 + 768, []
    while b[pos] != 0x3B:
        if b[pos] == 0x21:  # extension: label, sub-blocks
            pos += 2
            while b[pos]:
                pos += b[pos] + 1
            pos += 1
            continue
        assert b[pos] == 0x2C, hex(b[pos])
        w, h = b[pos + 5] | b[pos + 6] << 8, b[pos + 7] | b[pos + 8] << 8
        pos += 10
        assert b[pos] == 8
        pos += 1
        data = bytearray()
        while b[pos]:
            data += b[pos + 1:pos + 1 + b[pos]]
            pos += b[pos] + 1
        pos += 1
        bits = int.from_bytes(data, "little")
        nbits, at = len(data) * 8, 0
        pix, table, size, prev = [], None, 9, None
        while True:
            assert at + size <= nbits, "stream ends without an end code"
            code = bits >> at & ((1 << size) - 1)
            at += size
            if code == 256:
                table, size, prev = [bytes([i]) for i in range(256)] + [b"", b""], 9, None
                continue
            if code == 257:
                break
            assert table is not None, "no clear code first"
            if prev is None:
                entry = table[code]
            else:
                if code < len(table):
                    entry = table[code]
                    new = table[prev] + entry[:1]
                else:
                    assert code == len(table), ("code beyond table", code, len(table))
                    new = table[prev] + table[prev][:1]
                    entry = new
                if len(table) < 4096:
                    table.append(new)
                    if len(table) == 1 << size and size < 12:
                        size += 1
            pix += entry
            prev = code
        assert len(pix) == w * h, (len(pix), w * h)
        assert bits >> at == 0 and (nbits - at) < 8, "bits after the end code"
        out.append(np.frombuffer(bytes(pix), np.uint8).reshape(h, w))
    assert pos == len(b) - 1
    return out
for k, (h, w) in enumerate(sizes):
    raw = np.fromfile("g%d.raw" % k, dtype=np.uint8).reshape(2, h, w)
    fr = strict_frames("g%d.gif" % k)
    assert len(fr) == 2 and all(np.array_equal(fr[f], raw[f]) for f in range(2)), k

im, fr = frames("rgb.gif", "RGB")
assert im.size == (30, 20) and len(fr) == 3 and im.info.get("loop") == 3, (im.size, len(fr), im.info)
raw = np.fromfile("rgb.raw", dtype=np.uint8).reshape(3, 20, 30, 3)
for f in range(3):
    assert np.array_equal(fr[f], raw[f]), f
)"));
}

// Ordered dithering keeps the average colour of a smooth RGB gradient.
TEST_F(IoTest, GifDitheringKeepsMeanColour) {
  DCGAN_REQUIRE_OR_SKIP(have_pil(), fmt::format("{} with PIL", kPython), "apt install python3-pil");
  const int h = 64, w = 64;
  std::vector<uint8_t> px(h * w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      px[(y * w + x) * 3 + 0] = static_cast<uint8_t>(x * 4);
      px[(y * w + x) * 3 + 1] = static_cast<uint8_t>(y * 4);
      px[(y * w + x) * 3 + 2] = 100;
    }
  write_gif(path("grad.gif"), {px}, h, w, 3, 10, 0);
  write_bytes(path("grad.raw"), std::string(px.begin(), px.end()));
  EXPECT_TRUE(run_python(R"(
import numpy as np
from PIL import Image
got = np.asarray(Image.open("grad.gif").convert("RGB")).astype(np.float64)
ref = np.fromfile("grad.raw", dtype=np.uint8).reshape(64, 64, 3).astype(np.float64)
# Mean over 4x4 tiles (one dither period) stays within a few levels of the original.
t = lambda a: a.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3))
err = np.abs(t(got) - t(ref)).max()
assert err < 12, err
)"));
}

}  // namespace
