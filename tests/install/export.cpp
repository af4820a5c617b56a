// The ONNX exporter from C++ through the installed package's dcgan::onnx:
//   export CHECKPOINT OUT.onnx
#include <cstdio>

#include "dcgan/error.hpp"
#include "dcgan/export/onnx.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: export CHECKPOINT OUT.onnx\n");
    return 2;
  }
  try {
    dcgan::OnnxExport e = dcgan::export_onnx(argv[1], argv[2]);
    std::printf("exported %lld nodes\n", static_cast<long long>(e.nodes));
  } catch (const dcgan::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
