// End-to-end: generators exported from PyTorch (tools/reference/export_generator.py) in
// configurations no other test uses, run by `dcgan sample`, against PyTorch's eval-mode output.
// Plus the CLI's errors on bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "dcgan/io/npy.hpp"
#include "io/safetensors.hpp"
#include "support/cli.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::run_dcgan;
using testing::TempDir;

struct Export {
  const char* arch;
  int img, channels, latent, ngf, kernel;
};

std::string export_generator(const Export& e, const std::string& dir, int seed) {
  std::string cmd = fmt::format(
      "/usr/bin/python3 {}/tools/reference/export_generator.py --arch {} --img-size {} --channels {} "
      "--latent-dim {} --ngf {} --kernel {} --seed {} --n 12 --out {}",
      DCGAN_SOURCE_DIR, e.arch, e.img, e.channels, e.latent, e.ngf, e.kernel, seed, dir);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return dir + "/generator.safetensors";
}

class PyTorchExport : public ::testing::TestWithParam<Export> {};

TEST_P(PyTorchExport, SampleEqualsPyTorchEvalOutput) {
  auto e = GetParam();
  TempDir d(fmt::format("export-{}-{}-{}", e.arch, e.img, e.channels));
  std::string ckpt = export_generator(e, d.str(), e.img + e.latent);
  auto r = run_dcgan(fmt::format("sample --checkpoint {} --latents {} --npy {} --grid {}", ckpt,
                                 d / "latents.npy", d / "ours.npy", d / "grid.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  Tensor ours = read_npy(d / "ours.npy");
  Tensor ref = read_npy(d / "expected.npy");
  ASSERT_EQ(ours.shape(), ref.shape());
  // The criterion: 1e-4 relative (L2 norm).
  EXPECT_LT(rel_l2_error(ours, ref), 1e-4);
  EXPECT_TRUE(fs::exists(d.path / "grid.png"));
}

// None of these appear in make_reference.py's model or training cases.
INSTANTIATE_TEST_SUITE_P(Configs, PyTorchExport,
                         ::testing::Values(Export{"seed", 64, 3, 32, 8, 5}, Export{"seed", 16, 1, 64, 32, 4},
                                           Export{"seed", 128, 1, 10, 4, 4},
                                           Export{"dcgan", 32, 1, 50, 24, 5}, Export{"dcgan", 64, 3, 100, 16, 4},
                                           Export{"dcgan", 16, 3, 7, 12, 4}));

TEST(CliSample, RandomLatentsPerImagePngsAndReproducibility) {
  TempDir d("sample-random");
  std::string ckpt = export_generator({"seed", 32, 1, 100, 16, 4}, d.str(), 1);
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 5 --seed 3 --npy {} --out-dir {}", ckpt,
                                  d / "a.npy", d / "imgs")).code, 0);
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 5 --seed 3 --npy {}", ckpt, d / "b.npy")).code, 0);
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 5 --seed 4 --npy {} --save-latents {}", ckpt,
                                  d / "c.npy", d / "zc.npy")).code, 0);
  Tensor a = read_npy(d / "a.npy"), b = read_npy(d / "b.npy"), c = read_npy(d / "c.npy");
  EXPECT_EQ(a.shape(), (Shape{5, 1, 32, 32}));
  EXPECT_EQ(max_abs_diff(a, b), 0.0) << "same seed, same images";
  // An untrained generator maps different latents to similar images: check the latents differ
  // clearly and the images at all.
  EXPECT_GT(max_abs_diff(a, c), 0.0) << "another seed, other images";
  Tensor zc = read_npy(d / "zc.npy");
  EXPECT_EQ(zc.shape(), (Shape{5, 100}));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(fs::exists(d.path / "imgs" / fmt::format("{:06}.png", i)));
}

TEST(CliSample, ErrorsNameTheFile) {
  TempDir d("sample-errors");
  std::string ckpt = export_generator({"seed", 32, 1, 100, 16, 4}, d.str(), 2);
  // Missing checkpoint.
  auto r = run_dcgan("sample --checkpoint " + d / "nope.safetensors" + " -n 2 --npy " + d / "o.npy");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("nope.safetensors"), std::string::npos) << r.output;
  // Corrupt header.
  { std::ofstream(d / "bad.safetensors") << "\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"; }
  r = run_dcgan("sample --checkpoint " + d / "bad.safetensors" + " -n 2 --npy " + d / "o.npy");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("bad.safetensors"), std::string::npos) << r.output;
  // A tensor missing, and a tensor of the wrong shape.
  SafeTensors st = read_safetensors(ckpt);
  SafeTensors missing = st;
  missing.tensors.erase("generator.model.2.weight");
  write_safetensors_atomic(d / "missing.safetensors", missing);
  r = run_dcgan("sample --checkpoint " + d / "missing.safetensors" + " -n 2 --npy " + d / "o.npy");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("generator.model.2.weight"), std::string::npos) << r.output;
  SafeTensors wrong = st;
  wrong.put("generator.model.2.weight", Tensor({3, 3}));
  write_safetensors_atomic(d / "wrong.safetensors", wrong);
  r = run_dcgan("sample --checkpoint " + d / "wrong.safetensors" + " -n 2 --npy " + d / "o.npy");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("generator.model.2.weight"), std::string::npos) << r.output;
  // Latent size mismatch.
  ASSERT_EQ(std::system(fmt::format("/usr/bin/python3 -c \"import numpy as np; np.save('{}', "
                                    "np.zeros((3, 7), np.float32))\"", d / "z7.npy").c_str()), 0);
  r = run_dcgan("sample --checkpoint " + ckpt + " --latents " + d / "z7.npy" + " --npy " + d / "o.npy");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("z7.npy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("100"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "o.npy")) << "no output on failure";
}

TEST(CliInfo, PrintsConfigAndTensors) {
  TempDir d("info");
  std::string ckpt = export_generator({"dcgan", 32, 3, 20, 8, 4}, d.str(), 5);
  auto r = run_dcgan("info " + ckpt);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("dcgan 32x32x3, latent 20"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("generator.main.0.weight"), std::string::npos) << r.output;
}

TEST(CliInterpolate, GridGifAndEnds) {
  TempDir d("interp");
  std::string ckpt = export_generator({"seed", 32, 1, 100, 16, 4}, d.str(), 6);
  auto r = run_dcgan(fmt::format("interpolate --checkpoint {} --seeds 1,2,3 --steps 5 --grid {} --gif {} --npy {}",
                                 ckpt, d / "i.png", d / "i.gif", d / "i.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(d.path / "i.png"));
  EXPECT_TRUE(fs::exists(d.path / "i.gif"));
  Tensor path = read_npy(d / "i.npy");
  EXPECT_EQ(path.shape(), (Shape{10, 1, 32, 32}));
  // The ends of each pair are the key points' own images.
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 1 --seed 2 --npy {}", ckpt, d / "k2.npy")).code, 0);
  Tensor k2 = read_npy(d / "k2.npy");
  const int64_t px = 32 * 32;
  double diff = 0;
  for (int64_t i = 0; i < px; ++i) diff = std::max(diff, double(std::fabs(path[4 * px + i] - k2[i])));
  EXPECT_LT(diff, 1e-5) << "the last point of pair 1 is seed 2's image";
}

}  // namespace
}  // namespace dcgan
