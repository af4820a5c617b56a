// Every non-convolution op (Linear, BatchNorm2d, activations, BCE losses) and Adam:
//   - fast vs reference on many shapes (odd sizes, N 1..64, C 1..128, HW 1..256);
//   - the gradient contract: assigned outputs pre-filled with NaN are fully overwritten,
//     accumulated outputs pre-filled with values are added to;
//   - finite-difference gradients of L = dot(y, g), random g, evaluated in double through the
//     reference kernels' double instantiations;
//   - formulas stated independently here: BN eval mode, running statistics (unbiased variance),
//     PyTorch's BCE clamping, Adam's first step and bias correction.
// PyTorch itself is the oracle in tests/reference; these tests pin the kernels to each other and
// to the maths.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "dcgan/error.hpp"
#include "core/rng.hpp"
#include "ops/activation.hpp"
#include "ops/batchnorm.hpp"
#include "ops/cpu/activation_cpu.hpp"
#include "ops/cpu/batchnorm_cpu.hpp"
#include "ops/cpu/linear_cpu.hpp"
#include "ops/linear.hpp"
#include "ops/loss.hpp"
#include "optim/adam.hpp"
#include "support/numeric.hpp"

namespace dcgan::ops {
namespace {

using testing::kNaN;
using testing::randn;
using testing::Vec;
using testing::VecD;

// Default tolerance for a float result against the double reference, relative to the largest
// magnitude of the expected tensor: a few float ulps.
constexpr double kTol = 2e-6;

// Tolerance for a float sum of K products (BLAS) against the double reference: rounding errors of
// a length-K sum grow like sqrt(K) ulps (random-walk bound), here 2 ulps * sqrt(K).
double sum_tol(int64_t K) { return std::max(kTol, 2 * 1.2e-7 * std::sqrt(double(K))); }

Vec uniform(Rng& rng, int64_t n, double lo, double hi) {
  Vec v(n);
  for (auto& e : v) e = static_cast<float>(lo + (hi - lo) * rng.uniform());
  return v;
}
VecD to_double(const Vec& v) { return VecD(v.begin(), v.end()); }
Vec to_float(const VecD& v) { return Vec(v.begin(), v.end()); }

// max |got - want| <= tol * scale, scale = max |want| unless given (tol relative to the tensor's
// magnitude); NaN always fails.
template <class A, class B>
::testing::AssertionResult near_max(const A& got, const B& want, double tol, double scale = 0) {
  return testing::within_scale(got, want, tol, scale > 0 ? scale : testing::max_abs(want));
}

// |got - want| <= atol + rtol |want| for every element; NaN (and inf) always fails.
template <class A, class B>
::testing::AssertionResult near_each(const A& got, const B& want, double rtol, double atol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  for (size_t k = 0; k < want.size(); ++k) {
    const double g = got[k], w = want[k];
    if (!(std::abs(g - w) <= atol + rtol * std::abs(w)))  // NaN or inf in either fails
      return ::testing::AssertionFailure() << "element " << k << ": got " << g << ", want " << w;
  }
  return ::testing::AssertionSuccess();
}

bool all_finite(const Vec& v) {
  for (float e : v)
    if (!std::isfinite(e)) return false;
  return true;
}

double dot(const VecD& a, const VecD& b) {
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

// Checks grad == dL/dv by central differences over every element of v (double precision).
// L is re-evaluated from v's current contents.
::testing::AssertionResult fd_check(const char* what, VecD& v, const VecD& grad,
                                    const std::function<double()>& L, double h = 1e-5,
                                    double tol = 1e-7) {
  VecD num(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    const double saved = v[k];
    v[k] = saved + h;
    const double lp = L();
    v[k] = saved - h;
    const double lm = L();
    v[k] = saved;
    num[k] = (lp - lm) / (2 * h);
  }
  auto r = near_max(grad, num, tol);
  if (!r) r << " [" << what << "]";
  return r;
}

// ---------------------------------------------------------------------------------------------
// Linear
// ---------------------------------------------------------------------------------------------

struct LinearCase {
  int64_t N, in, out;
  bool bias;
};
std::string name_of(const LinearCase& c) {
  return "N" + std::to_string(c.N) + "_in" + std::to_string(c.in) + "_out" + std::to_string(c.out) +
         (c.bias ? "_bias" : "_nobias");
}

class LinearOp : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearOp, FastMatchesReferenceAndTheGradientContract) {
  const LinearCase c = GetParam();
  const LinearGeom g{c.N, c.in, c.out, c.bias};
  Rng rng(11);
  const Vec x = randn(rng, c.N * c.in), w = randn(rng, c.out * c.in, 0.f, 0.1f),
            b = randn(rng, c.out), dy = randn(rng, c.N * c.out);
  const Vec dw0 = randn(rng, c.out * c.in), db0 = randn(rng, c.out);

  // Forward: y assigned.
  Vec y_ref(c.N * c.out, kNaN), y_fast(c.N * c.out, kNaN);
  linear_forward(g, x.data(), w.data(), c.bias ? b.data() : nullptr, y_ref.data(), Impl::reference);
  linear_forward(g, x.data(), w.data(), c.bias ? b.data() : nullptr, y_fast.data(), Impl::fast);
  ASSERT_TRUE(all_finite(y_ref));
  EXPECT_TRUE(near_max(y_fast, y_ref, sum_tol(c.in)));

  // Backward: dx assigned (NaN-filled), dw / db accumulated onto dw0 / db0.
  for (Impl impl : {Impl::reference, Impl::fast}) {
    SCOPED_TRACE(impl_name(impl));
    Vec dx(c.N * c.in, kNaN), dw = dw0, db = db0;
    linear_backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), impl);
    // The same gradients from zero, in double, as the expected values.
    VecD dxd(c.N * c.in), dwd(c.out * c.in, 0.0), dbd(c.out, 0.0);
    cpu::linear_ref_backward<double>(g, to_double(x).data(), to_double(w).data(),
                                     to_double(dy).data(), dxd.data(), dwd.data(), dbd.data());
    for (size_t k = 0; k < dwd.size(); ++k) dwd[k] += dw0[k];
    for (size_t k = 0; k < dbd.size(); ++k) dbd[k] = c.bias ? dbd[k] + db0[k] : db0[k];
    EXPECT_TRUE(near_max(dx, dxd, sum_tol(c.out))) << "dx";
    EXPECT_TRUE(near_max(dw, dwd, sum_tol(c.N))) << "dw";
    EXPECT_TRUE(near_max(db, dbd, sum_tol(c.N))) << "db";

    // Null outputs are skipped; the others are unaffected.
    Vec dw2 = dw0, db2 = db0;
    linear_backward(g, x.data(), w.data(), dy.data(), nullptr, dw2.data(), db2.data(), impl);
    EXPECT_TRUE(near_max(dw2, dwd, sum_tol(c.N))) << "dw without dx";
    Vec dx3(c.N * c.in, kNaN);
    linear_backward(g, x.data(), w.data(), dy.data(), dx3.data(), nullptr, nullptr, impl);
    EXPECT_TRUE(near_max(dx3, dxd, sum_tol(c.out))) << "dx alone";
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearOp,
                         ::testing::Values(LinearCase{1, 1, 1, true}, LinearCase{1, 1, 1, false},
                                           LinearCase{3, 7, 5, true}, LinearCase{2, 1000, 3, true},
                                           LinearCase{17, 33, 65, false},
                                           LinearCase{64, 127, 129, true},
                                           LinearCase{64, 512, 1, true},    // seed D's adv_layer
                                           LinearCase{1, 100, 8192, true},  // seed G's l1, batch 1
                                           LinearCase{64, 100, 8192, true}),  // seed G's l1
                         [](const auto& info) { return name_of(info.param); });

TEST(LinearOp, GradientsMatchFiniteDifferences) {
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "bias" : "no bias");
    const LinearGeom g{3, 5, 4, bias};
    Rng rng(12);
    VecD x = to_double(randn(rng, 15)), w = to_double(randn(rng, 20)), b = to_double(randn(rng, 4));
    const VecD gy = to_double(randn(rng, 12));
    auto L = [&] {
      VecD y(12);
      cpu::linear_ref_forward<double>(g, x.data(), w.data(), b.data(), y.data());
      return dot(y, gy);
    };
    VecD dx(15), dw(20, 0.0), db(4, 0.0);
    cpu::linear_ref_backward<double>(g, x.data(), w.data(), gy.data(), dx.data(), dw.data(),
                                     db.data());
    EXPECT_TRUE(fd_check("dx", x, dx, L));
    EXPECT_TRUE(fd_check("dw", w, dw, L));
    if (bias) EXPECT_TRUE(fd_check("db", b, db, L));
  }
}

TEST(LinearOp, RefusesBadSizes) {
  float v = 0;
  EXPECT_THROW(linear_forward({0, 3, 4, false}, &v, &v, nullptr, &v, Impl::fast), Error);
  EXPECT_THROW(linear_forward({2, 3, 0, false}, &v, &v, nullptr, &v, Impl::reference), Error);
  EXPECT_THROW(linear_forward({2, 3, 4, true}, &v, &v, nullptr, &v, Impl::fast), Error);
}

// ---------------------------------------------------------------------------------------------
// BatchNorm2d
// ---------------------------------------------------------------------------------------------

struct BnCase {
  int64_t N, C, HW;
  float eps;
};
std::string name_of(const BnCase& c) {
  return "N" + std::to_string(c.N) + "_C" + std::to_string(c.C) + "_HW" + std::to_string(c.HW) +
         (c.eps == 0.8f ? "_eps0p8" : "");
}

// Inputs with a different mean and spread per channel.
Vec bn_input(Rng& rng, const BatchNormGeom& g) {
  Vec x(g.N * g.C * g.HW);
  for (int64_t c = 0; c < g.C; ++c) {
    const float mean = rng.normal(0.f, 2.f), std = 0.1f + 3.f * float(rng.uniform());
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.HW; ++i) x[(n * g.C + c) * g.HW + i] = rng.normal(mean, std);
  }
  return x;
}

struct BnState {
  Vec gamma, beta, rm, rv;
};
BnState bn_state(Rng& rng, int64_t C) {
  return {randn(rng, C, 1.f, 0.3f), randn(rng, C, 0.f, 0.5f), randn(rng, C, 0.f, 0.5f),
          uniform(rng, C, 0.5, 2.0)};
}

class BatchNormOp : public ::testing::TestWithParam<BnCase> {};

TEST_P(BatchNormOp, TrainForwardAndBackwardMatchReference) {
  const BnCase c = GetParam();
  const BatchNormGeom g{c.N, c.C, c.HW};
  const int64_t n = c.N * c.C * c.HW;
  const float momentum = 0.1f;
  Rng rng(21);
  const Vec x = bn_input(rng, g), dy = randn(rng, n);
  const BnState s = bn_state(rng, c.C);
  const Vec dgamma0 = randn(rng, c.C), dbeta0 = randn(rng, c.C);

  struct Out {
    Vec y, mean, invstd, rm, rv, dx, dgamma, dbeta;
  };
  auto run = [&](Impl impl) {
    Out o{Vec(n, kNaN), Vec(c.C, kNaN), Vec(c.C, kNaN), s.rm, s.rv, Vec(n, kNaN), dgamma0, dbeta0};
    batchnorm_forward_train(g, x.data(), s.gamma.data(), s.beta.data(), c.eps, momentum,
                            o.rm.data(), o.rv.data(), o.y.data(), o.mean.data(), o.invstd.data(),
                            impl);
    batchnorm_backward(g, x.data(), dy.data(), s.gamma.data(), o.mean.data(), o.invstd.data(),
                       o.dx.data(), o.dgamma.data(), o.dbeta.data(), impl);
    return o;
  };
  const Out r = run(Impl::reference), f = run(Impl::fast);
  ASSERT_TRUE(all_finite(r.y) && all_finite(r.dx));
  EXPECT_TRUE(near_max(f.y, r.y, kTol)) << "y";
  EXPECT_TRUE(near_each(f.mean, r.mean, 1e-6, 1e-6)) << "save_mean";
  EXPECT_TRUE(near_each(f.invstd, r.invstd, 1e-6, 0)) << "save_invstd";
  EXPECT_TRUE(near_each(f.rm, r.rm, 1e-6, 1e-6)) << "running_mean";
  EXPECT_TRUE(near_each(f.rv, r.rv, 1e-6, 0)) << "running_var";
  // dx = gamma invstd (dy - mean dy - xhat mean(dy xhat)) cancels (for M = 2 it is exactly 0), so
  // its error is measured against the size of its terms, max |gamma invstd dy|.
  double dx_scale = 0;
  for (int64_t nn = 0; nn < c.N; ++nn)
    for (int64_t ch = 0; ch < c.C; ++ch)
      for (int64_t i = 0; i < c.HW; ++i)
        dx_scale = testing::max_nan(dx_scale, std::abs(double(s.gamma[ch]) * r.invstd[ch] *
                                               dy[(nn * c.C + ch) * c.HW + i]));
  EXPECT_TRUE(near_max(f.dx, r.dx, kTol, dx_scale)) << "dx";
  EXPECT_TRUE(near_each(f.dgamma, r.dgamma, 1e-5, 1e-5)) << "dgamma";
  EXPECT_TRUE(near_each(f.dbeta, r.dbeta, 1e-6, 1e-5)) << "dbeta";

  // Accumulated parameter gradients: reference result == dgamma0 + (result from zero), in double.
  for (Impl impl : {Impl::reference, Impl::fast}) {
    SCOPED_TRACE(impl_name(impl));
    const Out& o = impl == Impl::reference ? r : f;
    VecD dgd(c.C, 0.0), dbd(c.C, 0.0);
    cpu::batchnorm_ref_backward<double>(
        g, to_double(x).data(), to_double(dy).data(), to_double(s.gamma).data(),
        to_double(o.mean).data(), to_double(o.invstd).data(), nullptr, dgd.data(), dbd.data());
    for (int64_t k = 0; k < c.C; ++k) dgd[k] += dgamma0[k], dbd[k] += dbeta0[k];
    EXPECT_TRUE(near_each(o.dgamma, dgd, 1e-5, 1e-5)) << "dgamma accumulated";
    EXPECT_TRUE(near_each(o.dbeta, dbd, 1e-6, 1e-5)) << "dbeta accumulated";
    // dx == nullptr skips dx only.
    Vec dg2 = dgamma0, db2 = dbeta0;
    batchnorm_backward(g, x.data(), dy.data(), s.gamma.data(), o.mean.data(), o.invstd.data(),
                       nullptr, dg2.data(), db2.data(), impl);
    EXPECT_EQ(dg2, o.dgamma);
    EXPECT_EQ(db2, o.dbeta);
  }
}

TEST_P(BatchNormOp, TrainStatisticsAreTorchsFormulas) {
  // save_mean = mean, save_invstd = 1/sqrt(biased var + eps);
  // running = (1 - m) running + m new, with the *unbiased* variance.
  const BnCase c = GetParam();
  const BatchNormGeom g{c.N, c.C, c.HW};
  const int64_t M = c.N * c.HW;
  const double mom = 0.1;
  Rng rng(22);
  const Vec x = bn_input(rng, g);
  const BnState s = bn_state(rng, c.C);
  VecD mean(c.C, 0), var(c.C, 0);
  for (int64_t ch = 0; ch < c.C; ++ch) {
    for (int64_t nn = 0; nn < c.N; ++nn)
      for (int64_t i = 0; i < c.HW; ++i) mean[ch] += x[(nn * c.C + ch) * c.HW + i];
    mean[ch] /= double(M);
    for (int64_t nn = 0; nn < c.N; ++nn)
      for (int64_t i = 0; i < c.HW; ++i) {
        const double d = x[(nn * c.C + ch) * c.HW + i] - mean[ch];
        var[ch] += d * d;
      }
  }
  for (Impl impl : {Impl::reference, Impl::fast}) {
    SCOPED_TRACE(impl_name(impl));
    Vec y(x.size()), sm(c.C, kNaN), si(c.C, kNaN), rm = s.rm, rv = s.rv;
    batchnorm_forward_train(g, x.data(), s.gamma.data(), s.beta.data(), c.eps, float(mom),
                            rm.data(), rv.data(), y.data(), sm.data(), si.data(), impl);
    VecD want_sm(c.C), want_si(c.C), want_rm(c.C), want_rv(c.C);
    for (int64_t ch = 0; ch < c.C; ++ch) {
      want_sm[ch] = mean[ch];
      want_si[ch] = 1.0 / std::sqrt(var[ch] / double(M) + double(c.eps));
      want_rm[ch] = (1 - mom) * s.rm[ch] + mom * mean[ch];
      want_rv[ch] = (1 - mom) * s.rv[ch] + mom * var[ch] / double(M - 1);
    }
    EXPECT_TRUE(near_each(sm, want_sm, 1e-6, 1e-6)) << "save_mean";
    EXPECT_TRUE(near_each(si, want_si, 1e-6, 0)) << "save_invstd";
    EXPECT_TRUE(near_each(rm, want_rm, 1e-6, 1e-6)) << "running_mean";
    EXPECT_TRUE(near_each(rv, want_rv, 1e-6, 0)) << "running_var";
  }
}

TEST_P(BatchNormOp, EvalForwardIsTheDirectFormula) {
  // y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta
  const BnCase c = GetParam();
  const BatchNormGeom g{c.N, c.C, c.HW};
  Rng rng(23);
  const Vec x = bn_input(rng, g);
  const BnState s = bn_state(rng, c.C);
  VecD want(x.size());
  for (int64_t nn = 0; nn < c.N; ++nn)
    for (int64_t ch = 0; ch < c.C; ++ch)
      for (int64_t i = 0; i < c.HW; ++i) {
        const int64_t k = (nn * c.C + ch) * c.HW + i;
        want[k] =
            (double(x[k]) - s.rm[ch]) / std::sqrt(double(s.rv[ch]) + double(c.eps)) * s.gamma[ch] +
            s.beta[ch];
      }
  for (Impl impl : {Impl::reference, Impl::fast}) {
    SCOPED_TRACE(impl_name(impl));
    Vec y(x.size(), kNaN);
    batchnorm_forward_eval(g, x.data(), s.gamma.data(), s.beta.data(), c.eps, s.rm.data(),
                           s.rv.data(), y.data(), impl);
    EXPECT_TRUE(near_max(y, want, kTol));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormOp,
                         ::testing::Values(BnCase{1, 1, 2, 1e-5f}, BnCase{2, 1, 1, 1e-5f},
                                           BnCase{64, 1, 1, 0.8f}, BnCase{1, 7, 13, 1e-5f},
                                           BnCase{3, 5, 7, 0.8f}, BnCase{5, 16, 49, 1e-5f},
                                           BnCase{7, 33, 255, 1e-5f}, BnCase{16, 64, 64, 0.8f},
                                           BnCase{64, 3, 256, 1e-5f}, BnCase{64, 128, 16, 0.8f},
                                           BnCase{64, 128, 256, 1e-5f}),
                         [](const auto& info) { return name_of(info.param); });

TEST(BatchNormOp, TrainGradientsMatchFiniteDifferences) {
  struct Case {
    int64_t N, C, HW;
    double eps;
  };
  for (Case c : {Case{2, 3, 5, 1e-5}, Case{4, 2, 1, 0.8}, Case{1, 2, 3, 1e-5}}) {
    SCOPED_TRACE(::testing::Message()
                 << "N" << c.N << " C" << c.C << " HW" << c.HW << " eps " << c.eps);
    const BatchNormGeom g{c.N, c.C, c.HW};
    const int64_t n = c.N * c.C * c.HW;
    Rng rng(24);
    VecD x = to_double(bn_input(rng, g)), gamma = to_double(randn(rng, c.C, 1.f, 0.3f)),
         beta = to_double(randn(rng, c.C));
    const VecD gy = to_double(randn(rng, n));
    VecD rm(c.C), rv(c.C), y(n), sm(c.C), si(c.C);
    auto L = [&] {
      cpu::batchnorm_ref_forward_train<double>(g, x.data(), gamma.data(), beta.data(), c.eps, 0.1,
                                               rm.data(), rv.data(), y.data(), sm.data(),
                                               si.data());
      return dot(y, gy);
    };
    L();
    VecD dx(n), dgamma(c.C, 0.0), dbeta(c.C, 0.0);
    cpu::batchnorm_ref_backward<double>(g, x.data(), gy.data(), gamma.data(), sm.data(), si.data(),
                                        dx.data(), dgamma.data(), dbeta.data());
    EXPECT_TRUE(fd_check("dx", x, dx, L));
    EXPECT_TRUE(fd_check("dgamma", gamma, dgamma, L));
    EXPECT_TRUE(fd_check("dbeta", beta, dbeta, L));
  }
}

TEST(BatchNormOp, FastStatisticsSurviveALargeMean) {
  // |mean| / std = 1e5: a naive E[x^2] - E[x]^2 in float (or even double sums of x^2) would lose
  // the variance; the shifted sums must keep it to float precision.
  const BatchNormGeom g{16, 4, 64};
  Rng rng(25);
  Vec x(g.N * g.C * g.HW);
  for (auto& e : x) e = 1000.f + rng.normal(0.f, 0.01f);
  const Vec gamma(g.C, 1.f), beta(g.C, 0.f);
  Vec rm_r(g.C, 0.f), rv_r(g.C, 1.f), rm_f = rm_r, rv_f = rv_r;
  Vec y_r(x.size()), y_f(x.size()), sm_r(g.C), si_r(g.C), sm_f(g.C), si_f(g.C);
  batchnorm_forward_train(g, x.data(), gamma.data(), beta.data(), 1e-5f, 0.1f, rm_r.data(),
                          rv_r.data(), y_r.data(), sm_r.data(), si_r.data(), Impl::reference);
  batchnorm_forward_train(g, x.data(), gamma.data(), beta.data(), 1e-5f, 0.1f, rm_f.data(),
                          rv_f.data(), y_f.data(), sm_f.data(), si_f.data(), Impl::fast);
  EXPECT_TRUE(near_each(si_f, si_r, 1e-6, 0));
  EXPECT_TRUE(near_each(rv_f, rv_r, 1e-6, 0));
  // y = (x - mean) / std: x itself carries only ulp(1000) = 6e-5 absolute, i.e. 6e-3 of one std,
  // so both paths see the same rounded inputs; they must agree to float precision of y.
  EXPECT_TRUE(near_max(y_f, y_r, kTol));
}

TEST(BatchNormOp, RefusesOneValuePerChannelInTraining) {
  const BatchNormGeom g{1, 3, 1};
  Vec x(3, 1.f), p(3, 1.f), y(3), a(3), b(3), rm(3), rv(3);
  for (Impl impl : {Impl::reference, Impl::fast})
    EXPECT_THROW(batchnorm_forward_train(g, x.data(), p.data(), p.data(), 1e-5f, 0.1f, rm.data(),
                                         rv.data(), y.data(), a.data(), b.data(), impl),
                 Error);
  // Eval mode is fine with one value.
  batchnorm_forward_eval(g, x.data(), p.data(), p.data(), 1e-5f, rm.data(), p.data(), y.data(),
                         Impl::fast);
  EXPECT_TRUE(all_finite(y));
}

// ---------------------------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------------------------

struct ActCase {
  Act act;
  float slope;
  const char* name;
};
const ActCase kActs[] = {{Act::relu, 0.f, "relu"},
                         {Act::leaky_relu, 0.2f, "leaky_relu"},
                         {Act::tanh, 0.f, "tanh"},
                         {Act::sigmoid, 0.f, "sigmoid"}};

class ActivationOp : public ::testing::TestWithParam<int64_t> {};

TEST_P(ActivationOp, FastMatchesReferenceAndAliasing) {
  const int64_t n = GetParam();
  Rng rng(31);
  Vec x = randn(rng, n, 0.f, 3.f);
  x[0] = 0.f;  // the kink: relu'(0) = 0, leaky_relu'(0) = slope, as PyTorch
  if (n > 2) x[1] = -0.f, x[2] = 40.f;  // saturated tanh / sigmoid
  const Vec dy = randn(rng, n);
  for (const ActCase& a : kActs) {
    SCOPED_TRACE(a.name);
    Vec y_r(n, kNaN), y_f(n, kNaN), dx_r(n, kNaN), dx_f(n, kNaN);
    activation_forward(a.act, a.slope, n, x.data(), y_r.data(), Impl::reference);
    activation_forward(a.act, a.slope, n, x.data(), y_f.data(), Impl::fast);
    activation_backward(a.act, a.slope, n, x.data(), y_r.data(), dy.data(), dx_r.data(),
                        Impl::reference);
    activation_backward(a.act, a.slope, n, x.data(), y_r.data(), dy.data(), dx_f.data(),
                        Impl::fast);
    ASSERT_TRUE(all_finite(y_r) && all_finite(dx_r));
    if (a.act == Act::relu || a.act == Act::leaky_relu) {
      EXPECT_EQ(y_f, y_r);  // one rounding at most: exact
      EXPECT_EQ(dx_f, dx_r);
    } else {
      // tanhf / expf in float are within ~2 ulp of the correctly rounded double result.
      EXPECT_TRUE(near_each(y_f, y_r, 1e-6, 1e-30)) << "y";
      // (1 - y^2), y (1 - y) in float: a few roundings.
      EXPECT_TRUE(near_each(dx_f, dx_r, 1e-6, 1e-30)) << "dx";
    }
    // In place: y aliases x, dx aliases dy; same results.
    for (Impl impl : {Impl::reference, Impl::fast}) {
      SCOPED_TRACE(impl_name(impl));
      const Vec& y_want = impl == Impl::reference ? y_r : y_f;
      Vec buf = x;
      activation_forward(a.act, a.slope, n, buf.data(), buf.data(), impl);
      EXPECT_EQ(buf, y_want);
      Vec g = dy;
      activation_backward(a.act, a.slope, n, x.data(), y_r.data(), g.data(), g.data(), impl);
      EXPECT_EQ(g, impl == Impl::reference ? dx_r : dx_f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ActivationOp, ::testing::Values(1, 7, 8, 17, 1000, 40000, 65537),
                         [](const auto& info) { return "n" + std::to_string(info.param); });

TEST(ActivationOp, GradientsMatchFiniteDifferences) {
  const int64_t n = 50;
  Rng rng(32);
  VecD x = to_double(randn(rng, n, 0.f, 2.f));
  for (auto& e : x)
    if (std::abs(e) < 1e-2) e = 0.5;  // keep central differences off the kinks at 0
  const VecD gy = to_double(randn(rng, n));
  for (const ActCase& a : kActs) {
    SCOPED_TRACE(a.name);
    auto L = [&] {
      VecD y(n);
      cpu::activation_ref_forward<double>(a.act, a.slope, n, x.data(), y.data());
      return dot(y, gy);
    };
    VecD y(n), dx(n);
    cpu::activation_ref_forward<double>(a.act, a.slope, n, x.data(), y.data());
    cpu::activation_ref_backward<double>(a.act, a.slope, n, x.data(), y.data(), gy.data(),
                                         dx.data());
    EXPECT_TRUE(fd_check("dx", x, dx, L));
  }
}

TEST(ActivationOp, NaNPropagates) {
  const float x[2] = {kNaN, 1.f};
  for (const ActCase& a : kActs)
    for (Impl impl : {Impl::reference, Impl::fast}) {
      float y[2];
      activation_forward(a.act, a.slope, 2, x, y, impl);
      EXPECT_TRUE(std::isnan(y[0])) << a.name << " " << impl_name(impl);
    }
}

// ---------------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------------

// PyTorch's BCE element in double: -(t max(log p, -100) + (1 - t) max(log(1 - p), -100)).
double bce_elem_d(double p, double t) {
  return -(t * std::max(std::log(p), -100.0) + (1 - t) * std::max(std::log1p(-p), -100.0));
}
double bce_d(const VecD& p, const VecD& t) {
  double s = 0;
  for (size_t k = 0; k < p.size(); ++k) s += bce_elem_d(p[k], t[k]);
  return s / double(p.size());
}
// BCE with logits in double: (1 - t) x + log(1 + e^-x), stably.
double bce_logits_d(const VecD& x, const VecD& t) {
  double s = 0;
  for (size_t k = 0; k < x.size(); ++k)
    s += (1 - t[k]) * x[k] + std::max(-x[k], 0.0) + std::log1p(std::exp(-std::abs(x[k])));
  return s / double(x.size());
}

TEST(Loss, BceMatchesTheFormulaAndItsDerivative) {
  for (int64_t n : {1, 3, 64}) {
    SCOPED_TRACE(::testing::Message() << "n " << n);
    Rng rng(41);
    const Vec p = uniform(rng, n, 0.02, 0.98);
    Vec t = uniform(rng, n, 0.0, 1.0);  // soft targets too
    if (n > 1) t[0] = 1.f, t[1] = 0.f;
    EXPECT_NEAR(bce_forward(n, p.data(), t.data()), bce_d(to_double(p), to_double(t)),
                1e-6 * std::abs(bce_d(to_double(p), to_double(t))));
    const float grad_out = 0.7f;
    Vec dp(n, kNaN);
    bce_backward(n, p.data(), t.data(), grad_out, dp.data());
    VecD pd = to_double(p);
    const VecD td = to_double(t);
    VecD want(n);
    for (int64_t k = 0; k < n; ++k)
      want[k] = grad_out * (pd[k] - td[k]) / (pd[k] * (1 - pd[k])) / n;
    EXPECT_TRUE(near_each(dp, want, 1e-6, 0));
    // And the formula is the derivative of the loss (L = grad_out * loss).
    EXPECT_TRUE(fd_check(
        "dp", pd, want, [&] { return grad_out * bce_d(pd, td); }, 1e-6));
  }
}

TEST(Loss, BceClampsLikePyTorch) {
  // log clamped at -100: p = 0 or 1 against the wrong target costs exactly 100, the right one 0.
  const float p[4] = {0.f, 0.f, 1.f, 1.f}, t[4] = {0.f, 1.f, 0.f, 1.f};
  EXPECT_EQ(bce_forward(1, p + 0, t + 0), 0.f);
  EXPECT_EQ(bce_forward(1, p + 1, t + 1), 100.f);
  EXPECT_EQ(bce_forward(1, p + 2, t + 2), 100.f);
  EXPECT_EQ(bce_forward(1, p + 3, t + 3), 0.f);
  EXPECT_FLOAT_EQ(bce_forward(4, p, t), 50.f);
  // dp = g (p - t) / max(p (1 - p), 1e-12) / n: finite at the ends.
  float dp[4];
  bce_backward(4, p, t, 1.f, dp);
  EXPECT_EQ(dp[0], 0.f);
  EXPECT_FLOAT_EQ(dp[1], -1.f / 1e-12f / 4.f);
  EXPECT_FLOAT_EQ(dp[2], 1.f / 1e-12f / 4.f);
  EXPECT_EQ(dp[3], 0.f);
}

TEST(Loss, BceRefusesNonProbabilities) {
  const float t[1] = {1.f};
  for (float bad : {-0.1f, 1.5f, kNaN}) {
    try {
      bce_forward(1, &bad, t);
      ADD_FAILURE() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("[bce]"), std::string::npos);
      EXPECT_FALSE(e.hint().empty());
    }
  }
  const float p[1] = {0.5f}, bad_t[1] = {2.f};
  EXPECT_THROW(bce_forward(1, p, bad_t), Error);
}

TEST(Loss, BceWithLogitsMatchesTheFormulaAndItsDerivative) {
  for (int64_t n : {1, 3, 64}) {
    SCOPED_TRACE(::testing::Message() << "n " << n);
    Rng rng(42);
    const Vec x = randn(rng, n, 0.f, 4.f);
    Vec t = uniform(rng, n, 0.0, 1.0);
    if (n > 1) t[0] = 1.f, t[1] = 0.f;
    VecD xd = to_double(x);
    const VecD td = to_double(t);
    // Each element's loss is (1 - t) x + softplus(-x) summed in float terms: cancellation between
    // (1 - t) x and softplus(-x) for large |x| costs a few ulps of |x| relative to the loss.
    EXPECT_NEAR(bce_with_logits_forward(n, x.data(), t.data()), bce_logits_d(xd, td), 1e-5);
    const float grad_out = -1.3f;
    Vec dx(n, kNaN);
    bce_with_logits_backward(n, x.data(), t.data(), grad_out, dx.data());
    VecD want(n);
    for (int64_t k = 0; k < n; ++k) want[k] = (1 / (1 + std::exp(-xd[k])) - td[k]) * grad_out / n;
    EXPECT_TRUE(near_max(dx, want, kTol));
    EXPECT_TRUE(fd_check("dx", xd, want, [&] { return grad_out * bce_logits_d(xd, td); }));
  }
}

TEST(Loss, BceWithLogitsIsStableForLargeLogits) {
  const float x[4] = {100.f, -100.f, 100.f, -100.f}, t[4] = {0.f, 1.f, 1.f, 0.f};
  EXPECT_FLOAT_EQ(bce_with_logits_forward(1, x + 0, t + 0), 100.f);
  EXPECT_FLOAT_EQ(bce_with_logits_forward(1, x + 1, t + 1), 100.f);
  EXPECT_EQ(bce_with_logits_forward(1, x + 2, t + 2), 0.f);
  EXPECT_EQ(bce_with_logits_forward(1, x + 3, t + 3), 0.f);
  float dx[4];
  bce_with_logits_backward(4, x, t, 1.f, dx);
  EXPECT_FLOAT_EQ(dx[0], 0.25f);
  EXPECT_FLOAT_EQ(dx[1], -0.25f);
  EXPECT_EQ(dx[2], 0.f);
  EXPECT_EQ(dx[3], 0.f);
}

}  // namespace
}  // namespace dcgan::ops

// ---------------------------------------------------------------------------------------------
// Adam
// ---------------------------------------------------------------------------------------------

namespace dcgan {
namespace {

using ops::Impl;
using Vec = std::vector<float>;

TEST(Adam, FastEqualsReferenceBitForBit) {
  for (double wd : {0.0, 0.01}) {
    for (int64_t n : {1, 7, 8, 1001, 40000 + 3}) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " weight_decay " << wd);
      AdamOptions o;
      o.weight_decay = wd;
      Adam ref(n, o), fast(n, o);
      Rng rng(51);
      Vec p(n);
      for (auto& e : p) e = rng.normal();
      Vec p_ref = p, p_fast = p;
      for (int step = 0; step < 5; ++step) {
        Vec g(n);
        for (auto& e : g) e = rng.normal(0.f, 0.1f);
        ref.step(p_ref.data(), g.data(), Impl::reference);
        fast.step(p_fast.data(), g.data(), Impl::fast);
      }
      EXPECT_EQ(ref.t, 5);
      EXPECT_EQ(fast.t, 5);
      EXPECT_EQ(p_fast, p_ref);
      for (int64_t k = 0; k < n; ++k) {
        ASSERT_EQ(fast.exp_avg[k], ref.exp_avg[k]) << k;
        ASSERT_EQ(fast.exp_avg_sq[k], ref.exp_avg_sq[k]) << k;
      }
    }
  }
}

TEST(Adam, MatchesTheTextbookUpdateInDouble) {
  // m_t = b1 m + (1-b1) g; v_t = b2 v + (1-b2) g^2;
  // p -= lr / (1 - b1^t) * m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps), with g += wd p first.
  for (double wd : {0.0, 0.1}) {
    SCOPED_TRACE(::testing::Message() << "weight_decay " << wd);
    const int64_t n = 257;
    AdamOptions o;
    o.lr = 1e-3;
    o.weight_decay = wd;
    for (Impl impl : {Impl::reference, Impl::fast}) {
      Adam adam(n, o);
      Rng rng(52);
      Vec p(n);
      for (auto& e : p) e = rng.normal();
      std::vector<double> pd(p.begin(), p.end()), m(n, 0), v(n, 0);
      for (int t = 1; t <= 10; ++t) {
        Vec g(n);
        for (auto& e : g) e = rng.normal(0.f, 0.1f);
        adam.step(p.data(), g.data(), impl);
        for (int64_t k = 0; k < n; ++k) {
          const double gk = g[k] + wd * pd[k];
          m[k] = o.beta1 * m[k] + (1 - o.beta1) * gk;
          v[k] = o.beta2 * v[k] + (1 - o.beta2) * gk * gk;
          pd[k] -= o.lr / (1 - std::pow(o.beta1, t)) * m[k] /
                   (std::sqrt(v[k]) / std::sqrt(1 - std::pow(o.beta2, t)) + o.eps);
        }
      }
      // Ten float updates of size ~lr, each good to a few ulps of the step: a tiny fraction of lr.
      for (int64_t k = 0; k < n; ++k) ASSERT_NEAR(p[k], pd[k], 1e-6) << k << " " << impl_name(impl);
    }
  }
}

TEST(Adam, FirstStepMovesEachParameterByLr) {
  // Bias correction makes step 1 exactly -lr * g / (|g| + eps): lr against the gradient's sign.
  const int64_t n = 100;
  AdamOptions o;
  Adam adam(n, o);
  Rng rng(53);
  Vec p(n, 0.f), g(n);
  for (auto& e : g) e = rng.normal();
  adam.step(p.data(), g.data());
  for (int64_t k = 0; k < n; ++k)
    EXPECT_NEAR(p[k], -o.lr * g[k] / (std::abs(g[k]) + o.eps), 1e-6 * o.lr) << k;
}

TEST(Adam, RefusesBadOptions) {
  AdamOptions o;
  o.beta1 = 1.0;
  EXPECT_THROW(Adam(3, o), Error);
  o = {};
  o.lr = -1;
  EXPECT_THROW(Adam(3, o), Error);
}

}  // namespace
}  // namespace dcgan
