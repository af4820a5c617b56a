// Improved precision and recall (Kynkäänniemi et al. 2019), k-NN manifolds in feature space.
// Mirrors ManifoldEstimator in github.com/kynkaat/improved-precision-and-recall-metric
// (precision_recall.py): radii are k-th nearest-neighbour distances within a set, and a sample is
// inside a manifold when its squared distance to some member is <= that member's squared radius.
// Legend: D feature dimension, Br rows in a row block (kRowBlock), Bc columns in a column block
// (kColBlock). Squared distances d2(a, b) = |a|^2 + |b|^2 - 2 a.b, in double, clamped at 0.
#include <algorithm>
#include <cmath>
#include <limits>

#include <cblas.h>

#include "dcgan/error.hpp"
#include "blas_threads.hpp"
#include "eval/metrics.hpp"

namespace dcgan::eval {

namespace {

constexpr int64_t kRowBlock = 256;
constexpr int64_t kColBlock = 1024;

void check_features(const Tensor& x, const char* name) {
  DCGAN_CHECK(x.ndim() == 2 && x.dim(0) > 0 && x.dim(1) > 0,
              "[precision_recall] expected {} features (N, D), got {}", name, shape_str(x.shape()));
  DCGAN_CHECK(x.dim(1) <= (int64_t{1} << 30), "[precision_recall] dimension {} too large", x.dim(1));
}

// Rows [r0, r0 + n) of x (N, D) as doubles into dst (n, D).
void to_double(const Tensor& x, int64_t r0, int64_t n, std::vector<double>& dst) {
  const int64_t D = x.dim(1);
  const float* src = x.data() + r0 * D;
  for (int64_t i = 0; i < n * D; ++i) dst[i] = src[i];
}

std::vector<double> sq_norms(const Tensor& x) {
  const int64_t N = x.dim(0), D = x.dim(1);
  std::vector<double> out(N);
  for (int64_t i = 0; i < N; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < D; ++j) {
      const double v = x.data()[i * D + j];
      s += v * v;
    }
    out[i] = s;
  }
  return out;
}

// Per-thread scratch for one block of squared distances.
struct Scratch {
  std::vector<double> A, B, G;  // A (Br, D), B (Bc, D), G (Br, Bc)
  explicit Scratch(int64_t D) : A(kRowBlock * D), B(kColBlock * D), G(kRowBlock * kColBlock) {}
};

// G[i, j] = d2(a_{r0+i}, b_{c0+j}) for i < nr, j < nc; A must already hold rows r0.. of a.
void block_sq_dists(Scratch& s, const Tensor& b, const std::vector<double>& na,
                    const std::vector<double>& nb, int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
  const int D = static_cast<int>(b.dim(1));
  to_double(b, c0, nc, s.B);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nr), static_cast<int>(nc),
              D, 1.0, s.A.data(), D, s.B.data(), D, 0.0, s.G.data(), static_cast<int>(nc));
  for (int64_t i = 0; i < nr; ++i)
    for (int64_t j = 0; j < nc; ++j) {
      double& g = s.G[i * nc + j];
      g = std::max(na[r0 + i] + nb[c0 + j] - 2.0 * g, 0.0);
    }
}

// Squared distance of each row of x to its k-th nearest other row.
std::vector<double> knn_radii_sq(const Tensor& x, int k) {
  check_features(x, "manifold");
  const int64_t N = x.dim(0), D = x.dim(1);
  DCGAN_CHECK(k >= 1, "[precision_recall] k must be at least 1, got {}", k);
  DCGAN_CHECK(N > k, "[precision_recall] a set of {} samples has no {}-th nearest neighbour", N, k);
  const std::vector<double> norms = sq_norms(x);
  std::vector<double> r2(N);
  const int64_t n_blocks = (N + kRowBlock - 1) / kRowBlock;
#pragma omp parallel if (detail::parallel_outside_blas() && n_blocks > 1)
  {
    Scratch s(D);
    std::vector<double> best(kRowBlock * k);  // per row, the k smallest so far, ascending
#pragma omp for schedule(dynamic)
    for (int64_t rb = 0; rb < n_blocks; ++rb) {
      const int64_t r0 = rb * kRowBlock, nr = std::min(kRowBlock, N - r0);
      to_double(x, r0, nr, s.A);
      std::fill(best.begin(), best.end(), std::numeric_limits<double>::infinity());
      for (int64_t c0 = 0; c0 < N; c0 += kColBlock) {
        const int64_t nc = std::min(kColBlock, N - c0);
        block_sq_dists(s, x, norms, norms, r0, nr, c0, nc);
        for (int64_t i = 0; i < nr; ++i) {
          double* bi = best.data() + i * k;
          const double* gi = s.G.data() + i * nc;
          for (int64_t j = 0; j < nc; ++j) {
            const double d = gi[j];
            if (d >= bi[k - 1] || c0 + j == r0 + i) continue;  // not closer, or the row itself
            int p = k - 1;
            while (p > 0 && bi[p - 1] > d) {
              bi[p] = bi[p - 1];
              --p;
            }
            bi[p] = d;
          }
        }
      }
      for (int64_t i = 0; i < nr; ++i) r2[r0 + i] = best[i * k + k - 1];
    }
  }
  return r2;
}

// Fraction of query rows q with d2(q, m_i) <= r2[i] for some manifold row i.
double fraction_inside_sq(const Tensor& manifold, const std::vector<double>& r2, const Tensor& query) {
  check_features(manifold, "manifold");
  check_features(query, "query");
  DCGAN_CHECK(manifold.dim(1) == query.dim(1),
              "[precision_recall] feature dimensions differ: {} vs {}", manifold.dim(1),
              query.dim(1));
  DCGAN_CHECK(static_cast<int64_t>(r2.size()) == manifold.dim(0),
              "[precision_recall] {} radii for {} manifold samples", r2.size(), manifold.dim(0));
  const int64_t Nq = query.dim(0), Nm = manifold.dim(0), D = query.dim(1);
  const std::vector<double> nq = sq_norms(query), nm = sq_norms(manifold);
  const int64_t n_blocks = (Nq + kRowBlock - 1) / kRowBlock;
  int64_t inside_total = 0;
#pragma omp parallel if (detail::parallel_outside_blas() && n_blocks > 1) reduction(+ : inside_total)
  {
    Scratch s(D);
    std::vector<char> inside(kRowBlock);
#pragma omp for schedule(dynamic)
    for (int64_t rb = 0; rb < n_blocks; ++rb) {
      const int64_t r0 = rb * kRowBlock, nr = std::min(kRowBlock, Nq - r0);
      to_double(query, r0, nr, s.A);
      std::fill(inside.begin(), inside.end(), 0);
      int64_t n_inside = 0;
      for (int64_t c0 = 0; c0 < Nm && n_inside < nr; c0 += kColBlock) {
        const int64_t nc = std::min(kColBlock, Nm - c0);
        block_sq_dists(s, manifold, nq, nm, r0, nr, c0, nc);
        for (int64_t i = 0; i < nr; ++i) {
          if (inside[i]) continue;
          const double* gi = s.G.data() + i * nc;
          for (int64_t j = 0; j < nc; ++j)
            if (gi[j] <= r2[c0 + j]) {
              inside[i] = 1;
              ++n_inside;
              break;
            }
        }
      }
      inside_total += n_inside;
    }
  }
  return static_cast<double>(inside_total) / static_cast<double>(Nq);
}

}  // namespace

std::vector<double> knn_radii(const Tensor& x, int k) {
  std::vector<double> r = knn_radii_sq(x, k);
  for (double& v : r) v = std::sqrt(v);
  return r;
}

double fraction_inside(const Tensor& manifold, const std::vector<double>& radii, const Tensor& query) {
  std::vector<double> r2(radii);
  for (double& v : r2) v *= v;
  return fraction_inside_sq(manifold, r2, query);
}

PrecisionRecall precision_recall(const Tensor& real, const Tensor& fake, int k) {
  check_features(real, "real");
  check_features(fake, "generated");
  DCGAN_CHECK(real.dim(1) == fake.dim(1),
              "[precision_recall] feature dimensions differ: real {} vs generated {}", real.dim(1),
              fake.dim(1));
  PrecisionRecall pr;
  pr.precision = fraction_inside_sq(real, knn_radii_sq(real, k), fake);
  pr.recall = fraction_inside_sq(fake, knn_radii_sq(fake, k), real);
  return pr;
}

}  // namespace dcgan::eval
