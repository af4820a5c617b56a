// End-to-end: dcgan eval (FID, KID, precision / recall) and dcgan train-classifier, plus the
// library pieces behind them (FeatureNet against PyTorch, FidEvaluator).
// Feature networks and generators are made here with the library (random weights: the metrics'
// properties tested do not need a trained network), so the tests need neither the shipped
// models/ file nor long training. Fashion-MNIST (the Debian package) is the real data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "dcgan/data/dataset.hpp"
#include "dcgan/error.hpp"
#include "dcgan/io/npy.hpp"
#include "eval/classifier.hpp"
#include "eval/evaluator.hpp"
#include "io/safetensors.hpp"
#include "models/checkpoint_io.hpp"
#include "models/models.hpp"
#include "support/cli.hpp"
#include "support/feature_net.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::run_dcgan;
using testing::TempDir;
using testing::make_feature_net;

std::string python() {
  const char* p = std::getenv("DCGAN_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

// A generator checkpoint (DCGAN init), as a PyTorch export would be: generator.* + config metadata.
std::string make_generator(const std::string& path, int img = 32, int ch = 1, uint64_t seed = 1) {
  ModelConfig c = ModelConfig::defaults("seed");
  c.img_size = img;
  c.channels = ch;
  c.ngf = 8;
  auto g = build_generator(c);
  Rng rng(seed);
  init_dcgan_weights(*g, rng);
  SafeTensors st;
  put_network(st, "generator.", *g);
  st.metadata = c.to_metadata();
  write_safetensors_atomic(path, st);
  return path;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f) << path;
  return nlohmann::json::parse(f);
}

TEST(FeatureNet, MatchesPyTorchEvalMode) {
  TempDir d("eval-ref");
  const std::string cmd = python() + " " DCGAN_SOURCE_DIR "/tools/reference/make_reference_eval.py --out '" +
                          d.str() + "' >/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0)
      << cmd << "\nHINT: the reference data needs PyTorch; set DCGAN_PYTHON to a python with torch";
  int cases = 0;
  for (auto& e : fs::directory_iterator(d.path)) {
    if (e.path().filename().string().rfind("classifier_", 0) != 0) continue;
    SCOPED_TRACE(e.path().filename().string());
    // The reference file carries the state_dict and the metadata keys of our files: it loads as is.
    eval::FeatureNet net(e.path().string());
    net.batch_size = 4;  // more than one batch for the 6-image case
    SafeTensors st = read_safetensors(e.path().string());
    Tensor x = st.get("ref.x");
    Tensor f = net.features(x), logits = net.logits(x);
    // float32 convolutions and BatchNorm against float64: measured <= 3e-7; 2e-6 leaves room for
    // other BLAS / oneDNN kernels (sums of up to 2048 terms).
    EXPECT_LT(rel_l2_error(f, st.get("ref.features", f.shape())), 2e-6);
    EXPECT_LT(rel_l2_error(logits, st.get("ref.logits", logits.shape())), 2e-6);
    ++cases;
  }
  EXPECT_EQ(cases, 3);
}

TEST(CliEval, IdenticalSetsAndADifferentSet) {
  TempDir d("eval-ab");
  const std::string net = make_feature_net(d / "net.safetensors");
  const std::string g = make_generator(d / "g.safetensors");
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 300 --seed 1 --npy {}", g, d / "a.npy")).code, 0);
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 300 --seed 2 --npy {}", g, d / "a2.npy")).code, 0);
  // Clearly different: uniform noise images.
  Tensor noise({300, 1, 32, 32});
  Rng rng(9);
  for (int64_t i = 0; i < noise.numel(); ++i) noise[i] = float(2 * rng.uniform() - 1);
  write_npy(d / "noise.npy", noise);

  const std::string common = fmt::format("--features {} --kid-subset-size 100 --kid-subsets 20", net);
  auto same = run_dcgan(fmt::format("eval --a {} --b {} {} --json {}", d / "a.npy", d / "a.npy", common, d / "same.json"));
  ASSERT_EQ(same.code, 0) << same.output;
  for (const char* m : {"FID", "KID", "precision", "recall"}) EXPECT_NE(same.output.find(m), std::string::npos) << m;
  auto js = read_json(d / "same.json");
  EXPECT_LT(js["fid"].get<double>(), 1e-6);
  // KID's subsets are drawn independently from each side, so identical sets give an unbiased
  // estimate of 0, not exactly 0: within the spread of the per-subset values.
  EXPECT_LE(std::abs(js["kid_mean"].get<double>()), 3 * js["kid_std"].get<double>() + 1e-12);
  EXPECT_EQ(js["precision"].get<double>(), 1.0);
  EXPECT_EQ(js["recall"].get<double>(), 1.0);
  EXPECT_EQ(js["n_real"].get<int64_t>(), 300);

  ASSERT_EQ(run_dcgan(fmt::format("eval --a {} --b {} {} --json {} --quiet", d / "a.npy", d / "a2.npy", common,
                                  d / "resample.json")).code, 0);
  auto r = run_dcgan(fmt::format("eval --a {} --b {} {} --json {}", d / "a.npy", d / "noise.npy", common, d / "noise.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  const double fid_resample = read_json(d / "resample.json")["fid"].get<double>();
  // --max-kept caps the rows KID and precision / recall use; FID still sees every image.
  ASSERT_EQ(run_dcgan(fmt::format("eval --a {} --b {} {} --max-kept 100 --json {} --quiet", d / "a.npy",
                                  d / "a2.npy", common, d / "capped.json")).code, 0);
  auto jc = read_json(d / "capped.json");
  EXPECT_EQ(jc["kept_real"].get<int64_t>(), 100);
  EXPECT_EQ(jc["kept_fake"].get<int64_t>(), 100);
  EXPECT_EQ(jc["n_real"].get<int64_t>(), 300);
  EXPECT_EQ(jc["kid_subset_size"].get<int64_t>(), 100);
  EXPECT_EQ(jc["fid"].get<double>(), fid_resample);
  auto jn = read_json(d / "noise.json");
  EXPECT_GT(jn["fid"].get<double>(), 10 * fid_resample) << "noise vs samples: FID " << jn["fid"] << ", resample "
                                                        << fid_resample;
  EXPECT_GT(jn["kid_mean"].get<double>(), read_json(d / "resample.json")["kid_mean"].get<double>());
  EXPECT_LT(jn["precision"].get<double>(), 0.5);
}

TEST(CliEval, CheckpointAgainstHeldOutDataPrintsAndWritesTheMetrics) {
  TempDir d("eval-ckpt");
  const std::string net = make_feature_net(d / "net.safetensors");
  const std::string g = make_generator(d / "g.safetensors", 32, 1, 3);
  const std::string common = fmt::format("--features {} --kid-subset-size 100 --kid-subsets 10 --seed 5", net);
  auto r = run_dcgan(fmt::format("eval --checkpoint {} --data fashion-mnist -n 200 {} --json {}", g, common,
                                 d / "m.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* m : {"FID", "KID", "precision", "recall"}) EXPECT_NE(r.output.find(m), std::string::npos) << m;
  auto j = read_json(d / "m.json");
  for (const char* k : {"fid", "kid_mean", "kid_std", "precision", "recall"}) {
    ASSERT_TRUE(j.contains(k)) << k;
    EXPECT_TRUE(std::isfinite(j[k].get<double>())) << k;
  }
  EXPECT_GT(j["fid"].get<double>(), 0.0);
  EXPECT_EQ(j["n_fake"].get<int64_t>(), 200);
  EXPECT_EQ(j["n_real"].get<int64_t>(), 10000) << "the whole Fashion-MNIST test split";
  // The generated images are those of `dcgan sample -n 200 --seed 5`: scoring that file against the
  // same real data gives the same numbers (up to the generator's batch size in the rounding).
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 200 --seed 5 --npy {}", g, d / "s.npy")).code, 0);
  auto r2 = run_dcgan(fmt::format("eval --a fashion-mnist --b {} {} --json {} --quiet", d / "s.npy", common, d / "s.json"));
  ASSERT_EQ(r2.code, 0) << r2.output;
  auto j2 = read_json(d / "s.json");
  EXPECT_NEAR(j2["fid"].get<double>(), j["fid"].get<double>(), 1e-4 * j["fid"].get<double>());
  EXPECT_NEAR(j2["precision"].get<double>(), j["precision"].get<double>(), 0.011);
  EXPECT_NEAR(j2["recall"].get<double>(), j["recall"].get<double>(), 0.011);
}

TEST(CliEval, NoFeatureNetworkFor64x64x3IsAClearError) {
  TempDir d("eval-nonet");
  const std::string g = make_generator(d / "g64.safetensors", 64, 3);
  // Default lookup, with DCGAN_HOME at an empty models/ folder (a models/ file of the repo, if
  // present, is for 32x32x1 and must not be used either).
  fs::create_directories(d.path / "home" / "models");
  ::setenv("DCGAN_HOME", (d / "home").c_str(), 1);
  auto r = run_dcgan(fmt::format("eval --checkpoint {} --data fashion-mnist -n 50", g));
  ::unsetenv("DCGAN_HOME");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("no feature network for 64x64x3 images"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dcgan train-classifier"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--features"), std::string::npos) << r.output;
  // Names where it looked, or the default network that does not fit.
  EXPECT_NE(r.output.find("fashion-mnist-classifier.safetensors"), std::string::npos) << r.output;
  // An explicit network of another size.
  const std::string net = make_feature_net(d / "net32.safetensors");
  r = run_dcgan(fmt::format("eval --checkpoint {} --data fashion-mnist -n 50 --features {}", g, net));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("no feature network for 64x64x3 images"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("net32.safetensors"), std::string::npos) << r.output;
  // A file that is not a feature network.
  r = run_dcgan(fmt::format("eval --checkpoint {} --data fashion-mnist -n 50 --features {}", g, g));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("not a feature network"), std::string::npos) << r.output;
}

TEST(CliEval, DefaultNetworkIsFoundUnderDcganHome) {
  TempDir d("eval-default");
  fs::create_directories(d.path / "home" / "models");
  const std::string net = make_feature_net(d / "home/models/fashion-mnist-classifier.safetensors");
  const std::string g = make_generator(d / "g.safetensors");
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 50 --npy {}", g, d / "a.npy")).code, 0);
  ::setenv("DCGAN_HOME", (d / "home").c_str(), 1);
  auto r = run_dcgan(fmt::format("eval --a {} --b {} --data fashion-mnist --kid-subsets 5 --json {}", d / "a.npy",
                                 d / "a.npy", d / "j.json"));
  ::unsetenv("DCGAN_HOME");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_json(d / "j.json")["feature_net"].get<std::string>(), net);
}

TEST(CliTrainClassifier, ShortRunWritesALoadableNetwork) {
  TempDir d("train-classifier");
  auto r = run_dcgan(fmt::format("train-classifier --data fashion-mnist --epochs 1 --limit 2048 --batch-size 64 --width 8 "
                                 "--feature-dim 16 --threads 1 --out {}", d / "c.safetensors"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("test accuracy"), std::string::npos) << r.output;
  SafeTensors st = read_safetensors_header(d / "c.safetensors");
  EXPECT_EQ(st.meta("kind"), "classifier");
  EXPECT_EQ(st.meta("dataset"), "fashion-mnist");
  EXPECT_EQ(st.meta("img_size"), "32");
  EXPECT_EQ(st.meta("channels"), "1");
  EXPECT_EQ(st.meta("feature_dim"), "16");
  EXPECT_GT(std::stod(st.meta("test_accuracy")), 0.3) << "32 steps: well above chance (0.1)";
  EXPECT_NE(st.meta("command").find("--limit 2048"), std::string::npos) << st.meta("command");
  eval::FeatureNet net(d / "c.safetensors");
  EXPECT_EQ(net.feature_dim, 16);
  // Standardised features: mean 0, std 1 per dimension on the images they were measured on (the
  // 2048 training images used).
  ASSERT_TRUE(net.standardised());
  Dataset train = load_dataset(DataSpec{"fashion-mnist", 32, 1, false, "train"});
  Tensor x({2048, 1, 32, 32});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = float(train.pixels[size_t(i)]) / 127.5f - 1.f;
  eval::FeatureStats fs(16);
  fs.add(net.features(x));
  const auto cov = fs.covariance();
  for (int j = 0; j < 16; ++j) {
    EXPECT_NEAR(fs.mean()[j], 0.0, 1e-4) << j;
    EXPECT_NEAR(std::sqrt(cov[j * 16 + j]), 1.0, 1e-4) << j;
  }
  // The logits come from the raw features: their accuracy on the test split is the recorded one.
  Dataset test = load_dataset(DataSpec{"fashion-mnist", 32, 1, false, "test"});
  Tensor xt({test.n, 1, 32, 32});
  for (int64_t i = 0; i < xt.numel(); ++i) xt[i] = float(test.pixels[size_t(i)]) / 127.5f - 1.f;
  Tensor logits = net.logits(xt);
  int64_t correct = 0;
  for (int64_t i = 0; i < test.n; ++i) {
    const float* l = logits.data() + i * logits.dim(1);
    correct += std::max_element(l, l + logits.dim(1)) - l == test.labels[i];
  }
  EXPECT_NEAR(double(correct) / test.n, std::stod(st.meta("test_accuracy")), 1e-6);
  // Unlabelled data is refused with a hint.
  const std::string g = make_generator(d / "g.safetensors");
  ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 20 --out-dir {}", g, d / "pngs")).code, 0);
  r = run_dcgan(fmt::format("train-classifier --data {} --epochs 1 --out {}", d / "pngs", d / "x.safetensors"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("has no labels"), std::string::npos) << r.output;
}

TEST(FidEvaluator, RealStatisticsOnceAndTheSameLatentsEveryCall) {
  TempDir d("fid-evaluator");
  eval::FeatureNet net(make_feature_net(d / "net.safetensors"));
  Dataset ds;  // 300 random gray 32x32 "real" images
  ds.n = 300;
  ds.channels = 1;
  ds.height = ds.width = 32;
  ds.source = "memory";
  ds.pixels.resize(300 * 32 * 32);
  Rng rng(4);
  for (auto& p : ds.pixels) p = uint8_t(rng.below(256));
  auto g = load_generator(make_generator(d / "g.safetensors"));
  eval::FidEvaluator ev(net, ds, 130, 7);
  const double a = ev.fid(*g.net, g.config.latent_dim);
  const double b = ev.fid(*g.net, g.config.latent_dim);
  EXPECT_EQ(a, b) << "same latents, same generator";
  EXPECT_GT(a, 0.0);
  EXPECT_EQ(ev.real_stats().count(), 300);
  // The same as the pipeline the CLI uses.
  eval::FeatureSet real(net.feature_dim, 1000, 0), fake(net.feature_dim, 1000, 0);
  eval::add_dataset(real, net, ds);
  eval::add_generated(fake, net, *g.net, g.config.latent_dim, 130, 7, 64);
  EXPECT_NEAR(eval::frechet_distance(real.stats(), fake.stats()), a, 1e-9 * a);
  // A dataset of another size is refused.
  Dataset big = ds;
  big.height = big.width = 16;
  big.n = 1200;
  EXPECT_THROW(eval::FidEvaluator(net, big, 100, 0), ConfigError);
}

}  // namespace
}  // namespace dcgan
