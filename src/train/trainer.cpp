// The training loop: see include/dcgan/train/trainer.hpp for the run directory layout.
#include "dcgan/train/trainer.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dcgan/data/dataset.hpp"
#include "dcgan/data/loader.hpp"
#include "dcgan/error.hpp"
#include "dcgan/eval/evaluator.hpp"
#include "dcgan/io/atomic_file.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "dcgan/models/models.hpp"
#include "dcgan/train/gan_step.hpp"
#include "train/run_files.hpp"

namespace fs = std::filesystem;

namespace dcgan {

namespace {

std::atomic<int> g_signal{0};
// The first SIGINT/SIGTERM asks the run to stop after the current step; a second one (the user
// pressing Ctrl-C again) ends the process at once with the signal's default action. That loses
// nothing saved: checkpoints are written atomically, so an interrupted write leaves the previous
// latest.safetensors in place (and a temp file the next run removes).
extern "C" void on_signal(int sig) {
  if (g_signal.exchange(sig) != 0) {
    std::signal(sig, SIG_DFL);  // both async-signal-safe
    std::raise(sig);
  }
}

// Installs SIGINT/SIGTERM handlers for the lifetime of a training run: the current step
// finishes, a checkpoint is written, and train() returns with interrupted = true.
struct SignalGuard {
  struct sigaction old_int {}, old_term {};
  SignalGuard() {
    g_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }
  ~SignalGuard() {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  }
};

constexpr uint64_t kFixedNoiseSalt = 0x5eed'f1ed'0000'0001ULL;
constexpr uint64_t kInitSalt = 0x1417'0000'0000'0002ULL;

std::string fmt_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

std::string limits_of(const TrainConfig& c) {
  std::string e = c.epochs > 0 ? fmt::format("{} epochs", c.epochs) : "",
              st = c.steps > 0 ? fmt::format("{} steps", c.steps) : "";
  return e.empty() ? st : st.empty() ? e : e + " or " + st + ", whichever comes first";
}

class Run {
 public:
  // resume_from: the checkpoint a resumed run continues from, as read; none for a new run.
  Run(TrainConfig cfg, std::optional<SafeTensors> resume_from)
      : cfg_(std::move(cfg)), resuming_(resume_from.has_value()), resume_from_(std::move(resume_from)) {}
  TrainResult go();

 private:
  void prepare_dirs();
  void build();
  void restore(const SafeTensors& st);
  void save_checkpoint();
  void sync_sampler();
  void save_samples(const std::string& name);
  void evaluate();
  void log_step(const StepStats& s, bool epoch_end, bool final_step);
  void refuse_overlapping_dirs() const;
  bool done() const {
    return (cfg_.steps > 0 && step_ >= cfg_.steps) || (cfg_.epochs > 0 && epoch_ >= cfg_.epochs);
  }
  int64_t target_steps() const;
  // An output with cadence `every` is due after this step: every N steps, or at epoch ends when
  // N is 0. So on any dataset there is at most one of each per cadence interval.
  bool due(int64_t every, bool epoch_end) const { return every > 0 ? step_ % every == 0 : epoch_end; }

  TrainConfig cfg_;
  bool resuming_;
  std::optional<SafeTensors> resume_from_;  // released once restored
  fs::path dir_, ckpt_dir_, sample_dir_;
  Dataset data_;
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<GanStep> gs_;
  std::unique_ptr<Sequential> sampler_;  // eval-mode copy of G for grids
  Rng rng_{0};
  Tensor z_, fixed_z_;
  int64_t step_ = 0, epoch_ = 0;
  int64_t resumed_from_ = 0;
  int64_t last_saved_step_ = -1;
  int64_t last_grid_step_ = -1, last_logged_step_ = -1;
  double elapsed_before_ = 0;  // wall seconds of the run before this process (resume)
  int64_t low_d_loss_run_ = 0;
  bool warned_collapse_ = false;
  std::chrono::steady_clock::time_point t0_, last_print_;
  int64_t step_at_t0_ = 0;
  RunFiles files_;
  // --eval-every: FID of the eval-mode generator against the held-out split.
  eval::FeatureNet feature_net_;
  Dataset held_out_;
  std::unique_ptr<eval::FidEvaluator> evaluator_;
  double best_fid_ = INFINITY;
};

int64_t Run::target_steps() const {
  int64_t by_epochs = cfg_.epochs > 0 ? cfg_.epochs * loader_->batches_per_epoch() : 0;
  if (cfg_.steps > 0 && by_epochs > 0) return std::min(cfg_.steps, by_epochs);
  return cfg_.steps > 0 ? cfg_.steps : by_epochs;
}

// The run directory must not lie inside the data's folder (the next run would train on its own
// sample grids and checkpoints) nor hold the data.
void Run::refuse_overlapping_dirs() const {
  const std::string loc = source_location(cfg_.data);
  if (loc.empty()) return;  // a named source that is not installed: load_dataset says so
  auto canon = [](const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    return ec ? fs::absolute(p).lexically_normal() : c;
  };
  auto within = [](const fs::path& inner, const fs::path& outer) {
    const fs::path rel = inner.lexically_relative(outer);
    return !rel.empty() && (rel == "." || *rel.begin() != "..");
  };
  const fs::path out = canon(cfg_.out), data = canon(loc);
  const std::string hint = "choose an --out outside the data, e.g. runs/NAME";
  if (within(out, data))
    throw ConfigError(fmt::format("invalid option --out {}: it is inside the data {} (--data {}); the run's sample "
                                  "grids and checkpoints would become training data",
                                  cfg_.out, data.string(), cfg_.data), hint);
  if (within(data, out))
    throw ConfigError(fmt::format("invalid option --out {}: the data {} (--data {}) is inside it", cfg_.out,
                                  data.string(), cfg_.data), hint);
}

void Run::prepare_dirs() {
  refuse_overlapping_dirs();
  dir_ = cfg_.out;
  ckpt_dir_ = dir_ / "checkpoints";
  sample_dir_ = dir_ / "samples";
  std::error_code ec;
  for (auto& d : {dir_, ckpt_dir_, sample_dir_}) {
    fs::create_directories(d, ec);
    if (ec) throw FileError(d.string(), "cannot create the output directory: " + ec.message(),
                            "choose a writable --out directory");
    if (access(d.c_str(), W_OK) != 0)
      throw FileError(d.string(), std::string("cannot write to the output directory: ") + std::strerror(errno),
                      "choose a writable --out directory");
  }
  if (!resuming_ && fs::exists(ckpt_dir_ / "latest.safetensors"))
    throw FileError((ckpt_dir_ / "latest.safetensors").string(), "the output directory already holds a training run",
                    fmt::format("continue it with 'dcgan train --resume {}', or choose another --out", dir_.string()));
  // Temp files of writes cut short by a kill (name.tmp.<pid>, .latest.tmp.<pid>): never complete, never used.
  for (auto& d : {dir_, ckpt_dir_, sample_dir_})
    for (auto& e : fs::directory_iterator(d, ec))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path(), ec);
  files_ = RunFiles(dir_.string());
}

void Run::build() {
  set_num_threads(cfg_.threads);
  gs_ = std::make_unique<GanStep>(cfg_.model, cfg_.gan);
  sampler_ = build_generator(cfg_.model);
  DataSpec spec;
  spec.source = cfg_.data;
  spec.img_size = cfg_.model.img_size;
  spec.channels = cfg_.model.channels;
  spec.strict = cfg_.strict_data;
  data_ = load_dataset(spec);
  if (!cfg_.quiet) fmt::print(stderr, "data: {}\n", data_.description);
  // The same images in the same order as when the run started, or the data order, and with it
  // the exact resume, would silently change.
  const std::string fp = data_fingerprint(data_);
  if (resuming_ && !cfg_.data_fingerprint.empty() && fp != cfg_.data_fingerprint)
    throw FileError(data_.source,
                    fmt::format("holds other images than this run was trained on (loaded {}, the run's data was {})",
                                fp, cfg_.data_fingerprint),
                    "resume with the run's own data (--data PATH if it moved), or start a new run with another --out");
  if (resuming_ && cfg_.data_fingerprint.empty() && !cfg_.quiet)
    fmt::print(stderr, "note: this run was started by an older dcgan that did not record what its data held; "
                       "the data cannot be checked to be the same\n");
  cfg_.data_fingerprint = fp;
  if (data_.n < cfg_.batch_size)
    throw ConfigError(fmt::format("invalid option --batch-size {}: the data holds only {} images", cfg_.batch_size,
                                  data_.n),
                      "use a smaller --batch-size, or more images");
  LoaderOptions lo;
  lo.batch_size = cfg_.batch_size;
  lo.seed = cfg_.seed;
  lo.drop_last = true;
  loader_ = std::make_unique<BatchLoader>(data_, lo);
  z_ = Tensor({cfg_.batch_size, cfg_.model.latent_dim});
  if (cfg_.eval_every > 0) {
    // The feature network and the held-out split are loaded once; a missing network is a clear
    // error before any training happens.
    feature_net_ = eval::FeatureNet(
        eval::find_feature_net(cfg_.features, cfg_.data, cfg_.model.img_size, cfg_.model.channels));
    DataSpec held = spec;
    held.split = "test";
    held_out_ = load_dataset(held);
    evaluator_ = std::make_unique<eval::FidEvaluator>(feature_net_, held_out_, cfg_.eval_samples, cfg_.seed,
                                                       cfg_.batch_size);
  }
  Rng fixed(cfg_.seed ^ kFixedNoiseSalt);
  fixed_z_ = Tensor({cfg_.n_fixed, cfg_.model.latent_dim});
  for (int64_t i = 0; i < fixed_z_.numel(); ++i) fixed_z_[i] = fixed.normal();
}

void Run::restore(const SafeTensors& st) {
  const CheckpointMeta meta = CheckpointMeta::from_metadata(st.metadata, st.path, /*require_training=*/true);
  const CheckpointMeta::Training& t = *meta.training;
  load_network(st, "generator.", *gs_->G);
  load_network(st, "discriminator.", *gs_->D);
  load_adam(st, "generator", *gs_->G, gs_->g_opt);
  load_adam(st, "discriminator", *gs_->D, gs_->d_opt);
  gs_->g_opt.t = t.g_adam_step;
  gs_->d_opt.t = t.d_adam_step;
  step_ = t.step;
  epoch_ = t.epoch;
  rng_.set_state(t.rng_state);
  loader_->restore(t.loader);
  elapsed_before_ = t.elapsed_s;
  if (t.best_fid) best_fid_ = *t.best_fid;
  resumed_from_ = step_;
}

void Run::save_checkpoint() {
  if (step_ == last_saved_step_) return;  // e.g. an eval's best at a regular checkpoint step
  last_saved_step_ = step_;
  SafeTensors st;
  put_network(st, "generator.", *gs_->G);
  put_network(st, "discriminator.", *gs_->D);
  put_adam(st, "generator", *gs_->G, gs_->g_opt);
  put_adam(st, "discriminator", *gs_->D, gs_->d_opt);
  CheckpointMeta meta;
  meta.model = cfg_.model;
  CheckpointMeta::Training& t = meta.training.emplace();
  t.step = step_;
  t.epoch = epoch_;
  t.rng_state = rng_.state();
  t.loader = loader_->state();
  t.g_adam_step = gs_->g_opt.t;
  t.d_adam_step = gs_->d_opt.t;
  t.elapsed_s = elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  if (std::isfinite(best_fid_)) t.best_fid = best_fid_;
  t.config = cfg_;
  st.metadata = meta.to_metadata();
  files_.save_checkpoint(st, step_, cfg_.keep);
}

// Copies G's weights and running statistics into the sampler, which runs in eval mode and never
// disturbs the training networks' buffers.
void Run::sync_sampler() {
  auto src = gs_->G->state();
  auto dst = sampler_->state();
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i].i64) *dst[i].i64 = *src[i].i64;
    else dst[i].tensor->copy_from(*src[i].tensor);
  }
}

void Run::save_samples(const std::string& name) {
  sync_sampler();
  const Tensor& img = sampler_->forward(fixed_z_, Mode::eval);
  save_image_grid((sample_dir_ / name).string(), img, 8);
}

// FID into metrics.jsonl; a new best also goes to checkpoints/best.safetensors (full state, atomic).
void Run::evaluate() {
  sync_sampler();
  const double fid = evaluator_->fid(*sampler_, cfg_.model.latent_dim);
  nlohmann::json j;
  j["step"] = step_;
  j["epoch"] = epoch_;
  j["fid"] = fid;
  j["fid_samples"] = cfg_.eval_samples;
  j["eval_seconds"] = std::round(evaluator_->last_seconds() * 100) / 100;
  const bool best = fid < best_fid_;
  if (best) best_fid_ = fid;
  j["best"] = best;
  files_.append_metrics(j.dump());
  if (!cfg_.quiet) {
    if (isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
    fmt::print(stderr, "eval step {}: FID {:.3f} ({} samples, {:.1f} s){}\n", step_, fid, cfg_.eval_samples,
               evaluator_->last_seconds(), best ? ", best so far: checkpoints/best.safetensors" : "");
  }
  if (best) {
    save_checkpoint();
    files_.mark_best(step_);
  }
}

// The progress line (rewritten in place on a terminal, printed every log_every steps otherwise)
// and, every log_every steps (at epoch ends when 0) and at the last step, a metrics.jsonl line.
void Run::log_step(const StepStats& s, bool epoch_end, bool final_step) {
  using clock = std::chrono::steady_clock;
  auto now = clock::now();
  double el = std::chrono::duration<double>(now - t0_).count();
  double ips = el > 0 ? double(step_ - step_at_t0_) * cfg_.batch_size / el : 0;
  int64_t target = target_steps();
  double eta = ips > 0 && target > 0 ? double(target - step_) * cfg_.batch_size / ips : NAN;
  // The epoch the step belongs to: at an epoch end, the one just completed.
  const int64_t shown_epoch = epoch_end ? epoch_ : epoch_ + 1;
  std::string line = fmt::format(
      "epoch {}/{} step {}{} | {:.0f} img/s | ETA {} | D {:.4f} G {:.4f} D(x) {:.3f} D(G(z)) {:.3f}",
      shown_epoch, cfg_.epochs > 0 ? std::to_string(cfg_.epochs) : "-", step_,
      target > 0 ? "/" + std::to_string(target) : "", ips, fmt_duration(eta), s.d_loss, s.g_loss,
      s.d_real, s.d_fake);
  const bool tty = isatty(STDERR_FILENO);
  const bool log_now = due(cfg_.log_every, epoch_end) || (final_step && last_logged_step_ != step_);
  if (!cfg_.quiet) {
    if (tty && (log_now || std::chrono::duration<double>(now - last_print_).count() > 0.25)) {
      fmt::print(stderr, "\r\033[K{}", line);
      if (log_now) fmt::print(stderr, "\n");
      last_print_ = now;
    } else if (!tty && log_now) {
      fmt::print(stderr, "{}\n", line);
    }
  }
  if (log_now) {
    last_logged_step_ = step_;
    nlohmann::json j;
    j["step"] = step_;
    j["epoch"] = epoch_;
    j["d_loss"] = s.d_loss;
    j["g_loss"] = s.g_loss;
    j["d_x"] = s.d_real;
    j["d_g_z"] = s.d_fake;
    j["img_per_s"] = std::round(ips * 10) / 10;
    j["elapsed_s"] = std::round((el + elapsed_before_) * 1000) / 1000;  // wall time of the run so far
    files_.append_metrics(j.dump());
  }
}

TrainResult Run::go() {
  prepare_dirs();
  build();
  const fs::path latest = ckpt_dir_ / "latest.safetensors";
  if (resuming_) {
    restore(*resume_from_);
    files_.truncate_metrics_after(step_);
    if (!cfg_.quiet) fmt::print(stderr, "resumed {} at step {} (epoch {})\n", resume_from_->path, step_, epoch_);
    resume_from_.reset();
  } else {
    Rng init(cfg_.seed ^ kInitSalt);
    init_dcgan_weights(*gs_->G, init);
    init_dcgan_weights(*gs_->D, init);
    rng_ = Rng(cfg_.seed);
    files_.reset_metrics();
  }
  write_file_atomic((dir_ / "config.json").string(), cfg_.to_json() + "\n");
  if (!fs::exists(sample_dir_ / "real.png")) {
    const int64_t n = std::min<int64_t>(cfg_.n_fixed, data_.size());
    Tensor real({n, data_.channels, data_.height, data_.width});
    for (int64_t i = 0; i < real.numel(); ++i) real[i] = data_.pixels[i] / 127.5f - 1.f;
    save_image_grid((sample_dir_ / "real.png").string(), real, 8);
  }
  if (!cfg_.quiet)
    fmt::print(stderr, "model: {} | batch {} | {} threads | G {} params, D {} params | out {}\n",
               cfg_.model.summary(), cfg_.batch_size, num_threads(), gs_->G->num_params(),
               gs_->D->num_params(), dir_.string());

  SignalGuard signals;
  TrainResult res;
  t0_ = last_print_ = std::chrono::steady_clock::now();
  step_at_t0_ = step_;
  StepStats s;
  bool need_final_ckpt = false;
  while (!done()) {
    const Tensor& real = loader_->next().images;
    for (int64_t i = 0; i < z_.numel(); ++i) z_[i] = rng_.normal();
    // A diverged step (NaN/Inf in a loss, or D's output leaving [0, 1], which BCE refuses) stops
    // training without writing anything: latest.safetensors stays the last good checkpoint.
    auto diverged = [&](const std::string& what) {
      if (isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
      return Error(fmt::format("[train] step {}: {}; training stopped. The last good checkpoint is {} "
                               "(nothing was overwritten).",
                               step_ + 1, what, fs::exists(latest) ? latest.string() : std::string("(none yet)")),
                   "lower the learning rates (--lr-g, --lr-d), try --label-smoothing 0.1, "
                   "or continue from the last checkpoint with --resume");
    };
    try {
      s = gs_->step(real, z_);
    } catch (const Error& e) {
      throw diverged(e.what());
    }
    if (!std::isfinite(s.d_loss) || !std::isfinite(s.g_loss))
      throw diverged(fmt::format("the loss became {} (D {} G {})",
                                 std::isnan(s.d_loss) || std::isnan(s.g_loss) ? "NaN" : "infinite",
                                 s.d_loss, s.g_loss));
    ++step_;
    if (s.d_loss < 1e-3f) {
      if (++low_d_loss_run_ >= 200 && !warned_collapse_) {
        fmt::print(stderr, "\nwarning: D's loss has stayed below 1e-3 for {} steps (step {}): the "
                           "discriminator wins outright, a symptom of collapse. Consider label "
                           "smoothing or a lower D learning rate.\n", low_d_loss_run_, step_);
        warned_collapse_ = true;
      }
    } else {
      low_d_loss_run_ = 0;
    }
    const bool epoch_end = loader_->state().index_in_epoch == 0;
    if (epoch_end) ++epoch_;
    log_step(s, epoch_end, done());
    need_final_ckpt = true;
    if (cfg_.sample_every > 0 && due(cfg_.sample_every, epoch_end)) {
      save_samples(fmt::format("step_{:07}.png", step_));
      last_grid_step_ = step_;
    }
    if (cfg_.sample_every == 0 && epoch_end) {
      save_samples(fmt::format("epoch_{:03}.png", epoch_));
      last_grid_step_ = step_;
    }
    if (due(cfg_.checkpoint_every, epoch_end)) {
      save_checkpoint();
      need_final_ckpt = false;
    }
    if (evaluator_ && step_ % cfg_.eval_every == 0) {
      evaluate();
      need_final_ckpt = false;
    }
    if (int sig = g_signal.load()) {
      if (isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
      fmt::print(stderr,
                 "caught {}: finished step {}, writing a checkpoint (a second {} quits at once, keeping the "
                 "previous checkpoint)\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", step_, sig == SIGINT ? "Ctrl-C" : "signal");
      if (need_final_ckpt) save_checkpoint();
      fmt::print(stderr, "checkpoint at step {}: {}\ncontinue with: dcgan train --resume {}\n", step_,
                 latest.string(), dir_.string());
      res.interrupted = true;
      res.signal = sig;
      res.step = step_;
      res.epoch = epoch_;
      return res;
    }
  }
  if (need_final_ckpt || !fs::exists(latest)) save_checkpoint();
  if (last_grid_step_ != step_) save_samples(fmt::format("step_{:07}.png", step_));
  if (!cfg_.quiet)
    fmt::print(stderr, "\ndone: step {}, epoch {}. Checkpoint: {}  Samples: {}\n", step_, epoch_,
               latest.string(), sample_dir_.string());
  res.step = step_;
  res.epoch = epoch_;
  return res;
}

}  // namespace

TrainResult train(const TrainConfig& cfg_in) {
  TrainConfig cfg = cfg_in;
  cfg.validate();
  // Paths stored in the run are absolute, so it can be resumed from any directory.
  cfg.data = normalize_source(cfg.data);
  cfg.out = fs::absolute(cfg.out).lexically_normal().string();
  if (!cfg.features.empty()) cfg.features = fs::absolute(cfg.features).lexically_normal().string();
  return Run(cfg, std::nullopt).go();
}

namespace {

// What --resume continues from: checkpoints/latest.safetensors, or, when that file does not load,
// the newest step checkpoint that does. Our own writes never leave a broken latest (they are
// atomic), but a damaged disk or a hand-edited file can; the run is deterministic, so resuming an
// earlier checkpoint loses nothing but the time to redo its steps. The fallback is announced on
// stderr (also with --quiet); nothing is deleted or rewritten here. Returns the checkpoint as
// read (the run restores from it without reading the file again).
SafeTensors pick_resume_checkpoint(const fs::path& ckpt_dir) {
  const fs::path latest = ckpt_dir / "latest.safetensors";
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(ckpt_dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step_", 0) == 0 && e.path().extension() == ".safetensors") candidates.push_back(e.path());
  }
  std::sort(candidates.rbegin(), candidates.rend());  // newest first (zero-padded step numbers)
  if (fs::exists(latest)) candidates.insert(candidates.begin(), latest);
  if (candidates.empty())
    throw FileError(latest.string(), "no checkpoint to resume from",
                    "pass the --out directory of an earlier 'dcgan train' run");
  std::vector<std::string> failures;
  for (const fs::path& p : candidates) {
    try {
      // The whole file, not only its header: a checkpoint cut short fails here, not mid-restore.
      SafeTensors st = read_safetensors(p.string());
      CheckpointMeta::from_metadata(st.metadata, p.string(), /*require_training=*/true);  // refuses what cannot resume
      if (!failures.empty())
        fmt::print(stderr, "warning: {}\nwarning: resuming from {} (step {}) instead; its later steps are redone\n",
                   fmt::join(failures, "\nwarning: "), p.string(), st.meta("step"));
      return st;
    } catch (const Error& e) {
      // Only one candidate: its own error, hint included, says it best.
      if (candidates.size() == 1) throw;
      failures.push_back(e.what());
    }
  }
  throw FileError(latest.string(),
                  fmt::format("no checkpoint in {} can be resumed:\n  {}", ckpt_dir.string(), fmt::join(failures, "\n  ")),
                  "restore a good checkpoint into that directory, or start a new run with another --out");
}

}  // namespace

TrainResult resume(const std::string& dir_in, const ResumeOptions& o) {
  std::error_code ec;
  if (fs::is_regular_file(dir_in, ec)) {
    const fs::path p = fs::absolute(dir_in).lexically_normal();
    const fs::path run = p.parent_path().filename() == "checkpoints" ? p.parent_path().parent_path() : p.parent_path();
    throw ConfigError(fmt::format("invalid option --resume {}: it takes a run directory (the --out of a run), not a "
                                  "checkpoint file", dir_in),
                      fmt::format("dcgan train --resume {}", run.string()));
  }
  const fs::path dir = fs::absolute(dir_in).lexically_normal();
  SafeTensors from = pick_resume_checkpoint(dir / "checkpoints");
  const CheckpointMeta meta = CheckpointMeta::from_metadata(from.metadata, from.path, /*require_training=*/true);
  TrainConfig cfg = meta.training->config;
  cfg.out = dir.string();
  if (o.steps || o.epochs) {  // new limits replace both stored ones, as for a new run
    cfg.steps = o.steps.value_or(0);
    cfg.epochs = o.epochs.value_or(0);
  }
  if (o.threads) cfg.threads = *o.threads;
  if (o.keep) cfg.keep = *o.keep;
  if (o.log_every) cfg.log_every = *o.log_every;
  if (o.sample_every) cfg.sample_every = *o.sample_every;
  if (o.checkpoint_every) cfg.checkpoint_every = *o.checkpoint_every;
  if (o.eval_every) cfg.eval_every = *o.eval_every;
  if (o.eval_samples) cfg.eval_samples = *o.eval_samples;
  if (o.features) cfg.features = o.features->empty() ? "" : fs::absolute(*o.features).lexically_normal().string();
  if (o.data) {
    cfg.data = normalize_source(*o.data);  // checked against the stored fingerprint when loaded
  } else if (!is_named_source(cfg.data) && !fs::exists(cfg.data, ec)) {
    throw FileError(cfg.data, "this run's data is no longer there",
                    "give its new place with --data PATH (checked to hold the same images)");
  }
  cfg.quiet = o.quiet;
  cfg.validate();
  // A run already at its (new) limit is refused before its data is loaded.
  const int64_t step = meta.training->step, epoch = meta.training->epoch;
  if ((cfg.steps > 0 && step >= cfg.steps) || (cfg.epochs > 0 && epoch >= cfg.epochs))
    throw ConfigError(fmt::format("the run in {} already reached its limit (step {}, epoch {}; limits: {})",
                                  dir.string(), step, epoch, limits_of(cfg)),
                      "give a larger --steps or --epochs to train on");
  return Run(cfg, std::move(from)).go();
}

}  // namespace dcgan
