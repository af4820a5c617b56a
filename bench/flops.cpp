// Nominal FLOP counts from the built layers (formulas in flops.hpp).
#include "flops.hpp"

#include "models/models.hpp"
#include "nn/layers.hpp"

namespace dcgan::bench {

NetFlops count_flops(Sequential& net, const Shape& per_image_input) {
  NetFlops f;
  Shape in = per_image_input;
  in.insert(in.begin(), 1);  // (1, ...)
  for (auto& l : net.layers()) {
    const Shape out = l->prepare(in, ops::Impl::reference);
    double macs = 0;
    bool counted = false;
    if (auto* conv = dynamic_cast<ConvLayer*>(l.get())) {
      // weight (C_out, C_in, k, k) or (C_in, C_out, k, k): numel = C_in C_out k^2, times the small map
      const double w = double(numel_of(conv->params()[0].shape));
      macs = conv->transposed() ? w * double(in[2] * in[3]) : w * double(out[2] * out[3]);
      counted = true;
    } else if (auto* lin = dynamic_cast<Linear*>(l.get())) {
      macs = double(numel_of(lin->params()[0].shape));  // weight (out, in)
      counted = true;
    }
    if (counted) {
      if (f.layers.empty()) f.first = 2 * macs;
      f.layers.push_back({l->name(), l->describe(), macs});
      f.fwd += 2 * macs;
    }
    in = out;
  }
  return f;
}

ModelFlops model_flops(const ModelConfig& cfg) {
  ModelFlops m;
  auto g = build_generator(cfg, ops::Impl::reference);
  auto d = build_discriminator(cfg, ops::Impl::reference);
  m.G = count_flops(*g, {cfg.latent_dim});
  m.D = count_flops(*d, {cfg.channels, cfg.img_size, cfg.img_size});
  const NetFlops &G = m.G, &D = m.D;
  const double g_part = G.fwd + G.wgrad() + G.dgrad_no_first();
  const double d_fwd = 3 * D.fwd;
  const double d_gstep = D.wgrad() + D.dgrad_all();
  const double d_dstep = 2 * (D.wgrad() + D.dgrad_no_first());
  m.train = g_part + d_fwd + d_gstep + d_dstep;
  m.executed = m.train - D.wgrad() - D.fwd;  // GanStep: no G-step weight gradients, 2 D forwards
  m.generate = G.fwd;
  return m;
}

}  // namespace dcgan::bench
