// Networks and optimizers <-> a checkpoint's tensors (internal; the metadata is CheckpointMeta's,
// dcgan/models/checkpoint.hpp).
#pragma once
#include <memory>
#include <string>

#include "dcgan/models/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "nn/sequential.hpp"
#include "optim/adam.hpp"

namespace dcgan {

// With --ema, the trained generator's prefix; generator.* holds its moving average.
inline constexpr const char* kRawGeneratorPrefix = "generator_raw.";

// Writes every parameter, buffer and counter of `net` as `prefix + name`.
void put_network(SafeTensors& st, const std::string& prefix, Sequential& net);
// Loads every entry of `net` from `prefix + name`; a missing tensor or a wrong shape throws
// FileError naming the file, the tensor and both shapes.
void load_network(const SafeTensors& st, const std::string& prefix, Sequential& net);

// Adam moments as optimizer.<which>.<param name>.exp_avg / .exp_avg_sq (the step count is
// CheckpointMeta's).
void put_adam(SafeTensors& st, const std::string& which, Sequential& net, const Adam& adam);
void load_adam(const SafeTensors& st, const std::string& which, Sequential& net, Adam& adam);

// A generator ready to run: config from the file's metadata, weights loaded.
struct LoadedGenerator {
  ModelConfig config;
  std::unique_ptr<Sequential> net;
  CheckpointMeta meta;  // all of the file's metadata (training state when it has one)
};
LoadedGenerator load_generator(const std::string& path, ops::Impl impl = ops::Impl::fast);

}  // namespace dcgan
