// dcgan info FILE: a checkpoint's config, training state and tensors.
#include <fmt/format.h>

#include "dcgan/error.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "dcgan/models/config.hpp"
#include "cli/commands.hpp"
#include "io/safetensors.hpp"

namespace dcgan::cli {

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print a checkpoint's configuration, training state and tensors");
  auto path = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  auto* pos = cmd->add_option("file", *path, "A .safetensors checkpoint, or a run directory");
  auto* named = cmd->add_option("--checkpoint", *path, "The same, as an option (as sample and eval take it)");
  pos->excludes(named);
  cmd->add_flag("--all", *all, "List optimizer tensors too");
  cmd->callback([path, all] {
    if (path->empty())
      throw ConfigError("dcgan info: no checkpoint given", "dcgan info FILE.safetensors (or --checkpoint FILE, or a run directory)");
    const std::string file = find_checkpoint(*path);
    SafeTensors st = read_safetensors_header(file);
    fmt::print("{}\n", file);
    try {
      const CheckpointMeta m = CheckpointMeta::from_metadata(st.metadata, file);
      fmt::print("model: {}\n", m.model.summary());
      if (m.training)
        fmt::print("training: step {}, epoch {}, {:.0f} s of training, data {}{}{}\n", m.training->step,
                   m.training->epoch, m.training->elapsed_s, m.training->config.data,
                   m.training->best_fid ? fmt::format(", best FID {:.3f}", *m.training->best_fid) : "",
                   m.training->ranks > 1 ? fmt::format(", written by {} ranks with identical networks",
                                                       m.training->ranks)
                                         : "");
      if (m.training && m.training->config.gan.ema > 0)
        fmt::print("generator: the moving average (EMA {}) of the trained weights (generator_raw.*), as sampled\n",
                   m.training->config.gan.ema);
      if (m.training && !m.training->config.preset.empty()) fmt::print("preset: {}\n", m.training->config.preset);
      if (!m.training)
        fmt::print("training: none (a generator-only file)\n");
    } catch (const Error& e) {
      // A file of a newer format is refused; any other safetensors file is still listed below.
      const auto v = parse_metadata_number<int>(st.meta("format_version"));
      if (v && *v > CheckpointMeta::kFormatVersion) throw;
      fmt::print("model: (not a dcgan checkpoint: {})\n", e.what());
    }
    fmt::print("metadata:\n");
    for (auto& [k, v] : st.metadata) fmt::print("  {} = {}\n", k, v);
    int64_t total = 0, hidden = 0;
    fmt::print("tensors:\n");
    for (auto& [name, t] : st.tensors) {
      int64_t n = 1;
      for (auto d : t.shape) n *= d;
      total += n;
      if (!*all && name.rfind("optimizer.", 0) == 0) {
        ++hidden;
        continue;
      }
      fmt::print("  {:<48} {:<4} {}\n", name, t.dtype, shape_str(t.shape));
    }
    if (hidden) fmt::print("  ... and {} optimizer tensors (--all lists them)\n", hidden);
    fmt::print("{} tensors, {} values\n", st.tensors.size(), total);
  });
}

}  // namespace dcgan::cli
