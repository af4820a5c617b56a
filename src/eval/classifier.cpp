// The evaluation feature network: its configuration, building, saving, loading and running
// (src/eval/classifier.hpp). Training is in classifier_train.cpp, finding the default
// network for a dataset in classifier_find.cpp.
// Legend: N batch, C channels, S image size, D feature_dim, K num_classes.
#include "eval/classifier.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "dcgan/error.hpp"
#include "io/atomic_file.hpp"
#include "io/safetensors.hpp"
#include "models/checkpoint_io.hpp"
#include "nn/layers.hpp"

namespace dcgan::eval {

namespace {

constexpr const char* kFormatVersion = "1";

int parse_int(const std::map<std::string, std::string>& meta, const char* key) {
  auto it = meta.find(key);
  if (it == meta.end())
    throw ConfigError(fmt::format("classifier metadata has no '{}'", key),
                      "classifier files carry img_size, channels, width, feature_dim and num_classes "
                      "in __metadata__ (dcgan train-classifier writes them)");
  const std::optional<int> v = parse_metadata_number<int>(it->second);
  if (!v) throw ConfigError(fmt::format("classifier metadata '{}' = '{}' is not an integer", key, it->second));
  return *v;
}

std::string idx(const char* prefix, int i) { return std::string(prefix) + "." + std::to_string(i); }

}  // namespace

// ---- config --------------------------------------------------------------------------------------

void ClassifierConfig::validate() const {
  const bool pow2 = img_size >= 8 && img_size <= 256 && (img_size & (img_size - 1)) == 0;
  if (!pow2)
    throw ConfigError(fmt::format("invalid option --img-size {}: the classifier takes 8 * 2^k (8 .. 256)", img_size));
  if (channels != 1 && channels != 3)
    throw ConfigError(fmt::format("invalid option --channels {}: must be 1 or 3", channels));
  if (width < 1 || width > 1024) throw ConfigError(fmt::format("invalid option --width {}: must be 1 .. 1024", width));
  if (feature_dim < 2 || feature_dim > 4096)
    throw ConfigError(fmt::format("invalid option --feature-dim {}: must be 2 .. 4096", feature_dim));
  if (num_classes < 2 || num_classes > 256)
    throw ConfigError(fmt::format("the classifier needs 2 .. 256 classes, got {}", num_classes));
}

std::map<std::string, std::string> ClassifierConfig::to_metadata() const {
  return {{"img_size", std::to_string(img_size)},   {"channels", std::to_string(channels)},
          {"width", std::to_string(width)},         {"feature_dim", std::to_string(feature_dim)},
          {"num_classes", std::to_string(num_classes)}};
}

ClassifierConfig ClassifierConfig::from_metadata(const std::map<std::string, std::string>& meta) {
  ClassifierConfig c;
  c.img_size = parse_int(meta, "img_size");
  c.channels = parse_int(meta, "channels");
  c.width = parse_int(meta, "width");
  c.feature_dim = parse_int(meta, "feature_dim");
  c.num_classes = parse_int(meta, "num_classes");
  c.validate();
  return c;
}

std::string ClassifierConfig::summary() const {
  return fmt::format("{}x{}x{}, width {}, {} features, {} classes", img_size, img_size, channels, width,
                     feature_dim, num_classes);
}

// ---- network ---------------------------------------------------------------------------------

ClassifierNet build_classifier(const ClassifierConfig& c, ops::Impl impl) {
  c.validate();
  ClassifierNet net;
  net.config = c;
  net.features = std::make_unique<Sequential>(impl);
  net.head = std::make_unique<Sequential>(impl);
  int64_t c_in = c.channels, ch = c.width;
  int i = 0;
  for (int s = c.img_size; s > 4; s /= 2, i += 3) {
    net.features->add(Conv2d(idx("features", i), c_in, ch, 4, 2, 1, /*bias=*/false));
    net.features->add(std::make_unique<BatchNorm2d>(idx("features", i + 1), ch));
    net.features->add(LeakyReLU(0.2f));
    c_in = ch;
    ch = std::min<int64_t>(ch * 2, 4 * int64_t(c.width));
  }
  net.features->add(std::make_unique<Reshape>(Shape{}));  // features.<i>: Flatten
  net.features->add(std::make_unique<Linear>(idx("features", i + 1), c_in * 16, c.feature_dim));
  net.head->add(ReLU());  // classifier.0
  net.head->add(std::make_unique<Linear>("classifier.1", c.feature_dim, c.num_classes));
  net.features->finalize();
  net.head->finalize();
  return net;
}

void ClassifierNet::reset_parameters(Rng& rng) {
  for (auto& l : features->layers()) l->reset_parameters(rng);
  for (auto& l : head->layers()) l->reset_parameters(rng);
}

void ClassifierNet::save(const std::string& path, std::map<std::string, std::string> meta) {
  SafeTensors st;
  put_network(st, "", *features);
  put_network(st, "", *head);
  if (!feature_mean.empty()) {
    st.put("feature_norm.mean", feature_mean);
    st.put("feature_norm.std", feature_std);
  }
  st.metadata = std::move(meta);
  for (auto& [k, v] : config.to_metadata()) st.metadata[k] = v;
  st.metadata["kind"] = "classifier";
  st.metadata["format_version"] = kFormatVersion;
  st.metadata["feature_layer"] = features->layers().back()->name() + " (Linear, before the ReLU)";
  write_safetensors_atomic(path, st);
}

// ---- FeatureNet ------------------------------------------------------------------------------

void FeatureNet::load(const std::string& file, ops::Impl impl) {
  SafeTensors st = read_safetensors(file);
  const std::string kind = st.meta("kind");
  if (kind != "classifier")
    throw FileError(file, fmt::format("not a feature network (metadata kind = '{}', expected 'classifier')", kind),
                    "make one with: dcgan train-classifier --data DATA --out FILE.safetensors");
  ClassifierConfig cfg;
  try {
    cfg = ClassifierConfig::from_metadata(st.metadata);
  } catch (const ConfigError& e) {
    throw FileError(file, e.what(), e.hint());
  }
  auto net = std::make_unique<ClassifierNet>(build_classifier(cfg, impl));
  load_network(st, "", *net->features);
  load_network(st, "", *net->head);
  if (st.has("feature_norm.mean") || st.has("feature_norm.std")) {
    net->feature_mean = st.get("feature_norm.mean", {cfg.feature_dim});
    net->feature_std = st.get("feature_norm.std", {cfg.feature_dim});
    for (int64_t j = 0; j < cfg.feature_dim; ++j)
      if (!(net->feature_std[j] > 0.f) || !std::isfinite(net->feature_mean[j]))
        throw FileError(file, fmt::format("feature_norm has an invalid entry at {} (std {}, mean {})", j,
                                          net->feature_std[j], net->feature_mean[j]));
  }
  net_ = std::move(net);
  img_size = cfg.img_size;
  channels = cfg.channels;
  feature_dim = cfg.feature_dim;
  path = file;
  metadata = st.metadata;
}

void FeatureNet::features(const float* images, int64_t n, float* out) const {
  DCGAN_CHECK(net_, "[FeatureNet] features() before load()");
  run(images, n, out, /*standardise=*/true);
}

void FeatureNet::run(const float* images, int64_t n, float* out, bool standardise) const {
  const int64_t per = int64_t(channels) * img_size * img_size, D = feature_dim;
  const int64_t bs = std::max<int64_t>(1, batch_size);
  for (int64_t s = 0; s < n; s += bs) {
    const int64_t m = std::min(bs, n - s);
    Tensor x = Tensor::view(const_cast<float*>(images) + s * per, {m, channels, img_size, img_size});
    const Tensor& f = net_->features->forward(x, Mode::eval);
    float* o = out + s * D;
    if (!standardise || net_->feature_mean.empty()) {
      std::memcpy(o, f.data(), size_t(m * D) * sizeof(float));
    } else {
      const float* mu = net_->feature_mean.data();
      const float* sd = net_->feature_std.data();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < D; ++j) o[i * D + j] = (f[i * D + j] - mu[j]) / sd[j];  // f' = (f - mean) / std
    }
  }
}

void FeatureNet::check_shape(const Tensor& images) const {
  DCGAN_CHECK(net_, "[FeatureNet] used before load()");
  if (images.ndim() != 4 || images.dim(1) != channels || images.dim(2) != img_size || images.dim(3) != img_size)
    throw Error(fmt::format("[FeatureNet] images of shape {}, but the feature network {} takes (N, {}, {}, {})",
                            shape_str(images.shape()), path, channels, img_size, img_size),
                "use a feature network trained on images of this size (dcgan train-classifier "
                "--img-size S --channels C), or resize the images");
}

Tensor FeatureNet::features(const Tensor& images) const {
  check_shape(images);
  Tensor out({images.dim(0), int64_t(feature_dim)});
  if (images.dim(0) > 0) features(images.data(), images.dim(0), out.data());
  return out;
}

Tensor FeatureNet::logits(const Tensor& images) const {
  DCGAN_CHECK(net_, "[FeatureNet] logits() before load()");
  check_shape(images);
  Tensor f({images.dim(0), int64_t(feature_dim)});  // the head takes the raw features
  if (images.dim(0) > 0) run(images.data(), images.dim(0), f.data(), /*standardise=*/false);
  const int64_t N = f.dim(0), K = net_->config.num_classes, bs = std::max<int64_t>(1, batch_size);
  Tensor out({N, K});
  for (int64_t s = 0; s < N; s += bs) {
    const int64_t m = std::min(bs, N - s);
    const Tensor& l = net_->head->forward(Tensor::view(f.data() + s * feature_dim, {m, feature_dim}), Mode::eval);
    std::memcpy(out.data() + s * K, l.data(), size_t(m * K) * sizeof(float));
  }
  return out;
}

std::string FeatureNet::describe() const {
  std::string extra;
  auto ds = metadata.find("dataset");
  auto acc = metadata.find("test_accuracy");
  if (ds != metadata.end()) extra += ds->second;
  if (acc != metadata.end()) {
    try {
      extra += fmt::format("{}test accuracy {:.2f} %", extra.empty() ? "" : ", ", 100.0 * std::stod(acc->second));
    } catch (const std::exception&) {
    }
  }
  return fmt::format("{} ({}x{}x{} -> {} features{}{})", path, img_size, img_size, channels, feature_dim,
                     extra.empty() ? "" : "; ", extra);
}

}  // namespace dcgan::eval
