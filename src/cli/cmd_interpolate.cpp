// dcgan interpolate: walk the latent space between seeds or given latent vectors.
#include <cstring>

#include <fmt/ranges.h>

#include "dcgan/error.hpp"
#include "dcgan/generator.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "dcgan/latents.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "dcgan/threads.hpp"
#include "cli/commands.hpp"

namespace dcgan::cli {

void add_interpolate(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "interpolate", "Interpolate between latent vectors: a PNG grid (one row per pair) and/or an animated GIF");
  struct Opts {
    std::string ckpt, latents, grid, gif, npy, method = "slerp";
    std::vector<uint64_t> seeds;
    int steps = 8, threads = 0, delay_cs = 8;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--checkpoint", o->ckpt, "A .safetensors checkpoint, or a run directory")->required();
  auto* s = cmd->add_option("--seeds", o->seeds,
                            "Key points as seeds, at least 2, comma-separated: each seed's N(0,1) latent, as "
                            "dcgan sample -n 1 --seed S makes it [default: 0,1]")
                ->delimiter(',')->check(kNonNegativeInteger);
  auto* l = cmd->add_option("--latents", o->latents, "Key points as a .npy (K, latent_dim), K >= 2, finite");
  s->excludes(l);
  cmd->add_option("--steps", o->steps, "Points per pair, ends included, 2 to 10000")
      ->check(CLI::Range(2, 10000))->capture_default_str();
  cmd->add_option("--method", o->method, "slerp (spherical) or linear")
      ->check(CLI::IsMember({"slerp", "linear"}))->capture_default_str();
  cmd->add_option("--grid", o->grid, "PNG grid: one row per pair of key points");
  cmd->add_option("--gif", o->gif, "Animated GIF through all key points");
  cmd->add_option("--delay", o->delay_cs, "GIF frame delay in 1/100 s, 1 to 65535")
      ->check(CLI::Range(1, 65535))->capture_default_str();
  cmd->add_option("--npy", o->npy, "Raw outputs (P, C, H, W) as .npy");
  add_threads_option(cmd, o->threads);
  cmd->callback([o, s] {
    if (o->grid.empty() && o->gif.empty() && o->npy.empty())
      throw ConfigError("dcgan interpolate: nothing to write", "give --grid OUT.png, --gif OUT.gif or --npy OUT.npy");
    set_num_threads(o->threads);
    if (s->count() > 0 && o->seeds.size() < 2)
      throw ConfigError(fmt::format("invalid option --seeds {}: give at least 2 seeds to walk between",
                                    fmt::join(o->seeds, ",")),
                        "e.g. --seeds 1,2 (or --seeds 1,2,3 for a walk through three points)");
    ImageGenerator gen(find_checkpoint(o->ckpt));
    const int64_t L = gen.config().latent_dim;
    Tensor keys;
    if (!o->latents.empty()) {
      keys = read_npy(o->latents);
      check_latents(keys, L, o->latents);
      if (keys.dim(0) < 2)
        throw FileError(o->latents, fmt::format("holds {} key point; interpolation needs at least 2", keys.dim(0)));
    } else {
      if (o->seeds.empty()) o->seeds = {0, 1};
      keys = seed_latents(gen, o->seeds);
    }
    const int64_t pairs = keys.dim(0) - 1;
    Tensor path({pairs * o->steps, L});
    for (int64_t p = 0; p < pairs; ++p) {
      Tensor seg = interpolate_latents(keys.data() + p * L, keys.data() + (p + 1) * L, L, o->steps,
                                       o->method == "slerp");
      std::memcpy(path.data() + p * o->steps * L, seg.data(), seg.numel() * sizeof(float));
    }
    Tensor img = gen.generate(path);
    if (!o->npy.empty()) write_npy(o->npy, img);
    if (!o->grid.empty()) save_image_grid(o->grid, img, o->steps);
    if (!o->gif.empty()) {
      const int C = int(img.dim(1)), H = int(img.dim(2)), W = int(img.dim(3));
      std::vector<std::vector<uint8_t>> frames;
      for (int64_t i = 0; i < img.dim(0); ++i) {
        // Skip the duplicate key frame where one pair ends and the next begins.
        if (i > 0 && i % o->steps == 0) continue;
        frames.push_back(to_uint8_hwc(img.data() + i * C * H * W, C, H, W));
      }
      write_gif(o->gif, frames, H, W, C, o->delay_cs, 0);
    }
    fmt::print("interpolated {} pair(s) x {} steps ({})\n", pairs, o->steps, o->method);
  });
}

}  // namespace dcgan::cli
