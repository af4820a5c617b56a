// Helpers for end-to-end tests that run the dcgan binary.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace dcgan::testing {

struct CmdResult {
  int code = -1;       // exit code, or 128 + signal
  std::string output;  // stdout and stderr together
};

// Runs `command` through the shell, capturing its stdout and stderr together.
inline CmdResult run_shell(const std::string& command) {
  CmdResult r;
  std::FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Runs `build/dcgan ARGS` through the shell, capturing output; in directory `cwd` when given
// (relative paths in ARGS are then resolved there).
inline CmdResult run_dcgan(const std::string& args, const std::string& cwd = "") {
  return run_shell((cwd.empty() ? std::string() : "cd '" + cwd + "' && ") + std::string(DCGAN_BINARY_DIR) +
                   "/dcgan " + args);
}

// A file's bytes ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A fresh temporary directory, removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() /
           ("dcgan-test-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
  std::string operator/(const std::string& s) const { return (path / s).string(); }
};

}  // namespace dcgan::testing
