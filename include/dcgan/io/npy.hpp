// NumPy .npy files: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//
//   "\x93NUMPY" major minor  header_len (u16 LE for v1.0, u32 LE for v2.0/3.0)
//   header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, C, H, W), }
//           space-padded and '\n'-terminated so the data starts 64-byte aligned
//   data:   raw array, C order
//
// Latents (N, latent_dim) and raw images (N, C, H, W) in [-1, 1] travel as float32 .npy files.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

#include "dcgan/tensor.hpp"

namespace dcgan {

// The 6 bytes every .npy file starts with.
inline constexpr char kNpyMagic[] = "\x93NUMPY";
// True when `path` is a regular file that starts with kNpyMagic (nothing else is checked).
bool is_npy_file(const std::string& path);

// A .npy file's header, as read and checked by read_npy_header: the one parser of .npy headers
// (read_npy below and the image reader of data/ both use it).
struct NpyHeader {
  std::string descr;           // the dtype as numpy writes it: "<f4", "|u1", ...
  bool fortran_order = false;
  Shape shape;                 // its element count fits int64
  uint64_t data_offset = 0;    // bytes before the data
  uint64_t file_size = 0;
};
// Reads the header at the start of `f` (a regular file): magic, version 1.0-3.0, length, the dict
// literal with exactly 'descr' (a string), 'fortran_order' (a bool) and 'shape' (a tuple of
// integers). Throws FileError naming `path`, with `hint` as its HINT for malformed files. The
// dtype and the data's size are the caller's to check. Leaves `f` at the start of the data.
NpyHeader read_npy_header(std::FILE* f, const std::string& path, const std::string& hint);
// Python's repr of a shape tuple: "(3, 32, 32)", "(5,)".
std::string npy_shape_repr(const Shape& shape);

// Reads a v1.0/2.0/3.0 file holding a little-endian float32 ('<f4') array; '<f8' is accepted and
// converted to float32. Refuses (FileError naming the file and saying why) Fortran order, other
// dtypes, malformed headers, and files shorter than the header's shape says, before allocating.
Tensor read_npy(const std::string& path);

// Writes `t` as v1.0 (v2.0 if the header needs it), '<f4', C order, byte-identical to
// numpy.save(path, np.float32 array) of the same shape. Atomic (see atomic_file.hpp).
void write_npy(const std::string& path, const Tensor& t);

}  // namespace dcgan
