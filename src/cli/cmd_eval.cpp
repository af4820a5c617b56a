// dcgan eval: FID, KID, precision and recall of a generator against held-out data, or between two
// image sets, in the feature space of a classifier network (eval/classifier.hpp, eval/evaluator.hpp).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <tuple>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "dcgan/error.hpp"
#include "dcgan/eval/classifier.hpp"
#include "dcgan/eval/evaluator.hpp"
#include "dcgan/io/atomic_file.hpp"
#include "dcgan/io/npy.hpp"
#include "dcgan/io/safetensors.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "dcgan/rng.hpp"

namespace fs = std::filesystem;

namespace dcgan::cli {

namespace {

struct EvalOpts {
  std::string ckpt, a, b, data, split = "test", features, json;
  int64_t n = 10000, batch = 250, max_kept = 10000, kid_subsets = 100, kid_subset_size = 1000;
  uint64_t seed = 0;
  int k = 3, threads = 0;
  bool quiet = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One line of progress, rewritten in place on a terminal.
eval::Progress progress_line(const std::string& what, bool quiet) {
  if (quiet) return {};
  const bool tty = isatty(fileno(stdout));
  return [what, tty, last = int64_t(-1)](int64_t done, int64_t total) mutable {
    const int64_t pct = total > 0 ? done * 100 / total : 100;
    if (tty && pct != last) {
      fmt::print("\r  {}: {}/{} ({} %)", what, done, total, pct);
      if (done == total) fmt::print("\n");
      std::fflush(stdout);
    }
    last = pct;
  };
}

// The data a checkpoint was trained on (train_config.data in its metadata), or "".
std::string trained_on(const SafeTensors& header) {
  const std::string tc = header.meta("train_config");
  if (tc.empty()) return "";
  try {
    auto j = nlohmann::json::parse(tc);
    if (j.contains("data") && j["data"].is_string()) return j["data"].get<std::string>();
  } catch (const std::exception&) {
  }
  return "";
}

// An image set given to --a / --b: float (N, C, H, W) .npy in [-1, 1] used as is, anything else
// read by load_dataset at the network's size (its conversions are described in `description`).
struct ImageSet {
  std::optional<Tensor> images;  // (N, C, S, S) in [-1, 1]: a float .npy used as is
  Dataset dataset;               // otherwise: uint8 (N, C, S, S) loaded at the network's size
  std::string description;
};

bool is_npy(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  std::ifstream f(path, std::ios::binary);
  char magic[6] = {};
  f.read(magic, 6);
  return f.gcount() == 6 && std::string(magic, 6) == "\x93NUMPY";
}

// Float NCHW images from an .npy, or nullopt when the file is another kind of .npy (uint8, NHWC,
// (N, H, W)) that load_dataset should convert.
std::optional<Tensor> read_float_images(const std::string& path) {
  if (!is_npy(path)) return std::nullopt;
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

std::string size_str(int64_t s, int64_t c) { return fmt::format("{}x{}x{}", s, s, c); }

// real / fake: what the two sets are called ("real" / "generated", or "a" / "b").
void print_report(const eval::MetricsReport& r, const eval::FeatureNet& net, double secs, const char* real,
                  const char* fake) {
  fmt::print("\n  {:<10} {:>12}   {}\n", "metric", "value", "notes");
  fmt::print("  {:<10} {:>12.4f}   Fréchet distance of the feature Gaussians ({} {}, {} {} images)\n", "FID", r.fid,
             r.n_real, real, r.n_fake, fake);
  fmt::print("  {:<10} {:>12.6f}   ± {:.6f} (std over {} subsets of {})\n", "KID", r.kid.mean, r.kid.stddev,
             r.kid_subsets, r.kid.subset_size);
  fmt::print("  {:<10} {:>12.4f}   share of {} images inside the {} manifold (k = {}; {} / {} images kept)\n",
             "precision", r.pr.precision, fake, real, r.k, r.kept_real, r.kept_fake);
  fmt::print("  {:<10} {:>12.4f}   share of {} images inside the {} manifold\n", "recall", r.pr.recall, real, fake);
  fmt::print("\nfeatures: {}\n{:.1f} s\n", net.describe(), secs);
}

void write_json(const std::string& path, const eval::MetricsReport& r, const eval::FeatureNet& net,
                const EvalOpts& o, const std::string& real_desc, const std::string& fake_desc, double secs) {
  nlohmann::json j;
  j["format"] = "dcgan-eval";
  j["format_version"] = 1;
  j["fid"] = r.fid;
  j["kid_mean"] = r.kid.mean;
  j["kid_std"] = r.kid.stddev;
  j["precision"] = r.pr.precision;
  j["recall"] = r.pr.recall;
  j["n_real"] = r.n_real;
  j["n_fake"] = r.n_fake;
  j["kept_real"] = r.kept_real;
  j["kept_fake"] = r.kept_fake;
  j["kid_subsets"] = r.kid_subsets;
  j["kid_subset_size"] = r.kid.subset_size;
  j["k"] = r.k;
  j["seed"] = o.seed;
  j["real"] = real_desc;
  j["fake"] = fake_desc;
  j["feature_net"] = net.path;
  j["feature_dim"] = net.feature_dim;
  if (auto it = net.metadata.find("dataset"); it != net.metadata.end()) j["feature_net_dataset"] = it->second;
  j["seconds"] = secs;
  write_file_atomic(path, j.dump(2) + "\n");
}

void run_eval(const EvalOpts& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.n < 1) throw ConfigError(fmt::format("invalid option -n {}: must be >= 1", o.n));
  if (o.max_kept < 2) throw ConfigError(fmt::format("invalid option --max-kept {}: must be >= 2", o.max_kept));
  if (o.k < 1) throw ConfigError(fmt::format("invalid option -k {}: must be >= 1", o.k));
  if (o.kid_subsets < 1 || o.kid_subset_size < 2)
    throw ConfigError("invalid --kid-subsets / --kid-subset-size: need >= 1 subsets of >= 2 rows");
  if (o.split != "test" && o.split != "train")
    throw ConfigError(fmt::format("invalid option --split {}: must be test or train", o.split));
  eval::MetricsOptions mo;
  mo.kid_subsets = o.kid_subsets;
  mo.kid_subset_size = o.kid_subset_size;
  mo.k = o.k;
  mo.seed = o.seed;
  eval::FeatureNet net;
  std::string real_desc, fake_desc;
  std::optional<eval::FeatureSet> real, fake;

  if (!o.ckpt.empty()) {
    // Generator against the dataset's held-out split.
    SafeTensors header = read_safetensors_header(o.ckpt);
    LoadedGenerator g = load_generator(o.ckpt);
    const int S = g.config.img_size, C = g.config.channels;
    std::string data = o.data;
    if (data.empty()) data = trained_on(header);
    if (data.empty()) data = "fashion-mnist";
    net.load(eval::find_feature_net(o.features, data, S, C));
    net.batch_size = o.batch;
    if (!o.quiet)
      fmt::print("dcgan eval: {} generated images ({}, {}, seed {}) vs the {} split of {}\n", o.n, o.ckpt,
                 g.config.summary(), o.seed, o.split, data);
    auto t = std::chrono::steady_clock::now();
    Dataset ds = load_dataset(DataSpec{data, S, C, false, o.split});
    const double t_load = seconds_since(t);
    t = std::chrono::steady_clock::now();
    real.emplace(net.feature_dim, o.max_kept, o.seed ^ 0x5eedULL);
    eval::add_dataset(*real, net, ds, 0, progress_line("real images", o.quiet));
    real_desc = fmt::format("{} ({} split, {} images: {})", data, o.split, ds.n, ds.source);
    if (!o.quiet)
      fmt::print("  real: {} images from {} (loaded in {:.1f} s, features {:.1f} s)\n", ds.n, ds.source, t_load,
                 seconds_since(t));
    t = std::chrono::steady_clock::now();
    fake.emplace(net.feature_dim, o.max_kept, o.seed ^ 0xfa4eULL);
    eval::add_generated(*fake, net, *g.net, g.config.latent_dim, o.n, o.seed, std::min<int64_t>(o.batch, o.n),
                        progress_line("generated images", o.quiet));
    fake_desc = fmt::format("{} (n {}, seed {})", o.ckpt, o.n, o.seed);
    if (!o.quiet) fmt::print("  generated: {} images and their features in {:.1f} s\n", o.n, seconds_since(t));
  } else {
    // Two image sets.
    std::optional<Tensor> fa = read_float_images(o.a), fb = read_float_images(o.b);
    const std::string data = o.data.empty() ? "fashion-mnist" : o.data;
    std::string path;
    if (fa || fb) {
      const Tensor& t = fa ? *fa : *fb;
      if (t.dim(2) != t.dim(3))
        throw FileError(fa ? o.a : o.b, fmt::format("images are {}x{}; the feature networks take square images",
                                                    t.dim(3), t.dim(2)));
      path = eval::find_feature_net(o.features, data, int(t.dim(2)), int(t.dim(1)));
    } else if (!o.features.empty()) {
      path = o.features;
    } else {
      for (const auto& c : eval::default_feature_net_candidates(data))
        if (std::error_code ec; fs::is_regular_file(c, ec)) {
          path = c;
          break;
        }
      if (path.empty())
        throw ConfigError(fmt::format("no feature network: no {}-classifier.safetensors found", eval::dataset_key(data)),
                          "train one on labelled images of this kind (dcgan train-classifier --data DATA "
                          "--out FILE) and pass --features FILE, or name its dataset with --data");
    }
    net.load(path);
    net.batch_size = o.batch;
    if (!o.quiet) fmt::print("dcgan eval: {} (reference) vs {}\n", o.a, o.b);
    auto load_set = [&](const std::string& p, std::optional<Tensor>& f) {
      ImageSet s;
      if (f) {
        if (f->dim(1) != net.channels || f->dim(2) != net.img_size || f->dim(3) != net.img_size)
          throw ConfigError(fmt::format("no feature network for {} images in {}: {} takes {} images",
                                        size_str(f->dim(2), f->dim(1)), p, net.path, size_str(net.img_size, net.channels)),
                            "give both sets at the same size, or a network for that size (--features FILE; "
                            "make one with dcgan train-classifier --img-size S --channels C)");
        s.images = std::move(f);
        s.description = fmt::format("{} ({} images)", p, s.images->dim(0));
      } else {
        s.dataset = load_dataset(DataSpec{p, net.img_size, net.channels, false, o.split});
        s.description = fmt::format("{} ({} images at {})", p, s.dataset.n, size_str(net.img_size, net.channels));
      }
      return s;
    };
    ImageSet sa = load_set(o.a, fa), sb = load_set(o.b, fb);
    real.emplace(net.feature_dim, o.max_kept, o.seed ^ 0x5eedULL);
    fake.emplace(net.feature_dim, o.max_kept, o.seed ^ 0xfa4eULL);
    for (auto [set, s, what] : {std::tuple{&*real, &sa, "set a"}, std::tuple{&*fake, &sb, "set b"}}) {
      if (s->images) eval::add_images(*set, net, *s->images, progress_line(what, o.quiet));
      else eval::add_dataset(*set, net, s->dataset, 0, progress_line(what, o.quiet));
    }
    real_desc = sa.description;
    fake_desc = sb.description;
  }
  const auto tm = std::chrono::steady_clock::now();
  eval::MetricsReport r = eval::compute_metrics(*real, *fake, mo);
  if (!o.quiet) fmt::print("  metrics: {:.1f} s\n", seconds_since(tm));
  const double secs = seconds_since(t0);
  if (o.ckpt.empty()) print_report(r, net, secs, "a", "b");
  else print_report(r, net, secs, "real", "generated");
  if (!o.json.empty()) {
    write_json(o.json, r, net, o, real_desc, fake_desc, secs);
    fmt::print("wrote {}\n", o.json);
  }
}

}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "FID, KID, precision and recall of a generator against held-out data (--checkpoint), or between "
      "two image sets (--a, --b), in a classifier's feature space");
  auto o = std::make_shared<EvalOpts>();
  auto* ck = cmd->add_option("--checkpoint", o->ckpt, "Generator checkpoint (.safetensors) to evaluate");
  auto* a = cmd->add_option("--a", o->a,
                            "Reference image set: float .npy (N, C, H, W) in [-1, 1] (dcgan sample --npy), "
                            "a folder of images, or any source --data takes");
  auto* b = cmd->add_option("--b", o->b, "Image set compared with --a (same kinds)");
  ck->excludes(a)->excludes(b);
  a->needs(b);
  b->needs(a);
  cmd->add_option("--data", o->data,
                  "Real data for --checkpoint (default: what the checkpoint was trained on, else "
                  "fashion-mnist); also names the default feature network models/<data>-classifier.safetensors");
  cmd->add_option("--split", o->split, "Real data split: test (held out) or train")->capture_default_str();
  cmd->add_option("-n,--num", o->n, "Generated images (--checkpoint)")->capture_default_str();
  cmd->add_option("--features", o->features, "Feature network (.safetensors from dcgan train-classifier)");
  cmd->add_option("--json", o->json, "Also write every metric to this JSON file");
  cmd->add_option("--seed", o->seed, "Seed of the latents (as dcgan sample --seed), KID subsets and reservoirs")
      ->capture_default_str();
  cmd->add_option("--max-kept", o->max_kept,
                  "Rows per set kept (uniform reservoir sample) for KID and precision/recall; FID uses all")
      ->capture_default_str();
  cmd->add_option("--kid-subsets", o->kid_subsets, "KID: number of subsets")->capture_default_str();
  cmd->add_option("--kid-subset-size", o->kid_subset_size, "KID: rows per subset")->capture_default_str();
  cmd->add_option("-k", o->k, "Precision/recall: k-th nearest neighbour radius")->capture_default_str();
  cmd->add_option("--batch-size", o->batch, "Images per forward pass")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "Only the results");
  cmd->callback([o] {
    if (o->ckpt.empty() && o->a.empty())
      throw ConfigError("dcgan eval: nothing to evaluate",
                        "give --checkpoint FILE (generator vs held-out data) or --a SET --b SET");
    set_num_threads(o->threads);
    run_eval(*o);
  });
}

}  // namespace dcgan::cli
