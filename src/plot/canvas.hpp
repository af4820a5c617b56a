// A small RGB raster canvas for the training-curve charts (plot/chart.hpp): filled rectangles,
// anti-aliased lines and bitmap text, then an ImageU8 for the project's PNG writer.
//
// Why drawn here rather than with a plotting library: Debian 12 has no C++ plotting library
// without a GUI or toolkit stack. libplplot-dev depends on PLplot's Qt and wxWidgets bindings and
// gfortran, and writes PNG through a cairo driver with system fonts; libgnuplot-iostream-dev
// drives the gnuplot program. A run's curves are a few lines, ticks and labels, which a hundred
// lines of rasterising cover without new dependencies. Text uses stb_easy_font (libstb-dev, which
// the project already uses for images): a public-domain bitmap font drawn as rectangles, the same
// on every machine, no fonts installed.
#pragma once
#include <cstdint>
#include <string_view>

#include "dcgan/io/image.hpp"

namespace dcgan::plot {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// Pixels [x0, x1) x [y0, y1).
struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int w() const { return x1 - x0; }
  int h() const { return y1 - y0; }
};

class Canvas {
 public:
  Canvas(int width, int height, Rgb background);
  int width() const { return img_.w; }
  int height() const { return img_.h; }

  // Drawing is limited to `r` (and the canvas) until the next set_clip / reset_clip.
  void set_clip(Rect r);
  void reset_clip();

  void fill(Rect r, Rgb c);
  // Mixes `c` into pixel (x, y) with weight alpha in [0, 1].
  void blend(int x, int y, Rgb c, double alpha);
  // A line `width` pixels wide from (x0, y0) to (x1, y1) in pixel coordinates (pixel (i, j)
  // covers [i, i+1) x [j, j+1)), anti-aliased by each pixel's distance to the segment.
  void line(double x0, double y0, double x1, double y1, Rgb c, double width = 1.5);
  // Text with its top-left corner at (x, y), `scale` pixels per font unit; characters outside
  // printable ASCII are drawn as '?'.
  void text(int x, int y, std::string_view s, Rgb c, int scale = 1);
  static int text_width(std::string_view s, int scale = 1);
  static constexpr int text_height(int scale = 1) { return 9 * scale; }  // cap height 7, descenders 2

  const ImageU8& image() const { return img_; }

 private:
  ImageU8 img_;
  Rect clip_;
};

}  // namespace dcgan::plot
