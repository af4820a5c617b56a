// The standard observers of a training run (train/observer.hpp): everything `dcgan train` writes
// or prints besides the training itself.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "dcgan/data/dataset.hpp"
#include "dcgan/error.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/plot/curves.hpp"
#include "dcgan/threads.hpp"
#include "dcgan/train/observer.hpp"
#include "eval/evaluator.hpp"

namespace fs = std::filesystem;

namespace dcgan {

namespace {

std::string fmt_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

// stderr: the model line at the start, a progress line (rewritten in place on a terminal, a
// plain line every log_every steps otherwise), and the closing line.
class ProgressPrinter : public TrainingObserver {
 public:
  void on_start(TrainingRun& run) override {
    const TrainConfig& c = run.config();
    if (run.resumed_from_step() >= 0)
      fmt::print(stderr, "resumed {} at step {}\n", run.resumed_from_file(), run.resumed_from_step());
    fmt::print(stderr, "model: {} | batch {} | {} threads | G {} params, D {} params | out {}\n", c.model.summary(),
               c.batch_size, num_threads(), run.generator_params(), run.discriminator_params(),
               run.dir().string());
    last_print_ = std::chrono::steady_clock::now();
  }

  void on_step(TrainingRun& run, const StepReport& r) override {
    const TrainConfig& c = run.config();
    const auto now = std::chrono::steady_clock::now();
    const double eta = r.img_per_s > 0 && r.target_steps > 0
                           ? double(r.target_steps - r.step) * c.batch_size / r.img_per_s : NAN;
    // The epoch the step belongs to: at an epoch end, the one just completed.
    const int64_t shown_epoch = r.epoch_end ? r.epoch : r.epoch + 1;
    const std::string line = fmt::format(
        "epoch {}/{} step {}{} | {:.0f} img/s | ETA {} | D {:.4f} G {:.4f} D(x) {:.3f} D(G(z)) {:.3f}", shown_epoch,
        c.epochs > 0 ? std::to_string(c.epochs) : "-", r.step,
        r.target_steps > 0 ? "/" + std::to_string(r.target_steps) : "", r.img_per_s, fmt_duration(eta),
        r.stats.d_loss, r.stats.g_loss, r.stats.d_real, r.stats.d_fake);
    const bool line_due = cadence_due(c.log_every, r) || r.last;
    if (tty_ && (line_due || std::chrono::duration<double>(now - last_print_).count() > 0.25)) {
      fmt::print(stderr, "\r\033[K{}", line);
      if (line_due) fmt::print(stderr, "\n");
      last_print_ = now;
    } else if (!tty_ && line_due) {
      fmt::print(stderr, "{}\n", line);
    }
  }

  void on_end(TrainingRun& run, const StepReport& last, int signal) override {
    if (signal) return;  // the run prints what a signal did, with --quiet too
    const fs::path latest = run.dir() / "checkpoints" / "latest.safetensors";
    fmt::print(stderr, "done: step {}, epoch {}. Checkpoint: {}  Samples: {}\n", last.step, last.epoch,
               latest.string(), (run.dir() / "samples").string());
  }

 private:
  bool tty_ = isatty(STDERR_FILENO);
  std::chrono::steady_clock::time_point last_print_;
};

// D's loss below 1e-3 for 200 steps in a row: the discriminator wins outright, a symptom of
// collapse. Warned once per process, with --quiet too.
class CollapseWatch : public TrainingObserver {
 public:
  void on_step(TrainingRun&, const StepReport& r) override {
    if (r.stats.d_loss >= 1e-3f) {
      low_ = 0;
      return;
    }
    if (++low_ >= 200 && !warned_) {
      fmt::print(stderr, "\nwarning: D's loss has stayed below 1e-3 for {} steps (step {}): the discriminator wins "
                         "outright, a symptom of collapse. Consider label smoothing or a lower D learning rate.\n",
                 low_, r.step);
      warned_ = true;
    }
  }

 private:
  int64_t low_ = 0;
  bool warned_ = false;
};

// metrics.jsonl: one JSON object every log_every steps (at epoch ends when 0) and at the last step.
class MetricsLogger : public TrainingObserver {
 public:
  void on_step(TrainingRun& run, const StepReport& r) override {
    if (!(cadence_due(run.config().log_every, r) || r.last)) return;
    nlohmann::json j;
    j["step"] = r.step;
    j["epoch"] = r.epoch;
    j["d_loss"] = r.stats.d_loss;
    j["g_loss"] = r.stats.g_loss;
    j["d_x"] = r.stats.d_real;
    j["d_g_z"] = r.stats.d_fake;
    j["img_per_s"] = std::round(r.img_per_s * 10) / 10;
    j["elapsed_s"] = std::round(r.elapsed_s * 1000) / 1000;  // wall time of the run so far
    run.append_metrics(j.dump());
  }
};

// samples/: step_N.png every sample_every steps (epoch_N.png at epoch ends when 0) and at the end
// of training, from the fixed noise through G in eval mode.
class SampleWriter : public TrainingObserver {
 public:
  void on_step(TrainingRun& run, const StepReport& r) override {
    const int64_t every = run.config().sample_every;
    if (cadence_due(every, r))
      write(run, r, every > 0 ? fmt::format("step_{:07}.png", r.step) : fmt::format("epoch_{:03}.png", r.epoch));
  }
  void on_end(TrainingRun& run, const StepReport& last, int signal) override {
    if (!signal && last_ != last.step) write(run, last, fmt::format("step_{:07}.png", last.step));
  }

 private:
  void write(TrainingRun& run, const StepReport& r, const std::string& name) {
    const Tensor& img = run.generate(run.fixed_noise());
    save_image_grid((run.dir() / "samples" / name).string(), img, 8);
    last_ = r.step;
  }
  int64_t last_ = -1;
};

// checkpoints/: every checkpoint_every steps (at epoch ends when 0), at the end, and when a
// signal stops the run.
class Checkpointer : public TrainingObserver {
 public:
  void on_step(TrainingRun& run, const StepReport& r) override {
    if (cadence_due(run.config().checkpoint_every, r)) run.save_checkpoint();
  }
  void on_end(TrainingRun& run, const StepReport&, int) override {
    run.save_checkpoint();  // nothing to do when this step's checkpoint exists
  }
};

// --eval-every: the FID of G (eval mode) against the data's held-out split every N steps, into
// metrics.jsonl; a new best is checkpointed and linked as checkpoints/best.safetensors.
class FidEvaluatorObserver : public TrainingObserver {
 public:
  void on_start(TrainingRun& run) override {
    // The feature network and the held-out split are loaded once; a missing network is a clear
    // error before any training happens.
    const TrainConfig& c = run.config();
    net_ = eval::FeatureNet(eval::find_feature_net(c.features, c.data, c.model.img_size, c.model.channels));
    held_out_ = load_dataset(DataSpec{c.data, c.model.img_size, c.model.channels, c.strict_data, "test"});
    evaluator_ = std::make_unique<eval::FidEvaluator>(net_, held_out_, c.eval_samples, c.seed, c.batch_size);
  }

  void on_step(TrainingRun& run, const StepReport& r) override {
    const TrainConfig& c = run.config();
    if (c.eval_every <= 0 || r.step % c.eval_every != 0) return;
    const double fid = evaluator_->fid(run.eval_generator(), c.model.latent_dim);
    const std::optional<double> before = run.best_fid();
    const bool best = !before || fid < *before;
    nlohmann::json j;
    j["step"] = r.step;
    j["epoch"] = r.epoch;
    j["fid"] = fid;
    j["fid_samples"] = c.eval_samples;
    j["eval_seconds"] = std::round(evaluator_->last_seconds() * 100) / 100;
    j["best"] = best;
    run.append_metrics(j.dump());
    if (!c.quiet) {
      if (isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
      fmt::print(stderr, "eval step {}: FID {:.3f} ({} samples, {:.1f} s){}\n", r.step, fid, c.eval_samples,
                 evaluator_->last_seconds(), best ? ", best so far: checkpoints/best.safetensors" : "");
    }
    if (best) {
      run.set_best_fid(fid);
      run.save_checkpoint();
      run.mark_best();
    }
  }

 private:
  eval::FeatureNet net_;
  Dataset held_out_;
  std::unique_ptr<eval::FidEvaluator> evaluator_;
};

// samples/curves.png: the run's training curves (dcgan/plot/curves.hpp), drawn from metrics.jsonl
// whenever a sample grid is written, after each FID evaluation and at the end (after a signal
// too). Drawn from the file rather than from this process's steps, so the picture covers the
// whole run, resumes included; it runs after the metrics logger and the evaluator, whose lines
// for this step it then shows. Reading and drawing take about 0.1 s (`dcgan plot` on 10 to
// 10,000 logged lines, less the process start, on 2 busy cores): under 2 % of the 500 steps of
// the default cadence at 12 ms a step; a larger --sample-every makes it less.
class CurvesWriter : public TrainingObserver {
 public:
  void on_step(TrainingRun& run, const StepReport& r) override {
    const TrainConfig& c = run.config();
    const bool evaluated = c.eval_every > 0 && r.step % c.eval_every == 0;
    if (cadence_due(c.sample_every, r) || evaluated) write(run, r.step);
  }
  void on_end(TrainingRun& run, const StepReport& last, int) override {
    if (last_ != last.step) write(run, last.step);
  }

 private:
  void write(TrainingRun& run, int64_t step) {
    write_curves_png((run.dir() / "samples" / "curves.png").string(), {read_run_curves(run.dir())});
    last_ = step;
  }
  int64_t last_ = -1;
};

}  // namespace

std::unique_ptr<TrainingObserver> make_progress_printer() { return std::make_unique<ProgressPrinter>(); }
std::unique_ptr<TrainingObserver> make_collapse_watch() { return std::make_unique<CollapseWatch>(); }
std::unique_ptr<TrainingObserver> make_metrics_logger() { return std::make_unique<MetricsLogger>(); }
std::unique_ptr<TrainingObserver> make_sample_writer() { return std::make_unique<SampleWriter>(); }
std::unique_ptr<TrainingObserver> make_checkpointer() { return std::make_unique<Checkpointer>(); }
std::unique_ptr<TrainingObserver> make_fid_evaluator() { return std::make_unique<FidEvaluatorObserver>(); }
std::unique_ptr<TrainingObserver> make_curves_writer() { return std::make_unique<CurvesWriter>(); }

std::vector<std::unique_ptr<TrainingObserver>> standard_observers(const TrainConfig& cfg) {
  std::vector<std::unique_ptr<TrainingObserver>> v;
  if (!cfg.quiet) v.push_back(make_progress_printer());
  v.push_back(make_collapse_watch());
  v.push_back(make_metrics_logger());
  v.push_back(make_sample_writer());
  // The evaluator before the checkpointer: a new best at a cadence step is written once.
  if (cfg.eval_every > 0) v.push_back(make_fid_evaluator());
  v.push_back(make_curves_writer());  // after the lines it draws are written
  v.push_back(make_checkpointer());
  return v;
}

}  // namespace dcgan
