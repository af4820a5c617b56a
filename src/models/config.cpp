#include "dcgan/models/config.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "dcgan/error.hpp"

namespace dcgan {

const ArchDefaults& arch_defaults(std::string_view arch) {
  for (const ArchDefaults& a : kArchitectures)
    if (a.name == arch) return a;
  throw ConfigError(fmt::format("invalid model option --arch {}: must be 'seed' or 'dcgan'", arch));
}

ModelConfig ModelConfig::defaults(const std::string& arch) {
  const ArchDefaults& a = arch_defaults(arch);
  ModelConfig c;
  c.arch = arch;
  c.img_size = a.img_size;
  c.channels = a.channels;
  c.ngf = a.ngf;
  c.ndf = a.ndf;
  c.g_bn_eps = a.g_bn_eps;
  c.d_bn_eps = a.d_bn_eps;
  return c;
}

void ModelConfig::validate() const {
  auto bad = [](const std::string& opt, const std::string& why) {
    throw ConfigError(fmt::format("invalid model option {}: {}", opt, why));
  };
  if (arch != "seed" && arch != "dcgan") bad("--arch " + arch, "must be 'seed' or 'dcgan'");
  bool pow2 = img_size >= 16 && img_size <= 256 && img_size % 16 == 0 &&
              ((img_size / 16) & (img_size / 16 - 1)) == 0;
  if (!pow2) bad(fmt::format("--img-size {}", img_size), "must be 16 * 2^k (16, 32, 64, 128, 256)");
  if (channels != 1 && channels != 3) bad(fmt::format("--channels {}", channels), "must be 1 or 3");
  if (latent_dim < 1 || latent_dim > 100000) bad(fmt::format("--latent-dim {}", latent_dim), "must be in [1, 100000]");
  if (ngf < 1 || ngf > 4096) bad(fmt::format("--ngf {}", ngf), "must be in [1, 4096]");
  if (ndf < 1 || ndf > 4096) bad(fmt::format("--ndf {}", ndf), "must be in [1, 4096]");
  if (kernel != 4 && kernel != 5) bad(fmt::format("--kernel {}", kernel), "must be 4 or 5");
  if (!(g_bn_eps > 0 && g_bn_eps <= 10)) bad(fmt::format("--g-bn-eps {}", g_bn_eps), "must be in (0, 10]");
  if (!(d_bn_eps > 0 && d_bn_eps <= 10)) bad(fmt::format("--d-bn-eps {}", d_bn_eps), "must be in (0, 10]");
  if (!(bn_momentum > 0 && bn_momentum <= 1)) bad(fmt::format("--bn-momentum {}", bn_momentum), "must be in (0, 1]");
}

std::map<std::string, std::string> ModelConfig::to_metadata() const {
  return {{"arch", arch},
          {"img_size", std::to_string(img_size)},
          {"channels", std::to_string(channels)},
          {"latent_dim", std::to_string(latent_dim)},
          {"ngf", std::to_string(ngf)},
          {"ndf", std::to_string(ndf)},
          {"kernel", std::to_string(kernel)},
          {"g_bn_eps", fmt::format("{}", g_bn_eps)},
          {"d_bn_eps", fmt::format("{}", d_bn_eps)},
          {"bn_momentum", fmt::format("{}", bn_momentum)}};
}

template <class T>
std::optional<T> parse_metadata_number(const std::string& text) {
  T v{};
  const char* b = text.data();
  const char* e = b + text.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || text.empty()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>)
    if (!std::isfinite(v)) return std::nullopt;
  return v;
}
template std::optional<int> parse_metadata_number<int>(const std::string&);
template std::optional<int64_t> parse_metadata_number<int64_t>(const std::string&);
template std::optional<uint64_t> parse_metadata_number<uint64_t>(const std::string&);
template std::optional<float> parse_metadata_number<float>(const std::string&);
template std::optional<double> parse_metadata_number<double>(const std::string&);

namespace {
template <class T>
T parse_num(const std::map<std::string, std::string>& m, const std::string& key, T fallback,
            bool required) {
  auto it = m.find(key);
  if (it == m.end()) {
    if (required)
      throw ConfigError(fmt::format("checkpoint metadata lacks the key '{}'", key),
                        "a generator checkpoint needs arch, img_size, channels and latent_dim in __metadata__");
    return fallback;
  }
  const std::optional<T> v = parse_metadata_number<T>(it->second);
  if (!v) throw ConfigError(fmt::format("checkpoint metadata '{}' = '{}' is not a number", key, it->second));
  return *v;
}
}  // namespace

ModelConfig ModelConfig::from_metadata(const std::map<std::string, std::string>& meta) {
  auto it = meta.find("arch");
  if (it == meta.end())
    throw ConfigError("checkpoint metadata lacks the key 'arch'",
                      "a generator checkpoint needs arch, img_size, channels and latent_dim in __metadata__");
  if (it->second != "seed" && it->second != "dcgan")
    throw ConfigError(fmt::format("checkpoint metadata arch = '{}': must be 'seed' or 'dcgan'", it->second));
  ModelConfig c = defaults(it->second);
  c.img_size = parse_num<int>(meta, "img_size", c.img_size, true);
  c.channels = parse_num<int>(meta, "channels", c.channels, true);
  c.latent_dim = parse_num<int>(meta, "latent_dim", c.latent_dim, true);
  c.ngf = parse_num<int>(meta, "ngf", c.ngf, false);
  c.ndf = parse_num<int>(meta, "ndf", c.ndf, false);
  c.kernel = parse_num<int>(meta, "kernel", c.kernel, false);
  c.g_bn_eps = parse_num<float>(meta, "g_bn_eps", c.g_bn_eps, false);
  c.d_bn_eps = parse_num<float>(meta, "d_bn_eps", c.d_bn_eps, false);
  c.bn_momentum = parse_num<float>(meta, "bn_momentum", c.bn_momentum, false);
  c.validate();
  return c;
}

std::string ModelConfig::summary() const {
  return fmt::format("{} {}x{}x{}, latent {}, ngf {}, ndf {}, kernel {}", arch, img_size, img_size,
                     channels, latent_dim, ngf, ndf, kernel);
}

}  // namespace dcgan
