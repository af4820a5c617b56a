// End-to-end: `dcgan export --onnx` on checkpoints trained here for 2 steps (both architectures,
// kernels 4 and 5), the model run by ONNX Runtime (node + onnxruntime-node,
// tests/support/onnx_run.js) on batches of 1 and 7, against `dcgan sample --latents` on the same
// latents; a PyTorch-exported generator against PyTorch itself; the file checked by Debian's
// python3-onnx; bad input refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

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

const std::string kNodeModules = std::string(DCGAN_SOURCE_DIR) + "/.deps/node_modules";

bool have_onnxruntime_node() {
  return std::system("node --version >/dev/null 2>&1") == 0 && fs::exists(kNodeModules + "/onnxruntime-node");
}
bool have_python_module(const char* m) {
  return std::system(fmt::format("/usr/bin/python3 -c 'import {}' >/dev/null 2>&1", m).c_str()) == 0;
}
bool have_python_onnx() { return have_python_module("onnx"); }

struct Config {
  const char* arch;
  int img, channels, latent, kernel;
};
std::string name_of(const Config& c) { return fmt::format("{}_{}x{}_k{}", c.arch, c.img, c.channels, c.kernel); }
void PrintTo(const Config& c, std::ostream* os) { *os << name_of(c); }  // gtest's and ctest's test names

Tensor random_latents(int64_t n, int64_t dim, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  Tensor z({n, dim});
  for (int64_t i = 0; i < z.numel(); ++i) z[i] = normal(gen);
  return z;
}

std::string train_small(const Config& c, const TempDir& d) {
  return testing::train_tiny_run(d, c.channels, c.img,
                                 fmt::format("--arch {} --latent-dim {} --kernel {} --ngf 8 --ndf 8", c.arch,
                                             c.latent, c.kernel));
}

class OnnxExport : public ::testing::TestWithParam<Config> {};

TEST_P(OnnxExport, OnnxRuntimeMatchesSample) {
  DCGAN_REQUIRE_OR_SKIP(have_onnxruntime_node(), "node and npm onnxruntime-node in .deps/node_modules",
                        "run scripts/setup.sh");
  DCGAN_REQUIRE_OR_SKIP(have_python_onnx(), "Python module onnx", "apt install python3-onnx");
  const Config c = GetParam();
  TempDir d("export-" + name_of(c));
  const std::string run = train_small(c, d);
  // A run directory, as every command takes.
  CmdResult r = run_dcgan(fmt::format("export --checkpoint {} --onnx {}", run, d / "g.onnx"));
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(fs::exists(d.path / "g.onnx"));

  // Debian's Python checker, with shape inference (full_check): the declared input and output
  // must be what the issue asks for, the batch symbolic.
  r = run_shell(fmt::format(
      "/usr/bin/python3 -c \"import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); "
      "d = lambda v: ','.join(x.dim_param or str(x.dim_value) for x in v.type.tensor_type.shape.dim); "
      "print('io', [i.name + ':' + d(i) for i in m.graph.input], [o.name + ':' + d(o) for o in m.graph.output])\" {}",
      d / "g.onnx"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("io ['z:N,{}'] ['images:N,{},{},{}']", c.latent, c.channels, c.img, c.img)),
            std::string::npos)
      << r.output;

  for (int64_t n : {1, 7}) {
    SCOPED_TRACE(fmt::format("batch {}", n));
    const std::string z = d / fmt::format("z{}.npy", n), ort = d / fmt::format("ort{}.npy", n),
                      ours = d / fmt::format("ours{}.npy", n);
    write_npy(z, random_latents(n, c.latent, unsigned(n) + c.img));
    r = run_shell(fmt::format("NODE_PATH={} node {}/tests/support/onnx_run.js {} z {} images {}", kNodeModules,
                              DCGAN_SOURCE_DIR, d / "g.onnx", z, ort));
    ASSERT_EQ(r.code, 0) << r.output;
    r = run_dcgan(fmt::format("sample --checkpoint {} --latents {} --npy {}", run, z, ours));
    ASSERT_EQ(r.code, 0) << r.output;
    Tensor a = read_npy(ort), b = read_npy(ours);
    ASSERT_EQ(a.shape(), (Shape{n, c.channels, c.img, c.img}));
    ASSERT_EQ(a.shape(), b.shape());
    double scale = 0;
    for (int64_t i = 0; i < b.numel(); ++i) scale = std::max(scale, double(std::abs(b[i])));
    ASSERT_GT(scale, 0.0) << "an all-zero output would compare equal to anything scaled";
    // The criterion: 1e-5 relative, here element-wise against the output's largest value
    // and as the relative L2 norm of the difference.
    const double max_rel = max_abs_diff(a, b) / scale, l2_rel = rel_l2_error(a, b);
    std::printf("[export] %s batch %lld: max |ORT - dcgan| / max |dcgan| = %.3g, relative L2 = %.3g\n",
                name_of(c).c_str(), static_cast<long long>(n), max_rel, l2_rel);
    EXPECT_LT(max_rel, 1e-5);
    EXPECT_LT(l2_rel, 1e-5);
    if (n > 1) {  // the model reads z: different latents, different images
      Tensor first = Tensor::view(a.data(), {c.channels * c.img * c.img});
      Tensor second = Tensor::view(a.data() + first.numel(), {first.numel()});
      EXPECT_GT(max_abs_diff(first, second), 1e-4 * scale);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, OnnxExport,
                         ::testing::Values(Config{"seed", 16, 1, 100, 4}, Config{"seed", 32, 3, 20, 5},
                                           Config{"dcgan", 16, 3, 30, 4}, Config{"dcgan", 32, 1, 10, 5}),
                         [](const auto& info) { return name_of(info.param); });

// A generator exported from PyTorch (tools/reference/export_generator.py, a generator-only file):
// ONNX Runtime on our export against PyTorch's own eval-mode output, no dcgan code in the oracle.
TEST(OnnxExportPyTorch, OnnxRuntimeMatchesPyTorch) {
  DCGAN_REQUIRE_OR_SKIP(have_onnxruntime_node(), "node and npm onnxruntime-node in .deps/node_modules",
                        "run scripts/setup.sh");
  DCGAN_REQUIRE_OR_SKIP(have_python_module("torch"), "Python module torch", "run scripts/setup.sh");
  TempDir d("export-pytorch");
  CmdResult r = run_shell(fmt::format(
      "/usr/bin/python3 {}/tools/reference/export_generator.py --arch dcgan --img-size 32 --channels 3 "
      "--latent-dim 20 --ngf 8 --kernel 5 --seed 3 --n 6 --out {}",
      DCGAN_SOURCE_DIR, d.str()));
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_dcgan(fmt::format("export --checkpoint {} --onnx {}", d / "generator.safetensors", d / "g.onnx"));
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_shell(fmt::format("NODE_PATH={} node {}/tests/support/onnx_run.js {} z {} images {}", kNodeModules,
                            DCGAN_SOURCE_DIR, d / "g.onnx", d / "latents.npy", d / "ort.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  Tensor a = read_npy(d / "ort.npy"), b = read_npy(d / "expected.npy");
  ASSERT_EQ(a.shape(), (Shape{6, 3, 32, 32}));
  ASSERT_EQ(a.shape(), b.shape());
  const double l2_rel = rel_l2_error(a, b);
  std::printf("[export] PyTorch dcgan 32x3 k5: relative L2 ORT vs PyTorch = %.3g\n", l2_rel);
  EXPECT_LT(l2_rel, 1e-5);
}

// Nothing in `dir` but `keep` (no half-written model, no temp file left behind).
void expect_only(const TempDir& d, std::initializer_list<const char*> keep) {
  for (const auto& e : fs::directory_iterator(d.path)) {
    const std::string name = e.path().filename().string();
    EXPECT_NE(std::find(keep.begin(), keep.end(), name), keep.end()) << "left behind: " << name;
  }
}

TEST(OnnxExportErrors, BadInputIsRefusedByNameWithoutAFile) {
  TempDir d("export-errors");
  const std::string run = train_small({"seed", 16, 1, 8, 4}, d);

  // A missing checkpoint.
  CmdResult r = run_dcgan(fmt::format("export --checkpoint {} --onnx {}", d / "nope.safetensors", d / "g.onnx"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("nope.safetensors"), std::string::npos) << r.output;

  // A corrupt one.
  { std::ofstream(d / "bad.safetensors") << "\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"; }
  r = run_dcgan(fmt::format("export --checkpoint {} --onnx {}", d / "bad.safetensors", d / "g.onnx"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("bad.safetensors"), std::string::npos) << r.output;

  // An unwritable output: its parent is a file.
  { std::ofstream(d / "afile") << "x"; }
  r = run_dcgan(fmt::format("export --checkpoint {} --onnx {}", run, d / "afile/g.onnx"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("afile/g.onnx"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("HINT"), std::string::npos) << r.output;

  // The checkpoint itself as the output.
  const std::string latest = run + "/checkpoints/latest.safetensors";
  const std::string before = slurp(latest);
  r = run_dcgan(fmt::format("export --checkpoint {} --onnx {}", run, latest));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("would destroy it"), std::string::npos) << r.output;
  EXPECT_TRUE(slurp(latest) == before) << "the checkpoint changed";

  // Misuse of the command line: no --onnx.
  r = run_dcgan(fmt::format("export --checkpoint {}", run));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--onnx"), std::string::npos) << r.output;

  expect_only(d, {"run", "data.npy", "bad.safetensors", "afile"});
}

}  // namespace
}  // namespace dcgan
