// What one GAN training step reports (train/gan_step.hpp computes it, observers read it).
#pragma once

namespace dcgan {

struct StepStats {
  float d_loss = 0, g_loss = 0;
  float d_real = 0;  // mean D(x)
  float d_fake = 0;  // mean D(G(z)) before the D update (as PyTorch-GAN logs it)
};

}  // namespace dcgan
