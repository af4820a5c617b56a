// Helpers for the tests of `dcgan serve`: a tiny trained checkpoint, and the server started in the
// background on a free port (--port 0), its port read from the line it prints.
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

// A 16x16 gray generator with latent size 8, trained for 60 steps on a small array of noise
// images (about a second): enough for different seeds to give visibly different images, which an
// untrained generator does not (its outputs all round to the same gray).
inline std::string tiny_checkpoint(const TempDir& d) {
  Tensor data({64, 1, 16, 16});
  for (int64_t i = 0; i < data.numel(); ++i) data.data()[i] = float((i * 7919 + i / 256 * 31) % 256) / 255.f;
  write_npy(d / "data.npy", data);
  auto r = run_dcgan(fmt::format("train --data {} --img-size 16 --channels 1 --latent-dim 8 --ngf 8 --ndf 8 "
                                 "--batch-size 8 --steps 60 --threads 1 --seed 3 --quiet --out {}",
                                 d / "data.npy", d / "run"));
  EXPECT_EQ(r.code, 0) << r.output;
  return d / "run";
}

// `dcgan serve --checkpoint CKPT --port 0 EXTRA` in the background; port() once it listens.
class ServeProcess {
 public:
  ServeProcess(const std::string& ckpt, const std::string& log, const std::string& extra = "")
      : proc_(std::make_unique<Process>(fmt::format("serve --checkpoint {} --port 0 --threads 1 {}", ckpt, extra),
                                        log)) {
    const std::regex line(R"(dcgan serve: http://127\.0\.0\.1:(\d+)/)");
    std::smatch m;
    wait_until([&] {
      const std::string out = proc_->output();
      if (std::regex_search(out, m, line)) port_ = std::stoi(m[1].str());
      return port_ > 0 || !proc_->running();
    }, 60);
  }
  int port() const { return port_; }  // 0 when the server never said it listens
  std::string url() const { return fmt::format("http://127.0.0.1:{}/", port_); }
  Process& process() { return *proc_; }

 private:
  std::unique_ptr<Process> proc_;
  int port_ = 0;
};

}  // namespace dcgan::testing
