// ModelConfig: everything that defines the two networks; saved as strings in a checkpoint's
// __metadata__ and read back from it (PyTorch-exported generators carry the same keys).
#pragma once
#include <map>
#include <string>

namespace dcgan {

struct ModelConfig {
  std::string arch = "seed";  // "seed" (the seed document's nets) or "dcgan" (pytorch/examples)
  int img_size = 32;          // 16 * 2^k: 16, 32, 64, 128, 256
  int channels = 1;           // 1 or 3
  int latent_dim = 100;
  int ngf = 16;               // generator width: its last hidden layer has ngf channels
  int ndf = 16;               // discriminator width: its first layer has ndf channels
  int kernel = 4;             // 4 (padding 1) or 5 (padding 2, output_padding 1)
  float g_bn_eps = 1e-5f;     // generator BatchNorm eps
  float d_bn_eps = 0.8f;      // discriminator BatchNorm eps: 0.8 is the seed's quirk (BatchNorm2d(out, 0.8))
  float bn_momentum = 0.1f;

  // Defaults for an architecture: seed ngf = ndf = 16 (the seed's 128/64/32/16 channels),
  // d_bn_eps = 0.8; dcgan ngf = ndf = 64, d_bn_eps = 1e-5.
  static ModelConfig defaults(const std::string& arch);
  // Throws dcgan::ConfigError naming the option (e.g. "--img-size 48: must be 16 * 2^k ...").
  void validate() const;
  int padding() const { return kernel == 5 ? 2 : 1; }
  int output_padding() const { return kernel == 5 ? 1 : 0; }

  std::map<std::string, std::string> to_metadata() const;
  // Missing optional keys take the architecture's defaults; missing required keys
  // (arch, img_size, channels, latent_dim) or unparsable values throw ConfigError naming the key.
  static ModelConfig from_metadata(const std::map<std::string, std::string>& meta);
  std::string summary() const;  // one line: "seed 32x32x1, latent 100, ngf 16, ndf 16, kernel 4"
};

}  // namespace dcgan
