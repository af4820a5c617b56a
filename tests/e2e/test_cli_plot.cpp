// End-to-end: the training curves every run writes (samples/curves.png, refreshed as training
// goes) and `dcgan plot`, which draws several runs on one chart; its refusals name what is wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "dcgan/io/image.hpp"
#include "dcgan/plot/curves.hpp"
#include "support/cli.hpp"
#include "support/tiny_run.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::CmdResult;
using testing::run_dcgan;
using testing::slurp;
using testing::TempDir;

bool has(const CmdResult& r, const std::string& s) { return r.output.find(s) != std::string::npos; }

std::string train(const std::string& data, const std::string& out, int steps, int seed) {
  return fmt::format("train --data {} --img-size 16 --channels 1 --batch-size 4 --steps {} --seed {} --log-every 1 "
                     "--sample-every 3 --threads 2 --quiet --out {}",
                     data, steps, seed, out);
}

// How many distinct hues (twelve 30-degree sectors) the strongly coloured pixels of an RGB image
// take, counting a sector only when at least 20 pixels fall in it: gray text and axes count for
// nothing, each curve's colour for one.
int colour_count(const DecodedImage& img) {
  std::array<int, 12> sectors{};
  for (size_t i = 0; i + 2 < img.pixels.size(); i += size_t(img.channels)) {
    const int r = img.pixels[i], g = img.pixels[i + 1], b = img.pixels[i + 2];
    const int mx = std::max({r, g, b}), mn = std::min({r, g, b}), c = mx - mn;
    if (c < 100) continue;
    double h = mx == r ? std::fmod(double(g - b) / c + 6, 6) : mx == g ? double(b - r) / c + 2 : double(r - g) / c + 4;
    sectors[size_t(h * 2) % 12]++;
  }
  return int(std::count_if(sectors.begin(), sectors.end(), [](int n) { return n >= 20; }));
}

TEST(CurvesObserver, EveryRunDrawsItsCurvesBesideItsSamplesAndRefreshesThem) {
  TempDir d("curves-run");
  const std::string data = testing::write_random_images(d, 1, 16), run = d / "run";
  auto r = run_dcgan(train(data, run, 6, 1));
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path curves = fs::path(run) / "samples" / "curves.png";
  ASSERT_TRUE(fs::exists(curves));
  const DecodedImage img = decode_image_file(curves.string());
  EXPECT_EQ(img.w, kCurvesWidth);
  EXPECT_EQ(img.h, kCurvesHeight);
  EXPECT_EQ(img.channels, 3);
  // D and G losses, D(x), D(G(z)), img/s: at least four colours besides the ink.
  EXPECT_GE(colour_count(img), 4);

  // Training goes on (a resume): the picture is redrawn with the new steps, atomically.
  const std::string before = slurp(curves);
  r = run_dcgan(fmt::format("train --resume {} --steps 10", run));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(slurp(curves), before);
  EXPECT_EQ(decode_image_file(curves.string()).w, kCurvesWidth);
  for (auto& e : fs::directory_iterator(fs::path(run) / "samples"))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}

TEST(CliPlot, TwoRunsOnOneChartAndRefusalsNameThePath) {
  TempDir d("plot");
  const std::string data = testing::write_random_images(d, 1, 16), a = d / "run-a", b = d / "run-b";
  ASSERT_EQ(run_dcgan(train(data, a, 4, 1)).code, 0);
  ASSERT_EQ(run_dcgan(train(data, b, 6, 2)).code, 0);

  auto r = run_dcgan(fmt::format("plot {} {} --out {}", a, b, d / "cmp.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  DecodedImage img = decode_image_file(d / "cmp.png");
  EXPECT_EQ(img.w, kCurvesWidth);
  EXPECT_EQ(img.h, kCurvesHeight);
  EXPECT_GE(colour_count(img), 2) << "a colour per run";
  // A run's metrics.jsonl is as good as its directory; the size is the one asked for.
  r = run_dcgan(fmt::format("plot {}/metrics.jsonl {} --width 800 --height 600 --out {}", a, b, d / "small.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  img = decode_image_file(d / "small.png");
  EXPECT_EQ(img.w, 800);
  EXPECT_EQ(img.h, 600);

  // Against seconds (elapsed_s) instead of steps: the same runs, another chart; an unknown axis
  // is refused by name.
  r = run_dcgan(fmt::format("plot {} {} --x seconds --out {}", a, b, d / "sec.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  DecodedImage sec = decode_image_file(d / "sec.png");
  EXPECT_EQ(sec.w, kCurvesWidth);
  EXPECT_NE(slurp(d.path / "sec.png"), slurp(d.path / "cmp.png")) << "--x seconds drew the step chart";
  r = run_dcgan(fmt::format("plot {} --x hours --out {}", a, d / "h.png"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "--x")) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "h.png"));

  // A directory that is not a run: refused by the path of the missing file, nothing written.
  fs::create_directories(d.path / "not-a-run");
  r = run_dcgan(fmt::format("plot {} {} --out {}", a, d / "not-a-run", d / "x.png"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, (d.path / "not-a-run" / "metrics.jsonl").string())) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "x.png"));
  // An --out that cannot be written (below a regular file): refused by name, cmp.png untouched.
  const std::string kept = slurp(d.path / "cmp.png");
  r = run_dcgan(fmt::format("plot {} --out {}", a, d / "cmp.png/inside.png"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "cmp.png/inside.png")) << r.output;
  EXPECT_EQ(slurp(d.path / "cmp.png"), kept);
  // Misuse of the command line exits 2, naming the option.
  r = run_dcgan(fmt::format("plot {} --width 10 --out {}", a, d / "y.png"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "--width")) << r.output;
  r = run_dcgan("plot --out " + d / "y.png");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "y.png"));
}

}  // namespace
}  // namespace dcgan
