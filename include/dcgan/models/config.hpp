// ModelConfig: everything that defines the two networks; saved as strings in a checkpoint's
// __metadata__ and read back from it (PyTorch-exported generators carry the same keys).
#pragma once
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dcgan {

// The architectures and their defaults: the one table every default of a model (and the batch
// size it trains at) comes from. ModelConfig::defaults(), the trainer and the CLI all read it.
struct ArchDefaults {
  std::string_view name;   // "seed" or "dcgan"
  std::string_view about;  // one line for --help
  int img_size, channels, ngf, ndf;
  int batch_size;          // training batch size
  float g_bn_eps, d_bn_eps;
};
inline constexpr ArchDefaults kArchitectures[] = {
    // seed: ngf = ndf = 16 gives the seed's 128/64/32/16 channels; D's BatchNorm eps 0.8 is the
    // seed's quirk BatchNorm2d(out, 0.8) (0.8 lands in eps, not momentum), kept so that weights
    // trained by that code behave identically here.
    {"seed", "the seed document's networks (PyTorch-GAN dcgan.py)", 32, 1, 16, 16, 64, 1e-5f, 0.8f},
    // dcgan: pytorch/examples dcgan/main.py (the paper's networks, 64x64x3, batch 128).
    {"dcgan", "the paper's networks (pytorch/examples dcgan/main.py)", 64, 3, 64, 64, 128, 1e-5f, 1e-5f},
};
inline constexpr const ArchDefaults& kDefaultArch = kArchitectures[0];
inline std::span<const ArchDefaults> architectures() { return kArchitectures; }
// The row for `arch`; throws ConfigError naming --arch for an unknown one.
const ArchDefaults& arch_defaults(std::string_view arch);

// The one parser of the numbers a checkpoint's metadata holds as strings: the whole text must be
// a number of type T (int, int64_t, uint64_t, float or double) in its range, else nullopt.
template <class T>
std::optional<T> parse_metadata_number(const std::string& text);

// A default-constructed ModelConfig is the default architecture's row (seed 32x32x1).
struct ModelConfig {
  std::string arch{kDefaultArch.name};    // "seed" (the seed document's nets) or "dcgan" (pytorch/examples)
  int img_size = kDefaultArch.img_size;   // 16 * 2^k: 16, 32, 64, 128, 256
  int channels = kDefaultArch.channels;   // 1 or 3
  int latent_dim = 100;
  int ngf = kDefaultArch.ngf;             // generator width: its last hidden layer has ngf channels
  int ndf = kDefaultArch.ndf;             // discriminator width: its first layer has ndf channels
  int kernel = 4;                         // 4 (padding 1) or 5 (padding 2, output_padding 1)
  float g_bn_eps = kDefaultArch.g_bn_eps; // generator BatchNorm eps
  float d_bn_eps = kDefaultArch.d_bn_eps; // discriminator BatchNorm eps
  float bn_momentum = 0.1f;

  // The architecture's row of architectures() (throws ConfigError for an unknown arch).
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
