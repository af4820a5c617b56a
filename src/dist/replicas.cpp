#include "dist/replicas.hpp"

#include <cstring>
#include <string>

#include <fmt/ranges.h>

namespace dcgan::dist {

uint64_t state_hash(std::initializer_list<Sequential*> nets) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto word = [&h](uint32_t w) { h = (h ^ w) * 0x100000001b3ULL; };
  for (Sequential* net : nets)
    for (const StateRef& e : net ? net->state() : std::vector<StateRef>{}) {
      if (e.i64) {
        const uint64_t v = uint64_t(*e.i64);
        word(uint32_t(v)), word(uint32_t(v >> 32));
        continue;
      }
      const float* p = e.tensor->data();
      for (int64_t i = 0; i < e.tensor->numel(); ++i) {
        uint32_t w;
        std::memcpy(&w, p + i, 4);
        word(w);
      }
    }
  return h;
}

std::vector<uint64_t> check_replicas(Comm& comm, uint64_t hash, int64_t step) {
  if (comm.size() == 1) return {hash};
  const std::vector<std::string> all = comm.allgather(fmt::format("{:016x}", hash));
  std::vector<uint64_t> out;
  for (const std::string& s : all) out.push_back(std::stoull(s, nullptr, 16));
  for (size_t r = 1; r < out.size(); ++r)
    if (out[r] != out[0])
      throw AgreedError(fmt::format("[dist] at step {} the ranks' networks differ (hashes {}): a rank computed "
                                    "something else; no checkpoint was written from them",
                                    step, fmt::join(all, ", ")),
                        "resume from the last checkpoint; if it happens again, leave out the host of the "
                        "rank that differs from rank 0 (" + comm.where(int(r)) + ")");
  return out;
}

}  // namespace dcgan::dist
