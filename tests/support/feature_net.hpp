// A random feature network for end-to-end tests, saved as `dcgan train-classifier` saves one
// (PyTorch's default init; BatchNorm running statistics 0 / 1). The metrics' properties the tests
// check do not need a trained network. It stands in for a network trained on `dataset`: eval
// refuses a network whose dataset differs from the images'.
#pragma once
#include <cstdint>
#include <string>

#include "core/rng.hpp"
#include "eval/classifier.hpp"

namespace dcgan::testing {

inline std::string make_feature_net(const std::string& path, int img = 32, int ch = 1, uint64_t seed = 1,
                                    const std::string& dataset = "fashion-mnist", int width = 8,
                                    int feature_dim = 16) {
  eval::ClassifierConfig c;
  c.img_size = img;
  c.channels = ch;
  c.width = width;
  c.feature_dim = feature_dim;
  eval::ClassifierNet net = eval::build_classifier(c);
  Rng rng(seed);
  net.reset_parameters(rng);
  net.save(path, {{"dataset", dataset}, {"test_accuracy", "0.1"}});
  return path;
}

}  // namespace dcgan::testing
