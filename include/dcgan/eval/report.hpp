// The results of an evaluation and its options: what evaluate.hpp returns and the metrics
// (eval/metrics.hpp) compute.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace dcgan::eval {

struct KidResult {
  double mean = 0.0;           // average MMD^2 over the subsets: the KID
  double stddev = 0.0;         // population standard deviation over the subsets (ddof 0)
  int64_t subset_size = 0;     // m actually used
  std::vector<double> subset_mmd2;  // (n_subsets) the per-subset estimates
};

struct PrecisionRecall {
  double precision = 0.0;
  double recall = 0.0;
};

// Called after each batch with (images done, images in all).
using Progress = std::function<void(int64_t done, int64_t total)>;

struct MetricsOptions {
  int64_t kid_subsets = 100;      // KID: subsets (torch-fidelity's default)
  int64_t kid_subset_size = 1000; // KID: rows per subset, clamped to the smaller kept set
  int k = 3;                      // precision / recall: k-th nearest neighbour
  uint64_t seed = 0;              // KID subsets
};

struct MetricsReport {
  double fid = 0;
  KidResult kid;                  // kid.mean, kid.stddev (population), kid.subset_size
  PrecisionRecall pr;             // pr.precision, pr.recall
  int64_t n_real = 0, n_fake = 0;        // samples in the FID statistics
  int64_t kept_real = 0, kept_fake = 0;  // rows KID and precision / recall used
  int64_t kid_subsets = 0;
  int k = 3;
};

}  // namespace dcgan::eval
