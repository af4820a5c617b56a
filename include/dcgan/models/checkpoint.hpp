// Checkpoints: networks <-> safetensors (shared/DESIGN.md, "Checkpoint").
//   generator.<state_dict name>, discriminator.<state_dict name>     F32 (num_batches_tracked I64)
//   optimizer.generator.<param name>.exp_avg / .exp_avg_sq          F32 Adam moments
//   __metadata__: the ModelConfig keys (arch, img_size, ...) plus training state as strings.
// A file with only generator.* tensors plus the config metadata is a valid generator checkpoint.
#pragma once
#include <memory>
#include <string>

#include "dcgan/io/safetensors.hpp"
#include "dcgan/models/config.hpp"
#include "dcgan/nn/sequential.hpp"
#include "dcgan/optim/adam.hpp"

namespace dcgan {

// Writes every parameter, buffer and counter of `net` as `prefix + name`.
void put_network(SafeTensors& st, const std::string& prefix, Sequential& net);
// Loads every entry of `net` from `prefix + name`; a missing tensor or a wrong shape throws
// FileError naming the file, the tensor and both shapes.
void load_network(const SafeTensors& st, const std::string& prefix, Sequential& net);

// Adam moments as optimizer.<which>.<param name>.exp_avg / .exp_avg_sq; the step count as
// metadata "optimizer.<which>.step".
void put_adam(SafeTensors& st, const std::string& which, Sequential& net, const Adam& adam);
void load_adam(const SafeTensors& st, const std::string& which, Sequential& net, Adam& adam);

// A generator ready to run: config from the file's metadata, weights loaded.
struct LoadedGenerator {
  ModelConfig config;
  std::unique_ptr<Sequential> net;
};
LoadedGenerator load_generator(const std::string& path, ops::Impl impl = ops::Impl::fast);

// The checkpoint file a user names: a .safetensors file as it is, or a run directory (the --out of
// `dcgan train`: its checkpoints/latest.safetensors) or a run's checkpoints/ folder (its
// latest.safetensors). Throws FileError naming the path when there is none.
std::string find_checkpoint(const std::string& file_or_run_dir);

}  // namespace dcgan
