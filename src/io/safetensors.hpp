// The Hugging Face safetensors format: https://github.com/huggingface/safetensors
//
//   [8 bytes]  N, little-endian u64: length of the JSON header
//   [N bytes]  JSON: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//                     "__metadata__": {"key": "value", ...}}   (metadata: string -> string, optional)
//   [rest]     the byte buffer; offsets are relative to its start, tensors are raw little-endian,
//              C order, and tile the buffer exactly (contiguous, no gaps, no overlaps).
//
// Our checkpoints are such files (see README.md, Checkpoint format): PyTorch state_dict() names prefixed
// `generator.` / `discriminator.`, BN `num_batches_tracked` as 0-dim I64, config in __metadata__.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dcgan/tensor.hpp"

namespace dcgan {

// One tensor as stored: dtype name as in the format ("F32", "I64", "F16", "BF16", ...), shape,
// and its raw little-endian bytes (empty after read_safetensors_header).
struct StTensor {
  std::string dtype;
  Shape shape;
  std::vector<uint8_t> bytes;
};

// Bytes per element of a safetensors dtype name; 0 if unknown.
size_t safetensors_dtype_size(const std::string& dtype);

struct SafeTensors {
  std::string path;                            // file it was read from ("" when built in memory); names errors
  std::map<std::string, std::string> metadata; // __metadata__
  std::map<std::string, StTensor> tensors;     // sorted by name

  // Store a float32 tensor (any shape, including 0-dim) as F32. Replaces an existing entry.
  void put(const std::string& name, const Tensor& t);
  // Store a 0-dim I64 scalar (PyTorch's BatchNorm num_batches_tracked).
  void put_i64(const std::string& name, int64_t v);

  bool has(const std::string& name) const { return tensors.count(name) != 0; }

  // The tensor `name` as float32, converting F16/BF16/F64. Throws FileError naming the file and
  // the tensor if it is missing, has another dtype, or its shape differs from `expected`.
  Tensor get(const std::string& name, const Shape& expected) const;
  // Same, any shape.
  Tensor get(const std::string& name) const;
  // Same as get(name, dst.shape()) but copies into `dst` (e.g. a view into a flat parameter buffer).
  void get_into(const std::string& name, Tensor& dst) const;
  // An integer scalar (I64/I32/I16/I8/U8, 0-dim or one element). Throws FileError as above.
  int64_t get_i64(const std::string& name) const;

  // Metadata value or `fallback` when absent.
  std::string meta(const std::string& key, const std::string& fallback = "") const;
};

// Reads and validates a whole file. Everything is checked before anything is allocated: header
// length against the file size (and <= 100 MB), the JSON, dtypes, shapes (non-negative, no
// overflow), offsets (in range, tiling the buffer exactly), bytes == numel * dtype size.
// Every failure is a FileError naming the file and saying what is wrong.
SafeTensors read_safetensors(const std::string& path);

// Reads and validates the header only: metadata, dtypes and shapes; StTensor::bytes stay empty.
SafeTensors read_safetensors_header(const std::string& path);

// Writes (tensors in name order, header space-padded to 8-byte alignment) atomically (see atomic_file.hpp): the old file at `path` survives any failure.
void write_safetensors_atomic(const std::string& path, const SafeTensors& st);

}  // namespace dcgan
