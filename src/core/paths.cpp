#include "core/paths.hpp"

namespace dcgan {

std::vector<std::filesystem::path> executable_ancestors() {
  namespace fs = std::filesystem;
  std::vector<fs::path> out;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return out;
  for (fs::path d = exe.parent_path(); !d.empty(); d = d.parent_path()) {
    out.push_back(d);
    if (d == d.parent_path()) break;
  }
  return out;
}

}  // namespace dcgan
