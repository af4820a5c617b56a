// Finding the feature network for a dataset (eval/classifier.hpp): the default names and
// folders, the hint when there is none, and the checks that the one found suits the images.
#include <cstdlib>
#include <filesystem>

#include "dcgan/data/dataset.hpp"
#include "dcgan/error.hpp"
#include "core/paths.hpp"
#include "eval/classifier.hpp"
#include "io/safetensors.hpp"

namespace fs = std::filesystem;

namespace dcgan::eval {

// ---- finding one -----------------------------------------------------------------------------

std::string dataset_key(const std::string& data) {
  if (data == "fashion-mnist" || data == "mnist") return data;
  fs::path p = fs::path(data).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  std::string stem = p.stem().string();
  return stem.empty() ? std::string("data") : stem;
}

std::vector<std::string> default_feature_net_dirs() {
  std::vector<std::string> out;
  if (const char* home = std::getenv("DCGAN_HOME"); home && *home) out.push_back((fs::path(home) / "models").string());
  std::error_code ec;
  if (fs::path cwd = fs::current_path(ec); !ec) out.push_back((cwd / "models").string());
  for (const fs::path& d : executable_ancestors()) out.push_back((d / "models").string());
  return out;
}

std::string default_feature_net_name(const std::string& data, int img_size, int channels) {
  const std::string key = dataset_key(data);
  if (img_size <= 0) return key + "-classifier.safetensors";
  return fmt::format("{}-{}x{}x{}-classifier.safetensors", key, img_size, img_size, channels);
}

std::vector<std::string> default_feature_net_candidates(const std::string& data, int img_size, int channels) {
  std::vector<std::string> out;
  for (const std::string& d : default_feature_net_dirs()) {
    if (img_size > 0) out.push_back((fs::path(d) / default_feature_net_name(data, img_size, channels)).string());
    out.push_back((fs::path(d) / default_feature_net_name(data)).string());
  }
  return out;
}

std::string feature_net_hint(const std::string& data, int img_size, int channels) {
  bool labelled = false;
  try {
    labelled = !data.empty() && probe_source(data).has_labels;
  } catch (const Error&) {  // a source that is not there: no suggestion to train on it
  }
  const std::string size = img_size > 0 ? fmt::format(" --img-size {} --channels {}", img_size, channels) : "";
  if (labelled)
    return fmt::format("train one on these labelled images: dcgan train-classifier --data {}{} --out models/{} "
                       "(found there when dcgan runs from this directory), or pass --features FILE for a network "
                       "you have (see docs/evaluation.md)",
                       data, size, default_feature_net_name(data, img_size, channels));
  return fmt::format("{} has no labels to train a feature network on: pass --features FILE with a network trained "
                     "(dcgan train-classifier{}) on labelled images of the same kind (see docs/evaluation.md)",
                     data.empty() ? "the data" : data, size);
}

std::string find_feature_net(const std::string& explicit_path, const std::string& data, int img_size,
                             int channels) {
  const std::string want = fmt::format("{}x{}x{}", img_size, img_size, channels);
  const std::string key = dataset_key(data);
  const std::string train_hint = feature_net_hint(data, img_size, channels);
  auto config_of = [&](const std::string& p) {
    SafeTensors h = read_safetensors_header(p);
    try {
      if (h.meta("kind") != "classifier")
        throw ConfigError(fmt::format("metadata kind is '{}', not 'classifier'", h.meta("kind")));
      return ClassifierConfig::from_metadata(h.metadata);
    } catch (const ConfigError& e) {
      throw FileError(p, fmt::format("not a feature network: {}", e.what()), train_hint);
    }
  };
  if (!explicit_path.empty()) {
    ClassifierConfig c = config_of(explicit_path);
    if (c.img_size != img_size || c.channels != channels)
      throw FileError(explicit_path,
                      fmt::format("no feature network for {} images: this one takes {}x{}x{} images", want,
                                  c.img_size, c.img_size, c.channels),
                      train_hint);
    return explicit_path;
  }
  std::string misfits;
  for (const std::string& p : default_feature_net_candidates(data, img_size, channels)) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    ClassifierConfig c = config_of(p);
    if (c.img_size == img_size && c.channels == channels) return p;
    misfits += fmt::format("{}{} takes {}x{}x{}", misfits.empty() ? "" : "; ", p, c.img_size, c.img_size, c.channels);
  }
  if (!misfits.empty())
    throw ConfigError(fmt::format("no feature network for {} images: the default for '{}' ({})", want, key, misfits),
                      train_hint);
  std::string dirs;
  for (const std::string& d : default_feature_net_dirs()) dirs += (dirs.empty() ? "" : ", ") + d;
  throw ConfigError(fmt::format("no feature network for {} images: neither {} nor {} in {}", want,
                                default_feature_net_name(data, img_size, channels), default_feature_net_name(data),
                                dirs.empty() ? "any models/ folder" : dirs),
                    train_hint);
}

}  // namespace dcgan::eval
