// The outputs the figure commands (dcgan arithmetic, dcgan sweep) share: a PNG grid, the images
// as .npy and the latents as .npy, with the same option names and checks in both.
#pragma once
#include <cmath>
#include <cstdlib>
#include <string>

#include "dcgan/error.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "cli/commands.hpp"

namespace dcgan::cli {

// A real number that is not NaN or infinite (CLI::Range alone lets NaN through).
inline const CLI::Validator kFiniteNumber(
    [](std::string& s) {
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      const bool ok = !s.empty() && end == s.c_str() + s.size() && std::isfinite(v);
      return ok ? std::string() : "must be a finite number, got " + s;
    },
    "NUMBER");

struct FigureOutputs {
  std::string grid, npy, latents;

  void add_options(CLI::App* cmd) {
    cmd->add_option("--out,--grid", grid, "Write the figure as a PNG grid");
    cmd->add_option("--npy", npy, "Write the images (N, C, H, W) in [-1, 1] as .npy, in the grid's order");
    cmd->add_option("--save-latents", latents, "Write the latents (N, latent_dim) as .npy, in the grid's order");
  }
  // Refuses a command that would write nothing, before any work.
  void require_any(const std::string& command) const {
    if (grid.empty() && npy.empty() && latents.empty())
      throw ConfigError(command + ": nothing to write", "give --out OUT.png, --npy OUT.npy or --save-latents Z.npy");
  }
  // Each file atomically; `grid_image` is the figure's layout of `images`.
  void write(const Tensor& z, const Tensor& images, const ImageU8& grid_image) const {
    if (!latents.empty()) write_npy(latents, z);
    if (!npy.empty()) write_npy(npy, images);
    if (!grid.empty()) write_png(grid, grid_image);
  }
};

}  // namespace dcgan::cli
