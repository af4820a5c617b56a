// The training loop behind `dcgan train`: data, GAN steps, progress, metrics, sample grids,
// atomic checkpoints and exact resume.
//
// Run directory layout:
//   DIR/config.json                       the full training configuration
//   DIR/metrics.jsonl                     one JSON object per logged step
//   DIR/samples/real.png                  real training images, once
//   DIR/samples/step_NNNNNNN.png          fixed-noise grid (generator in eval mode), every
//                                         sample_every steps and at the end
//   DIR/samples/epoch_NNN.png             the same at each epoch end, when sample_every is 0
//   DIR/checkpoints/step_NNNNNNN.safetensors, latest.safetensors (newest complete one)
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "dcgan/train/config.hpp"
#include "dcgan/train/observer.hpp"

namespace dcgan {

struct TrainResult {
  int64_t step = 0, epoch = 0;
  bool interrupted = false;  // SIGINT / SIGTERM: checkpoint written, caller exits 130 / 143
  int signal = 0;
};

// Observers a caller adds after the standard ones (standard_observers), e.g. a live web view.
using ExtraObservers = std::vector<std::unique_ptr<TrainingObserver>>;

// Fresh run into cfg.out (refuses a directory that already holds a checkpoint: use resume).
// Refuses an output directory inside the data's folder, or data inside the output directory.
TrainResult train(const TrainConfig& cfg, ExtraObservers extra = {});

// What may change when a run is resumed; everything else is the run's own. A limit given alone
// replaces both stored limits (as for a new run: --steps alone means no epoch limit); `data`
// names the run's data at a new place and is checked to hold the same images.
struct ResumeOptions {
  std::optional<int64_t> steps, epochs;
  std::optional<int> threads, keep;
  std::optional<int64_t> log_every, sample_every, checkpoint_every, eval_every, eval_samples;
  std::optional<std::string> data, features;
  bool quiet = false;
};
// The names of the CLI options ResumeOptions carries (for messages and --help).
inline constexpr const char* kResumableOptions =
    "--steps, --epochs, --threads, --keep, --log-every, --sample-every, --checkpoint-every, "
    "--eval-every, --eval-samples, --data, --features, --quiet";

// Continues the run in `dir` from checkpoints/latest.safetensors (or the newest step checkpoint
// that loads). Throws ConfigError when the new limits are already reached.
TrainResult resume(const std::string& dir, const ResumeOptions& opt, ExtraObservers extra = {});

}  // namespace dcgan
