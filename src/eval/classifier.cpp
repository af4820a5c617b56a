// The evaluation feature network: build, train, save, load, run (include/dcgan/eval/classifier.hpp).
// Legend: N batch, C channels, S image size, D feature_dim, K num_classes.
#include "dcgan/eval/classifier.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numbers>

#include "dcgan/data/loader.hpp"
#include "dcgan/error.hpp"
#include "dcgan/eval/metrics.hpp"
#include "dcgan/io/atomic_file.hpp"
#include "dcgan/io/safetensors.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "dcgan/nn/layers.hpp"
#include "dcgan/ops/cross_entropy.hpp"
#include "dcgan/optim/adam.hpp"

namespace fs = std::filesystem;

namespace dcgan::eval {

namespace {

constexpr const char* kFormatVersion = "1";

int parse_int(const std::map<std::string, std::string>& meta, const char* key) {
  auto it = meta.find(key);
  if (it == meta.end())
    throw ConfigError(fmt::format("classifier metadata has no '{}'", key),
                      "classifier files carry img_size, channels, width, feature_dim and num_classes "
                      "in __metadata__ (dcgan train-classifier writes them)");
  try {
    size_t used = 0;
    int v = std::stoi(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    throw ConfigError(fmt::format("classifier metadata '{}' = '{}' is not an integer", key, it->second));
  }
}

std::string idx(const char* prefix, int i) { return std::string(prefix) + "." + std::to_string(i); }

uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}


// The images ids[0], ids[1], ... of ds (with their labels) copied into a new Dataset.
Dataset subset(const Dataset& ds, const std::vector<int64_t>& ids, const std::string& what) {
  Dataset out;
  out.channels = ds.channels;
  out.height = ds.height;
  out.width = ds.width;
  out.source = ds.source;
  out.description = what;
  out.n = int64_t(ids.size());
  const int64_t B = ds.image_bytes();
  out.pixels.resize(size_t(out.n * B));
  for (int64_t i = 0; i < out.n; ++i) std::memcpy(out.pixels.data() + i * B, ds.image(ids[i]), size_t(B));
  if (!ds.labels.empty()) {
    out.labels.resize(ids.size());
    for (int64_t i = 0; i < out.n; ++i) out.labels[i] = ds.labels[ids[i]];
  }
  return out;
}

// Random shifts (and flips) of every image of a batch, in place. The draws depend only on
// (seed, epoch, index_in_epoch): reproducible whatever the threads.
// out[c, y, x] = in[c, y - dy, x'] with x' = flip ? S - 1 - (x - dx) : x - dx; -1 outside.
void augment(Batch& b, uint64_t seed, int shift, bool flip, std::vector<float>& scratch) {
  const int64_t N = b.images.dim(0), C = b.images.dim(1), H = b.images.dim(2), W = b.images.dim(3);
  Rng rng(mix64(seed ^ mix64(uint64_t(b.epoch) * 0x100000001b3ULL + uint64_t(b.index_in_epoch) + 7)));
  scratch.resize(size_t(C * H * W));
  for (int64_t n = 0; n < N; ++n) {
    const int dy = shift > 0 ? int(rng.below(uint64_t(2 * shift + 1))) - shift : 0;
    const int dx = shift > 0 ? int(rng.below(uint64_t(2 * shift + 1))) - shift : 0;
    const bool f = flip && rng.below(2) == 1;
    if (dy == 0 && dx == 0 && !f) continue;
    float* img = b.images.data() + n * C * H * W;
    std::memcpy(scratch.data(), img, scratch.size() * sizeof(float));
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t sy = y - dy, sx0 = x - dx, sx = f ? W - 1 - sx0 : sx0;
          const bool in = sy >= 0 && sy < H && sx0 >= 0 && sx0 < W;
          img[(c * H + y) * W + x] = in ? scratch[size_t((c * H + sy) * W + sx)] : -1.f;
        }
  }
}

// Accuracy of `net` (eval mode) on all of ds, in batches.
double accuracy(ClassifierNet& net, const Dataset& ds, int64_t batch = 250) {
  const int64_t B = ds.image_bytes(), K = net.config.num_classes;
  int64_t correct = 0;
  std::vector<int64_t> labels;
  for (int64_t s = 0; s < ds.n; s += batch) {
    const int64_t n = std::min(batch, ds.n - s);
    Tensor x({n, ds.channels, ds.height, ds.width});
    pixels_to_unit(ds.image(s), n * B, x.data());
    const Tensor& f = net.features->forward(x, Mode::eval);
    const Tensor& logits = net.head->forward(f, Mode::eval);
    labels.assign(ds.labels.begin() + s, ds.labels.begin() + s + n);
    correct += ops::count_correct(n, K, logits.data(), labels.data());
  }
  return double(correct) / double(ds.n);
}

// Measures feature_mean / feature_std (eval mode) on the first min(N, 10000) images of ds
// (unaugmented); a dimension with std < 1e-6 (dead) keeps scale 1.
void standardise(ClassifierNet& net, const Dataset& ds) {
  const int64_t n_use = std::min<int64_t>(ds.n, 10000), B = 250, per = ds.image_bytes();
  const int64_t D = net.config.feature_dim;
  FeatureStats stats(D);
  for (int64_t s = 0; s < n_use; s += B) {
    const int64_t n = std::min(B, n_use - s);
    Tensor x({n, ds.channels, ds.height, ds.width});
    pixels_to_unit(ds.image(s), n * per, x.data());
    stats.add(net.features->forward(x, Mode::eval));
  }
  net.feature_mean = Tensor({D});
  net.feature_std = Tensor({D}, 1.f);
  std::vector<double> cov = n_use >= 2 ? stats.covariance() : std::vector<double>(size_t(D * D), 1.0);
  for (int64_t j = 0; j < D; ++j) {
    net.feature_mean[j] = float(stats.mean()[j]);
    const double sd = std::sqrt(std::max(cov[size_t(j * D + j)], 0.0));
    net.feature_std[j] = sd >= 1e-6 ? float(sd) : 1.f;
  }
}

std::vector<fs::path> ancestors_of_exe_dir() {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return out;
  for (fs::path d = p.parent_path(); !d.empty(); d = d.parent_path()) {
    out.push_back(d);
    if (d == d.root_path()) break;
  }
  return out;
}

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

// ---- training --------------------------------------------------------------------------------

ClassifierTrainResult train_classifier(const ClassifierTrainOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.out.empty()) throw ConfigError("train-classifier: no output file", "give --out FILE.safetensors");
  prepare_output_file(opt.out);  // a bad --out fails now, not after the training
  if (opt.epochs < 1) throw ConfigError(fmt::format("invalid option --epochs {}: must be >= 1", opt.epochs));
  if (opt.batch_size < 2) throw ConfigError(fmt::format("invalid option --batch-size {}: must be >= 2", opt.batch_size));
  if (!(opt.lr > 0)) throw ConfigError(fmt::format("invalid option --lr {}: must be > 0", opt.lr));
  if (opt.limit < 0) throw ConfigError(fmt::format("invalid option --limit {}: must be >= 0 (0: all images)", opt.limit));
  if (!(opt.weight_decay >= 0 && std::isfinite(opt.weight_decay)))
    throw ConfigError(fmt::format("invalid option --weight-decay {}: must be a finite number >= 0", opt.weight_decay));
  if (opt.shift < 0 || opt.shift > opt.img_size / 2)
    throw ConfigError(fmt::format("invalid option --shift {}: must be 0 .. {}", opt.shift, opt.img_size / 2));
  ClassifierConfig cfg;
  cfg.img_size = opt.img_size;
  cfg.channels = opt.channels;
  cfg.width = opt.width;
  cfg.feature_dim = opt.feature_dim;
  cfg.num_classes = 2;  // checked again with the real count below
  cfg.validate();

  auto say = [&](const std::string& s) {
    if (!opt.quiet) {
      std::fputs(s.c_str(), stdout);
      std::fflush(stdout);
    }
  };
  ClassifierTrainResult res;
  DataSpec spec{opt.data, opt.img_size, opt.channels, false, "train"};
  Dataset train = load_dataset(spec);
  if (train.labels.empty())
    throw ConfigError(fmt::format("train-classifier: {} has no labels", train.source),
                      "the feature network is trained to classify; give a labelled source (fashion-mnist, "
                      "mnist, a CIFAR-10 folder, IDX images with their labels file), or bring your own "
                      "network with dcgan eval --features FILE (see docs/evaluation.md)");
  spec.split = "test";
  Dataset test = load_dataset(spec);
  if (test.source == train.source || test.labels.empty()) {
    // No separate test split: hold out a seeded 10 % of the images.
    std::vector<int64_t> perm(size_t(train.n));
    for (int64_t i = 0; i < train.n; ++i) perm[i] = i;
    Rng(mix64(opt.seed ^ 0x7e57ULL)).shuffle(perm.begin(), perm.end());
    const int64_t n_test = std::max<int64_t>(1, train.n / 10);
    std::vector<int64_t> te(perm.begin(), perm.begin() + n_test), tr(perm.begin() + n_test, perm.end());
    std::sort(te.begin(), te.end());
    std::sort(tr.begin(), tr.end());
    test = subset(train, te, "held-out 10 %");
    train = subset(train, tr, "training 90 %");
    res.held_out = "a seeded 10 % of the images (the source has no test split)";
  } else {
    res.held_out = "the test split";
  }
  if (opt.limit > 0 && opt.limit < train.n) {
    std::vector<int64_t> first(size_t(opt.limit));
    for (int64_t i = 0; i < opt.limit; ++i) first[i] = i;
    train = subset(train, first, "limited");
  }
  int max_label = 0;
  for (uint8_t l : train.labels) max_label = std::max<int>(max_label, l);
  for (uint8_t l : test.labels) max_label = std::max<int>(max_label, l);
  cfg.num_classes = std::max(2, max_label + 1);
  cfg.validate();
  res.train_images = train.n;
  res.test_images = test.n;
  res.num_classes = cfg.num_classes;
  const int64_t batch = std::min<int64_t>(opt.batch_size, train.n);
  if (batch < 2) throw ConfigError("train-classifier: need at least 2 training images");

  ClassifierNet net = build_classifier(cfg);
  Rng rng(opt.seed);
  net.reset_parameters(rng);
  res.num_params = net.num_params();
  AdamOptions ao;
  ao.lr = opt.lr;
  ao.beta1 = 0.9;
  ao.beta2 = 0.999;
  ao.weight_decay = opt.weight_decay;
  Adam adam_f(net.features->num_params(), ao), adam_h(net.head->num_params(), ao);

  const bool flip = opt.flip < 0 ? dataset_key(opt.data) != "mnist" : opt.flip != 0;
  LoaderOptions lo;
  lo.batch_size = batch;
  lo.seed = opt.seed;
  lo.shuffle = true;
  lo.drop_last = true;
  // Augmentation runs on this thread, on a copy of each batch: done by the loader's worker (on_batch)
  // it ran 10x slower, starved by the OpenMP threads spinning on both cores between kernels.
  const bool augmenting = opt.shift > 0 || flip;
  const uint64_t aseed = mix64(opt.seed + 0xa06ULL);
  Batch aug;
  std::vector<float> scratch;
  BatchLoader loader(train, lo);
  const int64_t per_epoch = loader.batches_per_epoch(), total = per_epoch * opt.epochs;
  say(fmt::format("train-classifier: {} training images, held out: {} ({} images), {} classes\n"
                  "  network {}: {} parameters; {} epochs x {} steps of {}, Adam lr {} (cosine decay), "
                  "shift {} px{}\n",
                  train.n, res.held_out, test.n, cfg.num_classes, cfg.summary(), res.num_params, opt.epochs,
                  per_epoch, batch, opt.lr, opt.shift, flip ? ", horizontal flips" : ""));

  const int64_t K = cfg.num_classes;
  Tensor dlogits({batch, K});
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  int64_t step = 0;
  for (int e = 0; e < opt.epochs; ++e) {
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    const auto te0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < per_epoch; ++s, ++step) {
      // Cosine decay: lr_t = lr (1 + cos(pi t / T)) / 2, t = step index (0 .. T - 1).
      const double lr_t = opt.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * double(step) / double(total)));
      adam_f.options.lr = adam_h.options.lr = lr_t;
      const Batch* bp = &loader.next();
      if (augmenting) {
        aug.epoch = bp->epoch;
        aug.index_in_epoch = bp->index_in_epoch;
        aug.images.resize(bp->images.shape());
        aug.images.copy_from(bp->images);
        augment(aug, aseed, opt.shift, flip, scratch);
        aug.labels = bp->labels;
        bp = &aug;
      }
      const Batch& b = *bp;
      for (int64_t i = 0; i < batch; ++i) labels[i] = b.labels[i];
      net.features->zero_grad();
      net.head->zero_grad();
      const Tensor& f = net.features->forward(b.images, Mode::train);
      const Tensor& logits = net.head->forward(f, Mode::train);
      const float loss = ops::cross_entropy_forward(batch, K, logits.data(), labels.data());
      correct += ops::count_correct(batch, K, logits.data(), labels.data());
      ops::cross_entropy_backward(batch, K, logits.data(), labels.data(), 1.f, dlogits.data());
      const Tensor& df = net.head->backward(dlogits, /*want_dx=*/true);
      net.features->backward(df, /*want_dx=*/false);
      adam_f.step(net.features->param_values().data(), net.features->param_grads().data());
      adam_h.step(net.head->param_values().data(), net.head->param_grads().data());
      loss_sum += loss;
      seen += batch;
      if (!opt.quiet && ((s + 1) % 100 == 0 || s + 1 == per_epoch)) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - te0).count();
        say(fmt::format("  epoch {}/{} step {:>4}/{}  loss {:.4f}  train acc {:5.2f} %  lr {:.2e}  {:.0f} img/s\n",
                        e + 1, opt.epochs, s + 1, per_epoch, loss_sum / double(s + 1),
                        100.0 * double(correct) / double(seen), lr_t, double(seen) / std::max(secs, 1e-9)));
      }
    }
    res.train_accuracy = double(correct) / double(std::max<int64_t>(seen, 1));
    if (!opt.quiet && (e + 1 < opt.epochs)) say(fmt::format("  epoch {}/{}: held-out accuracy {:.2f} %\n", e + 1,
                                                            opt.epochs, 100.0 * accuracy(net, test)));
  }
  res.test_accuracy = accuracy(net, test);
  standardise(net, train);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::map<std::string, std::string> meta{
      {"dataset", dataset_key(opt.data)},
      {"data", opt.data},
      {"test_accuracy", fmt::format("{:.6f}", res.test_accuracy)},
      {"held_out", res.held_out},
      {"train_images", std::to_string(res.train_images)},
      {"test_images", std::to_string(res.test_images)},
      {"epochs", std::to_string(opt.epochs)},
      {"batch_size", std::to_string(batch)},
      {"lr", fmt::format("{}", opt.lr)},
      {"weight_decay", fmt::format("{}", opt.weight_decay)},
      {"shift", std::to_string(opt.shift)},
      {"flip", flip ? "1" : "0"},
      {"seed", std::to_string(opt.seed)},
      {"seconds", fmt::format("{:.1f}", res.seconds)}};
  if (!opt.command.empty()) meta["command"] = opt.command;
  net.save(opt.out, meta);
  return res;
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
  for (const fs::path& d : ancestors_of_exe_dir()) out.push_back((d / "models").string());
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
