// ONNX export of a trained generator, for use from other software (ONNX Runtime, TensorRT, ...).
//
//   dcgan::OnnxExport e = dcgan::export_onnx("runs/x", "generator.onnx");
//
// The model: input `z` float32 (N, latent_dim), output `images` float32 (N, C, H, W) in [-1, 1],
// N dynamic; the generator in eval mode, layer for layer (Gemm, Reshape, BatchNormalization, Relu,
// ConvTranspose, Tanh), its tensors stored under their checkpoint (PyTorch state_dict) names.
// Lives in its own library, libdcgan_onnx (CMake target dcgan::onnx): it needs ONNX and protobuf,
// which users of libdcgan alone should not have to load. See docs/export.md.
#pragma once
#include <cstdint>
#include <string>

#include "dcgan/models/config.hpp"

namespace dcgan {

// The ONNX operator set the exported model declares (every operator used exists there
// unchanged since opset 13; ONNX Runtime runs it).
inline constexpr int kOnnxOpset = 13;

// What export_onnx wrote.
struct OnnxExport {
  ModelConfig config;       // the generator's
  int64_t nodes = 0;        // graph nodes
  int64_t parameters = 0;   // float values stored in the model (weights and BatchNorm statistics)
  uint64_t bytes = 0;       // size of the file
};

// Writes the generator of `checkpoint` (a .safetensors file, or a run directory: see
// find_checkpoint) to `onnx_path` atomically, after onnx::checker::check_model accepted it.
// Throws FileError naming the checkpoint (missing, corrupt) or `onnx_path` (unwritable); on any
// failure no file is left at `onnx_path`.
OnnxExport export_onnx(const std::string& checkpoint, const std::string& onnx_path);

}  // namespace dcgan
