// Typed, bounded reading of a request's query parameters. Every reader refuses, by the parameter's
// name, a value that is missing, malformed or out of range (BadRequest, a 400), so a handler never
// sees a number it did not ask for; check_names refuses parameters the endpoint does not take.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "serve/http_reply.hpp"

namespace dcgan::serve {

class Query {
 public:
  explicit Query(const Params& params) : params_(params) {}

  // Refuses any parameter not in `allowed`, and any given twice.
  void check_names(std::initializer_list<const char*> allowed) const;
  bool has(const std::string& name) const { return params_.count(name) > 0; }

  // A seed: decimal digits, 0 to kMaxSeed. Absent: `fallback`, or a 400 when there is none.
  uint64_t seed(const std::string& name, std::optional<uint64_t> fallback = std::nullopt) const;
  // Comma-separated seeds, 1 to max_count of them.
  std::vector<uint64_t> seeds(const std::string& name, size_t max_count) const;
  // An integer in [lo, hi].
  int64_t integer(const std::string& name, int64_t lo, int64_t hi, std::optional<int64_t> fallback = std::nullopt) const;
  // A finite decimal number in [lo, hi].
  double number(const std::string& name, double lo, double hi, std::optional<double> fallback = std::nullopt) const;
  // One of `choices`.
  std::string choice(const std::string& name, std::initializer_list<const char*> choices,
                     const std::string& fallback) const;

  // Seeds stay below 2^53 so that the page's JavaScript numbers hold them exactly.
  static constexpr uint64_t kMaxSeed = (uint64_t(1) << 53) - 1;

 private:
  const std::string* find(const std::string& name) const;
  const Params& params_;
};

}  // namespace dcgan::serve
