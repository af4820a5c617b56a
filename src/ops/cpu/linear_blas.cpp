// Fast Linear: one cblas_sgemm per pass, its output split into column (or row) blocks that
// OpenMP threads compute independently. BLAS runs single-threaded by design (see
// dcgan::set_num_threads): threads are OpenMP's, so they never compete with BLAS's own.
//   https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
//
// Legend
//   N batch; in, out features; [o0, o1) / [i0, i1) the block a thread owns.
//   x (N, in)  w (out, in)  b (out)  y, dy (N, out)  dx (N, in)  dw (out, in)  db (out)
// Row-major GEMMs:
//   y  = x W^T + b    (N x out)  = (N x in)  (in x out)     split over out (columns of y)
//   dx = dy W         (N x in)   = (N x out) (out x in)     split over in  (columns of dx)
//   dW += dy^T x      (out x in) = (out x N) (N x in)       split over out (rows of dW)
//   db += sum_n dy    (out)                                 same split as dW
#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "ops/cpu/linear_cpu.hpp"

namespace dcgan::ops::cpu {

namespace {

// Below this many flops one thread is faster than waking a team.
constexpr double kThreadingFlops = 4e6;
// Blocks are multiples of 16 floats (one cache line) so threads never share a line of output.
constexpr int64_t kAlign = 16;

// Calls f(begin, end) on disjoint blocks covering [0, n), one per OpenMP thread when the work
// is big enough, else once on the whole range.
template <class F>
void parallel_blocks(int64_t n, double flops, F&& f) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t chunks = (n + kAlign - 1) / kAlign;
  if (threads <= 1 || flops < kThreadingFlops || chunks < 2) {
    f(int64_t(0), n);
    return;
  }
  const int team = static_cast<int>(std::min<int64_t>(threads, chunks));
#pragma omp parallel num_threads(team)
  {
    const int64_t k = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t b = std::min(n, chunks * k / T * kAlign);
    const int64_t e = std::min(n, chunks * (k + 1) / T * kAlign);
    if (e > b) f(b, e);
  }
}

}  // namespace

void linear_blas_forward(const LinearGeom& g, const float* x, const float* w, const float* b,
                         float* y) {
  const int64_t N = g.N, In = g.in, Out = g.out;
  const bool bias = g.has_bias && b;
  parallel_blocks(Out, 2.0 * N * In * Out, [&](int64_t o0, int64_t o1) {
    // y[:, o0:o1] = b[o0:o1] (broadcast), then += x W[o0:o1, :]^T
    if (bias)
      for (int64_t n = 0; n < N; ++n) std::copy(b + o0, b + o1, y + n * Out + o0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(N),
                static_cast<int>(o1 - o0), static_cast<int>(In), 1.f, x, static_cast<int>(In),
                w + o0 * In, static_cast<int>(In), bias ? 1.f : 0.f, y + o0, static_cast<int>(Out));
  });
}

void linear_blas_backward(const LinearGeom& g, const float* x, const float* w, const float* dy,
                          float* dx, float* dw, float* db) {
  const int64_t N = g.N, In = g.in, Out = g.out;
  if (dx) {
    // dx[:, i0:i1] = dy W[:, i0:i1]                                      (assigned)
    parallel_blocks(In, 2.0 * N * In * Out, [&](int64_t i0, int64_t i1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(N),
                  static_cast<int>(i1 - i0), static_cast<int>(Out), 1.f, dy, static_cast<int>(Out),
                  w + i0, static_cast<int>(In), 0.f, dx + i0, static_cast<int>(In));
    });
  }
  if (!g.has_bias) db = nullptr;
  if (!dw && !db) return;
  parallel_blocks(Out, 2.0 * N * In * Out, [&](int64_t o0, int64_t o1) {
    // dW[o0:o1, :] += dy[:, o0:o1]^T x                                   (accumulated)
    if (dw)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(o1 - o0),
                  static_cast<int>(In), static_cast<int>(N), 1.f, dy + o0, static_cast<int>(Out), x,
                  static_cast<int>(In), 1.f, dw + o0 * In, static_cast<int>(In));
    // db[o] += sum_n dy[n,o]                                             (accumulated)
    if (db)
      for (int64_t n = 0; n < N; ++n) {
        const float* d = dy + n * Out;
#pragma omp simd
        for (int64_t o = o0; o < o1; ++o) db[o] += d[o];
      }
  });
}

}  // namespace dcgan::ops::cpu
