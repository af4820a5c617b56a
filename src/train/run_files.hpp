// Files of a run directory that must survive crashes: checkpoints (atomic, `latest` always the
// newest complete one, the last K kept) and metrics.jsonl (appended line by line).
#pragma once
#include <cstdint>
#include <string>

#include "io/safetensors.hpp"

namespace dcgan {

class RunFiles {
 public:
  RunFiles() = default;
  explicit RunFiles(std::string dir) : dir_(std::move(dir)) {}

  // Writes checkpoints/step_NNNNNNN.safetensors atomically, then makes latest.safetensors the
  // same file (hard link renamed into place: atomic, no second write), then deletes all but the
  // newest `keep` step files (0: none; latest.safetensors, a link, keeps its data). A failure anywhere leaves the previous latest intact.
  void save_checkpoint(const SafeTensors& st, int64_t step, int keep);

  // Makes checkpoints/best.safetensors the checkpoint just saved for `step` (hard link renamed
  // into place, as for latest). Call right after save_checkpoint(step).
  void mark_best(int64_t step);

  void reset_metrics();                        // a fresh run: empty metrics.jsonl
  void append_metrics(const std::string& json_line);
  // On resume: drop lines logged after `step` by the interrupted run (they will be logged again).
  void truncate_metrics_after(int64_t step);

 private:
  std::string dir_;
};

}  // namespace dcgan
