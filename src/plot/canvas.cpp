#include "plot/canvas.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "dcgan/error.hpp"

// stb_easy_font's functions are static and some go unused here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

namespace dcgan::plot {

namespace {

// stb_easy_font indexes its tables by (character - 32): keep to printable ASCII.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch < 32 || ch > 126) ch = '?';
  return out;
}

}  // namespace

Canvas::Canvas(int width, int height, Rgb bg) {
  DCGAN_CHECK(width > 0 && height > 0 && int64_t(width) * height <= (int64_t(1) << 26),
              "[plot] canvas size {}x{} must be positive and at most 64 Mpixels", width, height);
  img_.w = width;
  img_.h = height;
  img_.channels = 3;
  img_.pixels.resize(size_t(width) * height * 3);
  for (size_t i = 0; i < img_.pixels.size(); i += 3) {
    img_.pixels[i] = bg.r;
    img_.pixels[i + 1] = bg.g;
    img_.pixels[i + 2] = bg.b;
  }
  reset_clip();
}

void Canvas::set_clip(Rect r) {
  clip_ = {std::max(r.x0, 0), std::max(r.y0, 0), std::min(r.x1, img_.w), std::min(r.y1, img_.h)};
}

void Canvas::reset_clip() { clip_ = {0, 0, img_.w, img_.h}; }

void Canvas::fill(Rect r, Rgb c) {
  for (int y = std::max(r.y0, clip_.y0); y < std::min(r.y1, clip_.y1); ++y)
    for (int x = std::max(r.x0, clip_.x0); x < std::min(r.x1, clip_.x1); ++x) {
      uint8_t* p = &img_.pixels[(size_t(y) * img_.w + x) * 3];
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    }
}

void Canvas::blend(int x, int y, Rgb c, double alpha) {
  if (x < clip_.x0 || x >= clip_.x1 || y < clip_.y0 || y >= clip_.y1 || !(alpha > 0)) return;
  alpha = std::min(alpha, 1.0);
  uint8_t* p = &img_.pixels[(size_t(y) * img_.w + x) * 3];
  const uint8_t src[3] = {c.r, c.g, c.b};
  for (int k = 0; k < 3; ++k) p[k] = uint8_t(std::lround(p[k] + (src[k] - p[k]) * alpha));
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, double width) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  const double r = width / 2;
  // Only the pixels near the segment, within the clip: far-off ends cost nothing.
  const int bx0 = std::max(clip_.x0, int(std::floor(std::max(std::min(x0, x1) - r - 1, -1.0))));
  const int bx1 = std::min(clip_.x1, int(std::ceil(std::min(std::max(x0, x1) + r + 1, double(img_.w) + 1))));
  const int by0 = std::max(clip_.y0, int(std::floor(std::max(std::min(y0, y1) - r - 1, -1.0))));
  const int by1 = std::min(clip_.y1, int(std::ceil(std::min(std::max(y0, y1) + r + 1, double(img_.h) + 1))));
  const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  for (int y = by0; y < by1; ++y)
    for (int x = bx0; x < bx1; ++x) {
      const double px = x + 0.5, py = y + 0.5;
      const double t = len2 > 0 ? std::clamp(((px - x0) * dx + (py - y0) * dy) / len2, 0.0, 1.0) : 0.0;
      const double d = std::hypot(px - (x0 + t * dx), py - (y0 + t * dy));
      blend(x, y, c, r + 0.5 - d);  // full inside the stroke, fading over the last pixel
    }
}

void Canvas::text(int x, int y, std::string_view s, Rgb c, int scale) {
  std::string str = printable(s);
  // stb_easy_font writes quads of four 16-byte vertices (x, y, z as floats, then a colour), and
  // stops at the end of the buffer: its documentation's ~270 bytes per character is an average,
  // an '8' takes 7 quads (448 bytes), so room for 16 quads per character.
  std::vector<char> buf(str.size() * 16 * 64 + 64);
  const int quads = stb_easy_font_print(0, 0, str.data(), nullptr, buf.data(), int(buf.size()));
  for (int q = 0; q < quads; ++q) {
    float v0[2], v2[2];  // top-left and bottom-right corners
    std::memcpy(v0, &buf[size_t(q) * 64], sizeof v0);
    std::memcpy(v2, &buf[size_t(q) * 64 + 32], sizeof v2);
    fill({x + int(v0[0]) * scale, y + int(v0[1]) * scale, x + int(v2[0]) * scale, y + int(v2[1]) * scale}, c);
  }
}

int Canvas::text_width(std::string_view s, int scale) {
  std::string str = printable(s);
  return str.empty() ? 0 : stb_easy_font_width(str.data()) * scale;
}

}  // namespace dcgan::plot
