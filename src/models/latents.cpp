// Latent-space math (dcgan/latents.hpp): the one implementation behind dcgan arithmetic, dcgan
// sweep and the explorer of dcgan serve.
#include "dcgan/latents.hpp"

#include <cmath>
#include <cstring>

#include "dcgan/error.hpp"
#include "core/rng.hpp"

namespace dcgan {

namespace {

void check_rows(const Tensor& z, const char* op) {
  DCGAN_CHECK(z.ndim() == 2 && z.dim(0) >= 1 && z.dim(1) >= 1, "[{}] expected latents (k >= 1, latent_dim), got {}",
              op, shape_str(z.shape()));
}

// The mean of z's rows in double (not yet rounded to float).
std::vector<double> row_mean(const Tensor& z) {
  const int64_t k = z.dim(0), L = z.dim(1);
  std::vector<double> m(L, 0.0);
  for (int64_t r = 0; r < k; ++r)
    for (int64_t i = 0; i < L; ++i) m[i] += z[r * L + i];
  for (double& v : m) v /= double(k);
  return m;
}

}  // namespace

Tensor seed_latents(const ImageGenerator& gen, std::span<const uint64_t> seeds) {
  DCGAN_CHECK(!seeds.empty(), "[seed_latents] no seeds given");
  const int64_t L = gen.config().latent_dim;
  Tensor z({int64_t(seeds.size()), L});
  for (size_t i = 0; i < seeds.size(); ++i)
    std::memcpy(z.data() + i * L, gen.random_latents(1, seeds[i]).data(), L * sizeof(float));
  return z;
}

Tensor mean_latent(const Tensor& z) {
  check_rows(z, "mean_latent");
  const std::vector<double> m = row_mean(z);
  Tensor out({1, z.dim(1)});
  for (size_t i = 0; i < m.size(); ++i) out[int64_t(i)] = float(m[i]);
  return out;
}

Tensor latent_arithmetic(const Tensor& a, const Tensor& b, const Tensor& c) {
  for (const Tensor* t : {&a, &b, &c}) check_rows(*t, "latent_arithmetic");
  DCGAN_CHECK(a.dim(1) == b.dim(1) && b.dim(1) == c.dim(1),
              "[latent_arithmetic] latent sizes differ: A {}, B {}, C {}", a.dim(1), b.dim(1), c.dim(1));
  const std::vector<double> ma = row_mean(a), mb = row_mean(b), mc = row_mean(c);
  Tensor out({1, a.dim(1)});
  // (A - B) + C in this order: with A = B the difference is 0 and the result exactly C; with
  // B = C, A - B is exact in double and adding B back gives exactly A.
  for (size_t i = 0; i < ma.size(); ++i) out[int64_t(i)] = float((ma[i] - mb[i]) + mc[i]);
  return out;
}

Tensor latent_variations(const Tensor& z, int64_t n, double amplitude, uint64_t seed) {
  check_rows(z, "latent_variations");
  DCGAN_CHECK(z.dim(0) == 1, "[latent_variations] expected one latent (1, latent_dim), got {}", shape_str(z.shape()));
  DCGAN_CHECK(n >= 0, "[latent_variations] the number of variations must be >= 0 (got {})", n);
  DCGAN_CHECK(std::isfinite(amplitude) && amplitude >= 0,
              "[latent_variations] the noise amplitude must be a finite number >= 0 (got {})", amplitude);
  const int64_t L = z.dim(1);
  Tensor out({n, L});
  Rng rng(seed);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < L; ++i) out[r * L + i] = float(z[i] + (2 * rng.uniform() - 1) * amplitude);
  return out;
}

double sweep_value(double from, double to, int i, int steps) { return from + (to - from) * i / (steps - 1); }

Tensor latent_sweep(const Tensor& z, std::span<const int64_t> dims, double from, double to, int steps) {
  check_rows(z, "latent_sweep");
  DCGAN_CHECK(z.dim(0) == 1, "[latent_sweep] expected one latent (1, latent_dim), got {}", shape_str(z.shape()));
  DCGAN_CHECK(steps >= 2, "[latent_sweep] need at least 2 steps (got {})", steps);
  DCGAN_CHECK(std::isfinite(from) && std::isfinite(to), "[latent_sweep] the ends must be finite (got {} and {})", from,
              to);
  const int64_t L = z.dim(1);
  Tensor out({int64_t(dims.size()) * steps, L});
  for (size_t k = 0; k < dims.size(); ++k) {
    const int64_t d = dims[k];
    DCGAN_CHECK(d >= 0 && d < L, "[latent_sweep] dimension {} is outside the latent's 0 to {}", d, L - 1);
    for (int i = 0; i < steps; ++i) {
      float* row = out.data() + (int64_t(k) * steps + i) * L;
      std::memcpy(row, z.data(), L * sizeof(float));
      row[d] = float(sweep_value(from, to, i, steps));
    }
  }
  return out;
}

LatentRows arithmetic_latents(const ImageGenerator& gen, const ArithmeticSpec& spec) {
  const int64_t L = gen.config().latent_dim;
  const Tensor a = seed_latents(gen, spec.a), b = seed_latents(gen, spec.b), c = seed_latents(gen, spec.c);
  const Tensor result = latent_arithmetic(a, b, c);
  const Tensor noisy = latent_variations(result, spec.variations, spec.noise, spec.noise_seed);
  // The grid, row by row: each operand's seeds and their mean, then the result and its variations.
  std::vector<const Tensor*> parts;
  Tensor means[3];
  LatentRows rows;
  const Tensor* operands[3] = {&a, &b, &c};
  for (int k = 0; k < 3; ++k) {
    means[k] = mean_latent(*operands[k]);
    parts.insert(parts.end(), {operands[k], &means[k]});
    rows.row_lengths.push_back(operands[k]->dim(0) + 1);
  }
  parts.insert(parts.end(), {&result, &noisy});
  rows.row_lengths.push_back(1 + spec.variations);
  int64_t n = 0;
  for (const Tensor* p : parts) n += p->dim(0);
  rows.z = Tensor({n, L});
  int64_t at = 0;
  for (const Tensor* p : parts) {
    if (p->numel() > 0) std::memcpy(rows.z.data() + at * L, p->data(), p->numel() * sizeof(float));
    at += p->dim(0);
  }
  return rows;
}

}  // namespace dcgan
