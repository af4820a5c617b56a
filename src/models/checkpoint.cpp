#include "dcgan/models/checkpoint.hpp"

#include <filesystem>

#include "dcgan/error.hpp"
#include "dcgan/models/models.hpp"

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
  st.metadata[pre + "step"] = std::to_string(adam.t);
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
  const std::string step = st.meta(pre + "step");
  try {
    adam.t = std::stoll(step);
  } catch (const std::exception&) {
    throw FileError(st.path, fmt::format("metadata '{}step' = '{}' is not a step count", pre, step));
  }
}

LoadedGenerator load_generator(const std::string& path, ops::Impl impl) {
  SafeTensors st = read_safetensors(path);
  LoadedGenerator g;
  try {
    g.config = ModelConfig::from_metadata(st.metadata);
  } catch (const ConfigError& e) {
    throw FileError(path, e.what(), e.hint());
  }
  g.net = build_generator(g.config, impl);
  load_network(st, "generator.", *g.net);
  return g;
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
