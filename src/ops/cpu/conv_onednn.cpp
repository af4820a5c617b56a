// Fast Conv2d / ConvTranspose2d on oneDNN 2.6 (https://oneapi-src.github.io/oneDNN/v2.6/).
//
// Legend: N batch, C_in / C_out channels, H/W input size, Ho/Wo output size, k kernel.
//   x (N, C_in, H, W)     y (N, C_out, Ho, Wo)     b (C_out)
//   x / dx and y / dy in the caller's layouts g.x_block / g.y_block: nchw or nChw{b}c
//   (dcgan/ops/layout.hpp); with g.y_block = kChooseBlock the op takes oneDNN's choice.
//   w Conv2d (C_out, C_in, k, k) = oneDNN oihw on dims {C_out, C_in, k, k}
//   w ConvTranspose2d (C_in, C_out, k, k) = oneDNN iohw on dims {C_out, C_in, k, k}
//     (oneDNN names deconvolution weights {OC, IC, kh, kw} whatever their memory order)
//
// Everything is created once per geometry in the constructor: the primitives (format `any`, so
// oneDNN picks blocked layouts such as nChw16c; on plain layouts its deconvolution may fall back
// to a reference kernel 100-1000x slower) and the reorders between their layouts and the
// caller's plain buffers. Memory is taken when first needed: a pass's internal buffers on its
// first call (inference never allocates the backward passes'), and the scratchpad from one
// per-thread buffer shared by all primitives (shared_scratchpad). A call binds
// the caller's pointers, reorders the inputs in, runs the primitive and reorders the outputs out.
// When the caller's x and y are both blocked (an inner layer of a network whose layers exchange
// blocked tensors), each pass is first created on exactly those layouts, so that nothing is
// reordered. Measured exceptions to "let oneDNN choose": a pass that would store a 1- or
// 3-channel image padded to 8- or 16-channel blocks runs on plain or channels-last layouts
// (choose_layouts), and a transposed conv's bias is added by us (add_bias).
// Threads: oneDNN's OpenMP runtime uses omp_get_max_threads() at execution time.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dcgan/error.hpp"
#include "ops/cpu/conv_cpu.hpp"

namespace dcgan::ops::cpu {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream s(cpu_engine());
  return s;
}

memory::desc f32_desc(const memory::dims& d, tag t) { return {d, memory::data_type::f32, t}; }

// Primitives get their scratchpad from us (shared_scratchpad) instead of allocating their own.
dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

// The scratchpad every primitive of this thread uses: one buffer, grown to the largest need seen
// (primitives run one at a time per thread and wait for completion, so they can share it; a
// network of ten convolutions keeps one scratchpad, not ten).
void* shared_scratchpad(size_t bytes) {
  struct Buffer {
    std::unique_ptr<void, decltype(&std::free)> p{nullptr, &std::free};
    size_t size = 0;
  };
  thread_local Buffer buf;
  if (bytes > buf.size) {
    const size_t rounded = (bytes + 4095) / 4096 * 4096;  // 64-byte aligned like oneDNN's own
    buf.p.reset();
    buf.p.reset(std::aligned_alloc(64, rounded));
    if (!buf.p) throw std::bad_alloc();
    buf.size = rounded;
  }
  return buf.p.get();
}

// One primitive with its bound arguments; a scratchpad argument, when it needs one, points
// into the shared scratchpad at every run.
struct Step {
  dnnl::primitive prim;
  Args args;
  memory::desc scratch_md;
  memory scratch = {};  // the scratchpad argument, created at the first run
  void run() {
    if (const size_t bytes = scratch_md.get_size()) {
      if (!scratch) args[DNNL_ARG_SCRATCHPAD] = scratch = memory(scratch_md, cpu_engine(), DNNL_MEMORY_NONE);
      scratch.set_data_handle(shared_scratchpad(bytes));
    }
    prim.execute(cpu_stream(), args);
  }
};

Step reorder_step(const memory& from, const memory& to, bool add_into_dst = false) {
  dnnl::primitive_attr attr = user_scratchpad_attr();
  if (add_into_dst) {  // to = to + reorder(from)
    dnnl::post_ops po;
    po.append_sum(1.f);
    attr.set_post_ops(po);
  }
  dnnl::reorder::primitive_desc pd(from, to, attr);
  return {dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}, pd.scratchpad_desc()};
}

// A primitive argument backed by a caller's plain buffer. `user` wraps the caller's pointer
// (bound per call); `prim` is what the primitive reads or writes: `user` itself when the
// primitive chose the plain layout, otherwise an internal buffer in the chosen layout with
// `convert` between the two (user -> prim for inputs, prim -> user for outputs).
// The internal buffer is allocated on the pass's first call (ensure), so an op used only for
// inference never holds its backward passes' buffers.
struct LazyBuffer {
  std::unique_ptr<void, decltype(&std::free)> p{nullptr, &std::free};
  // Gives `m` (created with DNNL_MEMORY_NONE) its own buffer, once.
  void ensure(memory& m) {
    if (p) return;
    const size_t bytes = (m.get_desc().get_size() + 63) / 64 * 64;
    p.reset(std::aligned_alloc(64, std::max<size_t>(bytes, 64)));
    if (!p) throw std::bad_alloc();
    m.set_data_handle(p.get());
  }
};

struct Port {
  memory user;
  memory prim;
  std::optional<Step> convert;
  LazyBuffer storage;  // prim's buffer when it is not user
  void bind(const void* p) { user.set_data_handle(const_cast<void*>(p)); }
  void ensure() {
    if (convert) storage.ensure(prim);
  }
};

Port make_port(const memory::desc& user_md, const memory::desc& chosen, bool input) {
  Port p{memory(user_md, cpu_engine(), DNNL_MEMORY_NONE), {}, {}, {}};
  if (chosen == user_md) {
    p.prim = p.user;
  } else {
    p.prim = memory(chosen, cpu_engine(), DNNL_MEMORY_NONE);
    p.convert = input ? reorder_step(p.user, p.prim) : reorder_step(p.prim, p.user);
  }
  return p;
}
Port input_port(const memory::desc& user_md, const memory::desc& chosen) {
  return make_port(user_md, chosen, true);
}
Port output_port(const memory::desc& user_md, const memory::desc& chosen) {
  return make_port(user_md, chosen, false);
}

// Layouts a pass's primitive descriptor is created with.
struct Layouts {
  memory::desc x, w, y;
};

// oneDNN's blocked layouts keep channels in blocks of 8 or 16, so a 1- or 3-channel image is
// stored padded to a whole block, and a kernel that reads or writes it does up to 16x the work.
bool padded(const memory::desc& chosen, const memory::desc& plain) {
  return chosen.get_size() >= 2 * plain.get_size();
}

// Creates a pass's primitive descriptor with `preferred` layouts unless `wasteful(pd)` says
// they pad an image (see `padded`); then `fallback` is tried and kept unless only oneDNN's
// reference kernel (100-1000x slower) takes it. Measured on the seed model's 1-channel layers
// (batch 64, 1 thread; x = time with all-`any` layouts):
//   forward / data gradient writing the image: plain nchw (im2col + GEMM) 0.3-0.4 ms vs
//     1.1-3.6 ms on AVX-512 (on AVX2 oneDNN already picks the plain GEMM kernel itself);
//   weight gradient reading a padded image (AVX2 only): channels-last 0.11-0.16 ms vs 0.8-0.95.
// The choice depends only on shapes and the CPU, never on timings, so results are reproducible.
template <class PD, class Make, class Wasteful>
PD choose_layouts(const Make& make, const Wasteful& wasteful, const Layouts* exchange,
                  const Layouts& preferred, const Layouts& fallback) {
  // The caller's own layouts first, when given (no reorders at all), unless only oneDNN's
  // reference kernel takes them.
  if (exchange) try {
      PD pd = make(*exchange);
      if (!std::string_view(pd.impl_info_str()).starts_with("ref")) return pd;
    } catch (const dnnl::error&) {
    }
  PD pd = make(preferred);
  if (!wasteful(pd)) return pd;
  try {
    PD alt = make(fallback);
    if (!std::string_view(alt.impl_info_str()).starts_with("ref")) return alt;
  } catch (const dnnl::error&) {
    // no fast kernel for the fallback layouts: keep the preferred ones
  }
  return pd;
}

// y[n, c, :, :] += b[c] over an (N, C, HW) buffer in layout `block` (0: nchw).
void add_bias(float* y, const float* b, int64_t N, int64_t C, int64_t HW, int block) {
  constexpr int64_t kParallelMin = 1 << 15;  // below this many elements one thread is faster
  const bool par = N * C * HW >= kParallelMin;
  if (block == 0) {
#pragma omp parallel for collapse(2) schedule(static) if (par)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        float* plane = y + (n * C + c) * HW;
        const float bc = b[c];
#pragma omp simd
        for (int64_t i = 0; i < HW; ++i) plane[i] += bc;
      }
    return;
  }
  const int64_t CB = C / block;
#pragma omp parallel for collapse(2) schedule(static) if (par)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t cb = 0; cb < CB; ++cb) {
      float* tile = y + (n * CB + cb) * HW * block;  // (HW, block)
      const float* bb = b + cb * block;
      for (int64_t i = 0; i < HW; ++i)
#pragma omp simd
        for (int j = 0; j < block; ++j) tile[i * block + j] += bb[j];
    }
}

memory::format_tag block_tag(int block) {
  switch (block) {
    case 0: return tag::nchw;
    case 8: return tag::nChw8c;
    case 16: return tag::nChw16c;
  }
  throw Error(fmt::format("[conv] no oneDNN layout for channel block {} (0, 8 or 16)", block));
}

class OnednnConv final : public ConvOp {
 public:
  explicit OnednnConv(const ConvGeom& g);

  void forward(const float* x, const float* w, const float* b, float* y) override;
  void backward_data(const float* dy, const float* w, float* dx) override;
  void backward_weights(const float* x, const float* dy, float* dw, float* db,
                        bool accumulate) override;
  void weights_changed() override { f_w_cached_ = d_w_cached_ = nullptr; }
  const std::string& info() const { return info_; }

 private:
  // The three passes' primitive descriptors (Conv2d: the convolution_* primitives; ConvTranspose2d:
  // deconvolution_*), then their ports and steps.
  template <class Fwd, class BwdData, class BwdWeights>
  void build(dnnl::algorithm alg);
  // Ports, bias memories and steps from the three primitive descriptors (conv or deconv).
  template <class Fwd>
  void build_forward(const typename Fwd::primitive_desc& fwd);
  template <class BwdData>
  void build_backward_data(const typename BwdData::primitive_desc& bwd_data);
  template <class Fwd, class BwdData, class BwdWeights>
  void build_passes(const typename Fwd::primitive_desc& fwd,
                    const typename BwdData::primitive_desc& bwd_data,
                    const typename BwdWeights::primitive_desc& bwd_w);

  // oneDNN's choice of y's layout for a forward pass reading x_md_ (ConvGeom::kChooseBlock).
  int choose_y_block() const;

  // The caller's layouts.
  memory::desc x_md_;  // (N, C_in, H, W) nchw or nChw{b}c (geom_.x_block); also dx
  memory::desc y_md_;  // (N, C_out, Ho, Wo) nchw or nChw{b}c (geom_.y_block); also dy
  memory::desc w_md_;  // dims {C_out, C_in, k, k}: oihw (Conv2d) or iohw (ConvTranspose2d)
  memory::desc b_md_;  // (C_out) x, or empty when there is no bias
  // Layout sets the primitives are created with (see choose_layouts).
  Layouts any_;            // oneDNN chooses (blocked)
  Layouts plain_;          // x, y nchw, w PyTorch's
  Layouts channels_last_;  // x, y nhwc (same bytes as nchw for 1 channel), w any
  Layouts exchange_;       // x, y the caller's, w any
  const Layouts* exchange() const {  // tried first when both are blocked (see the file comment)
    return geom_.x_block && geom_.y_block ? &exchange_ : nullptr;
  }

  // Whether a weight-gradient pass reads an activation stored padded.
  template <class PD>
  bool reads_padded(const PD& pd) const {
    return padded(pd.src_desc(), plain_.x) || padded(pd.diff_dst_desc(), plain_.y);
  }

  // forward: y = conv(x, w) + b. For ConvTranspose2d the primitive has no bias and we add it
  // to the plain output ourselves: oneDNN 2.6's deconvolution bias pass cost 0.2-0.8 ms per
  // seed layer (40-150 % of the convolution, batch 64, 1 thread), ours 0.02-0.08 ms.
  bool fwd_bias_in_primitive_ = false;
  Port f_x_, f_w_, f_y_;
  memory f_b_;  // (C_out): the caller's bias, bound per call (when fwd_bias_in_primitive_)
  std::optional<Step> f_step_;
  // backward_data: dx = conv_backward_data(dy, w)
  Port d_dy_, d_w_, d_dx_;
  std::optional<Step> d_step_;
  // backward_weights: dw, db from (x, dy). dw is always computed into an internal buffer and
  // reordered out by assignment or by a summing reorder; db into an internal (C_out) buffer.
  Port g_x_, g_dy_;
  memory g_dw_user_, g_dw_;  // caller's dw (w_md_), internal dw (chosen layout)
  memory g_db_;              // (C_out) internal
  LazyBuffer g_dw_storage_, g_db_storage_;
  std::optional<Step> g_step_, g_dw_assign_, g_dw_add_;

  // Passes run by the few-channel kernel (conv_few_channels.cpp) instead of oneDNN: a
  // ConvTranspose2d's forward into a <= 4-channel NCHW y from a blocked x of <= 16 channels,
  // and a Conv2d's data gradient into a <= 4-channel NCHW x from a blocked dy of <= 16
  // channels. few_w_ holds w packed for it.
  bool few_fwd_ = false, few_bwd_data_ = false, few_wgrad_ = false;
  FewChannelGeom few_g_;
  std::vector<float> few_w_;
  void pack_few_weights(const float* w, const float*& cached);

  // With cache_weights_: the w whose conversion f_w_.prim / d_w_.prim hold (null: none).
  const float* f_w_cached_ = nullptr;
  const float* d_w_cached_ = nullptr;
  // Converts w through `port` unless its converted copy (of `cached`) is still valid.
  void convert_weights(Port& port, const float* w, const float*& cached);

  std::string info_;                 // the kernels oneDNN picked, for tests and benchmarks
};

OnednnConv::OnednnConv(const ConvGeom& g) : ConvOp(g) {
  g.validate();
  const memory::dim k = g.kernel;
  const memory::dims x_dims{g.N, g.C_in, g.H, g.W}, y_dims{g.N, g.C_out, g.Ho(), g.Wo()};
  w_md_ = f32_desc({g.C_out, g.C_in, k, k}, g.transposed ? tag::iohw : tag::oihw);
  b_md_ = g.has_bias ? f32_desc({g.C_out}, tag::x) : memory::desc();
  const auto w_dims = w_md_.dims();
  any_ = {f32_desc(x_dims, tag::any), f32_desc(w_dims, tag::any), f32_desc(y_dims, tag::any)};
  plain_ = {f32_desc(x_dims, tag::nchw), w_md_, f32_desc(y_dims, tag::nchw)};
  channels_last_ = {f32_desc(x_dims, tag::nhwc), f32_desc(w_dims, tag::any),
                    f32_desc(y_dims, tag::nhwc)};
  try {
    x_md_ = f32_desc(x_dims, block_tag(g.x_block));
    if (geom_.y_block == ConvGeom::kChooseBlock) geom_.y_block = choose_y_block();
    y_md_ = f32_desc(y_dims, block_tag(geom_.y_block));
    exchange_ = {x_md_, f32_desc(w_dims, tag::any), y_md_};
    // The few-channel kernel's passes (see few_fwd_).
    // DCGAN_NO_FEW_CHANNELS=1 (a benchmark switch) leaves every pass to oneDNN, to measure what
    // the few-channel kernels save (build/dcgan_onednn_experiments few-channels).
    const bool few_ok = !std::getenv("DCGAN_NO_FEW_CHANNELS");
    few_fwd_ = few_ok && g.transposed && geom_.y_block == 0 &&
               few_channels_available(g.C_out, g.C_in, g.x_block, g.kernel, g.stride);
    few_bwd_data_ = few_ok && !g.transposed && g.x_block == 0 &&
                    few_channels_available(g.C_in, g.C_out, geom_.y_block, g.kernel, g.stride);
    // The few-channel weight gradient where it beats oneDNN: on AVX2 (8-channel blocks) and for
    // <= 16 output channels. Measured with build/dcgan_onednn_experiments few-channels, 2
    // threads, ms per call (ours vs oneDNN's as this op would run it):
    //   AVX2:    1 -> 16, 32x32, N 64: 0.11-0.13 vs 0.30;  3 -> 16, 64x64, N 64: 1.18-1.22 vs
    //            1.26-1.28 (even);  3 -> 64, 64x64, N 128: 10.1 vs 6.9;
    //   AVX-512: 0.12 vs 0.04;  1.28 vs 0.51;  10.6 vs 4.7 (oneDNN's 16-wide kernels win).
    few_wgrad_ = few_ok && !g.transposed && g.x_block == 0 && geom_.y_block == 8 &&
                 g.C_out <= kFewChannelsMaxSmall &&
                 few_channels_wgrad_available(g.C_in, g.C_out, geom_.y_block, g.kernel, g.stride);
    if (few_fwd_ || few_bwd_data_ || few_wgrad_) {
      // The small map is the transposed conv's x, or the conv's y (its data gradient's input).
      few_g_ = few_fwd_ ? FewChannelGeom{g.N, g.C_in, g.H, g.W, g.C_out, g.Ho(), g.Wo(),
                                         g.kernel, g.stride, g.padding, g.x_block}
                        : FewChannelGeom{g.N, g.C_out, g.Ho(), g.Wo(), g.C_in, g.H, g.W,
                                         g.kernel, g.stride, g.padding, geom_.y_block};
      if (few_fwd_ || few_bwd_data_) few_w_.resize(size_t(g.C_in * g.C_out * g.kernel * g.kernel));
    }
    using namespace dnnl;
    if (g.transposed)
      build<deconvolution_forward, deconvolution_backward_data, deconvolution_backward_weights>(
          algorithm::deconvolution_direct);
    else
      build<convolution_forward, convolution_backward_data, convolution_backward_weights>(
          algorithm::convolution_direct);
  } catch (const dnnl::error& e) {
    throw Error(fmt::format("[{}] oneDNN could not prepare N={} C_in={} H={} W={} C_out={} k={} "
                            "s={} p={} op={}: {}",
                            g.transposed ? "conv_transpose2d" : "conv2d", g.N, g.C_in, g.H, g.W,
                            g.C_out, g.kernel, g.stride, g.padding, g.output_padding, e.what()),
                "use --impl reference for this geometry, or report the shape");
  }
}

int OnednnConv::choose_y_block() const {
  using namespace dnnl;
  const ConvGeom& g = geom_;
  const memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
  // The forward pass's primitive descriptor reading x as `x_desc` and writing y as `y_desc`:
  // the layout of y and the kernel.
  auto fwd_pd_info = [&](const memory::desc& x_desc,
                         const memory::desc& y_desc) -> std::pair<memory::desc, std::string> {
    if (g.transposed) {
      deconvolution_forward::primitive_desc pd(
          {prop_kind::forward_training, algorithm::deconvolution_direct, x_desc, any_.w,
           memory::desc(), y_desc, strides, pad, pad},
          cpu_engine());
      return {pd.dst_desc(), pd.impl_info_str()};
    }
    convolution_forward::primitive_desc pd(
        {prop_kind::forward_training, algorithm::convolution_direct, x_desc, any_.w,
         memory::desc(), y_desc, strides, pad, pad},
        cpu_engine());
    return {pd.dst_desc(), pd.impl_info_str()};
  };
  auto whole_block = [&](const memory::desc& d) {
    for (int b : {16, 8})
      if (g.C_out % b == 0 && d == f32_desc(any_.y.dims(), block_tag(b))) return b;
    return 0;
  };
  // oneDNN's own choice reading the caller's x, when it is a whole-block layout ...
  if (int b = whole_block(fwd_pd_info(x_md_, any_.y).first)) return b;
  // ... or the one it makes when it may convert x too (e.g. a 1 x 1 latent with 100 channels,
  // which its fast kernels read only padded to a block).
  if (int b = whole_block(fwd_pd_info(any_.x, any_.y).first)) return b;
  return 0;
}

template <class Fwd, class BwdData, class BwdWeights>
void OnednnConv::build(dnnl::algorithm alg) {
  using namespace dnnl;
  const ConvGeom& g = geom_;
  // padding_r = padding. A convolution: oneDNN checks Ho == (H + pl + pr - k) / s + 1 with floor
  // division, exactly PyTorch's formula. A deconvolution: oneDNN checks its shape in the
  // convolution direction, H == (Ho + pl + pr - k) / s + 1 (floor); with pl = pr = padding this
  // holds for every output_padding < stride, and output positions depend on pl only, as in
  // PyTorch.
  const memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
  const auto attr = user_scratchpad_attr();
  // A transposed conv's forward has no bias in the primitive: add_bias adds it (see
  // fwd_bias_in_primitive_).
  fwd_bias_in_primitive_ = g.has_bias && !g.transposed;
  const memory::desc fwd_b = fwd_bias_in_primitive_ ? b_md_ : memory::desc();
  using FwdPD = typename Fwd::primitive_desc;
  using BwdDataPD = typename BwdData::primitive_desc;
  using BwdWeightsPD = typename BwdWeights::primitive_desc;
  const auto fwd = choose_layouts<FwdPD>(
      [&](const Layouts& L) {
        return FwdPD({prop_kind::forward_training, alg, L.x, L.w, fwd_b, L.y, strides, pad, pad},
                     attr, cpu_engine());
      },
      [&](const FwdPD& pd) { return padded(pd.dst_desc(), plain_.y); }, exchange(), any_,
      plain_);
  const auto bwd_data = choose_layouts<BwdDataPD>(
      [&](const Layouts& L) {
        return BwdDataPD({alg, L.x, L.w, L.y, strides, pad, pad}, attr, cpu_engine(), fwd);
      },
      [&](const BwdDataPD& pd) { return padded(pd.diff_src_desc(), plain_.x); }, exchange(),
      any_, plain_);
  const auto bwd_w = choose_layouts<BwdWeightsPD>(
      [&](const Layouts& L) {
        return BwdWeightsPD({alg, L.x, L.w, b_md_, L.y, strides, pad, pad}, attr, cpu_engine(),
                            fwd);
      },
      [&](const BwdWeightsPD& pd) { return reads_padded(pd); }, exchange(), any_,
      channels_last_);
  build_passes<Fwd, BwdData, BwdWeights>(fwd, bwd_data, bwd_w);
}

template <class Fwd>
void OnednnConv::build_forward(const typename Fwd::primitive_desc& fwd) {
  f_x_ = input_port(x_md_, fwd.src_desc());
  f_w_ = input_port(w_md_, fwd.weights_desc());
  f_y_ = output_port(y_md_, fwd.dst_desc());
  Args fa{{DNNL_ARG_SRC, f_x_.prim}, {DNNL_ARG_WEIGHTS, f_w_.prim}, {DNNL_ARG_DST, f_y_.prim}};
  if (fwd_bias_in_primitive_) {
    f_b_ = memory(b_md_, cpu_engine(), DNNL_MEMORY_NONE);
    fa[DNNL_ARG_BIAS] = f_b_;
  }
  f_step_ = Step{Fwd(fwd), fa, fwd.scratchpad_desc()};
}

template <class BwdData>
void OnednnConv::build_backward_data(const typename BwdData::primitive_desc& bwd_data) {
  d_dy_ = input_port(y_md_, bwd_data.diff_dst_desc());
  d_w_ = input_port(w_md_, bwd_data.weights_desc());
  d_dx_ = output_port(x_md_, bwd_data.diff_src_desc());
  d_step_ = Step{BwdData(bwd_data),
                 {{DNNL_ARG_DIFF_DST, d_dy_.prim},
                  {DNNL_ARG_WEIGHTS, d_w_.prim},
                  {DNNL_ARG_DIFF_SRC, d_dx_.prim}},
                 bwd_data.scratchpad_desc()};
}

template <class Fwd, class BwdData, class BwdWeights>
void OnednnConv::build_passes(const typename Fwd::primitive_desc& fwd,
                              const typename BwdData::primitive_desc& bwd_data,
                              const typename BwdWeights::primitive_desc& bwd_w) {
  const auto& eng = cpu_engine();
  constexpr const char* kFew = "few_channels:avx2";
  info_ = fmt::format("forward {} | backward_data {} | backward_weights {}",
                      few_fwd_ ? kFew : fwd.impl_info_str(),
                      few_bwd_data_ ? kFew : bwd_data.impl_info_str(),
                      few_wgrad_ ? kFew : bwd_w.impl_info_str());
  // A pass run by the few-channel kernel gets no oneDNN primitive (nor its buffers).
  if (!few_fwd_) build_forward<Fwd>(fwd);
  if (!few_bwd_data_) build_backward_data<BwdData>(bwd_data);

  if (few_wgrad_) return;
  g_x_ = input_port(x_md_, bwd_w.src_desc());
  g_dy_ = input_port(y_md_, bwd_w.diff_dst_desc());
  g_dw_user_ = memory(w_md_, eng, DNNL_MEMORY_NONE);
  g_dw_ = memory(bwd_w.diff_weights_desc(), eng, DNNL_MEMORY_NONE);
  Args ga{{DNNL_ARG_SRC, g_x_.prim}, {DNNL_ARG_DIFF_DST, g_dy_.prim},
          {DNNL_ARG_DIFF_WEIGHTS, g_dw_}};
  if (geom_.has_bias) {
    g_db_ = memory(bwd_w.diff_bias_desc(), eng, DNNL_MEMORY_NONE);
    ga[DNNL_ARG_DIFF_BIAS] = g_db_;
  }
  g_step_ = Step{BwdWeights(bwd_w), ga, bwd_w.scratchpad_desc()};
  g_dw_assign_ = reorder_step(g_dw_, g_dw_user_);
  g_dw_add_ = reorder_step(g_dw_, g_dw_user_, /*add_into_dst=*/true);
}

void OnednnConv::convert_weights(Port& port, const float* w, const float*& cached) {
  port.bind(w);
  if (!port.convert || (cache_weights_ && cached == w)) return;
  port.convert->run();
  cached = cache_weights_ ? w : nullptr;
}

void OnednnConv::pack_few_weights(const float* w, const float*& cached) {
  if (cache_weights_ && cached == w) return;
  few_channels_pack(few_g_, w, few_w_.data());
  cached = cache_weights_ ? w : nullptr;
}

void OnednnConv::forward(const float* x, const float* w, const float* b, float* y) {
  if (few_fwd_) {
    pack_few_weights(w, f_w_cached_);
    few_channels_run(few_g_, x, few_w_.data(), geom_.has_bias ? b : nullptr, y);
    return;
  }
  for (Port* p : {&f_x_, &f_w_, &f_y_}) p->ensure();
  f_x_.bind(x);
  f_y_.bind(y);
  if (fwd_bias_in_primitive_) f_b_.set_data_handle(const_cast<float*>(b));
  if (f_x_.convert) f_x_.convert->run();
  convert_weights(f_w_, w, f_w_cached_);
  f_step_->run();
  if (f_y_.convert) f_y_.convert->run();
  cpu_stream().wait();
  if (geom_.has_bias && !fwd_bias_in_primitive_)
    add_bias(y, b, geom_.N, geom_.C_out, geom_.Ho() * geom_.Wo(), geom_.y_block);
}

void OnednnConv::backward_data(const float* dy, const float* w, float* dx) {
  if (few_bwd_data_) {
    pack_few_weights(w, d_w_cached_);
    few_channels_run(few_g_, dy, few_w_.data(), nullptr, dx);
    return;
  }
  for (Port* p : {&d_dy_, &d_w_, &d_dx_}) p->ensure();
  d_dy_.bind(dy);
  d_dx_.bind(dx);
  if (d_dy_.convert) d_dy_.convert->run();
  convert_weights(d_w_, w, d_w_cached_);
  d_step_->run();
  if (d_dx_.convert) d_dx_.convert->run();
  cpu_stream().wait();
}

void OnednnConv::backward_weights(const float* x, const float* dy, float* dw, float* db,
                                  bool accumulate) {
  if (few_wgrad_) {
    few_channels_backward_weights(few_g_, x, dy, dw, geom_.has_bias ? db : nullptr, accumulate);
    return;
  }
  g_x_.ensure();
  g_dy_.ensure();
  g_dw_storage_.ensure(g_dw_);
  if (geom_.has_bias) g_db_storage_.ensure(g_db_);
  g_x_.bind(x);
  g_dy_.bind(dy);
  g_dw_user_.set_data_handle(dw);
  if (g_x_.convert) g_x_.convert->run();
  if (g_dy_.convert) g_dy_.convert->run();
  g_step_->run();
  (accumulate ? g_dw_add_ : g_dw_assign_)->run();
  cpu_stream().wait();
  if (geom_.has_bias) {
    const float* src = static_cast<const float*>(g_db_.get_data_handle());
    for (int64_t c = 0; c < geom_.C_out; ++c) db[c] = accumulate ? db[c] + src[c] : src[c];
  }
}

}  // namespace

std::unique_ptr<ConvOp> make_conv_onednn(const ConvGeom& g) {
  return std::make_unique<OnednnConv>(g);
}

int onednn_preferred_block() {
  // What oneDNN picks for a typical inner layer's activations on this CPU: nChw16c with AVX-512,
  // nChw8c with AVX2. Asked once, from a primitive descriptor (no primitive is created).
  static const int block = [] {
    try {
      using namespace dnnl;
      const memory::dims x{1, 64, 8, 8}, w{64, 64, 4, 4}, y{1, 64, 4, 4};
      convolution_forward::primitive_desc pd(
          {prop_kind::forward_training, algorithm::convolution_direct, f32_desc(x, tag::any),
           f32_desc(w, tag::any), memory::desc(), f32_desc(y, tag::any), {2, 2}, {1, 1}, {1, 1}},
          cpu_engine());
      for (auto [t, b] : {std::pair{tag::nChw16c, 16}, std::pair{tag::nChw8c, 8}})
        if (pd.dst_desc() == f32_desc(y, t)) return b;
    } catch (const dnnl::error&) {
    }
    return 0;
  }();
  return block;
}

std::string onednn_conv_info(const ConvOp& op) {
  const auto* o = dynamic_cast<const OnednnConv*>(&op);
  return o ? o->info() : std::string();
}

}  // namespace dcgan::ops::cpu
