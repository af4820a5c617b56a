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
//
// Moving average (options.ema > 0): after each step G_ema's every float entry (weights and
// BatchNorm running statistics) moves towards G's: e += (1 - d)(g - e), d = min(ema, (1+t)/(10+t))
// with t G's Adam step count (so it continues exactly on resume), counters copied. Samples and
// evaluations use G_ema; G trains. The warm-up term lets the average forget the random
// initialisation in the first hundreds of steps instead of the first 1/(1-ema) thousands.
//
// Data-parallel (enable_data_parallel): each process (rank) runs this step on its share of the
// global batch; before each optimizer step the parameter gradients are averaged over the ranks
// (dist/reducer.hpp, overlapped with backward), so every rank applies the same update. BatchNorm
// either uses each rank's own share's statistics (DistributedDataParallel's default), with the
// running statistics averaged over the ranks after the step so they stay identical, or, with
// sync_bn, the global batch's statistics on every rank (as one process would at the global batch).
#pragma once
#include <memory>
#include <vector>

#include "dcgan/models/config.hpp"
#include "dcgan/train/config.hpp"
#include "dcgan/train/step_stats.hpp"
#include "dist/comm.hpp"
#include "dist/reducer.hpp"
#include "nn/layers.hpp"
#include "nn/sequential.hpp"
#include "optim/adam.hpp"

namespace dcgan {


class GanStep {
 public:
  GanStep(const ModelConfig& cfg, const GanOptions& opt, ops::Impl impl = ops::Impl::fast);
  // real: (B, C, H, W) in [-1, 1]; z: (B, latent_dim).
  StepStats step(const Tensor& real, const Tensor& z);
  // From now on every step averages gradients over `comm`'s ranks (see above). With one rank
  // it changes nothing.
  void enable_data_parallel(dist::Comm& comm, bool sync_bn);
  // Seconds spent waiting for the gradient all-reduce (not hidden behind backward), all steps.
  double allreduce_wait_seconds() const;
  // Starts the moving average as a copy of G (call after G is initialised); no-op without one.
  void start_ema();
  // The generator to sample from: the moving average when there is one, else G.
  Sequential& sampling_generator() { return G_ema ? *G_ema : *G; }

  ModelConfig config;
  GanOptions options;
  std::unique_ptr<Sequential> G, D;
  std::unique_ptr<Sequential> G_ema;  // options.ema > 0 only (built by the constructor)
  Adam g_opt, d_opt;

 private:
  Tensor ones_, zeros_, real_targets_, dp_;  // (B, 1)
  std::vector<BatchNorm2d*> d_bns_;          // D's BatchNorm layers
  std::vector<BatchNorm2d::BatchStats> d_fake_stats_;  // theirs from D(gen), replayed in the D step
  // Data-parallel state (none in a single process).
  dist::Comm* comm_ = nullptr;
  std::unique_ptr<dist::GradientReducer> g_red_, d_red_;
  std::vector<Tensor*> running_stats_;  // G's and D's BatchNorm buffers, averaged without sync-BN
  std::vector<float> running_buf_;
  void update_ema();
};

}  // namespace dcgan
