// Atomic file writes: a file at `path` is either the complete old one or the complete new one,
// never a half-written mix, even on a full disk, a crash or a kill in the middle of a write.
//
// How: write to `path.tmp.<pid>` in the same directory, check every write, fflush + fsync,
// rename over `path`, fsync the directory. On any failure the temp file is removed, the file at
// `path` is untouched and a FileError naming `path` is thrown.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace dcgan {

// The open temp file handed to the body of write_file_atomic. Every write is checked; a failed
// one (ENOSPC, EFBIG, EIO, ...) throws FileError naming the final path.
class AtomicWriter {
 public:
  AtomicWriter(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void put_u8(uint8_t v) { write(&v, 1); }
  void put_u16le(uint16_t v);
  std::FILE* file() const { return f_; }        // for callers that must use stdio directly
  const std::string& path() const { return path_; }  // the final path (not the temp one)
  uint64_t bytes_written() const { return written_; }

 private:
  std::FILE* f_;
  std::string path_;
  uint64_t written_ = 0;
};

// Runs `body` on a fresh temp file next to `path`, then commits it atomically as `path`.
// If `body` throws, the temp file is removed and the exception propagates unchanged.
void write_file_atomic(const std::string& path, const std::function<void(AtomicWriter&)>& body);

// Convenience: atomically replaces `path` with `contents` (e.g. a JSON document).
void write_file_atomic(const std::string& path, std::string_view contents);

// Before long work whose result goes to `path`: creates its parent directories and checks that a
// file can be created there (a temp file is made and removed), so that a mistyped or unwritable
// output fails at once, not after hours of training. Throws FileError naming `path`.
void prepare_output_file(const std::string& path);

// The temp file name write_file_atomic uses for `path` in this process (for tests and cleanup).
std::string atomic_temp_path(const std::string& path);

}  // namespace dcgan
