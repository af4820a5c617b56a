// End-to-end: `cmake --install` into a temporary prefix, then what a user does with it: a separate
// CMake project (tests/install/) with find_package(dcgan) building the README's C++ example
// (extracted from README.md, so the README cannot drift from what works), a C program on the C API,
// the ONNX exporter through dcgan::onnx and every public header alone under -Wall -Wextra -Werror; the same two programs built with
// pkg-config instead. Both run on a checkpoint trained here, against `dcgan sample`. One test: the
// builds take a minute.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "dcgan/io/npy.hpp"
#include "support/cli.hpp"
#include "support/require.hpp"
#include "support/tiny_run.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::CmdResult;
using testing::run_dcgan;
using testing::run_shell;
using testing::slurp;
using testing::TempDir;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The README's ```cpp block that uses ImageGenerator; empty when there is none.
std::string readme_snippet() {
  const std::string readme = slurp(std::string(DCGAN_SOURCE_DIR) + "/README.md");
  for (size_t at = readme.find("```cpp\n"); at != std::string::npos; at = readme.find("```cpp\n", at + 1)) {
    const size_t begin = at + 7, end = readme.find("```", begin);
    if (end == std::string::npos) break;
    const std::string block = readme.substr(begin, end - begin);
    if (has(block, "dcgan::ImageGenerator") && has(block, "int main(")) return block;
  }
  return {};
}

TEST(Install, FindPackagePkgConfigAndCApiAgainstAnInstalledCopy) {
  DCGAN_REQUIRE_OR_SKIP(run_shell("pkg-config --version").code == 0, "pkg-config", "apt install pkg-config");
  TempDir d("install");
  const std::string prefix = d / "prefix";
  // The build tree's libraries are built: tests/CMakeLists.txt makes this test depend on them.
  CmdResult r = run_shell(fmt::format("cmake --install {} --prefix {}", DCGAN_BINARY_DIR, prefix));
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"lib/libdcgan.so", "lib/libdcgan.a", "lib/pkgconfig/dcgan.pc", "lib/cmake/dcgan/dcganConfig.cmake",
                        "include/dcgan/dcgan.h", "include/dcgan/generator.hpp"})
    EXPECT_TRUE(fs::exists(fs::path(prefix) / f)) << f;

  // A checkpoint to run.
  const std::string ckpt = testing::train_tiny_run(d, 3, 16, "--latent-dim 12") + "/checkpoints/latest.safetensors";

  const std::string snippet = readme_snippet();
  ASSERT_FALSE(snippet.empty()) << "README.md has no ```cpp block with ImageGenerator and main()";
  { std::ofstream(d / "snippet.cpp") << snippet; }

  // The CMake consumer: configure and build once.
  const std::string project = std::string(DCGAN_SOURCE_DIR) + "/tests/install";
  r = run_shell(fmt::format("cmake -S {} -B {} -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH={} "
                            "-DDCGAN_SNIPPET={} && cmake --build {} -j2",
                            project, d / "cmake-build", prefix, d / "snippet.cpp", d / "cmake-build"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "public headers compiled alone: ")) << r.output;

  // The pkg-config consumer: the same two programs, with the compilers a user would call.
  const std::string pc = fmt::format("PKG_CONFIG_PATH={}/lib/pkgconfig pkg-config", prefix);
  const std::string rpath = fmt::format("-Wl,-rpath,{}/lib", prefix);
  r = run_shell(fmt::format("c++ -std=c++20 -Wall -Wextra -Werror {} -o {} $({} --cflags --libs dcgan) {}",
                            d / "snippet.cpp", d / "snippet-pc", pc, rpath));
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_shell(fmt::format("cc -std=c99 -Wall -Wextra -Werror -pedantic {}/capi.c -o {} $({} --cflags --libs dcgan) {}",
                            project, d / "capi-pc", pc, rpath));
  ASSERT_EQ(r.code, 0) << r.output;

  // The README example, both builds, against `dcgan sample` with the same seed: the same PNG.
  r = run_dcgan(fmt::format("sample --checkpoint {} -n 16 --seed 1 --grid {} --nrow 4", ckpt, d / "expected.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* build : {"cmake-build/snippet", "snippet-pc"}) {
    SCOPED_TRACE(build);
    const std::string dir = d / (std::string(build) + "-out");
    fs::create_directories(dir);
    r = run_shell(fmt::format("cd {} && {} {}", dir, d / build, ckpt));
    ASSERT_EQ(r.code, 0) << r.output;
    ASSERT_TRUE(fs::exists(dir + "/grid.png"));
    EXPECT_TRUE(slurp(dir + "/grid.png") == slurp(d / "expected.png")) << "the example's grid differs from dcgan sample's";
    // Its error handling: a message naming the file and exit 1, not an uncaught exception.
    r = run_shell(fmt::format("cd {} && {} {}", dir, d / build, d / "missing.safetensors"));
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(has(r.output, "error: " + d / "missing.safetensors")) << r.output;
  }

  // The exporter through dcgan::onnx: the same file as `dcgan export` writes.
  r = run_shell(fmt::format("{} {} {}", d / "cmake-build/export", ckpt, d / "lib.onnx"));
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_dcgan(fmt::format("export --checkpoint {} --onnx {}", ckpt, d / "cli.onnx"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(slurp(d / "lib.onnx") == slurp(d / "cli.onnx") && !slurp(d / "cli.onnx").empty());

  // The C program, both builds: its error checks, then its images against `dcgan sample --latents`.
  for (const char* build : {"cmake-build/capi", "capi-pc"}) {
    SCOPED_TRACE(build);
    const std::string z = d / "z.npy", images = d / "c_images.npy", expected = d / "c_expected.npy";
    fs::remove(z);
    fs::remove(images);
    r = run_shell(fmt::format("{} {} {} {}", d / build, ckpt, z, images));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(has(r.output, "missing checkpoint: DCGAN_ERROR_FILE, handle NULL, message: no/such/checkpoint.safetensors"))
        << r.output;
    EXPECT_TRUE(has(r.output, "small buffer: DCGAN_ERROR_ARGUMENT, message: dcgan_generator_generate: images holds"))
        << r.output;
    EXPECT_TRUE(has(r.output, "latent 12, image 3x16x16")) << r.output;
    r = run_dcgan(fmt::format("sample --checkpoint {} --latents {} --npy {}", ckpt, z, expected));
    ASSERT_EQ(r.code, 0) << r.output;
    Tensor ours = read_npy(images), ref = read_npy(expected);
    ASSERT_EQ(ours.shape(), (Shape{5, 3, 16, 16}));
    ASSERT_EQ(ours.shape(), ref.shape());
    // The same library on the same latents: equal up to the threads' summation order.
    const double diff = rel_l2_error(ours, ref);
    std::printf("[install] %s: C API vs dcgan sample, relative L2 %.3g\n", build, diff);
    EXPECT_LT(diff, 1e-6);
    EXPECT_GT(max_abs_diff(Tensor::view(ours.data(), {3 * 16 * 16}), Tensor::view(ours.data() + 3 * 16 * 16, {3 * 16 * 16})),
              0.0)
        << "two latents, one image: the latents were not used";
  }
}

}  // namespace
}  // namespace dcgan
