// The training-curve drawing (src/plot/): axis ticks, metrics.jsonl reading, the canvas, and the
// chart as a whole (size, colours, what the FID panel shows).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "dcgan/error.hpp"
#include "dcgan/plot/curves.hpp"
#include "plot/canvas.hpp"
#include "plot/chart.hpp"
#include "support/cli.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::TempDir;

TEST(Plot, TicksAreRoundAndCoverTheRange) {
  const double ranges[][2] = {{0, 1}, {0.013, 0.92}, {1, 3000}, {-2.5, 7.1}, {5, 5}, {0, 0}, {12345, 98765}, {1e-4, 3e-4}};
  for (const auto& r : ranges) {
    for (int max_ticks : {2, 5, 8}) {
      SCOPED_TRACE(::testing::Message() << r[0] << ".." << r[1] << " max " << max_ticks);
      const plot::Ticks t = plot::nice_ticks(r[0], r[1], max_ticks);
      ASSERT_GE(t.values.size(), 2u);
      EXPECT_LE(t.values.front(), r[0]);
      EXPECT_GE(t.values.back(), r[1]);
      EXPECT_LE(t.values.size(), size_t(max_ticks) + 2);
      // The step is 1, 2, 2.5 or 5 times a power of ten; every tick a multiple of it.
      const double mantissa = t.step / std::pow(10.0, std::floor(std::log10(t.step)));
      EXPECT_TRUE(std::set<double>({1, 2, 2.5, 5}).count(std::round(mantissa * 1000) / 1000)) << mantissa;
      for (double v : t.values) EXPECT_NEAR(v / t.step, std::round(v / t.step), 1e-6);
    }
  }
}

TEST(Plot, TickLabelsHaveTheDecimalsTheStepNeeds) {
  EXPECT_EQ(plot::tick_label(0.5, 0.25), "0.5");
  EXPECT_EQ(plot::tick_label(0.75, 0.25), "0.75");
  EXPECT_EQ(plot::tick_label(3, 1), "3");
  EXPECT_EQ(plot::tick_label(2000, 1000), "2k");
  EXPECT_EQ(plot::tick_label(2500, 2500), "2.5k");
  EXPECT_EQ(plot::tick_label(1500, 500), "1500");
  EXPECT_EQ(plot::tick_label(3e6, 1e6), "3M");
  EXPECT_EQ(plot::tick_label(-1e-17, 0.1), "0");
}

TEST(Plot, MetricsAreReadAsTrainingWritesThem) {
  TempDir d("plot-read");
  fs::create_directories(d.path / "myrun");
  {
    std::ofstream f(d.path / "myrun" / "metrics.jsonl");
    f << R"({"step":10,"epoch":0,"d_loss":1.2,"g_loss":0.7,"d_x":0.5,"d_g_z":0.4,"img_per_s":100.5,"elapsed_s":1})"
      << "\n\n"
      << R"({"step":20,"epoch":0,"d_loss":null,"g_loss":0.8,"d_x":0.6,"d_g_z":0.3,"img_per_s":110,"elapsed_s":2})" << "\n"
      << R"({"step":20,"epoch":0,"fid":85.5,"fid_samples":500,"eval_seconds":1.5,"best":true})" << "\n"
      << R"({"step":30,"epoch":0,"d_loss":1.0,"g_lo)";  // cut by a kill mid-write
  }
  const RunCurves r = read_run_curves(d.path / "myrun");
  EXPECT_EQ(r.name, "myrun");
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].step, 10);
  EXPECT_DOUBLE_EQ(r.steps[0].img_per_s, 100.5);
  EXPECT_TRUE(std::isnan(r.steps[1].d_loss)) << "null, as nlohmann writes a NaN loss";
  EXPECT_DOUBLE_EQ(r.steps[1].g_loss, 0.8);
  ASSERT_EQ(r.fid.size(), 1u);
  EXPECT_EQ(r.fid[0].step, 20);
  EXPECT_DOUBLE_EQ(r.fid[0].fid, 85.5);
  // The file itself, and a name given.
  EXPECT_EQ(read_run_curves(d.path / "myrun" / "metrics.jsonl").name, "myrun");
  EXPECT_EQ(read_run_curves(d.path / "myrun", "baseline").name, "baseline");
  // A directory that is not a run: the error names the file it looked for.
  fs::create_directories(d.path / "empty");
  try {
    read_run_curves(d.path / "empty");
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), (d.path / "empty" / "metrics.jsonl").string());
  }
}

TEST(Plot, CanvasDrawsLinesAndTextInTheirPlace) {
  plot::Canvas c(60, 40, plot::kWhite);
  c.line(5, 10.5, 55, 10.5, {255, 0, 0}, 2);
  const ImageU8& img = c.image();
  auto px = [&](int x, int y) { return &img.pixels[size_t(y * img.w + x) * 3]; };
  EXPECT_EQ(px(30, 10)[0], 255);
  EXPECT_LT(px(30, 10)[1], 10) << "on the line: red";
  EXPECT_EQ(px(30, 20)[1], 255) << "away from it: white";
  EXPECT_EQ(px(2, 10)[1], 255) << "before its start: white";
  // Text: ink only inside its box.
  const int w = plot::Canvas::text_width("FID 12");
  ASSERT_GT(w, 10);
  c.text(4, 20, "FID 12", {0, 0, 0});
  int inside = 0, outside = 0;
  for (int y = 15; y < 40; ++y)
    for (int x = 0; x < 60; ++x) {
      const bool dark = px(x, y)[0] < 128;
      (x >= 4 && x < 4 + w && y >= 20 && y < 20 + plot::Canvas::text_height() ? inside : outside) += dark;
    }
  EXPECT_GT(inside, 20);
  EXPECT_EQ(outside, 0);
  c.text(0, 0, "\x01\xff", {0, 0, 0});  // not ASCII: drawn as '?', never out of the font's tables
}

// Every character of a string is drawn whole, however many strokes the ones before it took.
TEST(Plot, TextDrawsEveryCharacterWhole) {
  auto ink = [](const std::string& s) {
    plot::Canvas c(400, 20, plot::kWhite);
    c.text(2, 2, s, {0, 0, 0});
    int64_t n = 0;
    for (uint8_t v : c.image().pixels) n += v == 0;
    return n;
  };
  for (const char* glyph : {"8", "0", "5", "@", "W", "m"}) {
    SCOPED_TRACE(glyph);
    const std::string one(glyph);
    ASSERT_GT(ink(one), 0);
    EXPECT_EQ(ink(one + one + one + one + one + one), 6 * ink(one));
  }
}

RunCurves synthetic(const std::string& name, int n, double phase, bool fid) {
  RunCurves r;
  r.name = name;
  for (int i = 1; i <= n; ++i) {
    const double t = i / double(n);
    r.steps.push_back({i * 50, 1.0 + 0.3 * std::sin(9 * t + phase), 2.0 - t, 0.7 - 0.2 * t, 0.3 + 0.1 * t, 5000 + 100 * t});
  }
  if (fid)
    for (int i = 1; i <= 4; ++i) r.fid.push_back({i * n * 50 / 4, 120.0 / i});
  return r;
}

int64_t differing_pixels(const ImageU8& a, const ImageU8& b) {
  int64_t n = 0;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i) n += a.pixels[i] != b.pixels[i];
  return n;
}

TEST(Plot, ChartsHaveTheirSizeAndShowWhatTheRunsLogged) {
  const ImageU8 one = draw_curves({synthetic("a", 200, 0, false)});
  EXPECT_EQ(one.w, kCurvesWidth);
  EXPECT_EQ(one.h, kCurvesHeight);
  EXPECT_EQ(one.channels, 3);
  std::set<uint32_t> colours;
  for (size_t i = 0; i < one.pixels.size(); i += 3)
    colours.insert(uint32_t(one.pixels[i]) << 16 | uint32_t(one.pixels[i + 1]) << 8 | one.pixels[i + 2]);
  EXPECT_GT(colours.size(), 20u) << "lines in colours, anti-aliased";
  // The FID panel shows evaluations when there are some; other data, other pictures.
  EXPECT_GT(differing_pixels(one, draw_curves({synthetic("a", 200, 0, true)})), 100);
  EXPECT_GT(differing_pixels(one, draw_curves({synthetic("a", 200, 1.5, false)})), 100);
  const ImageU8 two = draw_curves({synthetic("a", 200, 0, true), synthetic("b", 120, 1, false)}, 640, 480);
  EXPECT_EQ(two.w, 640);
  EXPECT_EQ(two.h, 480);
  // A run with nothing logged yet still draws (its panels say so).
  EXPECT_EQ(draw_curves({RunCurves{"new", {}, {}}}).w, kCurvesWidth);
  std::vector<RunCurves> eleven(11, synthetic("x", 10, 0, false));
  EXPECT_THROW(draw_curves(eleven), Error);
  EXPECT_THROW(draw_curves({}), Error);
  EXPECT_THROW(draw_curves({synthetic("a", 10, 0, false)}, 100, 100), Error);
}

}  // namespace
}  // namespace dcgan
