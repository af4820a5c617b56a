// dcgan sample: run a generator checkpoint (eval mode) on given or random latents.
#include <filesystem>

#include "dcgan/error.hpp"
#include "dcgan/generator.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "dcgan/threads.hpp"
#include "cli/commands.hpp"

namespace dcgan::cli {

void add_sample(CLI::App& app) {
  auto* cmd = app.add_subcommand("sample", "Generate images from a checkpoint (generator in eval mode)");
  struct Opts {
    std::string ckpt, latents, npy, grid, out_dir, save_latents;
    int64_t n = 64, batch = 64;
    uint64_t seed = 0;
    int nrow = 8, threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--checkpoint", o->ckpt,
                  "A .safetensors checkpoint (ours, or a PyTorch export), or a run directory (its "
                  "checkpoints/latest.safetensors)")->required();
  auto* lat = cmd->add_option("--latents", o->latents, "Latent vectors: .npy float32 (N, latent_dim), finite");
  auto* n = cmd->add_option("-n,--num", o->n, "Number of random latents (N(0,1))")
                ->check(CLI::Range(int64_t(1), int64_t(1) << 24))->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random latents")->check(kNonNegativeInteger)->capture_default_str();
  lat->excludes(n);
  cmd->add_option("--npy", o->npy, "Write raw outputs (N, C, H, W) in [-1, 1] as .npy");
  cmd->add_option("--grid", o->grid, "Write a PNG grid");
  cmd->add_option("--nrow", o->nrow, "Images per grid row")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--out-dir", o->out_dir, "Write one PNG per image (000000.png, ...)");
  cmd->add_option("--save-latents", o->save_latents, "Also write the latents used as .npy");
  cmd->add_option("--batch-size", o->batch, "Generation batch size")
      ->check(CLI::Range(int64_t(1), int64_t(65536)))->capture_default_str();
  add_threads_option(cmd, o->threads);
  cmd->callback([o] {
    if (o->npy.empty() && o->grid.empty() && o->out_dir.empty())
      throw ConfigError("dcgan sample: nothing to write", "give --npy OUT.npy, --grid OUT.png or --out-dir DIR");
    set_num_threads(o->threads);
    ImageGenerator gen(find_checkpoint(o->ckpt));
    Tensor z = o->latents.empty() ? gen.random_latents(o->n, o->seed) : read_npy(o->latents);
    if (!o->latents.empty()) check_latents(z, gen.config().latent_dim, o->latents);
    Tensor img = gen.generate(z, o->batch);
    if (!o->save_latents.empty()) write_npy(o->save_latents, z);
    if (!o->npy.empty()) write_npy(o->npy, img);
    if (!o->grid.empty()) save_image_grid(o->grid, img, o->nrow);
    if (!o->out_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(o->out_dir, ec);
      if (ec) throw FileError(o->out_dir, "cannot create the directory: " + ec.message());
      const int C = int(img.dim(1)), H = int(img.dim(2)), W = int(img.dim(3));
      for (int64_t i = 0; i < img.dim(0); ++i) {
        auto px = to_uint8_hwc(img.data() + i * C * H * W, C, H, W);
        write_png(fmt::format("{}/{:06}.png", o->out_dir, i), px.data(), H, W, C);
      }
    }
    fmt::print("generated {} images ({}x{}x{})\n", img.dim(0), img.dim(3), img.dim(2), img.dim(1));
  });
}

}  // namespace dcgan::cli
