// Conv playground: times the fast (oneDNN) Conv2d / ConvTranspose2d passes for the layers of the
// `seed` 32x32x1 model at batch 64 and reports GFLOP/s per layer and pass, after checking each
// layer's forward once against the reference loops.
//
// Not wired into CMake yet; build by hand against a built library, e.g.
//   g++ -std=c++20 -O2 -march=haswell -Iinclude -Isrc bench/conv_playground.cpp
//       build/libdcgan.a -ldnnl -lfmt -lopenblas -fopenmp -o /tmp/conv_playground   (one line)
//   /tmp/conv_playground [threads=2] [batch=64] [min_seconds_per_pass=0.3] [bias=1]
// CONV_INFO=1 also prints the oneDNN kernels each layer runs; DNNL_MAX_CPU_ISA=AVX2 limits
// oneDNN to AVX2 on a machine that has AVX-512.
//
// FLOPs per pass (forward, data gradient, weight gradient alike) are the nominal
// 2 * N * C_in * C_out * k * k * (small map size), the small map being the output for Conv2d
// and the input for ConvTranspose2d (padded taps counted, as in docs/performance.md); the `useful`
// column is the fraction of them that is not padding (useful GFLOP/s = GF/s x useful).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "dcgan/threads.hpp"
#include "core/rng.hpp"
#include "ops/conv.hpp"
#include "ops/cpu/conv_cpu.hpp"

using dcgan::ops::ConvGeom;
using dcgan::ops::Impl;

namespace {

bool g_bias = true;  // argv[4]

ConvGeom layer(bool transposed, int64_t N, int64_t C_in, int64_t H, int64_t C_out) {
  ConvGeom g;
  g.N = N, g.C_in = C_in, g.H = H, g.W = H, g.C_out = C_out;
  g.kernel = 4, g.stride = 2, g.padding = 1, g.output_padding = 0;
  g.transposed = transposed, g.has_bias = g_bias;
  return g;
}

// Fraction of the nominal multiply-adds whose input tap is inside the image (not padding):
// the work a kernel that skips padded taps actually does. Per axis, count the (small position,
// tap) pairs that land inside the big map.
double useful_fraction(const ConvGeom& g) {
  auto axis = [&](int64_t small, int64_t big) {
    int64_t inside = 0;
    for (int64_t o = 0; o < small; ++o)
      for (int64_t t = 0; t < g.kernel; ++t) {
        const int64_t i = o * g.stride - g.padding + t;
        inside += (i >= 0 && i < big);
      }
    return double(inside) / double(small * g.kernel);
  };
  return g.transposed ? axis(g.H, g.Ho()) * axis(g.W, g.Wo())
                      : axis(g.Ho(), g.H) * axis(g.Wo(), g.W);
}

double nominal_flops(const ConvGeom& g) {
  const double small = g.transposed ? double(g.H * g.W) : double(g.Ho() * g.Wo());
  return 2.0 * g.N * g.C_in * g.C_out * g.kernel * g.kernel * small;
}

// Fastest per-call seconds over calls lasting >= min_s in total. The minimum, not the median:
// the 2-core machines are shared, and other processes' bursts stall OpenMP barriers for whole
// scheduler slices (medians of 20-40 ms for 0.5 ms layers were seen under load).
double time_call(const std::function<void()>& f, double min_s) {
  using clk = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) f();  // warm-up: first-touch of buffers, thread start
  std::vector<double> per_call;
  const auto start = clk::now();
  while (per_call.size() < 5 || std::chrono::duration<double>(clk::now() - start).count() < min_s) {
    const auto t0 = clk::now();
    f();
    per_call.push_back(std::chrono::duration<double>(clk::now() - t0).count());
  }
  return *std::min_element(per_call.begin(), per_call.end());
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int64_t N = argc > 2 ? std::atoll(argv[2]) : 64;
  const double min_s = argc > 3 ? std::atof(argv[3]) : 0.3;
  g_bias = argc > 4 ? std::atoi(argv[4]) != 0 : true;
  dcgan::set_num_threads(threads);

  struct Layer {
    const char* name;
    ConvGeom g;
  };
  const std::vector<Layer> layers{
      {"G convT 128->64  2->4", layer(true, N, 128, 2, 64)},
      {"G convT  64->32  4->8", layer(true, N, 64, 4, 32)},
      {"G convT  32->16  8->16", layer(true, N, 32, 8, 16)},
      {"G convT  16->1  16->32", layer(true, N, 16, 16, 1)},
      {"D conv    1->16 32->16", layer(false, N, 1, 32, 16)},
      {"D conv   16->32 16->8", layer(false, N, 16, 16, 32)},
      {"D conv   32->64  8->4", layer(false, N, 32, 8, 64)},
      {"D conv   64->128 4->2", layer(false, N, 64, 4, 128)},
  };

  std::printf("threads %d, batch %lld, bias %d; fastest ms per call and nominal GFLOP/s\n", threads,
              (long long)N, int(g_bias));
  std::printf("%-24s %8s %6s | %8s %7s | %8s %7s | %8s %7s\n", "layer", "MFLOP", "useful", "fwd ms", "GF/s",
              "bwd_d ms", "GF/s", "bwd_w ms", "GF/s");
  double total_ms[3] = {0, 0, 0};
  dcgan::Rng rng(1);
  for (const Layer& l : layers) {
    const ConvGeom& g = l.g;
    const int64_t nx = g.N * g.C_in * g.H * g.W, ny = g.N * g.C_out * g.Ho() * g.Wo();
    const int64_t nw = g.C_in * g.C_out * g.kernel * g.kernel;
    std::vector<float> x(nx), y(ny), dy(ny), dx(nx), w(nw), b(g.C_out), dw(nw), db(g.C_out);
    for (auto* v : {&x, &dy, &w, &b})
      for (auto& e : *v) e = rng.normal();
    auto op = dcgan::ops::make_conv(g, Impl::fast);

    // Sanity check against the reference on the first two images.
    {
      ConvGeom g2 = g;
      g2.N = 2;
      std::vector<float> y_ref(2 * g.C_out * g.Ho() * g.Wo());
      dcgan::ops::make_conv(g2, Impl::reference)->forward(x.data(), w.data(), b.data(), y_ref.data());
      op->forward(x.data(), w.data(), b.data(), y.data());
      double err = 0;
      for (size_t i = 0; i < y_ref.size(); ++i) err = std::max(err, double(std::fabs(y[i] - y_ref[i])));
      if (err > 1e-3) {
        std::printf("%s: forward differs from the reference by %g\n", l.name, err);
        return 1;
      }
    }

    const double t[3] = {
        time_call([&] { op->forward(x.data(), w.data(), b.data(), y.data()); }, min_s),
        time_call([&] { op->backward_data(dy.data(), w.data(), dx.data()); }, min_s),
        time_call([&] { op->backward_weights(x.data(), dy.data(), dw.data(), db.data(), true); },
                  min_s)};
    const double f = nominal_flops(g);
    std::printf("%-24s %8.1f %6.2f | %8.3f %7.1f | %8.3f %7.1f | %8.3f %7.1f\n", l.name, f / 1e6,
                useful_fraction(g),
                t[0] * 1e3, f / t[0] / 1e9, t[1] * 1e3, f / t[1] / 1e9, t[2] * 1e3,
                f / t[2] / 1e9);
    for (int i = 0; i < 3; ++i) total_ms[i] += t[i] * 1e3;
    if (std::getenv("CONV_INFO")) std::printf("    %s\n", dcgan::ops::cpu::onednn_conv_info(*op).c_str());
  }
  std::printf("%-24s %8s %6s | %8.3f %7s | %8.3f %7s | %8.3f\n", "sum", "", "", total_ms[0], "",
              total_ms[1], "", total_ms[2]);
  return 0;
}
