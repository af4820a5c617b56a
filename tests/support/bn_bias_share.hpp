// The share of a redundant bias in a BatchNorm's running_mean, for tests that compare running
// statistics between two training runs whose redundant biases differ.
//
// A bias directly before a BatchNorm has an exactly zero gradient, so two float32 runs give it
// different rounding noise, which Adam turns into different updates of up to lr. Its value never
// changes an output, but the BatchNorm's running_mean averages batch means that contain it
// exactly (BN's input is conv + b). That share is known from the bias's history: starting from
// c = 0, after k running updates with momentum m while the bias held the value b (a training
// step's forwards all run before its Adam update),
//   c <- (1 - m)^k c + (1 - (1 - m)^k) b,
// and running_mean - c is what the running mean would be without the bias, which two correct runs
// agree on to rounding. Comparing that instead of running_mean keeps the comparison tight (an
// absolute allowance of a few lr would hide real errors in the statistics).
#pragma once
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dcgan/tensor.hpp"
#include "nn/sequential.hpp"

namespace dcgan::testing {

// running_mean name -> name of the redundant bias directly before that BatchNorm, for the biases
// in `zero_grad` (state_dict names, e.g. "model.2.bias").
inline std::map<std::string, std::string> bn_after_bias(Sequential& net,
                                                        const std::set<std::string>& zero_grad) {
  std::map<std::string, std::string> out;
  std::string bias;
  for (auto& l : net.layers()) {
    if (l->params().empty()) continue;
    if (!bias.empty() && l->num_batches_tracked()) out[l->name() + ".running_mean"] = bias;
    bias = zero_grad.count(l->name() + ".bias") ? l->name() + ".bias" : "";
  }
  return out;
}

// Biases directly before a BatchNorm, found from the layer structure: a layer with a weight and a
// bias that is not itself a BatchNorm, followed by a BatchNorm.
inline std::set<std::string> biases_before_bn(Sequential& net) {
  std::set<std::string> out;
  std::string bias;
  for (auto& l : net.layers()) {
    if (l->params().empty()) continue;
    if (!bias.empty() && l->num_batches_tracked()) out.insert(bias);
    bias = l->params().size() > 1 && !l->num_batches_tracked() ? l->name() + ".bias" : "";
  }
  return out;
}

// Tracks c (above) for one BatchNorm.
struct BiasShare {
  std::vector<double> c;
  // k running updates with momentum m while the bias held `b` (C floats).
  void update(const float* b, int64_t k, double m) {
    const double keep = std::pow(1.0 - m, double(k));
    for (size_t j = 0; j < c.size(); ++j) c[j] = keep * c[j] + (1.0 - keep) * double(b[j]);
  }
  // running_mean - c.
  Tensor without(const Tensor& running_mean) const {
    Tensor out(running_mean.shape());
    for (int64_t j = 0; j < running_mean.numel(); ++j)
      out[j] = static_cast<float>(double(running_mean[j]) - c[size_t(j)]);
    return out;
  }
};

}  // namespace dcgan::testing
