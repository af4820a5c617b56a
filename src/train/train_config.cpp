// TrainConfig <-> JSON (config.json in the run directory and the checkpoint's train_config).
#include <nlohmann/json.hpp>

#include "dcgan/error.hpp"
#include "dcgan/train/trainer.hpp"

namespace dcgan {

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
  j["seed"] = seed;
  j["threads"] = threads;
  j["out"] = out;
  j["log_every"] = log_every;
  j["sample_every"] = sample_every;
  j["checkpoint_every"] = checkpoint_every;
  j["keep"] = keep;
  j["deterministic"] = deterministic;
  j["eval_every"] = eval_every;
  j["eval_samples"] = eval_samples;
  j["n_fixed"] = n_fixed;
  return j.dump(2);
}

TrainConfig TrainConfig::from_json(const std::string& text) {
  TrainConfig c;
  try {
    auto j = nlohmann::json::parse(text);
    c.model = ModelConfig::from_metadata(j.at("model").get<std::map<std::string, std::string>>());
    c.data = j.at("data").get<std::string>();
    c.strict_data = j.value("strict_data", false);
    c.batch_size = j.at("batch_size").get<int>();
    c.epochs = j.at("epochs").get<int64_t>();
    c.steps = j.at("steps").get<int64_t>();
    c.gan.g_adam.lr = j.at("lr_g").get<double>();
    c.gan.d_adam.lr = j.at("lr_d").get<double>();
    c.gan.g_adam.beta1 = c.gan.d_adam.beta1 = j.at("beta1").get<double>();
    c.gan.g_adam.beta2 = c.gan.d_adam.beta2 = j.at("beta2").get<double>();
    c.gan.real_label = j.at("real_label").get<float>();
    c.seed = j.at("seed").get<uint64_t>();
    c.threads = j.value("threads", 0);
    c.out = j.value("out", std::string());
    c.log_every = j.value("log_every", int64_t(50));
    c.sample_every = j.value("sample_every", int64_t(500));
    c.checkpoint_every = j.value("checkpoint_every", int64_t(1000));
    c.keep = j.value("keep", 3);
    c.deterministic = j.value("deterministic", false);
    c.eval_every = j.value("eval_every", int64_t(0));
    c.eval_samples = j.value("eval_samples", int64_t(2000));
    c.n_fixed = j.value("n_fixed", 64);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(std::string("malformed training configuration: ") + e.what());
  }
  return c;
}

}  // namespace dcgan
