// Which implementation an op runs. Every op has a plain-loop `reference` (the oracle the tests
// compare against) and a `fast` CPU path (oneDNN / BLAS / vectorised, OpenMP-threaded).
// A CUDA backend will be a third value with the same signatures (src/ops/cuda/).
#pragma once
#include <string>

namespace dcgan::ops {

enum class Impl { reference, fast };

inline const char* impl_name(Impl i) { return i == Impl::reference ? "reference" : "fast"; }

}  // namespace dcgan::ops
