// libFuzzer target: CIFAR-10 binary batches (src/data/cifar.cpp), then conversion to the model size.
// A dcgan::Error is a clean refusal; a crash, a sanitizer report or any other exception is a bug.
// Run: scripts/fuzz.sh [SECONDS]   (entry point shared with tests/unit/test_fuzz_regressions.cpp)
#include "fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dcgan::fuzz::cifar_one(data, size);
  return 0;
}
