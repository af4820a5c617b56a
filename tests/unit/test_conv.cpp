// Conv2d / ConvTranspose2d: one parameterised harness over many geometries.
//   (a) both float implementations (reference loops and the oneDNN fast path) against the
//       reference loops run in double, for forward, backward_data and backward_weights, with the
//       assign / accumulate contract checked on pre-filled buffers;
//   (b) finite-difference gradients of the double reference on L = dot(y, g);
//   plus the transposed-conv / conv-data-gradient duality, one hand-computed case, and
//   ConvGeom::validate's messages.
// Legend: N batch, C_in / C_out channels, H/W input size, Ho/Wo output size, k kernel.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "dcgan/error.hpp"
#include "core/rng.hpp"
#include "ops/conv.hpp"
#include "ops/cpu/conv_cpu.hpp"

namespace {

using dcgan::ops::ConvGeom;
using dcgan::ops::Impl;
using namespace dcgan::ops::cpu;
using Vec = std::vector<float>;
using DVec = std::vector<double>;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

ConvGeom conv(int64_t N, int64_t C_in, int64_t H, int64_t W, int64_t C_out, int64_t k, int64_t s,
              int64_t p, bool bias) {
  ConvGeom g;
  g.N = N, g.C_in = C_in, g.H = H, g.W = W, g.C_out = C_out;
  g.kernel = k, g.stride = s, g.padding = p, g.output_padding = 0;
  g.transposed = false, g.has_bias = bias;
  return g;
}

ConvGeom convT(int64_t N, int64_t C_in, int64_t H, int64_t W, int64_t C_out, int64_t k,
               int64_t s, int64_t p, int64_t op, bool bias) {
  ConvGeom g = conv(N, C_in, H, W, C_out, k, s, p, bias);
  g.output_padding = op;
  g.transposed = true;
  return g;
}

// Element counts of the tensors of a geometry.
struct Sizes {
  int64_t x, y, w, b;
};
Sizes sizes(const ConvGeom& g) {
  return {g.N * g.C_in * g.H * g.W, g.N * g.C_out * g.Ho() * g.Wo(),
          g.C_in * g.C_out * g.kernel * g.kernel, g.C_out};
}

Vec randn(int64_t n, dcgan::Rng& rng) {
  Vec v(n);
  for (auto& e : v) e = rng.normal();
  return v;
}
DVec to_double(const Vec& v) { return DVec(v.begin(), v.end()); }
DVec abs_of(const Vec& v) {
  DVec a(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = std::fabs(double(v[i]));
  return a;
}

// got (float) against exact (double). `mag` is the same computation on absolute values
// (sum of |terms| per element), the natural scale of floating-point summation error:
// |got - exact| <= rel_tol * mag elementwise. NaN anywhere fails.
void expect_close(const char* what, const Vec& got, const DVec& exact, const DVec& mag,
                  double rel_tol) {
  ASSERT_EQ(got.size(), exact.size()) << what;
  double worst = 0;
  int64_t worst_i = -1, bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - exact[i]);
    if (!(err <= rel_tol * mag[i])) {
      if (bad++ == 0) worst_i = int64_t(i);
    }
    if (mag[i] > 0 && err / mag[i] > worst) worst = err / mag[i];
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size()
                    << " elements off; first at " << worst_i << ": got "
                    << (worst_i >= 0 ? got[worst_i] : 0.f) << " want "
                    << (worst_i >= 0 ? exact[worst_i] : 0.0) << "; worst |err|/sum|terms| "
                    << worst << " (tolerance " << rel_tol << ")";
}

struct Case {
  std::string name;
  ConvGeom g;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }  // gtest's name for a case

std::vector<Case> cases() {
  return {
      // Conv2d k4 s2 p1: the discriminator's downsampling layers.
      {"conv_k4s2p1_n2_c3to16_16x16_bias", conv(2, 3, 16, 16, 16, 4, 2, 1, true)},
      {"conv_k4s2p1_n1_c1to16_8x8", conv(1, 1, 8, 8, 16, 4, 2, 1, false)},
      {"conv_k4s2p1_n5_c16to32_8x8_bias", conv(5, 16, 8, 8, 32, 4, 2, 1, true)},
      {"conv_k4s2p1_n2_c32to64_4x4", conv(2, 32, 4, 4, 64, 4, 2, 1, false)},
      {"conv_k4s2p1_n2_c16to8_8x4_bias", conv(2, 16, 8, 4, 8, 4, 2, 1, true)},
      {"conv_k4s2p1_n2_c3to5_7x7_bias", conv(2, 3, 7, 7, 5, 4, 2, 1, true)},  // floor in Ho
      // Conv2d k4 s1 p0: the discriminator's final 4x4 valid conv to one logit.
      {"conv_k4s1p0_n5_c32to1_4x4_bias", conv(5, 32, 4, 4, 1, 4, 1, 0, true)},
      {"conv_k4s1p0_n2_c16to1_4x4", conv(2, 16, 4, 4, 1, 4, 1, 0, false)},
      // Conv2d k5 s2 p2.
      {"conv_k5s2p2_n2_c3to16_16x16_bias", conv(2, 3, 16, 16, 16, 5, 2, 2, true)},
      {"conv_k5s2p2_n2_c16to32_8x8", conv(2, 16, 8, 8, 32, 5, 2, 2, false)},
      {"conv_k5s2p2_n1_c1to3_5x5_bias", conv(1, 1, 5, 5, 3, 5, 2, 2, true)},
      // ConvTranspose2d k4 s2 p1: the generator's upsampling layers.
      {"convT_k4s2p1_n2_c32to16_4x4_bias", convT(2, 32, 4, 4, 16, 4, 2, 1, 0, true)},
      {"convT_k4s2p1_n5_c16to1_8x8_bias", convT(5, 16, 8, 8, 1, 4, 2, 1, 0, true)},
      {"convT_k4s2p1_n1_c16to3_1x1", convT(1, 16, 1, 1, 3, 4, 2, 1, 0, false)},
      {"convT_k4s2p1_n2_c64to32_2x2_bias", convT(2, 64, 2, 2, 32, 4, 2, 1, 0, true)},
      {"convT_k4s2p1_n2_c8to3_4x2_bias", convT(2, 8, 4, 2, 3, 4, 2, 1, 0, true)},
      {"convT_k4s2p1_n2_c3to16_16x16", convT(2, 3, 16, 16, 16, 4, 2, 1, 0, false)},
      // ConvTranspose2d k4 s1 p0: the generator's projection of z (1x1) to 4x4.
      {"convT_k4s1p0_n5_c16to32_1x1_bias", convT(5, 16, 1, 1, 32, 4, 1, 0, 0, true)},
      {"convT_k4s1p0_n2_c32to16_1x1", convT(2, 32, 1, 1, 16, 4, 1, 0, 0, false)},
      // ConvTranspose2d k5 s2 p2, output_padding 1 (exact doubling) and 0.
      {"convT_k5s2p2op1_n2_c16to3_4x4_bias", convT(2, 16, 4, 4, 3, 5, 2, 2, 1, true)},
      {"convT_k5s2p2op1_n2_c16to8_8x8", convT(2, 16, 8, 8, 8, 5, 2, 2, 1, false)},
      {"convT_k5s2p2op1_n1_c1to1_1x1_bias", convT(1, 1, 1, 1, 1, 5, 2, 2, 1, true)},
      {"convT_k5s2p2op0_n2_c3to4_4x4_bias", convT(2, 3, 4, 4, 4, 5, 2, 2, 0, true)},
  };
}

class ConvHarness : public ::testing::TestWithParam<Case> {};

// Float results against the double reference. Tolerance: float32 sums of K <= ~2k products in
// any order have error around sqrt(K) * 6e-8 * sum|terms| (measured worst here: 2.1e-7);
// 2e-5 leaves margin for larger reassociated sums, while a wrong or missing term is O(1e-2+).
constexpr double kFloatTol = 2e-5;

TEST_P(ConvHarness, MatchesDoubleReference) {
  const ConvGeom g = GetParam().g;
  g.validate();
  const Sizes n = sizes(g);
  dcgan::Rng rng(1234);
  const Vec x = randn(n.x, rng), w = randn(n.w, rng), b = randn(n.b, rng), dy = randn(n.y, rng);
  const Vec dw0 = randn(n.w, rng), db0 = randn(n.b, rng);  // pre-fill for accumulate
  const float* bp = g.has_bias ? b.data() : nullptr;

  // Exact results (double) and their sum-of-|terms| scales.
  const DVec xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);
  const DVec xa = abs_of(x), wa = abs_of(w), ba = abs_of(b), dya = abs_of(dy);
  DVec y_ex(n.y), y_mag(n.y), dx_ex(n.x), dx_mag(n.x);
  DVec dw_ex(n.w), dw_mag(n.w), db_ex(n.b), db_mag(n.b);
  conv_ref_forward<double>(g, xd.data(), wd.data(), bd.data(), y_ex.data());
  conv_ref_forward<double>(g, xa.data(), wa.data(), ba.data(), y_mag.data());
  conv_ref_backward_data<double>(g, dyd.data(), wd.data(), dx_ex.data());
  conv_ref_backward_data<double>(g, dya.data(), wa.data(), dx_mag.data());
  conv_ref_backward_weights<double>(g, xd.data(), dyd.data(), dw_ex.data(), db_ex.data(), false);
  conv_ref_backward_weights<double>(g, xa.data(), dya.data(), dw_mag.data(), db_mag.data(),
                                    false);
  // Accumulated: pre-fill + gradient; its scale gains |pre-fill|.
  DVec dw_acc(n.w), dw_acc_mag(n.w), db_acc(n.b), db_acc_mag(n.b);
  for (int64_t i = 0; i < n.w; ++i) {
    dw_acc[i] = double(dw0[i]) + dw_ex[i];
    dw_acc_mag[i] = std::fabs(double(dw0[i])) + dw_mag[i];
  }
  for (int64_t i = 0; i < n.b; ++i) {
    db_acc[i] = double(db0[i]) + db_ex[i];
    db_acc_mag[i] = std::fabs(double(db0[i])) + db_mag[i];
  }

  for (Impl impl : {Impl::reference, Impl::fast}) {
    SCOPED_TRACE(dcgan::ops::impl_name(impl));
    auto op = dcgan::ops::make_conv(g, impl);
    // Outputs pre-filled with NaN: an assigning pass must overwrite every element.
    Vec y(n.y, kNaN), dx(n.x, kNaN), dw(n.w, kNaN), db(n.b, kNaN);
    op->forward(x.data(), w.data(), bp, y.data());
    expect_close("forward y", y, y_ex, y_mag, kFloatTol);
    op->backward_data(dy.data(), w.data(), dx.data());
    expect_close("backward_data dx", dx, dx_ex, dx_mag, kFloatTol);
    op->backward_weights(x.data(), dy.data(), dw.data(), g.has_bias ? db.data() : nullptr, false);
    expect_close("backward_weights dw (assign)", dw, dw_ex, dw_mag, kFloatTol);
    if (g.has_bias) expect_close("backward_weights db (assign)", db, db_ex, db_mag, kFloatTol);

    // Accumulate into fresh buffers (new pointers, too) pre-filled with random values.
    Vec dw2 = dw0, db2 = db0;
    op->backward_weights(x.data(), dy.data(), dw2.data(), g.has_bias ? db2.data() : nullptr,
                         true);
    expect_close("backward_weights dw (accumulate)", dw2, dw_acc, dw_acc_mag, kFloatTol);
    if (g.has_bias)
      expect_close("backward_weights db (accumulate)", db2, db_acc, db_acc_mag, kFloatTol);
    else
      EXPECT_EQ(db2, db0) << "db must be left alone without a bias";

    // A second forward on other buffers gives the same answer (pointers are bound per call).
    Vec x2 = x, y2(n.y, kNaN);
    op->forward(x2.data(), w.data(), bp, y2.data());
    EXPECT_EQ(y2, y) << "forward is not repeatable";
  }
}

// Finite differences of the double reference on L(x, w, b) = dot(y(x, w, b), gy):
// dL/dx = backward_data(gy), dL/dw and dL/db = backward_weights(x, gy).
TEST_P(ConvHarness, ReferenceGradientsMatchFiniteDifferences) {
  const ConvGeom g = GetParam().g;
  const Sizes n = sizes(g);
  dcgan::Rng rng(99);
  DVec x = to_double(randn(n.x, rng)), w = to_double(randn(n.w, rng)),
       b = to_double(randn(n.b, rng)), gy = to_double(randn(n.y, rng));

  DVec y(n.y);
  // Returns L and, in `scale`, sum |y_i gy_i| (the size of the rounding in L).
  auto loss = [&](double* scale) {
    conv_ref_forward<double>(g, x.data(), w.data(), b.data(), y.data());
    double L = 0, s = 0;
    for (int64_t i = 0; i < n.y; ++i) L += y[i] * gy[i], s += std::fabs(y[i] * gy[i]);
    if (scale) *scale = s;
    return L;
  };
  double scale = 0;
  loss(&scale);

  DVec dx(n.x), dw(n.w), db(n.b);
  conv_ref_backward_data<double>(g, gy.data(), w.data(), dx.data());
  conv_ref_backward_weights<double>(g, x.data(), gy.data(), dw.data(), db.data(), false);

  // L is linear in each of x, w, b, so a central difference is exact up to double rounding,
  // about 1e-16 * scale / eps = 1e-13 * scale; 1e-9 * (1 + scale) is far below any real error.
  const double eps = 1e-3, tol = 1e-9 * (1 + scale);
  auto check = [&](const char* name, DVec& param, const DVec& grad) {
    // Every coordinate of small tensors, else the two ends and 8 random ones.
    std::vector<int64_t> idx;
    const int64_t sz = int64_t(param.size());
    if (sz <= 16) {
      for (int64_t i = 0; i < sz; ++i) idx.push_back(i);
    } else {
      idx = {0, sz - 1};
      for (int r = 0; r < 8; ++r) idx.push_back(int64_t(rng.below(uint64_t(sz))));
    }
    for (int64_t i : idx) {
      const double saved = param[i];
      param[i] = saved + eps;
      const double Lp = loss(nullptr);
      param[i] = saved - eps;
      const double Lm = loss(nullptr);
      param[i] = saved;
      const double fd = (Lp - Lm) / (2 * eps);
      EXPECT_NEAR(grad[i], fd, tol) << name << "[" << i << "]";
    }
  };
  check("dx", x, dx);
  check("dw", w, dw);
  if (g.has_bias) check("db", b, db);
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvHarness, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

// ConvTranspose2d's forward is Conv2d's data gradient with the same weight buffer:
// a transposed geometry (C_in -> C_out, H -> Ho) pairs with the conv (C_out -> C_in, Ho -> H),
// whose weight (C_out_conv, C_in_conv, k, k) = (C_in, C_out, k, k) is the transposed layout.
TEST(Conv, TransposedForwardIsConvDataGradient) {
  for (const Case& c : cases()) {
    const ConvGeom t = c.g;
    if (!t.transposed) continue;
    SCOPED_TRACE(c.name);
    const ConvGeom cv = conv(t.N, t.C_out, t.Ho(), t.Wo(), t.C_in, t.kernel, t.stride, t.padding,
                             false);
    ASSERT_EQ(cv.Ho(), t.H);
    ASSERT_EQ(cv.Wo(), t.W);
    const Sizes n = sizes(t);
    dcgan::Rng rng(7);
    const DVec x = to_double(randn(n.x, rng)), w = to_double(randn(n.w, rng));
    const DVec zero_b(n.b, 0.0);
    DVec y_t(n.y), y_c(n.y);
    conv_ref_forward<double>(t, x.data(), w.data(), zero_b.data(), y_t.data());
    conv_ref_backward_data<double>(cv, x.data(), w.data(), y_c.data());
    for (int64_t i = 0; i < n.y; ++i)
      ASSERT_NEAR(y_t[i], y_c[i], 1e-12 * (1 + std::fabs(y_c[i])))  // same sum, other order
          << "at " << i;
  }
}

// oneDNN 2.6 falls back to its reference kernels ("ref:any") for layouts its fast kernels do
// not take, 100-1000x slower: the fast path must never end up there, for the harness shapes and
// for the seed models' layers at batch 64 (construction only; nothing is run).
TEST(Conv, FastPathAvoidsOneDnnReferenceKernels) {
  std::vector<ConvGeom> geoms;
  for (const Case& c : cases()) geoms.push_back(c.g);
  for (bool bias : {false, true}) {
    for (int64_t c_img : {1, 3}) {
      geoms.push_back(convT(64, 128, 2, 2, 64, 4, 2, 1, 0, bias));
      geoms.push_back(convT(64, 16, 16, 16, c_img, 4, 2, 1, 0, bias));
      geoms.push_back(convT(64, 16, 32, 32, c_img, 4, 2, 1, 0, bias));
      geoms.push_back(conv(64, c_img, 32, 32, 16, 4, 2, 1, bias));
      geoms.push_back(conv(64, c_img, 64, 64, 16, 4, 2, 1, bias));
      geoms.push_back(conv(64, 128, 4, 4, 1, 4, 1, 0, bias));
    }
  }
  for (const ConvGeom& g : geoms) {
    auto op = dcgan::ops::make_conv(g, Impl::fast);
    const std::string info = onednn_conv_info(*op);
    EXPECT_FALSE(info.empty());
    EXPECT_EQ(info.find("ref"), std::string::npos)
        << info << " for " << (g.transposed ? "convT" : "conv") << " N=" << g.N
        << " C_in=" << g.C_in << " H=" << g.H << " C_out=" << g.C_out;
  }
}

// Worked by hand: x = 1..9 as a 3x3 image, 3x3 all-ones kernel, stride 2, padding 1 gives 2x2
// outputs, each the sum of the in-bounds 2x2 corner of its window, plus the bias 0.5.
TEST(Conv, HandComputedCase) {
  const ConvGeom g = conv(1, 1, 3, 3, 1, 3, 2, 1, true);
  ASSERT_EQ(g.Ho(), 2);
  const Vec x{1, 2, 3, 4, 5, 6, 7, 8, 9}, w(9, 1.f), b{0.5f};
  const Vec want{12.5f, 16.5f, 24.5f, 28.5f};  // 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9
  for (Impl impl : {Impl::reference, Impl::fast}) {
    Vec y(4, kNaN);
    dcgan::ops::make_conv(g, impl)->forward(x.data(), w.data(), b.data(), y.data());
    EXPECT_EQ(y, want) << dcgan::ops::impl_name(impl);  // small integers: exact in float
  }
}

TEST(Conv, OutputSizes) {
  EXPECT_EQ(conv(1, 1, 32, 32, 1, 4, 2, 1, true).Ho(), 16);
  EXPECT_EQ(conv(1, 1, 4, 4, 1, 4, 1, 0, true).Ho(), 1);
  EXPECT_EQ(conv(1, 1, 8, 6, 1, 5, 2, 2, true).Wo(), 3);
  EXPECT_EQ(convT(1, 1, 16, 16, 1, 4, 2, 1, 0, true).Ho(), 32);
  EXPECT_EQ(convT(1, 1, 1, 1, 1, 4, 1, 0, 0, true).Ho(), 4);
  EXPECT_EQ(convT(1, 1, 4, 2, 1, 5, 2, 2, 1, true).Wo(), 4);
  EXPECT_EQ(convT(1, 1, 4, 4, 1, 5, 2, 2, 0, true).Ho(), 7);
}

// validate() (and make_conv, which calls it) rejects impossible geometries, naming the field.
TEST(Conv, ValidateNamesTheBadField) {
  struct Bad {
    ConvGeom g;
    std::string expect;  // substring of the message
  };
  auto with = [](ConvGeom g, auto edit) {
    edit(g);
    return g;
  };
  const ConvGeom c = conv(2, 3, 8, 8, 4, 4, 2, 1, true);
  const ConvGeom t = convT(2, 3, 8, 8, 4, 4, 2, 1, 0, true);
  const std::vector<Bad> bad{
      {with(c, [](ConvGeom& g) { g.N = 0; }), "[conv2d] batch N"},
      {with(c, [](ConvGeom& g) { g.C_in = 0; }), "C_in"},
      {with(t, [](ConvGeom& g) { g.C_out = -1; }), "[conv_transpose2d] output channels C_out"},
      {with(c, [](ConvGeom& g) { g.W = 0; }), "H x W"},
      {with(c, [](ConvGeom& g) { g.kernel = 0; }), "kernel must be positive"},
      {with(c, [](ConvGeom& g) { g.stride = 0; }), "stride must be positive"},
      {with(c, [](ConvGeom& g) { g.padding = -1; }), "padding must be non-negative"},
      {with(c, [](ConvGeom& g) { g.padding = 4; }), "padding 4 must be smaller than kernel 4"},
      {conv(1, 1, 4, 4, 1, 7, 1, 0, false), "[conv2d] kernel 7 larger than padded input 4"},
      {conv(1, 1, 4, 2, 1, 5, 1, 1, false), "kernel 5 larger than padded input 4"},
      {with(c, [](ConvGeom& g) { g.output_padding = 1; }), "output_padding 1 is only meaningful"},
      {with(t, [](ConvGeom& g) { g.output_padding = 2; }),
       "output_padding 2 must be smaller than stride 2"},
      {with(t, [](ConvGeom& g) { g.output_padding = -1; }), "output_padding must be non-negative"},
      {convT(1, 1, 1, 1, 1, 4, 1, 2, 0, false), "[conv_transpose2d] padding 2 too large"},
  };
  for (const Bad& b : bad) {
    for (int via_make = 0; via_make < 2; ++via_make) {
      try {
        if (via_make)
          dcgan::ops::make_conv(b.g, Impl::fast);
        else
          b.g.validate();
        ADD_FAILURE() << "accepted a bad geometry; expected: " << b.expect;
      } catch (const dcgan::Error& e) {
        EXPECT_NE(std::string(e.what()).find(b.expect), std::string::npos)
            << "message '" << e.what() << "' lacks '" << b.expect << "'";
      }
    }
  }
  EXPECT_NO_THROW(c.validate());
  EXPECT_NO_THROW(t.validate());
}

}  // namespace
