// Sync-BN (ops::CrossSum, docs/distributed.md) without MPI: two threads stand for two ranks, each
// running BatchNorm's train-mode passes on its half of a batch, with a CrossSum that adds their
// partial sums (a barrier, as MPI_Allreduce is). Each half's outputs and input gradients must equal
// those of the whole batch in one call, its parameter gradients must add up to the whole batch's,
// and the statistics must be the whole batch's (count included). The whole-batch pass is the
// fast path, which tests/unit/test_ops.cpp checks against the double-precision reference and
// PyTorch.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "core/rng.hpp"
#include "dcgan/error.hpp"
#include "ops/batchnorm.hpp"
#include "ops/layout.hpp"

namespace dcgan::ops {
namespace {

// Sums n doubles over the two threads: both get the total.
class TwoRankSum {
 public:
  CrossSum for_rank(int r) {
    return [this, r](double* data, int64_t n) {
      part_[r].assign(data, data + n);
      sync_.arrive_and_wait();
      for (int64_t i = 0; i < n; ++i) data[i] = part_[0][size_t(i)] + part_[1][size_t(i)];
      sync_.arrive_and_wait();  // both have read before the next call overwrites
      ++calls_[r];
    };
  }
  int calls(int r) const { return calls_[r]; }

 private:
  std::barrier<> sync_{2};
  std::vector<double> part_[2];
  int calls_[2] = {0, 0};
};

struct Case {
  int block;
  BnAct act;
};

class SyncBn : public ::testing::TestWithParam<Case> {};

TEST_P(SyncBn, TwoHalvesWithCrossSumsEqualTheWholeBatch) {
  const Case c = GetParam();
  const int64_t N = 8, C = 16, HW = 9, half = N / 2 * C * HW;
  const size_t Cs = size_t(C);
  const BatchNormGeom whole{N, C, HW, c.block}, part{N / 2, C, HW, c.block};
  Rng rng(7);
  std::vector<float> x(size_t(N * C * HW)), dz(x.size()), gamma(Cs), beta(Cs);
  // An offset per channel well above its spread: the shift-free sums of sync-BN must still hold.
  for (size_t i = 0; i < x.size(); ++i) x[i] = 3.f + rng.normal();
  for (auto& v : dz) v = rng.normal();
  for (auto& v : gamma) v = 1.f + 0.3f * rng.normal();
  for (auto& v : beta) v = 0.2f * rng.normal();
  const float eps = 1e-5f;

  // The whole batch in one call.
  std::vector<float> y(x.size()), mean(Cs), invstd(Cs), dx(x.size()), dg(Cs, 0.f),
      db(Cs, 0.f);
  std::vector<double> bm(Cs), bv(Cs);
  batchnorm_forward_train_stats(whole, x.data(), gamma.data(), beta.data(), eps, y.data(), mean.data(),
                                invstd.data(), bm.data(), bv.data(), c.act, Impl::fast);
  batchnorm_backward(whole, x.data(), dz.data(), gamma.data(), mean.data(), invstd.data(), dx.data(), dg.data(),
                     db.data(), y.data(), c.act, Impl::fast);

  // Two halves, one per thread.
  TwoRankSum sum;
  struct Out {
    std::vector<float> y, mean, invstd, dx, dg, db;
    std::vector<double> bm, bv;
    int64_t count = 0;
  } out[2];
  auto rank = [&](int r) {
    Out& o = out[r];
    o.y.resize(size_t(half)), o.dx.resize(size_t(half));
    o.mean.resize(Cs), o.invstd.resize(Cs), o.bm.resize(Cs), o.bv.resize(Cs);
    o.dg.assign(Cs, 0.f), o.db.assign(Cs, 0.f);
    const CrossSum cross = sum.for_rank(r);
    const float* xr = x.data() + r * half;
    batchnorm_forward_train_stats(part, xr, gamma.data(), beta.data(), eps, o.y.data(), o.mean.data(),
                                  o.invstd.data(), o.bm.data(), o.bv.data(), c.act, Impl::fast, &cross, &o.count);
    batchnorm_backward(part, xr, dz.data() + r * half, gamma.data(), o.mean.data(), o.invstd.data(), o.dx.data(),
                       o.dg.data(), o.db.data(), o.y.data(), c.act, Impl::fast, &cross);
  };
  std::thread t1(rank, 1);
  rank(0);
  t1.join();

  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(out[r].count, N * HW);
    EXPECT_EQ(sum.calls(r), 3);  // the shift and the sums in forward, the sums in backward
    for (int64_t ch = 0; ch < C; ++ch) {
      // Both are sums of floats about a shift (batchnorm_fast.cpp), here different shifts: equal to
      // float rounding of the values' spread, not to double's.
      const double sd = std::sqrt(bv[size_t(ch)]);
      EXPECT_NEAR(out[r].bm[size_t(ch)], bm[size_t(ch)], 1e-6 * sd) << ch;
      EXPECT_NEAR(out[r].bv[size_t(ch)], bv[size_t(ch)], 1e-6 * bv[size_t(ch)]) << ch;
      EXPECT_NEAR(out[r].mean[size_t(ch)], mean[size_t(ch)], 1e-6f * std::abs(mean[size_t(ch)])) << ch;
      EXPECT_NEAR(out[r].invstd[size_t(ch)], invstd[size_t(ch)], 1e-6f * invstd[size_t(ch)]) << ch;
    }
    for (int64_t i = 0; i < half; ++i) {
      EXPECT_NEAR(out[r].y[size_t(i)], y[size_t(r * half + i)], 1e-5f) << "y, rank " << r << ", " << i;
      EXPECT_NEAR(out[r].dx[size_t(i)], dx[size_t(r * half + i)], 1e-5f) << "dx, rank " << r << ", " << i;
    }
  }
  for (int64_t ch = 0; ch < C; ++ch) {
    EXPECT_NEAR(out[0].dg[size_t(ch)] + out[1].dg[size_t(ch)], dg[size_t(ch)], 1e-4f) << ch;
    EXPECT_NEAR(out[0].db[size_t(ch)] + out[1].db[size_t(ch)], db[size_t(ch)], 1e-4f) << ch;
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, SyncBn,
                         ::testing::Values(Case{0, {}}, Case{8, {}}, Case{0, {true, Act::relu, 0.f}},
                                           Case{8, {true, Act::leaky_relu, 0.2f}},
                                           Case{16, {true, Act::relu, 0.f}}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           const Case& c = i.param;
                           const char* act = !c.act.on ? "plain" : c.act.act == Act::relu ? "relu" : "leaky";
                           return std::string(c.block ? "blocked" : "nchw") + std::to_string(c.block) + "_" + act;
                         });

TEST(SyncBnRefusal, TheReferencePathRefusesACrossSum) {
  const BatchNormGeom g{2, 1, 2, 0};
  std::vector<float> x = {1, 2, 3, 4}, y(4), m(1), s(1), gamma = {1}, beta = {0};
  std::vector<double> bm(1), bv(1);
  const CrossSum cross = [](double*, int64_t) {};
  EXPECT_THROW(batchnorm_forward_train_stats(g, x.data(), gamma.data(), beta.data(), 1e-5f, y.data(), m.data(),
                                             s.data(), bm.data(), bv.data(), {}, Impl::reference, &cross),
               Error);
}

}  // namespace
}  // namespace dcgan::ops
