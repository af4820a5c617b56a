// TrainConfig <-> JSON (config.json in the run directory and the checkpoint's train_config).
#include <cmath>

#include <nlohmann/json.hpp>

#include "dcgan/error.hpp"
#include "dcgan/train/config.hpp"

namespace dcgan {

TrainConfig TrainConfig::defaults(const std::string& arch) {
  TrainConfig c;
  c.model = ModelConfig::defaults(arch);
  c.batch_size = arch_defaults(arch).batch_size;
  return c;
}

TrainConfig TrainConfig::from_preset(const std::string& name) {
  if (name == "quality") {
    // Measured (docs/results.md): dcgan at 32x32 with width 32 reaches on Fashion-MNIST in 2-3
    // epochs an FID the seed's width-16 networks do not reach in 15 (D's BatchNorm eps 0.8 and
    // 16 channels); the average of G lowers it by a further ~10-15 % at every checkpoint.
    TrainConfig c = defaults("dcgan");
    c.preset = name;
    c.model.img_size = 32;
    c.model.ngf = c.model.ndf = 32;
    c.batch_size = 64;
    c.epochs = 4;
    c.gan.ema = 0.999;
    return c;
  }
  std::string known;
  for (const Preset& p : kPresets) known += fmt::format("{}{}", known.empty() ? "" : ", ", p.name);
  throw ConfigError(fmt::format("invalid option --preset {}: the presets are {}", name, known));
}

void TrainConfig::validate() const {
  model.validate();
  auto bad = [](const std::string& opt, const std::string& why) {
    throw ConfigError(fmt::format("invalid option {}: {}", opt, why));
  };
  constexpr int64_t kBig = int64_t(1) << 50;
  auto range = [&](const char* opt, int64_t v, int64_t lo, int64_t hi, const char* meaning = "") {
    if (v < lo || v > hi) bad(fmt::format("{} {}", opt, v), fmt::format("must be in [{}, {}]{}", lo, hi, meaning));
  };
  auto positive_real = [&](const char* opt, double v) {
    if (!(std::isfinite(v) && v > 0)) bad(fmt::format("{} {}", opt, v), "must be a finite number > 0");
  };
  auto unit = [&](const char* opt, double v) {
    if (!(v >= 0 && v < 1)) bad(fmt::format("{} {}", opt, v), "must be in [0, 1)");
  };
  if (data.empty()) bad("--data ''", "give a data source");
  if (out.empty()) bad("--out ''", "give a run directory");
  range("--batch-size", batch_size, 1, 65536);
  range("--epochs", epochs, 0, kBig, " (0: no epoch limit, with --steps)");
  range("--steps", steps, 0, kBig, " (0: no step limit, with --epochs)");
  if (epochs == 0 && steps == 0) bad("--epochs 0 --steps 0", "training needs a limit: --epochs N or --steps N (N >= 1)");
  positive_real("--lr-g", gan.g_adam.lr);
  positive_real("--lr-d", gan.d_adam.lr);
  unit("--beta1", gan.g_adam.beta1);
  unit("--beta2", gan.g_adam.beta2);
  if (gan.d_adam.beta1 != gan.g_adam.beta1 || gan.d_adam.beta2 != gan.g_adam.beta2)
    bad("--beta1/--beta2", "G and D share their Adam betas");
  if (!(gan.real_label > 0 && gan.real_label <= 1))
    bad(fmt::format("--label-smoothing {}", 1 - gan.real_label), "must be in [0, 1)");
  if (!(gan.ema == 0 || (gan.ema > 0 && gan.ema < 1)))
    bad(fmt::format("--ema {}", gan.ema), "must be 0 (no average) or in (0, 1), e.g. 0.999");
  range("--threads", threads, 0, 4096, " (0: all cores)");
  range("--log-every", log_every, 0, kBig, " (0: at epoch ends)");
  range("--sample-every", sample_every, 0, kBig, " (0: at epoch ends)");
  range("--checkpoint-every", checkpoint_every, 0, kBig, " (0: at epoch ends)");
  range("--keep", keep, 0, 1 << 20, " (0: only latest.safetensors)");
  range("--eval-every", eval_every, 0, kBig, " (0: never)");
  range("--eval-samples", eval_samples, 2, 10'000'000);
  range("n_fixed", n_fixed, 1, 4096);
}

std::string TrainConfig::to_json() const {
  nlohmann::json j;
  j["model"] = model.to_metadata();
  j["data"] = data;
  j["strict_data"] = strict_data;
  j["batch_size"] = batch_size;
  j["epochs"] = epochs;
  j["steps"] = steps;
  j["lr_g"] = gan.g_adam.lr;
  j["lr_d"] = gan.d_adam.lr;
  j["beta1"] = gan.g_adam.beta1;
  j["beta2"] = gan.g_adam.beta2;
  j["real_label"] = gan.real_label;
  j["ema"] = gan.ema;
  j["preset"] = preset;
  j["seed"] = seed;
  j["threads"] = threads;
  j["out"] = out;
  j["log_every"] = log_every;
  j["sample_every"] = sample_every;
  j["checkpoint_every"] = checkpoint_every;
  j["keep"] = keep;
  j["deterministic"] = deterministic;
  j["sync_bn"] = sync_bn;
  j["eval_every"] = eval_every;
  j["eval_samples"] = eval_samples;
  j["features"] = features;
  j["n_fixed"] = n_fixed;
  j["data_fingerprint"] = data_fingerprint;
  return j.dump(2);
}

namespace {
// An integer in [lo, hi] at `key` (or `fallback` when absent and not required). Floats, out-of-range
// values and other types are refused with a ConfigError naming the key, never converted silently.
int64_t get_int(const nlohmann::json& j, const char* key, int64_t lo, int64_t hi, int64_t fallback,
                bool required = false) {
  if (!j.contains(key)) {
    if (required) throw ConfigError(fmt::format("training configuration lacks '{}'", key));
    return fallback;
  }
  const auto& v = j.at(key);
  if (!v.is_number_integer())
    throw ConfigError(fmt::format("training configuration '{}' = {} is not an integer", key, v.dump()));
  if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(hi) : (v.get<int64_t>() < lo || v.get<int64_t>() > hi))
    throw ConfigError(fmt::format("training configuration '{}' = {} is out of range [{}, {}]", key, v.dump(), lo, hi));
  return v.get<int64_t>();
}

double get_real(const nlohmann::json& j, const char* key, double fallback, bool required = false) {
  if (!j.contains(key)) {
    if (required) throw ConfigError(fmt::format("training configuration lacks '{}'", key));
    return fallback;
  }
  const auto& v = j.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    throw ConfigError(fmt::format("training configuration '{}' = {} is not a finite number", key, v.dump()));
  return v.get<double>();
}
}  // namespace

TrainConfig TrainConfig::from_json(const std::string& text) {
  TrainConfig c;
  constexpr int64_t kBig = int64_t(1) << 50;
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object()) throw ConfigError("training configuration is not a JSON object");
    c.model = ModelConfig::from_metadata(j.at("model").get<std::map<std::string, std::string>>());
    c.data = j.at("data").get<std::string>();
    c.strict_data = j.value("strict_data", false);
    c.batch_size = static_cast<int>(get_int(j, "batch_size", 1, 1 << 20, 0, true));
    c.epochs = get_int(j, "epochs", 0, kBig, 0, true);
    c.steps = get_int(j, "steps", 0, kBig, 0, true);
    c.gan.g_adam.lr = get_real(j, "lr_g", 0, true);
    c.gan.d_adam.lr = get_real(j, "lr_d", 0, true);
    c.gan.g_adam.beta1 = c.gan.d_adam.beta1 = get_real(j, "beta1", 0, true);
    c.gan.g_adam.beta2 = c.gan.d_adam.beta2 = get_real(j, "beta2", 0, true);
    c.gan.real_label = static_cast<float>(get_real(j, "real_label", 0, true));
    c.gan.ema = get_real(j, "ema", 0);          // absent before the moving average existed
    c.preset = j.value("preset", std::string());
    const auto& seed = j.at("seed");
    if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<int64_t>() >= 0))
      throw ConfigError(fmt::format("training configuration 'seed' = {} is not a non-negative integer", seed.dump()));
    c.seed = seed.get<uint64_t>();
    c.threads = static_cast<int>(get_int(j, "threads", 0, 4096, 0));
    c.out = j.value("out", std::string());
    c.log_every = get_int(j, "log_every", 0, kBig, 50);
    c.sample_every = get_int(j, "sample_every", 0, kBig, 500);
    c.checkpoint_every = get_int(j, "checkpoint_every", 0, kBig, 1000);
    c.keep = static_cast<int>(get_int(j, "keep", 0, 1 << 20, 3));
    c.deterministic = j.value("deterministic", false);
    c.sync_bn = j.value("sync_bn", false);  // absent before data-parallel training existed
    c.eval_every = get_int(j, "eval_every", 0, kBig, 0);
    c.eval_samples = get_int(j, "eval_samples", 0, kBig, 2000);
    c.features = j.value("features", std::string());
    c.n_fixed = static_cast<int>(get_int(j, "n_fixed", 1, 4096, 64));
    c.data_fingerprint = j.value("data_fingerprint", std::string());  // absent before 2026-12
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(std::string("malformed training configuration: ") + e.what());
  }
  return c;
}

}  // namespace dcgan
