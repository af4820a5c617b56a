// SIGINT / SIGTERM during `dcgan train`: the step in progress finishes, a checkpoint is written at
// the step reached, the process exits 130 / 143, and --resume continues exactly (the weights equal
// those of an uninterrupted run to the same step).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "io/safetensors.hpp"
#include "support/checkpoints.hpp"
#include "support/cli.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::count_lines;
using testing::Process;
using testing::run_dcgan;
using testing::TempDir;
using testing::wait_until;

// Checkpoints only when interrupted (cadence far away); metrics every step so the test sees progress.
const std::string kTrain =
    "train --data fashion-mnist --batch-size 16 --seed 5 --deterministic --threads 2 --checkpoint-every 100000 "
    "--log-every 1 --sample-every 0 ";

void interrupt_and_resume(int sig, const std::string& tag) {
  TempDir d(tag);
  const fs::path run = d.path / "run", latest = run / "checkpoints" / "latest.safetensors";
  Process p(kTrain + "--steps 100000 --out " + run.string(), d / "train.log");
  // Training has started (handlers installed) once a few metrics lines are there.
  ASSERT_TRUE(wait_until([&] { return count_lines((run / "metrics.jsonl").string()) >= 3 || !p.running(); }, 300))
      << p.output();
  ASSERT_TRUE(p.running()) << p.output();
  p.signal(sig);
  const int code = p.wait();
  const std::string out = p.output();
  EXPECT_EQ(code, 128 + sig) << out;
  EXPECT_FALSE(p.killed_by_signal()) << "the process died of the signal instead of exiting cleanly\n" << out;

  // "caught SIGINT: finished step N, writing a checkpoint"
  std::smatch m;
  const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
  ASSERT_TRUE(std::regex_search(out, m, std::regex("caught " + name + ": finished step ([0-9]+), writing a checkpoint")))
      << out;
  const int64_t step = std::stoll(m[1]);
  EXPECT_GE(step, 3);
  SafeTensors st = read_safetensors(latest.string());
  EXPECT_EQ(st.meta("step"), std::to_string(step));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / fmt::format("step_{:07}.safetensors", step)));
  EXPECT_EQ(run_dcgan("info " + latest.string()).code, 0);

  // Resume to step + 2; equal to a run that was never interrupted.
  auto res = run_dcgan(fmt::format("train --resume {} --steps {}", run.string(), step + 2));
  ASSERT_EQ(res.code, 0) << res.output;
  EXPECT_NE(res.output.find(fmt::format("at step {}", step)), std::string::npos) << res.output;
  auto ref = run_dcgan(kTrain + fmt::format("--steps {} --out {}", step + 2, (d.path / "ref").string()));
  ASSERT_EQ(ref.code, 0) << ref.output;
  testing::expect_same_checkpoint(latest, d.path / "ref" / "checkpoints" / "latest.safetensors",
                                  {"step", "rng_state"});
}

TEST(Signals, SigintCheckpointsExits130AndResumes) { interrupt_and_resume(SIGINT, "sigint"); }

TEST(Signals, SigtermCheckpointsExits143AndResumes) { interrupt_and_resume(SIGTERM, "sigterm"); }

// Ctrl-C twice: the second one ends the process at once, by the signal, wherever it lands (in
// the step, or in the checkpoint write the first one started). latest.safetensors is then a
// complete earlier checkpoint, and --resume continues from it.
TEST(Signals, SecondSigintQuitsAtOnceAndKeepsTheLastCheckpoint) {
  TempDir d("sigint-twice");
  const fs::path run = d.path / "run", latest = run / "checkpoints" / "latest.safetensors";
  // The paper's model at 64 px: steps of about a second, so both signals land inside one step.
  const std::string args =
      "train --data fashion-mnist --arch dcgan --img-size 64 --batch-size 32 --seed 5 --threads 2 "
      "--checkpoint-every 1 --log-every 1 --sample-every 0 --steps 100000 --out " + run.string();
  Process p(args, d / "train.log");
  ASSERT_TRUE(wait_until([&] { return count_lines((run / "metrics.jsonl").string()) >= 2 || !p.running(); }, 300))
      << p.output();
  ASSERT_TRUE(p.running()) << p.output();
  p.signal(SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  p.signal(SIGINT);
  EXPECT_EQ(p.wait(), 128 + SIGINT) << p.output();
  EXPECT_TRUE(p.killed_by_signal()) << "the second SIGINT should end the process at once\n" << p.output();
  SafeTensors st = read_safetensors(latest.string());
  const int64_t step = std::stoll(st.meta("step"));  // the step-2 write may have been cut short
  EXPECT_GE(step, 1);
  auto res = run_dcgan(fmt::format("train --resume {} --steps {}", run.string(), step + 1));
  ASSERT_EQ(res.code, 0) << res.output;
  EXPECT_NE(res.output.find(fmt::format("at step {}", step)), std::string::npos) << res.output;
  EXPECT_EQ(read_safetensors(latest.string()).meta("step"), std::to_string(step + 1));
}

TEST(Signals, SigintBeforeTrainingStartsLosesNothing) {
  // During start-up (data loading) no handler is installed yet: the process ends at once with the
  // shell's usual 130, and there is nothing to save. A later fresh start works.
  TempDir d("sigint-early");
  const fs::path run = d.path / "run";
  Process p(kTrain + "--steps 3 --out " + run.string(), d / "train.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  p.signal(SIGINT);
  EXPECT_EQ(p.wait(), 130) << p.output();
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "latest.safetensors"));
  auto again = run_dcgan(kTrain + "--steps 3 --out " + run.string());
  EXPECT_EQ(again.code, 0) << again.output;
}

}  // namespace
}  // namespace dcgan
