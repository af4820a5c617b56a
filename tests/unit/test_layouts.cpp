// The fast path's blocked layouts and fusions (dcgan/ops/layout.hpp), each against the NCHW
// reference it replaces:
//   - reorder_activation: fast vs reference, round trips;
//   - BatchNorm on nChw8c / nChw16c with a fused ReLU / LeakyReLU: fast and reference against
//     the unfused NCHW reference BatchNorm followed by the reference activation (train forward,
//     statistics, backward with the gradient contract, eval forward);
//   - the running-statistics replay (BatchNorm2d::apply_running_update) equals a second forward;
//   - convolutions reading / writing blocked x and y against the NCHW reference;
//   - whole networks: fast Sequential (blocked, fused, cached weights) against the reference
//     Sequential, and the cached weights following every kind of parameter change;
//   - GanStep with two D forward passes against the three-pass order written out by hand.
// Legend: N batch, C channels, HW pixels, b block (0: NCHW).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dcgan/error.hpp"
#include "core/rng.hpp"
#include "models/models.hpp"
#include "nn/layers.hpp"
#include "ops/activation.hpp"
#include "ops/batchnorm.hpp"
#include "ops/conv.hpp"
#include "ops/cpu/batchnorm_cpu.hpp"
#include "ops/cpu/conv_cpu.hpp"
#include "ops/layout.hpp"
#include "ops/loss.hpp"
#include "support/bn_bias_share.hpp"
#include "support/numeric.hpp"
#include "train/gan_step.hpp"

namespace dcgan::ops {
namespace {

using testing::kNaN;
using testing::randn;
using testing::Vec;
using testing::VecD;

// max |got - want| <= tol * max(|want|, floor); NaN fails.
template <class A, class B>
::testing::AssertionResult near_max(const A& got, const B& want, double tol, double floor = 0) {
  return testing::within_scale(got, want, tol, std::max(floor, testing::max_abs(want)));
}

Vec to_block(const Vec& plain, int64_t N, int64_t C, int64_t HW, int b) {
  Vec out(plain.size());
  reorder_activation(N, C, HW, 0, b, plain.data(), out.data(), Impl::reference);
  return out;
}
Vec to_plain(const Vec& blocked, int64_t N, int64_t C, int64_t HW, int b) {
  Vec out(blocked.size());
  reorder_activation(N, C, HW, b, 0, blocked.data(), out.data(), Impl::reference);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reorders
// ---------------------------------------------------------------------------------------------

TEST(Layout, ReorderFastMatchesReferenceAndRoundTrips) {
  struct Case {
    int64_t N, C, HW;
  };
  for (Case c : {Case{1, 8, 1}, Case{3, 16, 5}, Case{2, 32, 49}, Case{64, 64, 16}, Case{5, 48, 9}})
    for (int b : {8, 16}) {
      if (c.C % b) continue;
      SCOPED_TRACE(::testing::Message() << "N" << c.N << " C" << c.C << " HW" << c.HW << " b" << b);
      Rng rng(1);
      const Vec x = randn(rng, c.N * c.C * c.HW);
      Vec r(x.size(), kNaN), f(x.size(), kNaN), back(x.size(), kNaN);
      reorder_activation(c.N, c.C, c.HW, 0, b, x.data(), r.data(), Impl::reference);
      reorder_activation(c.N, c.C, c.HW, 0, b, x.data(), f.data(), Impl::fast);
      EXPECT_EQ(f, r);
      // Element (n, c, p) lands at act_offset.
      EXPECT_EQ(r[act_offset(b, c.C, c.HW, c.N - 1, c.C - 1, c.HW - 1)], x.back());
      EXPECT_EQ(r[act_offset(b, c.C, c.HW, 0, 1, 0)], x[act_offset(0, c.C, c.HW, 0, 1, 0)]);
      reorder_activation(c.N, c.C, c.HW, b, 0, f.data(), back.data(), Impl::fast);
      EXPECT_EQ(back, x);
    }
  Vec x(6), y(6);
  EXPECT_THROW(reorder_activation(1, 6, 1, 0, 8, x.data(), y.data(), Impl::fast), Error);
}

// ---------------------------------------------------------------------------------------------
// BatchNorm on blocked layouts with a fused activation
// ---------------------------------------------------------------------------------------------

struct BnLayoutCase {
  int64_t N, C, HW;
  int block;
  BnAct act;
};
std::string name_of(const BnLayoutCase& c) {
  const char* a = !c.act.on ? "none" : c.act.act == Act::relu ? "relu" : "leaky";
  return "N" + std::to_string(c.N) + "_C" + std::to_string(c.C) + "_HW" + std::to_string(c.HW) +
         "_b" + std::to_string(c.block) + "_" + a;
}

class BnLayout : public ::testing::TestWithParam<BnLayoutCase> {};

// The oracle: NCHW reference BatchNorm, then the reference activation as its own layer.
TEST_P(BnLayout, FusedBlockedMatchesUnfusedPlainReference) {
  const BnLayoutCase c = GetParam();
  const int64_t n = c.N * c.C * c.HW;
  const BatchNormGeom plain{c.N, c.C, c.HW, 0}, g{c.N, c.C, c.HW, c.block};
  const float eps = 1e-5f;
  Rng rng(7);
  Vec x(static_cast<size_t>(n));
  for (int64_t ch = 0; ch < c.C; ++ch) {
    const float m = rng.normal(0.f, 2.f), s = 0.2f + 2.f * float(rng.uniform());
    for (int64_t nn = 0; nn < c.N; ++nn)
      for (int64_t p = 0; p < c.HW; ++p) x[act_offset(0, c.C, c.HW, nn, ch, p)] = rng.normal(m, s);
  }
  const Vec gamma = randn(rng, c.C, 1.f, 0.3f), beta = randn(rng, c.C), dz = randn(rng, n);
  const Vec dgamma0 = randn(rng, c.C), dbeta0 = randn(rng, c.C);
  const Vec rm = randn(rng, c.C), rv = [&] {
    Vec v(static_cast<size_t>(c.C));
    for (auto& e : v) e = 0.5f + float(rng.uniform());
    return v;
  }();

  // Oracle, NCHW.
  Vec y(static_cast<size_t>(n)), z(static_cast<size_t>(n)), sm(static_cast<size_t>(c.C)), si(static_cast<size_t>(c.C)), dy(static_cast<size_t>(n)), dx(static_cast<size_t>(n));
  VecD bm(static_cast<size_t>(c.C)), bv(static_cast<size_t>(c.C));
  batchnorm_forward_train_stats(plain, x.data(), gamma.data(), beta.data(), eps, y.data(),
                                sm.data(), si.data(), bm.data(), bv.data(), BnAct{},
                                Impl::reference);
  const float slope = c.act.slope;
  if (c.act.on) {
    activation_forward(c.act.act, slope, n, y.data(), z.data(), Impl::reference);
    activation_backward(c.act.act, slope, n, y.data(), z.data(), dz.data(), dy.data(),
                        Impl::reference);
  } else {
    z = y;
    dy = dz;
  }
  Vec dgamma = dgamma0, dbeta = dbeta0;
  batchnorm_backward(plain, x.data(), dy.data(), gamma.data(), sm.data(), si.data(), dx.data(),
                     dgamma.data(), dbeta.data(), Impl::reference);
  Vec ze(static_cast<size_t>(n));
  batchnorm_forward_eval(plain, x.data(), gamma.data(), beta.data(), eps, rm.data(), rv.data(),
                         ze.data(), Impl::reference);
  if (c.act.on) activation_forward(c.act.act, slope, n, ze.data(), ze.data(), Impl::reference);

  const Vec xb = to_block(x, c.N, c.C, c.HW, c.block), dzb = to_block(dz, c.N, c.C, c.HW, c.block);
  for (Impl impl : {Impl::reference, Impl::fast}) {
    SCOPED_TRACE(impl_name(impl));
    Vec zb(static_cast<size_t>(n), kNaN), smb(static_cast<size_t>(c.C), kNaN), sib(static_cast<size_t>(c.C), kNaN);
    VecD bmb(static_cast<size_t>(c.C)), bvb(static_cast<size_t>(c.C));
    batchnorm_forward_train_stats(g, xb.data(), gamma.data(), beta.data(), eps, zb.data(),
                                  smb.data(), sib.data(), bmb.data(), bvb.data(), c.act, impl);
    EXPECT_TRUE(near_max(to_plain(zb, c.N, c.C, c.HW, c.block), z, 4e-6)) << "z";
    EXPECT_TRUE(near_max(smb, sm, 1e-6, 1.0)) << "save_mean";
    EXPECT_TRUE(near_max(sib, si, 1e-6)) << "save_invstd";
    EXPECT_TRUE(near_max(bmb, bm, 1e-6, 1.0)) << "batch_mean";
    EXPECT_TRUE(near_max(bvb, bv, 1e-6)) << "batch_var";

    // Backward: dx assigned (NaN pre-fill), dgamma / dbeta accumulated.
    Vec dxb(static_cast<size_t>(n), kNaN), dg = dgamma0, db = dbeta0;
    batchnorm_backward(g, xb.data(), dzb.data(), gamma.data(), smb.data(), sib.data(), dxb.data(),
                       dg.data(), db.data(), zb.data(), c.act, impl);
    // dx cancels; its error is measured against the size of its terms, |gamma invstd dy|.
    double dx_scale = 0;
    for (int64_t k = 0; k < n; ++k) dx_scale = testing::max_nan(dx_scale, std::abs(double(dy[k])));
    double gi = 0;
    for (int64_t ch = 0; ch < c.C; ++ch) gi = testing::max_nan(gi, std::abs(double(gamma[ch]) * si[ch]));
    EXPECT_TRUE(near_max(to_plain(dxb, c.N, c.C, c.HW, c.block), dx, 4e-6, dx_scale * gi)) << "dx";
    EXPECT_TRUE(near_max(dg, dgamma, 1e-5, 1.0)) << "dgamma";
    EXPECT_TRUE(near_max(db, dbeta, 1e-5, 1.0)) << "dbeta";
    // Without dx: the same parameter gradients.
    Vec dg2 = dgamma0, db2 = dbeta0;
    batchnorm_backward(g, xb.data(), dzb.data(), gamma.data(), smb.data(), sib.data(), nullptr,
                       dg2.data(), db2.data(), zb.data(), c.act, impl);
    EXPECT_EQ(dg2, dg);
    EXPECT_EQ(db2, db);

    Vec zeb(static_cast<size_t>(n), kNaN);
    batchnorm_forward_eval(g, xb.data(), gamma.data(), beta.data(), eps, rm.data(), rv.data(),
                           zeb.data(), c.act, impl);
    EXPECT_TRUE(near_max(to_plain(zeb, c.N, c.C, c.HW, c.block), ze, 4e-6)) << "eval z";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BnLayout,
    ::testing::Values(BnLayoutCase{2, 16, 3, 16, {}}, BnLayoutCase{3, 16, 5, 8, {true, Act::relu, 0.f}},
                      BnLayoutCase{64, 32, 16, 16, {true, Act::relu, 0.f}},
                      BnLayoutCase{64, 128, 4, 16, {true, Act::leaky_relu, 0.2f}},
                      BnLayoutCase{5, 48, 49, 8, {true, Act::leaky_relu, 0.2f}},
                      BnLayoutCase{7, 16, 256, 16, {true, Act::leaky_relu, 0.f}},
                      BnLayoutCase{4, 24, 7, 0, {true, Act::relu, 0.f}},
                      BnLayoutCase{64, 3, 64, 0, {true, Act::leaky_relu, 0.2f}},
                      BnLayoutCase{1, 64, 2, 16, {}}),
    [](const auto& info) { return name_of(info.param); });

TEST(BnLayout, BlockedStatisticsSurviveALargeMean) {
  // |mean| / std = 1e5, as FastStatisticsSurviveALargeMean in test_ops.cpp, on nChw8c / nChw16c
  // with HW = 100 (several float runs per tile).
  for (int b : {8, 16}) {
    const BatchNormGeom plain{16, 16, 100, 0}, g{16, 16, 100, b};
    Rng rng(25);
    Vec x(static_cast<size_t>(g.N * g.C * g.HW));
    for (auto& e : x) e = 1000.f + rng.normal(0.f, 0.01f);
    const Vec gamma(16, 1.f), beta(16, 0.f);
    Vec y_r(x.size()), y_f(x.size()), sm_r(16), si_r(16), sm_f(16), si_f(16);
    VecD m_r(16), v_r(16), m_f(16), v_f(16);
    batchnorm_forward_train_stats(plain, x.data(), gamma.data(), beta.data(), 1e-5f, y_r.data(),
                                  sm_r.data(), si_r.data(), m_r.data(), v_r.data(), BnAct{},
                                  Impl::reference);
    const Vec xb = to_block(x, g.N, g.C, g.HW, b);
    batchnorm_forward_train_stats(g, xb.data(), gamma.data(), beta.data(), 1e-5f, y_f.data(),
                                  sm_f.data(), si_f.data(), m_f.data(), v_f.data(), BnAct{},
                                  Impl::fast);
    EXPECT_TRUE(near_max(si_f, si_r, 1e-6)) << b;
    EXPECT_TRUE(near_max(v_f, v_r, 2e-6)) << b;
    EXPECT_TRUE(near_max(to_plain(y_f, g.N, g.C, g.HW, b), y_r, 4e-6)) << b;
  }
}

TEST(BnLayout, RefusesActivationsThatCannotBeFused) {
  const BatchNormGeom g{2, 2, 2, 0};
  Vec x(8, 1.f), p(2, 1.f), y(8), a(2), b(2);
  VecD m(2), v(2);
  for (BnAct bad : {BnAct{true, Act::tanh, 0.f}, BnAct{true, Act::leaky_relu, -0.1f}})
    EXPECT_THROW(batchnorm_forward_train_stats(g, x.data(), p.data(), p.data(), 1e-5f, y.data(),
                                               a.data(), b.data(), m.data(), v.data(), bad,
                                               Impl::fast),
                 Error);
  const BatchNormGeom bad_block{2, 12, 2, 8};
  Vec x2(48);
  EXPECT_THROW(batchnorm_forward_eval(bad_block, x2.data(), p.data(), p.data(), 1e-5f, p.data(),
                                      p.data(), x2.data(), Impl::fast),
               Error);
}

// The replayed running-statistics update is exactly the forward pass's.
TEST(BnLayout, ApplyRunningUpdateEqualsAnotherForward) {
  for (Impl impl : {Impl::reference, Impl::fast}) {
    BatchNorm2d a("bn", 16, 0.8f, 0.1f), b("bn", 16, 0.8f, 0.1f);
    for (auto* l : {&a, &b}) {
      l->prepare({8, 16, 3, 3}, impl);
      for (auto& p : l->params()) p.value = Tensor(p.shape, 1.f);
    }
    Rng rng(3);
    Tensor x1({8, 16, 3, 3}), x2({8, 16, 3, 3}), y({8, 16, 3, 3});
    for (int64_t i = 0; i < x1.numel(); ++i) x1[i] = rng.normal(1.f, 2.f), x2[i] = rng.normal();
    // a: x1, x2, x1 through forward; b: x1, x2 through forward, then x1's statistics replayed.
    a.forward(x1, y, Mode::train);
    a.forward(x2, y, Mode::train);
    a.forward(x1, y, Mode::train);
    b.forward(x1, y, Mode::train);
    const BatchNorm2d::BatchStats s = b.last_batch_stats();
    b.forward(x2, y, Mode::train);
    b.apply_running_update(s);
    for (int k : {0, 1})
      for (int64_t i = 0; i < 16; ++i)
        EXPECT_EQ(a.buffers()[k].value[i], b.buffers()[k].value[i]) << impl_name(impl);
    EXPECT_EQ(*a.num_batches_tracked(), 3);
    EXPECT_EQ(*b.num_batches_tracked(), 3);
  }
}

// ---------------------------------------------------------------------------------------------
// Convolutions on blocked layouts
// ---------------------------------------------------------------------------------------------

TEST(ConvLayout, BlockedFastMatchesPlainReference) {
  // x_block: 0 NCHW; 1 the block the fast path prefers on this CPU (8 if none); 8 nChw8c.
  const int pb = preferred_block(16) ? preferred_block(16) : 8;
  struct Case {
    bool transposed;
    int64_t N, C_in, H, C_out, k, s, p;
    bool bias;
    int x_block;
  };
  std::vector<Case> cases{
      {false, 4, 16, 8, 32, 4, 2, 1, true, 1},  {false, 3, 32, 8, 16, 4, 2, 1, false, 8},
      {true, 4, 32, 4, 16, 4, 2, 1, true, 1},   {true, 2, 16, 3, 16, 4, 2, 1, false, 8},
      {false, 2, 3, 16, 16, 4, 2, 1, true, 0},  {true, 2, 16, 8, 3, 4, 2, 1, true, 1},
      {true, 3, 20, 1, 32, 4, 1, 0, false, 0},  {false, 2, 32, 4, 1, 4, 1, 0, false, 1},
      {false, 2, 16, 8, 16, 5, 2, 2, true, 1},  {true, 2, 16, 4, 8, 5, 2, 2, true, 8},
      // Few-channel images (conv_few_channels.cpp): the generator's last layer and the
      // discriminator's first layer's data gradient; odd sizes, k5 with output_padding.
      {true, 3, 16, 8, 1, 4, 2, 1, true, 1},    {true, 2, 32, 5, 3, 4, 2, 1, false, 1},
      {true, 2, 16, 4, 3, 5, 2, 2, true, 1},    {true, 2, 16, 9, 3, 4, 2, 1, true, 8},
      {true, 2, 8, 3, 4, 4, 2, 1, true, 8},     {false, 3, 1, 16, 16, 4, 2, 1, true, 0},
      {true, 2, 48, 3, 4, 4, 2, 1, true, 8},
      {false, 2, 3, 9, 32, 4, 2, 1, false, 0},  {false, 2, 3, 8, 16, 5, 2, 2, true, 0}};
  for (const Case& c : cases) {
    ConvGeom g;
    g.N = c.N, g.C_in = c.C_in, g.H = g.W = c.H, g.C_out = c.C_out;
    g.kernel = c.k, g.stride = c.s, g.padding = c.p, g.transposed = c.transposed;
    g.output_padding = (c.k == 5 && c.transposed) ? 1 : 0;
    g.has_bias = c.bias;
    SCOPED_TRACE(::testing::Message() << (c.transposed ? "convT " : "conv ") << c.C_in << "->"
                                    << c.C_out << " H" << c.H << " k" << c.k << " x_block "
                                    << c.x_block);
    const int64_t xn = g.N * g.C_in * g.H * g.W, yn = g.N * g.C_out * g.Ho() * g.Wo();
    const int64_t wn = g.C_in * g.C_out * g.kernel * g.kernel, xhw = g.H * g.W,
                  yhw = g.Ho() * g.Wo();
    Rng rng(11);
    const Vec x = randn(rng, xn), w = randn(rng, wn, 0.f, 0.1f), b = randn(rng, g.C_out),
              dy = randn(rng, yn);
    const float* bp = g.has_bias ? b.data() : nullptr;
    // Plain reference results.
    auto ref = make_conv(g, Impl::reference);
    Vec y(static_cast<size_t>(yn)), dx(static_cast<size_t>(xn)), dw(static_cast<size_t>(wn)), db(static_cast<size_t>(g.C_out));
    ref->forward(x.data(), w.data(), bp, y.data());
    ref->backward_data(dy.data(), w.data(), dx.data());
    ref->backward_weights(x.data(), dy.data(), dw.data(), db.data(), false);

    ConvGeom gb = g;
    gb.x_block = c.x_block == 1 ? pb : c.x_block;
    gb.y_block = ConvGeom::kChooseBlock;
    for (Impl impl : {Impl::reference, Impl::fast}) {
      SCOPED_TRACE(impl_name(impl));
      auto op = make_conv(gb, impl);
      const int yb = op->geom().y_block;
      EXPECT_TRUE(yb == 0 || (g.C_out % yb == 0)) << yb;
      if (impl == Impl::reference) EXPECT_EQ(yb, 0);
      const Vec xb = gb.x_block ? to_block(x, g.N, g.C_in, xhw, gb.x_block) : x;
      const Vec dyb = yb ? to_block(dy, g.N, g.C_out, yhw, yb) : dy;
      Vec yo(static_cast<size_t>(yn), kNaN), dxo(static_cast<size_t>(xn), kNaN), dwo(static_cast<size_t>(wn), kNaN),
          dbo(static_cast<size_t>(g.C_out), kNaN);
      op->forward(xb.data(), w.data(), bp, yo.data());
      op->backward_data(dyb.data(), w.data(), dxo.data());
      op->backward_weights(xb.data(), dyb.data(), dwo.data(), g.has_bias ? dbo.data() : nullptr,
                           false);
      EXPECT_TRUE(near_max(yb ? to_plain(yo, g.N, g.C_out, yhw, yb) : yo, y, 2e-5)) << "y";
      EXPECT_TRUE(near_max(gb.x_block ? to_plain(dxo, g.N, g.C_in, xhw, gb.x_block) : dxo, dx,
                           2e-5))
          << "dx";
      EXPECT_TRUE(near_max(dwo, dw, 2e-5)) << "dw";
      if (g.has_bias) EXPECT_TRUE(near_max(dbo, db, 2e-5)) << "db";
      if (impl == Impl::fast) {
        const std::string info = cpu::onednn_conv_info(*op);
        EXPECT_EQ(info.find("ref"), std::string::npos) << info;
        // The few-channel kernel takes every pass it exists for.
        const bool few_fwd = g.transposed && yb == 0 && cpu::few_channels_available(g.C_out, g.C_in, gb.x_block, g.kernel, g.stride);
        const bool few_bwd = !g.transposed && gb.x_block == 0 && cpu::few_channels_available(g.C_in, g.C_out, yb, g.kernel, g.stride);
        EXPECT_EQ(info.starts_with("forward few_channels"), few_fwd) << info;
        EXPECT_EQ(info.find("backward_data few_channels") != std::string::npos, few_bwd) << info;
        // Its weight gradient where it beats oneDNN: 8-channel blocks (AVX2), <= 16 channels.
        const bool few_wgrad = !g.transposed && gb.x_block == 0 && yb == 8 && g.C_out <= 16 &&
                               cpu::few_channels_wgrad_available(g.C_in, g.C_out, yb, g.kernel, g.stride);
        EXPECT_EQ(info.find("backward_weights few_channels") != std::string::npos, few_wgrad) << info;
      }
    }
  }
}

// The few-channel weight gradient (conv_few_channels.cpp) called directly, for both blocks, so
// that it is checked on every CPU (the fast op uses it on AVX2 only): against the plain
// reference, assigned and accumulated, with and without bias; 16-channel groups and an 8-channel
// rest, k 3-5, odd sizes, stride 1 and 2.
TEST(ConvLayout, FewChannelWeightGradientMatchesReference) {
  struct Case {
    int64_t N, Cb, Cs, H, k, s, p;
    bool bias;
    int block;
  };
  const std::vector<Case> cases{
      {3, 1, 16, 16, 4, 2, 1, true, 8},  {3, 1, 16, 16, 4, 2, 1, true, 16},
      {2, 3, 16, 9, 4, 2, 1, false, 8},  {2, 3, 32, 9, 4, 2, 1, true, 16},
      {2, 3, 8, 8, 5, 2, 2, true, 8},    {2, 2, 24, 7, 3, 1, 1, true, 8},
      {2, 4, 32, 8, 4, 2, 1, false, 16}, {1, 3, 16, 6, 4, 2, 1, true, 8}};
  for (const Case& c : cases) {
    ConvGeom g;
    g.N = c.N, g.C_in = c.Cb, g.H = g.W = c.H, g.C_out = c.Cs, g.kernel = c.k, g.stride = c.s;
    g.padding = c.p, g.has_bias = c.bias;
    SCOPED_TRACE(::testing::Message() << c.Cb << "->" << c.Cs << " H" << c.H << " k" << c.k << " s" << c.s
                                    << " block " << c.block);
    ASSERT_TRUE(cpu::few_channels_wgrad_available(g.C_in, g.C_out, c.block, g.kernel, g.stride));
    const int64_t xn = g.N * g.C_in * g.H * g.W, yhw = g.Ho() * g.Wo(), wn = g.C_out * g.C_in * g.kernel * g.kernel;
    Rng rng(17);
    const Vec x = randn(rng, xn), dy = randn(rng, g.N * g.C_out * yhw), dw0 = randn(rng, wn), db0 = randn(rng, g.C_out);
    const cpu::FewChannelGeom fg{g.N, g.C_out, g.Ho(), g.Wo(), g.C_in, g.H, g.W, g.kernel, g.stride, g.padding, c.block};
    const Vec dyb = to_block(dy, g.N, g.C_out, yhw, c.block);
    for (bool accumulate : {false, true}) {
      Vec dw = dw0, db = db0, dw_ref = dw0, db_ref = db0;
      make_conv(g, Impl::reference)->backward_weights(x.data(), dy.data(), dw_ref.data(), db_ref.data(), accumulate);
      cpu::few_channels_backward_weights(fg, x.data(), dyb.data(), dw.data(), c.bias ? db.data() : nullptr,
                                         accumulate);
      EXPECT_TRUE(near_max(dw, dw_ref, 2e-5)) << "dw, accumulate " << accumulate;
      if (c.bias) EXPECT_TRUE(near_max(db, db_ref, 2e-5)) << "db, accumulate " << accumulate;
      else EXPECT_EQ(db, db0) << "no bias: db untouched";
    }
  }
  // A geometry it does not take is refused with a message, not computed wrongly.
  const cpu::FewChannelGeom bad{1, 12, 4, 4, 3, 8, 8, 4, 2, 1, 8};  // 12 channels: not whole blocks
  EXPECT_FALSE(cpu::few_channels_wgrad_available(3, 12, 8, 4, 2));
  Vec x(3 * 64), dy(12 * 16), dw(12 * 3 * 16);
  EXPECT_THROW(cpu::few_channels_backward_weights(bad, x.data(), dy.data(), dw.data(), nullptr, false), Error);
}

// With caching on, converted weights are reused until weights_changed(); without, never.
TEST(ConvLayout, WeightCacheFollowsWeightsChanged) {
  ConvGeom g;
  g.N = 2, g.C_in = 16, g.H = g.W = 8, g.C_out = 32, g.has_bias = false;
  Rng rng(5);
  Vec x = randn(rng, 2 * 16 * 64), w = randn(rng, 16 * 32 * 16, 0.f, 0.1f);
  Vec y1(2 * 32 * 16), y2(y1.size()), y_ref(y1.size());
  auto op = make_conv(g, Impl::fast);
  auto ref = make_conv(g, Impl::reference);
  op->cache_weights(true);
  op->forward(x.data(), w.data(), nullptr, y1.data());
  for (auto& e : w) e *= 2.f;
  op->weights_changed();
  op->forward(x.data(), w.data(), nullptr, y2.data());
  ref->forward(x.data(), w.data(), nullptr, y_ref.data());
  EXPECT_TRUE(near_max(y2, y_ref, 2e-5));
  for (size_t i = 0; i < y1.size(); ++i) ASSERT_NEAR(y2[i], 2 * y1[i], 1e-4 + 1e-5 * std::abs(y2[i]));
  op->cache_weights(false);
  for (auto& e : w) e *= 0.5f;
  op->forward(x.data(), w.data(), nullptr, y2.data());
  EXPECT_TRUE(near_max(y2, y1, 2e-5)) << "caching off: every call reads w";
}

// ---------------------------------------------------------------------------------------------
// Whole networks
// ---------------------------------------------------------------------------------------------

struct NetCase {
  const char* arch;
  int img, channels, ngf;
};

class NetLayout : public ::testing::TestWithParam<NetCase> {};

Vec vec_of(const Tensor& t) { return Vec(t.data(), t.data() + t.numel()); }

// Fast (blocked, fused, cached weights) against reference Sequential: train forward and
// backward, parameter gradients, running statistics, eval forward.
TEST_P(NetLayout, FastNetworkMatchesReferenceNetwork) {
  const NetCase p = GetParam();
  ModelConfig c = ModelConfig::defaults(p.arch);
  c.img_size = p.img;
  c.channels = p.channels;
  c.ngf = c.ndf = p.ngf;
  c.latent_dim = 20;
  for (int which = 0; which < 2; ++which) {
    SCOPED_TRACE(which == 0 ? "generator" : "discriminator");
    auto build = [&](Impl impl) {
      return which == 0 ? build_generator(c, impl) : build_discriminator(c, impl);
    };
    auto ref = build(Impl::reference), fast = build(Impl::fast);
    Rng init(9);
    init_dcgan_weights(*ref, init);
    fast->param_values().copy_from(ref->param_values());
    const int64_t B = 6;
    Rng rng(10);
    Tensor x = which == 0 ? Tensor({B, c.latent_dim}) : Tensor({B, c.channels, c.img_size, c.img_size});
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = which == 0 ? rng.normal() : 2.f * float(rng.uniform()) - 1.f;
    const Vec yr = vec_of(ref->forward(x, Mode::train)), yf = vec_of(fast->forward(x, Mode::train));
    EXPECT_TRUE(near_max(yf, yr, 1e-4)) << "output";
    Tensor gy(Shape(ref->forward(x, Mode::train).shape()));
    fast->forward(x, Mode::train);
    for (int64_t i = 0; i < gy.numel(); ++i) gy[i] = rng.normal();
    ref->zero_grad();
    fast->zero_grad();
    const Vec dxr = vec_of(ref->backward(gy, true)), dxf = vec_of(fast->backward(gy, true));
    EXPECT_TRUE(near_max(dxf, dxr, 1e-4)) << "input gradient";
    EXPECT_TRUE(near_max(vec_of(fast->param_grads()), vec_of(ref->param_grads()), 1e-4))
        << "parameter gradients";
    auto sr = ref->state(), sf = fast->state();
    for (size_t i = 0; i < sr.size(); ++i) {
      if (sr[i].is_param) continue;
      if (sr[i].i64) {
        EXPECT_EQ(*sf[i].i64, *sr[i].i64) << sr[i].name;
      } else {
        EXPECT_TRUE(near_max(vec_of(*sf[i].tensor), vec_of(*sr[i].tensor), 1e-5)) << sr[i].name;
      }
    }
    EXPECT_TRUE(near_max(vec_of(fast->forward(x, Mode::eval)), vec_of(ref->forward(x, Mode::eval)),
                         1e-4))
        << "eval output";
    // The fast path actually blocks and fuses where it can; the reference never does.
    int blocked = 0, fused = 0;
    for (int b : fast->activation_blocks()) blocked += b != 0;
    for (char f : fast->fused_layers()) fused += f != 0;
    for (int b : ref->activation_blocks()) EXPECT_EQ(b, 0);
    EXPECT_GT(fused, 0);
    EXPECT_EQ(fast->activation_blocks().front(), 0);
    EXPECT_EQ(fast->activation_blocks().back(), 0);
    if (preferred_block(p.ngf * 2) && p.ngf % preferred_block(p.ngf * 2) == 0)
      EXPECT_GT(blocked, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, NetLayout,
                         ::testing::Values(NetCase{"seed", 32, 1, 16}, NetCase{"seed", 16, 3, 8},
                                           NetCase{"dcgan", 32, 3, 16}, NetCase{"dcgan", 16, 1, 4}),
                         [](const auto& info) {
                           return std::string(info.param.arch) + std::to_string(info.param.img) +
                                  "c" + std::to_string(info.param.channels) + "f" +
                                  std::to_string(info.param.ngf);
                         });

// A network whose last layer writes a blocked tensor still returns NCHW and takes an NCHW
// output gradient (Sequential converts at the boundary).
TEST(NetLayout, BlockedLastLayerIsConvertedAtTheBoundary) {
  auto make = [](Impl impl) {
    auto net = std::make_unique<Sequential>(impl);
    net->add(Conv2d("c0", 3, 16, 4, 2, 1));
    net->add(std::make_unique<BatchNorm2d>("bn", 16));
    net->add(ReLU());
    net->finalize();
    return net;
  };
  auto ref = make(Impl::reference), fast = make(Impl::fast);
  Rng rng(12);
  for (int64_t i = 0; i < ref->num_params(); ++i) ref->param_values()[i] = rng.normal(0.f, 0.2f);
  fast->param_values().copy_from(ref->param_values());
  Tensor x({4, 3, 8, 8}), gy({4, 16, 4, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.normal();
  for (int64_t i = 0; i < gy.numel(); ++i) gy[i] = rng.normal();
  EXPECT_TRUE(near_max(vec_of(fast->forward(x, Mode::train)), vec_of(ref->forward(x, Mode::train)), 1e-4));
  if (preferred_block(16)) EXPECT_NE(fast->activation_blocks().back(), 0);
  ref->zero_grad();
  fast->zero_grad();
  EXPECT_TRUE(near_max(vec_of(fast->backward(gy, true)), vec_of(ref->backward(gy, true)), 1e-4));
  EXPECT_TRUE(near_max(vec_of(fast->param_grads()), vec_of(ref->param_grads()), 1e-4));
}

// Every way of changing parameters reaches the cached converted weights.
TEST(NetLayout, CachedWeightsFollowParameterChanges) {
  ModelConfig c = ModelConfig::defaults("dcgan");
  c.img_size = 16;
  c.ngf = c.ndf = 16;
  c.latent_dim = 8;
  auto fast = build_generator(c, Impl::fast), ref = build_generator(c, Impl::reference);
  Rng init(2);
  init_dcgan_weights(*ref, init);
  Tensor z({2, 8});
  for (int64_t i = 0; i < z.numel(); ++i) z[i] = init.normal();
  auto same = [&](const char* what) {
    fast->param_values().copy_from(ref->param_values());  // marks a change itself
    fast->forward(z, Mode::eval);
    EXPECT_TRUE(near_max(vec_of(fast->forward(z, Mode::eval)), vec_of(ref->forward(z, Mode::eval)), 1e-4))
        << what;
  };
  same("param_values");
  // Through state(): scale every conv weight.
  auto scale_state = [](Sequential& n) {
    for (auto& e : n.state())
      if (e.is_param && e.name.find("weight") != std::string::npos)
        for (int64_t i = 0; i < e.tensor->numel(); ++i) (*e.tensor)[i] *= 1.5f;
  };
  scale_state(*ref);
  scale_state(*fast);
  EXPECT_TRUE(near_max(vec_of(fast->forward(z, Mode::eval)), vec_of(ref->forward(z, Mode::eval)), 1e-4))
      << "state()";
  // Through a pointer kept across a forward pass, announced with mark_params_changed().
  float* pf = fast->param_values().data();
  float* pr = ref->param_values().data();
  fast->forward(z, Mode::eval);
  for (int64_t i = 0; i < fast->num_params(); ++i) pf[i] *= -1.f, pr[i] *= -1.f;
  fast->mark_params_changed();
  EXPECT_TRUE(near_max(vec_of(fast->forward(z, Mode::eval)), vec_of(ref->forward(z, Mode::eval)), 1e-4))
      << "mark_params_changed()";
  // Through layers() (e.g. init_dcgan_weights).
  Rng again(4);
  init_dcgan_weights(*ref, again);
  Rng again2(4);
  init_dcgan_weights(*fast, again2);
  EXPECT_TRUE(near_max(vec_of(fast->forward(z, Mode::eval)), vec_of(ref->forward(z, Mode::eval)), 1e-4))
      << "layers()";
}

// GanStep runs D forward twice; the three-pass order (PyTorch's: G step, then D on real, then D
// on gen.detach()) written out by hand must give the same losses, parameters, running statistics
// and counters, for both architectures (seed: conv biases before every BatchNorm; dcgan: none).
TEST(GanStepOrder, TwoDForwardPassesEqualThree) {
  for (const char* arch : {"seed", "dcgan"}) {
    ModelConfig c = ModelConfig::defaults(arch);
    c.img_size = 16;
    c.ngf = c.ndf = 8;
    c.latent_dim = 10;
    for (Impl impl : {Impl::reference, Impl::fast}) {
      SCOPED_TRACE(std::string(arch) + " " + impl_name(impl));
      GanOptions opt;
      opt.real_label = 0.9f;
      GanStep gs(c, opt, impl);
      auto G = build_generator(c, impl), D = build_discriminator(c, impl);
      Rng init(1);
      init_dcgan_weights(*gs.G, init);
      init_dcgan_weights(*gs.D, init);
      G->param_values().copy_from(gs.G->param_values());
      D->param_values().copy_from(gs.D->param_values());
      Adam g_opt(G->num_params(), opt.g_adam), d_opt(D->num_params(), opt.d_adam);
      const int64_t B = 8;
      Tensor ones({B, 1}, 1.f), zeros({B, 1}, 0.f), reals({B, 1}, opt.real_label), dp({B, 1});
      // Redundant biases (before a BatchNorm): D's parameter gradients below are the same sum in
      // another order (fake + real instead of real + fake), so these exactly-zero gradients get
      // different rounding noise, which Adam turns into different updates of up to 1.34 lr per
      // step (Adam's bound for t <= 5, see test_reference_train.cpp); their share of the
      // following running_mean is removed before comparing (support/bn_bias_share.hpp).
      struct Pair {
        Sequential *a, *b;
        std::set<std::string> zero;
        std::map<std::string, std::string> after_bias;
        std::map<std::string, testing::BiasShare> ca, cb;
      };
      std::vector<Pair> pairs = {{gs.G.get(), G.get(), {}, {}, {}, {}},
                                 {gs.D.get(), D.get(), {}, {}, {}, {}}};
      int corrected = 0;
      for (auto& q : pairs) {
        q.zero = testing::biases_before_bn(*q.a);
        q.after_bias = testing::bn_after_bias(*q.a, q.zero);
      }
      EXPECT_EQ(pairs[0].after_bias.empty() && pairs[1].after_bias.empty(), std::string(arch) == "dcgan");
      Rng rng(2);
      for (int step = 0; step < 3; ++step) {
        Tensor real({B, c.channels, 16, 16}), z({B, 10});
        for (int64_t i = 0; i < real.numel(); ++i) real[i] = 2.f * float(rng.uniform()) - 1.f;
        for (int64_t i = 0; i < z.numel(); ++i) z[i] = rng.normal();
        // The biases this step's forwards use, and the counters before it.
        std::vector<std::map<std::string, Vec>> bias_a(2), bias_b(2);
        std::vector<std::map<std::string, int64_t>> count_before(2);
        for (size_t q = 0; q < 2; ++q) {
          auto sa = pairs[q].a->state(), sb = pairs[q].b->state();
          for (size_t i = 0; i < sa.size(); ++i) {
            if (pairs[q].zero.count(sa[i].name)) {
              bias_a[q][sa[i].name] = vec_of(*sa[i].tensor);
              bias_b[q][sa[i].name] = vec_of(*sb[i].tensor);
            }
            if (sa[i].i64) count_before[q][sa[i].name] = *sa[i].i64;
          }
        }
        const StepStats s = gs.step(real, z);
        G->zero_grad();
        const Tensor& gen = G->forward(z, Mode::train);
        const Tensor& pf = D->forward(gen, Mode::train);
        const float g_loss = bce_forward(B, pf.data(), ones.data());
        bce_backward(B, pf.data(), ones.data(), 1.f, dp.data());
        G->backward(D->backward(dp, true, false), false, true);
        g_opt.step(G->param_values().data(), G->param_grads().data(), impl);
        D->zero_grad();
        const Tensor& pr = D->forward(real, Mode::train);
        const float real_loss = bce_forward(B, pr.data(), reals.data());
        bce_backward(B, pr.data(), reals.data(), 0.5f, dp.data());
        D->backward(dp, false, true);
        const Tensor& pf2 = D->forward(gen, Mode::train);
        const float fake_loss = bce_forward(B, pf2.data(), zeros.data());
        bce_backward(B, pf2.data(), zeros.data(), 0.5f, dp.data());
        D->backward(dp, false, true);
        d_opt.step(D->param_values().data(), D->param_grads().data(), impl);
        EXPECT_FLOAT_EQ(s.g_loss, g_loss);
        EXPECT_NEAR(s.d_loss, (real_loss + fake_loss) / 2, 1e-6);
        for (size_t q = 0; q < 2; ++q) {
          Pair& P = pairs[q];
          auto sa = P.a->state(), sb = P.b->state();
          for (size_t i = 0; i < sa.size(); ++i) {
            const std::string& name = sa[i].name;
            if (sa[i].i64) {
              EXPECT_EQ(*sa[i].i64, *sb[i].i64) << name;
              continue;
            }
            if (P.zero.count(name)) {
              // Noise either way (above): within Adam's bound per step on each side.
              const Vec a = vec_of(*sa[i].tensor), b = vec_of(*sb[i].tensor);
              double worst = 0;
              for (size_t j = 0; j < a.size(); ++j)
                worst = testing::max_nan(worst, std::fabs(double(a[j]) - double(b[j])));
              EXPECT_LE(worst, 2 * 1.34 * 2e-4 * (step + 1)) << name << " step " << step;
              continue;
            }
            if (P.after_bias.count(name)) {
              const std::string layer = name.substr(0, name.rfind('.'));
              const std::string bias = P.after_bias.at(name);
              int64_t k = 0;
              for (auto& e : sa)
                if (e.i64 && e.name == layer + ".num_batches_tracked") k = *e.i64 - count_before[q][e.name];
              EXPECT_GT(k, 0) << name;
              auto& ca = P.ca[name];
              auto& cb = P.cb[name];
              ca.c.resize(size_t(sa[i].tensor->numel()), 0.0);  // zeros on the first step
              cb.c.resize(size_t(sa[i].tensor->numel()), 0.0);
              ca.update(bias_a[q].at(bias).data(), k, c.bn_momentum);
              cb.update(bias_b[q].at(bias).data(), k, c.bn_momentum);
              EXPECT_TRUE(near_max(vec_of(ca.without(*sa[i].tensor)), vec_of(cb.without(*sb[i].tensor)), 1e-5, 1e-2))
                  << name << " (bias share removed) step " << step;
              ++corrected;
              continue;
            }
            // Equal up to the rounding of the reordered sum, which Adam's normalisation can scale
            // up to a small fraction of lr on small gradients (1e-7 absolute allowed).
            EXPECT_TRUE(near_max(vec_of(*sa[i].tensor), vec_of(*sb[i].tensor), 1e-5, 1e-2))
                << name << " step " << step;
          }
        }
      }
      EXPECT_EQ(corrected > 0, std::string(arch) == "seed");
    }
  }
}

}  // namespace
}  // namespace dcgan::ops
