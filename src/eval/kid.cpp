// KID: unbiased polynomial-kernel MMD^2 over random subsets (see src/eval/metrics.hpp).
// Mirrors torch-fidelity's kid (torch_fidelity/metric_kid.py: kernel (x.y / D + 1)^3, mmd2 with
// the diagonal removed from the within-set sums) and Bińkowski et al.'s polynomial_mmd_averages.
// Legend: D feature dimension, m subset size, S number of subsets.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <cblas.h>

#include "dcgan/error.hpp"
#include "blas_threads.hpp"
#include "eval/metrics.hpp"

namespace dcgan::eval {

namespace {

inline double cubic_kernel(double dot, double inv_d) {
  const double t = dot * inv_d + 1.0;
  return t * t * t;
}

// sum_{i != j} k(x_i, x_j) for the m rows of X (m, D): the Gram matrix's upper triangle
// (dsyrk) doubled.
double within_sum(const std::vector<double>& X, int m, int D, std::vector<double>& K) {
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, m, D, 1.0, X.data(), D, 0.0, K.data(), m);
  const double inv_d = 1.0 / D;
  double s = 0.0;
  for (int i = 0; i < m; ++i)
    for (int j = i + 1; j < m; ++j) s += cubic_kernel(K[size_t(i) * m + j], inv_d);
  return 2.0 * s;
}

// sum_{i, j} k(x_i, y_j) for X, Y (m, D).
double cross_sum(const std::vector<double>& X, const std::vector<double>& Y, int m, int D,
                 std::vector<double>& K) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, D, 1.0, X.data(), D, Y.data(), D, 0.0,
              K.data(), m);
  const double inv_d = 1.0 / D;
  double s = 0.0;
  for (size_t i = 0; i < size_t(m) * m; ++i) s += cubic_kernel(K[i], inv_d);
  return s;
}

void gather(const Tensor& src, const int64_t* idx, int m, std::vector<double>& dst) {
  const int64_t D = src.dim(1);
  for (int i = 0; i < m; ++i) {
    const float* row = src.data() + idx[i] * D;
    for (int64_t j = 0; j < D; ++j) dst[size_t(i) * D + j] = row[j];
  }
}

}  // namespace

KidSubsets draw_kid_subsets(int64_t n_real, int64_t n_fake, const KidOptions& opt) {
  DCGAN_CHECK(opt.n_subsets >= 1, "[kid] n_subsets must be at least 1, got {}", opt.n_subsets);
  DCGAN_CHECK(opt.subset_size >= 2, "[kid] subset_size must be at least 2, got {}",
              opt.subset_size);
  DCGAN_CHECK(n_real >= 2 && n_fake >= 2,
              "[kid] needs at least 2 real and 2 generated samples, have {} and {}", n_real, n_fake);
  KidSubsets out;
  out.n_subsets = opt.n_subsets;
  out.subset_size = std::min({opt.subset_size, n_real, n_fake});
  const int64_t m = out.subset_size;
  out.real.reserve(opt.n_subsets * m);
  out.fake.reserve(opt.n_subsets * m);
  std::vector<int64_t> perm_r(n_real), perm_f(n_fake);
  std::iota(perm_r.begin(), perm_r.end(), int64_t{0});
  std::iota(perm_f.begin(), perm_f.end(), int64_t{0});
  Rng rng(opt.seed);
  // A partial Fisher-Yates pass over any permutation yields a uniform m-subset, so the
  // permutations are not reset between subsets: O(m) per subset.
  auto draw = [&](std::vector<int64_t>& perm, std::vector<int64_t>& out_idx) {
    const uint64_t n = perm.size();
    for (int64_t i = 0; i < m; ++i) {
      const uint64_t j = uint64_t(i) + rng.below(n - uint64_t(i));
      std::swap(perm[i], perm[j]);
      out_idx.push_back(perm[i]);
    }
  };
  for (int64_t s = 0; s < opt.n_subsets; ++s) {
    draw(perm_r, out.real);
    draw(perm_f, out.fake);
  }
  return out;
}

KidResult kernel_inception_distance(const Tensor& real, const Tensor& fake, const KidOptions& opt) {
  DCGAN_CHECK(real.ndim() == 2 && fake.ndim() == 2,
              "[kid] expected features (N, D), got real {} and fake {}", shape_str(real.shape()),
              shape_str(fake.shape()));
  return kernel_inception_distance(real, fake, draw_kid_subsets(real.dim(0), fake.dim(0), opt));
}

KidResult kernel_inception_distance(const Tensor& real, const Tensor& fake,
                                    const KidSubsets& subsets) {
  DCGAN_CHECK(real.ndim() == 2 && fake.ndim() == 2 && real.dim(1) == fake.dim(1),
              "[kid] expected features (N, D) of one D, got real {} and fake {}",
              shape_str(real.shape()), shape_str(fake.shape()));
  const int64_t S = subsets.n_subsets, m64 = subsets.subset_size, D64 = real.dim(1);
  DCGAN_CHECK(S >= 1 && m64 >= 2 && static_cast<int64_t>(subsets.real.size()) == S * m64 &&
                  static_cast<int64_t>(subsets.fake.size()) == S * m64,
              "[kid] malformed subsets: {} subsets of {}, {} real and {} fake indices", S, m64,
              subsets.real.size(), subsets.fake.size());
  DCGAN_CHECK(m64 <= 46340 && D64 <= (int64_t{1} << 30), "[kid] subset size {} or dimension {} too large",
              m64, D64);
  for (int64_t v : subsets.real)
    DCGAN_CHECK(v >= 0 && v < real.dim(0), "[kid] real index {} out of range [0, {})", v, real.dim(0));
  for (int64_t v : subsets.fake)
    DCGAN_CHECK(v >= 0 && v < fake.dim(0), "[kid] fake index {} out of range [0, {})", v, fake.dim(0));
  const int m = static_cast<int>(m64), D = static_cast<int>(D64);

  KidResult res;
  res.subset_size = m64;
  res.subset_mmd2.assign(S, 0.0);
  const double mm1 = double(m) * (m - 1), mm = double(m) * m;
#pragma omp parallel if (detail::parallel_outside_blas() && S > 1)
  {
    std::vector<double> X(size_t(m) * D), Y(size_t(m) * D), K(size_t(m) * m);
#pragma omp for schedule(dynamic)
    for (int64_t s = 0; s < S; ++s) {
      gather(real, subsets.real.data() + s * m64, m, X);
      gather(fake, subsets.fake.data() + s * m64, m, Y);
      const double kxx = within_sum(X, m, D, K);
      const double kyy = within_sum(Y, m, D, K);
      const double kxy = cross_sum(X, Y, m, D, K);
      res.subset_mmd2[s] = (kxx + kyy) / mm1 - 2.0 * kxy / mm;
    }
  }
  double sum = 0.0;
  for (double v : res.subset_mmd2) sum += v;
  res.mean = sum / double(S);
  double var = 0.0;
  for (double v : res.subset_mmd2) var += (v - res.mean) * (v - res.mean);
  res.stddev = std::sqrt(var / double(S));
  return res;
}

}  // namespace dcgan::eval
