// The two architectures. Layer indices in names follow the PyTorch nn.Sequential positions,
// including parameter-free layers, so state_dict names match PyTorch's exactly.
#include <string>

#include "dcgan/error.hpp"
#include "models/models.hpp"
#include "nn/layers.hpp"

namespace dcgan {

namespace {
std::string idx(const char* prefix, int i) { return std::string(prefix) + "." + std::to_string(i); }
int log2i(int v) {
  int k = 0;
  while ((1 << k) < v) ++k;
  return k;
}
}  // namespace

// seed generator: l1 = Linear(latent, 8ngf * s^2), view (N, 8ngf, s, s), s = img/16; then 4 blocks
// [BN, ReLU, ConvT(k, 2, p)] halving channels (last to `channels`), Tanh. Names l1.0, model.{0,2,3,...,11}.
// dcgan generator: ConvT(nz, ngf 2^(m-1), 4, 1, 0) projection to 4x4, then [BN, ReLU, ConvT(k,2,p)]
// with m = log2(img/4) stride-2 layers in all, Tanh. Names main.{0,1,3,4,6,...}.
std::unique_ptr<Sequential> build_generator(const ModelConfig& c, ops::Impl impl) {
  c.validate();
  auto net = std::make_unique<Sequential>(impl);
  const int p = c.padding(), op = c.output_padding();
  if (c.arch == "seed") {
    const int s = c.img_size / 16;
    int ch = c.ngf * 8;
    net->add(std::make_unique<Linear>("l1.0", c.latent_dim, int64_t(ch) * s * s));
    net->add(std::make_unique<Reshape>(Shape{ch, s, s}));
    int i = 0;
    for (int b = 0; b < 4; ++b, i += 3) {
      int out = b == 3 ? c.channels : ch / 2;
      net->add(std::make_unique<BatchNorm2d>(idx("model", i), ch, c.g_bn_eps, c.bn_momentum));
      net->add(ReLU());
      net->add(ConvTranspose2d(idx("model", i + 2), ch, out, c.kernel, 2, p, op));
      ch = out;
    }
    net->add(Tanh());
  } else {
    const int m = log2i(c.img_size / 4);  // stride-2 layers after the 4x4 projection
    int ch = c.ngf << (m - 1);
    net->add(std::make_unique<Reshape>(Shape{c.latent_dim, 1, 1}));
    net->add(ConvTranspose2d("main.0", c.latent_dim, ch, 4, 1, 0, 0, false));
    int i = 1;
    for (int b = 0; b < m; ++b) {
      int out = b == m - 1 ? c.channels : ch / 2;
      net->add(std::make_unique<BatchNorm2d>(idx("main", i), ch, c.g_bn_eps, c.bn_momentum));
      net->add(ReLU());
      net->add(ConvTranspose2d(idx("main", i + 2), ch, out, c.kernel, 2, p, op, false));
      ch = out;
      i += 3;
    }
    net->add(Tanh());
  }
  net->finalize();
  return net;
}

// seed discriminator: [Conv(k,2,p), LReLU] then 3 x [Conv(k,2,p), BN(eps), LReLU] doubling from ndf,
// flatten, Linear(8ndf * (img/16)^2, 1), Sigmoid. Names model.{0,2,3,5,6,8,9}, adv_layer.0.
// dcgan discriminator: Conv(nc, ndf), LReLU, then m-1 x [Conv, BN, LReLU], Conv(ndf 2^(m-1), 1, 4, 1, 0),
// Sigmoid, flattened to (N, 1). Names main.{0,2,3,5,6,...}.
std::unique_ptr<Sequential> build_discriminator(const ModelConfig& c, ops::Impl impl) {
  c.validate();
  auto net = std::make_unique<Sequential>(impl);
  const int p = c.padding();
  if (c.arch == "seed") {
    int ch = c.ndf;
    net->add(Conv2d("model.0", c.channels, ch, c.kernel, 2, p));
    net->add(LeakyReLU(0.2f));
    int i = 2;
    for (int b = 0; b < 3; ++b, i += 3) {
      net->add(Conv2d(idx("model", i), ch, ch * 2, c.kernel, 2, p));
      net->add(std::make_unique<BatchNorm2d>(idx("model", i + 1), ch * 2, c.d_bn_eps, c.bn_momentum));
      net->add(LeakyReLU(0.2f));
      ch *= 2;
    }
    const int ds = c.img_size / 16;
    net->add(std::make_unique<Reshape>(Shape{}));
    net->add(std::make_unique<Linear>("adv_layer.0", int64_t(ch) * ds * ds, 1));
    net->add(Sigmoid());
  } else {
    const int m = log2i(c.img_size / 4);
    int ch = c.ndf;
    net->add(Conv2d("main.0", c.channels, ch, c.kernel, 2, p, false));
    net->add(LeakyReLU(0.2f));
    int i = 2;
    for (int b = 0; b < m - 1; ++b, i += 3) {
      net->add(Conv2d(idx("main", i), ch, ch * 2, c.kernel, 2, p, false));
      net->add(std::make_unique<BatchNorm2d>(idx("main", i + 1), ch * 2, c.d_bn_eps, c.bn_momentum));
      net->add(LeakyReLU(0.2f));
      ch *= 2;
    }
    net->add(Conv2d(idx("main", i), ch, 1, 4, 1, 0, false));
    net->add(Sigmoid());
    net->add(std::make_unique<Reshape>(Shape{}));
  }
  net->finalize();
  return net;
}

void init_dcgan_weights(Sequential& net, Rng& rng) {
  for (auto& l : net.layers()) {
    l->reset_parameters(rng);
    if (auto* conv = dynamic_cast<ConvLayer*>(l.get())) {
      Tensor& w = conv->params()[0].value;
      for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.normal(0.f, 0.02f);
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(l.get())) {
      Tensor& w = bn->params()[0].value;
      for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.normal(1.f, 0.02f);
      bn->params()[1].value.fill(0.f);
    }
  }
}

}  // namespace dcgan
