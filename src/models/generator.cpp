#include <algorithm>
#include <cmath>
#include <cstring>

#include "dcgan/error.hpp"
#include "dcgan/generator.hpp"
#include "models/checkpoint_io.hpp"

namespace dcgan {

ImageGenerator::ImageGenerator(const std::string& path, ops::Impl impl) {
  LoadedGenerator g = load_generator(path, impl);
  config_ = g.config;
  net_ = std::move(g.net);
}

ImageGenerator::~ImageGenerator() = default;
ImageGenerator::ImageGenerator(ImageGenerator&&) noexcept = default;
ImageGenerator& ImageGenerator::operator=(ImageGenerator&&) noexcept = default;

Tensor ImageGenerator::random_latents(int64_t n, uint64_t seed) const {
  DCGAN_CHECK(n > 0, "[generate] the number of images must be positive (got {})", n);
  Rng rng(seed);
  Tensor z({n, config_.latent_dim});
  for (int64_t i = 0; i < z.numel(); ++i) z[i] = rng.normal();
  return z;
}

void check_latents(const Tensor& z, int64_t latent_dim, const std::string& source) {
  auto fail = [&](const std::string& what, const std::string& hint) {
    if (source.empty()) throw Error("[generate] " + what, hint);
    throw FileError(source, what, hint);
  };
  if (z.ndim() != 2 || z.dim(1) != latent_dim || z.dim(0) < 1)
    fail(fmt::format("latents have shape {}, but this generator expects (N, {}){}", shape_str(z.shape()), latent_dim,
                     z.ndim() == 2 && z.dim(0) < 1 ? " with N >= 1" : ""),
         fmt::format("write latents as float32 .npy of shape (N, {}) (see 'dcgan info' on the checkpoint)",
                     latent_dim));
  for (int64_t i = 0; i < z.numel(); ++i)
    if (!std::isfinite(z[i]))
      fail(fmt::format("latent value at row {}, column {} is {}: latents must be finite numbers", i / latent_dim,
                       i % latent_dim, z[i]),
           "replace the NaN or infinite values (e.g. draw latents from N(0, 1))");
}

Tensor ImageGenerator::generate(const Tensor& z, int64_t batch_size) {
  check_latents(z, config_.latent_dim);
  const int64_t N = z.dim(0), L = config_.latent_dim;
  const int64_t C = config_.channels, S = config_.img_size;
  Tensor out({N, C, S, S});
  batch_size = std::max<int64_t>(1, batch_size);
  for (int64_t b = 0; b < N; b += batch_size) {
    const int64_t n = std::min(batch_size, N - b);
    Tensor zb = Tensor::view(const_cast<float*>(z.data()) + b * L, {n, L});
    const Tensor& y = net_->forward(zb, Mode::eval);
    std::memcpy(out.data() + b * C * S * S, y.data(), y.numel() * sizeof(float));
  }
  return out;
}

Tensor interpolate_latents(const float* a, const float* b, int64_t dim, int steps, bool spherical) {
  DCGAN_CHECK(steps >= 2, "[interpolate] need at least 2 steps (got {})", steps);
  Tensor out({steps, dim});
  double na = 0, nb = 0, dot = 0;
  for (int64_t i = 0; i < dim; ++i) {
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
    dot += double(a[i]) * b[i];
  }
  double cosv = dot / std::max(std::sqrt(na * nb), 1e-30);
  double omega = std::acos(std::clamp(cosv, -1.0, 1.0));
  bool slerp = spherical && std::sin(omega) > 1e-6;
  for (int s = 0; s < steps; ++s) {
    double t = double(s) / (steps - 1);
    double wa = 1 - t, wb = t;
    if (slerp) {
      // slerp(a, b; t) = sin((1-t) w)/sin w a + sin(t w)/sin w b
      wa = std::sin((1 - t) * omega) / std::sin(omega);
      wb = std::sin(t * omega) / std::sin(omega);
    }
    for (int64_t i = 0; i < dim; ++i) out[s * dim + i] = static_cast<float>(wa * a[i] + wb * b[i]);
  }
  return out;
}

}  // namespace dcgan
