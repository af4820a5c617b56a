// evaluate_generator / evaluate_sets: what `dcgan eval` does, as library calls (eval/evaluate.hpp).
#include "dcgan/eval/evaluate.hpp"
#include "eval/evaluator.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <tuple>

#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "dcgan/data/dataset.hpp"
#include "dcgan/error.hpp"
#include "dcgan/io/npy.hpp"
#include "io/safetensors.hpp"
#include "models/checkpoint_io.hpp"

namespace fs = std::filesystem;

namespace dcgan::eval {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string size_str(int64_t s, int64_t c) { return fmt::format("{}x{}x{}", s, s, c); }

void say(const EvalOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

Progress progress_of(const EvalOptions& o, const std::string& stage) {
  return o.progress ? o.progress(stage) : Progress{};
}

// A network trained on other images than `data` would measure them with features that were
// never taught to tell them apart: refused when both sides are known.
void check_domain(const FeatureNet& net, const std::string& data) {
  auto it = net.metadata.find("dataset");
  if (data.empty() || it == net.metadata.end() || it->second.empty()) return;
  if (it->second == dataset_key(data)) return;
  throw ConfigError(fmt::format("the feature network {} was trained on '{}' images, but the images to score are "
                                "'{}' (--data {}): its features do not measure this kind of image",
                                net.path, it->second, dataset_key(data), data),
                    feature_net_hint(data, net.img_size, net.channels));
}

// The images' own channel count must be the network's: scoring colour images with a gray network
// (or gray ones replicated into a colour network) measures something else without saying so.
void check_channels(const FeatureNet& net, int image_channels, const std::string& set, const std::string& what) {
  if (image_channels == net.channels) return;
  auto kind = [](int c) { return c == 1 ? "gray" : "colour"; };
  throw ConfigError(fmt::format("{} ({}) holds {} images, but the feature network {} takes {} images",
                                set, what, kind(image_channels), net.path, kind(net.channels)),
                    fmt::format("give --features with a network trained on {} images of this kind (dcgan "
                                "train-classifier --channels {} on labelled data), or --data naming their "
                                "dataset", kind(image_channels), image_channels));
}

// Float NCHW images from an .npy, or nullopt when the file is another kind of .npy (uint8, NHWC,
// (N, H, W)) that load_dataset should convert.
std::optional<Tensor> read_float_images(const std::string& path) {
  if (!is_npy_file(path)) return std::nullopt;
  Tensor t;
  try {
    t = read_npy(path);
  } catch (const FileError&) {
    return std::nullopt;  // not float32/float64: load_dataset reads uint8 arrays (and reports real damage)
  }
  if (t.ndim() != 4 || (t.dim(1) != 1 && t.dim(1) != 3)) return std::nullopt;
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!(t[i] >= -1.0001f && t[i] <= 1.0001f))  // NaN fails too
      throw FileError(path, fmt::format("value {} at index {} is outside [-1, 1]", t[i], i),
                      "image arrays are float32 (N, C, H, W) in [-1, 1], as written by dcgan sample --npy");
  return t;
}

// How a loaded real set is described: its split only when the source has one.
std::string describe_real(const std::string& data, const std::string& split, const Dataset& ds, bool has_split) {
  if (has_split) return fmt::format("{} ({} split, {} images: {})", data, split, ds.n, ds.source);
  return fmt::format("{} (all {} images: {} has no held-out split{})", data, ds.n, ds.source,
                     split == "test" ? ", so these include any images a generator was trained on" : "");
}

// The metrics between the two sets, and what the report says of the network and the options.
void finish(EvalReport& rep, const FeatureSet& real, const FeatureSet& fake, const FeatureNet& net,
            const EvalOptions& o, std::chrono::steady_clock::time_point t0) {
  const auto t = std::chrono::steady_clock::now();
  MetricsOptions mo = o.metrics;
  mo.seed = o.seed;
  rep.metrics = compute_metrics(real, fake, mo);
  say(o, fmt::format("  metrics: {:.1f} s", seconds_since(t)));
  rep.feature_net = net.path;
  rep.feature_dim = net.feature_dim;
  rep.feature_net_about = net.describe();
  if (auto it = net.metadata.find("dataset"); it != net.metadata.end()) rep.feature_net_dataset = it->second;
  rep.seed = o.seed;
  rep.seconds = seconds_since(t0);
}

}  // namespace

void validate(const EvalOptions& o) {
  if (o.n < 1) throw ConfigError(fmt::format("invalid option -n {}: must be >= 1", o.n));
  if (o.batch_size < 1) throw ConfigError(fmt::format("invalid option --batch-size {}: must be >= 1", o.batch_size));
  if (o.max_kept < 2) throw ConfigError(fmt::format("invalid option --max-kept {}: must be >= 2", o.max_kept));
  if (o.metrics.k < 1) throw ConfigError(fmt::format("invalid option -k {}: must be >= 1", o.metrics.k));
  if (o.metrics.kid_subsets < 1)
    throw ConfigError(fmt::format("invalid option --kid-subsets {}: must be >= 1", o.metrics.kid_subsets));
  if (o.metrics.kid_subset_size < 2)
    throw ConfigError(fmt::format("invalid option --kid-subset-size {}: must be >= 2", o.metrics.kid_subset_size));
  if (o.split != "test" && o.split != "train")
    throw ConfigError(fmt::format("invalid option --split {}: must be test or train", o.split));
}

EvalReport evaluate_generator(const std::string& checkpoint, const EvalOptions& o) {
  validate(o);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string ckpt = find_checkpoint(checkpoint);
  LoadedGenerator g = load_generator(ckpt);
  const int S = g.config.img_size, C = g.config.channels;
  const std::string data = !o.data.empty() ? o.data : g.meta.training ? g.meta.training->config.data : "";
  if (data.empty())
    throw ConfigError(fmt::format("{} does not record the data it was trained on (no train_config in its metadata)",
                                  ckpt),
                      "name the real images to compare with: --data fashion-mnist | mnist | a folder | ...");
  FeatureNet net(find_feature_net(o.features, data, S, C));
  net.batch_size = o.batch_size;
  check_domain(net, data);
  const SourceInfo info = probe_source(data);
  say(o, fmt::format("dcgan eval: {} generated images ({}, {}, seed {}) vs {}", o.n, ckpt, g.config.summary(),
                     o.seed, info.has_test_split ? fmt::format("the {} split of {}", o.split, data)
                                                 : fmt::format("all images of {} (it has no held-out split)", data)));
  EvalReport rep;
  auto t = std::chrono::steady_clock::now();
  Dataset ds = load_dataset(DataSpec{data, S, C, false, o.split});
  const double t_load = seconds_since(t);
  t = std::chrono::steady_clock::now();
  FeatureSet real(net.feature_dim, o.max_kept, o.seed ^ 0x5eedULL);
  add_dataset(real, net, ds, 0, progress_of(o, "real images"));
  rep.real = describe_real(data, o.split, ds, info.has_test_split);
  say(o, fmt::format("  real: {} images from {} (loaded in {:.1f} s, features {:.1f} s)", ds.n, ds.source, t_load,
                     seconds_since(t)));
  t = std::chrono::steady_clock::now();
  FeatureSet fake(net.feature_dim, o.max_kept, o.seed ^ 0xfa4eULL);
  add_generated(fake, net, *g.net, g.config.latent_dim, o.n, o.seed, std::min<int64_t>(o.batch_size, o.n),
                progress_of(o, "generated images"));
  rep.fake = fmt::format("{} (n {}, seed {})", ckpt, o.n, o.seed);
  say(o, fmt::format("  generated: {} images and their features in {:.1f} s", o.n, seconds_since(t)));
  finish(rep, real, fake, net, o, t0);
  return rep;
}

EvalReport evaluate_sets(const std::string& a, const std::string& b, const EvalOptions& o) {
  validate(o);
  const auto t0 = std::chrono::steady_clock::now();
  if (o.data.empty() && o.features.empty())
    throw ConfigError("two image sets: no feature network named (the kind of images decides which one suits them)",
                      "give --data naming their dataset (which finds models/<data>-classifier.safetensors), or "
                      "--features FILE");
  std::optional<Tensor> fa = read_float_images(a), fb = read_float_images(b);
  std::string path;
  if (fa || fb) {  // a float array fixes the size the network must take
    const Tensor& t = fa ? *fa : *fb;
    if (t.dim(2) != t.dim(3))
      throw FileError(fa ? a : b, fmt::format("images are {}x{}; the feature networks take square images", t.dim(3),
                                              t.dim(2)));
    path = find_feature_net(o.features, o.data, int(t.dim(2)), int(t.dim(1)));
  } else if (!o.features.empty()) {
    path = o.features;
  } else {
    for (const auto& c : default_feature_net_candidates(o.data))
      if (std::error_code ec; fs::is_regular_file(c, ec)) {
        path = c;
        break;
      }
    if (path.empty())
      throw ConfigError(fmt::format("no feature network: no {}-classifier.safetensors found in {}",
                                    dataset_key(o.data), fmt::join(default_feature_net_dirs(), ", ")),
                        feature_net_hint(o.data, 0, 0));
  }
  FeatureNet net(path);
  net.batch_size = o.batch_size;
  check_domain(net, o.data);
  say(o, fmt::format("dcgan eval: {} (reference) vs {}", a, b));

  struct Set {
    std::optional<Tensor> images;  // a float .npy used as is
    Dataset dataset;               // otherwise loaded at the network's size
    std::string description;
  };
  auto load_set = [&](const std::string& p, std::optional<Tensor>& f, const char* name) {
    Set s;
    if (f) {
      check_channels(net, int(f->dim(1)), fmt::format("set {}", name), p);
      if (f->dim(2) != net.img_size || f->dim(3) != net.img_size)
        throw ConfigError(fmt::format("no feature network for {} images in {}: {} takes {} images",
                                      size_str(f->dim(2), f->dim(1)), p, net.path, size_str(net.img_size, net.channels)),
                          "give both sets at the same size, or a network for that size (--features FILE; "
                          "make one with dcgan train-classifier --img-size S --channels C)");
      s.images = std::move(f);
      s.description = fmt::format("{} ({} images)", p, s.images->dim(0));
    } else {
      const SourceInfo info = probe_source(p);
      check_channels(net, info.channels, fmt::format("set {}", name), p);
      s.dataset = load_dataset(DataSpec{p, net.img_size, net.channels, false, o.split});
      s.description = info.has_test_split
                          ? fmt::format("{} ({} split, {} images at {})", p, o.split, s.dataset.n,
                                        size_str(net.img_size, net.channels))
                          : fmt::format("{} (all {} images, at {})", p, s.dataset.n, size_str(net.img_size, net.channels));
    }
    return s;
  };
  Set sa = load_set(a, fa, "a"), sb = load_set(b, fb, "b");
  FeatureSet real(net.feature_dim, o.max_kept, o.seed ^ 0x5eedULL);
  FeatureSet fake(net.feature_dim, o.max_kept, o.seed ^ 0xfa4eULL);
  for (auto [set, s, what] : {std::tuple{&real, &sa, "set a"}, std::tuple{&fake, &sb, "set b"}}) {
    if (s->images) add_images(*set, net, *s->images, progress_of(o, what));
    else add_dataset(*set, net, s->dataset, 0, progress_of(o, what));
  }
  EvalReport rep;
  rep.real = sa.description;
  rep.fake = sb.description;
  rep.real_name = "a";
  rep.fake_name = "b";
  finish(rep, real, fake, net, o, t0);
  return rep;
}

std::string EvalReport::to_json() const {
  nlohmann::json j;
  j["format"] = "dcgan-eval";
  j["format_version"] = 1;
  j["fid"] = metrics.fid;
  j["kid_mean"] = metrics.kid.mean;
  j["kid_std"] = metrics.kid.stddev;
  j["precision"] = metrics.pr.precision;
  j["recall"] = metrics.pr.recall;
  j["n_real"] = metrics.n_real;
  j["n_fake"] = metrics.n_fake;
  j["kept_real"] = metrics.kept_real;
  j["kept_fake"] = metrics.kept_fake;
  j["kid_subsets"] = metrics.kid_subsets;
  j["kid_subset_size"] = metrics.kid.subset_size;
  j["k"] = metrics.k;
  j["seed"] = seed;
  j["real"] = real;
  j["fake"] = fake;
  j["feature_net"] = feature_net;
  j["feature_dim"] = feature_dim;
  if (!feature_net_dataset.empty()) j["feature_net_dataset"] = feature_net_dataset;
  j["seconds"] = seconds;
  return j.dump(2) + "\n";
}

}  // namespace dcgan::eval
