// libFuzzer target: safetensors checkpoints: header (length, JSON, dtypes, shapes, offsets) and body; tensors read back as float and integer; model config from __metadata__.
// A dcgan::Error is a clean refusal; a crash, a sanitizer report or any other exception is a bug.
// Run: scripts/fuzz.sh [SECONDS]   (entry point shared with tests/unit/test_fuzz_regressions.cpp)
#include "fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dcgan::fuzz::safetensors_one(data, size);
  return 0;
}
