// The configuration of a training run: plain data, its defaults, its checks and its JSON form
// (config.json in the run directory and a checkpoint's train_config). It depends only on the
// model configuration and Adam's options, so the checkpoint format (models/checkpoint.hpp) can
// hold it and every layer can read it.
#pragma once
#include <cstdint>
#include <string>

#include "dcgan/models/config.hpp"
#include "dcgan/optim/adam_options.hpp"

namespace dcgan {

// The GAN's optimisation: Adam for each network and the real label.
struct GanOptions {
  AdamOptions g_adam;              // lr 2e-4, betas (0.5, 0.999): the seed's and the paper's
  AdamOptions d_adam;
  float real_label = 1.0f;         // one-sided label smoothing: e.g. 0.9
  // Exponential moving average of G's weights (and BatchNorm statistics) for sampling, 0: none.
  // After Adam step t the average moves towards G by 1 - min(ema, (1 + t) / (10 + t)): early
  // averages forget the random initialisation quickly (train/gan_step.hpp).
  double ema = 0;
};

// Named presets: a whole recipe under one name (`dcgan train --preset NAME`); options given with it
// override its values. Each was chosen by measurement, written down in docs/results.md
// (tools/experiment_preset.py reproduces it).
struct Preset {
  std::string_view name, about;
};
inline constexpr Preset kPresets[] = {
    // The paper's networks at 32x32 and width 32 with a moving average of G, 4 epochs: on
    // Fashion-MNIST a far lower FID than the seed defaults' 5 epochs, in less wall time than
    // PyTorch needs for those.
    {"quality", "the paper's networks at 32x32, width 32, batch 64, EMA 0.999 of G, 4 epochs"},
};

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
  GanOptions gan;                      // [--lr, --lr-g, --lr-d, --beta1, --beta2, --label-smoothing, --ema]
  std::string preset;                  // [--preset] the named preset the defaults came from ("": none);
                                       // recorded only, every value it chose is in the fields
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
  bool sync_bn = false;                // [--sync-bn] data-parallel runs (mpirun): BatchNorm uses the
                                       // global batch's statistics on every rank; without it, each
                                       // rank's own share's (docs/distributed.md). No effect with 1 rank
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
  // A named preset's configuration (see kPresets); throws ConfigError naming --preset and the
  // known names for another. model.channels is left to the data (gray 1, colour 3).
  static TrainConfig from_preset(const std::string& name);
  // Throws ConfigError naming the option and its valid range for any value out of range.
  void validate() const;
  std::string to_json() const;
  static TrainConfig from_json(const std::string& json);  // throws ConfigError
};

}  // namespace dcgan
