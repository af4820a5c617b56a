// Adam's options (optim/adam.hpp has the optimizer): part of a training configuration.
#pragma once

namespace dcgan {

struct AdamOptions {
  double lr = 2e-4;
  double beta1 = 0.5;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient, as torch.optim.Adam's weight_decay
};

}  // namespace dcgan
