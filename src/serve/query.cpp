#include "serve/query.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

namespace dcgan::serve {

namespace {

// Values are echoed in messages; a hostile one is cut short (and is only ever plain text).
std::string shown(const std::string& v) { return v.size() <= 40 ? v : v.substr(0, 40) + "..."; }

bool parse_uint(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

void Query::check_names(std::initializer_list<const char*> allowed) const {
  std::set<std::string> ok(allowed.begin(), allowed.end());
  for (const auto& [name, value] : params_) {
    if (!ok.count(name)) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      throw BadRequest(fmt::format("unknown parameter '{}'; this endpoint takes {}", shown(name),
                                   list.empty() ? "none" : list));
    }
    if (params_.count(name) > 1) throw BadRequest(fmt::format("parameter '{}' given more than once", name));
  }
}

const std::string* Query::find(const std::string& name) const {
  auto it = params_.find(name);
  return it == params_.end() ? nullptr : &it->second;
}

uint64_t Query::seed(const std::string& name, std::optional<uint64_t> fallback) const {
  const std::string* v = find(name);
  if (!v) {
    if (fallback) return *fallback;
    throw BadRequest(fmt::format("missing parameter '{}' (a seed: an integer from 0 to {})", name, kMaxSeed));
  }
  uint64_t s = 0;
  if (!parse_uint(*v, s) || s > kMaxSeed)
    throw BadRequest(fmt::format("bad parameter {}={}: a seed is an integer from 0 to {}", name, shown(*v), kMaxSeed));
  return s;
}

std::vector<uint64_t> Query::seeds(const std::string& name, size_t max_count) const {
  const std::string* v = find(name);
  if (!v || v->empty())
    throw BadRequest(fmt::format("missing parameter '{}' (comma-separated seeds, at most {})", name, max_count));
  std::vector<uint64_t> out;
  size_t start = 0;
  while (start <= v->size()) {
    if (out.size() == max_count)
      throw BadRequest(fmt::format("parameter '{}' holds more than {} seeds", name, max_count), 413);
    const size_t comma = std::min(v->find(',', start), v->size());
    const std::string item = v->substr(start, comma - start);
    uint64_t s = 0;
    if (!parse_uint(item, s) || s > kMaxSeed)
      throw BadRequest(fmt::format("bad parameter {}: '{}' is not a seed (an integer from 0 to {})", name,
                                   shown(item), kMaxSeed));
    out.push_back(s);
    start = comma + 1;
  }
  return out;
}

int64_t Query::integer(const std::string& name, int64_t lo, int64_t hi, std::optional<int64_t> fallback) const {
  const std::string* v = find(name);
  if (!v) {
    if (fallback) return *fallback;
    throw BadRequest(fmt::format("missing parameter '{}' (an integer from {} to {})", name, lo, hi));
  }
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (v->empty() || ec != std::errc() || p != v->data() + v->size() || x < lo || x > hi)
    throw BadRequest(fmt::format("bad parameter {}={}: must be an integer from {} to {}", name, shown(*v), lo, hi));
  return x;
}

double Query::number(const std::string& name, double lo, double hi, std::optional<double> fallback) const {
  const std::string* v = find(name);
  if (!v) {
    if (fallback) return *fallback;
    throw BadRequest(fmt::format("missing parameter '{}' (a number from {} to {})", name, lo, hi));
  }
  // Plain decimals only: no hex, inf or nan spellings, no leading spaces.
  const bool plain = !v->empty() && v->size() <= 32 && v->find_first_not_of("0123456789.-+eE") == std::string::npos;
  char* end = nullptr;
  const double x = plain ? std::strtod(v->c_str(), &end) : 0;
  if (!plain || end != v->c_str() + v->size() || !std::isfinite(x) || x < lo || x > hi)
    throw BadRequest(fmt::format("bad parameter {}={}: must be a number from {} to {}", name, shown(*v), lo, hi));
  return x;
}

std::string Query::choice(const std::string& name, std::initializer_list<const char*> choices,
                          const std::string& fallback) const {
  const std::string* v = find(name);
  if (!v) return fallback;
  std::string list;
  for (const char* c : choices) {
    if (*v == c) return *v;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  throw BadRequest(fmt::format("bad parameter {}={}: must be one of {}", name, shown(*v), list));
}

}  // namespace dcgan::serve
