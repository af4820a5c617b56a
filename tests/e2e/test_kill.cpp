// Kill test: SIGKILL `dcgan train` at random moments (during data loading, training steps and
// checkpoint writes) at least 20 times, resuming each time. After every kill the newest checkpoint
// must load (in-process and through `dcgan info`), never go backwards, and training must go on; at
// the end the weights must be byte-identical to those of a run that was never interrupted.
//
// Knobs (environment): DCGAN_KILLS (default 20), DCGAN_KILL_SEED (default 1), DCGAN_KILL_MAX_DELAY
// (seconds, default 2.5). scripts/kill_test.sh runs this test alone with those knobs.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "io/safetensors.hpp"
#include "support/checkpoints.hpp"
#include "support/cli.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::Process;
using testing::run_dcgan;
using testing::TempDir;
using testing::wait_until;

const std::string kTrain =
    "train --data fashion-mnist --batch-size 16 --seed 3 --deterministic --threads 2 --checkpoint-every 3 "
    "--keep 2 --log-every 10 --sample-every 0 ";
constexpr int64_t kFar = 1000000;  // the step limit while killing: never reached

double env_num(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atof(v) : fallback;
}

// The step of a checkpoint (-1 when absent); fails the test when it exists but does not load.
int64_t checkpoint_step(const fs::path& file) {
  if (!fs::exists(file)) return -1;
  try {
    SafeTensors st = read_safetensors(file.string());  // validates header, offsets and sizes
    return std::stoll(st.meta("step"));
  } catch (const std::exception& e) {
    ADD_FAILURE() << file << " does not load after a kill: " << e.what();
    return -1;
  }
}

// Temp files of atomic writes under `dir` (recursively), except those in `ignore` (left by earlier kills).
std::vector<std::string> temp_files(const fs::path& dir, const std::set<std::string>& ignore = {}) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(".tmp.") != std::string::npos && !ignore.count(name)) out.push_back(name);
  }
  return out;
}

TEST(Kill, RandomSigkillsNeverLoseACheckpointAndResumeIsExact) {
  const int kills = static_cast<int>(env_num("DCGAN_KILLS", 20));
  const uint64_t seed = static_cast<uint64_t>(env_num("DCGAN_KILL_SEED", 1));
  const double max_delay = env_num("DCGAN_KILL_MAX_DELAY", 2.5);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> delay(0.3, max_delay), extra(0.0, 0.5), coin(0.0, 1.0);

  TempDir d("kill");
  const fs::path run = d.path / "run", latest = run / "checkpoints" / "latest.safetensors";
  const std::string log = d / "train.log";
  int64_t last = -1;        // newest checkpoint step seen so far
  int stalled = 0;          // kills in a row without a newer checkpoint
  int killed_in_loading = 0, with_progress = 0, killed_mid_write = 0;
  std::set<std::string> seen;  // temp files already left behind
  for (int k = 0; k < kills; ++k) {
    const bool resume = fs::exists(latest);
    const std::string args = resume ? fmt::format("train --resume {} --steps {}", run.string(), kFar)
                                    : kTrain + fmt::format("--steps {} --out {}", kFar, run.string());
    Process p(args, log);
    double wait_s;
    const bool mid_write = coin(rng) < 0.4;
    if (mid_write) {
      // Aim at a checkpoint write: wait for its temp file to appear, then kill within 0-20 ms.
      ASSERT_TRUE(wait_until([&] { return !temp_files(run / "checkpoints", seen).empty() || !p.running(); }, 300, 1))
          << "no checkpoint write within 300 s\n" << p.output();
      wait_s = extra(rng) / 25;
    } else if (stalled >= 2) {
      // The machine is slow (loading took longer than the delays): make sure this attempt
      // checkpoints at least once, then kill at a random moment shortly after.
      ASSERT_TRUE(wait_until([&] { return checkpoint_step(latest) > last || !p.running(); }, 300))
          << "no new checkpoint within 300 s\n" << p.output();
      wait_s = extra(rng);
    } else {
      wait_s = delay(rng);
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
    ASSERT_TRUE(p.running()) << "dcgan train exited by itself (code " << p.wait() << ")\n" << p.output();
    p.signal(SIGKILL);
    EXPECT_EQ(p.wait(), 128 + SIGKILL);
    for (const std::string& t : temp_files(run, seen)) {  // this kill interrupted a write
      seen.insert(t);
      ++killed_mid_write;
    }

    const int64_t step = checkpoint_step(latest);
    if (step < 0) {
      ++killed_in_loading;
      EXPECT_EQ(last, -1) << "latest.safetensors disappeared after kill " << k;
    } else {
      EXPECT_GE(step, last) << "latest.safetensors went back from step " << last << " to " << step;
      auto info = run_dcgan("info " + latest.string());
      EXPECT_EQ(info.code, 0) << "dcgan info fails after kill " << k << ":\n" << info.output;
      // Every step checkpoint present is complete too.
      for (auto& e : fs::directory_iterator(run / "checkpoints"))
        if (e.path().filename().string().rfind("step_", 0) == 0 && e.path().extension() == ".safetensors")
          checkpoint_step(e.path());
    }
    stalled = step > last ? 0 : stalled + 1;
    with_progress += step > last;
    last = std::max(last, step);
  }

  // Finish: a few steps beyond the newest checkpoint (a fresh start if every kill came before the
  // first one), then the same run without interruptions.
  const int64_t final_step = std::max<int64_t>(last, 0) + 3;
  auto fin = run_dcgan(last >= 0 ? fmt::format("train --resume {} --steps {}", run.string(), final_step)
                                 : kTrain + fmt::format("--steps {} --out {}", final_step, run.string()));
  ASSERT_EQ(fin.code, 0) << fin.output;
  if (last >= 0)
    EXPECT_NE(fin.output.find(fmt::format("resumed {} at step {}", latest.string(), last)), std::string::npos)
        << fin.output;
  auto ref = run_dcgan(kTrain + fmt::format("--steps {} --out {}", final_step, (d.path / "ref").string()));
  ASSERT_EQ(ref.code, 0) << ref.output;
  testing::expect_same_checkpoint(latest, d.path / "ref" / "checkpoints" / "latest.safetensors",
                                  {"step", "epoch", "rng_state", "loader_seed", "loader_epoch", "loader_index"});

  const auto left = temp_files(run);
  std::cout << "[kill] " << kills << " SIGKILLs (seed " << seed << "): " << killed_in_loading
            << " before the first checkpoint, " << killed_mid_write << " in the middle of a write, "
            << with_progress << " followed by a newer checkpoint; final step " << final_step
            << " equals the uninterrupted run; " << left.size()
            << " temp files of interrupted writes left in the run directory\n";
  RecordProperty("killed_mid_write", killed_mid_write);
  RecordProperty("leftover_temp_files", static_cast<int>(left.size()));
}

}  // namespace
}  // namespace dcgan
