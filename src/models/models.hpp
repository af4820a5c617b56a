// Builders for the two architectures, with PyTorch state_dict names.
//   seed:  the seed document's generator and discriminator (PyTorch-GAN names: l1.0, model.N, adv_layer.0)
//   dcgan: pytorch/examples dcgan/main.py (main.N), generalised to img_size = 4 * 2^m
// Generator input (N, latent_dim); output (N, channels, img_size, img_size) in [-1, 1].
// Discriminator input (N, channels, img_size, img_size); output (N, 1) probabilities.
#pragma once
#include <memory>

#include "dcgan/models/config.hpp"
#include "nn/sequential.hpp"

namespace dcgan {

std::unique_ptr<Sequential> build_generator(const ModelConfig& cfg, ops::Impl impl = ops::Impl::fast);
std::unique_ptr<Sequential> build_discriminator(const ModelConfig& cfg,
                                                ops::Impl impl = ops::Impl::fast);

// The DCGAN recipe: PyTorch's default init for every layer, then conv weights N(0, 0.02),
// BatchNorm weight N(1, 0.02) and bias 0 (pytorch/examples weights_init, PyTorch-GAN
// weights_init_normal). Linear layers and conv biases keep PyTorch's default.
void init_dcgan_weights(Sequential& net, Rng& rng);

}  // namespace dcgan
