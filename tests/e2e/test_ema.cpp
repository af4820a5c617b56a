// End-to-end: `dcgan train --ema D` keeps a moving average of the generator. Checked from the
// files a run writes, against the documented rule (train/gan_step.hpp), not against our own
// output: step k's generator.* must equal step k-1's generator.* moved towards step k's
// generator_raw.* (the trained G) by 1 - min(D, (1 + k) / (10 + k)); BatchNorm counters copied.
// Also: resume continues the average exactly, samplers read the average, and the format
// version says the file holds one.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/rng.hpp"
#include "dcgan/io/npy.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "models/checkpoint_io.hpp"
#include "support/cli.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::run_dcgan;
using testing::TempDir;

// 64 gray 16x16 images in [0, 1] as a .npy.
std::string gray_images(const fs::path& path) {
  Tensor t({64, 16, 16});
  Rng rng(3);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = float(rng.uniform());
  write_npy(path.string(), t);
  return path.string();
}

const std::string kRun = "train --img-size 16 --batch-size 8 --threads 2 --quiet --ngf 4 --ndf 4 --latent-dim 8 "
                         "--deterministic --sample-every 0 ";

fs::path step_file(const fs::path& run, int step) {
  return run / "checkpoints" / fmt::format("step_{:07d}.safetensors", step);
}

// The generator tensors of a checkpoint under `prefix`, by their name after it.
std::map<std::string, Tensor> net_of(const SafeTensors& st, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : st.tensors)
    if (name.rfind(prefix, 0) == 0 && !name.ends_with("num_batches_tracked")) out[name.substr(prefix.size())] = st.get(name);
  return out;
}

TEST(Ema, TheGeneratorIsTheMovingAverageOfTheTrainedWeights) {
  TempDir d("ema-rule");
  const std::string data = gray_images(d.path / "g.npy");
  const double decay = 0.5;  // the warm-up min((1+k)/(10+k)) is below 0.5 until k = 8, above after
  const fs::path run = d.path / "run";
  auto r = run_dcgan(kRun + fmt::format("--data {} --ema {} --steps 12 --checkpoint-every 1 --keep 100 --out {}",
                                        data, decay, run.string()));
  ASSERT_EQ(r.code, 0) << r.output;

  int checked = 0;
  double moved = 0;  // how far the average is from the trained G (it must not simply copy it)
  for (int k = 2; k <= 12; ++k) {
    SCOPED_TRACE(k);
    const SafeTensors prev = read_safetensors(step_file(run, k - 1).string());
    const SafeTensors cur = read_safetensors(step_file(run, k).string());
    EXPECT_EQ(cur.meta("format_version"), "2");
    const auto e_prev = net_of(prev, "generator."), e = net_of(cur, "generator."), g = net_of(cur, kRawGeneratorPrefix);
    ASSERT_EQ(e.size(), g.size());
    ASSERT_FALSE(e.empty());
    const double a = 1.0 - std::min(decay, (1.0 + k) / (10.0 + k));
    for (const auto& [name, ek] : e) {
      const Tensor& gk = g.at(name);
      const Tensor& ep = e_prev.at(name);
      for (int64_t i = 0; i < ek.numel(); ++i) {
        const double want = ep[i] + a * (double(gk[i]) - ep[i]);
        ASSERT_NEAR(ek[i], want, 1e-6 * (1 + std::abs(want))) << name << "[" << i << "]";
        moved = std::max(moved, std::abs(double(ek[i]) - gk[i]));
        ++checked;
      }
    }
    // BatchNorm's counters are the trained G's.
    for (const auto& [name, t] : cur.tensors)
      if (name.rfind("generator.", 0) == 0 && name.ends_with("num_batches_tracked"))
        EXPECT_EQ(cur.get_i64(name), cur.get_i64(kRawGeneratorPrefix + name.substr(10))) << name;
  }
  EXPECT_GT(checked, 1000);
  EXPECT_GT(moved, 1e-4) << "the average equals the trained weights: no averaging happened";
}

TEST(Ema, ResumeContinuesTheAverageExactly) {
  TempDir d("ema-resume");
  const std::string data = gray_images(d.path / "g.npy");
  const fs::path straight = d.path / "straight", split = d.path / "split";
  ASSERT_EQ(run_dcgan(kRun + fmt::format("--data {} --ema 0.9 --steps 6 --out {}", data, straight.string())).code, 0);
  ASSERT_EQ(run_dcgan(kRun + fmt::format("--data {} --ema 0.9 --steps 3 --out {}", data, split.string())).code, 0);
  auto r = run_dcgan(fmt::format("train --resume {} --steps 6 --quiet", split.string()));
  ASSERT_EQ(r.code, 0) << r.output;
  const SafeTensors a = read_safetensors((straight / "checkpoints/latest.safetensors").string());
  const SafeTensors b = read_safetensors((split / "checkpoints/latest.safetensors").string());
  int compared = 0;
  for (const std::string prefix : {"generator.", "generator_raw."})
    for (const auto& [name, t] : net_of(a, prefix)) {
      const Tensor u = net_of(b, prefix).at(name);
      ASSERT_EQ(t.numel(), u.numel());
      for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t[i], u[i]) << prefix << name << "[" << i << "]";
      ++compared;
    }
  EXPECT_GT(compared, 10);
}

TEST(Ema, SamplersUseTheAverageAndOlderVersionsAreNotFooled) {
  TempDir d("ema-sample");
  const std::string data = gray_images(d.path / "g.npy");
  const fs::path run = d.path / "run";
  ASSERT_EQ(run_dcgan(kRun + fmt::format("--data {} --ema 0.9 --steps 5 --out {}", data, run.string())).code, 0);
  const fs::path ckpt = run / "checkpoints/latest.safetensors";
  // The same file with the trained G as generator.*: what a sampler would give without the average.
  SafeTensors st = read_safetensors(ckpt.string());
  for (const auto& [name, t] : net_of(st, kRawGeneratorPrefix)) st.put("generator." + name, t);
  write_safetensors_atomic((d.path / "raw.safetensors").string(), st);
  Tensor z({4, 8});
  Rng rng(9);
  for (int64_t i = 0; i < z.numel(); ++i) z[i] = rng.normal();
  write_npy((d.path / "z.npy").string(), z);
  for (const char* which : {"avg", "raw"}) {
    const fs::path src = std::string(which) == "avg" ? ckpt : d.path / "raw.safetensors";
    auto r = run_dcgan(fmt::format("sample --checkpoint {} --latents {} --npy {}", src.string(),
                                   (d.path / "z.npy").string(), (d.path / (std::string(which) + ".npy")).string()));
    ASSERT_EQ(r.code, 0) << r.output;
  }
  const Tensor avg = read_npy((d.path / "avg.npy").string()), raw = read_npy((d.path / "raw.npy").string());
  ASSERT_EQ(avg.numel(), raw.numel());
  double diff = 0;
  for (int64_t i = 0; i < avg.numel(); ++i) diff = std::max(diff, double(std::abs(avg[i] - raw[i])));
  EXPECT_GT(diff, 1e-4) << "sample gave the trained G's images, not the average's";

  // A run without --ema writes format version 1 (readable by the previous release); with it, 2.
  const fs::path plain = d.path / "plain";
  ASSERT_EQ(run_dcgan(kRun + fmt::format("--data {} --steps 2 --out {}", data, plain.string())).code, 0);
  const SafeTensors p = read_safetensors((plain / "checkpoints/latest.safetensors").string());
  EXPECT_EQ(p.meta("format_version"), "1");
  EXPECT_TRUE(net_of(p, kRawGeneratorPrefix).empty());
  EXPECT_EQ(read_safetensors_header(ckpt.string()).meta("format_version"), "2");
}

}  // namespace
}  // namespace dcgan
