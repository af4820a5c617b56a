// Training curves (dcgan/plot/curves.hpp): metrics.jsonl read into series, drawn as four panels.
#include "dcgan/plot/curves.hpp"

#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dcgan/error.hpp"
#include "plot/chart.hpp"

namespace fs = std::filesystem;

namespace dcgan {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kMaxRuns = std::size(plot::kPalette);  // one distinct colour each
constexpr size_t kMaxNameChars = 40;

double number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNaN;
}

// "runs/a", "runs/a/" and "." (inside runs/a) all name the run "a".
std::string dir_name(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

std::string shortened(const std::string& s) {
  return s.size() <= kMaxNameChars ? s : s.substr(0, kMaxNameChars - 3) + "...";
}

using Field = double RunCurves::Step::*;

// One quantity of one run as a line.
plot::Series step_series(const RunCurves& r, Field field, plot::Rgb colour, bool dashed, CurvesX x) {
  plot::Series s;
  s.colour = colour;
  s.dashed = dashed;
  for (const RunCurves::Step& p : r.steps) {
    if (x == CurvesX::seconds && !std::isfinite(p.elapsed_s)) continue;
    s.x.push_back(x == CurvesX::seconds ? p.elapsed_s : double(p.step));
    s.y.push_back(p.*field);
  }
  return s;
}

}  // namespace

RunCurves read_run_curves(const fs::path& path, std::string name) {
  std::error_code ec;
  const bool is_dir = fs::is_directory(path, ec);
  const fs::path file = is_dir ? path / "metrics.jsonl" : path;
  std::ifstream in(file);
  if (!in) {
    const char* hint = "give run directories that dcgan train --out made (each holds metrics.jsonl), or their "
                       "metrics.jsonl files";
    if (is_dir) throw FileError(file.string(), "no such file: the directory is not a training run", hint);
    throw FileError(file.string(), fs::exists(file, ec) ? "cannot be read" : "no such file or directory", hint);
  }
  RunCurves r;
  r.name = name.empty() ? dir_name(is_dir ? path : file.parent_path()) : std::move(name);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) continue;
    const int64_t step = j["step"].get<int64_t>();
    if (j.contains("fid"))  // an evaluation (train/observers.cpp, FidEvaluatorObserver)
      r.fid.push_back({step, number(j, "fid"), number(j, "elapsed_s")});
    else if (j.contains("d_loss"))  // a logged step (MetricsLogger)
      r.steps.push_back(
          {step, number(j, "d_loss"), number(j, "g_loss"), number(j, "d_x"), number(j, "d_g_z"), number(j, "img_per_s"),
           number(j, "elapsed_s")});
  }
  if (in.bad()) throw FileError(file.string(), "read failed", "check the file and the disk");
  return r;
}

ImageU8 draw_curves(const std::vector<RunCurves>& runs, int width, int height, CurvesX xaxis) {
  using namespace plot;
  DCGAN_CHECK(!runs.empty() && runs.size() <= kMaxRuns, "[plot] {} runs: draw 1 to {} runs on one chart", runs.size(),
              kMaxRuns);
  DCGAN_CHECK(width >= 400 && width <= 8192 && height >= 300 && height <= 8192,
              "[plot] chart size {}x{}: the width must be 400 to 8192, the height 300 to 8192", width, height);
  const bool one = runs.size() == 1;
  Panel losses, outputs, speed, fid;
  losses.title = "losses";
  outputs.title = "D outputs";
  speed.title = "training speed (img/s)";
  fid.title = "FID (lower is better)";
  losses.y_min = 0;
  outputs.y_min = 0;
  outputs.y_max = 1;
  speed.y_min = 0;
  for (Panel* p : {&losses, &outputs, &speed}) p->empty_note = "no metrics logged yet";
  fid.empty_note = "no FID evaluations (dcgan train --eval-every N)";
  if (xaxis == CurvesX::seconds)
    for (Panel* p : {&losses, &outputs, &speed, &fid}) p->x_label = "training seconds";
  // One run: a colour per quantity. Several: a colour per run, D's quantities solid, G's dashed.
  auto colour = [&](size_t run, size_t quantity) { return kPalette[one ? quantity : run]; };
  for (size_t k = 0; k < runs.size(); ++k) {
    const RunCurves& r = runs[k];
    losses.series.push_back(step_series(r, &RunCurves::Step::d_loss, colour(k, 0), false, xaxis));
    losses.series.push_back(step_series(r, &RunCurves::Step::g_loss, colour(k, 1), !one, xaxis));
    outputs.series.push_back(step_series(r, &RunCurves::Step::d_x, colour(k, 2), false, xaxis));
    outputs.series.push_back(step_series(r, &RunCurves::Step::d_g_z, colour(k, 3), !one, xaxis));
    speed.series.push_back(step_series(r, &RunCurves::Step::img_per_s, colour(k, 4), false, xaxis));
    Series f;
    f.colour = colour(k, 5);
    f.markers = true;
    for (const RunCurves::Fid& e : r.fid) {
      if (xaxis == CurvesX::seconds && !std::isfinite(e.elapsed_s)) continue;
      f.x.push_back(xaxis == CurvesX::seconds ? e.elapsed_s : double(e.step));
      f.y.push_back(e.fid);
    }
    fid.series.push_back(std::move(f));
  }
  const Rgb key = kInk;  // several runs: the legend shows line styles, the header the colours
  losses.legend = {{"D loss", one ? colour(0, 0) : key}, {"G loss", one ? colour(0, 1) : key, !one}};
  outputs.legend = {{"D(x)", one ? colour(0, 2) : key}, {"D(G(z))", one ? colour(0, 3) : key, !one}};

  Canvas c(width, height, kWhite);
  const std::string against = xaxis == CurvesX::seconds ? " against training seconds" : "";
  c.text(12, 10, one ? "training curves" + against + ": " + shortened(runs[0].name)
                     : fmt::format("training curves of {} runs{}", runs.size(), against),
         kInk, 2);
  int header = 10 + Canvas::text_height(2) + 10;
  if (!one) {
    std::vector<LegendEntry> names;
    for (size_t k = 0; k < runs.size(); ++k) names.push_back({shortened(runs[k].name), kPalette[k], false, true});
    header += draw_legend_row(c, 12, header, width - 24, names);
  }
  const std::vector<Panel> panels = {losses, outputs, speed, fid};
  const Range x = x_extent(panels).value_or(Range{0, 1});
  const int pw = width / 2, ph = (height - header) / 2;
  for (int i = 0; i < 4; ++i) {
    const int x0 = (i % 2) * pw, y0 = header + (i / 2) * ph;
    draw_panel(c, {x0, y0, x0 + pw, y0 + ph}, panels[size_t(i)], x);
  }
  return c.image();
}

void write_curves_png(const std::string& path, const std::vector<RunCurves>& runs, int width, int height,
                      CurvesX x) {
  write_png(path, draw_curves(runs, width, height, x));
}

}  // namespace dcgan
