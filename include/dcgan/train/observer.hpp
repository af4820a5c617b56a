// What happens around the training loop, kept out of it: progress lines, metrics.jsonl, sample
// grids, checkpoints and evaluation are observers of the run. The loop (train/trainer.cpp) only
// steps the GAN and tells each observer, in order, that a step finished; a rank-0-only writer, a
// quiet mode or a live web view is a different list of observers, not a change to the loop.
//
//   class MyView : public TrainingObserver {
//     void on_step(TrainingRun& run, const StepReport& r) override { push(r.step, r.stats.g_loss); }
//   };
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dcgan/tensor.hpp"
#include "dcgan/train/config.hpp"
#include "dcgan/train/step_stats.hpp"

namespace dcgan {

class Sequential;  // nn/sequential.hpp (internal): a network

// One finished training step.
struct StepReport {
  int64_t step = 0;          // the global step just finished (1 for the first)
  int64_t epoch = 0;         // epochs completed
  bool epoch_end = false;    // this step completed an epoch
  bool last = false;         // the run's limit is reached: no step follows
  StepStats stats;           // losses and D's outputs of this step
  double img_per_s = 0;      // training speed since this process started
  double elapsed_s = 0;      // wall time of the whole run so far, resumes included
  int64_t target_steps = 0;  // where the run stops (0: unknown)
};

// What observers may use of the run.
class TrainingRun {
 public:
  virtual ~TrainingRun() = default;
  virtual const TrainConfig& config() const = 0;
  virtual const std::filesystem::path& dir() const = 0;   // the run directory
  virtual void append_metrics(const std::string& json_line) = 0;  // one line of metrics.jsonl
  virtual int64_t generator_params() const = 0;
  virtual int64_t discriminator_params() const = 0;
  virtual int64_t step() const = 0;
  virtual int64_t resumed_from_step() const = 0;          // -1 for a fresh run
  virtual std::string resumed_from_file() const = 0;      // "" for a fresh run
  // G's current weights and statistics in an eval-mode copy (the training G is not disturbed).
  virtual Sequential& eval_generator() = 0;
  // Images of that copy: z (N, latent_dim) -> (N, C, H, W) in [-1, 1].
  virtual const Tensor& generate(const Tensor& z) = 0;
  virtual const Tensor& fixed_noise() const = 0;           // (n_fixed, latent_dim), fixed per run
  // Writes the full training state as checkpoints/step_N and latest (atomically); does nothing
  // when the checkpoint of this step is written already. Returns the latest path.
  virtual std::filesystem::path save_checkpoint() = 0;
  virtual int64_t last_checkpoint_step() const = 0;       // -1: none written by this process
  // Makes checkpoints/best.safetensors the checkpoint saved at this step (call save_checkpoint first).
  virtual void mark_best() = 0;
  // The best FID of the run (carried in checkpoints across resumes).
  virtual std::optional<double> best_fid() const = 0;
  virtual void set_best_fid(double fid) = 0;
};

class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  // Before the first step; may throw to stop the run before any training (e.g. no feature net).
  virtual void on_start(TrainingRun&) {}
  virtual void on_step(TrainingRun&, const StepReport&) {}
  // After the last step, or after the step during which SIGINT / SIGTERM arrived (signal != 0).
  virtual void on_end(TrainingRun&, const StepReport& /*last*/, int /*signal*/) {}
};

// Whether an output with cadence `every` is due after this step: every N steps, or at epoch
// ends when N is 0. So on any dataset there is at most one of each per cadence interval.
inline bool cadence_due(int64_t every, const StepReport& r) {
  return every > 0 ? r.step % every == 0 : r.epoch_end;
}

// The standard observers `dcgan train` uses (train/observers.cpp), in the order they run:
std::unique_ptr<TrainingObserver> make_progress_printer();  // stderr: start, progress, end lines
std::unique_ptr<TrainingObserver> make_collapse_watch();    // warns when D wins outright for long
std::unique_ptr<TrainingObserver> make_metrics_logger();    // metrics.jsonl every log_every steps
std::unique_ptr<TrainingObserver> make_sample_writer();     // fixed-noise grids, real.png
std::unique_ptr<TrainingObserver> make_checkpointer();      // checkpoints (cadence, end, signal)
std::unique_ptr<TrainingObserver> make_fid_evaluator();     // --eval-every: FID, best.safetensors
std::unique_ptr<TrainingObserver> make_curves_writer();     // samples/curves.png (dcgan/plot/curves.hpp)
// All of the above for `cfg` (no progress printer when cfg.quiet, no evaluator without eval_every).
std::vector<std::unique_ptr<TrainingObserver>> standard_observers(const TrainConfig& cfg);

}  // namespace dcgan
