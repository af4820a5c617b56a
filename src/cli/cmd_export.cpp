// dcgan export: a generator checkpoint as an ONNX model (the work is dcgan/export/onnx.hpp's).
#include <fmt/format.h>

#include "dcgan/export/onnx.hpp"
#include "cli/commands.hpp"

namespace dcgan::cli {

void add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a checkpoint's generator (eval mode) as an ONNX model");
  struct Opts {
    std::string ckpt, onnx;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--checkpoint", o->ckpt,
                  "A .safetensors checkpoint (ours, or a PyTorch export), or a run directory (its "
                  "checkpoints/latest.safetensors)")->required();
  cmd->add_option("--onnx", o->onnx,
                  "Output .onnx file: input z (N, latent_dim), output images (N, C, H, W) in [-1, 1], "
                  "N dynamic")->required();
  cmd->callback([o] {
    OnnxExport e = export_onnx(o->ckpt, o->onnx);
    const ModelConfig& c = e.config;
    fmt::print("wrote {} ({} bytes): {}; ONNX opset {}, {} nodes, {} parameters; input z (N, {}), "
               "output images (N, {}, {}, {})\n",
               o->onnx, e.bytes, c.summary(), kOnnxOpset, e.nodes, e.parameters, c.latent_dim, c.channels,
               c.img_size, c.img_size);
  });
}

}  // namespace dcgan::cli
