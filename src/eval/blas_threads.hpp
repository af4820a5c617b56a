// Internal to src/eval: whether the metric loops may run their own OpenMP threads around BLAS.
// When OpenBLAS runs single-threaded (the library's setting after dcgan::set_num_threads), the
// loops over KID subsets and distance blocks are OpenMP-parallel, each thread calling BLAS on its
// own buffers. When OpenBLAS has its own threads, the loops stay serial and BLAS parallelises
// inside each call, so the two thread pools never compete.
#pragma once
#include <cblas.h>

namespace dcgan::eval::detail {

inline bool parallel_outside_blas() { return openblas_get_num_threads() <= 1; }

}  // namespace dcgan::eval::detail
