// The feature network the evaluation metrics (FID, KID, precision / recall; eval/metrics.hpp) run
// on: a small CNN classifier trained on the dataset's labels, whose penultimate layer gives the
// features. Inception-v3 features (the published FID) are meaningless on 32x32 gray images and
// not available here; a classifier trained on the same kind of data is the usual substitute
// (e.g. the "FID on MNIST with a LeNet" of many GAN papers). Numbers are comparable only between
// evaluations that use the same feature network file. See docs/evaluation.md.
//
// Architecture for S x S x C images (S = 8 * 2^k >= 8), as PyTorch would name it
// (tools/reference/make_reference_eval.py has the identical torch.nn.Module, `Classifier`):
//   features.{0,3,6,...}   Conv2d(c_in, c, 4, stride 2, padding 1, bias=False), c = width * 2^i
//                          capped at 4 * width, until the map is 4 x 4 (log2(S / 4) blocks)
//   features.{1,4,7,...}   BatchNorm2d(c)        (eps 1e-5, momentum 0.1)
//   features.{2,5,8,...}   LeakyReLU(0.2)
//   features.<3m>          Flatten               (N, 16 c)
//   features.<3m+1>        Linear(16 c, feature_dim)       <- the evaluation features (pre-ReLU)
//   classifier.0           ReLU
//   classifier.1           Linear(feature_dim, num_classes)
//   feature_norm.mean, feature_norm.std   (D) standardisation of the features (see below)
// Default (32 x 32 x 1, width 32, feature_dim 64, 10 classes): convs 1->32->64->128, Linear
// 2048->64->10; 296,586 learnable parameters + 448 BatchNorm running statistics + 128
// standardisation values: 1.19 MB as a float32 safetensors file.
//
// Why pre-ReLU features: the Linear output is dense and roughly Gaussian (full-rank covariance);
// after the ReLU about half the entries are exactly 0, which makes the Fréchet distance's
// Gaussian fit poorer. Inception's pool3 is post-ReLU only because it is an average pool.
//
// Standardisation: the evaluation features are f' = (f - mean) / std per dimension, with mean and
// std measured on (up to 10,000 of) the training images after training. Any fixed affine map
// keeps FID a distance, but this puts every dimension on the same unit scale, so FID and
// precision / recall weigh dimensions alike and KID's kernel (x.y / D + 1)^3, made for features
// of order 1, stays in its intended range. Files without these two tensors (a PyTorch export,
// the reference files) use the raw features.
//
// File format: one .safetensors with the state_dict above (BatchNorm num_batches_tracked I64),
// feature_norm.*, and __metadata__ kind=classifier, format_version=1, img_size, channels, width,
// feature_dim, num_classes, dataset, test_accuracy (fraction in [0, 1]), plus how it was trained
// (epochs, seed, lr, batch_size, train_images, test_images, command). A PyTorch `Classifier`
// state_dict saved with those metadata keys loads as it is.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dcgan/data/dataset.hpp"
#include "dcgan/tensor.hpp"
#include "core/rng.hpp"
#include "nn/sequential.hpp"

namespace dcgan::eval {

struct ClassifierConfig {
  int img_size = 32;     // S: 8 * 2^k (8, 16, 32, 64, 128, 256)
  int channels = 1;      // C: 1 or 3
  int width = 32;        // channels of the first conv
  int feature_dim = 64;  // D: size of the evaluation features
  int num_classes = 10;

  // Throws ConfigError naming the option.
  void validate() const;
  std::map<std::string, std::string> to_metadata() const;
  // Reads img_size, channels, width, feature_dim, num_classes (all required); ConfigError names
  // the missing or unparsable key.
  static ClassifierConfig from_metadata(const std::map<std::string, std::string>& meta);
  std::string summary() const;  // "32x32x1, width 32, 64 features, 10 classes"
};

// The network as two Sequentials, so that the features are one forward() away:
//   features: (N, C, S, S) in [-1, 1] -> (N, feature_dim)
//   head:     (N, feature_dim) -> (N, num_classes) logits
struct ClassifierNet {
  ClassifierConfig config;
  std::unique_ptr<Sequential> features;
  std::unique_ptr<Sequential> head;
  Tensor feature_mean, feature_std;  // (D) standardisation; empty: raw features

  int64_t num_params() const { return features->num_params() + head->num_params(); }
  // PyTorch's default initialisation of every layer (Conv2d / Linear kaiming-uniform(a = sqrt 5),
  // BatchNorm weight 1, bias 0), drawn from rng in layer order.
  void reset_parameters(Rng& rng);
  // Writes both parts under their state_dict names (no prefix), feature_norm.* when set, plus
  // `meta` and the config metadata.
  void save(const std::string& path, std::map<std::string, std::string> meta);
};

ClassifierNet build_classifier(const ClassifierConfig& cfg, ops::Impl impl = ops::Impl::fast);

// ---------------------------------------------------------------------------------------------
// Training: Adam (betas 0.9, 0.999) with a cosine learning-rate decay to 0 over all steps,
// softmax cross-entropy (ops/cross_entropy.hpp), shuffled batches from BatchLoader, light
// augmentation (random shifts of up to `shift` pixels, filled with the background value -1, and
// optionally horizontal flips), then the accuracy on the held-out split in eval mode.
// Deterministic from the seed for a fixed thread count (init, data order and augmentation all
// come from it).
struct ClassifierTrainOptions {
  std::string data = "fashion-mnist";  // any labelled source load_dataset() reads
  std::string out;                     // .safetensors to write (atomically)
  int img_size = 32;
  int channels = 1;
  int width = 32;
  int feature_dim = 64;
  int epochs = 8;
  int64_t batch_size = 128;
  double lr = 2e-3;
  double weight_decay = 0.0;
  uint64_t seed = 0;
  int shift = 0;                       // random translation in pixels (0: none; 2 cost 0.5 % accuracy at 8-10 epochs)
  int flip = -1;                       // horizontal flips: 1 yes, 0 no, -1 auto (not for "mnist")
  int64_t limit = 0;                   // use only the first `limit` training images (0: all)
  bool quiet = false;                  // no progress lines
  std::string command;                 // recorded in the file's metadata
};

struct ClassifierTrainResult {
  double test_accuracy = 0;   // fraction of held-out images classified correctly
  double train_accuracy = 0;  // on the training batches of the last epoch (augmented, train mode)
  int64_t train_images = 0, test_images = 0;
  int num_classes = 0;
  int64_t num_params = 0;
  double seconds = 0;
  std::string held_out;       // "test split" or "last 10 % of a shuffled copy (no test split)"
};

// Loads the data (labels required: ConfigError with a hint otherwise), trains, evaluates, writes
// opt.out. Sources with a test split (fashion-mnist, mnist, CIFAR-10 directories) are evaluated
// on it; for others a seeded 10 % of the images is held out.
ClassifierTrainResult train_classifier(const ClassifierTrainOptions& opt);

// ---------------------------------------------------------------------------------------------
// FeatureNet: a trained classifier file, ready to turn images into features (eval mode:
// BatchNorm uses its running statistics). Not thread-safe: features() reuses activation buffers.
class FeatureNet {
 public:
  FeatureNet() = default;
  explicit FeatureNet(const std::string& path, ops::Impl impl = ops::Impl::fast) { load(path, impl); }
  // Throws FileError naming the file: unreadable, not kind=classifier, or tensors that do not
  // match the metadata's architecture.
  void load(const std::string& path, ops::Impl impl = ops::Impl::fast);
  bool loaded() const { return net_ != nullptr; }

  int img_size = 0, channels = 0, feature_dim = 0;
  std::string path;                            // the file loaded
  std::map<std::string, std::string> metadata; // its __metadata__ (dataset, test_accuracy, ...)
  int64_t batch_size = 250;                    // images per forward pass

  // images (N, C, S, S) in [-1, 1] -> (N, feature_dim), standardised when the file carries
  // feature_norm.*. Throws Error (with a hint) when the
  // images' size or channels differ from the network's.
  Tensor features(const Tensor& images) const;
  // Same on n images at `images` (n * C * S * S floats); writes n * feature_dim floats to out.
  void features(const float* images, int64_t n, float* out) const;
  // images -> (N, num_classes) logits, for accuracy checks (from the raw features).
  Tensor logits(const Tensor& images) const;
  // Human-readable: "models/x.safetensors (32x32x1 -> 64 features; fashion-mnist, test accuracy 92.1 %)"
  std::string describe() const;
  // "64x64x3 images" style check: true when the network takes S x S x C images.
  bool fits(int size, int ch) const { return img_size == size && channels == ch; }
  bool standardised() const { return net_ && !net_->feature_mean.empty(); }

 private:
  void check_shape(const Tensor& images) const;
  void run(const float* images, int64_t n, float* out, bool standardise) const;
  std::unique_ptr<ClassifierNet> net_;
};

// ---------------------------------------------------------------------------------------------
// Finding a feature network.
// The name a dataset's default network goes by: "fashion-mnist", "mnist", otherwise the last
// component of the path without its extension ("data/cifar-10-batches-bin/" -> "cifar-10-batches-bin").
std::string dataset_key(const std::string& data);
// The folders searched for default networks, in order: $DCGAN_HOME/models, ./models (the current
// directory's, where `dcgan train-classifier --out models/NAME` puts one), then <dir>/models for
// every ancestor dir of the running executable's directory (so build/dcgan finds <repo>/models,
// as the mnist data is found).
std::vector<std::string> default_feature_net_dirs();
// "<key>-classifier.safetensors", or with a size "<key>-SxSxC-classifier.safetensors".
std::string default_feature_net_name(const std::string& data, int img_size = 0, int channels = 0);
// In each folder: the size-specific name (when img_size > 0), then the plain one.
std::vector<std::string> default_feature_net_candidates(const std::string& data, int img_size = 0,
                                                        int channels = 0);
// What to do when no feature network suits `data` at S x S x C (img_size 0: any size): train one
// with `dcgan train-classifier` when the data has labels, and in any case pass --features.
std::string feature_net_hint(const std::string& data, int img_size, int channels);
// The feature network for S x S x C images: `explicit_path` when given (FileError if it is not a
// classifier file or does not fit), else the first default candidate that exists and fits. When
// none does: ConfigError "no feature network for SxSxC images: ..." (naming the misfits or the
// folders searched) whose hint says how to train one (dcgan train-classifier) or pass --features.
std::string find_feature_net(const std::string& explicit_path, const std::string& data, int img_size,
                             int channels);

}  // namespace dcgan::eval
