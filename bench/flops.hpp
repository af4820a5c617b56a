// Nominal FLOP counts of a built network, from its actual layers (so they match any config).
//
// FLOPs are 2 x multiply-adds of every Conv2d / ConvTranspose2d / Linear layer; BatchNorm,
// activations, losses and Adam are not counted. Padded taps count (nominal work, as
// docs/performance.md counts it). Per image, for one layer:
//   Linear           in * out
//   Conv2d           C_out * C_in * k * k * Ho * Wo      (weight numel x output map)
//   ConvTranspose2d  C_in * C_out * k * k * H * W        (weight numel x input map)
// The forward, data-gradient and weight-gradient passes of a layer each cost the same.
//
// One training step (the seed's order, as PyTorch runs it), per image:
//   G:  forward + weight gradient + data gradient of every layer but the first (no gradient into z)
//   D:  forward 3x (G step on G(z); D step on real and on G(z).detach())
//       G step: weight gradient + data gradient of every layer (down into G's output). PyTorch
//               computes D's weight gradients here too (then zeroes them); our GanStep skips
//               them, and runs D forward twice, not three times (gan_step.hpp): ModelFlops::executed.
//       D step: 2 x (weight gradient + data gradient of every layer but the first: nothing flows
//               into the images)
// Legend: N batch, C channels, H/W map size, k kernel.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dcgan/models/config.hpp"
#include "nn/sequential.hpp"

namespace dcgan::bench {

struct LayerFlops {
  std::string name;      // state_dict prefix, e.g. "model.2"
  std::string describe;  // "ConvTranspose2d(128, 64, kernel_size=4, ...)"
  double macs = 0;       // multiply-adds per image of one pass
};

struct NetFlops {
  std::vector<LayerFlops> layers;  // conv / convT / linear layers in order
  double fwd = 0;                  // FLOPs per image of one forward pass (= one weight-gradient pass)
  double first = 0;                // FLOPs per image of the first compute layer's pass

  double wgrad() const { return fwd; }
  double dgrad_all() const { return fwd; }
  double dgrad_no_first() const { return fwd - first; }
};

// Walks net's layers with a (1, in_shape...) input. `net` must be a network built only for
// counting: its layers are prepared for batch 1 (use Impl::reference: cheap to prepare).
NetFlops count_flops(Sequential& net, const Shape& per_image_input);

struct ModelFlops {
  NetFlops G, D;
  double train = 0;     // per image, per training step, as the notes count it (PyTorch's work)
  double executed = 0;  // what GanStep runs: no D weight gradients in the G step, D forward twice
  double generate = 0;  // per image: G forward
};

ModelFlops model_flops(const ModelConfig& cfg);

}  // namespace dcgan::bench
