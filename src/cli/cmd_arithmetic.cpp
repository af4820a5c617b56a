// dcgan arithmetic: latent vector arithmetic as in the DCGAN paper's figure 7. The latent math is
// the library's (dcgan/latents.hpp); this file parses options and writes the outputs.
#include <array>
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

namespace {

constexpr size_t kMaxSeeds = 64;  // per operand: a grid row stays viewable

struct Operand {
  const char* option;
  char letter;
  std::vector<uint64_t>* seeds;
};
std::array<Operand, 3> operands(ArithmeticSpec& s) {
  return {{{"--a", 'A', &s.a}, {"--b", 'B', &s.b}, {"--c", 'C', &s.c}}};
}

}  // namespace

void add_arithmetic(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "arithmetic",
      "Latent vector arithmetic (the DCGAN paper's figure 7): the image of mean(A) - mean(B) + mean(C), each the "
      "mean latent of a list of seeds, in a grid with A's, B's and C's images, their means and noisy variations");
  struct Opts {
    std::string ckpt;
    ArithmeticSpec spec;
    FigureOutputs out;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--checkpoint", o->ckpt, "A .safetensors checkpoint, or a run directory")->required();
  for (const Operand& op : operands(o->spec))
    cmd->add_option(op.option, *op.seeds,
                    fmt::format("Seeds whose latents' mean is {}, comma-separated, 1 to {} (each seed's latent as "
                                "dcgan sample -n 1 --seed S makes it), e.g. 3,17,42",
                                op.letter, kMaxSeeds))
        ->required()->delimiter(',')->check(kNonNegativeInteger);
  cmd->add_option("--variations", o->spec.variations,
                  "Images of the result with uniform noise added, as in the paper (0: none), 0 to 64")
      ->check(CLI::Range(int64_t(0), int64_t(64)))->capture_default_str();
  cmd->add_option("--noise", o->spec.noise, "Amplitude of the variations' noise: uniform in [-noise, noise], 0 to 10")
      ->check(kFiniteNumber)->check(CLI::Range(0.0, 10.0))->capture_default_str();
  cmd->add_option("--noise-seed", o->spec.noise_seed, "Seed of the variations' noise")
      ->check(kNonNegativeInteger)->capture_default_str();
  o->out.add_options(cmd);
  add_threads_option(cmd, o->threads);
  cmd->callback([o] {
    o->out.require_any("dcgan arithmetic");
    for (const Operand& op : operands(o->spec))
      if (op.seeds->size() > kMaxSeeds)
        throw ConfigError(fmt::format("invalid option {} {}: give 1 to {} seeds", op.option, fmt::join(*op.seeds, ","),
                                      kMaxSeeds));
    set_num_threads(o->threads);
    ImageGenerator gen(find_checkpoint(o->ckpt));
    const LatentRows rows = arithmetic_latents(gen, o->spec);
    const Tensor img = gen.generate(rows.z);
    o->out.write(rows.z, img, make_grid_rows(img, rows.row_lengths));
    fmt::print("arithmetic: mean of {} - mean of {} + mean of {} seed latents, {} variation(s) (noise {}); {} images "
               "({}x{}x{})\n",
               o->spec.a.size(), o->spec.b.size(), o->spec.c.size(), o->spec.variations, o->spec.noise, img.dim(0),
               img.dim(3), img.dim(2), img.dim(1));
  });
}

}  // namespace dcgan::cli
