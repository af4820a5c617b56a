// The C++ API for using a trained generator: load a checkpoint, make images.
//
//   try {
//     dcgan::ImageGenerator gen("runs/x/checkpoints/latest.safetensors");
//     dcgan::Tensor z = gen.random_latents(16, /*seed=*/1);   // (16, latent_dim)
//     dcgan::Tensor img = gen.generate(z);                      // (16, C, H, W) in [-1, 1]
//     dcgan::save_image_grid("grid.png", img, 4);               // dcgan/io/image.hpp
//   } catch (const dcgan::Error& e) {  // dcgan/error.hpp: e.what() names the file, e.hint() what to do
//     std::fprintf(stderr, "error: %s\n", e.what());
//   }
// README.md has it as a whole program (built and run by tests/e2e/test_install.cpp). For C, see
// dcgan/dcgan.h.
#pragma once
#include <memory>
#include <string>

#include "dcgan/models/config.hpp"
#include "dcgan/ops/impl.hpp"
#include "dcgan/tensor.hpp"

namespace dcgan {

class Sequential;  // nn/sequential.hpp (internal)

class ImageGenerator {
 public:
  // Loads the generator (eval mode: BatchNorm uses its running statistics).
  explicit ImageGenerator(const std::string& checkpoint_path, ops::Impl impl = ops::Impl::fast);
  ~ImageGenerator();
  ImageGenerator(ImageGenerator&&) noexcept;
  ImageGenerator& operator=(ImageGenerator&&) noexcept;
  const ModelConfig& config() const { return config_; }

  // (n, latent_dim) drawn from N(0, 1) with dcgan::Rng(seed).
  Tensor random_latents(int64_t n, uint64_t seed) const;
  // z: (N, latent_dim) -> (N, C, H, W) in [-1, 1], run in batches of at most batch_size.
  // Throws dcgan::Error when z's shape does not fit the model or a value is not finite.
  Tensor generate(const Tensor& z, int64_t batch_size = 64);

 private:
  ModelConfig config_;
  std::unique_ptr<Sequential> net_;
};

// Throws Error (a FileError naming `source` when it is not empty) unless z is (N >= 1, latent_dim)
// and every value is finite: a NaN latent would give a black image, not an error.
void check_latents(const Tensor& z, int64_t latent_dim, const std::string& source = "");

// Interpolation between two latent vectors a, b (latent_dim) in `steps` points (ends included):
// linear, or spherical (slerp; falls back to linear when a and b are nearly parallel).
// Returns (steps, latent_dim).
Tensor interpolate_latents(const float* a, const float* b, int64_t dim, int steps, bool spherical);

}  // namespace dcgan
