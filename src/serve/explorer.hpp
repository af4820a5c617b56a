// The latent-space explorer behind `dcgan serve`: GET endpoints that turn seeds (and a few bounded
// numbers) into PNG images of one generator. Every latent comes from a seed
// (ImageGenerator::random_latents(1, seed)), so no request carries a vector, a file name or a
// body; every count is bounded (kLimits), and a bad request is refused by parameter name with a
// 4xx (BadRequest). The API is documented in docs/serving.md.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

#include "dcgan/generator.hpp"
#include "serve/http_reply.hpp"

namespace dcgan::serve {

struct ExplorerLimits {
  int max_grid = 64;             // seeds in one /api/grid
  int max_steps = 32;            // images in one /api/interpolate or /api/sweep
  int max_shift = 8;             // coordinates one /api/sample may shift
  double max_abs_value = 10.0;   // |value| of a shift or a sweep end
};
inline constexpr ExplorerLimits kLimits{};

class Explorer {
 public:
  // `name`: what /api/info calls the checkpoint (its file name, never its full path).
  Explorer(ImageGenerator gen, std::string name);

  // Answers GET `path` with `params`; throws BadRequest for a request it refuses.
  Reply handle(const std::string& path, const Params& params);

 private:
  Reply info() const;
  Reply sample(const Params& p);
  Reply grid(const Params& p);
  Reply interpolate(const Params& p);
  Reply arith(const Params& p);
  Reply sweep(const Params& p);

  Tensor latent(uint64_t seed) const;  // (1, latent_dim)
  // Generates z (N, latent_dim) and encodes the images as one PNG, `nrow` per row.
  Reply png(const Tensor& z, int nrow);

  std::mutex mutex_;  // the generator's network holds per-call buffers: one request at a time
  ImageGenerator gen_;
  std::string name_;
};

}  // namespace dcgan::serve
