// End-to-end: checkpoints written by the previous release still work (info, sample, eval,
// resume), a checkpoint of a newer format version is refused by every reader, and the training
// state survives a resume whole (elapsed time, best FID). The fixture is described in
// tests/fixtures/release-f1cd280/README.md.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dcgan/io/npy.hpp"
#include "core/rng.hpp"
#include "eval/classifier.hpp"
#include "io/safetensors.hpp"
#include "models/checkpoint_io.hpp"
#include "support/cli.hpp"
#include "support/feature_net.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::run_dcgan;
using testing::TempDir;

const fs::path kFixture = fs::path(DCGAN_SOURCE_DIR) / "tests/fixtures/release-f1cd280/seed16.safetensors";

bool has(const std::string& text, const std::string& s) { return text.find(s) != std::string::npos; }

// The fixture as the latest checkpoint of a run directory.
fs::path make_run(const TempDir& d) {
  const fs::path run = d.path / "run";
  fs::create_directories(run / "checkpoints");
  fs::copy_file(kFixture, run / "checkpoints/latest.safetensors");
  return run;
}

TEST(CheckpointCompat, ThePreviousReleasesCheckpointReadsWhole) {
  const CheckpointMeta m = read_checkpoint_meta(kFixture.string(), /*require_training=*/true);
  EXPECT_EQ(m.format_version, 1);
  EXPECT_EQ(m.model.summary(), "seed 16x16x1, latent 8, ngf 4, ndf 4, kernel 4");
  ASSERT_TRUE(m.training.has_value());
  EXPECT_EQ(m.training->step, 3);
  EXPECT_EQ(m.training->epoch, 0);
  EXPECT_EQ(m.training->loader.index_in_epoch, 24);
  EXPECT_EQ(m.training->g_adam_step, 3);
  EXPECT_EQ(m.training->config.data, "fashion-mnist");
  EXPECT_EQ(m.training->config.batch_size, 8);
  EXPECT_TRUE(m.training->config.data_fingerprint.empty()) << "the previous release recorded none";
  // Its tensors load into the networks its metadata describes.
  LoadedGenerator g = load_generator(kFixture.string());
  EXPECT_EQ(g.config.latent_dim, 8);
}

TEST(CheckpointCompat, InfoSampleEvalAndResumeTakeIt) {
  TempDir d("compat");
  const fs::path run = make_run(d);
  auto r = run_dcgan("info " + run.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "model: seed 16x16x1")) << r.output;
  EXPECT_TRUE(has(r.output, "training: step 3, epoch 0")) << r.output;
  r = run_dcgan(fmt::format("sample --checkpoint {} -n 5 --seed 2 --npy {}", run.string(), d / "s.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  Tensor s = read_npy(d / "s.npy");
  ASSERT_EQ(s.shape(), (Shape{5, 1, 16, 16}));
  for (int64_t i = 0; i < s.numel(); ++i) ASSERT_TRUE(std::isfinite(s[i]) && std::fabs(s[i]) <= 1.f) << i;
  // eval: its training data (fashion-mnist) is read from the old train_config.
  testing::make_feature_net(d / "net.safetensors", 16, 1, 1, "fashion-mnist", 4, 8);
  r = run_dcgan(fmt::format("eval --checkpoint {} -n 30 --features {} --kid-subset-size 10 --kid-subsets 2 --quiet",
                            run.string(), d / "net.safetensors"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "fashion-mnist (test split")) << r.output;
  // Resume: continues at step 3, says the data cannot be checked (no fingerprint then).
  r = run_dcgan(fmt::format("train --resume {} --steps 5 --threads 2", run.string()));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "at step 3")) << r.output;
  EXPECT_TRUE(has(r.output, "did not record what its data held")) << r.output;
  const CheckpointMeta after = read_checkpoint_meta((run / "checkpoints/latest.safetensors").string(), true);
  EXPECT_EQ(after.training->step, 5);
  EXPECT_EQ(after.training->g_adam_step, 5);
  EXPECT_FALSE(after.training->config.data_fingerprint.empty()) << "recorded from now on";
  EXPECT_GT(after.training->elapsed_s, read_checkpoint_meta(kFixture.string(), true).training->elapsed_s)
      << "elapsed time continues from the checkpoint's";
}

TEST(CheckpointCompat, ANewerFormatVersionIsRefusedByEveryReader) {
  TempDir d("compat-newer");
  const fs::path run = make_run(d);
  SafeTensors st = read_safetensors((run / "checkpoints/latest.safetensors").string());
  st.metadata["format_version"] = std::to_string(CheckpointMeta::kFormatVersion + 1);
  fs::remove(run / "checkpoints/latest.safetensors");
  write_safetensors_atomic((run / "checkpoints/latest.safetensors").string(), st);
  for (const std::string& cmd :
       std::vector<std::string>{fmt::format("info {}", run.string()), fmt::format("sample --checkpoint {} -n 2 --npy {}", run.string(), d / "x.npy"),
        fmt::format("eval --checkpoint {} -n 10 --data fashion-mnist", run.string()),
        fmt::format("train --resume {} --steps 9", run.string())}) {
    SCOPED_TRACE(cmd);
    auto r = run_dcgan(cmd);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(has(r.output, fmt::format("written by a newer dcgan (checkpoint format version {}", CheckpointMeta::kFormatVersion + 1))) << r.output;
  }
  EXPECT_FALSE(fs::exists(d.path / "x.npy"));
  EXPECT_EQ(read_safetensors_header((run / "checkpoints/latest.safetensors").string()).meta("step"), "3");
}

// The best FID and the elapsed time are part of the training state: a resumed run neither
// forgets its best checkpoint (and replaces it with a worse one) nor restarts its clock.
TEST(CheckpointCompat, ResumeKeepsTheBestFidAndTheClock) {
  TempDir d("compat-best");
  testing::make_feature_net(d / "net.safetensors", 16, 1, 1, "fashion-mnist", 4, 8);
  const std::string run = d / "run";
  auto r = run_dcgan(fmt::format("train --img-size 16 --batch-size 8 --threads 2 --quiet --steps 4 --eval-every 2 "
                                 "--eval-samples 16 --features {} --out {}", d / "net.safetensors", run));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto first = read_checkpoint_meta(run + "/checkpoints/latest.safetensors", true).training;
  ASSERT_TRUE(first->best_fid.has_value());
  r = run_dcgan(fmt::format("train --resume {} --steps 8 --quiet", run));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto after = read_checkpoint_meta(run + "/checkpoints/latest.safetensors", true).training;
  ASSERT_TRUE(after->best_fid.has_value());
  EXPECT_LE(*after->best_fid, *first->best_fid) << "the best so far can only fall";
  EXPECT_GT(after->elapsed_s, first->elapsed_s);
  // best.safetensors holds the best FID of the whole run.
  const auto best = read_checkpoint_meta(run + "/checkpoints/best.safetensors", true).training;
  std::ifstream m(run + "/metrics.jsonl");
  double lowest = INFINITY;
  for (std::string l; std::getline(m, l);) {
    auto j = nlohmann::json::parse(l);
    if (j.contains("fid")) lowest = std::min(lowest, j["fid"].get<double>());
  }
  EXPECT_DOUBLE_EQ(*best->best_fid, lowest);
}

}  // namespace
}  // namespace dcgan
