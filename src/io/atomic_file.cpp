// Atomic file writes (see src/io/atomic_file.hpp): temp file + fsync + rename + dir fsync.
#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "dcgan/error.hpp"

namespace dcgan {

namespace {

const char* kWriteHint = "check that the output directory exists, is writable and has free space";

std::string errno_str(int err) { return err ? std::strerror(err) : "unknown error"; }

// fsync the directory holding `path` so the rename itself survives a crash. Best effort: some
// filesystems refuse fsync on directories (EINVAL), and the new file is already in place.
void fsync_parent_dir(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void AtomicWriter::write(const void* data, size_t n) {
  if (n == 0) return;
  errno = 0;
  size_t done = std::fwrite(data, 1, n, f_);
  if (done != n) {
    int err = errno;
    throw FileError(path_, fmt::format("write failed after {} bytes: {}", written_ + done, errno_str(err)),
                    kWriteHint);
  }
  written_ += n;
}

void AtomicWriter::put_u16le(uint16_t v) {
  uint8_t b[2] = {static_cast<uint8_t>(v & 0xff), static_cast<uint8_t>(v >> 8)};
  write(b, 2);
}

std::string atomic_temp_path(const std::string& path) {
  return fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
}

void write_file_atomic(const std::string& path, const std::function<void(AtomicWriter&)>& body) {
  if (path.empty()) throw FileError("<empty path>", "cannot write a file with an empty name", kWriteHint);
  const std::string tmp = atomic_temp_path(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    int err = errno;
    throw FileError(path, fmt::format("cannot create temporary file '{}': {}", tmp, errno_str(err)),
                    kWriteHint);
  }
  // From here on, every failure closes and removes the temp file before rethrowing.
  auto abandon = [&] {
    if (f) std::fclose(f);
    f = nullptr;
    std::remove(tmp.c_str());
  };
  try {
    AtomicWriter w(f, path);
    body(w);
    errno = 0;
    if (std::fflush(f) != 0 || std::ferror(f)) {  // ferror: a failed write through file() by the body
      int err = errno;
      throw FileError(path, fmt::format("write failed after {} bytes: {}", w.bytes_written(), errno_str(err)),
                      kWriteHint);
    }
    if (::fsync(::fileno(f)) != 0) {
      int err = errno;
      throw FileError(path, fmt::format("fsync failed: {}", errno_str(err)), kWriteHint);
    }
    std::FILE* g = f;
    f = nullptr;
    if (std::fclose(g) != 0) {
      int err = errno;
      throw FileError(path, fmt::format("closing the file failed: {}", errno_str(err)), kWriteHint);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      throw FileError(path, fmt::format("cannot move temporary file '{}' into place: {}", tmp, errno_str(err)),
                      "check that the path is not a directory and that its directory is writable");
    }
  } catch (...) {
    abandon();
    throw;
  }
  fsync_parent_dir(path);
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  write_file_atomic(path, [&](AtomicWriter& w) { w.write(contents); });
}

void prepare_output_file(const std::string& path) {
  if (path.empty()) throw FileError("<empty path>", "cannot write a file with an empty name", kWriteHint);
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) throw FileError(path, fmt::format("cannot create the directory '{}': {}", parent.string(), ec.message()),
                            kWriteHint);
  }
  const std::string tmp = atomic_temp_path(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    const int err = errno;
    throw FileError(path, fmt::format("cannot create a file there: {}", errno_str(err)), kWriteHint);
  }
  std::fclose(f);
  std::remove(tmp.c_str());
}

}  // namespace dcgan
