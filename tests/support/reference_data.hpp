// Helpers for tests that replay PyTorch reference data (tools/reference/make_reference.py).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "io/safetensors.hpp"

namespace dcgan::testing {

// Reference files under DCGAN_REFERENCE_DIR/<sub>, sorted. Fails the test (not skips) when the
// data is missing: the test command always regenerates it.
inline std::vector<std::string> reference_files(const std::string& sub) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(DCGAN_REFERENCE_DIR) / sub;
  std::vector<std::string> out;
  if (fs::is_directory(dir))
    for (auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  EXPECT_FALSE(out.empty()) << "no reference data in " << dir
                            << "; run: /usr/bin/python3 tools/reference/make_reference.py --out "
                            << DCGAN_REFERENCE_DIR;
  return out;
}

// Comma-separated list in a metadata value ("model.2.bias,model.5.bias"), as a set.
inline std::set<std::string> meta_list(const SafeTensors& st, const std::string& key) {
  std::set<std::string> out;
  std::string v = st.meta(key), item;
  for (char c : v + ",") {
    if (c == ',') {
      if (!item.empty()) out.insert(item);
      item.clear();
    } else {
      item += c;
    }
  }
  return out;
}

inline int meta_int(const SafeTensors& st, const std::string& key) {
  return std::stoi(st.meta(key));
}

}  // namespace dcgan::testing
