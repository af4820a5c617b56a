// End-to-end: dcgan train on a small slice (steps, not epochs), exact resume, bad inputs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/safetensors.hpp"
#include "support/checkpoints.hpp"
#include "support/cli.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::run_dcgan;
using testing::TempDir;

const std::string kTrain =
    "train --data fashion-mnist --batch-size 32 --seed 7 --deterministic --threads 2 "
    "--sample-every 20 --checkpoint-every 10 --log-every 5 ";


TEST(CliTrain, RunDirectoryAndExactResume) {
  TempDir d("train");
  auto full = run_dcgan(kTrain + "--steps 40 --out " + d / "full");
  ASSERT_EQ(full.code, 0) << full.output;
  for (auto f : {"config.json", "metrics.jsonl", "samples/real.png", "samples/step_0000020.png",
                 "samples/step_0000040.png", "checkpoints/latest.safetensors"})
    EXPECT_TRUE(fs::exists(d.path / "full" / f)) << f;
  // metrics.jsonl: one JSON object per logged step (every 5 steps).
  std::ifstream m(d / "full/metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(m, l);) {
    EXPECT_EQ(l.front(), '{');
    EXPECT_NE(l.find("\"d_loss\""), std::string::npos);
    ++lines;
  }
  EXPECT_EQ(lines, 8);
  // keep = 3 step checkpoints besides latest.
  int steps = 0;
  for (auto& e : fs::directory_iterator(d.path / "full/checkpoints"))
    steps += e.path().filename().string().rfind("step_", 0) == 0;
  EXPECT_EQ(steps, 3);

  auto half = run_dcgan(kTrain + "--steps 20 --out " + d / "split");
  ASSERT_EQ(half.code, 0) << half.output;
  auto rest = run_dcgan("train --resume " + d / "split" + " --steps 40");
  ASSERT_EQ(rest.code, 0) << rest.output;
  EXPECT_NE(rest.output.find("resumed"), std::string::npos) << rest.output;
  // Every generator.* / discriminator.* / optimizer.* tensor byte-identical.
  EXPECT_GT(testing::expect_same_checkpoint(d / "full/checkpoints/latest.safetensors",
                                            d / "split/checkpoints/latest.safetensors", {"step", "rng_state"}),
            20);
  // The resumed run's metrics continue where the first stopped: again 8 lines in all.
  std::ifstream m2(d / "split/metrics.jsonl");
  int lines2 = 0;
  for (std::string l; std::getline(m2, l);) ++lines2;
  EXPECT_EQ(lines2, 8);
}

TEST(CliTrain, RefusesToOverwriteARun) {
  TempDir d("overwrite");
  ASSERT_EQ(run_dcgan(kTrain + "--steps 2 --out " + d.str()).code, 0);
  auto again = run_dcgan(kTrain + "--steps 2 --out " + d.str());
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.output.find("--resume"), std::string::npos) << again.output;
}

TEST(CliTrain, MissingDataPathIsNamed) {
  TempDir d("missing");
  auto r = run_dcgan("train --steps 2 --data /nonexistent/images --out " + d / "run");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("/nonexistent/images"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "run/checkpoints/latest.safetensors"));
}

// latest.safetensors and the step checkpoint it links to damaged on disk (truncated through
// the hard link, so both names are broken): --resume warns, names both files, continues from the
// newest step checkpoint that loads, and ends exactly where an uninterrupted run ends.
TEST(CliTrain, ResumeFallsBackToTheNewestGoodCheckpoint) {
  TempDir d("corrupt");
  ASSERT_EQ(run_dcgan(kTrain + "--steps 20 --out " + d / "full").code, 0);
  ASSERT_EQ(run_dcgan(kTrain + "--steps 20 --out " + d / "run").code, 0);
  const std::string latest = d / "run/checkpoints/latest.safetensors";
  const std::string step20 = d / "run/checkpoints/step_0000020.safetensors";
  const std::string step10 = d / "run/checkpoints/step_0000010.safetensors";
  ASSERT_TRUE(fs::exists(step10));
  ASSERT_TRUE(fs::equivalent(latest, step20));
  const auto size = fs::file_size(latest);
  fs::resize_file(latest, size / 2);  // through the link: step_0000020 is cut short too
  ASSERT_EQ(fs::file_size(step20), size / 2);
  auto r = run_dcgan("train --resume " + d / "run" + " --steps 20");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const std::string& s : {latest, step20, std::string("corrupt or truncated"),
                               "resuming from " + step10 + " (step 10) instead"})
    EXPECT_NE(r.output.find(s), std::string::npos) << "missing '" << s << "' in:\n" << r.output;
  // Steps 11-20 redone: the same checkpoint as the run that was never damaged.
  EXPECT_GT(testing::expect_same_checkpoint(d / "full/checkpoints/latest.safetensors", latest,
                                            {"step", "rng_state"}),
            20);
}

// A learning rate of 1e30 blows D up at step 2: training stops with a message, non-zero exit,
// and latest.safetensors is still the good step-1 checkpoint.
TEST(CliTrain, DivergenceStopsAndKeepsTheLastGoodCheckpoint) {
  TempDir d("nan");
  auto r = run_dcgan("train --steps 30 --lr 1e30 --batch-size 16 --checkpoint-every 1 --out " + d.str());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("training stopped"), std::string::npos) << r.output;
  SafeTensors latest = read_safetensors(d / "checkpoints/latest.safetensors");
  EXPECT_EQ(latest.meta("step"), "1");
}

// --eval-every: FID lines in metrics.jsonl and checkpoints/best.safetensors.
TEST(CliTrain, EvalEveryLogsFidAndKeepsTheBest) {
  TempDir d("evalevery");
  auto r = run_dcgan(kTrain + "--steps 20 --eval-every 10 --eval-samples 256 --out " + d.str());
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream m(d / "metrics.jsonl");
  int fids = 0;
  for (std::string l; std::getline(m, l);) fids += l.find("\"fid\"") != std::string::npos;
  EXPECT_EQ(fids, 2);
  ASSERT_TRUE(fs::exists(d.path / "checkpoints/best.safetensors"));
  SafeTensors best = read_safetensors(d / "checkpoints/best.safetensors");
  EXPECT_FALSE(best.meta("best_fid").empty());
}

TEST(CliTrain, BadOptionsAreNamed) {
  TempDir d("badopt");
  auto r = run_dcgan("train --img-size 48 --steps 1 --out " + d.str());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--img-size"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dcgan
