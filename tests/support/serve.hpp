// Helpers for the tests of `dcgan serve` and `dcgan train --serve`: tiny data and a tiny trained
// checkpoint, and servers started in the background on a free port (--port 0), the port read from
// the line they print.
#pragma once
#include <filesystem>
#include <memory>
#include <regex>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "dcgan/io/npy.hpp"
#include "support/cli.hpp"
#include "support/process.hpp"

namespace dcgan::testing {

// 64 gray 16x16 images of a fixed pattern, as a .npy array: data that trains in moments.
inline std::string tiny_data(const TempDir& d) {
  Tensor data({64, 1, 16, 16});
  for (int64_t i = 0; i < data.numel(); ++i) data.data()[i] = float((i * 7919 + i / 256 * 31) % 256) / 255.f;
  write_npy(d / "data.npy", data);
  return d / "data.npy";
}

// The options that train a tiny seed model on tiny_data (latent size 8), fast.
inline std::string tiny_train_args(const TempDir& d) {
  return fmt::format("train --data {} --img-size 16 --channels 1 --latent-dim 8 --ngf 8 --ndf 8 --batch-size 8 "
                     "--threads 1 --seed 3 ", tiny_data(d));
}

// A generator trained for 60 steps on tiny_data (about a second): enough for different seeds to
// give visibly different images, which an untrained generator does not (its outputs all round to
// the same gray).
inline std::string tiny_checkpoint(const TempDir& d) {
  auto r = run_dcgan(tiny_train_args(d) + "--steps 60 --quiet --out " + d / "run");
  EXPECT_EQ(r.code, 0) << r.output;
  return d / "run";
}

// The port in the first line of p's output that matches `line` (its group 1), once the process
// prints it; 0 when it exits or 60 s pass first.
inline int wait_for_port(Process& p, const std::regex& line) {
  int port = 0;
  wait_until([&] {
    std::smatch m;
    const std::string out = p.output();
    if (std::regex_search(out, m, line)) port = std::stoi(m[1].str());
    return port > 0 || !p.running();
  }, 60);
  return port;
}

// `dcgan serve --checkpoint CKPT --port 0 EXTRA` in the background; port() once it listens.
class ServeProcess {
 public:
  ServeProcess(const std::string& ckpt, const std::string& log, const std::string& extra = "")
      : proc_(std::make_unique<Process>(fmt::format("serve --checkpoint {} --port 0 --threads 1 {}", ckpt, extra),
                                        log)),
        port_(wait_for_port(*proc_, std::regex(R"(dcgan serve: http://127\.0\.0\.1:(\d+)/)"))) {}
  int port() const { return port_; }  // 0 when the server never said it listens
  std::string url() const { return fmt::format("http://127.0.0.1:{}/", port_); }
  Process& process() { return *proc_; }

 private:
  std::unique_ptr<Process> proc_;
  int port_ = 0;
};

}  // namespace dcgan::testing
