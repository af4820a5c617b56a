// Rng: xoshiro256** seeded through splitmix64. Its whole state is four words, so it is saved in
// checkpoints as a string and restored exactly (needed for bit-identical resume).
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace dcgan {

// The splitmix64 finaliser: a fast, well-mixed 64-bit hash, used to derive independent seeds
// (one per epoch, per batch, per purpose) from one user seed.
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  double uniform();                    // [0, 1), 53 random bits
  float normal(float mean = 0.f, float std = 1.f);  // Box-Muller in double; one draw per call
  uint64_t below(uint64_t n);          // uniform integer in [0, n), unbiased
  template <class It>
  void shuffle(It first, It last) {    // Fisher-Yates, reproducible across platforms
    for (auto n = last - first; n > 1; --n) std::swap(first[n - 1], first[below(n)]);
  }
  std::string state() const;           // "s0:s1:s2:s3" in hex
  void set_state(const std::string& s);  // throws dcgan::Error on a malformed string

 private:
  std::array<uint64_t, 4> s_{};
};

}  // namespace dcgan
