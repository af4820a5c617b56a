// Measurements behind two rejected performance ideas (docs/performance.md, "What was tried"),
// kept so that their figures can be reproduced:
//
//   build/dcgan_onednn_experiments batch128        [--threads 2]
//     oneDNN's data-gradient pass of the seed 32 discriminator's layers at batch 64 and at batch
//     128. Stacking the G step's and the D step's fake-batch upstream gradients into one batch of
//     128 pays only if oneDNN is faster per image at 128.
//   build/dcgan_onednn_experiments weight-reorder  [--threads 2]
//     Converting a 128 x 64 x 4 x 4 weight (512 KB) from PyTorch's layouts into oneDNN's blocked
//     ones: oneDNN's reorder vs a hand-written transpose (8 x 8 AVX2 blocks, OpenMP over block
//     pairs), weights hot in cache. Only the conversion into the blocked layout was faster, and
//     inside a training step it was not (see the performance page): the copies are bound by
//     moving weights between cache levels right after the optimizer's update.
//   build/dcgan_onednn_experiments few-channels    [--threads 2]
//     The discriminator's first layer (1 or 3 image channels) as the fast op runs it, with our
//     few-channel kernels and without them (DCGAN_NO_FEW_CHANNELS=1: every pass oneDNN's), for
//     the seed 32, seed 64 and dcgan shapes. Run it once more with DNNL_MAX_CPU_ISA=AVX2 for an
//     AVX2-only CPU; conv_onednn.cpp uses each kernel only where it won.
//
// Each figure is the median of many calls, microseconds or milliseconds per call.
#include <immintrin.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "ops/conv.hpp"
#include "ops/cpu/conv_cpu.hpp"

namespace {

using namespace dnnl;
using tag = memory::format_tag;

memory::desc f32(const memory::dims& d, tag t) { return {d, memory::data_type::f32, t}; }

// Median wall time of f in microseconds over `reps` calls after 5 warm-up calls.
template <class F>
double median_us(F&& f, int reps) {
  for (int i = 0; i < 5; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void batch128() {
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  std::printf("seed 32 discriminator, convolution data gradient (k4 s2 p1), oneDNN %s kernels\n",
              "its own choice of");
  std::printf("| layer | batch 64 (ms) | batch 128 (ms) | 128 / 64 |\n|---|---:|---:|---:|\n");
  struct L { int ci, co, H; };
  for (L l : {L{16, 32, 16}, L{32, 64, 8}, L{64, 128, 4}}) {
    double ms[2];
    for (int k = 0; k < 2; ++k) {
      const int N = k ? 128 : 64;
      const memory::dims x{N, l.ci, l.H, l.H}, y{N, l.co, l.H / 2, l.H / 2}, w{l.co, l.ci, 4, 4};
      const auto xd = f32(x, tag::nChw16c), yd = f32(y, tag::nChw16c), wd = f32(w, tag::any);
      convolution_forward::primitive_desc fwd({prop_kind::forward_training, algorithm::convolution_direct, xd,
                                               wd, memory::desc(), yd, {2, 2}, {1, 1}, {1, 1}},
                                              eng);
      convolution_backward_data::primitive_desc bwd({algorithm::convolution_direct, xd, wd, yd, {2, 2}, {1, 1},
                                                     {1, 1}},
                                                    eng, fwd);
      memory dx(bwd.diff_src_desc(), eng), dy(bwd.diff_dst_desc(), eng), wm(bwd.weights_desc(), eng);
      convolution_backward_data prim(bwd);
      ms[k] = median_us([&] {
                prim.execute(s, {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dx}});
                s.wait();
              }, 40) / 1e3;
    }
    std::printf("| %d -> %d, %dx%d | %.3f | %.3f | %.2f |\n", l.ci, l.co, l.H, l.H, ms[0], ms[1], ms[1] / ms[0]);
  }
}

// The hand-written conversion: plain (taps contiguous) -> 16 x 16 or 8 x 8 blocked.
struct Blocked {
  int64_t D0, D1, T, B, inner, p0, p1, b0, b1;  // see weight_reorder() for the fields
};

void transpose8(const float* s, int64_t s_rs, float* d, int64_t d_rs) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + i * s_rs);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(d + i * d_rs, t[i]);
}

void to_blocked(const Blocked& g, const float* plain, float* blocked) {
  const int64_t pi = g.inner == 0 ? g.p0 : g.p1, po = g.inner == 0 ? g.p1 : g.p0;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t i0 = 0; i0 < g.D0 / g.B; ++i0)
    for (int64_t i1 = 0; i1 < g.D1 / g.B; ++i1)
      for (int64_t eo = 0; eo < g.B; ++eo) {
        const float* s = plain + i0 * g.B * g.p0 + i1 * g.B * g.p1 + eo * po;
        float* d = blocked + i0 * g.b0 + i1 * g.b1 + eo * g.B;
        for (int64_t r = 0; r < g.B; r += 8)  // 8 plain rows at a time, all their taps
          for (int64_t c = 0; c < g.T; c += 8) transpose8(s + r * pi + c, pi, d + c * g.B * g.B + r, g.B * g.B);
      }
}

void weight_reorder() {
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const memory::dims wd{128, 64, 4, 4};
  std::printf("weight 128 x 64 x 4 x 4 (512 KB), plain -> blocked, microseconds per call\n");
  std::printf("| from | to | oneDNN | hand-written | equal |\n|---|---|---:|---:|---|\n");
  const std::pair<tag, const char*> plains[] = {{tag::oihw, "oihw"}, {tag::iohw, "iohw"}};
  const std::pair<tag, const char*> blockeds[] = {{tag::OIhw16i16o, "OIhw16i16o"}, {tag::OIhw16o16i, "OIhw16o16i"},
                                                  {tag::IOhw16i16o, "IOhw16i16o"}, {tag::IOhw16o16i, "IOhw16o16i"},
                                                  {tag::OIhw8i8o, "OIhw8i8o"}};
  for (auto [pt, pn] : plains)
    for (auto [bt, bn] : blockeds) {
      const memory::desc pd = f32(wd, pt), bd = f32(wd, bt);
      memory a(pd, eng), b(bd, eng);
      float* pa = static_cast<float*>(a.get_data_handle());
      for (int i = 0; i < 128 * 64 * 16; ++i) pa[i] = float(i);
      reorder r(a, b);
      const auto& pb = pd.data.format_desc.blocking;
      const auto& bb = bd.data.format_desc.blocking;
      // D0, D1 = oneDNN's dims {0, 1}; T taps; B block; inner = the dimension contiguous inside a
      // block (listed last); p0, p1 plain strides; b0, b1 strides of a block step.
      const Blocked g{128, 64, 16, bb.inner_blks[0], bb.inner_idxs[1], pb.strides[0], pb.strides[1],
                      bb.strides[0], bb.strides[1]};
      std::vector<float> mine(bd.get_size() / sizeof(float));
      r.execute(s, a, b);
      to_blocked(g, pa, mine.data());
      const bool eq = std::equal(mine.begin(), mine.end(), static_cast<float*>(b.get_data_handle()));
      const double t_dnnl = median_us([&] { r.execute(s, a, b); s.wait(); }, 200);
      const double t_mine = median_us([&] { to_blocked(g, pa, mine.data()); }, 200);
      std::printf("| %s | %s | %.1f | %.1f | %s |\n", pn, bn, t_dnnl, t_mine, eq ? "yes" : "NO");
    }
}

void few_channels() {
  using dcgan::ops::ConvGeom;
  std::printf("Conv2d(C_in -> C_out, k4 s2 p1) from a plain image, ms per call\n");
  std::printf("| layer | pass | fast op | fast op, oneDNN only | our weight-gradient kernel alone |\n"
              "|---|---|---:|---:|---:|\n");
  struct L { int N, ci, co, H; };
  std::vector<std::string> infos;
  for (L l : {L{64, 1, 16, 32}, L{64, 3, 16, 64}, L{128, 3, 64, 64}}) {
    ConvGeom g;
    g.N = l.N, g.C_in = l.ci, g.C_out = l.co, g.H = g.W = l.H, g.kernel = 4, g.stride = 2, g.padding = 1;
    g.has_bias = true, g.x_block = 0, g.y_block = ConvGeom::kChooseBlock;
    double ms[2][2];
    std::string info[2];
    for (int off = 0; off < 2; ++off) {
      if (off) setenv("DCGAN_NO_FEW_CHANNELS", "1", 1);
      else unsetenv("DCGAN_NO_FEW_CHANNELS");
      auto op = dcgan::ops::make_conv(g, dcgan::ops::Impl::fast);
      info[off] = dcgan::ops::cpu::onednn_conv_info(*op);
      std::vector<float> x(size_t(g.N * g.C_in * g.H * g.W), 0.5f), dx(x.size());
      std::vector<float> dy(size_t(g.N * g.C_out * g.Ho() * g.Wo()), 0.25f);
      std::vector<float> w(size_t(g.C_out * g.C_in * 16), 0.1f), dw(w.size()), db(size_t(g.C_out));
      ms[off][0] = median_us([&] { op->backward_weights(x.data(), dy.data(), dw.data(), db.data(), true); }, 30) / 1e3;
      ms[off][1] = median_us([&] { op->backward_data(dy.data(), w.data(), dx.data()); }, 30) / 1e3;
    }
    unsetenv("DCGAN_NO_FEW_CHANNELS");
    // Our weight-gradient kernel called directly on oneDNN's block for this CPU, also where the
    // fast op does not use it.
    const int block = dcgan::ops::cpu::onednn_preferred_block();
    const dcgan::ops::cpu::FewChannelGeom fg{g.N, g.C_out, g.Ho(), g.Wo(), g.C_in, g.H, g.W, 4, 2, 1, block};
    std::vector<float> x(size_t(g.N * g.C_in * g.H * g.W), 0.5f), dy(size_t(g.N * g.C_out * g.Ho() * g.Wo()), 0.25f);
    std::vector<float> dw(size_t(g.C_out * g.C_in * 16)), db(size_t(g.C_out));
    const double direct = median_us([&] {
      dcgan::ops::cpu::few_channels_backward_weights(fg, x.data(), dy.data(), dw.data(), db.data(), true);
    }, 30) / 1e3;
    std::printf("| %d -> %d, %dx%d, N %d | weight gradient | %.3f | %.3f | %.3f (block %d) |\n", l.ci, l.co, l.H,
                l.H, l.N, ms[0][0], ms[1][0], direct, block);
    std::printf("| %d -> %d, %dx%d, N %d | data gradient | %.3f | %.3f | |\n", l.ci, l.co, l.H, l.H, l.N,
                ms[0][1], ms[1][1]);
    infos.push_back(fmt::format("{} -> {}: with ours: {}; oneDNN only: {}", l.ci, l.co, info[0], info[1]));
  }
  std::printf("\nkernels\n");
  for (const std::string& i : infos) std::printf("- %s\n", i.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measurements behind rejected performance ideas (see the file comment)"};
  int threads = 2;
  app.add_option("--threads", threads, "OpenMP threads")->capture_default_str();
  app.require_subcommand(1);
  auto* b128 = app.add_subcommand("batch128", "data-gradient pass at batch 64 vs 128");
  auto* wr = app.add_subcommand("weight-reorder", "oneDNN's weight reorders vs hand-written transposes");
  auto* fc = app.add_subcommand("few-channels", "the first D layer with and without our few-channel kernels");
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(threads);
  if (b128->parsed()) batch128();
  if (wr->parsed()) weight_reorder();
  if (fc->parsed()) few_channels();
  return 0;
}
