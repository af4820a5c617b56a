// A checkpoint to export, install or serve in an end-to-end test, made the way a user makes one:
// `dcgan train` for 2 steps on random images (2 steps move BatchNorm's running statistics away
// from their initial 0 and 1, so a consumer that ignored them would differ).
#pragma once
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include <fmt/format.h>

#include "dcgan/io/npy.hpp"
#include "support/cli.hpp"

namespace dcgan::testing {

// 8 random images (8, channels, img_size, img_size) in [-1, 1] as `d`/data.npy; returns its path.
inline std::string write_random_images(const TempDir& d, int channels, int img_size) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Tensor data({8, channels, img_size, img_size});
  for (int64_t i = 0; i < data.numel(); ++i) data[i] = u(gen);
  write_npy(d / "data.npy", data);
  return d / "data.npy";
}

// Trains in `d`/run on 8 random images (`d`/data.npy) with `model_args` (e.g. "--arch dcgan
// --kernel 5") and returns the run directory; a failure is a test failure.
inline std::string train_tiny_run(const TempDir& d, int channels, int img_size, const std::string& model_args) {
  const std::string data = write_random_images(d, channels, img_size), run = d / "run";
  CmdResult r = run_dcgan(fmt::format("train --data {} --img-size {} --channels {} {} --batch-size 4 --steps 2 "
                                      "--threads 2 --sample-every 0 --quiet --out {}",
                                      data, img_size, channels, model_args, run));
  EXPECT_EQ(r.code, 0) << r.output;
  return run;
}

// A whole file's bytes ("" when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace dcgan::testing
