// Evaluation pipeline: images -> features (a FeatureNet, eval/classifier.hpp) -> metrics
// (eval/metrics.hpp), streamed so that memory does not grow with the number of samples.
//
//   FeatureSet    the features of one image set: running mean / covariance (FeatureStats, for
//                 FID, all samples) plus a uniform random sample of at most `max_kept` rows
//                 (FeatureReservoir, for KID and precision / recall).
//   add_*         feed a FeatureSet from a Dataset, an image tensor, or a generator.
//   compute_metrics   FID, KID (mean, std) and precision / recall between two FeatureSets.
//   FidEvaluator  for training: real statistics computed once, then fid(G) on demand.
//
// Generated samples: latents are drawn from dcgan::Rng(seed) row after row, exactly as
// ImageGenerator::random_latents(n, seed) and `dcgan sample -n N --seed S` draw them, so
// `dcgan eval --checkpoint X -n N --seed S` scores the very images `dcgan sample` makes.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "dcgan/data/dataset.hpp"
#include "dcgan/eval/report.hpp"
#include "eval/classifier.hpp"
#include "eval/metrics.hpp"
#include "nn/sequential.hpp"

namespace dcgan::eval {

class FeatureSet {
 public:
  // dim: feature size D; max_kept: reservoir capacity (rows kept for KID and P/R); seed: which
  // rows the reservoir keeps once more than max_kept were seen.
  FeatureSet(int64_t dim, int64_t max_kept, uint64_t seed);
  void add(const Tensor& features);              // (N, D)
  void add(const float* features, int64_t n);    // n rows of D
  int64_t dim() const { return stats_.dim(); }
  int64_t count() const { return stats_.count(); }
  const FeatureStats& stats() const { return stats_; }
  const FeatureReservoir& kept() const { return kept_; }

 private:
  FeatureStats stats_;
  FeatureReservoir kept_;
};


// Every image of ds (uint8 (N, C, S, S), mapped to [-1, 1] as BatchLoader does: v / 127.5 - 1),
// or its first `limit` when limit > 0. The dataset must be at the network's size and channels.
void add_dataset(FeatureSet& set, const FeatureNet& net, const Dataset& ds, int64_t limit = 0,
                 const Progress& progress = {});
// images (N, C, S, S) in [-1, 1].
void add_images(FeatureSet& set, const FeatureNet& net, const Tensor& images, const Progress& progress = {});
// n images of `generator` (run in eval mode) from latents N(0, 1) drawn by Rng(seed). The
// generator always runs on full batches of batch_size (the last one padded with further latents,
// whose images are dropped), so a generator prepared for that batch size is never re-prepared.
void add_generated(FeatureSet& set, const FeatureNet& net, Sequential& generator, int latent_dim,
                   int64_t n, uint64_t seed, int64_t batch_size = 64, const Progress& progress = {});


// FID from all samples' statistics; KID and precision / recall on the kept rows. `real` is the
// reference set: precision = share of fake rows inside the real manifold, recall = the converse.
// Throws Error when a set has fewer than k + 1 kept rows (or < 2 samples).
MetricsReport compute_metrics(const FeatureSet& real, const FeatureSet& fake, const MetricsOptions& opt = {});

// ---------------------------------------------------------------------------------------------
// FID during training. The real statistics are computed once, in the constructor, from every
// image of `real` (e.g. the held-out split, or the training set): about 9 MFLOP per 32x32 image,
// ~1-3 s per 10,000 images on 2 cores. fid() then generates n_samples images with the SAME latents
// every call (Rng(seed)), so successive values differ only through the generator. Cost of fid():
// n_samples generator and feature-network forward passes (~0.5 s per 2,000 at 32x32 on 2 cores).
// Small n_samples bias FID upwards (the estimator's bias ~ 1/n): compare values at equal n only.
// `net` must outlive the evaluator. Not thread-safe.
class FidEvaluator {
 public:
  // Throws ConfigError when `real` is not at the network's size/channels, or n_samples < 2.
  FidEvaluator(const FeatureNet& net, const Dataset& real, int64_t n_samples, uint64_t seed,
               int64_t batch_size = 64);
  // generator: (N, latent_dim) -> (N, C, S, S) in [-1, 1]; run with Mode::eval (BatchNorm uses
  // its running statistics; nothing in the generator changes). Returns the FID.
  double fid(Sequential& generator, int latent_dim);

  const FeatureStats& real_stats() const { return real_; }
  int64_t n_samples() const { return n_; }
  double last_seconds() const { return last_seconds_; }  // wall time of the last fid()

 private:
  const FeatureNet* net_;
  FeatureStats real_;
  int64_t n_;
  uint64_t seed_;
  int64_t batch_;
  double last_seconds_ = 0;
};

}  // namespace dcgan::eval
