// Feature-space metrics (src/eval/metrics.hpp): closed forms, streaming invariance,
// constructed precision/recall cases, and agreement with tools/reference/metrics_reference.py
// (numpy + scipy), which the test runs on feature sets it writes as .npy files.
// The python used is $DCGAN_PYTHON, else /usr/bin/python3; the reference tests are skipped with a
// message when it cannot import numpy and scipy.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "dcgan/error.hpp"
#include "core/rng.hpp"
#include "eval/metrics.hpp"
#include "support/nan_safe.hpp"
#include "support/require.hpp"

namespace fs = std::filesystem;
using dcgan::Rng;
using dcgan::Tensor;
using namespace dcgan::eval;

namespace {

// ---- helpers ---------------------------------------------------------------------------------

// Minimal .npy (format 1.0) writer for C-order 2-D arrays; descr "<f4" or "<i8".
template <class T>
void write_npy(const fs::path& path, const T* data, int64_t rows, int64_t cols, const char* descr) {
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  const size_t unpadded = 10 + header.size() + 1;  // magic(6) + version(2) + len(2) + header + \n
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  ASSERT_TRUE(f) << path;
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t hlen = static_cast<uint16_t>(header.size());
  const unsigned char le[2] = {static_cast<unsigned char>(hlen & 0xff),
                               static_cast<unsigned char>(hlen >> 8)};
  f.write(reinterpret_cast<const char*>(le), 2);
  f.write(header.data(), header.size());
  f.write(reinterpret_cast<const char*>(data), rows * cols * sizeof(T));  // x86: little-endian
  ASSERT_TRUE(f.good()) << path;
}

void write_npy(const fs::path& path, const Tensor& t) {
  write_npy(path, t.data(), t.dim(0), t.dim(1), "<f4");
}

std::string python() {
  const char* p = std::getenv("DCGAN_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

bool python_ok() {
  static const bool ok =
      std::system((python() + " -c 'import numpy, scipy' >/dev/null 2>&1").c_str()) == 0;
  return ok;
}

#define REQUIRE_PYTHON()                                                                      \
  DCGAN_REQUIRE_OR_SKIP(python_ok(), python() + " with numpy and scipy",                      \
                        "apt install python3-numpy python3-scipy, or set DCGAN_PYTHON to one that can")

nlohmann::json run_reference(const std::string& args, const fs::path& out) {
  const std::string cmd = python() + " " DCGAN_SOURCE_DIR "/tools/reference/metrics_reference.py " +
                          args + " --out '" + out.string() + "'";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  std::ifstream f(out);
  EXPECT_TRUE(f) << "no output from " << cmd;
  if (rc != 0 || !f) return {};
  return nlohmann::json::parse(f);
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() /
           ("dcgan_test_metrics_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// (N, D) samples of mu + A z, z ~ N(0, I): covariance A A^T.
Tensor gaussian_features(Rng& rng, int64_t n, const std::vector<double>& mu,
                         const std::vector<double>& A) {
  const int64_t D = static_cast<int64_t>(mu.size());
  Tensor x({n, D});
  std::vector<double> z(D);
  for (int64_t i = 0; i < n; ++i) {
    for (auto& v : z) v = rng.normal();
    for (int64_t r = 0; r < D; ++r) {
      double s = mu[r];
      for (int64_t c = 0; c < D; ++c) s += A[r * D + c] * z[c];
      x[i * D + r] = static_cast<float>(s);
    }
  }
  return x;
}

std::vector<double> random_vec(Rng& rng, int64_t n, double scale) {
  std::vector<double> v(n);
  for (auto& x : v) x = scale * rng.normal();
  return v;
}

// Random (D, D) orthogonal matrix: Gram-Schmidt on Gaussian rows.
std::vector<double> random_orthogonal(Rng& rng, int64_t D) {
  std::vector<double> Q = random_vec(rng, D * D, 1.0);
  for (int64_t i = 0; i < D; ++i) {
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t j = 0; j < i; ++j) {
        double d = 0;
        for (int64_t c = 0; c < D; ++c) d += Q[i * D + c] * Q[j * D + c];
        for (int64_t c = 0; c < D; ++c) Q[i * D + c] -= d * Q[j * D + c];
      }
    double nrm = 0;
    for (int64_t c = 0; c < D; ++c) nrm += Q[i * D + c] * Q[i * D + c];
    nrm = std::sqrt(nrm);
    for (int64_t c = 0; c < D; ++c) Q[i * D + c] /= nrm;
  }
  return Q;
}

// Q^T diag(a) Q
std::vector<double> rotate_diag(const std::vector<double>& Q, const std::vector<double>& a) {
  const int64_t D = static_cast<int64_t>(a.size());
  std::vector<double> S(D * D, 0.0);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = 0; j < D; ++j)
      for (int64_t k = 0; k < D; ++k) S[i * D + j] += Q[k * D + i] * a[k] * Q[k * D + j];
  return S;
}

double max_abs(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = dcgan::testing::max_nan(m, std::abs(a[i] - b[i]));
  return m;
}

Tensor rows_of(const Tensor& x, int64_t r0, int64_t n) {
  Tensor out({n, x.dim(1)});
  std::copy(x.data() + r0 * x.dim(1), x.data() + (r0 + n) * x.dim(1), out.data());
  return out;
}

// ---- FeatureStats ----------------------------------------------------------------------------

TEST(FeatureStats, BatchingDoesNotChangeTheResult) {
  Rng rng(1);
  const int64_t D = 64, N = 2003;
  std::vector<double> mu = random_vec(rng, D, 2.0), A = random_vec(rng, D * D, 0.3);
  const Tensor x = gaussian_features(rng, N, mu, A);

  FeatureStats whole(D);
  whole.add(x);
  ASSERT_EQ(whole.count(), N);
  for (int64_t batch : {1, 7, 1000}) {
    FeatureStats s(D);
    for (int64_t r0 = 0; r0 < N; r0 += batch) s.add(x.data() + r0 * D, std::min(batch, N - r0));
    EXPECT_EQ(s.count(), N);
    // Values are O(1..10); different merge orders agree to rounding.
    EXPECT_LT(max_abs(s.mean(), whole.mean()), 1e-12) << "batch " << batch;
    EXPECT_LT(max_abs(s.covariance(), whole.covariance()), 1e-12) << "batch " << batch;
  }
  // merge() of two halves (and of an empty accumulator) equals one pass.
  FeatureStats a(D), b(D), empty(D);
  a.add(rows_of(x, 0, 700));
  b.add(rows_of(x, 700, N - 700));
  a.merge(b);
  a.merge(empty);
  EXPECT_LT(max_abs(a.mean(), whole.mean()), 1e-12);
  EXPECT_LT(max_abs(a.covariance(), whole.covariance()), 1e-12);
  empty.merge(whole);
  EXPECT_EQ(empty.count(), N);
  EXPECT_LT(max_abs(empty.covariance(), whole.covariance()), 1e-15);
  // from_moments round trip.
  const FeatureStats r = FeatureStats::from_moments(whole.count(), whole.mean(), whole.scatter());
  EXPECT_EQ(max_abs(r.covariance(), whole.covariance()), 0.0);
}

TEST(FeatureStats, MatchesTwoPassInDouble) {
  Rng rng(2);
  const int64_t D = 5, N = 300;
  // A large common offset: naive sum-of-squares would lose digits here.
  std::vector<double> mu(D, 1000.0), A = random_vec(rng, D * D, 0.5);
  const Tensor x = gaussian_features(rng, N, mu, A);
  std::vector<double> m(D, 0.0), c(D * D, 0.0);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < D; ++j) m[j] += x[i * D + j] / double(N);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < D; ++j)
      for (int64_t k = 0; k < D; ++k)
        c[j * D + k] += (x[i * D + j] - m[j]) * (x[i * D + k] - m[k]) / double(N - 1);
  FeatureStats s(D);
  for (int64_t r0 = 0; r0 < N; r0 += 13) s.add(x.data() + r0 * D, std::min<int64_t>(13, N - r0));
  EXPECT_LT(max_abs(s.mean(), m), 1e-10);        // |mean| ~ 1e3: relative 1e-13
  EXPECT_LT(max_abs(s.covariance(), c), 1e-10);  // entries ~ 1
}

TEST(FeatureStats, RejectsBadInput) {
  FeatureStats s(4);
  EXPECT_THROW(s.add(Tensor({3, 5})), dcgan::Error);
  EXPECT_THROW(s.covariance(), dcgan::Error);  // fewer than 2 samples
  Tensor bad({2, 4});
  bad[3] = NAN;
  EXPECT_THROW(s.add(bad), dcgan::Error);
  EXPECT_THROW(FeatureStats(0), dcgan::Error);
  FeatureStats t(3);
  EXPECT_THROW(s.merge(t), dcgan::Error);
}

// ---- Fréchet distance ------------------------------------------------------------------------

// For commuting covariances S1 = Q^T diag(a) Q, S2 = Q^T diag(b) Q:
//   d^2 = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
TEST(FrechetDistance, ClosedFormForCommutingCovariances) {
  Rng rng(3);
  for (int64_t D : {1, 8, 64}) {
    std::vector<double> a(D), b(D);
    for (int64_t i = 0; i < D; ++i) {
      a[i] = 0.1 + 3.0 * rng.uniform();
      b[i] = 0.1 + 3.0 * rng.uniform();
    }
    const std::vector<double> mu1 = random_vec(rng, D, 1.0), mu2 = random_vec(rng, D, 1.0);
    double expect = 0;
    for (int64_t i = 0; i < D; ++i)
      expect += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) +
                (std::sqrt(a[i]) - std::sqrt(b[i])) * (std::sqrt(a[i]) - std::sqrt(b[i]));
    // Diagonal.
    std::vector<double> S1(D * D, 0.0), S2(D * D, 0.0);
    for (int64_t i = 0; i < D; ++i) S1[i * D + i] = a[i], S2[i * D + i] = b[i];
    EXPECT_NEAR(frechet_distance(mu1, S1, mu2, S2), expect, 1e-12 * expect) << "diagonal D " << D;
    // Rotated: same eigenvalues, dense matrices.
    const std::vector<double> Q = random_orthogonal(rng, D);
    const std::vector<double> R1 = rotate_diag(Q, a), R2 = rotate_diag(Q, b);
    // Reason for 1e-10 (measured ~5e-16): eigendecompositions of dense matrices, eigenvalues
    // 0.1..3.1; margin for other LAPACK builds.
    EXPECT_NEAR(frechet_distance(mu1, R1, mu2, R2), expect, 1e-10 * expect) << "rotated D " << D;
    EXPECT_NEAR(frechet_distance(mu2, R2, mu1, R1), expect, 1e-10 * expect) << "swapped D " << D;
    // A distribution against itself: 0 (clamped; rounding would give +-1e-13).
    EXPECT_NEAR(frechet_distance(mu1, R1, mu1, R1), 0.0, 1e-10 * expect);
  }
}

TEST(FrechetDistance, SingularCovariances) {
  // Rank-deficient S1 (a point mass in some directions) still has a real, finite distance.
  const int64_t D = 3;
  std::vector<double> mu(D, 0.0), S1(D * D, 0.0), S2(D * D, 0.0);
  S1[0] = 4.0;  // diag(4, 0, 0)
  for (int64_t i = 0; i < D; ++i) S2[i * D + i] = 1.0;
  // sum (sqrt a - sqrt b)^2 = (2 - 1)^2 + 1 + 1 = 3
  EXPECT_NEAR(frechet_distance(mu, S1, mu, S2), 3.0, 1e-12);
  EXPECT_NEAR(frechet_distance(mu, S2, mu, S1), 3.0, 1e-12);
  std::vector<double> zero(D * D, 0.0);
  EXPECT_NEAR(frechet_distance(mu, zero, mu, S2), 3.0, 1e-12);
}

TEST(FrechetDistance, RejectsBadInput) {
  std::vector<double> mu(2, 0.0), S(4, 0.0), S3(9, 0.0), mu3(3, 0.0);
  EXPECT_THROW(frechet_distance(mu, S, mu3, S3), dcgan::Error);
  EXPECT_THROW(frechet_distance(mu, S3, mu, S), dcgan::Error);
  std::vector<double> nan_mu{0.0, NAN};
  EXPECT_THROW(frechet_distance(nan_mu, S, mu, S), dcgan::Error);
}

// Streaming estimates from many samples converge to the exact distance.
TEST(FrechetDistance, SampleEstimateConvergesToClosedForm) {
  Rng rng(4);
  const int64_t D = 8, N = 400000;
  std::vector<double> a(D), b(D), mu1(D), mu2(D), A1(D * D, 0.0), A2(D * D, 0.0);
  double expect = 0;
  for (int64_t i = 0; i < D; ++i) {
    a[i] = 0.5 + rng.uniform();
    b[i] = 0.5 + rng.uniform();
    mu1[i] = rng.normal();
    mu2[i] = mu1[i] + 0.2 * rng.normal();
    A1[i * D + i] = std::sqrt(a[i]);
    A2[i * D + i] = std::sqrt(b[i]);
    expect += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) +
              (std::sqrt(a[i]) - std::sqrt(b[i])) * (std::sqrt(a[i]) - std::sqrt(b[i]));
  }
  FeatureStats s1(D), s2(D);
  for (int64_t done = 0; done < N; done += 5000) {
    s1.add(gaussian_features(rng, 5000, mu1, A1));
    s2.add(gaussian_features(rng, 5000, mu2, A2));
  }
  const double got = frechet_distance(s1, s2);
  // Reason for 0.02 (expect is ~0.8; measured error 0.0025): with N = 4e5 per side the sampling noise of the mean term
  // (sd 2 |mu1 - mu2| sqrt((a + b) / N) ~ 0.003) and of the trace terms (~0.002) and the positive
  // bias from off-diagonal noise (~D^2 / N ~ 2e-4) are all well below it (> 5 sd).
  EXPECT_NEAR(got, expect, 0.02) << "expect " << expect;
}

// ---- FeatureReservoir ------------------------------------------------------------------------

TEST(FeatureReservoir, KeepsEverythingUnderCapacity) {
  Rng rng(5);
  const Tensor x = gaussian_features(rng, 50, std::vector<double>(3, 0.0), std::vector<double>(9, 1.0));
  FeatureReservoir r(3, 100, 9);
  r.add(rows_of(x, 0, 20));
  r.add(rows_of(x, 20, 30));
  ASSERT_EQ(r.size(), 50);
  EXPECT_EQ(r.seen(), 50);
  EXPECT_EQ(dcgan::max_abs_diff(r.features(), x), 0.0);
}

TEST(FeatureReservoir, IndependentOfBatchingAndUniform) {
  const int64_t N = 1000, D = 2, cap = 100;
  Tensor x({N, D});
  for (int64_t i = 0; i < N; ++i) x[i * D] = float(i), x[i * D + 1] = -float(i);
  FeatureReservoir whole(D, cap, 42);
  whole.add(x);
  ASSERT_EQ(whole.size(), cap);
  EXPECT_EQ(whole.seen(), N);
  for (int64_t batch : {1, 7, 333}) {
    FeatureReservoir r(D, cap, 42);
    for (int64_t r0 = 0; r0 < N; r0 += batch) r.add(x.data() + r0 * D, std::min(batch, N - r0));
    EXPECT_EQ(dcgan::max_abs_diff(r.features(), whole.features()), 0.0) << "batch " << batch;
  }
  // Inclusion frequency: each of 20 rows is kept with probability 5/20 over 4000 seeds;
  // expected count 1000, sd ~27, bound at ~6 sd.
  const int64_t n2 = 20, cap2 = 5, trials = 4000;
  std::vector<int> hits(n2, 0);
  for (int64_t seed = 0; seed < trials; ++seed) {
    FeatureReservoir r(1, cap2, seed);
    r.add(x.data(), 0);  // empty batch is fine
    for (int64_t i = 0; i < n2; ++i) {
      const float v = float(i);
      r.add(&v, 1);
    }
    for (int64_t k = 0; k < cap2; ++k) ++hits[static_cast<int>(r.features()[k])];
  }
  for (int64_t i = 0; i < n2; ++i) EXPECT_NEAR(hits[i], 1000, 160) << "row " << i;
}

// ---- KID -------------------------------------------------------------------------------------

TEST(Kid, SubsetsAreDeterministicAndClamped) {
  KidOptions opt;
  opt.n_subsets = 4;
  opt.subset_size = 1000;
  opt.seed = 7;
  const KidSubsets a = draw_kid_subsets(300, 500, opt), b = draw_kid_subsets(300, 500, opt);
  EXPECT_EQ(a.subset_size, 300);  // clamped to the smaller set
  EXPECT_EQ(a.real, b.real);
  EXPECT_EQ(a.fake, b.fake);
  // Within a subset, indices are distinct and in range.
  for (int64_t s = 0; s < a.n_subsets; ++s) {
    std::vector<int64_t> r(a.real.begin() + s * 300, a.real.begin() + (s + 1) * 300);
    std::sort(r.begin(), r.end());
    for (int64_t i = 0; i < 300; ++i) EXPECT_EQ(r[i], i);  // m == N_real: a permutation
    std::vector<int64_t> f(a.fake.begin() + s * 300, a.fake.begin() + (s + 1) * 300);
    std::sort(f.begin(), f.end());
    EXPECT_TRUE(std::adjacent_find(f.begin(), f.end()) == f.end());
    EXPECT_GE(f.front(), 0);
    EXPECT_LT(f.back(), 500);
  }
  opt.seed = 8;
  EXPECT_NE(draw_kid_subsets(300, 500, opt).fake, a.fake);
  EXPECT_THROW(draw_kid_subsets(1, 500, opt), dcgan::Error);
}

TEST(Kid, SameDistributionIsNearZeroDifferentIsPositive) {
  Rng rng(6);
  const int64_t D = 16;
  std::vector<double> mu(D, 0.0), A = random_vec(rng, D * D, 0.25), mu_far(D, 1.0);
  const Tensor x = gaussian_features(rng, 1000, mu, A), y = gaussian_features(rng, 1000, mu, A),
               z = gaussian_features(rng, 1000, mu_far, A);
  KidOptions opt;
  opt.n_subsets = 20;
  opt.subset_size = 500;
  const KidResult same = kernel_inception_distance(x, y, opt);
  const KidResult diff = kernel_inception_distance(x, z, opt);
  EXPECT_EQ(same.subset_size, 500);
  EXPECT_EQ(same.subset_mmd2.size(), 20u);
  // Unbiased: same-distribution KID is zero up to a few standard deviations.
  EXPECT_LT(std::abs(same.mean), 0.05 * diff.mean);
  EXPECT_GT(diff.mean, 10 * diff.stddev);
}

// ---- precision / recall ----------------------------------------------------------------------

TEST(PrecisionRecall, ConstructedCases) {
  Rng rng(8);
  const int64_t D = 10;
  std::vector<double> mu(D, 0.0), A(D * D, 0.0), far(D, 1000.0);
  for (int64_t i = 0; i < D; ++i) A[i * D + i] = 1.0;
  const Tensor x = gaussian_features(rng, 600, mu, A);
  PrecisionRecall same = precision_recall(x, x);
  EXPECT_EQ(same.precision, 1.0);
  EXPECT_EQ(same.recall, 1.0);
  const Tensor y = gaussian_features(rng, 400, far, A);
  PrecisionRecall disjoint = precision_recall(x, y);
  EXPECT_EQ(disjoint.precision, 0.0);
  EXPECT_EQ(disjoint.recall, 0.0);

  // 1-D, k = 1: reals 0..4 have radius 1; fakes {0.5, 10} have radius 9.5.
  // precision: 0.5 inside, 10 not -> 1/2. recall: every real within 9.5 of 0.5 -> 1.
  Tensor r({5, 1}), f({2, 1});
  for (int i = 0; i < 5; ++i) r[i] = float(i);
  f[0] = 0.5f, f[1] = 10.f;
  const PrecisionRecall pr = precision_recall(r, f, 1);
  EXPECT_EQ(pr.precision, 0.5);
  EXPECT_EQ(pr.recall, 1.0);
  const std::vector<double> radii = knn_radii(r, 2);  // 2nd neighbour: 2, 1, 1, 1, 2
  EXPECT_EQ(radii, (std::vector<double>{2, 1, 1, 1, 2}));
  EXPECT_EQ(fraction_inside(r, std::vector<double>(5, 0.4), f), 0.0);
  EXPECT_EQ(fraction_inside(r, std::vector<double>(5, 0.5), f), 0.5);  // closed ball

  EXPECT_THROW(precision_recall(r, f, 3), dcgan::Error);  // 2 fakes have no 3rd neighbour
  EXPECT_THROW(precision_recall(x, r), dcgan::Error);     // dimensions differ
}

TEST(PrecisionRecall, BlockBoundariesDoNotMatter) {
  // More rows than one row block (256) and one column block (1024): compare with brute force.
  Rng rng(9);
  const int64_t D = 4, N = 1300;
  std::vector<double> mu(D, 0.0), A = random_vec(rng, D * D, 1.0);
  const Tensor x = gaussian_features(rng, N, mu, A);
  const std::vector<double> radii = knn_radii(x, 3);
  for (int64_t i : {int64_t{0}, int64_t{255}, int64_t{256}, int64_t{1023}, int64_t{1024}, N - 1}) {
    std::vector<double> d;
    for (int64_t j = 0; j < N; ++j) {
      if (j == i) continue;
      double s = 0;
      for (int64_t c = 0; c < D; ++c) s += double(x[i * D + c] - x[j * D + c]) * (x[i * D + c] - x[j * D + c]);
      d.push_back(std::sqrt(s));
    }
    std::nth_element(d.begin(), d.begin() + 2, d.end());
    EXPECT_NEAR(radii[i], d[2], 1e-9 * (1 + d[2])) << "row " << i;
  }
}

// ---- against the numpy / scipy reference -----------------------------------------------------

struct RefCase {
  const char* name;
  int64_t D, n_real, n_fake;
  double shift;        // mean offset of the fake set
  int64_t subset_size;  // KID
};
void PrintTo(const RefCase& c, std::ostream* os) { *os << c.name; }  // readable ctest names

class MetricsReference : public ::testing::TestWithParam<RefCase> {};

TEST_P(MetricsReference, MatchesNumpyScipy) {
  REQUIRE_PYTHON();
  const RefCase c = GetParam();
  Rng rng(1000 + c.D);
  const int64_t D = c.D;
  // Different means and (non-commuting) covariances for the two sets.
  std::vector<double> mu_r = random_vec(rng, D, 1.0), A_r = random_vec(rng, D * D, 1.0 / std::sqrt(D));
  std::vector<double> mu_f = mu_r, A_f = A_r;
  for (auto& v : mu_f) v += c.shift * rng.normal();
  for (auto& v : A_f) v += 0.5 * rng.normal() / std::sqrt(D);
  const Tensor real = gaussian_features(rng, c.n_real, mu_r, A_r);
  const Tensor fake = gaussian_features(rng, c.n_fake, mu_f, A_f);

  TempDir dir(c.name);
  write_npy(dir.path / "real.npy", real);
  write_npy(dir.path / "fake.npy", fake);
  KidOptions kopt;
  kopt.n_subsets = 10;
  kopt.subset_size = c.subset_size;
  kopt.seed = 11;
  const KidSubsets subsets = draw_kid_subsets(c.n_real, c.n_fake, kopt);
  write_npy(dir.path / "kid_idx_real.npy", subsets.real.data(), subsets.n_subsets,
            subsets.subset_size, "<i8");
  write_npy(dir.path / "kid_idx_fake.npy", subsets.fake.data(), subsets.n_subsets,
            subsets.subset_size, "<i8");
  const nlohmann::json ref = run_reference("all --dir '" + dir.path.string() + "'", dir.path / "ref.json");
  ASSERT_FALSE(ref.is_null());

  // Statistics: both in double from the same float32 data; only summation order differs.
  FeatureStats sr(D), sf(D);
  for (int64_t r0 = 0; r0 < c.n_real; r0 += 100) sr.add(real.data() + r0 * D, std::min<int64_t>(100, c.n_real - r0));
  sf.add(fake);
  EXPECT_LT(max_abs(sr.mean(), ref["mu_real"].get<std::vector<double>>()), 1e-12);
  EXPECT_LT(max_abs(sr.covariance(), ref["sigma_real"].get<std::vector<double>>()), 1e-12);
  EXPECT_LT(max_abs(sf.mean(), ref["mu_fake"].get<std::vector<double>>()), 1e-12);
  EXPECT_LT(max_abs(sf.covariance(), ref["sigma_fake"].get<std::vector<double>>()), 1e-12);

  // FID. Reason for 1e-10 relative (measured ~1e-13): scipy's Schur-based sqrtm of the
  // non-symmetric S1 S2 vs our symmetric eigendecompositions, on well-conditioned covariances.
  const double fid = frechet_distance(sr, sf), ref_fid = ref["fid"].get<double>();
  EXPECT_NEAR(fid, ref_fid, 1e-10 * std::abs(ref_fid)) << c.name;

  // KID on the same subsets. Reason for 1e-10 absolute (measured <= 2e-12): kernel sums of m^2
  // terms of size ~1..100 in double, different summation orders (BLAS vs numpy).
  const KidResult kid = kernel_inception_distance(real, fake, subsets);
  const auto ref_sub = ref["kid_subsets"].get<std::vector<double>>();
  EXPECT_LT(max_abs(kid.subset_mmd2, ref_sub), 1e-10);
  EXPECT_NEAR(kid.mean, ref["kid_mean"].get<double>(), 1e-10);
  EXPECT_NEAR(kid.stddev, ref["kid_std"].get<double>(), 1e-10);
  EXPECT_GT(kid.mean, 0.0);

  // Precision / recall: counts must match exactly (ties have probability zero here); the radii
  // agree to rounding of |a|^2 + |b|^2 - 2ab vs explicit differences.
  const PrecisionRecall pr = precision_recall(real, fake, 3);
  EXPECT_EQ(pr.precision, ref["precision"].get<double>());
  EXPECT_EQ(pr.recall, ref["recall"].get<double>());
  const std::vector<double> radii = knn_radii(real, 3);
  const auto ref_radii = ref["radii_real"].get<std::vector<double>>();
  ASSERT_EQ(radii.size(), ref_radii.size());
  for (size_t i = 0; i < radii.size(); ++i)
    ASSERT_NEAR(radii[i], ref_radii[i], 1e-9 * (1 + ref_radii[i])) << "radius " << i;
  std::printf("[%s] FID %.6f (ref %.6f)  KID %.6g +- %.3g  precision %.4f  recall %.4f\n", c.name,
              fid, ref_fid, kid.mean, kid.stddev, pr.precision, pr.recall);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MetricsReference,
    ::testing::Values(RefCase{"d8", 8, 600, 500, 0.4, 1000},    // KID subset clamped to 500
                      RefCase{"d64", 64, 1500, 1200, 0.3, 400},
                      RefCase{"d64_close", 64, 1100, 1000, 0.02, 300}),
    [](const ::testing::TestParamInfo<RefCase>& i) { return std::string(i.param.name); });

TEST(MetricsReference, FidFromGivenStatistics) {
  // Exact (not sampled) non-commuting parameters through the reference's fid-stats mode.
  REQUIRE_PYTHON();
  Rng rng(12);
  const int64_t D = 32;
  auto spd = [&](double jitter) {
    std::vector<double> B = random_vec(rng, D * D, 1.0), S(D * D, 0.0);
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < D; ++j) {
        for (int64_t k = 0; k < D; ++k) S[i * D + j] += B[i * D + k] * B[j * D + k] / D;
        if (i == j) S[i * D + j] += jitter;
      }
    return S;
  };
  const std::vector<double> S1 = spd(0.1), S2 = spd(0.5), mu1 = random_vec(rng, D, 1.0),
                            mu2 = random_vec(rng, D, 1.0);
  TempDir dir("stats");
  auto save = [&](const char* name, const std::vector<double>& v, int64_t rows, int64_t cols) {
    write_npy(dir.path / name, v.data(), rows, cols, "<f8");
  };
  save("mu1.npy", mu1, 1, D);
  save("mu2.npy", mu2, 1, D);
  save("s1.npy", S1, D, D);
  save("s2.npy", S2, D, D);
  const std::string p = dir.path.string();
  const nlohmann::json ref = run_reference("fid-stats --mu1 '" + p + "/mu1.npy' --sigma1 '" + p +
                                               "/s1.npy' --mu2 '" + p + "/mu2.npy' --sigma2 '" + p +
                                               "/s2.npy'",
                                           dir.path / "ref.json");
  ASSERT_FALSE(ref.is_null());
  const double ref_fid = ref["fid"].get<double>();
  // Reason for 1e-10 relative (measured ~1e-15): see MatchesNumpyScipy.
  EXPECT_NEAR(frechet_distance(mu1, S1, mu2, S2), ref_fid, 1e-10 * ref_fid);
}

}  // namespace
