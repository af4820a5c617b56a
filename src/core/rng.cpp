#include "core/rng.hpp"

#include <cmath>
#include <cstdio>

#include "dcgan/error.hpp"

namespace dcgan {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& w : s_) w = splitmix64(seed);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }

float Rng::normal(float mean, float std) {
  double u1 = uniform();
  double u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  return static_cast<float>(mean + std * z);
}

uint64_t Rng::below(uint64_t n) {
  DCGAN_CHECK(n > 0, "[rng] below(0)");
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = next_u64();
  while (x >= limit);
  return x % n;
}

std::string Rng::state() const {
  char buf[80];
  std::snprintf(buf, sizeof buf, "%016llx:%016llx:%016llx:%016llx", (unsigned long long)s_[0],
                (unsigned long long)s_[1], (unsigned long long)s_[2], (unsigned long long)s_[3]);
  return buf;
}

void Rng::set_state(const std::string& s) {
  unsigned long long w[4];
  char tail;
  if (s.size() != 67 ||
      std::sscanf(s.c_str(), "%16llx:%16llx:%16llx:%16llx%c", &w[0], &w[1], &w[2], &w[3], &tail) != 4)
    throw Error(fmt::format("[rng] malformed RNG state '{}'", s));
  for (int i = 0; i < 4; ++i) s_[i] = w[i];
}



}  // namespace dcgan
