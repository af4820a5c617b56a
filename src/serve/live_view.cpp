#include "serve/live_view.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dcgan/io/image.hpp"
#include "serve/live_page.hpp"
#include "serve/page_frame.hpp"
#include "serve/query.hpp"

namespace dcgan::serve {

namespace {

using Clock = std::chrono::steady_clock;

// Loss curves are kept at most this long: when full, every other point goes and only every
// second step is recorded from then on, so a long run keeps its whole curve at bounded memory.
constexpr size_t kMaxPoints = 4096;

struct Point {
  int64_t step;
  StepStats stats;
};

// What the page can see, shared between the training thread (writer) and HTTP threads (readers).
struct Shared {
  std::mutex mutex;
  nlohmann::json run;  // fixed facts of the run
  StepReport latest;   // of the last step
  bool finished = false;
  std::vector<Point> points;
  int64_t stride = 1;  // steps between recorded points
  std::string grid_png;
  int64_t grid_step = -1;
};

nlohmann::json to_json(float v) {
  return std::isfinite(v) ? nlohmann::json(double(v)) : nlohmann::json(nullptr);  // JSON has no NaN
}

Reply handle(Shared& s, const std::string& path, const Params& params) {
  Query q(params);
  if (path == "/" || path == "/index.html") {
    q.check_names({});
    return {200, "text/html; charset=utf-8", html_page(kLiveTitle, kLiveStyle, kLiveBody)};
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  if (path == "/api/status") {
    q.check_names({});
    const StepReport& r = s.latest;
    nlohmann::json j = {{"run", s.run},          {"step", r.step},          {"epoch", r.epoch},
                        {"target_steps", r.target_steps}, {"img_per_s", r.img_per_s}, {"elapsed_s", r.elapsed_s},
                        {"finished", s.finished}, {"grid_step", s.grid_step}};
    return {200, "application/json", j.dump()};
  }
  if (path == "/api/metrics") {
    // Points after step `since` (0: all): [step, d_loss, g_loss, d_real, d_fake] each.
    q.check_names({"since"});
    const int64_t since = q.integer("since", 0, INT64_MAX, 0);
    nlohmann::json pts = nlohmann::json::array();
    auto it = std::upper_bound(s.points.begin(), s.points.end(), since,
                               [](int64_t v, const Point& p) { return v < p.step; });
    for (; it != s.points.end(); ++it)
      pts.push_back({it->step, to_json(it->stats.d_loss), to_json(it->stats.g_loss), to_json(it->stats.d_real),
                     to_json(it->stats.d_fake)});
    return {200, "application/json", nlohmann::json{{"points", pts}, {"stride", s.stride}}.dump()};
  }
  if (path == "/api/grid.png") {
    q.check_names({"step"});  // the page adds the grid's step so that a new grid is a new URL
    q.integer("step", -1, INT64_MAX, 0);
    if (s.grid_png.empty()) throw BadRequest("no grid yet: the first is made after the first step", 404);
    return {200, "image/png", s.grid_png};
  }
  throw BadRequest("no such page; the live view serves /, /api/status, /api/metrics, /api/grid.png "
                   "(docs/serving.md)", 404);
}

class LiveView : public TrainingObserver {
 public:
  explicit LiveView(const ServerOptions& options) : options_(options) {}

  void on_start(TrainingRun& run) override {
    const TrainConfig& c = run.config();
    {
      std::lock_guard<std::mutex> lock(shared_.mutex);
      shared_.run = {{"name", run.dir().filename().string()},
                     {"model", {{"arch", c.model.arch}, {"img_size", c.model.img_size},
                                {"channels", c.model.channels}, {"latent_dim", c.model.latent_dim}}},
                     {"batch_size", c.batch_size},
                     {"resumed_from_step", run.resumed_from_step()}};
    }
    server_ = std::make_unique<HttpServer>(
        [this](const std::string& path, const Params& params) { return handle(shared_, path, params); }, options_);
    server_->start();
    fmt::print(stderr, "live view: {} (read-only; stops with the run)\n", server_->url());
    std::fflush(stderr);
  }

  void on_step(TrainingRun& run, const StepReport& r) override {
    {
      std::lock_guard<std::mutex> lock(shared_.mutex);
      shared_.latest = r;
      shared_.finished = r.last;
      if (r.step % shared_.stride == 0 || r.last) {
        if (shared_.points.size() >= kMaxPoints) thin();
        shared_.points.push_back({r.step, r.stats});
      }
    }
    // A new grid when the last one is old enough: at least every 2 s, and at most 5 % of the
    // training time spent on it (a 64-image grid of a large model takes a while).
    const auto now = Clock::now();
    if (r.last || !last_grid_ || now - *last_grid_ >= std::max(kGridInterval, 20 * grid_cost_)) update_grid(run, r.step);
  }

  void on_end(TrainingRun&, const StepReport&, int) override {
    std::lock_guard<std::mutex> lock(shared_.mutex);
    shared_.finished = true;
  }

 private:
  static constexpr std::chrono::milliseconds kGridInterval{2000};

  void thin() {  // called with the mutex held
    std::vector<Point> kept;
    shared_.stride *= 2;
    for (const Point& p : shared_.points)
      if (p.step % shared_.stride == 0) kept.push_back(p);
    shared_.points = std::move(kept);
  }

  // On the training thread, outside the mutex: generating and encoding take the time.
  void update_grid(TrainingRun& run, int64_t step) {
    const auto t0 = Clock::now();
    const Tensor& img = run.generate(run.fixed_noise());
    const int nrow = std::max(1, int(std::lround(std::sqrt(double(img.dim(0))))));
    const std::vector<uint8_t> png = encode_png(make_grid(img, nrow));
    last_grid_ = Clock::now();
    grid_cost_ = std::chrono::duration_cast<std::chrono::milliseconds>(*last_grid_ - t0);
    std::lock_guard<std::mutex> lock(shared_.mutex);
    shared_.grid_png.assign(png.begin(), png.end());
    shared_.grid_step = step;
  }

  ServerOptions options_;
  Shared shared_;
  std::unique_ptr<HttpServer> server_;  // after shared_: stopped before shared_ is destroyed
  std::optional<Clock::time_point> last_grid_;
  std::chrono::milliseconds grid_cost_{0};
};

}  // namespace

std::unique_ptr<TrainingObserver> make_live_view(const ServerOptions& options) {
  return std::make_unique<LiveView>(options);
}

}  // namespace dcgan::serve
