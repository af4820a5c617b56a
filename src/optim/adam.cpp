// Adam, float for float as PyTorch 1.13's _single_tensor_adam (torch/optim/adam.py) on CPU:
//   grad = grad.add(param, alpha=wd)                      g = fma(p, wd, g)       (wd != 0 only)
//   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)       m = fma(g, 1-b1, m b1)
//   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
//                                                         v = fma((1-b2) g, g, v b2)
//   denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
//                                                         d = sqrt(v) / bc2s + eps
//   param.addcdiv_(exp_avg, denom, value=-step_size)      p = p + ((-step_size) m) / d
// bias_correction{1,2} = 1 - beta^t, bc2s = sqrt(bias_correction2) and step_size = lr /
// bias_correction1 are Python doubles; every scalar enters the element-wise ops as a float.
// The fused multiply-adds are where PyTorch's AVX2 kernels (vec::fmadd for add's alpha, and
// the compiler's contraction of addcmul's `self + value * t1 * t2`) round once; written here
// with explicit fmas, the update equals torch 1.13.1's bit for bit (checked on 200k elements
// over 7 steps, with and without weight decay; a plain a*b + c transcription differs from torch
// by an ulp in about 0.5 % of exp_avg_sq elements from step 2 on).
// https://pytorch.org/docs/1.13/generated/torch.optim.Adam.html
//
// Legend: n parameters in one flat buffer; p params, g grads, m exp_avg, v exp_avg_sq (all n).
#include "optim/adam.hpp"

#include <cmath>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "dcgan/error.hpp"

namespace dcgan {

namespace {

// Below this many elements one thread is faster than waking a team.
constexpr int64_t kParallelMin = 1 << 15;

// The step's scalars, each rounded to float as PyTorch passes them to the element-wise ops.
struct AdamScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size, wd;
  bool decay;
};

AdamScalars scalars(const AdamOptions& o, int64_t t) {
  const double step = double(t);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, step);
  const double step_size = o.lr / bias_correction1;
  return {float(o.beta1),
          float(1.0 - o.beta1),
          float(o.beta2),
          float(1.0 - o.beta2),
          float(std::sqrt(bias_correction2)),
          float(o.eps),
          float(-step_size),
          float(o.weight_decay),
          o.weight_decay != 0.0};
}

// One element of the update (see the file comment for each line's PyTorch original).
template <bool Decay>
inline void adam_elem(const AdamScalars& s, float& p, float grad, float& m, float& v) {
  const float g = Decay ? std::fma(p, s.wd, grad) : grad;
  m = std::fma(g, s.one_minus_beta1, m * s.beta1);
  v = std::fma(s.one_minus_beta2 * g, g, v * s.beta2);
  const float denom = std::sqrt(v) / s.bc2_sqrt + s.eps;
  p = p + (s.neg_step_size * m) / denom;
}

#if defined(__AVX2__) && defined(__FMA__)
// Eight elements of the same update, rounding for rounding. Written with intrinsics because the
// compiler will not vectorise std::sqrt while it must set errno (-fmath-errno, the default).
template <bool Decay>
inline void adam_elem8(const AdamScalars& s, float* p, const float* grad, float* m, float* v) {
  const __m256 P = _mm256_loadu_ps(p);
  __m256 G = _mm256_loadu_ps(grad);
  if (Decay) G = _mm256_fmadd_ps(P, _mm256_set1_ps(s.wd), G);
  const __m256 Mn = _mm256_fmadd_ps(G, _mm256_set1_ps(s.one_minus_beta1),
                                    _mm256_mul_ps(_mm256_loadu_ps(m), _mm256_set1_ps(s.beta1)));
  const __m256 Vn = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(s.one_minus_beta2), G), G,
                                    _mm256_mul_ps(_mm256_loadu_ps(v), _mm256_set1_ps(s.beta2)));
  const __m256 D = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(Vn), _mm256_set1_ps(s.bc2_sqrt)),
                                 _mm256_set1_ps(s.eps));
  _mm256_storeu_ps(m, Mn);
  _mm256_storeu_ps(v, Vn);
  _mm256_storeu_ps(
      p, _mm256_add_ps(P, _mm256_div_ps(_mm256_mul_ps(_mm256_set1_ps(s.neg_step_size), Mn), D)));
}
constexpr int64_t kLanes = 8;
#else
constexpr int64_t kLanes = 1;
#endif

// The update over the flat buffer: serial (reference) or OpenMP-threaded and 8-wide (fast);
// both round identically, so they agree bit for bit.
template <bool Decay>
void update(const AdamScalars& s, int64_t n, float* p, const float* g, float* m, float* v,
            ops::Impl impl) {
  switch (impl) {
    case ops::Impl::reference:
      for (int64_t k = 0; k < n; ++k) adam_elem<Decay>(s, p[k], g[k], m[k], v[k]);
      return;
    case ops::Impl::fast: {
      const int64_t blocks = n / kLanes;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t k = b * kLanes;
#if defined(__AVX2__) && defined(__FMA__)
        adam_elem8<Decay>(s, p + k, g + k, m + k, v + k);
#else
        adam_elem<Decay>(s, p[k], g[k], m[k], v[k]);
#endif
      }
      for (int64_t k = blocks * kLanes; k < n; ++k) adam_elem<Decay>(s, p[k], g[k], m[k], v[k]);
      return;
    }
  }
  throw Error("[adam] unknown implementation");
}

}  // namespace

Adam::Adam(int64_t n, AdamOptions opt) : options(opt), exp_avg({n}), exp_avg_sq({n}) {
  // torch.optim.Adam's own checks.
  DCGAN_CHECK(n >= 0, "[adam] parameter count must be >= 0, got {}", n);
  DCGAN_CHECK(opt.lr >= 0, "[adam] invalid learning rate {}", opt.lr);
  DCGAN_CHECK(opt.eps >= 0, "[adam] invalid epsilon {}", opt.eps);
  DCGAN_CHECK(opt.beta1 >= 0 && opt.beta1 < 1, "[adam] invalid beta1 {} (needs 0 <= beta1 < 1)",
              opt.beta1);
  DCGAN_CHECK(opt.beta2 >= 0 && opt.beta2 < 1, "[adam] invalid beta2 {} (needs 0 <= beta2 < 1)",
              opt.beta2);
  DCGAN_CHECK(opt.weight_decay >= 0, "[adam] invalid weight_decay {}", opt.weight_decay);
}

void Adam::step(float* params, const float* grads, ops::Impl impl) {
  const int64_t n = exp_avg.numel();
  DCGAN_CHECK(exp_avg_sq.numel() == n, "[adam] exp_avg has {} elements but exp_avg_sq has {}", n,
              exp_avg_sq.numel());
  ++t;
  const AdamScalars s = scalars(options, t);
  float* m = exp_avg.data();
  float* v = exp_avg_sq.data();
  if (s.decay)
    update<true>(s, n, params, grads, m, v, impl);
  else
    update<false>(s, n, params, grads, m, v, impl);
}

}  // namespace dcgan
