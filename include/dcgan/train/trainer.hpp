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

#include "dcgan/models/config.hpp"
#include "dcgan/train/gan_step.hpp"

namespace dcgan {

// Everything a training run needs, resolved: no field means "use a default" (0 never stands for
// one, except where a comment gives 0 a meaning of its own). Start from defaults(arch), set what
// the user chose, then validate(). The CLI option each field comes from is named in brackets.
struct TrainConfig {
  ModelConfig model;
  std::string data = "fashion-mnist";  // [--data] a named source (fashion-mnist, mnist, emoji) or an
                                       // absolute path (normalised by train())
  bool strict_data = false;            // [--strict] fail on the first unreadable image
  int batch_size = kDefaultArch.batch_size;  // [--batch-size]
  int64_t epochs = 5;                  // [--epochs] stop after this many epochs; 0: no epoch limit
                                       // (only with a step limit)
  int64_t steps = 0;                   // [--steps] stop at this global step; 0: no step limit
  GanOptions gan;                      // [--lr, --lr-g, --lr-d, --beta1, --beta2, --label-smoothing]
  uint64_t seed = 0;                   // [--seed]
  int threads = 0;                     // [--threads] 0: all cores
  std::string out = "runs/train";      // [--out] the run directory (made absolute by train())
  int64_t log_every = 50;              // [--log-every] progress line + metrics.jsonl; 0: at epoch ends
  int64_t sample_every = 500;          // [--sample-every] fixed-noise grid; 0: at epoch ends
  int64_t checkpoint_every = 1000;     // [--checkpoint-every] checkpoint; 0: at epoch ends
  int keep = 3;                        // [--keep] step checkpoints kept besides latest (0: none)
  bool deterministic = false;          // [--deterministic] recorded; the CPU kernels are run-to-run
                                       // deterministic for a fixed thread count, and resume
                                       // restores every piece of state
  int64_t eval_every = 0;              // [--eval-every] FID every N steps; 0: never
  int64_t eval_samples = 2000;         // [--eval-samples]
  std::string features;                // [--features] feature network for --eval-every ("" : found
                                       // by the data's name, see eval/classifier.hpp)
  int n_fixed = 64;                    // fixed-noise grid size
  bool quiet = false;                  // [--quiet]
  std::string data_fingerprint;        // set by the trainer: what was loaded (count and content
                                       // hash), checked again on resume

  // The architecture's defaults (model and batch size); every other field as above.
  static TrainConfig defaults(const std::string& arch);
  // Throws ConfigError naming the option and its valid range for any value out of range.
  void validate() const;
  std::string to_json() const;
  static TrainConfig from_json(const std::string& json);  // throws ConfigError
};

struct TrainResult {
  int64_t step = 0, epoch = 0;
  bool interrupted = false;  // SIGINT / SIGTERM: checkpoint written, caller exits 130 / 143
  int signal = 0;
};

// Fresh run into cfg.out (refuses a directory that already holds a checkpoint: use resume).
// Refuses an output directory inside the data's folder, or data inside the output directory.
TrainResult train(const TrainConfig& cfg);

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
TrainResult resume(const std::string& dir, const ResumeOptions& opt);

}  // namespace dcgan
