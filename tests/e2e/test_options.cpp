// End-to-end: every option means what it says. Invalid values are refused by name with their
// range, --resume applies or refuses each option, defaults come from the architecture table,
// outputs follow their cadences on any dataset size, and every hint the CLI prints works when
// followed. Small generated datasets keep each run to a second or two.
#include <gtest/gtest.h>
#include <signal.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "dcgan/models/config.hpp"
#include "dcgan/train/trainer.hpp"
#include "core/rng.hpp"
#include "eval/classifier.hpp"
#include "io/safetensors.hpp"
#include "support/cli.hpp"
#include "support/feature_net.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::CmdResult;
using testing::run_dcgan;
using testing::TempDir;

// `cd DIR && dcgan ARGS`: relative paths in ARGS are resolved in DIR.
CmdResult run_in(const fs::path& dir, const std::string& args) { return run_dcgan(args, dir.string()); }

bool has(const std::string& text, const std::string& s) { return text.find(s) != std::string::npos; }
bool has(const CmdResult& r, const std::string& s) { return has(r.output, s); }

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

int count_lines(const fs::path& p) {
  std::ifstream f(p);
  int n = 0;
  for (std::string l; std::getline(f, l);) n += !l.empty();
  return n;
}

int count_files(const fs::path& dir, const std::string& prefix) {
  int n = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) n += e.path().filename().string().rfind(prefix, 0) == 0;
  return n;
}

// n gray 32x32 images as a float .npy (N, H, W) in [0, 1]; `seed` makes different sets.
std::string gray_npy(const fs::path& path, int64_t n, uint64_t seed = 1) {
  Tensor t({n, 32, 32});
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = float(rng.uniform());
  write_npy(path.string(), t);
  return path.string();
}

// n colour (or gray) 16x16 PNGs in a folder.
std::string png_folder(const fs::path& dir, int n, int channels, uint64_t seed = 1) {
  fs::create_directories(dir);
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    ImageU8 img{16, 16, channels, std::vector<uint8_t>(size_t(16 * 16 * channels))};
    for (auto& p : img.pixels) p = uint8_t(rng.below(256));
    write_png((dir / fmt::format("img_{:03}.png", i)).string(), img);
  }
  return dir.string();
}

std::string feature_net(const fs::path& path, int img, int ch, const std::string& dataset) {
  return testing::make_feature_net(path.string(), img, ch, 3, dataset);
}

// A quick run: seed 16x16 (or 32x32) at batch 8, quiet.
const std::string kQuick = "train --img-size 16 --batch-size 8 --threads 2 --quiet ";
const std::string kQuick32 = "train --img-size 32 --batch-size 8 --threads 2 --quiet ";

// ---- invalid values ---------------------------------------------------------------------------

TEST(Options, InvalidNumbersAreRefusedByNameAndNothingIsWritten) {
  TempDir d("opt-invalid");
  const std::string data = gray_npy(d.path / "g.npy", 64);
  struct Case {
    std::string args, option, range;
  };
  const std::vector<Case> cases{
      {"--batch-size 0", "--batch-size 0", "[1, 65536]"},
      {"--ngf 0", "--ngf 0", "[1, 4096]"},
      {"--ndf -3", "--ndf -3", "[1, 4096]"},
      {"--lr -1", "--lr -1", "> 0"},
      {"--lr-d 0", "--lr-d 0", "> 0"},
      {"--steps -1", "--steps -1", ">= 1"},
      {"--steps 0", "--steps 0", ">= 1"},
      {"--epochs -3", "--epochs -3", ">= 1"},
      {"--epochs 0", "--epochs 0", ">= 1"},
      {"--threads -4", "--threads -4", "[0, 4096]"},
      {"--keep -2", "--keep -2", "[0, 1048576]"},
      {"--sample-every -5", "--sample-every -5", "[0,"},
      {"--log-every -1", "--log-every -1", "[0,"},
      {"--checkpoint-every -1", "--checkpoint-every -1", "[0,"},
      {"--eval-samples 1", "--eval-samples 1", "[2,"},
      {"--img-size 512", "--img-size 512", "16, 32, 64, 128, 256"},
      {"--channels 2", "--channels 2", "1 or 3"},
      {"--kernel 3", "--kernel 3", "4 or 5"},
      {"--d-bn-eps 0", "--d-bn-eps 0", "(0, 10]"},
      {"--g-bn-eps -1", "--g-bn-eps -1", "(0, 10]"},
      {"--beta1 1", "--beta1 1", "[0, 1)"},
      {"--label-smoothing 1", "--label-smoothing 1", "[0, 1)"},
      {"--ema 1", "--ema 1", "(0, 1)"},
      {"--ema -0.5", "--ema -0.5", "(0, 1)"},
      {"--latent-dim 0", "--latent-dim 0", "[1, 100000]"},
      {"--arch resnet", "--arch resnet", "'seed' or 'dcgan'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const fs::path out = d.path / "run";
    const bool limit = c.args.find("--steps") != std::string::npos || c.args.find("--epochs") != std::string::npos;
    auto r = run_dcgan(fmt::format("train --data {} {} {} --out {}", data, limit ? "" : "--steps 2", c.args,
                                   out.string()));
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(has(r, "invalid")) << r.output;
    EXPECT_TRUE(has(r, c.option)) << r.output;
    EXPECT_TRUE(has(r, c.range)) << r.output;
    EXPECT_FALSE(fs::exists(out)) << "nothing is written for a refused option";
  }
  // Unsigned values: "-1" is not silently read as 2^64 - 1.
  auto r = run_dcgan(fmt::format("train --data {} --steps 2 --seed -1 --out {}", data, d / "seed"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "--seed")) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "seed"));
}

TEST(Options, HelpStatesWhatZeroMeansAndTheLearningRatePrecedence) {
  auto r = run_dcgan("train --help");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* s : {"0: at epoch ends", "0: all cores", "0: never", "0: none",
                        "no epoch limit when only --steps is given", "--lr-g / --lr-d override it",
                        "seed 64, dcgan 128", "seed 32, dcgan 64", "colour data"})
    EXPECT_TRUE(has(r, s)) << s << "\n" << r.output;
}

TEST(Options, LrSetsBothAndLrGOrLrDOverrideIt) {
  TempDir d("opt-lr");
  const std::string data = gray_npy(d.path / "g.npy", 64);
  auto r = run_dcgan(kQuick + fmt::format("--data {} --steps 1 --lr 0.001 --lr-g 0.003 --out {}", data, d / "run"));
  ASSERT_EQ(r.code, 0) << r.output;
  auto j = read_json(d.path / "run/config.json");
  EXPECT_DOUBLE_EQ(j["lr_g"].get<double>(), 0.003);
  EXPECT_DOUBLE_EQ(j["lr_d"].get<double>(), 0.001);
}

// ---- resume -------------------------------------------------------------------------------------

TEST(Resume, RefusesEveryOptionItCannotApplyByName) {
  TempDir d("resume-refuse");
  const std::string data = gray_npy(d.path / "g.npy", 64);
  ASSERT_EQ(run_dcgan(kQuick + fmt::format("--data {} --steps 2 --out {}", data, d / "run")).code, 0);
  const std::string before = read_safetensors_header(d / "run/checkpoints/latest.safetensors").meta("step");
  auto r = run_dcgan(fmt::format("train --resume {} --steps 4 --data mnist --batch-size 8 --arch dcgan --lr 0.001 --ema 0.9 "
                                 "--out {}", d / "run", d / "elsewhere"));
  EXPECT_EQ(r.code, 1) << r.output;
  for (const char* o : {"--batch-size", "--arch", "--lr", "--ema", "--out"}) EXPECT_TRUE(has(r, o)) << o << "\n" << r.output;
  EXPECT_TRUE(has(r, "cannot be combined with --resume")) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "elsewhere"));
  EXPECT_EQ(read_safetensors_header(d / "run/checkpoints/latest.safetensors").meta("step"), before);
}

TEST(Resume, AppliesNewLimitsAndCadences) {
  TempDir d("resume-apply");
  const std::string data = gray_npy(d.path / "g.npy", 64);  // 8 steps per epoch
  ASSERT_EQ(run_dcgan(kQuick + fmt::format("--data {} --epochs 1 --log-every 4 --out {}", data, d / "run")).code, 0);
  EXPECT_EQ(count_lines(d.path / "run/metrics.jsonl"), 2);  // steps 4, 8
  // --steps alone replaces both stored limits (1 epoch would have stopped it at once).
  auto r = run_dcgan(fmt::format("train --resume {} --steps 20 --log-every 2 --sample-every 6 --quiet", d / "run"));
  ASSERT_EQ(r.code, 0) << r.output;
  auto st = read_safetensors_header(d / "run/checkpoints/latest.safetensors");
  EXPECT_EQ(st.meta("step"), "20");
  // Metrics: 4, 8, then every 2 steps up to 20.
  EXPECT_EQ(count_lines(d.path / "run/metrics.jsonl"), 2 + 6);
  for (int s : {12, 18}) EXPECT_TRUE(fs::exists(d.path / fmt::format("run/samples/step_{:07}.png", s))) << s;
  auto cfg = read_json(d.path / "run/config.json");
  EXPECT_EQ(cfg["steps"].get<int64_t>(), 20);
  EXPECT_EQ(cfg["epochs"].get<int64_t>(), 0);
  EXPECT_EQ(cfg["log_every"].get<int64_t>(), 2);
  // A run at its limit is refused, saying so, before any data is read.
  r = run_dcgan(fmt::format("train --resume {} --quiet", d / "run"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "already reached its limit")) << r.output;
  EXPECT_TRUE(has(r, "--steps or --epochs")) << r.output;
}

TEST(Resume, StoredPathsAreAbsoluteAndAMovedDatasetIsCheckedToBeTheSame) {
  TempDir d("resume-paths");
  fs::create_directories(d.path / "work");
  png_folder(d.path / "work/images", 24, 1);
  // Relative --data and --out, typed in work/.
  auto r = run_in(d.path / "work", kQuick + "--data images --steps 2 --out ../run");
  ASSERT_EQ(r.code, 0) << r.output;
  auto cfg = read_json(d.path / "run/config.json");
  EXPECT_EQ(cfg["data"].get<std::string>(), (d.path / "work/images").string());
  EXPECT_EQ(cfg["out"].get<std::string>(), (d.path / "run").string());
  EXPECT_FALSE(cfg["data_fingerprint"].get<std::string>().empty());
  // Resumed from another directory: the absolute data path still holds.
  r = run_in(d.path, "train --resume run --steps 3 --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  // The data moves: resuming without --data names the missing path and the way out.
  fs::rename(d.path / "work/images", d.path / "moved");
  r = run_in(d.path, "train --resume run --steps 4 --quiet");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, (d.path / "work/images").string())) << r.output;
  EXPECT_TRUE(has(r, "--data")) << r.output;
  // Other images at the new place are refused (the data order would silently change).
  png_folder(d.path / "other", 24, 1, /*seed=*/2);
  r = run_in(d.path, "train --resume run --steps 4 --data other --quiet");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "holds other images than this run was trained on")) << r.output;
  EXPECT_EQ(read_safetensors_header(d / "run/checkpoints/latest.safetensors").meta("step"), "3");
  // The same images at the new place: accepted, and stored for the next resume.
  r = run_in(d.path, "train --resume run --steps 4 --data moved --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_json(d.path / "run/config.json")["data"].get<std::string>(), (d.path / "moved").string());
  r = run_in(d.path, "train --resume run --steps 5 --quiet");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(Resume, ACheckpointFileInsteadOfTheRunDirectoryNamesTheDirectory) {
  TempDir d("resume-file");
  const std::string data = gray_npy(d.path / "g.npy", 64);
  ASSERT_EQ(run_dcgan(kQuick + fmt::format("--data {} --steps 2 --out {}", data, d / "run")).code, 0);
  auto r = run_dcgan(fmt::format("train --resume {} --steps 4", d / "run/checkpoints/latest.safetensors"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "takes a run directory")) << r.output;
  EXPECT_TRUE(has(r, "HINT: dcgan train --resume " + (d.path / "run").string())) << r.output;
  EXPECT_FALSE(has(r, "latest.safetensors/checkpoints")) << r.output;
}

// ---- defaults -----------------------------------------------------------------------------------

TEST(Defaults, ArchDcganAloneIsThePapers64x64x3) {
  // The library's table and the trained model agree.
  const ModelConfig m = ModelConfig::defaults("dcgan");
  EXPECT_EQ(m.img_size, 64);
  EXPECT_EQ(m.channels, 3);
  EXPECT_EQ(m.ngf, 64);
  EXPECT_EQ(TrainConfig::defaults("dcgan").batch_size, 128);
  EXPECT_EQ(TrainConfig::defaults("seed").batch_size, 64);
  EXPECT_EQ(ModelConfig().img_size, ModelConfig::defaults("seed").img_size);
  TempDir d("defaults-dcgan");
  const std::string data = gray_npy(d.path / "g.npy", 16);
  // Widths and batch given only to keep the run small: size and channels come from the table.
  auto r = run_dcgan(fmt::format("train --arch dcgan --ngf 8 --ndf 8 --batch-size 4 --steps 1 --threads 2 "
                                 "--data {} --out {}", data, d / "run"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "channels: 3 (the dcgan architecture's default")) << r.output;
  auto st = read_safetensors_header(d / "run/checkpoints/latest.safetensors");
  EXPECT_EQ(st.meta("img_size"), "64");
  EXPECT_EQ(st.meta("channels"), "3");
  EXPECT_EQ(st.meta("d_bn_eps"), fmt::format("{}", 1e-5f));
}

TEST(Defaults, AColourFolderTrainsInColourUnlessChannels1) {
  TempDir d("defaults-colour");
  const std::string data = png_folder(d.path / "colour", 16, 3);
  auto r = run_dcgan(kQuick + fmt::format("--data {} --steps 1 --out {}", data, d / "c"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_safetensors_header(d / "c/checkpoints/latest.safetensors").meta("channels"), "3");
  r = run_dcgan(fmt::format("train --img-size 16 --batch-size 8 --threads 2 --data {} --steps 1 --out {}", data,
                            d / "c2"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "channels: 3 (colour images in")) << r.output;
  EXPECT_TRUE(has(r, "--channels 1 trains in gray")) << r.output;
  r = run_dcgan(kQuick + fmt::format("--data {} --steps 1 --channels 1 --out {}", data, d / "g"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_safetensors_header(d / "g/checkpoints/latest.safetensors").meta("channels"), "1");
  // A gray folder with the seed architecture stays gray.
  const std::string gray = png_folder(d.path / "gray", 16, 1);
  r = run_dcgan(fmt::format("train --img-size 16 --batch-size 8 --threads 2 --data {} --steps 1 --out {}", gray,
                            d / "gg"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "channels: 1 (gray images in")) << r.output;
}

// ---- outputs ------------------------------------------------------------------------------------

TEST(Outputs, OutInsideTheDataOrTheDataInsideOutIsRefused) {
  TempDir d("out-overlap");
  const std::string data = png_folder(d.path / "data", 16, 1);
  auto r = run_dcgan(kQuick + fmt::format("--data {} --steps 1 --out {}", data, d / "data/run"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "invalid option --out")) << r.output;
  EXPECT_TRUE(has(r, "inside the data")) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "data/run"));
  r = run_dcgan(kQuick + fmt::format("--data {} --steps 1 --out {}", data, d.str()));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "is inside it")) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "checkpoints"));
}

// 300 images at batch 64: 4 steps per epoch. Epoch ends add no outputs of their own: at most one
// grid, metrics line and checkpoint per cadence interval (plus the final ones).
TEST(Outputs, ASmallDatasetFollowsTheCadences) {
  TempDir d("out-cadence");
  const std::string data = gray_npy(d.path / "small.npy", 300);
  auto r = run_dcgan(fmt::format("train --data {} --epochs 10 --threads 2 --quiet --keep 100 --out {}", data,
                                 d / "defaults"));
  ASSERT_EQ(r.code, 0) << r.output;
  // Defaults (log 50, grids 500, checkpoints 1000) over 40 steps: only the final ones.
  EXPECT_EQ(count_files(d.path / "defaults/samples", "step_"), 1);
  EXPECT_EQ(count_files(d.path / "defaults/samples", "epoch_"), 0);
  EXPECT_EQ(count_lines(d.path / "defaults/metrics.jsonl"), 1);
  EXPECT_EQ(count_files(d.path / "defaults/checkpoints", "step_"), 1);
  r = run_dcgan(fmt::format("train --data {} --epochs 10 --threads 2 --quiet --keep 100 --log-every 10 "
                            "--sample-every 10 --checkpoint-every 20 --out {}", data, d / "set"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(count_files(d.path / "set/samples", "step_"), 4);       // 10, 20, 30, 40
  EXPECT_EQ(count_lines(d.path / "set/metrics.jsonl"), 4);          // 10, 20, 30, 40
  EXPECT_EQ(count_files(d.path / "set/checkpoints", "step_"), 2);   // 20, 40
  // 0: at epoch ends.
  r = run_dcgan(fmt::format("train --data {} --epochs 3 --threads 2 --quiet --keep 100 --log-every 0 "
                            "--sample-every 0 --checkpoint-every 0 --out {}", data, d / "epochs"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(count_files(d.path / "epochs/samples", "epoch_"), 3);
  EXPECT_EQ(count_files(d.path / "epochs/samples", "step_"), 0) << "the last epoch's grid is the final one";
  EXPECT_EQ(count_lines(d.path / "epochs/metrics.jsonl"), 3);
  EXPECT_EQ(count_files(d.path / "epochs/checkpoints", "step_"), 3);
  // --keep 0: no step checkpoints besides latest.
  r = run_dcgan(fmt::format("train --data {} --steps 8 --threads 2 --quiet --keep 0 --checkpoint-every 2 --out {}",
                            data, d / "keep0"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(count_files(d.path / "keep0/checkpoints", "step_"), 0);
  EXPECT_EQ(read_safetensors_header(d / "keep0/checkpoints/latest.safetensors").meta("step"), "8");
}

TEST(Outputs, TheLastProgressLineShowsTheLastEpoch) {
  TempDir d("out-epoch");
  const std::string data = gray_npy(d.path / "g.npy", 64);  // 8 steps of 8
  auto r = run_dcgan(fmt::format("train --img-size 16 --batch-size 8 --threads 2 --data {} --epochs 2 --log-every 8 "
                                 "--out {}", data, d / "run"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "epoch 1/2 step 8/16")) << r.output;
  EXPECT_TRUE(has(r, "epoch 2/2 step 16/16")) << r.output;
  EXPECT_FALSE(has(r, "epoch 3/2")) << r.output;
}

TEST(Outputs, CtrlCSaysWhereTheCheckpointIsAndHowToContinue) {
  TempDir d("out-sigint");
  const std::string data = gray_npy(d.path / "g.npy", 256);
  const std::string log = d / "log.txt";
  testing::Process p(fmt::format("train --img-size 16 --batch-size 8 --threads 2 --data {} --steps 100000 "
                                 "--sample-every 0 --out {}", data, d / "run"),
                     log);
  // Wait for training to start (the model line), then interrupt.
  for (int i = 0; i < 300; ++i) {
    std::ifstream f(log);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (text.find("model:") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  p.signal(SIGINT);
  EXPECT_EQ(p.wait(), 130);
  std::ifstream f(log);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string latest = (d.path / "run/checkpoints/latest.safetensors").string();
  EXPECT_NE(text.find("checkpoint at step "), std::string::npos) << text;
  EXPECT_NE(text.find(latest), std::string::npos) << text;
  EXPECT_NE(text.find("continue with: dcgan train --resume " + (d.path / "run").string()), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(latest));
}

// ---- latents, interpolation, checkpoints given as run directories ------------------------------

class Generated : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("opt-generated");
    const std::string data = gray_npy(dir_->path / "g.npy", 64);
    auto r = run_dcgan(kQuick + fmt::format("--data {} --steps 2 --out {}", data, (dir_->path / "run").string()));
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string run() { return (dir_->path / "run").string(); }
  static TempDir* dir_;
};
TempDir* Generated::dir_ = nullptr;

TEST_F(Generated, NaNOrInfiniteLatentsAreRefused) {
  TempDir d("opt-nan");
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    Tensor z({3, 100}, 0.5f);
    z[1 * 100 + 7] = bad;
    write_npy(d / "z.npy", z);
    auto r = run_dcgan(fmt::format("sample --checkpoint {} --latents {} --grid {}", run(), d / "z.npy", d / "g.png"));
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(has(r, "row 1, column 7")) << r.output;
    EXPECT_TRUE(has(r, "must be finite")) << r.output;
    EXPECT_FALSE(fs::exists(d.path / "g.png"));
    r = run_dcgan(fmt::format("interpolate --checkpoint {} --latents {} --gif {}", run(), d / "z.npy", d / "w.gif"));
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(has(r, "must be finite")) << r.output;
    EXPECT_FALSE(fs::exists(d.path / "w.gif"));
  }
}

TEST_F(Generated, InterpolateChecksSeedsAndSteps) {
  TempDir d("opt-interp");
  auto r = run_dcgan(fmt::format("interpolate --checkpoint {} --seeds 5 --gif {}", run(), d / "w.gif"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "invalid option --seeds 5: give at least 2 seeds")) << r.output;
  r = run_dcgan(fmt::format("interpolate --checkpoint {} --steps -3 --gif {}", run(), d / "w.gif"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "--steps")) << r.output;
  EXPECT_TRUE(has(r, "2 to 10000")) << r.output;
  r = run_dcgan(fmt::format("interpolate --checkpoint {} --seeds 1,-2 --gif {}", run(), d / "w.gif"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "--seeds")) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "w.gif"));
  // No seeds at all: the documented default 0,1.
  r = run_dcgan(fmt::format("interpolate --checkpoint {} --steps 3 --npy {}", run(), d / "w.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_npy(d / "w.npy").dim(0), 3);
}

TEST_F(Generated, EveryCommandTakesARunDirectoryAndInfoTakesCheckpoint) {
  TempDir d("opt-rundir");
  EXPECT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 2 --npy {}", run(), d / "a.npy")).code, 0);
  EXPECT_EQ(run_dcgan(fmt::format("interpolate --checkpoint {} --seeds 1,2 --steps 2 --npy {}", run(), d / "b.npy")).code, 0);
  auto r = run_dcgan(fmt::format("info --checkpoint {}", run()));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "model: seed 16x16x1")) << r.output;
  r = run_dcgan(fmt::format("info {}", run() + "/checkpoints/latest.safetensors"));
  EXPECT_EQ(r.code, 0) << r.output;
  r = run_dcgan(fmt::format("sample --checkpoint {} -n 2 --npy {}", d.str(), d / "c.npy"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "no checkpoints/latest.safetensors")) << r.output;
}

TEST(Cli, BareDcganPrintsHelpAndUsageErrorsExit2) {
  auto r = run_dcgan("");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "Subcommands:")) << r.output;
  EXPECT_TRUE(has(r, "train")) << r.output;
  r = run_dcgan("train --no-such-option");
  EXPECT_EQ(r.code, 2) << r.output;
  r = run_dcgan("--help");
  EXPECT_EQ(r.code, 0) << r.output;
}

// ---- eval ---------------------------------------------------------------------------------------

TEST(EvalChecks, ColourImagesAreNotScoredByAGrayNetworkAndNothingIsGuessed) {
  TempDir d("eval-colour");
  const std::string colour = png_folder(d.path / "colour", 40, 3);
  const std::string gray_net = feature_net(d.path / "gray.safetensors", 32, 1, "fashion-mnist");
  // No --data, no --features: which network suits the images is not guessed.
  auto r = run_dcgan(fmt::format("eval --a {} --b {}", colour, colour));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "no feature network named")) << r.output;
  // A gray network for colour images: refused, naming the set and both kinds.
  r = run_dcgan(fmt::format("eval --a {} --b {} --features {}", colour, colour, gray_net));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "holds colour images, but the feature network")) << r.output;
  EXPECT_TRUE(has(r, "takes gray images")) << r.output;
  // A network trained on other images than --data names.
  const std::string mnist_net = feature_net(d.path / "mnist.safetensors", 32, 1, "mnist");
  r = run_dcgan(fmt::format("eval --a fashion-mnist --b fashion-mnist --data fashion-mnist --features {}", mnist_net));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "was trained on 'mnist' images")) << r.output;
  // A colour network for these colour images works.
  const std::string colour_net = feature_net(d.path / "colour-net.safetensors", 32, 3, "colour");
  r = run_dcgan(fmt::format("eval --a {} --b {} --features {} --kid-subset-size 10 --kid-subsets 2 --json {}", colour,
                            colour, colour_net, d / "m.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(read_json(d.path / "m.json")["fid"].get<double>(), 1e-6);
}

TEST(EvalChecks, ASourceWithoutASplitIsDescribedAsAllItsImages) {
  TempDir d("eval-nosplit");
  const std::string colour = png_folder(d.path / "colour", 40, 3);
  ASSERT_EQ(run_dcgan(kQuick32 + fmt::format("--data {} --steps 1 --out {}", colour, d / "run")).code, 0);
  const std::string net = feature_net(d.path / "net.safetensors", 32, 3, "colour");
  auto r = run_dcgan(fmt::format("eval --checkpoint {} -n 40 --features {} --kid-subset-size 10 --kid-subsets 2 "
                                 "--json {}", d / "run", net, d / "m.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "all images of " + colour + " (it has no held-out split)")) << r.output;
  EXPECT_FALSE(has(r, "test split")) << r.output;
  EXPECT_TRUE(has(read_json(d.path / "m.json")["real"].get<std::string>(), "all 40 images"));
}

// ---- hints that work when followed --------------------------------------------------------------

// The hint for labelled data names a train-classifier command and where its output is found:
// run it (with options that make it quick) and the same eval then works.
TEST(Hints, TheTrainClassifierHintWorksWhenFollowed) {
  TempDir d("hint-labelled");
  fs::create_directories(d.path / "work");
  ASSERT_EQ(run_dcgan(kQuick + fmt::format("--data fashion-mnist --steps 2 --out {}", d / "run")).code, 0);
  ::setenv("DCGAN_HOME", (d / "empty-home").c_str(), 1);  // nothing found through it
  auto r = run_in(d.path / "work", fmt::format("eval --checkpoint {} -n 50", d / "run"));
  EXPECT_EQ(r.code, 1) << r.output;
  ASSERT_TRUE(has(r, "no feature network for 16x16x1 images")) << r.output;
  const std::string lead = "dcgan train-classifier ";
  const size_t a = r.output.find(lead), b = r.output.find(" (found there when dcgan runs from this directory)");
  ASSERT_NE(a, std::string::npos) << r.output;
  ASSERT_NE(b, std::string::npos) << r.output;
  const std::string args = r.output.substr(a + lead.size(), b - a - lead.size());
  EXPECT_NE(args.find("--data fashion-mnist --img-size 16 --channels 1 --out models/"), std::string::npos) << args;
  auto t = run_in(d.path / "work", "train-classifier " + args +
                                       " --epochs 1 --limit 1024 --width 8 --feature-dim 16 --threads 2 --quiet");
  ASSERT_EQ(t.code, 0) << t.output;
  r = run_in(d.path / "work", fmt::format("eval --checkpoint {} -n 50 --kid-subset-size 20 --kid-subsets 2 --json m.json",
                                          d / "run"));
  ::unsetenv("DCGAN_HOME");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(fs::path(read_json(d.path / "work/m.json")["feature_net"].get<std::string>()).parent_path(),
            d.path / "work/models");
}

// Unlabelled data: no classifier can be trained on it, so the hint does not suggest one; its
// --features advice works.
TEST(Hints, UnlabelledDataIsNotSentToTrainClassifier) {
  TempDir d("hint-unlabelled");
  const std::string colour = png_folder(d.path / "colour", 24, 3);
  ASSERT_EQ(run_dcgan(kQuick32 + fmt::format("--data {} --steps 1 --out {}", colour, d / "run")).code, 0);
  auto r = run_dcgan(fmt::format("eval --checkpoint {} -n 24", d / "run"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "has no labels to train a feature network on")) << r.output;
  EXPECT_FALSE(has(r, "dcgan train-classifier --data")) << r.output;
  // Following the hint the other way: train-classifier on it fails, saying why.
  auto t = run_dcgan(fmt::format("train-classifier --data {} --epochs 1 --out {}", colour, d / "c.safetensors"));
  EXPECT_EQ(t.code, 1) << t.output;
  EXPECT_TRUE(has(t, "has no labels")) << t.output;
  const std::string net = feature_net(d.path / "net.safetensors", 32, 3, "colour");
  r = run_dcgan(fmt::format("eval --checkpoint {} -n 24 --features {} --kid-subset-size 8 --kid-subsets 2", d / "run", net));
  EXPECT_EQ(r.code, 0) << r.output;
}

// --eval-every's hint points at --features, which train takes.
TEST(Hints, TrainTakesFeaturesForEvalEvery) {
  TempDir d("hint-eval-every");
  const std::string data = png_folder(d.path / "gray", 40, 1);
  auto r = run_dcgan(kQuick32 + fmt::format("--data {} --steps 2 --eval-every 1 --eval-samples 16 --out {}",
                                          data, d / "nonet"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "--features")) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "nonet/checkpoints/latest.safetensors"));
  const std::string net = feature_net(d.path / "net.safetensors", 32, 1, "gray");
  r = run_dcgan(kQuick32 + fmt::format("--data {} --steps 2 --eval-every 1 --eval-samples 16 --features {} "
                                     "--out {}", data, net, d / "run"));
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream m(d.path / "run/metrics.jsonl");
  int fids = 0;
  for (std::string l; std::getline(m, l);) fids += nlohmann::json::parse(l).contains("fid");
  EXPECT_EQ(fids, 2);
  EXPECT_TRUE(fs::exists(d.path / "run/checkpoints/best.safetensors"));
}

// train-classifier makes its --out folder, and an unwritable --out fails before any training.
TEST(Hints, TrainClassifierPreparesItsOutputBeforeTraining) {
  TempDir d("hint-classifier-out");
  fs::create_directories(d.path / "work");
  auto r = run_in(d.path / "work", "train-classifier --data fashion-mnist --epochs 1 --limit 512 --width 8 "
                                   "--feature-dim 16 --threads 2 --quiet --out models/x.safetensors");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(d.path / "work/models/x.safetensors"));
  r = run_dcgan("train-classifier --data fashion-mnist --epochs 50 --out /proc/dcgan-no/x.safetensors");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "/proc/dcgan-no/x.safetensors")) << r.output;
  EXPECT_FALSE(has(r, "test accuracy")) << "refused before training\n" << r.output;
}

}  // namespace
}  // namespace dcgan
