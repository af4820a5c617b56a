// `dcgan train --serve`: the live view of a running job. Its metrics are the run's own (equal to
// metrics.jsonl at the same steps), its grid is a PNG of the fixed noise, bad requests get their
// 4xx, Ctrl-C still ends the run with a checkpoint and 130, and a port that is taken stops the run
// before any training.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "dcgan/io/image.hpp"
#include "support/serve.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::Process;
using testing::run_dcgan;
using testing::TempDir;
using testing::wait_until;

const std::regex kLiveLine(R"(live view: http://127\.0\.0\.1:(\d+)/)");

nlohmann::json get_json(httplib::Client& c, const std::string& path) {
  auto r = c.Get(path);
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

TEST(ServeLive, ShowsTheRunningJobsMetricsAndGrid) {
  std::signal(SIGPIPE, SIG_IGN);
  TempDir d("serve-live");
  const fs::path run = d.path / "run";
  Process p(testing::tiny_train_args(d) + "--steps 1000000 --log-every 1 --checkpoint-every 1000000 --serve "
                                          "--serve-port 0 --out " + run.string(),
            d / "train.log");
  const int port = testing::wait_for_port(p, kLiveLine);
  ASSERT_GT(port, 0) << p.output();
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);

  // Running: the step advances and a grid exists.
  nlohmann::json st;
  ASSERT_TRUE(wait_until([&] {
    st = get_json(c, "/api/status");
    return st.is_object() && st["step"].get<int64_t>() >= 20 && st["grid_step"].get<int64_t>() >= 1;
  }, 60)) << p.output();
  EXPECT_EQ(st["run"]["name"], "run");
  EXPECT_EQ(st["run"]["model"]["img_size"], 16);
  EXPECT_FALSE(st["finished"].get<bool>());

  auto grid = c.Get(fmt::format("/api/grid.png?step={}", st["grid_step"].get<int64_t>()));
  ASSERT_TRUE(grid);
  ASSERT_EQ(grid->status, 200) << grid->body;
  EXPECT_EQ(grid->get_header_value("Content-Type"), "image/png");
  const DecodedImage g = decode_image_memory(reinterpret_cast<const uint8_t*>(grid->body.data()), grid->body.size(),
                                             "grid.png");
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.w, g.h) << "the fixed noise in a square grid";
  EXPECT_EQ((g.w - 2) % (16 + 2), 0) << "16 px images with make_grid's 2 px padding, width " << g.w;

  // Every point is the run's own: equal to metrics.jsonl (logged every step) at the same step.
  nlohmann::json m = get_json(c, "/api/metrics?since=0");
  ASSERT_TRUE(m.is_object());
  const auto& pts = m["points"];
  ASSERT_GE(pts.size(), 20u);
  std::map<int64_t, nlohmann::json> logged;
  {
    std::ifstream f(run / "metrics.jsonl");
    for (std::string line; std::getline(f, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("g_loss")) logged[j["step"].get<int64_t>()] = j;
    }
  }
  int64_t prev = 0, compared = 0;
  for (const auto& pt : pts) {
    const int64_t step = pt[0].get<int64_t>();
    EXPECT_GT(step, prev) << "steps increase";
    prev = step;
    if (!logged.count(step)) continue;
    const auto& j = logged[step];
    EXPECT_EQ(pt[1].get<double>(), j["d_loss"].get<double>()) << "step " << step;
    EXPECT_EQ(pt[2].get<double>(), j["g_loss"].get<double>()) << "step " << step;
    EXPECT_EQ(pt[3].get<double>(), j["d_x"].get<double>()) << "step " << step;
    EXPECT_EQ(pt[4].get<double>(), j["d_g_z"].get<double>()) << "step " << step;
    ++compared;
  }
  EXPECT_GE(compared, 10) << "points also in metrics.jsonl";
  // `since` returns only later points.
  nlohmann::json later = get_json(c, fmt::format("/api/metrics?since={}", prev));
  ASSERT_TRUE(later.is_object());
  for (const auto& pt : later["points"]) EXPECT_GT(pt[0].get<int64_t>(), prev);

  // The page, and refusals.
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<canvas"), std::string::npos);
  for (const auto& [target, status] : std::vector<std::pair<std::string, int>>{
           {"/api/metrics?since=-1", 400}, {"/api/metrics?since=x", 400}, {"/api/metrics?file=/etc/passwd", 400},
           {"/api/status?x=1", 400}, {"/api/grid.png?step=abc", 400}, {"/api/sample?seed=1", 404}, {"/nope", 404}}) {
    auto r = c.Get(target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, status) << target << ": " << r->body;
    EXPECT_FALSE(r->body.empty()) << target;
  }
  auto post = c.Post("/api/status", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);

  // Ctrl-C: the run stops as it always does, with its checkpoint, and the view goes with it.
  p.signal(SIGINT);
  EXPECT_EQ(p.wait(), 130) << p.output();
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "latest.safetensors"));
  EXPECT_FALSE(c.Get("/api/status")) << "the view stops with the run";
}

TEST(ServeLive, ATakenPortStopsTheRunBeforeTraining) {
  TempDir d("serve-live-taken");
  httplib::Server blocker;
  const int port = blocker.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  auto r = run_dcgan(testing::tiny_train_args(d) + fmt::format("--steps 5 --serve --serve-port {} --out {}", port,
                                                               d / "run"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(fmt::format("cannot listen on 127.0.0.1:{}", port)), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(d.path / "run" / "checkpoints" / "latest.safetensors")) << "no training happened";
}

TEST(ServeLive, ServePortNeedsServe) {
  TempDir d("serve-live-needs");
  auto r = run_dcgan(testing::tiny_train_args(d) + "--steps 1 --serve-port 0 --out " + d / "run");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--serve"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dcgan
