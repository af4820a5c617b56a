#include "plot/chart.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace dcgan::plot {

namespace {

constexpr double kDashOn = 7, kDashOff = 5;  // pixels
constexpr Rgb kLegendBorder{190, 190, 190}, kNote{120, 120, 120};

bool finite(double a, double b) { return std::isfinite(a) && std::isfinite(b); }

// Data -> pixel coordinates of a plot rectangle (pixel centres of its first and last columns).
struct Mapping {
  Rect plot;
  Range x, y;
  double px(double v) const { return plot.x0 + 0.5 + (v - x.lo) / (x.hi - x.lo) * (plot.w() - 1); }
  double py(double v) const { return plot.y1 - 0.5 - (v - y.lo) / (y.hi - y.lo) * (plot.h() - 1); }
};

// Widens `r` to the x (or y) values of the series' points where both x and y are finite.
void extend(std::optional<Range>& r, const std::vector<Series>& series, std::vector<double> Series::*axis) {
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (finite(s.x[i], s.y[i])) {
        const double v = (s.*axis)[i];
        if (!r) r = Range{v, v};
        r->lo = std::min(r->lo, v);
        r->hi = std::max(r->hi, v);
      }
}

// A line through the series' points in order, broken where a point is not finite; dashes run
// on across the points, so a dashed curve of many short segments still shows dashes.
void draw_series(Canvas& c, const Mapping& m, const Series& s) {
  double phase = 0;
  for (size_t i = 1; i < s.x.size() && i < s.y.size(); ++i) {
    if (!finite(s.x[i - 1], s.y[i - 1]) || !finite(s.x[i], s.y[i])) continue;
    const double x0 = m.px(s.x[i - 1]), y0 = m.py(s.y[i - 1]), x1 = m.px(s.x[i]), y1 = m.py(s.y[i]);
    if (!s.dashed) {
      c.line(x0, y0, x1, y1, s.colour);
      continue;
    }
    const double len = std::hypot(x1 - x0, y1 - y0);
    for (double t = 0; t < len;) {
      const double at = std::fmod(phase, kDashOn + kDashOff);
      const bool on = at < kDashOn;
      const double t1 = std::min(len, t + (on ? kDashOn - at : kDashOn + kDashOff - at));
      if (on) c.line(x0 + (x1 - x0) * t / len, y0 + (y1 - y0) * t / len, x0 + (x1 - x0) * t1 / len,
                     y0 + (y1 - y0) * t1 / len, s.colour);
      phase += t1 - t;
      t = t1;
    }
  }
  if (s.markers)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (finite(s.x[i], s.y[i])) {
        const int cx = int(std::floor(m.px(s.x[i]))), cy = int(std::floor(m.py(s.y[i])));
        c.fill({cx - 2, cy - 2, cx + 3, cy + 3}, s.colour);
      }
}

// A legend entry's sample: a short line (solid or dashed) or a square.
void draw_swatch(Canvas& c, int x, int cy, const LegendEntry& e) {
  if (e.marker) {
    c.fill({x + 4, cy - 5, x + 14, cy + 5}, e.colour);
  } else if (e.dashed) {
    c.line(x, cy + 0.5, x + 7, cy + 0.5, e.colour, 2);
    c.line(x + 11, cy + 0.5, x + 18, cy + 0.5, e.colour, 2);
  } else {
    c.line(x, cy + 0.5, x + 18, cy + 0.5, e.colour, 2);
  }
}

constexpr int kLegendLine = 14;

// The legend box in the corner of the plot area that covers the fewest points.
void draw_legend(Canvas& c, const Mapping& m, const Panel& p) {
  if (p.legend.empty()) return;
  int w = 0;
  for (const LegendEntry& e : p.legend) w = std::max(w, Canvas::text_width(e.label));
  w += 36;
  const int h = int(p.legend.size()) * kLegendLine + 8;
  const Rect& r = m.plot;
  const std::array<Rect, 4> corners = {Rect{r.x1 - w - 6, r.y0 + 6, r.x1 - 6, r.y0 + 6 + h},
                                       Rect{r.x1 - w - 6, r.y1 - h - 6, r.x1 - 6, r.y1 - 6},
                                       Rect{r.x0 + 6, r.y0 + 6, r.x0 + 6 + w, r.y0 + 6 + h},
                                       Rect{r.x0 + 6, r.y1 - h - 6, r.x0 + 6 + w, r.y1 - 6}};
  size_t best = 0;
  int64_t best_count = std::numeric_limits<int64_t>::max();
  for (size_t k = 0; k < corners.size(); ++k) {
    int64_t count = 0;
    for (const Series& s : p.series)
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        const double x = m.px(s.x[i]), y = m.py(s.y[i]);
        count += x >= corners[k].x0 && x < corners[k].x1 && y >= corners[k].y0 && y < corners[k].y1;
      }
    if (count < best_count) {
      best = k;
      best_count = count;
    }
  }
  const Rect box = corners[best];
  c.fill(box, kLegendBorder);
  c.fill({box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1}, kWhite);
  for (size_t i = 0; i < p.legend.size(); ++i) {
    const int top = box.y0 + 5 + int(i) * kLegendLine;
    draw_swatch(c, box.x0 + 6, top + 4, p.legend[i]);
    c.text(box.x0 + 30, top, p.legend[i].label, kInk);
  }
}

}  // namespace

Ticks nice_ticks(double lo, double hi, int max_ticks) {
  max_ticks = std::max(max_ticks, 2);
  if (!(hi > lo)) {  // one value: a range around it
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / max_ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double f : {1.0, 2.0, 2.5, 5.0})
    if (f * mag >= raw * (1 - 1e-9)) {
      step = f * mag;
      break;
    }
  Ticks t;
  t.step = step;
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  for (double k = first; k <= last + 1e-9; ++k) t.values.push_back(k == 0 ? 0.0 : k * step);
  return t;
}

std::string tick_label(double v, double step) {
  double unit = 1;
  const char* suffix = "";
  if (step >= 1e6) {
    unit = 1e6;
    suffix = "M";
  } else if (step >= 1e3) {
    unit = 1e3;
    suffix = "k";
  }
  const double s = step / unit;
  int decimals = std::max(0, int(std::ceil(-std::log10(s) - 1e-9)));
  if (std::abs(s * std::pow(10.0, decimals) - std::round(s * std::pow(10.0, decimals))) > 1e-6) ++decimals;
  decimals = std::min(decimals, 12);
  if (std::abs(v) < step * 1e-9) v = 0;
  std::string out = fmt::format("{:.{}f}", v / unit, decimals);
  if (out.find('.') != std::string::npos) {  // 0.50 -> 0.5, 5.0k -> 5k
    out.erase(out.find_last_not_of('0') + 1);
    if (out.back() == '.') out.pop_back();
  }
  if (out == "-0") out = "0";
  return out == "0" ? out : out + suffix;
}

std::optional<Range> x_extent(const std::vector<Panel>& panels) {
  std::optional<Range> r;
  for (const Panel& p : panels) extend(r, p.series, &Series::x);
  return r;
}

void draw_panel(Canvas& c, Rect area, const Panel& p, Range x) {
  c.text(area.x0 + 8, area.y0 + 6, p.title, kInk, 2);
  const int top = area.y0 + Canvas::text_height(2) + 16;

  std::optional<Range> data;
  extend(data, p.series, &Series::y);
  if (!data) {  // a frame with the note, no axes to speak of
    const Rect plot{area.x0 + 40, top, area.x1 - 14, area.y1 - 36};
    c.fill(plot, kLegendBorder);
    c.fill({plot.x0 + 1, plot.y0 + 1, plot.x1 - 1, plot.y1 - 1}, kWhite);
    const int tw = Canvas::text_width(p.empty_note);
    c.text(plot.x0 + (plot.w() - tw) / 2, plot.y0 + plot.h() / 2 - 4, p.empty_note, kNote);
    return;
  }
  const Ticks yt = nice_ticks(p.y_min.value_or(data->lo), p.y_max.value_or(data->hi),
                              std::max(2, (area.h() - 80) / 45));
  int label_w = 0;
  for (double v : yt.values) label_w = std::max(label_w, Canvas::text_width(tick_label(v, yt.step)));
  const Rect plot{area.x0 + label_w + 16, top, area.x1 - 14, area.y1 - 36};
  const Ticks xt = nice_ticks(x.lo, x.hi, std::max(2, plot.w() / 110));
  const Mapping m{plot, {xt.values.front(), xt.values.back()}, {yt.values.front(), yt.values.back()}};

  // Grid lines and tick labels, then the frame over them.
  for (double v : yt.values) {
    const int y = int(std::floor(m.py(v)));
    c.fill({plot.x0, y, plot.x1, y + 1}, kGridLine);
    const std::string label = tick_label(v, yt.step);
    c.text(plot.x0 - 6 - Canvas::text_width(label), y - 4, label, kInk);
  }
  for (double v : xt.values) {
    const int px = int(std::floor(m.px(v)));
    c.fill({px, plot.y0, px + 1, plot.y1}, kGridLine);
    const std::string label = tick_label(v, xt.step);
    c.text(px - Canvas::text_width(label) / 2, plot.y1 + 6, label, kInk);
  }
  c.text(plot.x1 - Canvas::text_width(p.x_label), plot.y1 + 20, p.x_label, kInk);
  for (const Rect& edge : {Rect{plot.x0, plot.y0, plot.x1, plot.y0 + 1}, Rect{plot.x0, plot.y1 - 1, plot.x1, plot.y1},
                           Rect{plot.x0, plot.y0, plot.x0 + 1, plot.y1}, Rect{plot.x1 - 1, plot.y0, plot.x1, plot.y1}})
    c.fill(edge, kInk);

  c.set_clip({plot.x0 + 1, plot.y0 + 1, plot.x1 - 1, plot.y1 - 1});
  for (const Series& s : p.series) draw_series(c, m, s);
  c.reset_clip();
  draw_legend(c, m, p);
}

int draw_legend_row(Canvas& c, int x, int y, int width, const std::vector<LegendEntry>& entries) {
  int cx = x, cy = y;
  for (const LegendEntry& e : entries) {
    const int w = 24 + Canvas::text_width(e.label) + 18;
    if (cx > x && cx + w > x + width) {
      cx = x;
      cy += kLegendLine + 4;
    }
    draw_swatch(c, cx, cy + 4, e);
    c.text(cx + 24, cy, e.label, kInk);
    cx += w;
  }
  return entries.empty() ? 0 : cy - y + kLegendLine + 4;
}

}  // namespace dcgan::plot
