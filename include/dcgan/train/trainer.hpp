// The training loop behind `dcgan train`: data, GAN steps, progress, metrics, sample grids,
// atomic checkpoints and exact resume.
//
// Run directory layout:
//   DIR/config.json                       the full training configuration
//   DIR/metrics.jsonl                     one JSON object per logged step
//   DIR/samples/real.png                  real training images, once
//   DIR/samples/step_NNNNNNN.png          fixed-noise grid (generator in eval mode)
//   DIR/samples/epoch_NNN.png             the same at each epoch end
//   DIR/checkpoints/step_NNNNNNN.safetensors, latest.safetensors (newest complete one)
#pragma once
#include <cstdint>
#include <string>

#include "dcgan/models/config.hpp"
#include "dcgan/train/gan_step.hpp"

namespace dcgan {

struct TrainConfig {
  ModelConfig model;
  std::string data = "fashion-mnist";
  bool strict_data = false;      // fail on the first unreadable image instead of skipping it
  int batch_size = 0;            // 0: the architecture's default (seed 64, dcgan 128)
  int64_t epochs = 5;            // stop after this many epochs (0: no epoch limit)
  int64_t steps = 0;             // stop when the global step reaches this (0: no step limit)
  GanOptions gan;
  uint64_t seed = 0;
  int threads = 0;               // 0: all cores
  std::string out = "runs/train";
  int64_t log_every = 50;        // plain progress lines and metrics.jsonl cadence
  int64_t sample_every = 500;    // fixed-noise grid cadence in steps (0: epoch ends only)
  int64_t checkpoint_every = 1000;  // checkpoint cadence in steps (0: epoch ends and the end only)
  int keep = 3;                  // step checkpoints kept besides latest.safetensors
  bool deterministic = false;    // recorded; the CPU kernels are run-to-run deterministic for a fixed
                                 // thread count, and resume restores every piece of state
  int64_t eval_every = 0;        // FID on a subset every N steps (needs a feature network)
  int64_t eval_samples = 2000;
  int n_fixed = 64;              // fixed-noise grid size
  bool quiet = false;

  std::string to_json() const;
  static TrainConfig from_json(const std::string& json);  // throws ConfigError
};

struct TrainResult {
  int64_t step = 0, epoch = 0;
  bool interrupted = false;  // SIGINT / SIGTERM: checkpoint written, caller exits 130 / 143
  int signal = 0;
};

// Fresh run into cfg.out (refuses a directory that already holds a checkpoint: use resume).
TrainResult train(const TrainConfig& cfg);
// Continues the run in `dir` from checkpoints/latest.safetensors; steps/epochs override the
// stored limits when > 0.
TrainResult resume(const std::string& dir, int64_t steps, int64_t epochs, int threads, bool quiet = false);

}  // namespace dcgan
