#include "train/run_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "dcgan/error.hpp"
#include "io/atomic_file.hpp"

namespace fs = std::filesystem;

namespace dcgan {

namespace {
void fsync_dir(const fs::path& d) {
  int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

namespace {
// Atomically makes `alias` another name of `file`: a hard link under a temp name, renamed into place.
void link_atomically(const fs::path& file, const fs::path& alias) {
  const fs::path tmp = alias.parent_path() / fmt::format(".{}.tmp.{}", alias.filename().string(), ::getpid());
  ::unlink(tmp.c_str());
  if (::link(file.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), alias.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw FileError(alias.string(), fmt::format("cannot update: {}", std::strerror(err)),
                    fmt::format("the new checkpoint is complete at {}", file.string()));
  }
  fsync_dir(alias.parent_path());
}

fs::path step_file(const std::string& dir, int64_t step) {
  return fs::path(dir) / "checkpoints" / fmt::format("step_{:07}.safetensors", step);
}
}  // namespace

void RunFiles::save_checkpoint(const SafeTensors& st, int64_t step, int keep) {
  const fs::path file = step_file(dir_, step);
  const fs::path cdir = file.parent_path();
  write_safetensors_atomic(file.string(), st);
  link_atomically(file, cdir / "latest.safetensors");
  // Keep the newest `keep` step files (latest and best are links, so they survive).
  std::vector<fs::path> steps;
  for (auto& e : fs::directory_iterator(cdir)) {
    auto n = e.path().filename().string();
    if (n.rfind("step_", 0) == 0 && e.path().extension() == ".safetensors") steps.push_back(e.path());
  }
  std::sort(steps.begin(), steps.end());
  const size_t k = static_cast<size_t>(std::max(keep, 0));
  for (size_t i = 0; i + k < steps.size(); ++i) {
    std::error_code ec;
    fs::remove(steps[i], ec);
  }
}

void RunFiles::mark_best(int64_t step) {
  // latest.safetensors is the checkpoint just saved for `step` (its step file may already be
  // gone with --keep 0).
  const fs::path cdir = step_file(dir_, step).parent_path();
  link_atomically(cdir / "latest.safetensors", cdir / "best.safetensors");
}

void RunFiles::reset_metrics() { write_file_atomic((fs::path(dir_) / "metrics.jsonl").string(), ""); }

void RunFiles::append_metrics(const std::string& line) {
  const fs::path p = fs::path(dir_) / "metrics.jsonl";
  std::FILE* f = std::fopen(p.c_str(), "a");
  if (!f) throw FileError(p.string(), std::string("cannot append: ") + std::strerror(errno),
                          "check that the run directory is writable and the disk not full");
  bool ok = std::fputs((line + "\n").c_str(), f) >= 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) throw FileError(p.string(), "write failed (disk full?)", "free some space and --resume");
}

void RunFiles::truncate_metrics_after(int64_t step) {
  const fs::path p = fs::path(dir_) / "metrics.jsonl";
  std::ifstream in(p);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.value("step", int64_t(0)) > step) continue;
    } catch (const nlohmann::json::exception&) {
      continue;  // a line cut by a kill mid-write
    }
    kept += line + "\n";
  }
  write_file_atomic(p.string(), kept);
}

}  // namespace dcgan
