// Evaluation pipeline (src/eval/evaluator.hpp): images -> features -> metrics, streamed.
// Legend: N images, C channels, S image size, D feature dimension, L latent size, B batch.
#include "eval/evaluator.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "dcgan/error.hpp"
#include "core/rng.hpp"

namespace dcgan::eval {

FeatureSet::FeatureSet(int64_t dim, int64_t max_kept, uint64_t seed) : stats_(dim), kept_(dim, max_kept, seed) {}

void FeatureSet::add(const Tensor& features) {
  DCGAN_CHECK(features.ndim() == 2 && features.dim(1) == dim(), "[FeatureSet] expected features (N, {}), got {}",
              dim(), shape_str(features.shape()));
  add(features.data(), features.dim(0));
}

void FeatureSet::add(const float* features, int64_t n) {
  stats_.add(features, n);
  kept_.add(features, n);
}

namespace {

void check_fits(const FeatureNet& net, int64_t C, int64_t H, int64_t W, const std::string& what) {
  DCGAN_CHECK(net.loaded(), "[eval] the feature network is not loaded");
  if (C != net.channels || H != net.img_size || W != net.img_size)
    throw ConfigError(fmt::format("[eval] {} are {}x{}x{} images, but the feature network {} takes {}x{}x{}", what,
                                  W, H, C, net.path, net.img_size, net.img_size, net.channels),
                      "use a feature network for this image size (dcgan train-classifier --img-size S "
                      "--channels C), or load the images at the network's size");
}

}  // namespace

void add_dataset(FeatureSet& set, const FeatureNet& net, const Dataset& ds, int64_t limit, const Progress& progress) {
  check_fits(net, ds.channels, ds.height, ds.width, "the dataset's images (" + ds.source + ")");
  const int64_t N = limit > 0 ? std::min(limit, ds.n) : ds.n;
  const int64_t per = ds.image_bytes(), D = net.feature_dim, B = std::max<int64_t>(1, net.batch_size);
  const int64_t rows = std::max<int64_t>(1, std::min(B, N));
  std::vector<float> x(size_t(rows * per)), f(size_t(rows * D));
  for (int64_t s = 0; s < N; s += B) {
    const int64_t n = std::min(B, N - s);
    const uint8_t* px = ds.image(s);
    pixels_to_unit(px, n * per, x.data());
    net.features(x.data(), n, f.data());
    set.add(f.data(), n);
    if (progress) progress(s + n, N);
  }
}

void add_images(FeatureSet& set, const FeatureNet& net, const Tensor& images, const Progress& progress) {
  if (images.ndim() != 4)
    throw Error(fmt::format("[eval] images must be (N, C, H, W), got {}", shape_str(images.shape())));
  check_fits(net, images.dim(1), images.dim(2), images.dim(3), "the images");
  const int64_t N = images.dim(0), per = images.numel() / std::max<int64_t>(N, 1), D = net.feature_dim;
  const int64_t B = std::max<int64_t>(1, net.batch_size);
  std::vector<float> f(size_t(std::max<int64_t>(1, std::min(B, N)) * D));
  for (int64_t s = 0; s < N; s += B) {
    const int64_t n = std::min(B, N - s);
    net.features(images.data() + s * per, n, f.data());
    set.add(f.data(), n);
    if (progress) progress(s + n, N);
  }
}

void add_generated(FeatureSet& set, const FeatureNet& net, Sequential& generator, int latent_dim, int64_t n,
                   uint64_t seed, int64_t batch_size, const Progress& progress) {
  DCGAN_CHECK(n >= 0, "[eval] negative sample count {}", n);
  DCGAN_CHECK(latent_dim > 0, "[eval] latent_dim must be positive, got {}", latent_dim);
  const int64_t B = std::max<int64_t>(1, batch_size), L = latent_dim, D = net.feature_dim;
  Rng rng(seed);
  Tensor z({B, L});
  std::vector<float> f(size_t(B * D));
  for (int64_t s = 0; s < n; s += B) {
    const int64_t m = std::min(B, n - s);
    // Row after row from one Rng: the first n rows equal ImageGenerator::random_latents(n, seed).
    for (int64_t i = 0; i < B * L; ++i) z[i] = rng.normal();
    const Tensor& img = generator.forward(z, Mode::eval);
    if (s == 0) {
      if (img.ndim() != 4)
        throw Error(fmt::format("[eval] the generator's output has shape {}, expected images (N, C, H, W)",
                                shape_str(img.shape())));
      check_fits(net, img.dim(1), img.dim(2), img.dim(3), "the generator's outputs");
    }
    net.features(img.data(), m, f.data());
    set.add(f.data(), m);
    if (progress) progress(s + m, n);
  }
}

MetricsReport compute_metrics(const FeatureSet& real, const FeatureSet& fake, const MetricsOptions& opt) {
  DCGAN_CHECK(real.dim() == fake.dim(), "[eval] feature sizes differ: real {} vs fake {}", real.dim(), fake.dim());
  for (const auto* s : {&real, &fake}) {
    const char* which = s == &real ? "reference (real)" : "generated";
    if (s->count() < 2 || s->kept().size() < opt.k + 1)
      throw Error(fmt::format("[eval] the {} set has {} images; the metrics need at least {}", which, s->count(),
                              std::max<int64_t>(2, opt.k + 1)),
                  "evaluate more images (-n); FID is only meaningful with thousands");
  }
  MetricsReport r;
  r.fid = frechet_distance(real.stats(), fake.stats());
  KidOptions ko;
  ko.n_subsets = opt.kid_subsets;
  ko.subset_size = opt.kid_subset_size;
  ko.seed = opt.seed;
  r.kid = kernel_inception_distance(real.kept().features(), fake.kept().features(), ko);
  r.pr = precision_recall(real.kept().features(), fake.kept().features(), opt.k);
  r.n_real = real.count();
  r.n_fake = fake.count();
  r.kept_real = real.kept().size();
  r.kept_fake = fake.kept().size();
  r.kid_subsets = opt.kid_subsets;
  r.k = opt.k;
  return r;
}

FidEvaluator::FidEvaluator(const FeatureNet& net, const Dataset& real, int64_t n_samples, uint64_t seed,
                           int64_t batch_size)
    : net_(&net), real_(net.feature_dim), n_(n_samples), seed_(seed), batch_(std::max<int64_t>(1, batch_size)) {
  if (n_samples < 2) throw ConfigError(fmt::format("[FID] needs at least 2 generated samples, got {}", n_samples));
  if (real.n < 2) throw ConfigError(fmt::format("[FID] needs at least 2 real images, got {}", real.n));
  check_fits(net, real.channels, real.height, real.width, "the real images (" + real.source + ")");
  FeatureSet set(net.feature_dim, 1, seed);  // FID needs only the statistics; the one-row reservoir is unused
  add_dataset(set, net, real);
  real_ = set.stats();
}

double FidEvaluator::fid(Sequential& generator, int latent_dim) {
  const auto t0 = std::chrono::steady_clock::now();
  FeatureSet fake(net_->feature_dim, 1, seed_);  // the one-row reservoir is unused
  add_generated(fake, *net_, generator, latent_dim, n_, seed_, batch_);
  const double d = frechet_distance(real_, fake.stats());
  last_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return d;
}

}  // namespace dcgan::eval
