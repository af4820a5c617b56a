// Model builders: PyTorch state_dict names, shapes for every size, refusal of bad configs,
// and the layer gradient contract (parameter grads accumulate, input grads are assigned).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "dcgan/error.hpp"
#include "models/models.hpp"

namespace dcgan {
namespace {

std::vector<std::string> names(Sequential& net) {
  std::vector<std::string> out;
  for (auto& e : net.state()) out.push_back(e.name);
  return out;
}

TEST(Models, SeedNamesAreTheSeedDocuments) {
  ModelConfig c = ModelConfig::defaults("seed");
  auto G = build_generator(c);
  auto D = build_discriminator(c);
  // SEED.md: generator l1.0, model.0 (BN), model.2 (ConvT), model.3, model.5, model.6, model.8,
  // model.9, model.11; discriminator model.0 (Conv), model.2, model.3 (BN), ..., adv_layer.0.
  std::set<std::string> g;
  for (auto& n : names(*G)) g.insert(n.substr(0, n.rfind('.')));
  EXPECT_EQ(g, (std::set<std::string>{"l1.0", "model.0", "model.2", "model.3", "model.5", "model.6",
                                      "model.8", "model.9", "model.11"}));
  std::set<std::string> d;
  for (auto& n : names(*D)) d.insert(n.substr(0, n.rfind('.')));
  EXPECT_EQ(d, (std::set<std::string>{"model.0", "model.2", "model.3", "model.5", "model.6", "model.8",
                                      "model.9", "adv_layer.0"}));
  // The seed's widths: 128 -> 64 -> 32 -> 16 -> channels; D 16 -> 32 -> 64 -> 128.
  for (auto& e : G->state())
    if (e.name == "l1.0.weight") EXPECT_EQ(e.tensor->shape(), (Shape{128 * 2 * 2, 100}));
    else if (e.name == "model.2.weight") EXPECT_EQ(e.tensor->shape(), (Shape{128, 64, 4, 4}));
    else if (e.name == "model.11.weight") EXPECT_EQ(e.tensor->shape(), (Shape{16, 1, 4, 4}));
  for (auto& e : D->state())
    if (e.name == "adv_layer.0.weight") EXPECT_EQ(e.tensor->shape(), (Shape{1, 128 * 2 * 2}));
}

TEST(Models, DcganNamesAreMainPys) {
  ModelConfig c = ModelConfig::defaults("dcgan");  // 64x64x3, ngf = ndf = 64
  auto G = build_generator(c);
  auto D = build_discriminator(c);
  std::set<std::string> g, d;
  for (auto& n : names(*G)) g.insert(n.substr(0, n.rfind('.')));
  for (auto& n : names(*D)) d.insert(n.substr(0, n.rfind('.')));
  EXPECT_EQ(g, (std::set<std::string>{"main.0", "main.1", "main.3", "main.4", "main.6", "main.7",
                                      "main.9", "main.10", "main.12"}));
  EXPECT_EQ(d, (std::set<std::string>{"main.0", "main.2", "main.3", "main.5", "main.6", "main.8",
                                      "main.9", "main.11"}));
  for (auto& e : G->state()) {
    if (e.name == "main.0.weight") EXPECT_EQ(e.tensor->shape(), (Shape{100, 512, 4, 4}));
    EXPECT_NE(e.name, "main.0.bias") << "dcgan convolutions are bias-free";
  }
}

struct SizeCase {
  const char* arch;
  int img, channels, kernel;
};

class ModelSizes : public ::testing::TestWithParam<SizeCase> {};

TEST_P(ModelSizes, GeneratorAndDiscriminatorShapes) {
  auto p = GetParam();
  ModelConfig c = ModelConfig::defaults(p.arch);
  c.img_size = p.img;
  c.channels = p.channels;
  c.kernel = p.kernel;
  c.ngf = c.ndf = 4;
  c.latent_dim = 7;
  auto G = build_generator(c);
  auto D = build_discriminator(c);
  Rng rng(1);
  init_dcgan_weights(*G, rng);
  init_dcgan_weights(*D, rng);
  Tensor z({3, 7});
  for (int64_t i = 0; i < z.numel(); ++i) z[i] = rng.normal();
  const Tensor& img = G->forward(z, Mode::train);
  EXPECT_EQ(img.shape(), (Shape{3, p.channels, p.img, p.img}));
  for (int64_t i = 0; i < img.numel(); ++i) ASSERT_LE(std::fabs(img[i]), 1.f);
  const Tensor& out = D->forward(img, Mode::train);
  EXPECT_EQ(out.shape(), (Shape{3, 1}));
  for (int64_t i = 0; i < out.numel(); ++i) ASSERT_TRUE(out[i] > 0.f && out[i] < 1.f);
}

INSTANTIATE_TEST_SUITE_P(All, ModelSizes,
                         ::testing::Values(SizeCase{"seed", 16, 1, 4}, SizeCase{"seed", 32, 3, 5},
                                           SizeCase{"seed", 64, 3, 4}, SizeCase{"seed", 128, 1, 5},
                                           SizeCase{"dcgan", 16, 1, 4}, SizeCase{"dcgan", 32, 3, 5},
                                           SizeCase{"dcgan", 64, 3, 4}, SizeCase{"dcgan", 128, 1, 4}));

TEST(Models, InvalidConfigsNameTheOption) {
  auto expect_refused = [](ModelConfig c, const std::string& option) {
    try {
      build_generator(c);
      ADD_FAILURE() << "accepted a bad " << option;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
    }
  };
  ModelConfig c = ModelConfig::defaults("seed");
  auto b = c; b.img_size = 48; expect_refused(b, "--img-size");
  b = c; b.img_size = 8; expect_refused(b, "--img-size");
  b = c; b.channels = 2; expect_refused(b, "--channels");
  b = c; b.kernel = 3; expect_refused(b, "--kernel");
  b = c; b.latent_dim = 0; expect_refused(b, "--latent-dim");
  b = c; b.ngf = 0; expect_refused(b, "--ngf");
  b = c; b.arch = "wgan"; expect_refused(b, "--arch");
}

TEST(Models, MetadataRoundTripAndErrors) {
  ModelConfig c = ModelConfig::defaults("dcgan");
  c.img_size = 32; c.latent_dim = 64; c.ngf = 8; c.kernel = 5;
  ModelConfig r = ModelConfig::from_metadata(c.to_metadata());
  EXPECT_EQ(r.to_metadata(), c.to_metadata());
  auto m = c.to_metadata();
  m.erase("latent_dim");
  EXPECT_THROW(ModelConfig::from_metadata(m), ConfigError);
  m = c.to_metadata();
  m["img_size"] = "thirty-two";
  EXPECT_THROW(ModelConfig::from_metadata(m), ConfigError);
  // Optional keys fall back to the architecture's defaults (a PyTorch export may omit them).
  std::map<std::string, std::string> minimal{{"arch", "seed"}, {"img_size", "32"}, {"channels", "1"},
                                             {"latent_dim", "100"}};
  ModelConfig s = ModelConfig::from_metadata(minimal);
  EXPECT_EQ(s.ngf, 16);
  EXPECT_EQ(s.kernel, 4);
  EXPECT_FLOAT_EQ(s.d_bn_eps, 0.8f);
}

// Gradient contract through a whole network: parameter gradients accumulate across backward
// calls; the input gradient is assigned (a second identical backward gives the same dx).
TEST(Models, GradientContract) {
  ModelConfig c = ModelConfig::defaults("seed");
  c.img_size = 16; c.ngf = c.ndf = 2;
  auto D = build_discriminator(c);
  Rng rng(3);
  init_dcgan_weights(*D, rng);
  Tensor x({4, 1, 16, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.normal();
  Tensor gy({4, 1});
  for (int64_t i = 0; i < gy.numel(); ++i) gy[i] = rng.normal();
  D->forward(x, Mode::train);
  D->zero_grad();
  Tensor dx1 = D->backward(gy, true).clone();
  Tensor g1 = D->param_grads().clone();
  Tensor dx2 = D->backward(gy, true).clone();
  Tensor g2 = D->param_grads().clone();
  EXPECT_EQ(max_abs_diff(dx1, dx2), 0.0) << "input gradient must be assigned, not accumulated";
  for (int64_t i = 0; i < g1.numel(); ++i) ASSERT_NEAR(g2[i], 2 * g1[i], 1e-6 + 1e-5 * std::fabs(g1[i]));
  double norm = 0;
  for (int64_t i = 0; i < g1.numel(); ++i) norm += std::fabs(g1[i]);
  EXPECT_GT(norm, 0.0);
}

// Memory contract (sequential.hpp): an eval forward is inference (two alternating buffers): it
// must not disturb the activations a train forward kept for backward, and alone it allows no
// backward; the alternating gradient buffers give the same gradients on the fast and the
// reference path.
TEST(Models, EvalForwardKeepsTrainActivationsAndRefusesBackward) {
  ModelConfig c = ModelConfig::defaults("seed");
  c.img_size = 32;
  for (ops::Impl impl : {ops::Impl::fast, ops::Impl::reference}) {
    auto G = build_generator(c, impl);
    Rng rng(5);
    init_dcgan_weights(*G, rng);
    Tensor z({8, c.latent_dim}), z2({8, c.latent_dim});
    for (int64_t i = 0; i < z.numel(); ++i) z[i] = rng.normal(), z2[i] = rng.normal();
    Tensor gy({8, 1, 32, 32});
    for (int64_t i = 0; i < gy.numel(); ++i) gy[i] = rng.normal();
    // Gradients straight after the train forward ...
    G->forward(z, Mode::train);
    G->zero_grad();
    G->backward(gy, false);
    Tensor g1 = G->param_grads().clone();
    // ... equal those with an eval forward of other latents in between.
    G->forward(z, Mode::train);
    Tensor y_eval = G->forward(z2, Mode::eval).clone();
    G->zero_grad();
    G->backward(gy, false);
    EXPECT_EQ(max_abs_diff(G->param_grads(), g1), 0.0);
    // Eval outputs are the same from a fresh network (they do not depend on the buffers' history).
    auto G2 = build_generator(c, impl);
    G2->param_values().copy_from(G->param_values());
    for (size_t i = 0; i < G->state().size(); ++i) {
      auto a = G->state()[i], b = G2->state()[i];
      if (a.tensor) b.tensor->copy_from(*a.tensor);
      if (a.i64) *b.i64 = *a.i64;
    }
    EXPECT_EQ(max_abs_diff(G2->forward(z2, Mode::eval), y_eval), 0.0);
    // No backward after eval forwards only.
    G2->forward(z2, Mode::eval);
    EXPECT_THROW(G2->backward(gy, false), Error);
  }
}

}  // namespace
}  // namespace dcgan
