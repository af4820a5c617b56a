// Sample-quality metrics on FEATURE vectors: Fréchet distance (FID), kernel distance (KID) and
// improved precision / recall. Everything here works on (N, D) float32 feature matrices and knows
// nothing about the network that produced them (Inception, a DCGAN discriminator, raw pixels...).
//
// Legend: N samples, D feature dimension, m KID subset size, k nearest-neighbour rank.
//
// References (the formulas each function mirrors):
//   FID  Heusel et al. 2017; the formula and estimator of pytorch-fid (src/pytorch_fid/fid_score.py):
//        mu = mean, Sigma = np.cov(rowvar=False) (unbiased, N - 1),
//        d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2)).
//   KID  Bińkowski et al. 2018, "Demystifying MMD GANs"; polynomial kernel k(x, y) = (x.y / D + 1)^3,
//        unbiased MMD^2 averaged over random subsets (as torch-fidelity's kid / the authors' code).
//   P/R  Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
//        Models" (github.com/kynkaat/improved-precision-and-recall-metric), k = 3.
// tools/reference/metrics_reference.py re-implements all three with numpy/scipy; tests/unit/
// test_metrics.cpp checks this code against it.
#pragma once
#include <cstdint>
#include <vector>

#include "dcgan/eval/report.hpp"
#include "dcgan/tensor.hpp"
#include "core/rng.hpp"

namespace dcgan::eval {

// ---------------------------------------------------------------------------------------------
// FeatureStats: streaming mean and covariance of D-dimensional features.
// Accumulates in double with Chan et al.'s pairwise merge (Welford for batches of one): each
// batch is split into chunks of at most 256 rows, the chunk's own mean and centred scatter are
// computed (two-pass, BLAS dsyrk), then merged:
//   n = na + nb,  delta = mean_b - mean_a,  mean = mean_a + delta nb / n,
//   M2 = M2_a + M2_b + delta delta^T na nb / n.
// Memory is O(D^2 + 256 D) whatever the number of samples; the result does not depend on how
// the samples are batched (up to rounding, ~1e-15 relative).
class FeatureStats {
 public:
  FeatureStats() = default;
  explicit FeatureStats(int64_t dim);

  // features: (N, D) float32, row-major. N may be 0.
  void add(const Tensor& features);
  void add(const float* features, int64_t n);
  // Adds another accumulator's samples (same D), as if they had been fed to this one.
  void merge(const FeatureStats& other);
  void reset();

  int64_t dim() const { return dim_; }
  int64_t count() const { return count_; }
  const std::vector<double>& mean() const { return mean_; }  // (D)
  // (D, D) row-major, symmetric: sum over samples of (x - mean)(x - mean)^T.
  std::vector<double> scatter() const;
  // (D, D) row-major, symmetric: unbiased covariance scatter / (N - 1), as np.cov. Needs N >= 2.
  std::vector<double> covariance() const;

  // Rebuilds an accumulator from saved moments (e.g. cached statistics of a real dataset);
  // mean (D), scatter (D, D) symmetric row-major.
  static FeatureStats from_moments(int64_t count, std::vector<double> mean,
                                   const std::vector<double>& scatter);

 private:
  int64_t dim_ = 0;
  int64_t count_ = 0;
  std::vector<double> mean_;   // (D)
  std::vector<double> m2_;     // (D, D) row-major; only the upper triangle (j >= i) is kept
  std::vector<double> chunk_;  // (<= 256, D) scratch for the centred chunk
};

// Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):
//   |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2)).
// tr(sqrtm(S1 S2)) is computed as sum_i sqrt(max(lambda_i, 0)) over the eigenvalues of the
// symmetric PSD matrix sqrt(S1) S2 sqrt(S1) (similar to S1 S2), with sqrt(S1) from the symmetric
// eigendecomposition S1 = V diag(w) V^T (LAPACK dsyevd; negative w from rounding are clamped to
// 0). This never produces the complex parts scipy.linalg.sqrtm can, and agrees with it to ~1e-9
// relative on well-conditioned covariances. The result is clamped at 0 (rounding can make the
// distance of identical statistics -1e-13).
// mu: (D); sigma: (D, D) row-major, symmetric positive semi-definite. Throws dcgan::Error on
// mismatched sizes or non-finite input.
double frechet_distance(const std::vector<double>& mu1, const std::vector<double>& sigma1,
                        const std::vector<double>& mu2, const std::vector<double>& sigma2);
// Same, from two accumulators (each with count >= 2): the FID when the features are Inception's.
double frechet_distance(const FeatureStats& a, const FeatureStats& b);

// ---------------------------------------------------------------------------------------------
// FeatureReservoir: keeps a uniform random sample of at most `capacity` feature rows out of a
// stream (Vitter's algorithm R: row i (0-based) is kept while i < capacity, afterwards it
// replaces slot j = rng.below(i + 1) when j < capacity). KID and precision / recall need the
// features themselves; the reservoir bounds that memory at capacity * D floats. The kept rows
// depend only on the seed and the order of the rows, not on how they are batched. With
// seen() <= capacity every row is kept, in order.
class FeatureReservoir {
 public:
  FeatureReservoir(int64_t dim, int64_t capacity, uint64_t seed = 0);

  void add(const Tensor& features);             // (N, D)
  void add(const float* features, int64_t n);   // n rows of D

  int64_t dim() const { return dim_; }
  int64_t capacity() const { return capacity_; }
  int64_t seen() const { return seen_; }        // rows offered so far
  int64_t size() const { return features_.empty() ? 0 : features_.dim(0); }  // min(seen, capacity)
  // (size, D): the kept rows. The reference stays valid until the next add().
  const Tensor& features() const { return features_; }

 private:
  int64_t dim_ = 0;
  int64_t capacity_ = 0;
  int64_t seen_ = 0;
  int64_t grown_rows_ = 0;  // rows the buffer behind features_ can hold
  Rng rng_;
  Tensor features_;  // (size, D); its buffer grows geometrically up to capacity rows
};

// ---------------------------------------------------------------------------------------------
// KID: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3, estimated on
// n_subsets random subsets of m = min(subset_size, N_real, N_fake) rows from each set (drawn
// without replacement, independently per subset), then averaged:
//   MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
//           - 2 sum_{i, j} k(x_i, y_j) / m^2.
// stddev is the population standard deviation (ddof = 0) of the per-subset values, as
// torch-fidelity reports it. Defaults as torch-fidelity: 100 subsets of 1000.
// Kernels in double (dsyrk / dgemm); cost ~4 m^2 D flops per subset: the defaults at D = 2048 take
// ~18 s on 2 cores. Parallel over subsets when OpenBLAS is single-threaded (src/eval/blas_threads.hpp).
struct KidOptions {
  int64_t n_subsets = 100;
  int64_t subset_size = 1000;  // clamped to the smaller set; at least 2 rows must be available
  uint64_t seed = 0;           // subsets come from dcgan::Rng(seed): reproducible everywhere
};

// The row indices each subset uses, so that another implementation can replay them.
struct KidSubsets {
  int64_t n_subsets = 0;
  int64_t subset_size = 0;     // m
  std::vector<int64_t> real;   // (n_subsets, m) row-major, indices into the real features
  std::vector<int64_t> fake;   // (n_subsets, m) row-major, indices into the fake features
};


// Draws the subsets: for each subset, m real indices then m fake indices, each by a partial
// Fisher-Yates shuffle (Rng::below) of a persistent permutation of 0..N-1.
KidSubsets draw_kid_subsets(int64_t n_real, int64_t n_fake, const KidOptions& opt = {});
// real: (N_real, D), fake: (N_fake, D).
KidResult kernel_inception_distance(const Tensor& real, const Tensor& fake,
                                    const KidOptions& opt = {});
KidResult kernel_inception_distance(const Tensor& real, const Tensor& fake,
                                    const KidSubsets& subsets);

// ---------------------------------------------------------------------------------------------
// Improved precision and recall. The manifold of a set X is the union of the closed balls
// B(x_i, r_i), r_i = distance from x_i to its k-th nearest neighbour in X other than itself.
//   precision = fraction of fake rows inside the real manifold,
//   recall    = fraction of real rows inside the fake manifold.
// Distances are Euclidean, computed in double as |a|^2 + |b|^2 - 2 a.b (BLAS dgemm) on blocks of
// at most 256 x 1024 pairs, so memory is O((256 + 1024) D) per thread, not O(N^2).
// Cost ~8 N^2 D flops for N real and N fake rows (four N x N distance passes; the membership
// passes stop early once every query row of a block is inside): N = 5000, D = 2048 takes ~8 s on
// 2 cores.

// real: (N_real, D), fake: (N_fake, D); each set needs more than k rows.
PrecisionRecall precision_recall(const Tensor& real, const Tensor& fake, int k = 3);
// (N): distance from each row of x to its k-th nearest other row of x.
std::vector<double> knn_radii(const Tensor& x, int k = 3);
// Fraction of query rows within radii[i] of some row i of `manifold` (N_manifold radii).
double fraction_inside(const Tensor& manifold, const std::vector<double>& radii, const Tensor& query);

}  // namespace dcgan::eval
