// Fast BatchNorm2d: OpenMP, vectorised over the pixels of a plane (NCHW) or over the channels of
// a block (nChw{b}c), with an optional fused ReLU / LeakyReLU (BnAct).
// https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
//
// Legend
//   N batch; C channels; HW = H*W; M = N*HW values per channel; B the block (0: NCHW);
//   a "unit" is what one loop iteration owns: NCHW, the plane (n, c) of HW floats at (n C + c) HW;
//   nChw{B}c, the tile (n, cb) of HW x B floats at (n C/B + cb) HW B, channels cb B .. cb B + B-1.
//   x, y, z, dy, dx (N, C, HW) in that layout
//   gamma, beta, save_mean, save_invstd, dgamma, dbeta (C); batch_mean, batch_var (C, double)
//
// Every pass is one OpenMP region: (1) per-thread partial sums over a static split of the units,
// (2) per channel, the partial sums added in thread order (deterministic for a given thread
// count) and turned into coefficients, (3) the element-wise pass over the units.
// Statistics are accumulated in double (blocked layouts: float over runs of 16 pixels first) on
// values shifted by K, the channel's first value:
//   s1 = sum (x - K),  s2 = sum (x - K)^2,  mean = K + s1/M,  var = s2/M - (s1/M)^2.
// The shift keeps (mean - K)^2 comparable to var, so the subtraction loses a few bits of double's
// 53, never float's 24 (the naive sum x^2 / M - mean^2 cancels catastrophically when
// |mean| >> std).
//
// Sync-BN (a CrossSum given, data-parallel training over processes): the sums of step (1) are
// added over the processes between steps (1) and (2), on the thread that called (MPI is called
// from that thread only). Sums about different shifts cannot be added, so the processes first
// agree on one: the mean of their first values (one more cross sum of C + 1 numbers).
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <type_traits>
#include <utility>
#include <vector>

#include "dcgan/error.hpp"
#include "ops/cpu/batchnorm_cpu.hpp"
#include "ops/layout.hpp"

namespace dcgan::ops::cpu {

namespace {

// Below this many elements one thread is faster than waking a team.
constexpr int64_t kParallelMin = 1 << 14;
// Blocked layouts: per-channel sums run in float over at most this many pixels of a tile, then
// in double (16 float terms lose at most a few ulps; the double sums keep M = N HW terms exact
// enough, as in the NCHW path).
constexpr int64_t kRun = 16;

// c ? a : b with integer masks, so that loops if-convert and vectorise (see activation_fast.cpp).
inline float select(bool c, float a, float b) {
  const uint32_t m = c ? ~0u : 0u;
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & m) | (std::bit_cast<uint32_t>(b) & ~m));
}

// Fused activation A: 0 none, 1 relu, 2 leaky_relu; the same formulas as activation_fast.cpp.
template <int A>
inline float act_fwd(float y, float slope) {
  if constexpr (A == 0) return y;
  else if constexpr (A == 1) return y < 0.f ? 0.f : y;      // max(y, 0), keeping NaN
  else return y * select(y > 0.f, 1.f, slope);              // y > 0 ? y : slope y
}
// dy = dz act'(y), read off z = act(y) (z > 0 iff y > 0; see BnAct).
template <int A>
inline float act_bwd(float z, float dz, float slope) {
  if constexpr (A == 0) return dz;
  else if constexpr (A == 1) return select(z > 0.f, dz, 0.f);
  else return dz * select(z > 0.f, 1.f, slope);
}

// Blocked layouts: a pixel's B channels are B / 8 vectors of 8 floats (GCC vector extensions;
// AVX2 registers with -march=haswell). Written with explicit vectors so that the per-channel
// accumulators stay in registers (as arrays indexed in a loop GCC kept them in memory).
typedef float v8f __attribute__((vector_size(32)));
inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
inline v8f splat8(float f) { return v8f{f, f, f, f, f, f, f, f}; }
// The vector forms of act_fwd / act_bwd, element for element the same results.
template <int A>
inline v8f act_fwd8(v8f y, v8f slope) {
  if constexpr (A == 0) return y;
  else if constexpr (A == 1) return y < 0.f ? splat8(0.f) : y;
  else return y > 0.f ? y : y * slope;
}
template <int A>
inline v8f act_bwd8(v8f z, v8f dz, v8f slope) {
  if constexpr (A == 0) return dz;
  else if constexpr (A == 1) return z > 0.f ? dz : splat8(0.f);
  else return z > 0.f ? dz : dz * slope;
}

// Grow-only scratch of the calling thread (shared with its OpenMP team for one call): no
// allocation after the first call of a given size.
struct Scratch {
  std::vector<double> d;
  std::vector<float> f;
};
Scratch& scratch(int64_t doubles, int64_t floats) {
  static thread_local Scratch s;
  if (int64_t(s.d.size()) < doubles) s.d.resize(size_t(doubles));
  if (int64_t(s.f.size()) < floats) s.f.resize(size_t(floats));
  return s;
}

template <int B>
struct Units {
  int64_t per_sample, count, len;  // units per sample, in all, floats per unit
  explicit Units(const BatchNormGeom& g)
      : per_sample(B ? g.C / B : g.C), count(g.N * per_sample), len(B ? g.HW * B : g.HW) {}
  int64_t first_channel(int64_t u) const { return B ? (u % per_sample) * B : u % per_sample; }
};

// Blocked layouts: adds to s1[c0 + j], s2[c0 + j] (the unit's B channels) the sums over its HW
// pixels of two per-value terms, terms(o, v) = {t1, t2} for the 8 channels at offset o (vector v
// of the pixel): float sums over runs of kRun pixels, added up in double. The forward pass sums
// x - K and (x - K)^2, the backward pass dy and dy (x - mean).
template <int B, class Terms>
inline void blocked_channel_sums(int64_t HW, int64_t c0, double* s1, double* s2, Terms&& terms) {
  constexpr int V = B / 8;
  double a1[B] = {}, a2[B] = {};
  for (int64_t i0 = 0; i0 < HW; i0 += kRun) {
    const int64_t i1 = std::min(HW, i0 + kRun);
    v8f f1[V] = {}, f2[V] = {};
    for (int64_t i = i0; i < i1; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) {
        const auto [t1, t2] = terms(i * B + 8 * v, v);
        f1[v] += t1;
        f2[v] += t2;
      }
    for (int v = 0; v < V; ++v)
      for (int j = 0; j < 8; ++j) a1[8 * v + j] += f1[v][j], a2[8 * v + j] += f2[v][j];
  }
  for (int j = 0; j < B; ++j) s1[c0 + j] += a1[j], s2[c0 + j] += a2[j];
}

// One unit (a plane, or a block of B channels over HW positions) of the normalisation both
// forward passes end with: y = act((x - m[c]) * a[c] + b[c]) for the unit's channels from c0.
template <int B, int A>
inline void apply_unit(const float* xp, float* yp, int64_t HW, int64_t c0, const float* cm,
                       const float* ca, const float* cb, float slope) {
  if constexpr (B == 0) {
    const float m = cm[c0], a = ca[c0], b = cb[c0];
#pragma omp simd
    for (int64_t i = 0; i < HW; ++i) yp[i] = act_fwd<A>(std::fma(xp[i] - m, a, b), slope);
  } else {
    constexpr int V = B / 8;
    v8f m[V], a[V], b[V];
    for (int v = 0; v < V; ++v)
      m[v] = load8(cm + c0 + 8 * v), a[v] = load8(ca + c0 + 8 * v), b[v] = load8(cb + c0 + 8 * v);
    const v8f sl = splat8(slope);
    for (int64_t i = 0; i < HW; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v)
        store8(yp + i * B + 8 * v, act_fwd8<A>((load8(xp + i * B + 8 * v) - m[v]) * a[v] + b[v], sl));
  }
}

// Sync-BN, step (1.5), on the calling thread while the team waits: adds the T threads' rows of
// `part` ((T, 2, C)) into row 0, sums row 0 and the value count M over the processes through
// `cross`, and zeroes the other rows, so step (2) reads the job's totals. `local` (2C), if given,
// receives this process's own totals first. An exception is kept in `error`, not thrown inside
// the OpenMP region.
void cross_sum_rows(const CrossSum& cross, double* part, int T, int64_t C, double& M, double* local,
                    std::exception_ptr& error) {
  try {
    std::vector<double> tot(size_t(2 * C + 1), 0.0);
    for (int r = 0; r < T; ++r)
      for (int64_t i = 0; i < 2 * C; ++i) tot[size_t(i)] += part[2 * C * r + i];
    if (local) std::copy(tot.begin(), tot.begin() + 2 * C, local);
    tot[size_t(2 * C)] = M;
    cross(tot.data(), 2 * C + 1);
    M = tot[size_t(2 * C)];
    std::fill(part, part + 2 * C * T, 0.0);
    std::copy(tot.begin(), tot.begin() + 2 * C, part);
  } catch (...) {
    error = std::current_exception();
  }
}

template <int B, int A>
void forward_train(const BatchNormGeom& g, const float* x, const float* gamma, const float* beta,
                   float eps, float* y, float* save_mean, float* save_invstd, double* batch_mean,
                   double* batch_var, float slope, const CrossSum* cross, int64_t* count) {
  const int64_t C = g.C, HW = g.HW;
  double M = double(g.N * HW);  // the job's count after a cross sum
  std::exception_ptr error;
  const Units<B> U(g);
  const bool par = g.N * C * HW >= kParallelMin;
  const int T = par ? omp_get_max_threads() : 1;
  Scratch& s = scratch(2 * C * T + C, 3 * C);
  double* part = s.d.data();      // (T, 2, C): per-thread s1, s2
  double* K = part + 2 * C * T;   // (C) shift
  float* cm = s.f.data();         // (C) y = (x - cm) ca + cb
  float* ca = cm + C;
  float* cb = ca + C;
  for (int64_t c = 0; c < C; ++c) K[c] = x[act_offset(B, C, HW, 0, c, 0)];
  if (cross) {  // the shift all processes use: the mean of their first values
    std::vector<double> k(K, K + C);
    k.push_back(1.0);
    (*cross)(k.data(), C + 1);
    for (int64_t c = 0; c < C; ++c) K[c] = k[size_t(c)] / k[size_t(C)];
  }
#pragma omp parallel num_threads(T) if (par)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* s1 = part + 2 * C * t;
    double* s2 = s1 + C;
    std::fill(s1, s1 + 2 * C, 0.0);
#pragma omp for schedule(static)
    for (int64_t u = 0; u < U.count; ++u) {
      const float* xp = x + u * U.len;
      const int64_t c0 = U.first_channel(u);
      if constexpr (B == 0) {
        const double k = K[c0];
        double a1 = 0, a2 = 0;
#pragma omp simd reduction(+ : a1, a2)
        for (int64_t i = 0; i < HW; ++i) {
          const double d = double(xp[i]) - k;
          a1 += d;
          a2 += d * d;
        }
        s1[c0] += a1;
        s2[c0] += a2;
      } else {
        constexpr int V = B / 8;
        v8f k[V];
        for (int v = 0; v < V; ++v)
          for (int j = 0; j < 8; ++j) k[v][j] = static_cast<float>(K[c0 + 8 * v + j]);
        blocked_channel_sums<B>(HW, c0, s1, s2, [&](int64_t o, int v) {
          const v8f d = load8(xp + o) - k[v];
          return std::pair{d, d * d};
        });
      }
    }
    if (cross) {
#pragma omp master
      cross_sum_rows(*cross, part, nt, C, M, nullptr, error);
#pragma omp barrier
    }
#pragma omp for schedule(static)
    for (int64_t c = 0; c < C; ++c) {
      double t1 = 0, t2 = 0;
      for (int r = 0; r < nt; ++r) t1 += part[2 * C * r + c], t2 += part[2 * C * r + C + c];
      const double dm = t1 / M;
      const double var = std::max(t2 / M - dm * dm, 0.0);  // biased, used to normalise
      const double mean = K[c] + dm;
      const double invstd = 1.0 / std::sqrt(var + double(eps));
      // y = (x - mean) invstd gamma + beta = (x - m) a + b, with m = float(mean) and the rounding
      // residual mean - m folded into b so that it costs no accuracy.
      const double a = double(gamma[c]) * invstd;
      const float m = static_cast<float>(mean);
      cm[c] = m;
      ca[c] = static_cast<float>(a);
      cb[c] = static_cast<float>(double(beta[c]) - (mean - double(m)) * a);
      save_mean[c] = m;
      save_invstd[c] = static_cast<float>(invstd);
      batch_mean[c] = mean;
      batch_var[c] = var;
    }
#pragma omp for schedule(static)
    for (int64_t u = 0; u < U.count; ++u)
      apply_unit<B, A>(x + u * U.len, y + u * U.len, HW, U.first_channel(u), cm, ca, cb, slope);
  }
  if (error) std::rethrow_exception(error);
  if (count) *count = int64_t(M);
}

template <int B, int A>
void forward_eval(const BatchNormGeom& g, const float* x, const float* gamma, const float* beta,
                  float eps, const float* running_mean, const float* running_var, float* y,
                  float slope) {
  const int64_t C = g.C, HW = g.HW;
  const Units<B> U(g);
  Scratch& s = scratch(0, 2 * C);
  float* ca = s.f.data();  // (C) y = (x - running_mean) ca + beta
  float* cm = ca + C;
  for (int64_t c = 0; c < C; ++c) {
    // a = gamma / sqrt(running_var + eps)
    ca[c] = static_cast<float>(double(gamma[c]) / std::sqrt(double(running_var[c]) + double(eps)));
    cm[c] = running_mean[c];
  }
#pragma omp parallel for schedule(static) if (g.N * C * HW >= kParallelMin)
  for (int64_t u = 0; u < U.count; ++u)
    apply_unit<B, A>(x + u * U.len, y + u * U.len, HW, U.first_channel(u), cm, ca, beta, slope);
}

template <int B, int A>
void backward(const BatchNormGeom& g, const float* x, const float* dy, const float* gamma,
              const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
              float* dbeta, const float* z, float slope, const CrossSum* cross) {
  const int64_t C = g.C, HW = g.HW;
  double M = double(g.N * HW);  // the job's count after a cross sum
  std::exception_ptr error;
  const Units<B> U(g);
  const bool par = g.N * C * HW >= kParallelMin;
  const int T = par ? omp_get_max_threads() : 1;
  Scratch& s = scratch(2 * C * T, 3 * C);
  double* part = s.d.data();  // (T, 2, C): per-thread sum dy, sum dy (x - mean)
  float* ca = s.f.data();     // (C) dx = ca dy + cb (x - mean) + ck
  float* cb = ca + C;
  float* ck = cb + C;
#pragma omp parallel num_threads(T) if (par)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* sdy = part + 2 * C * t;
    double* sdyx = sdy + C;
    std::fill(sdy, sdy + 2 * C, 0.0);
#pragma omp for schedule(static)
    for (int64_t u = 0; u < U.count; ++u) {
      const float* xp = x + u * U.len;
      const float* dp = dy + u * U.len;
      const float* zp = A ? z + u * U.len : dp;
      const int64_t c0 = U.first_channel(u);
      if constexpr (B == 0) {
        const double m = save_mean[c0];
        double a1 = 0, a2 = 0;
#pragma omp simd reduction(+ : a1, a2)
        for (int64_t i = 0; i < HW; ++i) {
          const double d = act_bwd<A>(zp[i], dp[i], slope);
          a1 += d;
          a2 += d * (double(xp[i]) - m);
        }
        sdy[c0] += a1;
        sdyx[c0] += a2;
      } else {
        constexpr int V = B / 8;
        v8f m[V];
        for (int v = 0; v < V; ++v) m[v] = load8(save_mean + c0 + 8 * v);
        const v8f sl = splat8(slope);
        blocked_channel_sums<B>(HW, c0, sdy, sdyx, [&](int64_t o, int v) {
          const v8f d = act_bwd8<A>(load8(zp + o), load8(dp + o), sl);
          return std::pair{d, d * (load8(xp + o) - m[v])};
        });
      }
    }
    if (cross) {
      // The parameter gradients are this process's own sums (the gradient all-reduce adds them
      // up later); dx needs the job's.
#pragma omp master
      {
        std::vector<double> local(size_t(2 * C));
        cross_sum_rows(*cross, part, nt, C, M, local.data(), error);
        for (int64_t c = 0; c < C; ++c) {
          dbeta[c] = static_cast<float>(double(dbeta[c]) + local[size_t(c)]);
          dgamma[c] = static_cast<float>(double(dgamma[c]) + local[size_t(C + c)] * save_invstd[c]);
        }
      }
#pragma omp barrier
    }
#pragma omp for schedule(static)
    for (int64_t c = 0; c < C; ++c) {
      double t1 = 0, t2 = 0;
      for (int r = 0; r < nt; ++r) t1 += part[2 * C * r + c], t2 += part[2 * C * r + C + c];
      const double invstd = save_invstd[c];
      // dbeta += sum dy;  dgamma += sum dy * xhat = sum dy (x - mean) invstd      (accumulated)
      if (!cross) {
        dbeta[c] = static_cast<float>(double(dbeta[c]) + t1);
        dgamma[c] = static_cast<float>(double(dgamma[c]) + t2 * invstd);
      }
      // dx = gamma invstd / M (M dy - sum dy - xhat sum(dy xhat))                 (assigned)
      //    = a dy + b (x - mean) + k,  a = gamma invstd,  b = -a invstd^2 sdyx / M,  k = -a sdy / M
      const double a = double(gamma[c]) * invstd;
      ca[c] = static_cast<float>(a);
      cb[c] = static_cast<float>(-a * invstd * invstd * t2 / M);
      ck[c] = static_cast<float>(-a * t1 / M);
    }
    if (dx) {
#pragma omp for schedule(static)
      for (int64_t u = 0; u < U.count; ++u) {
        const float* xp = x + u * U.len;
        const float* dp = dy + u * U.len;
        const float* zp = A ? z + u * U.len : dp;
        float* op = dx + u * U.len;
        const int64_t c0 = U.first_channel(u);
        if constexpr (B == 0) {
          const float m = save_mean[c0], a = ca[c0], b = cb[c0], k = ck[c0];
#pragma omp simd
          for (int64_t i = 0; i < HW; ++i)
            op[i] = std::fma(a, act_bwd<A>(zp[i], dp[i], slope), std::fma(b, xp[i] - m, k));
        } else {
          constexpr int V = B / 8;
          v8f m[V], a[V], b[V], k[V];
          for (int v = 0; v < V; ++v) {
            const int64_t c = c0 + 8 * v;
            m[v] = load8(save_mean + c), a[v] = load8(ca + c), b[v] = load8(cb + c), k[v] = load8(ck + c);
          }
          const v8f sl = splat8(slope);
          for (int64_t i = 0; i < HW; ++i)
#pragma GCC unroll 2
            for (int v = 0; v < V; ++v) {
              const int64_t o = i * B + 8 * v;
              const v8f d = act_bwd8<A>(load8(zp + o), load8(dp + o), sl);
              store8(op + o, a[v] * d + (b[v] * (load8(xp + o) - m[v]) + k[v]));
            }
        }
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

// Calls f(integral_constant<B>, integral_constant<A>) for the layout and fused activation.
template <class F>
void dispatch(const BatchNormGeom& g, const BnAct& act, F&& f) {
  auto with_act = [&](auto b) {
    if (!act.on) return f(b, std::integral_constant<int, 0>{});
    if (act.act == Act::relu) return f(b, std::integral_constant<int, 1>{});
    return f(b, std::integral_constant<int, 2>{});
  };
  switch (g.block) {
    case 0: return with_act(std::integral_constant<int, 0>{});
    case 8: return with_act(std::integral_constant<int, 8>{});
    case 16: return with_act(std::integral_constant<int, 16>{});
  }
  throw Error(fmt::format("[batchnorm] no fast kernel for channel block {} (0, 8 or 16)", g.block));
}

}  // namespace

void batchnorm_fast_forward_train(const BatchNormGeom& g, const float* x, const float* gamma,
                                  const float* beta, float eps, float* y, float* save_mean,
                                  float* save_invstd, double* batch_mean, double* batch_var,
                                  const BnAct& act, const CrossSum* cross, int64_t* count) {
  dispatch(g, act, [&](auto b, auto a) {
    forward_train<decltype(b)::value, decltype(a)::value>(g, x, gamma, beta, eps, y, save_mean,
                                                          save_invstd, batch_mean, batch_var,
                                                          act.slope, cross, count);
  });
}

void batchnorm_fast_forward_eval(const BatchNormGeom& g, const float* x, const float* gamma,
                                 const float* beta, float eps, const float* running_mean,
                                 const float* running_var, float* y, const BnAct& act) {
  dispatch(g, act, [&](auto b, auto a) {
    forward_eval<decltype(b)::value, decltype(a)::value>(g, x, gamma, beta, eps, running_mean,
                                                         running_var, y, act.slope);
  });
}

void batchnorm_fast_backward(const BatchNormGeom& g, const float* x, const float* dy,
                             const float* gamma, const float* save_mean, const float* save_invstd,
                             float* dx, float* dgamma, float* dbeta, const float* z,
                             const BnAct& act, const CrossSum* cross) {
  dispatch(g, act, [&](auto b, auto a) {
    backward<decltype(b)::value, decltype(a)::value>(g, x, dy, gamma, save_mean, save_invstd, dx,
                                                     dgamma, dbeta, z, act.slope, cross);
  });
}

}  // namespace dcgan::ops::cpu
