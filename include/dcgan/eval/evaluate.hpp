// Evaluation as `dcgan eval` runs it, for library users too: a generator against real data, or
// two image sets, scored by FID, KID and precision / recall in a feature network's space
// (evaluator.hpp for the pipeline, classifier.hpp for the networks).
//
//   EvalOptions o;                                     // n = 10000, seed 0, the test split
//   EvalReport r = evaluate_generator("runs/x", o);    // a checkpoint file or a run directory
//   std::cout << r.metrics.fid << "\n" << r.to_json();
//
// The feature network must suit the images: the same size and channels, and, when both are
// known, the same kind of images (the network's metadata "dataset" against the data's name).
// Nothing is guessed: a generator that does not record its training data needs opt.data, and two
// image sets need opt.data (which names the default network models/<data>-classifier.safetensors)
// or opt.features.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "dcgan/eval/report.hpp"

namespace dcgan::eval {

struct EvalOptions {
  std::string data;            // real data for a generator (default: its training data) or the
                               // kind of two image sets; names the default feature network
  std::string split = "test";  // split of the real data, for sources that have one
  std::string features;        // a feature network file; "" finds the default for `data`
  int64_t n = 10000;           // generated images
  int64_t batch_size = 250;    // images per forward pass
  int64_t max_kept = 10000;    // rows per set kept for KID and precision / recall
  MetricsOptions metrics;      // KID subsets, k; metrics.seed is set from `seed`
  uint64_t seed = 0;           // latents (as ImageGenerator::random_latents), subsets, reservoirs
  // Optional: narrative lines ("real: 10000 images from ...") and per-stage progress.
  std::function<void(const std::string& line)> log;
  std::function<Progress(const std::string& stage)> progress;
};

struct EvalReport {
  MetricsReport metrics;
  std::string real, fake;        // what each side was, e.g. "fashion-mnist (test split, 10000 images: ...)"
  std::string real_name = "real", fake_name = "generated";  // "a" / "b" for two sets
  std::string feature_net;       // the file used
  std::string feature_net_dataset;  // its metadata "dataset" ("" when absent)
  std::string feature_net_about;    // FeatureNet::describe()
  int feature_dim = 0;
  uint64_t seed = 0;
  double seconds = 0;
  // The "dcgan-eval" JSON document (format_version 1): every metric, the counts and descriptions.
  std::string to_json() const;
};

// Validates opt (ConfigError naming the option: -n, --max-kept, -k, --kid-subsets, --split, ...).
void validate(const EvalOptions& opt);

// `checkpoint`: a generator checkpoint or a run directory (models/checkpoint.hpp find_checkpoint).
EvalReport evaluate_generator(const std::string& checkpoint, const EvalOptions& opt);

// Two image sets, `a` the reference side. Each is a float32 .npy (N, C, H, W) in [-1, 1] (as
// `dcgan sample --npy` writes), used as is, or any source load_dataset() reads, loaded at the
// feature network's size. A set whose images have other channels than the network is refused.
EvalReport evaluate_sets(const std::string& a, const std::string& b, const EvalOptions& opt);

}  // namespace dcgan::eval
