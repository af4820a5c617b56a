// Checkpoint comparison for end-to-end tests: two safetensors files with the same tensors,
// byte for byte.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>

#include "io/safetensors.hpp"

namespace dcgan::testing {

// Every tensor of a and b equal in dtype, shape and bytes, and the metadata keys `meta` equal.
// Returns how many tensors were compared.
inline int expect_same_checkpoint(const std::filesystem::path& a, const std::filesystem::path& b,
                                  std::initializer_list<const char*> meta) {
  SafeTensors x = read_safetensors(a.string()), y = read_safetensors(b.string());
  EXPECT_EQ(x.tensors.size(), y.tensors.size());
  int compared = 0;
  for (auto& [name, t] : x.tensors) {
    if (!y.has(name)) {
      ADD_FAILURE() << "missing in " << b << ": " << name;
      continue;
    }
    const auto& u = y.tensors.at(name);
    EXPECT_EQ(t.dtype, u.dtype) << name;
    EXPECT_EQ(t.shape, u.shape) << name;
    EXPECT_TRUE(t.bytes == u.bytes) << "tensor differs: " << name;
    ++compared;
  }
  for (const char* k : meta) EXPECT_EQ(x.meta(k), y.meta(k)) << k;
  return compared;
}

}  // namespace dcgan::testing
