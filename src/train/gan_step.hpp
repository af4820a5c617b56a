// One DCGAN training step in the seed's order (PyTorch-GAN dcgan.py):
//   G step: gen = G(z); g_loss = BCE(D(gen), 1); backward into G only; Adam step on G.
//   D step: d_loss = (BCE(D(real), 1 - smoothing) + BCE(D(gen.detach()), 0)) / 2; Adam step on D.
// Both networks in train mode: D's BatchNorm running statistics are updated by all three of
// its forward passes, as in PyTorch (fake, real, fake).
//
// D runs forward twice, not three times: D(gen.detach()) in the D step equals the G step's
// D(gen) exactly (same parameters, since only G was updated in between, same input, and
// train-mode BatchNorm normalises with the batch's own statistics). So the D step first
// backpropagates the fake loss through the activations D still holds from the G step, then runs
// forward/backward on the real batch, and finally applies the fake batch's saved statistics to
// the running statistics a second time (BatchNorm2d::apply_running_update), which leaves
// running_mean, running_var and num_batches_tracked as PyTorch's three passes do. The parameter
// gradients are the same sum in the other order (real + fake instead of fake + real).
#pragma once
#include <memory>
#include <vector>

#include "dcgan/models/config.hpp"
#include "dcgan/train/config.hpp"
#include "dcgan/train/step_stats.hpp"
#include "nn/layers.hpp"
#include "nn/sequential.hpp"
#include "optim/adam.hpp"

namespace dcgan {


class GanStep {
 public:
  GanStep(const ModelConfig& cfg, const GanOptions& opt, ops::Impl impl = ops::Impl::fast);
  // real: (B, C, H, W) in [-1, 1]; z: (B, latent_dim).
  StepStats step(const Tensor& real, const Tensor& z);

  ModelConfig config;
  GanOptions options;
  std::unique_ptr<Sequential> G, D;
  Adam g_opt, d_opt;

 private:
  Tensor ones_, zeros_, real_targets_, dp_;  // (B, 1)
  std::vector<BatchNorm2d*> d_bns_;          // D's BatchNorm layers
  std::vector<BatchNorm2d::BatchStats> d_fake_stats_;  // theirs from D(gen), replayed in the D step
};

}  // namespace dcgan
