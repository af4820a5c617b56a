// dcgan train-classifier: training the evaluation feature network (eval/classifier.hpp).
// Legend: N batch, C channels, S image size, D feature_dim, K num_classes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>

#include "dcgan/error.hpp"
#include "core/rng.hpp"
#include "data/loader.hpp"
#include "eval/classifier.hpp"
#include "eval/metrics.hpp"
#include "io/atomic_file.hpp"
#include "ops/cross_entropy.hpp"
#include "optim/adam.hpp"

namespace dcgan::eval {

namespace {

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

}  // namespace

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
                      "mnist, emoji, a CIFAR-10 folder, IDX images with their labels file), or bring your own "
                      "network with dcgan eval --features FILE (see docs/evaluation.md)");
  Dataset test;
  if (probe_source(opt.data).has_test_split) {
    spec.split = "test";
    test = load_dataset(spec);
  }
  if (test.labels.empty()) {
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

}  // namespace dcgan::eval
