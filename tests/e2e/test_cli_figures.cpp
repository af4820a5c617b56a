// End-to-end: the DCGAN paper's figures as commands. `dcgan arithmetic` does its arithmetic on
// latents (checked against the latents `dcgan sample` saves for the same seeds), `dcgan sweep`
// moves exactly one coordinate per row; shapes, grids and refusals by option name.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "support/cli.hpp"
#include "support/tiny_run.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::CmdResult;
using testing::run_dcgan;
using testing::TempDir;

bool has(const CmdResult& r, const std::string& s) { return r.output.find(s) != std::string::npos; }

// Row i of a (N, ...) tensor as a vector.
std::vector<float> row(const Tensor& t, int64_t i) {
  const int64_t n = t.numel() / t.dim(0);
  return {t.data() + i * n, t.data() + (i + 1) * n};
}

class Figures : public ::testing::Test {
 protected:
  // One tiny trained checkpoint (16x16 gray, the seed model's latent_dim 100) for every test.
  static void SetUpTestSuite() {
    dir_ = new TempDir("figures");
    run_ = new std::string(testing::train_tiny_run(*dir_, 1, 16, ""));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
  }
  // The latent (1, 100) and image (1, 1, 16, 16) of `dcgan sample -n 1 --seed S`.
  static std::pair<Tensor, Tensor> sample(uint64_t seed) {
    const std::string z = *dir_ / fmt::format("z{}.npy", seed), x = *dir_ / fmt::format("x{}.npy", seed);
    auto r = run_dcgan(fmt::format("sample --checkpoint {} -n 1 --seed {} --save-latents {} --npy {}", *run_, seed, z, x));
    EXPECT_EQ(r.code, 0) << r.output;
    return {read_npy(z), read_npy(x)};
  }
  static TempDir* dir_;
  static std::string* run_;
};
TempDir* Figures::dir_ = nullptr;
std::string* Figures::run_ = nullptr;

TEST_F(Figures, ArithmeticIsDoneOnTheSeedsLatents) {
  TempDir d("arith");
  auto r = run_dcgan(fmt::format("arithmetic --checkpoint {} --a 1,2 --b 3 --c 4,5 --variations 2 --noise 0.25 "
                                 "--save-latents {} --npy {} --out {}",
                                 *run_, d / "z.npy", d / "x.npy", d / "grid.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor z = read_npy(d / "z.npy"), x = read_npy(d / "x.npy");
  // Rows: A's 2 seeds and their mean, B's seed and its mean, C's 2 and their mean, the result and
  // 2 variations.
  const int64_t n = 3 + 2 + 3 + 1 + 2;
  EXPECT_EQ(z.shape(), (Shape{n, 100}));
  EXPECT_EQ(x.shape(), (Shape{n, 1, 16, 16}));
  std::vector<Tensor> seed_z;
  for (uint64_t s : {1, 2, 3, 4, 5}) seed_z.push_back(sample(s).first);
  // The seeds' rows are the latents `dcgan sample --seed S` uses, exactly.
  const int64_t seed_rows[] = {0, 1, 3, 5, 6};
  for (int k = 0; k < 5; ++k) EXPECT_EQ(row(z, seed_rows[k]), row(seed_z[size_t(k)], 0)) << "seed " << k + 1;
  // Means, and the result mean(A) - mean(B) + mean(C), computed here from those latents.
  for (int64_t i = 0; i < 100; ++i) {
    const double ma = (double(seed_z[0][i]) + seed_z[1][i]) / 2, mb = seed_z[2][i];
    const double mc = (double(seed_z[3][i]) + seed_z[4][i]) / 2;
    EXPECT_NEAR(z[2 * 100 + i], ma, 1e-6);
    EXPECT_NEAR(z[4 * 100 + i], mb, 1e-6);
    EXPECT_NEAR(z[7 * 100 + i], mc, 1e-6);
    EXPECT_NEAR(z[8 * 100 + i], ma - mb + mc, 1e-6) << "coordinate " << i;
    // Variations: within the noise of the result, and not the result itself.
    for (int64_t v : {9, 10}) EXPECT_LE(std::abs(z[v * 100 + i] - z[8 * 100 + i]), 0.25 + 1e-6);
  }
  EXPECT_NE(row(z, 9), row(z, 8));
  EXPECT_NE(row(z, 9), row(z, 10));
  // The images are the generator's on exactly those latents.
  r = run_dcgan(fmt::format("sample --checkpoint {} --latents {} --npy {}", *run_, d / "z.npy", d / "again.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(max_abs_diff(read_npy(d / "again.npy"), x), 0.0);
  // The grid: 4 rows, as wide as the longest (3 images), 16-pixel images with 2 pixels of padding.
  const DecodedImage g = decode_image_file(d / "grid.png");
  EXPECT_EQ(g.w, 3 * 18 + 2);
  EXPECT_EQ(g.h, 4 * 18 + 2);
}

TEST_F(Figures, ArithmeticAMinusAPlusCIsExactlyC) {
  TempDir d("arith-c");
  auto r = run_dcgan(fmt::format("arithmetic --checkpoint {} --a 7 --b 7 --c 9 --variations 0 --save-latents {} "
                                 "--npy {}",
                                 *run_, d / "z.npy", d / "x.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor z = read_npy(d / "z.npy"), x = read_npy(d / "x.npy");
  ASSERT_EQ(z.dim(0), 7);  // A, mean A, B, mean B, C, mean C, result
  const auto [z9, x9] = sample(9);
  EXPECT_EQ(row(z, 6), row(z9, 0)) << "A - A + C is C's latent, bit for bit";
  EXPECT_EQ(row(x, 6), row(x, 4)) << "and so C's image";
  // Against `dcgan sample --seed 9` alone (a batch of one, where the BLAS may sum in another order).
  EXPECT_LE(max_abs_diff(Tensor::view(row(x, 6).data(), {1, 1, 16, 16}), x9), 1e-5);
}

TEST_F(Figures, SweepMovesOneCoordinatePerRow) {
  TempDir d("sweep");
  auto r = run_dcgan(fmt::format("sweep --checkpoint {} --seed 4 --dims 0,3,99 --from -3 --to 3 --steps 7 "
                                 "--save-latents {} --npy {} --out {}",
                                 *run_, d / "z.npy", d / "x.npy", d / "grid.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor z = read_npy(d / "z.npy"), x = read_npy(d / "x.npy");
  EXPECT_EQ(z.shape(), (Shape{21, 100}));
  EXPECT_EQ(x.shape(), (Shape{21, 1, 16, 16}));
  const Tensor z4 = sample(4).first;
  const int dims[] = {0, 3, 99};
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < 7; ++i) {
      const std::vector<float> zi = row(z, k * 7 + i);
      for (int j = 0; j < 100; ++j)
        EXPECT_EQ(zi[size_t(j)], j == dims[k] ? float(-3 + i) : z4[j]) << "row " << k << ", value " << i << ", dim " << j;
    }
  const DecodedImage g = decode_image_file(d / "grid.png");
  EXPECT_EQ(g.w, 7 * 18 + 2);
  EXPECT_EQ(g.h, 3 * 18 + 2);
}

TEST_F(Figures, BadInputIsRefusedByName) {
  TempDir d("figures-bad");
  const std::string out = " --npy " + d / "o.npy";
  struct Case {
    std::string args;
    int code;
    std::string says;
  };
  const Case cases[] = {
      {"arithmetic --a 1,x --b 2 --c 3", 2, "--a"},
      {"arithmetic --a 1 --b -2 --c 3", 2, "--b"},
      {"arithmetic --a 1 --b 2", 2, "--c"},
      {"arithmetic --a 1 --b 2 --c 3 --variations 65", 2, "--variations"},
      {"arithmetic --a 1 --b 2 --c 3 --noise nan", 2, "--noise"},
      {"sweep --dims 0,100", 1, "invalid option --dims 0,100"},
      {"sweep --dims 0 --steps 0", 2, "--steps"},
      {"sweep --dims -1", 2, "--dims"},
      {"sweep --dims 0 --to inf", 2, "--to"},
      {"sweep --seed 1", 2, "--dims"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    auto r = run_dcgan(fmt::format("{} --checkpoint {}{}", c.args, *run_, out));
    EXPECT_EQ(r.code, c.code) << r.output;
    EXPECT_TRUE(has(r, c.says)) << r.output;
    EXPECT_FALSE(fs::exists(d.path / "o.npy"));
  }
  // latent_dim named for a coordinate beyond it; 65 seeds are more than a row shows.
  auto r = run_dcgan(fmt::format("sweep --checkpoint {} --dims 100{}", *run_, out));
  EXPECT_TRUE(has(r, "latent_dim 100")) << r.output;
  std::string many = "0";
  for (int i = 1; i < 65; ++i) many += fmt::format(",{}", i);
  r = run_dcgan(fmt::format("arithmetic --checkpoint {} --a {} --b 1 --c 2{}", *run_, many, out));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "invalid option --a")) << r.output;
  // Nothing to write.
  r = run_dcgan(fmt::format("arithmetic --checkpoint {} --a 1 --b 2 --c 3", *run_));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "nothing to write")) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "o.npy"));
}

}  // namespace
}  // namespace dcgan
