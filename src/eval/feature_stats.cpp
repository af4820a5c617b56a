// Streaming feature statistics and the Fréchet distance (see src/eval/metrics.hpp).
// Legend: N samples, D feature dimension, B rows in one chunk (<= kChunk).
#include <algorithm>
#include <cmath>
#include <cstring>

#include <cblas.h>

#include "dcgan/error.hpp"
#include "eval/metrics.hpp"

// LAPACK (shipped inside Debian's libopenblas). Fortran ABI: everything by pointer, plus the
// hidden lengths of the CHARACTER arguments that gfortran appends (harmless if ignored).
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda,
                        double* w, double* work, const int* lwork, int* iwork, const int* liwork,
                        int* info, size_t jobz_len, size_t uplo_len);

namespace dcgan::eval {

namespace {

constexpr int64_t kChunk = 256;  // rows per chunk: bounds the scratch at kChunk * D doubles

// Symmetric eigendecomposition of the (n, n) matrix a (row-major, symmetric; overwritten).
// With vectors: on return row i of a is the unit eigenvector of w[i] (LAPACK returns column-major
// eigenvectors, i.e. rows in our row-major view). Eigenvalues ascending.
void sym_eig(std::vector<double>& a, int n, std::vector<double>& w, bool vectors) {
  w.assign(n, 0.0);
  if (n == 0) return;
  const char jobz = vectors ? 'V' : 'N', uplo = 'U';
  int lwork = -1, liwork = -1, info = 0;
  double wq = 0;
  int iwq = 0;
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), &wq, &lwork, &iwq, &liwork, &info, 1, 1);
  DCGAN_CHECK(info == 0, "[frechet_distance] LAPACK dsyevd workspace query failed (info {})", info);
  lwork = static_cast<int>(wq);
  liwork = std::max(iwq, 1);
  std::vector<double> work(std::max(lwork, 1));
  std::vector<int> iwork(liwork);
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), work.data(), &lwork, iwork.data(), &liwork,
          &info, 1, 1);
  DCGAN_CHECK(info == 0, "[frechet_distance] LAPACK dsyevd did not converge (info {})", info);
}

void check_finite(const std::vector<double>& v, const char* name) {
  for (double x : v)
    DCGAN_CHECK(std::isfinite(x), "[frechet_distance] {} has a non-finite entry ({})", name, x);
}

}  // namespace

FeatureStats::FeatureStats(int64_t dim) : dim_(dim) {
  DCGAN_CHECK(dim > 0, "[FeatureStats] feature dimension must be positive, got {}", dim);
  mean_.assign(dim, 0.0);
  m2_.assign(dim * dim, 0.0);
}

void FeatureStats::reset() {
  count_ = 0;
  std::fill(mean_.begin(), mean_.end(), 0.0);
  std::fill(m2_.begin(), m2_.end(), 0.0);
}

void FeatureStats::add(const Tensor& features) {
  DCGAN_CHECK(features.ndim() == 2 && features.dim(1) == dim_,
              "[FeatureStats] expected features (N, {}), got {}", dim_, shape_str(features.shape()));
  add(features.data(), features.dim(0));
}

void FeatureStats::add(const float* x, int64_t n) {
  DCGAN_CHECK(dim_ > 0, "[FeatureStats] add() on a default-constructed accumulator");
  DCGAN_CHECK(n >= 0, "[FeatureStats] negative row count {}", n);
  const int64_t D = dim_;
  std::vector<double> mb(D), delta(D);
  for (int64_t r0 = 0; r0 < n; r0 += kChunk) {
    const int64_t B = std::min(kChunk, n - r0);
    const float* xb = x + r0 * D;
    // Chunk mean (in double), then the centred chunk.
    std::fill(mb.begin(), mb.end(), 0.0);
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = 0; j < D; ++j) {
        const double v = xb[i * D + j];
        DCGAN_CHECK(std::isfinite(v), "[FeatureStats] non-finite feature at row {}, column {}",
                    count_ + r0 + i, j);
        mb[j] += v;
      }
    for (int64_t j = 0; j < D; ++j) mb[j] /= static_cast<double>(B);
    chunk_.resize(B * D);
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = 0; j < D; ++j) chunk_[i * D + j] = double(xb[i * D + j]) - mb[j];
    // M2 += Xc^T Xc (upper triangle), the chunk's own scatter.
    if (B > 1)
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(D), static_cast<int>(B),
                  1.0, chunk_.data(), static_cast<int>(D), 1.0, m2_.data(), static_cast<int>(D));
    // Merge: M2 += delta delta^T na nb / n; mean += delta nb / n.
    const double na = static_cast<double>(count_), nb = static_cast<double>(B), nt = na + nb;
    for (int64_t j = 0; j < D; ++j) delta[j] = mb[j] - mean_[j];
    if (count_ > 0)
      cblas_dsyr(CblasRowMajor, CblasUpper, static_cast<int>(D), na * nb / nt, delta.data(), 1,
                 m2_.data(), static_cast<int>(D));
    for (int64_t j = 0; j < D; ++j) mean_[j] += delta[j] * (nb / nt);
    count_ += B;
  }
}

void FeatureStats::merge(const FeatureStats& other) {
  DCGAN_CHECK(other.dim_ == dim_, "[FeatureStats] cannot merge dimension {} into {}", other.dim_,
              dim_);
  if (other.count_ == 0) return;
  if (count_ == 0) {
    count_ = other.count_;
    mean_ = other.mean_;
    m2_ = other.m2_;
    return;
  }
  const int64_t D = dim_;
  const double na = static_cast<double>(count_), nb = static_cast<double>(other.count_),
               nt = na + nb;
  std::vector<double> delta(D);
  for (int64_t j = 0; j < D; ++j) delta[j] = other.mean_[j] - mean_[j];
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = i; j < D; ++j) m2_[i * D + j] += other.m2_[i * D + j];
  cblas_dsyr(CblasRowMajor, CblasUpper, static_cast<int>(D), na * nb / nt, delta.data(), 1,
             m2_.data(), static_cast<int>(D));
  for (int64_t j = 0; j < D; ++j) mean_[j] += delta[j] * (nb / nt);
  count_ += other.count_;
}

std::vector<double> FeatureStats::scatter() const {
  const int64_t D = dim_;
  std::vector<double> s(D * D);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = i; j < D; ++j) s[i * D + j] = s[j * D + i] = m2_[i * D + j];
  return s;
}

std::vector<double> FeatureStats::covariance() const {
  DCGAN_CHECK(count_ >= 2, "[FeatureStats] covariance needs at least 2 samples, have {}", count_);
  std::vector<double> s = scatter();
  const double inv = 1.0 / static_cast<double>(count_ - 1);
  for (double& v : s) v *= inv;
  return s;
}

FeatureStats FeatureStats::from_moments(int64_t count, std::vector<double> mean,
                                        const std::vector<double>& scatter) {
  const int64_t D = static_cast<int64_t>(mean.size());
  DCGAN_CHECK(D > 0 && static_cast<int64_t>(scatter.size()) == D * D && count >= 0,
              "[FeatureStats] from_moments: mean has {} entries, scatter {} (expected {}), count {}",
              D, scatter.size(), D * D, count);
  FeatureStats s(D);
  s.count_ = count;
  s.mean_ = std::move(mean);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = i; j < D; ++j) s.m2_[i * D + j] = 0.5 * (scatter[i * D + j] + scatter[j * D + i]);
  return s;
}

double frechet_distance(const std::vector<double>& mu1, const std::vector<double>& sigma1,
                        const std::vector<double>& mu2, const std::vector<double>& sigma2) {
  const int64_t D = static_cast<int64_t>(mu1.size());
  DCGAN_CHECK(D > 0 && static_cast<int64_t>(mu2.size()) == D,
              "[frechet_distance] means have {} and {} entries", mu1.size(), mu2.size());
  DCGAN_CHECK(static_cast<int64_t>(sigma1.size()) == D * D &&
                  static_cast<int64_t>(sigma2.size()) == D * D,
              "[frechet_distance] covariances have {} and {} entries, expected {} x {}",
              sigma1.size(), sigma2.size(), D, D);
  DCGAN_CHECK(D <= 46340, "[frechet_distance] dimension {} too large for LAPACK", D);
  check_finite(mu1, "mu1");
  check_finite(mu2, "mu2");
  check_finite(sigma1, "sigma1");
  check_finite(sigma2, "sigma2");
  const int n = static_cast<int>(D);

  double diff2 = 0.0, tr1 = 0.0, tr2 = 0.0;
  for (int64_t i = 0; i < D; ++i) {
    diff2 += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
    tr1 += sigma1[i * D + i];
    tr2 += sigma2[i * D + i];
  }

  // S1 = E^T diag(w) E (rows of E are eigenvectors), so sqrt(S1) = E^T diag(s) E, s = sqrt(w+),
  // and sqrt(S1) S2 sqrt(S1) = E^T [diag(s) (E S2 E^T) diag(s)] E has the eigenvalues of
  // M = diag(s) (E S2 E^T) diag(s), which is symmetric PSD.
  std::vector<double> E(sigma1), w;
  for (int64_t i = 0; i < D; ++i)  // symmetrise: LAPACK reads one triangle only
    for (int64_t j = i + 1; j < D; ++j) E[i * D + j] = E[j * D + i] = 0.5 * (E[i * D + j] + E[j * D + i]);
  sym_eig(E, n, w, /*vectors=*/true);
  std::vector<double> s(D);
  for (int64_t i = 0; i < D; ++i) s[i] = std::sqrt(std::max(w[i], 0.0));

  std::vector<double> T(D * D), M(D * D);
  // T = E S2, M = T E^T
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, E.data(), n, sigma2.data(),
              n, 0.0, T.data(), n);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, T.data(), n, E.data(), n, 0.0,
              M.data(), n);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = i; j < D; ++j) {
      const double v = 0.5 * (M[i * D + j] + M[j * D + i]) * s[i] * s[j];
      M[i * D + j] = M[j * D + i] = v;
    }
  std::vector<double> lam;
  sym_eig(M, n, lam, /*vectors=*/false);
  double tr_covmean = 0.0;
  for (double l : lam) tr_covmean += std::sqrt(std::max(l, 0.0));

  const double d = diff2 + tr1 + tr2 - 2.0 * tr_covmean;
  return std::max(d, 0.0);
}

double frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  DCGAN_CHECK(a.dim() == b.dim(), "[frechet_distance] feature dimensions differ: {} vs {}",
              a.dim(), b.dim());
  return frechet_distance(a.mean(), a.covariance(), b.mean(), b.covariance());
}

}  // namespace dcgan::eval
