#include "models/checkpoint_io.hpp"

#include <filesystem>
#include <optional>
#include <sstream>

#include <fmt/ranges.h>

#include "dcgan/error.hpp"
#include "models/models.hpp"

namespace dcgan {

void put_network(SafeTensors& st, const std::string& prefix, Sequential& net) {
  for (auto& e : net.state()) {
    if (e.i64) st.put_i64(prefix + e.name, *e.i64);
    else st.put(prefix + e.name, *e.tensor);
  }
}

void load_network(const SafeTensors& st, const std::string& prefix, Sequential& net) {
  for (auto& e : net.state()) {
    const std::string name = prefix + e.name;
    if (e.i64) {
      // Files exported without BN counters (e.g. by hand) are accepted: the counter only matters
      // for momentum=None, which we do not use.
      *e.i64 = st.has(name) ? st.get_i64(name) : 0;
    } else {
      if (!st.has(name))
        throw FileError(st.path, fmt::format("tensor '{}' {} is missing", name, shape_str(e.tensor->shape())),
                        "the file does not match the model configuration in its metadata; "
                        "check arch/img_size/channels/latent_dim/ngf/ndf/kernel");
      st.get_into(name, *e.tensor);
    }
  }
}

void put_adam(SafeTensors& st, const std::string& which, Sequential& net, const Adam& adam) {
  const std::string pre = "optimizer." + which + ".";
  int64_t off = 0;
  for (auto& e : net.state()) {
    if (!e.is_param) continue;
    const int64_t n = e.tensor->numel();
    Shape s = e.tensor->shape();
    st.put(pre + e.name + ".exp_avg", Tensor::view(const_cast<float*>(adam.exp_avg.data()) + off, s));
    st.put(pre + e.name + ".exp_avg_sq", Tensor::view(const_cast<float*>(adam.exp_avg_sq.data()) + off, s));
    off += n;
  }
}

void load_adam(const SafeTensors& st, const std::string& which, Sequential& net, Adam& adam) {
  const std::string pre = "optimizer." + which + ".";
  int64_t off = 0;
  for (auto& e : net.state()) {
    if (!e.is_param) continue;
    Shape s = e.tensor->shape();
    Tensor m = Tensor::view(adam.exp_avg.data() + off, s);
    Tensor v = Tensor::view(adam.exp_avg_sq.data() + off, s);
    st.get_into(pre + e.name + ".exp_avg", m);
    st.get_into(pre + e.name + ".exp_avg_sq", v);
    off += e.tensor->numel();
  }
}

LoadedGenerator load_generator(const std::string& path, ops::Impl impl) {
  SafeTensors st = read_safetensors(path);
  LoadedGenerator g;
  g.meta = CheckpointMeta::from_metadata(st.metadata, path);
  g.config = g.meta.model;
  g.net = build_generator(g.config, impl);
  load_network(st, "generator.", *g.net);
  return g;
}

namespace {
constexpr const char* kFormat = "dcgan-checkpoint";
}  // namespace

std::map<std::string, std::string> CheckpointMeta::to_metadata() const {
  std::map<std::string, std::string> m = model.to_metadata();
  m["format"] = kFormat;
  const bool ema = training && training->config.gan.ema > 0;
  m["format_version"] = ema ? "2" : "1";
  if (training) {
    const Training& t = *training;
    m["step"] = std::to_string(t.step);
    m["epoch"] = std::to_string(t.epoch);
    m["rng_state"] = t.rng_state;
    m["loader_seed"] = std::to_string(t.loader.seed);
    m["loader_epoch"] = std::to_string(t.loader.epoch);
    m["loader_index"] = std::to_string(t.loader.index_in_epoch);
    m["optimizer.generator.step"] = std::to_string(t.g_adam_step);
    m["optimizer.discriminator.step"] = std::to_string(t.d_adam_step);
    m["elapsed_s"] = fmt::format("{:.3f}", t.elapsed_s);
    if (t.best_fid) m["best_fid"] = fmt::format("{:.17g}", *t.best_fid);
    if (t.ranks > 1) {
      m["ranks"] = std::to_string(t.ranks);
      std::vector<std::string> hex;
      for (uint64_t h : t.replica_hashes) hex.push_back(fmt::format("{:016x}", h));
      m["replica_hashes"] = fmt::format("{}", fmt::join(hex, ","));
    }
    m["train_config"] = t.config.to_json();
  }
  return m;
}

namespace {
std::optional<uint64_t> parse_hex_u64(const std::string& s) {
  uint64_t v = 0;
  for (char ch : s) {
    const int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | uint64_t(d);
  }
  return v;
}
}  // namespace

CheckpointMeta CheckpointMeta::from_metadata(const std::map<std::string, std::string>& meta, const std::string& path,
                                             bool require_training) {
  auto get = [&](const std::string& key) -> const std::string* {
    auto it = meta.find(key);
    return it == meta.end() ? nullptr : &it->second;
  };
  CheckpointMeta c;
  if (const std::string* f = get("format"); f && *f != kFormat)
    throw FileError(path, fmt::format("metadata format = '{}': not a dcgan checkpoint", *f),
                    "give a checkpoint written by dcgan train, or a generator export (see README, Checkpoint format)");
  if (const std::string* v = get("format_version")) {
    const auto n = parse_metadata_number<int>(*v);
    if (!n || *n < 1) throw FileError(path, fmt::format("metadata format_version = '{}' is not a version number", *v));
    if (*n > kFormatVersion)
      throw FileError(path, fmt::format("written by a newer dcgan (checkpoint format version {}; this dcgan reads "
                                        "versions up to {})", *n, kFormatVersion),
                      "use the dcgan version that wrote it, or a newer one");
    c.format_version = *n;
  }
  try {
    c.model = ModelConfig::from_metadata(meta);
  } catch (const ConfigError& e) {
    throw FileError(path, e.what(), e.hint());
  }
  const std::string* tc = get("train_config");
  if (!tc) {
    if (require_training)
      throw FileError(path, "the checkpoint holds no training state (it is a generator-only file)",
                      "it can be sampled with 'dcgan sample' but not resumed");
    return c;
  }
  Training t;
  auto number = [&]<class T>(const std::string& key, T& out) {
    const std::string* v = get(key);
    const std::optional<T> n = v ? parse_metadata_number<T>(*v) : std::nullopt;
    if (!n)
      throw FileError(path, v ? fmt::format("training state '{}' = '{}' is not a number", key, *v)
                              : fmt::format("training state lacks the key '{}'", key),
                      "the file was edited or damaged; resume from another checkpoint of the run");
    out = *n;
  };
  number("step", t.step);
  number("epoch", t.epoch);
  number("loader_seed", t.loader.seed);
  number("loader_epoch", t.loader.epoch);
  number("loader_index", t.loader.index_in_epoch);
  number("optimizer.generator.step", t.g_adam_step);
  number("optimizer.discriminator.step", t.d_adam_step);
  if (get("elapsed_s")) number("elapsed_s", t.elapsed_s);
  if (get("best_fid")) {
    double b = 0;
    number("best_fid", b);
    t.best_fid = b;
  }
  if (get("ranks")) number("ranks", t.ranks);
  if (const std::string* h = get("replica_hashes")) {
    std::stringstream ss(*h);
    for (std::string item; std::getline(ss, item, ',');) {
      const std::optional<uint64_t> v = item.size() == 16 ? parse_hex_u64(item) : std::nullopt;
      if (!v)
        throw FileError(path, fmt::format("training state 'replica_hashes' = '{}' is not a list of 16-digit hex numbers", *h),
                        "the file was edited or damaged; resume from another checkpoint of the run");
      t.replica_hashes.push_back(*v);
    }
  }
  const std::string* rng = get("rng_state");
  if (!rng) throw FileError(path, "training state lacks the key 'rng_state'");
  t.rng_state = *rng;
  try {
    t.config = TrainConfig::from_json(*tc);
  } catch (const ConfigError& e) {
    throw FileError(path, e.what(), e.hint());
  }
  c.training = std::move(t);
  return c;
}

CheckpointMeta read_checkpoint_meta(const std::string& path, bool require_training) {
  return CheckpointMeta::from_metadata(read_safetensors_header(path).metadata, path, require_training);
}

std::string find_checkpoint(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;  // a file, or missing: the reader names the problem
  for (const fs::path& c : {fs::path(path) / "checkpoints" / "latest.safetensors", fs::path(path) / "latest.safetensors"})
    if (fs::is_regular_file(c, ec)) return c.string();
  throw FileError(path, "is a directory with no checkpoints/latest.safetensors in it",
                  "give a .safetensors checkpoint, or the --out directory of a 'dcgan train' run that wrote one");
}

}  // namespace dcgan
