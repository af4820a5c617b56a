// Errors: exceptions that name the op or file and, for users, say what to do next.
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace dcgan {

// Every error the library raises. `what()` is the full message; `hint()` (may be empty) is the
// "what to do next" line the CLI prints as `HINT: ...`.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg, std::string hint = {})
      : std::runtime_error(msg), hint_(std::move(hint)) {}
  const std::string& hint() const { return hint_; }

 private:
  std::string hint_;
};

// A problem with a file the user gave us (missing, corrupt, wrong shape).
class FileError : public Error {
 public:
  FileError(const std::string& path, const std::string& what, std::string hint = {})
      : Error(fmt::format("{}: {}", path, what), std::move(hint)), path_(path) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A bad option or model configuration.
class ConfigError : public Error {
 public:
  using Error::Error;
};

}  // namespace dcgan

// DCGAN_CHECK(cond, "[op] message {}", args...): throws dcgan::Error when cond is false.
#define DCGAN_CHECK(cond, ...)                                  \
  do {                                                          \
    if (!(cond)) throw ::dcgan::Error(fmt::format(__VA_ARGS__)); \
  } while (0)
