// Helpers for end-to-end tests that must control the dcgan process itself: start it in the
// background (fork + exec, output to a log file), signal or kill it, wait for it, and apply
// limits in the child before exec (RLIMIT_FSIZE, ignored SIGXFSZ, ...). See tests/support/cli.hpp
// for the simple run-and-capture helper.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dcgan::testing {

// Splits on spaces (test arguments hold no quoted spaces).
inline std::vector<std::string> split_args(const std::string& s) {
  std::istringstream in(s);
  return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

class Process {
 public:
  // Starts build/dcgan ARGS with stdout and stderr appended to `log`. `in_child` runs in the child
  // just before exec (set limits, signal dispositions).
  Process(const std::string& args, const std::string& log, const std::function<void()>& in_child = {})
      : Process(Program{std::string(DCGAN_BINARY_DIR) + "/dcgan"}, args, log, in_child) {}
  // Another program than dcgan (e.g. mpirun), found on the PATH when `path` has no slash.
  struct Program {
    std::string path;
  };
  Process(const Program& prog, const std::string& args, const std::string& log,
          const std::function<void()>& in_child = {})
      : log_(log) {
    std::vector<std::string> argv_s = split_args(args);
    const std::string bin = prog.path;
    argv_s.insert(argv_s.begin(), bin);
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log.c_str(), "a");
      if (f) {
        ::dup2(::fileno(f), 1);
        ::dup2(::fileno(f), 2);
      }
      if (in_child) in_child();
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(bin.c_str(), argv.data());
      ::_exit(127);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    if (pid_ > 0 && code_ < 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }

  // Waits for the exit; returns the exit code, or 128 + signal when killed by one.
  int wait() {
    if (code_ >= 0) return code_;
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    signaled_ = WIFSIGNALED(st);
    return code_;
  }
  // True when the process ended by a signal (rather than exit(128 + n)).
  bool killed_by_signal() const { return signaled_; }
  // Non-blocking: true while the process has not exited.
  bool running() {
    if (code_ >= 0) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == 0) return true;
    code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    signaled_ = WIFSIGNALED(st);
    return false;
  }
  std::string output() const {
    std::ifstream f(log_);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }

 private:
  pid_t pid_ = -1;
  int code_ = -1;
  bool signaled_ = false;
  std::string log_;
};

// Polls `cond` every `poll_ms` until it holds (true) or `seconds` pass (false).
inline bool wait_until(const std::function<bool()>& cond, double seconds, int poll_ms = 20) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  return cond();
}

// Lines in a file (0 when it does not exist).
inline int count_lines(const std::string& path) {
  std::ifstream f(path);
  int n = 0;
  for (std::string l; std::getline(f, l);) n += !l.empty();
  return n;
}

}  // namespace dcgan::testing
