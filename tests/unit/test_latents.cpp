// The latent math behind dcgan arithmetic, dcgan sweep and the explorer (dcgan/latents.hpp), and
// the grid of rows of different lengths the arithmetic figure is drawn in (make_grid_rows).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "dcgan/error.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/latents.hpp"
#include "core/rng.hpp"

namespace dcgan {
namespace {

Tensor randn(int64_t rows, int64_t dim, uint64_t seed) {
  Rng rng(seed);
  Tensor t({rows, dim});
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.normal();
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), size_t(a.numel()) * sizeof(float)) == 0;
}

TEST(Latents, ArithmeticCancelsExactly) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Tensor a = randn(1, 100, seed), b = randn(1, 100, seed + 100), c = randn(1, 100, seed + 200);
    EXPECT_TRUE(same_bits(latent_arithmetic(a, a, c), c)) << "A - A + C is C";
    EXPECT_TRUE(same_bits(latent_arithmetic(a, b, b), a)) << "A - B + B is A";
  }
}

TEST(Latents, ArithmeticOfMeans) {
  const Tensor a = randn(3, 50, 1), b = randn(2, 50, 2), c = randn(4, 50, 3);
  const Tensor z = latent_arithmetic(a, b, c), ma = mean_latent(a);
  ASSERT_EQ(z.shape(), (Shape{1, 50}));
  for (int64_t i = 0; i < 50; ++i) {
    auto mean = [&](const Tensor& t) {
      double s = 0;
      for (int64_t r = 0; r < t.dim(0); ++r) s += t[r * 50 + i];
      return s / double(t.dim(0));
    };
    EXPECT_NEAR(ma[i], mean(a), 1e-6);
    EXPECT_NEAR(z[i], mean(a) - mean(b) + mean(c), 1e-6);
  }
  EXPECT_THROW(latent_arithmetic(a, randn(1, 49, 4), c), Error);
  EXPECT_THROW(mean_latent(Tensor({0, 50})), Error);
}

TEST(Latents, VariationsStayWithinTheNoiseAndFollowTheirSeed) {
  const Tensor z = randn(1, 64, 5);
  const Tensor v = latent_variations(z, 8, 0.25, 1), again = latent_variations(z, 8, 0.25, 1);
  const Tensor other = latent_variations(z, 8, 0.25, 2);
  ASSERT_EQ(v.shape(), (Shape{8, 64}));
  EXPECT_TRUE(same_bits(v, again));
  EXPECT_FALSE(same_bits(v, other));
  double largest = 0;
  for (int64_t r = 0; r < 8; ++r)
    for (int64_t i = 0; i < 64; ++i) largest = std::max(largest, double(std::abs(v[r * 64 + i] - z[i])));
  EXPECT_LE(largest, 0.25 + 1e-6);
  EXPECT_GT(largest, 0.2) << "512 uniform draws in [-0.25, 0.25] reach near the ends";
  EXPECT_EQ(latent_variations(z, 0, 0.25, 1).dim(0), 0);
  EXPECT_TRUE(same_bits(latent_variations(z, 3, 0.0, 1), [&] {
    Tensor t({3, 64});
    for (int r = 0; r < 3; ++r) std::memcpy(t.data() + r * 64, z.data(), 64 * sizeof(float));
    return t;
  }()));
  EXPECT_THROW(latent_variations(z, 2, std::nan(""), 1), Error);
}

TEST(Latents, SweepSetsOneCoordinatePerRow) {
  const Tensor z = randn(1, 10, 6);
  const std::vector<int64_t> dims = {2, 9, 2};
  const Tensor s = latent_sweep(z, dims, -1.0, 2.0, 4);
  ASSERT_EQ(s.shape(), (Shape{12, 10}));
  for (size_t k = 0; k < dims.size(); ++k)
    for (int i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 10; ++j)
        EXPECT_EQ(s[(int64_t(k) * 4 + i) * 10 + j], j == dims[k] ? float(-1.0 + i) : z[j]);
  EXPECT_DOUBLE_EQ(sweep_value(-3, 3, 0, 9), -3);
  EXPECT_DOUBLE_EQ(sweep_value(-3, 3, 8, 9), 3);
  const std::vector<int64_t> out_of_range = {10}, negative = {-1};
  EXPECT_THROW(latent_sweep(z, out_of_range, 0, 1, 3), Error);
  EXPECT_THROW(latent_sweep(z, negative, 0, 1, 3), Error);
  EXPECT_THROW(latent_sweep(z, dims, 0, 1, 1), Error);
  EXPECT_THROW(latent_sweep(z, dims, 0, INFINITY, 3), Error);
}

TEST(Latents, GridRowsOfDifferentLengths) {
  // Five 2x2 gray images of values -1 + 0.4 k in rows of 2, 0 and 3: a 3 x 3 grid, the cells the
  // short rows leave black.
  Tensor x({5, 1, 2, 2});
  for (int64_t k = 0; k < 5; ++k)
    for (int p = 0; p < 4; ++p) x[k * 4 + p] = -0.6f + 0.4f * float(k);
  const ImageU8 g = make_grid_rows(x, {2, 0, 3}, 1);
  ASSERT_EQ(g.w, 3 * 3 + 1);
  ASSERT_EQ(g.h, 3 * 3 + 1);
  auto cell = [&](int row, int col) { return g.pixels[size_t((row * 3 + 1) * g.w + col * 3 + 1)]; };
  const ImageU8 ref = make_grid(x, 5, 1);  // the same images in one row: their pixel values
  auto value = [&](int k) { return ref.pixels[size_t(1 * ref.w + k * 3 + 1)]; };
  EXPECT_EQ(cell(0, 0), value(0));
  EXPECT_EQ(cell(0, 1), value(1));
  EXPECT_EQ(cell(0, 2), 0);
  for (int col = 0; col < 3; ++col) EXPECT_EQ(cell(1, col), 0);
  for (int col = 0; col < 3; ++col) EXPECT_EQ(cell(2, col), value(2 + col));
  EXPECT_NE(value(4), 0);
  EXPECT_THROW(make_grid_rows(x, {2, 2}, 1), Error);
  EXPECT_THROW(make_grid_rows(x, {2, 4, -1}, 1), Error);
}

}  // namespace
}  // namespace dcgan
