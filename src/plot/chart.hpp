// Line charts on a Canvas: one panel = a title, axes with numbered ticks, grid lines, lines in
// colours (solid or dashed, with or without point markers) and a legend. The training curves
// (plot/curves.cpp) are four such panels.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "plot/canvas.hpp"

namespace dcgan::plot {

// Palette for lines (matplotlib's "tab10": distinct hues that stay apart in print).
inline constexpr Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                   {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
inline constexpr Rgb kInk{40, 40, 40}, kGridLine{225, 225, 225}, kWhite{255, 255, 255};

struct Series {
  std::vector<double> x, y;  // the same length; a point whose y is not finite leaves a gap
  Rgb colour;
  bool dashed = false;
  bool markers = false;      // a dot at each point (sparse series such as FID)
};

struct LegendEntry {
  std::string label;
  Rgb colour;
  bool dashed = false;
  bool marker = false;  // a square instead of a line (e.g. a run's colour)
};

struct Panel {
  std::string title;
  std::vector<Series> series;
  std::vector<LegendEntry> legend;       // drawn in a corner of the plot area
  std::optional<double> y_min, y_max;    // ends kept whatever the data (e.g. 0 for a loss)
  std::string empty_note;                // shown when no series has a finite point
  std::string x_label = "step";
};

struct Range {
  double lo = 0, hi = 1;
};

// Axis ticks at multiples of 1, 2, 2.5 or 5 times a power of ten: at most `max_ticks` (>= 2)
// intervals, the first tick at or below lo, the last at or above hi.
struct Ticks {
  std::vector<double> values;
  double step = 1;
};
Ticks nice_ticks(double lo, double hi, int max_ticks);
// A tick's label with as many decimals as the step needs; thousands as k, millions as M when
// the step is that large.
std::string tick_label(double v, double step);

// The range of x over every series with a finite y (nullopt when there is none).
std::optional<Range> x_extent(const std::vector<Panel>& panels);

// Draws `p` into `area`, x from `x` (shared by the panels of one chart, so they line up).
void draw_panel(Canvas& c, Rect area, const Panel& p, Range x);

// Legend entries in rows from (x, y), wrapped at `width`; returns the height used.
int draw_legend_row(Canvas& c, int x, int y, int width, const std::vector<LegendEntry>& entries);

}  // namespace dcgan::plot
