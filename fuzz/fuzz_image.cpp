// libFuzzer target: encoded images through stb_image (decode_image_memory) and convert_image (alpha, channels, resize, crop).
// A dcgan::Error is a clean refusal; a crash, a sanitizer report or any other exception is a bug.
// Run: scripts/fuzz.sh [SECONDS]   (entry point shared with tests/unit/test_fuzz_regressions.cpp)
#include "fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dcgan::fuzz::image_one(data, size);
  return 0;
}
