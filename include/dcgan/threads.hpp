// Threads used by the CPU kernels (OpenMP, oneDNN); BLAS stays single-threaded so that its
// threads never compete with OpenMP's.
#pragma once

namespace dcgan {

// n <= 0 means "all cores".
void set_num_threads(int n);
int num_threads();

}  // namespace dcgan
