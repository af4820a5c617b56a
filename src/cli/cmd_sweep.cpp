// dcgan sweep: walks along single latent coordinates of one seed's latent, one grid row per
// coordinate. The latent math is the library's (dcgan/latents.hpp); this file parses options and
// writes the outputs.
#include <vector>

#include <fmt/ranges.h>

#include "dcgan/error.hpp"
#include "dcgan/generator.hpp"
#include "dcgan/latents.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "dcgan/threads.hpp"
#include "cli/commands.hpp"
#include "cli/figure_outputs.hpp"

namespace dcgan::cli {

void add_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sweep", "Sweep single latent coordinates of one seed's latent: one grid row per coordinate, one column per value");
  struct Opts {
    std::string ckpt;
    uint64_t seed = 0;
    std::vector<int64_t> dims;
    double from = -3, to = 3;
    int steps = 9, threads = 0;
    FigureOutputs out;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--checkpoint", o->ckpt, "A .safetensors checkpoint, or a run directory")->required();
  cmd->add_option("--seed", o->seed, "Seed of the latent to start from (as dcgan sample -n 1 --seed S makes it)")
      ->check(kNonNegativeInteger)->capture_default_str();
  cmd->add_option("--dims", o->dims,
                  "Latent coordinates to sweep, comma-separated, each 0 to latent_dim - 1 (see dcgan info), at most 64")
      ->required()->delimiter(',')->check(kNonNegativeInteger);
  cmd->add_option("--from", o->from, "First value of the coordinate, -100 to 100")
      ->check(kFiniteNumber)->check(CLI::Range(-100.0, 100.0))->capture_default_str();
  cmd->add_option("--to", o->to, "Last value of the coordinate, -100 to 100")
      ->check(kFiniteNumber)->check(CLI::Range(-100.0, 100.0))->capture_default_str();
  cmd->add_option("--steps", o->steps, "Values from --from to --to, ends included, 2 to 64")
      ->check(CLI::Range(2, 64))->capture_default_str();
  o->out.add_options(cmd);
  add_threads_option(cmd, o->threads);
  cmd->callback([o] {
    o->out.require_any("dcgan sweep");
    if (o->dims.size() > 64)
      throw ConfigError(fmt::format("invalid option --dims: {} coordinates given, at most 64", o->dims.size()));
    set_num_threads(o->threads);
    ImageGenerator gen(find_checkpoint(o->ckpt));
    const int64_t L = gen.config().latent_dim;
    for (int64_t d : o->dims)
      if (d >= L)
        throw ConfigError(fmt::format("invalid option --dims {}: coordinate {} is beyond this generator's latent "
                                      "(latent_dim {}: coordinates 0 to {})",
                                      fmt::join(o->dims, ","), d, L, L - 1),
                          "see the checkpoint's latent_dim with dcgan info");
    const uint64_t seed[] = {o->seed};
    const Tensor z = latent_sweep(seed_latents(gen, seed), o->dims, o->from, o->to, o->steps);
    const Tensor img = gen.generate(z);
    o->out.write(z, img, make_grid(img, o->steps));
    fmt::print("swept {} coordinate(s) of seed {}'s latent from {} to {} in {} steps; {} images ({}x{}x{})\n",
               o->dims.size(), o->seed, o->from, o->to, o->steps, img.dim(0), img.dim(3), img.dim(2), img.dim(1));
  });
}

}  // namespace dcgan::cli
