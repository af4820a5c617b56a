// Latent-space math: the vectors behind the DCGAN paper's figures (vector arithmetic, figure 7;
// walks along one latent coordinate) and behind dcgan serve's /api/arith and /api/sweep. One
// implementation, so that `dcgan arithmetic`, `dcgan sweep`, the explorer and C++ users make the
// same latents, and so the same images, from the same seeds.
//
//   dcgan::ImageGenerator gen("runs/x");
//   const uint64_t a[] = {3, 17, 42}, b[] = {5}, c[] = {8, 9};
//   dcgan::Tensor z = dcgan::latent_arithmetic(dcgan::seed_latents(gen, a), dcgan::seed_latents(gen, b),
//                                              dcgan::seed_latents(gen, c));   // (1, latent_dim)
//   dcgan::Tensor img = gen.generate(z);
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "dcgan/generator.hpp"
#include "dcgan/tensor.hpp"

namespace dcgan {

// (k, latent_dim): row i is seed i's latent, gen.random_latents(1, seeds[i]), the latent of
// `dcgan sample -n 1 --seed S`. Throws Error when `seeds` is empty.
Tensor seed_latents(const ImageGenerator& gen, std::span<const uint64_t> seeds);

// (1, latent_dim): the mean of z's rows (z (k >= 1, latent_dim)), summed in double.
Tensor mean_latent(const Tensor& z);

// (1, latent_dim): mean(a) - mean(b) + mean(c), each the mean of the rows of a (k, latent_dim)
// tensor. Computed in double and rounded to float once: the difference of two floats is exact in
// double, so a - a + c is exactly c and a - b + b exactly a (the same images as the seeds').
// Throws Error when the three do not have the same latent_dim.
Tensor latent_arithmetic(const Tensor& a, const Tensor& b, const Tensor& c);

// `n` copies of z (1, latent_dim), each with uniform noise in [-amplitude, amplitude] added to
// every coordinate, from Rng(seed): the DCGAN paper's variations around a result (it used 0.25).
// (n, latent_dim); n may be 0.
Tensor latent_variations(const Tensor& z, int64_t n, double amplitude, uint64_t seed);

// Point i of `steps` (>= 2) from `from` to `to`, ends included.
double sweep_value(double from, double to, int i, int steps);

// (dims.size() * steps, latent_dim): for each d in `dims`, `steps` copies of z (1, latent_dim)
// whose coordinate d is sweep_value(from, to, i, steps); the other coordinates stay z's. Throws
// Error for a dimension outside [0, latent_dim) or fewer than 2 steps.
Tensor latent_sweep(const Tensor& z, std::span<const int64_t> dims, double from, double to, int steps);

// The latents of the paper's figure 7 as one grid whose rows differ in length: for each of A, B,
// C a row of its seeds' latents followed by their mean; then a row with the result
// mean(A) - mean(B) + mean(C) followed by `variations` noisy copies of it (latent_variations).
struct ArithmeticSpec {
  std::vector<uint64_t> a, b, c;  // seeds, at least one each
  int64_t variations = 8;
  double noise = 0.25;            // amplitude of the variations' uniform noise
  uint64_t noise_seed = 0;
};
struct LatentRows {
  Tensor z;                          // (N, latent_dim), row after row of the grid
  std::vector<int64_t> row_lengths;  // how many of z's rows each grid row holds; they sum to N
};
LatentRows arithmetic_latents(const ImageGenerator& gen, const ArithmeticSpec& spec);

}  // namespace dcgan
