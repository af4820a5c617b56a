// ONNX export: the generator's layers, in order, as ONNX nodes (dcgan/export/onnx.hpp).
//
// The graph is written from the network the checkpoint builds (build_generator via
// load_generator), not from a second description of the architectures: every layer type maps to
// one ONNX operator, so both architectures, both kernel sizes and any future builder variation
// come out as the network that `dcgan sample` runs.
//
// BatchNorm is emitted as ONNX BatchNormalization (inference form: scale, bias, running mean and
// variance, epsilon), not folded into the preceding convolution's weights. Why:
//   - in the seed generator the first BatchNorm follows Linear + Reshape, where there is no
//     convolution to fold into;
//   - the file keeps the checkpoint's tensors unchanged under their state_dict names, so what
//     was exported can be compared with the checkpoint tensor by tensor, and the arithmetic is
//     the one `dcgan sample` does (folding would round differently);
//   - runtimes fold BatchNorm themselves where it pays (ONNX Runtime's graph optimisations).
#include "dcgan/export/onnx.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <string_view>

#include "dcgan/error.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "io/atomic_file.hpp"
#include "models/checkpoint_io.hpp"
#include "nn/layers.hpp"

namespace dcgan {

namespace {

// Builds the GraphProto: initializers named like the checkpoint's tensors, one node per layer
// (ReLU after BatchNorm stays a node of its own: fusion is a runtime's business).
class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto& g) : g_(g) {}

  // Adds a float initializer `name` holding `t` (shape `shape`, default t's own); returns name.
  std::string add_tensor(const std::string& name, const Tensor& t, const Shape& shape = {}) {
    onnx::TensorProto* p = g_.add_initializer();
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape.empty() ? t.shape() : shape) p->add_dims(d);
    // raw_data is little-endian float32: the host's layout on every platform we build for.
    p->set_raw_data(std::string(reinterpret_cast<const char*>(t.data()), t.numel() * sizeof(float)));
    parameters_ += t.numel();
    return name;
  }
  std::string add_int64s(const std::string& name, const std::vector<int64_t>& v) {
    onnx::TensorProto* p = g_.add_initializer();
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::INT64);
    p->add_dims(int64_t(v.size()));
    for (int64_t x : v) p->add_int64_data(x);
    return name;
  }
  // A node reading `inputs`, writing a fresh value (or `output` when given); returns the node so
  // the caller can add attributes.
  onnx::NodeProto* add_node(std::string_view op, const std::string& name, std::vector<std::string> inputs,
                            const std::string& output = {}) {
    onnx::NodeProto* n = g_.add_node();
    n->set_op_type(std::string(op));
    n->set_name(name);
    for (auto& in : inputs) n->add_input(in);
    n->add_output(output.empty() ? name + ".out" : output);
    return n;
  }
  int64_t parameters() const { return parameters_; }

 private:
  onnx::GraphProto& g_;
  int64_t parameters_ = 0;
};

void set_ints(onnx::NodeProto* n, const char* name, std::vector<int64_t> v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void set_int(onnx::NodeProto* n, const char* name, int64_t v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void set_float(onnx::NodeProto* n, const char* name, float v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

const Tensor& param(Layer& l, std::string_view name) {
  for (auto& p : l.params())
    if (p.name == name) return p.value;
  for (auto& b : l.buffers())
    if (b.name == name) return b.value;
  throw Error(fmt::format("[export] layer {} has no tensor '{}'", l.name(), name));
}
bool has_param(Layer& l, std::string_view name) {
  for (auto& p : l.params())
    if (p.name == name) return true;
  return false;
}

// Appends layer `l` reading value `x`; returns the value it writes. `node` names parameter-free
// layers (which have no state_dict name) by position.
std::string add_layer(GraphWriter& w, Layer& l, const std::string& x, const std::string& node,
                      const std::string& output) {
  const std::string& n = l.name().empty() ? node : l.name();
  auto tensor = [&](const char* which) { return w.add_tensor(l.name() + "." + which, param(l, which)); };
  if (dynamic_cast<Linear*>(&l)) {
    // Gemm computes x W^T + b with transB: PyTorch's Linear weight (out, in) as it is.
    std::vector<std::string> in{x, tensor("weight")};
    if (has_param(l, "bias")) in.push_back(tensor("bias"));
    onnx::NodeProto* g = w.add_node("Gemm", n, in, output);
    set_int(g, "transB", 1);
    return g->output(0);
  }
  if (auto* c = dynamic_cast<ConvLayer*>(&l)) {
    const ops::ConvGeom& geo = c->geometry();
    std::vector<std::string> in{x, tensor("weight")};
    if (geo.has_bias) in.push_back(tensor("bias"));
    // ConvTranspose's weight is (C_in, C_out, k, k) in ONNX as in PyTorch; pads and
    // output_padding have the same meaning (output = (H - 1) s - 2p + k + op).
    onnx::NodeProto* cv = w.add_node(geo.transposed ? "ConvTranspose" : "Conv", n, in, output);
    set_ints(cv, "kernel_shape", {geo.kernel, geo.kernel});
    set_ints(cv, "strides", {geo.stride, geo.stride});
    set_ints(cv, "pads", {geo.padding, geo.padding, geo.padding, geo.padding});
    if (geo.transposed && geo.output_padding) set_ints(cv, "output_padding", {geo.output_padding, geo.output_padding});
    return cv->output(0);
  }
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&l)) {
    onnx::NodeProto* b = w.add_node(
        "BatchNormalization", n,
        {x, tensor("weight"), tensor("bias"), tensor("running_mean"), tensor("running_var")}, output);
    set_float(b, "epsilon", bn->eps());
    return b->output(0);
  }
  if (auto* a = dynamic_cast<Activation*>(&l)) {
    static constexpr std::string_view kOps[] = {"Relu", "LeakyRelu", "Tanh", "Sigmoid"};
    onnx::NodeProto* act = w.add_node(kOps[int(a->act())], n, {x}, output);
    if (a->act() == ops::Act::leaky_relu) set_float(act, "alpha", a->slope());
    return act->output(0);
  }
  if (auto* r = dynamic_cast<Reshape*>(&l)) {
    if (r->per_sample().empty()) {  // flatten to (N, rest)
      onnx::NodeProto* f = w.add_node("Flatten", n, {x}, output);
      set_int(f, "axis", 1);
      return f->output(0);
    }
    std::vector<int64_t> shape{0};  // 0: keep the batch dimension as it is (the dynamic N)
    shape.insert(shape.end(), r->per_sample().begin(), r->per_sample().end());
    return w.add_node("Reshape", n, {x, w.add_int64s(n + ".shape", shape)}, output)->output(0);
  }
  throw Error(fmt::format("[export] no ONNX form for layer {} ({})", n, l.describe()),
              "the exporter knows Linear, Conv, ConvTranspose, BatchNorm, activations and Reshape");
}

void add_value_info(onnx::ValueInfoProto* v, const std::string& name, const Shape& per_sample) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* s = t->mutable_shape();
  s->add_dim()->set_dim_param("N");  // the batch: any size
  for (int64_t d : per_sample) s->add_dim()->set_dim_value(d);
}

}  // namespace

OnnxExport export_onnx(const std::string& checkpoint, const std::string& onnx_path) {
  const std::string path = find_checkpoint(checkpoint);
  std::error_code ec;
  if (std::filesystem::equivalent(path, onnx_path, ec))
    throw FileError(onnx_path, "is the checkpoint being exported; writing the model there would destroy it",
                    "give --onnx a new file name, e.g. generator.onnx");
  LoadedGenerator gen = load_generator(path);
  const ModelConfig& c = gen.config;

  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("dcgan");
  model.set_producer_version("0.1");
  model.set_doc_string("DCGAN generator (eval mode): z (N, latent_dim) -> images (N, C, H, W) in [-1, 1]; " +
                       c.summary());
  model.add_opset_import()->set_version(kOnnxOpset);  // the default domain, ai.onnx
  for (auto& [k, v] : c.to_metadata()) {
    auto* p = model.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("generator");
  add_value_info(g->add_input(), "z", {c.latent_dim});
  add_value_info(g->add_output(), "images", {c.channels, c.img_size, c.img_size});

  GraphWriter w(*g);
  auto& layers = gen.net->layers();
  std::string x = "z";
  for (size_t i = 0; i < layers.size(); ++i)
    x = add_layer(w, *layers[i], x, fmt::format("layer{}", i), i + 1 == layers.size() ? "images" : "");

  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw Error(fmt::format("[export] the ONNX checker refused the model made from {}: {}", path, e.what()),
                "this is a bug in dcgan export: please report it with the output of 'dcgan info' on the checkpoint");
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw Error(fmt::format("[export] could not serialise the ONNX model made from {}", path),
                "the model may exceed protobuf's 2 GiB limit: export a smaller generator");
  write_file_atomic(onnx_path, bytes);
  return {c, g->node_size(), w.parameters(), bytes.size()};
}

}  // namespace dcgan
