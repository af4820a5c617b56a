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

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "dcgan/data/dataset.hpp"
#include "dcgan/error.hpp"
#include "dcgan/io/image.hpp"
#include "dcgan/threads.hpp"
#include "dcgan/train/observer.hpp"
#include "data/loader.hpp"
#include "dist/comm.hpp"
#include "dist/replicas.hpp"
#include "io/atomic_file.hpp"
#include "models/checkpoint_io.hpp"
#include "models/models.hpp"
#include "train/gan_step.hpp"
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

std::string limits_of(const TrainConfig& c) {
  std::string e = c.epochs > 0 ? fmt::format("{} epochs", c.epochs) : "",
              st = c.steps > 0 ? fmt::format("{} steps", c.steps) : "";
  return e.empty() ? st : st.empty() ? e : e + " or " + st + ", whichever comes first";
}

// The run directory must not lie inside the data's folder (the next run would train on its own
// sample grids and checkpoints) nor hold the data.
void refuse_overlapping_dirs(const TrainConfig& cfg) {
  const std::string loc = source_location(cfg.data);
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
  const fs::path out = canon(cfg.out), data = canon(loc);
  const std::string hint = "choose an --out outside the data, e.g. runs/NAME";
  if (within(out, data))
    throw ConfigError(fmt::format("invalid option --out {}: it is inside the data {} (--data {}); the run's sample "
                                  "grids and checkpoints would become training data",
                                  cfg.out, data.string(), cfg.data), hint);
  if (within(data, out))
    throw ConfigError(fmt::format("invalid option --out {}: the data {} (--data {}) is inside it", cfg.out,
                                  data.string(), cfg.data), hint);
}

// Makes the run directory and its checkpoints/ and samples/ folders; refuses to start a new run
// over an old one; removes temp files of writes cut short by a kill (name.tmp.<pid>: never
// complete, never used).
void prepare_run_dir(const fs::path& dir, bool resuming) {
  std::error_code ec;
  for (const fs::path& d : {dir, dir / "checkpoints", dir / "samples"}) {
    fs::create_directories(d, ec);
    if (ec) throw FileError(d.string(), "cannot create the output directory: " + ec.message(),
                            "choose a writable --out directory");
    if (access(d.c_str(), W_OK) != 0)
      throw FileError(d.string(), std::string("cannot write to the output directory: ") + std::strerror(errno),
                      "choose a writable --out directory");
  }
  const fs::path latest = dir / "checkpoints" / "latest.safetensors";
  if (!resuming && fs::exists(latest))
    throw FileError(latest.string(), "the output directory already holds a training run",
                    fmt::format("continue it with 'dcgan train --resume {}', or choose another --out", dir.string()));
  for (const fs::path& d : {dir, dir / "checkpoints", dir / "samples"})
    for (auto& e : fs::directory_iterator(d, ec))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path(), ec);
}

// The data of a run, loaded and checked: the same images in the same order as when the run
// started (on resume), or the data order, and with it the exact resume, would silently change.
Dataset load_run_data(TrainConfig& cfg, bool resuming) {
  Dataset data = load_dataset(DataSpec{cfg.data, cfg.model.img_size, cfg.model.channels, cfg.strict_data, "train"});
  if (!cfg.quiet) fmt::print(stderr, "data: {}\n", data.description);
  const std::string fp = data_fingerprint(data);
  if (resuming && !cfg.data_fingerprint.empty() && fp != cfg.data_fingerprint)
    throw FileError(data.source,
                    fmt::format("holds other images than this run was trained on (loaded {}, the run's data was {})",
                                fp, cfg.data_fingerprint),
                    "resume with the run's own data (--data PATH if it moved), or start a new run with another --out");
  if (resuming && cfg.data_fingerprint.empty() && !cfg.quiet)
    fmt::print(stderr, "note: this run was started by an older dcgan that did not record what its data held; "
                       "the data cannot be checked to be the same\n");
  cfg.data_fingerprint = fp;
  if (data.n < cfg.batch_size)
    throw ConfigError(fmt::format("invalid option --batch-size {}: the data holds only {} images", cfg.batch_size,
                                  data.n),
                      "use a smaller --batch-size, or more images");
  return data;
}

// Every rank must train on the same images (each takes its slice of batches drawn from the whole
// set): a node whose copy of the data differs is named instead of silently training on other
// pictures.
void refuse_other_data(dist::Comm& comm, const std::string& fingerprint, const std::string& source) {
  const std::vector<std::string> all = comm.allgather(fingerprint);
  std::vector<std::string> odd;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) odd.push_back(fmt::format("{} loaded {}", comm.where(int(r)), all[r]));
  if (!odd.empty())
    throw dist::AgreedError(fmt::format("--data {}: the ranks loaded different images ({} loaded {}; {})", source,
                                        comm.where(0), all[0], fmt::join(odd, "; ")),
                            "give every node the same copy of the data at the same path");
}

// samples/real.png: the first training images after conversion, once per run directory.
void write_real_grid(const Dataset& data, int n_fixed, const fs::path& dir) {
  const fs::path path = dir / "samples" / "real.png";
  if (fs::exists(path)) return;
  const int64_t n = std::min<int64_t>(n_fixed, data.size());
  Tensor real({n, data.channels, data.height, data.width});
  for (int64_t i = 0; i < real.numel(); ++i) real[i] = pixel_to_unit(data.pixels[size_t(i)]);
  save_image_grid(path.string(), real, 8);
}

// A training run: the GAN, its data and the state a checkpoint holds. The loop in go() steps the
// GAN and reports each step to the observers; everything written or printed is theirs.
// The checkpoint a resumed run continues from: its tensors and its metadata, parsed once.
struct ResumePoint {
  SafeTensors st;
  CheckpointMeta meta;
};

class Run final : public TrainingRun {
 public:
  // resume_from: the checkpoint a resumed run continues from, as read; none for a new run.
  // With several ranks (dist::world(), docs/distributed.md) every rank builds the same run: the
  // same data, loader order, networks and latent sampler; each trains on its slice of every global
  // batch, and rank 0 alone writes the run directory. A failure on any rank while setting up
  // stops every rank with one message naming it (dist::run_agreed).
  Run(TrainConfig cfg, std::optional<ResumePoint> resume_from)
      : cfg_(std::move(cfg)), dir_(cfg_.out), files_(cfg_.out), comm_(dist::world()) {
    const bool root = comm_.root();
    const int ranks = comm_.size();
    dist::run_agreed(comm_, [&] {
      if (cfg_.batch_size % ranks != 0)
        throw ConfigError(fmt::format("invalid option --batch-size {}: it must split evenly among the {} ranks "
                                      "(each rank trains on batch-size / ranks images of every batch)",
                                      cfg_.batch_size, ranks),
                          fmt::format("use a multiple of {} (e.g. {}), or another number of ranks", ranks,
                                      (cfg_.batch_size / ranks + 1) * ranks));
      if (root) {
        refuse_overlapping_dirs(cfg_);
        prepare_run_dir(dir_, resume_from.has_value());
      }
      set_num_threads(cfg_.threads);
      data_ = load_run_data(cfg_, resume_from.has_value());
    });
    if (ranks > 1) refuse_other_data(comm_, cfg_.data_fingerprint, cfg_.data);
    local_batch_ = cfg_.batch_size / ranks;
    LoaderOptions lo;
    lo.batch_size = cfg_.batch_size;
    lo.seed = cfg_.seed;
    lo.drop_last = true;
    loader_ = std::make_unique<BatchLoader>(data_, lo);
    gs_ = std::make_unique<GanStep>(cfg_.model, cfg_.gan);
    gs_->enable_data_parallel(comm_, cfg_.sync_bn);
    if (resume_from) {
      restore(*resume_from);
    } else {
      Rng init(cfg_.seed ^ kInitSalt);
      init_dcgan_weights(*gs_->G, init);
      init_dcgan_weights(*gs_->D, init);
      gs_->start_ema();
      rng_ = Rng(cfg_.seed);
      if (root) files_.reset_metrics();
    }
    check_replicas();  // same start on every rank
    Rng fixed(cfg_.seed ^ kFixedNoiseSalt);
    fixed_z_ = Tensor({cfg_.n_fixed, cfg_.model.latent_dim});
    for (int64_t i = 0; i < fixed_z_.numel(); ++i) fixed_z_[i] = fixed.normal();
    if (root) {
      write_file_atomic((dir_ / "config.json").string(), cfg_.to_json() + "\n");
      write_real_grid(data_, cfg_.n_fixed, dir_);
    }
  }

  TrainResult go(std::vector<std::unique_ptr<TrainingObserver>> observers);

  // TrainingRun
  const TrainConfig& config() const override { return cfg_; }
  const fs::path& dir() const override { return dir_; }
  void append_metrics(const std::string& line) override { files_.append_metrics(line); }
  int64_t generator_params() const override { return gs_->G->num_params(); }
  int64_t discriminator_params() const override { return gs_->D->num_params(); }
  const Tensor& generate(const Tensor& z) override { return eval_generator().forward(z, Mode::eval); }
  int64_t step() const override { return step_; }
  int64_t resumed_from_step() const override { return resumed_from_step_; }
  std::string resumed_from_file() const override { return resumed_from_file_; }
  Sequential& eval_generator() override;
  const Tensor& fixed_noise() const override { return fixed_z_; }
  fs::path save_checkpoint() override;  // rank 0 only
  int64_t last_checkpoint_step() const override { return last_saved_step_; }
  void mark_best() override { files_.mark_best(step_); }
  std::optional<double> best_fid() const override { return best_fid_; }
  void set_best_fid(double fid) override { best_fid_ = fid; }

 private:
  void restore(const ResumePoint& from);
  bool done() const {
    return (cfg_.steps > 0 && step_ >= cfg_.steps) || (cfg_.epochs > 0 && epoch_ >= cfg_.epochs);
  }
  int64_t target_steps() const {
    const int64_t by_epochs = cfg_.epochs > 0 ? cfg_.epochs * loader_->batches_per_epoch() : 0;
    if (cfg_.steps > 0 && by_epochs > 0) return std::min(cfg_.steps, by_epochs);
    return cfg_.steps > 0 ? cfg_.steps : by_epochs;
  }

  // Proves all ranks hold the same networks (dist/replicas.hpp) and keeps the hashes for the
  // next checkpoint. Every rank calls it at the same steps.
  void check_replicas() {
    if (comm_.size() == 1) return;
    replica_hashes_ = dist::check_replicas(comm_, dist::state_hash({gs_->G.get(), gs_->D.get(), gs_->G_ema.get()}), step_);
    replica_step_ = step_;
  }
  // This rank's slice of the global batch's rows (images or latents).
  void take_slice(const Tensor& global, Tensor& local) const {
    const int64_t row = global.numel() / global.dim(0);
    Shape shape = global.shape();
    shape[0] = local_batch_;
    if (local.shape() != shape) local = Tensor(shape);
    std::copy_n(global.data() + comm_.rank() * local_batch_ * row, local_batch_ * row, local.data());
  }

  TrainConfig cfg_;
  fs::path dir_;
  RunFiles files_;
  dist::Comm& comm_;
  int64_t local_batch_ = 0;             // images per rank and step
  std::vector<uint64_t> replica_hashes_;
  int64_t replica_step_ = -1;
  Dataset data_;
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<GanStep> gs_;
  std::unique_ptr<Sequential> sampler_;  // eval-mode copy of G, made on first use
  Rng rng_{0};                           // the latents of the training steps
  Tensor fixed_z_;                       // (n_fixed, latent_dim)
  // The training state a checkpoint holds besides the networks, optimizers, loader and rng.
  int64_t step_ = 0, epoch_ = 0;
  double elapsed_before_ = 0;  // wall seconds of the run before this process (resume)
  std::optional<double> best_fid_;
  // This process.
  int64_t resumed_from_step_ = -1;
  std::string resumed_from_file_;
  int64_t last_saved_step_ = -1;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

void Run::restore(const ResumePoint& from) {
  const SafeTensors& st = from.st;
  const CheckpointMeta::Training& t = *from.meta.training;
  if (gs_->G_ema) {  // generator.* is the average (what samplers load), the trained G is beside it
    load_network(st, kRawGeneratorPrefix, *gs_->G);
    load_network(st, "generator.", *gs_->G_ema);
  } else {
    load_network(st, "generator.", *gs_->G);
  }
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
  best_fid_ = t.best_fid;
  resumed_from_step_ = step_;
  resumed_from_file_ = st.path;
  if (comm_.root()) files_.truncate_metrics_after(step_);
  if (comm_.root() && !cfg_.quiet && t.ranks != comm_.size())
    fmt::print(stderr, "note: resuming a run of {} rank{} with {} (the same global batch of {}, the same data order)\n",
               t.ranks, t.ranks == 1 ? "" : "s", comm_.size(), cfg_.batch_size);
}

fs::path Run::save_checkpoint() {
  const fs::path latest = dir_ / "checkpoints" / "latest.safetensors";
  if (step_ == last_saved_step_) return latest;  // e.g. an eval's best at a regular checkpoint step
  SafeTensors st;
  put_network(st, "generator.", gs_->sampling_generator());
  if (gs_->G_ema) put_network(st, kRawGeneratorPrefix, *gs_->G);
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
  t.best_fid = best_fid_;
  t.config = cfg_;
  t.ranks = comm_.size();
  if (replica_step_ == step_) t.replica_hashes = replica_hashes_;
  st.metadata = meta.to_metadata();
  files_.save_checkpoint(st, step_, cfg_.keep);
  last_saved_step_ = step_;
  return latest;
}

// G's weights and running statistics copied into the sampler, which runs in eval mode and never
// disturbs the training networks' buffers.
// With --ema the sampler is the moving average's copy (the weights every sample and evaluation of
// the run uses, and checkpoints store as generator.*).
Sequential& Run::eval_generator() {
  if (!sampler_) sampler_ = build_generator(cfg_.model);
  copy_state(gs_->sampling_generator(), *sampler_);
  return *sampler_;
}

// The algorithm, as in the seed's script: for each batch, latents from N(0, 1), one GAN step
// (G then D, gan_step.hpp). A diverged step (NaN/Inf in a loss, or D's output leaving [0, 1],
// which BCE refuses) stops training without writing anything: latest.safetensors stays the last
// good checkpoint. SIGINT / SIGTERM end the run after the current step, with a checkpoint.
TrainResult Run::go(std::vector<std::unique_ptr<TrainingObserver>> observers) {
  // An observer may refuse to start (e.g. no feature network): every rank stops with it.
  dist::run_agreed(comm_, [&] {
    for (auto& o : observers) o->on_start(*this);
  });
  SignalGuard signals;
  t0_ = std::chrono::steady_clock::now();
  const int64_t first_step = step_;
  const int ranks = comm_.size();
  // Latents of the global batch, drawn on every rank from the same sampler, whatever the number
  // of ranks: rank r trains on rows [r b, (r + 1) b), b = batch / ranks, of them and of the images.
  Tensor z({cfg_.batch_size, cfg_.model.latent_dim});
  Tensor z_local, real_local;
  StepReport r;
  r.target_steps = target_steps();
  while (!done()) {
    const Tensor& real = loader_->next().images;
    for (int64_t i = 0; i < z.numel(); ++i) z[i] = rng_.normal();
    if (ranks > 1) take_slice(real, real_local), take_slice(z, z_local);
    auto diverged = [&](const std::string& what) {
      if (isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
      const fs::path latest = dir_ / "checkpoints" / "latest.safetensors";
      return Error(fmt::format("[train] step {}: {}; training stopped. The last good checkpoint is {} "
                               "(nothing was overwritten).",
                               step_ + 1, what, fs::exists(latest) ? latest.string() : std::string("(none yet)")),
                   "lower the learning rates (--lr-g, --lr-d), try --label-smoothing 0.1, "
                   "or continue from the last checkpoint with --resume");
    };
    try {
      r.stats = ranks > 1 ? gs_->step(real_local, z_local) : gs_->step(real, z);
    } catch (const Error& e) {
      throw diverged(e.what());
    }
    int sig = g_signal.load();
    if (ranks > 1) {
      // The global batch's losses and D outputs (means of the ranks' equal shares), and one
      // decision to stop: a signal seen by any rank ends the step on all of them.
      double v[4] = {r.stats.d_loss, r.stats.g_loss, r.stats.d_real, r.stats.d_fake};
      comm_.allreduce_sum(v, 4);
      r.stats = StepStats{float(v[0] / ranks), float(v[1] / ranks), float(v[2] / ranks), float(v[3] / ranks)};
      double s = sig;
      comm_.allreduce_max(&s, 1);
      sig = int(s);
    }
    if (!std::isfinite(r.stats.d_loss) || !std::isfinite(r.stats.g_loss))
      throw diverged(fmt::format("the loss became {} (D {} G {})",
                                 std::isnan(r.stats.d_loss) || std::isnan(r.stats.g_loss) ? "NaN" : "infinite",
                                 r.stats.d_loss, r.stats.g_loss));
    ++step_;
    r.epoch_end = loader_->state().index_in_epoch == 0;
    if (r.epoch_end) ++epoch_;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    r.step = step_;
    r.epoch = epoch_;
    r.last = done();
    r.img_per_s = secs > 0 ? double(step_ - first_step) * cfg_.batch_size / secs : 0;
    r.elapsed_s = elapsed_before_ + secs;
    // Before any step that may write a checkpoint (cadence, evaluation, end, signal).
    if (ranks > 1 && (r.last || sig || cadence_due(cfg_.checkpoint_every, r) ||
                      (cfg_.eval_every > 0 && r.step % cfg_.eval_every == 0)))
      check_replicas();
    for (auto& o : observers) o->on_step(*this, r);
    if (sig) {
      if (isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
      if (comm_.root())
        fmt::print(stderr,
                   "caught {}: finished step {}, writing a checkpoint (a second {} quits at once, keeping the "
                   "previous checkpoint)\n",
                   sig == SIGINT ? "SIGINT" : "SIGTERM", step_, sig == SIGINT ? "Ctrl-C" : "signal");
      for (auto& o : observers) o->on_end(*this, r, sig);
      if (comm_.root()) {
        const fs::path latest = save_checkpoint();  // whatever the observers were
        fmt::print(stderr, "checkpoint at step {}: {}\ncontinue with: dcgan train --resume {}\n", step_,
                   latest.string(), dir_.string());
      }
      return TrainResult{step_, epoch_, true, sig};
    }
  }
  for (auto& o : observers) o->on_end(*this, r, 0);
  if (ranks > 1 && comm_.root() && !cfg_.quiet && step_ > first_step)
    fmt::print(stderr, "data-parallel: {} ranks x {} images; waiting for gradients took {:.1f} ms per step "
                       "(the all-reduce time not hidden behind backward)\n",
               ranks, local_batch_, 1e3 * gs_->allreduce_wait_seconds() / double(step_ - first_step));
  return TrainResult{step_, epoch_, false, 0};
}

// Rank 0 prints and writes: the standard observers and the caller's extra ones; the other ranks
// of a data-parallel run only train (no observers).
TrainResult start(TrainConfig cfg, std::optional<ResumePoint> from, ExtraObservers extra) {
  const bool root = dist::world().root();
  if (!root) cfg.quiet = true;
  std::vector<std::unique_ptr<TrainingObserver>> observers;
  if (root) {
    observers = standard_observers(cfg);
    for (auto& o : extra) observers.push_back(std::move(o));
  }
  return Run(cfg, std::move(from)).go(std::move(observers));
}

}  // namespace

TrainResult train(const TrainConfig& cfg_in, ExtraObservers extra) {
  TrainConfig cfg = cfg_in;
  cfg.validate();
  // Paths stored in the run are absolute, so it can be resumed from any directory.
  cfg.data = normalize_source(cfg.data);
  cfg.out = fs::absolute(cfg.out).lexically_normal().string();
  if (!cfg.features.empty()) cfg.features = fs::absolute(cfg.features).lexically_normal().string();
  return start(cfg, std::nullopt, std::move(extra));
}

namespace {

// What --resume continues from: checkpoints/latest.safetensors, or, when that file does not load,
// the newest step checkpoint that does. Our own writes never leave a broken latest (they are
// atomic), but a damaged disk or a hand-edited file can; the run is deterministic, so resuming an
// earlier checkpoint loses nothing but the time to redo its steps. The fallback is announced on
// stderr (also with --quiet); nothing is deleted or rewritten here. Returns the checkpoint as
// read (the run restores from it without reading the file again).
ResumePoint pick_resume_checkpoint(const fs::path& ckpt_dir) {
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
      CheckpointMeta meta =
          CheckpointMeta::from_metadata(st.metadata, p.string(), /*require_training=*/true);  // refuses what cannot resume
      if (!failures.empty())
        fmt::print(stderr, "warning: {}\nwarning: resuming from {} (step {}) instead; its later steps are redone\n",
                   fmt::join(failures, "\nwarning: "), p.string(), meta.training->step);
      return ResumePoint{std::move(st), std::move(meta)};
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

namespace {

TrainConfig resume_config(const fs::path& dir, const CheckpointMeta& meta, const ResumeOptions& o) {
  std::error_code ec;
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
  return cfg;
}

}  // namespace

TrainResult resume(const std::string& dir_in, const ResumeOptions& o, ExtraObservers extra) {
  std::error_code ec;
  if (fs::is_regular_file(dir_in, ec)) {
    const fs::path p = fs::absolute(dir_in).lexically_normal();
    const fs::path run = p.parent_path().filename() == "checkpoints" ? p.parent_path().parent_path() : p.parent_path();
    throw ConfigError(fmt::format("invalid option --resume {}: it takes a run directory (the --out of a run), not a "
                                  "checkpoint file", dir_in),
                      fmt::format("dcgan train --resume {}", run.string()));
  }
  const fs::path dir = fs::absolute(dir_in).lexically_normal();
  // Every rank reads the checkpoint (the run directory must be visible to all of them); a rank
  // that cannot stops them all, named.
  std::optional<ResumePoint> from;
  TrainConfig cfg;
  dist::run_agreed(dist::world(), [&] {
    from = pick_resume_checkpoint(dir / "checkpoints");
    cfg = resume_config(dir, from->meta, o);
  });
  return start(cfg, std::move(from), std::move(extra));
}


}  // namespace dcgan
