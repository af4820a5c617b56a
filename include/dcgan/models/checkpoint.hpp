// Checkpoints: what a .safetensors checkpoint holds (README.md, "Checkpoint format"); the
// tensors <-> networks part is internal (src/models/checkpoint_io.hpp).
//   generator.<state_dict name>, discriminator.<state_dict name>     F32 (num_batches_tracked I64)
//   generator_raw.<state_dict name>   with --ema only: the trained G (generator.* is its average)
//   optimizer.generator.<param name>.exp_avg / .exp_avg_sq          F32 Adam moments
//   __metadata__: strings, written and read only by CheckpointMeta (below): the format and its
//   version, the ModelConfig keys (arch, img_size, ...) and, in training checkpoints, the
//   training state and configuration.
// A file with only generator.* tensors plus the config metadata is a valid generator checkpoint.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dcgan/data/dataset.hpp"
#include "dcgan/models/config.hpp"
#include "dcgan/train/config.hpp"

namespace dcgan {

// Everything a checkpoint holds beyond its tensors: the one type that writes and reads the
// __metadata__ keys. Keys: format ("dcgan-checkpoint"), format_version; the ModelConfig keys;
// and for training checkpoints step, epoch, rng_state, loader_seed / loader_epoch /
// loader_index, optimizer.generator.step / optimizer.discriminator.step, elapsed_s, best_fid
// (when an evaluation ran), ranks and replica_hashes (data-parallel runs) and train_config (the TrainConfig as JSON).
struct CheckpointMeta {
  // 1: the first format (2026-11). 2 (2026-12): a run with --ema stores the moving average as
  // generator.* (what every sampler loads) and the trained G as generator_raw.*; only such files
  // are written as version 2, so older readers still read every other checkpoint, and refuse
  // these rather than resume from the average. A file claiming a newer version is refused: it may
  // hold state this version would silently drop.
  static constexpr int kFormatVersion = 2;
  int format_version = 0;  // 0: no format key (a generator exported by hand or from PyTorch)
  ModelConfig model;

  struct Training {
    int64_t step = 0, epoch = 0;
    std::string rng_state;       // Rng::state() of the latent sampler
    LoaderState loader;
    int64_t g_adam_step = 0, d_adam_step = 0;
    double elapsed_s = 0;        // wall time of the run up to this checkpoint
    std::optional<double> best_fid;
    TrainConfig config;
    // Data-parallel runs (docs/distributed.md): the number of ranks that wrote it, and each
    // rank's hash of its networks at this step (dist::state_hash), checked equal before writing.
    int ranks = 1;
    std::vector<uint64_t> replica_hashes;  // empty with one rank
  };
  std::optional<Training> training;  // absent in generator-only files

  // A training checkpoint's metadata (format and version included).
  std::map<std::string, std::string> to_metadata() const;
  // Throws FileError naming `path`: another format, a newer version, a missing or malformed key.
  // Training keys are read when train_config is present; `require_training` makes their absence
  // an error too (resume).
  static CheckpointMeta from_metadata(const std::map<std::string, std::string>& meta, const std::string& path,
                                      bool require_training = false);
};
// The metadata of a checkpoint file (its header only; the tensors are not read).
CheckpointMeta read_checkpoint_meta(const std::string& path, bool require_training = false);

// The checkpoint file a user names: a .safetensors file as it is, or a run directory (the --out of
// `dcgan train`: its checkpoints/latest.safetensors) or a run's checkpoints/ folder (its
// latest.safetensors). Throws FileError naming the path when there is none.
std::string find_checkpoint(const std::string& file_or_run_dir);

}  // namespace dcgan
