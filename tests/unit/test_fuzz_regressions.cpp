// Replays every input the fuzzers ever crashed on (fuzz/regressions/<target>/*), plus the seed
// corpus when it has been generated (fuzz/corpus/<target>/seed_*), through the same entry points as
// the fuzz targets (fuzz/fuzz_entry.hpp). Each must end cleanly: parsed, or refused with a
// dcgan::Error whose message is not empty. Any other exception fails the test; a crash fails it
// harder. The sanitized replay of the same files is the first step of scripts/fuzz.sh.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../../fuzz/fuzz_entry.hpp"
#include "support/require.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using Entry = fuzz::Outcome (*)(const uint8_t*, size_t);

struct Target {
  const char* name;
  Entry entry;
};

const Target kTargets[] = {
    {"safetensors", fuzz::safetensors_one}, {"npy", fuzz::npy_one},     {"idx", fuzz::idx_one},
    {"image", fuzz::image_one},             {"cifar", fuzz::cifar_one}, {"config_json", fuzz::config_json_one},
};

std::vector<uint8_t> slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Files of `dir` (sorted), those whose name starts with `prefix` only.
std::vector<fs::path> files_in(const fs::path& dir, const std::string& prefix = "") {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Feeds one file to a target: no exception other than dcgan::Error may escape the parsers (the
// entry point counts those), and every refusal says something.
void replay(const Target& t, const fs::path& file, fuzz::Outcome* out) {
  std::vector<uint8_t> bytes = slurp(file);
  try {
    *out = t.entry(bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    ADD_FAILURE() << t.name << ": " << file << " escaped the parser as " << typeid(e).name() << ": " << e.what();
    return;
  }
  for (const std::string& msg : out->errors) EXPECT_FALSE(msg.empty()) << file;
}

TEST(FuzzRegressions, EveryKnownCrasherIsRefusedCleanly) {
  const fs::path root = fs::path(DCGAN_SOURCE_DIR) / "fuzz" / "regressions";
  int replayed = 0;
  for (const Target& t : kTargets) {
    for (const fs::path& f : files_in(root / t.name)) {
      SCOPED_TRACE(f.string());
      fuzz::Outcome out;
      replay(t, f, &out);
      // A crasher is malformed input: at least one stage must refuse it with a dcgan::Error
      // (files named accept_* are the exception: inputs that are valid once the bug is fixed).
      if (f.filename().string().rfind("accept_", 0) != 0)
        EXPECT_FALSE(out.errors.empty()) << f << " was accepted by every stage";
      std::cout << "[fuzz-regressions] " << t.name << "/" << f.filename().string() << ": "
                << (out.errors.empty() ? std::string("accepted") : "refused: " + out.errors.front()) << "\n";
      ++replayed;
    }
  }
  std::cout << "[fuzz-regressions] replayed " << replayed << " inputs\n";
  EXPECT_GT(replayed, 0) << "no regression inputs under " << root << " (they are committed)";
}

TEST(FuzzRegressions, SeedCorporaParse) {
  const fs::path root = fs::path(DCGAN_SOURCE_DIR) / "fuzz" / "corpus";
  DCGAN_REQUIRE_OR_SKIP(fs::exists(root), "the fuzz seed corpus " + root.string(),
                        "/usr/bin/python3 fuzz/make_corpus.py writes it; scripts/fuzz.sh runs it");
  int seeds = 0;
  for (const Target& t : kTargets) {
    const std::vector<fs::path> files = files_in(root / t.name, "seed_");
    EXPECT_FALSE(files.empty()) << "no seeds in " << root / t.name << " (fuzz/make_corpus.py writes them)";
    for (const fs::path& f : files) {
      SCOPED_TRACE(f.string());
      fuzz::Outcome out;
      replay(t, f, &out);
      if (f.filename().string().rfind("seed_refused_", 0) != 0)
        EXPECT_GT(out.accepted, 0) << f << " (a seed) was refused by every stage: "
                                 << (out.errors.empty() ? "" : out.errors.front());
      ++seeds;
    }
  }
  std::cout << "[fuzz-regressions] parsed " << seeds << " seeds\n";
}

}  // namespace
}  // namespace dcgan
