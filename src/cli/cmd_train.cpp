// dcgan train: train a DCGAN on images; --resume DIR continues a run exactly.
//
// Defaults come from the library (TrainConfig, the architecture table in models/config.hpp): this
// file only sets what the user gave, so the CLI and the library cannot drift apart.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include <fmt/ranges.h>

#include "dcgan/data/dataset.hpp"
#include "dcgan/error.hpp"
#include "dcgan/train/trainer.hpp"
#include "cli/commands.hpp"
#include "dist/comm.hpp"
#include "serve/live_view.hpp"

namespace dcgan::cli {

namespace {

// "seed 16, dcgan 64": an architecture-dependent default for --help.
template <class F>
std::string per_arch(F field) {
  std::string s;
  for (const ArchDefaults& a : architectures()) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", a.name, field(a));
  return s;
}

// What the user typed, before defaults are applied.
struct TrainArgs {
  TrainConfig defaults;  // for the help text only (the default architecture's row)
  std::string data, out, resume, arch = std::string(kDefaultArch.name), features, preset;
  int img_size = 0, channels = 0, latent = 0, ngf = 0, ndf = 0, kernel = 0, batch = 0, threads = 0, keep = 0;
  float d_bn_eps = 0, g_bn_eps = 0;
  double lr = 0, lr_g = 0, lr_d = 0, beta1 = 0, beta2 = 0, smoothing = 0, ema = 0;
  int64_t epochs = 0, steps = 0, log_every = 0, sample_every = 0, checkpoint_every = 0, eval_every = 0,
          eval_samples = 0;
  uint64_t seed = 0;
  bool deterministic = false, strict = false, quiet = false, sync_bn = false;
  bool serve = false;  // --serve: the live view (src/serve/live_view.hpp), with a fresh or resumed run
  int serve_port = 8080;
};

// The channels to train with when --channels is not given: colour data trains in colour; gray
// data at the architecture's default (seed 1; dcgan 3, replicating gray into RGB as the paper's
// networks take). The choice and its reason are printed.
// A preset trains at the data's own channels (gray 1, colour 3).
int choose_channels(const std::string& data, const ArchDefaults& arch, bool preset, bool quiet) {
  const SourceInfo info = probe_source(data);
  int c = info.channels == 3 ? 3 : preset ? 1 : arch.channels;
  if (!quiet) {
    if (info.channels == 3)
      fmt::print(stderr, "channels: 3 (colour images in {}; --channels 1 trains in gray)\n", data);
    else if (c == 3)
      fmt::print(stderr, "channels: 3 (the {} architecture's default; the gray images are replicated to RGB; "
                         "--channels 1 trains in gray)\n", arch.name);
    else
      fmt::print(stderr, "channels: 1 (gray images in {}; --channels 3 replicates them to RGB)\n", data);
  }
  return c;
}

}  // namespace

// Under an MPI launcher with several ranks (docs/distributed.md): an error every rank knows
// (agreed on, or a configuration error, the same everywhere) is reported once, by rank 0, and
// every rank exits 1; an error only this rank saw is printed with its rank and host, then the
// whole job is ended, since the other ranks would wait for this one forever.
namespace {
void on_every_rank(const std::function<void()>& body) {
  if (!dist::launched_by_mpi() || dist::world().size() == 1) return body();
  dist::Comm& comm = dist::world();
  try {
    body();
  } catch (const dist::AgreedError&) {
    if (comm.root()) throw;
    std::exit(1);
  } catch (const ConfigError&) {
    if (comm.root()) throw;
    std::exit(1);
  } catch (const std::exception& e) {
    const auto* err = dynamic_cast<const Error*>(&e);
    std::fprintf(stderr, "error on %s: %s\n", comm.where().c_str(), e.what());
    if (err && !err->hint().empty()) std::fprintf(stderr, "HINT: %s\n", err->hint().c_str());
    std::fprintf(stderr, "stopping all %d ranks\n", comm.size());
    comm.abort(1);
  }
}
}  // namespace

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a DCGAN (default: the seed model, 32x32, on Fashion-MNIST)");
  auto o = std::make_shared<TrainArgs>();
  const TrainConfig& d = o->defaults;
  const GanOptions& g = d.gan;
  std::map<std::string, CLI::Option*> opt;
  auto add = [&](const std::string& name, auto& var, const std::string& help) {
    opt[name] = cmd->add_option(name, var, help);
    return opt[name];
  };
  add("--data", o->data,
      fmt::format("fashion-mnist | mnist | emoji | an IDX file (.gz or raw) | a folder of PNG/JPEG images | a "
                  "CIFAR-10 .bin batch or folder | a .npy array [default: {}]", d.data));
  add("--out", o->out, fmt::format("Run directory (config.json, metrics.jsonl, samples/, checkpoints/); must not be "
                                   "inside the data's folder [default: {}]", d.out));
  add("--resume", o->resume,
      fmt::format("Continue the run in this directory (its --out) from checkpoints/latest.safetensors. Takes {}; "
                  "every other option is the run's own and is refused", kResumableOptions));
  std::string presets;
  for (const Preset& p : kPresets) presets += fmt::format("{}{} ({})", presets.empty() ? "" : "; ", p.name, p.about);
  add("--preset", o->preset, fmt::format("A whole recipe, chosen by measurement (docs/results.md): {}. Options given "
                                         "with it override its values; --arch must be the preset's", presets));
  add("--arch", o->arch, fmt::format("seed (the seed document's nets) | dcgan (the paper's) [default: {}]",
                                     kDefaultArch.name));
  add("--img-size", o->img_size, fmt::format("Image size: 16, 32, 64, 128 or 256 [default: {}]",
                                             per_arch([](auto& a) { return a.img_size; })));
  add("--channels", o->channels,
      fmt::format("1 (gray) or 3 (RGB) [default: 3 for colour data, else the architecture's: {}]",
                  per_arch([](auto& a) { return a.channels; })));
  add("--latent-dim", o->latent, fmt::format("Latent size, >= 1 [default: {}]", d.model.latent_dim));
  add("--ngf", o->ngf, fmt::format("Generator width, >= 1 [default: {}]", per_arch([](auto& a) { return a.ngf; })));
  add("--ndf", o->ndf, fmt::format("Discriminator width, >= 1 [default: {}]", per_arch([](auto& a) { return a.ndf; })));
  add("--kernel", o->kernel, fmt::format("Convolution kernel 4 or 5 [default: {}]", d.model.kernel));
  add("--d-bn-eps", o->d_bn_eps, fmt::format("Discriminator BatchNorm eps, > 0 [default: {} (seed: the seed's "
                                             "BatchNorm2d(out, 0.8))]", per_arch([](auto& a) { return a.d_bn_eps; })));
  add("--g-bn-eps", o->g_bn_eps, fmt::format("Generator BatchNorm eps, > 0 [default: {}]",
                                             per_arch([](auto& a) { return a.g_bn_eps; })));
  add("--batch-size", o->batch, fmt::format("Batch size, >= 1 [default: {}]",
                                            per_arch([](auto& a) { return a.batch_size; })));
  add("--epochs", o->epochs, fmt::format("Epochs, >= 1 [default: {}; no epoch limit when only --steps is given]",
                                         d.epochs));
  add("--steps", o->steps, "Stop when the global step reaches N, >= 1 (with --epochs: whichever comes first; "
                           "on --resume a limit given alone replaces both)");
  add("--lr", o->lr, fmt::format("Learning rate of both G and D; --lr-g / --lr-d override it for one [default: {}]",
                                 g.g_adam.lr));
  add("--lr-g", o->lr_g, fmt::format("Generator learning rate, > 0 [default: --lr, else {}]", g.g_adam.lr));
  add("--lr-d", o->lr_d, fmt::format("Discriminator learning rate, > 0 [default: --lr, else {}]", g.d_adam.lr));
  add("--beta1", o->beta1, fmt::format("Adam beta1, in [0, 1) [default: {}]", g.g_adam.beta1));
  add("--beta2", o->beta2, fmt::format("Adam beta2, in [0, 1) [default: {}]", g.g_adam.beta2));
  add("--label-smoothing", o->smoothing, "One-sided: real label = 1 - s, s in [0, 1) [default: 0]");
  add("--ema", o->ema, "Exponential moving average of G's weights, e.g. 0.999: samples, evaluations and "
                       "checkpoints' generator.* use the average, the trained G is kept for resume; 0: none "
                       "[default: 0]");
  add("--seed", o->seed, fmt::format("Random seed (init, latents, data order, fixed noise) [default: {}]", d.seed))
      ->check(kNonNegativeInteger);
  add("--threads", o->threads, fmt::format("CPU threads, 0: all cores [default: {}]", d.threads));
  add("--log-every", o->log_every, fmt::format("Steps between progress lines and metrics.jsonl entries; 0: at "
                                               "epoch ends [default: {}]", d.log_every));
  add("--sample-every", o->sample_every, fmt::format("Steps between fixed-noise grids samples/step_N.png; 0: at "
                                                     "epoch ends (samples/epoch_N.png) [default: {}]", d.sample_every));
  add("--checkpoint-every", o->checkpoint_every,
      fmt::format("Steps between checkpoints; 0: at epoch ends. Also written at the end and on Ctrl-C "
                  "[default: {}]", d.checkpoint_every));
  add("--keep", o->keep, fmt::format("Step checkpoints kept besides latest.safetensors, 0: none [default: {}]", d.keep));
  add("--eval-every", o->eval_every,
      fmt::format("Steps between FID evaluations, 0: never (logged to metrics.jsonl; the best checkpoint kept as "
                  "checkpoints/best.safetensors). Needs a feature network for the data: --features or "
                  "models/<data>-classifier.safetensors (docs/evaluation.md) [default: {}]", d.eval_every));
  add("--eval-samples", o->eval_samples, fmt::format("Generated samples per FID evaluation, >= 2 [default: {}]",
                                                     d.eval_samples));
  add("--features", o->features, "Feature network for --eval-every (a .safetensors from dcgan train-classifier)");
  opt["--deterministic"] = cmd->add_flag("--deterministic", o->deterministic,
                                         "Recorded in the run: results are bit-identical for the same seed and "
                                         "thread count, across resumes, with or without it");
  opt["--strict"] = cmd->add_flag("--strict", o->strict, "Fail on the first unreadable image instead of skipping it");
  opt["--quiet"] = cmd->add_flag("--quiet", o->quiet, "No progress output");
  opt["--sync-bn"] = cmd->add_flag("--sync-bn", o->sync_bn,
                                   "Under mpirun: BatchNorm uses the whole global batch's statistics on every rank "
                                   "(as one process would); without it, each rank's own share's "
                                   "(docs/distributed.md). No effect in one process");
  // Not in `opt`: a view of the run, not part of it, so --resume takes them too.
  auto* serve = cmd->add_flag("--serve", o->serve, "Show the run live on a local web page (fixed-noise grid, losses; "
                                                   "read-only, 127.0.0.1 only; docs/serving.md)");
  cmd->add_option("--serve-port", o->serve_port, "Port of --serve, 0: any free one (printed) [default: 8080]")
      ->check(CLI::Range(0, 65535))->needs(serve);

  cmd->callback([o, opt] { on_every_rank([&] {
    auto given = [&](const char* name) { return opt.at(name)->count() > 0; };
    // Limits: 0 or less has no meaning on the command line (no limit is the absence of the option).
    for (auto [name, v] : {std::pair{"--epochs", o->epochs}, std::pair{"--steps", o->steps}})
      if (given(name) && v < 1)
        throw ConfigError(fmt::format("invalid option {} {}: must be >= 1", name, v),
                          "train by steps only with --steps N alone, by epochs only with --epochs N alone");

    if (given("--lr") && !(std::isfinite(o->lr) && o->lr > 0))
      throw ConfigError(fmt::format("invalid option --lr {}: must be a finite number > 0", o->lr));

    // The options a run can change at any time, fresh or resumed: threads and output cadences.
    // ResumeOptions and TrainConfig name them alike (the resumable set below adds these).
    auto apply_cadences = [&](auto& dst) {
      if (given("--threads")) dst.threads = o->threads;
      if (given("--keep")) dst.keep = o->keep;
      if (given("--log-every")) dst.log_every = o->log_every;
      if (given("--sample-every")) dst.sample_every = o->sample_every;
      if (given("--checkpoint-every")) dst.checkpoint_every = o->checkpoint_every;
      if (given("--eval-every")) dst.eval_every = o->eval_every;
      if (given("--eval-samples")) dst.eval_samples = o->eval_samples;
      if (given("--features")) dst.features = o->features;
      dst.quiet = o->quiet;
    };
    auto live_view = [&] {
      ExtraObservers v;
      // rank 0's alone in a data-parallel run (the others have no observers)
      if (o->serve && dist::world().root()) v.push_back(serve::make_live_view({"127.0.0.1", o->serve_port}));
      return v;
    };
    TrainResult r;
    if (given("--resume")) {
      static const std::set<std::string> kResumable = {"--resume",      "--steps",          "--epochs",
                                                       "--threads",     "--keep",           "--log-every",
                                                       "--sample-every", "--checkpoint-every", "--eval-every",
                                                       "--eval-samples", "--data",          "--features",
                                                       "--quiet"};
      std::vector<std::string> refused;
      for (const auto& [name, option] : opt)
        if (option->count() > 0 && !kResumable.count(name)) refused.push_back(name);
      if (!refused.empty())
        throw ConfigError(fmt::format("{} cannot be combined with --resume: a resumed run keeps its own {} "
                                      "(see {}/config.json)", fmt::join(refused, ", "),
                                      refused.size() == 1 ? "value" : "values", o->resume),
                          fmt::format("a resumed run takes {}; to change anything else, start a new run with "
                                      "another --out", kResumableOptions));
      ResumeOptions ro;
      if (given("--steps")) ro.steps = o->steps;
      if (given("--epochs")) ro.epochs = o->epochs;
      if (given("--data")) ro.data = o->data;
      apply_cadences(ro);
      r = resume(o->resume, ro, live_view());
    } else {
      const bool preset = given("--preset");
      TrainConfig c = preset ? TrainConfig::from_preset(o->preset) : TrainConfig::defaults(o->arch);
      if (preset && given("--arch") && o->arch != c.model.arch)
        throw ConfigError(fmt::format("invalid option --arch {}: --preset {} trains the {} networks", o->arch,
                                      o->preset, c.model.arch),
                          "drop --arch, or drop --preset and give the options you want");
      const ArchDefaults& arch = arch_defaults(c.model.arch);  // refuses an unknown --arch
      if (given("--data")) c.data = o->data;
      if (given("--out")) c.out = o->out;
      if (given("--img-size")) c.model.img_size = o->img_size;
      if (given("--latent-dim")) c.model.latent_dim = o->latent;
      if (given("--ngf")) c.model.ngf = o->ngf;
      if (given("--ndf")) c.model.ndf = o->ndf;
      if (given("--kernel")) c.model.kernel = o->kernel;
      if (given("--d-bn-eps")) c.model.d_bn_eps = o->d_bn_eps;
      if (given("--g-bn-eps")) c.model.g_bn_eps = o->g_bn_eps;
      if (given("--batch-size")) c.batch_size = o->batch;
      if (given("--steps")) {
        c.steps = o->steps;
        if (!given("--epochs")) c.epochs = 0;  // steps alone: no epoch limit
      }
      if (given("--epochs")) c.epochs = o->epochs;
      if (given("--lr")) c.gan.g_adam.lr = c.gan.d_adam.lr = o->lr;
      if (given("--lr-g")) c.gan.g_adam.lr = o->lr_g;
      if (given("--lr-d")) c.gan.d_adam.lr = o->lr_d;
      if (given("--beta1")) c.gan.g_adam.beta1 = c.gan.d_adam.beta1 = o->beta1;
      if (given("--beta2")) c.gan.g_adam.beta2 = c.gan.d_adam.beta2 = o->beta2;
      if (given("--label-smoothing")) {
        if (!(o->smoothing >= 0 && o->smoothing < 1))
          throw ConfigError(fmt::format("invalid option --label-smoothing {}: must be in [0, 1)", o->smoothing));
        c.gan.real_label = static_cast<float>(1.0 - o->smoothing);
      }
      if (given("--ema")) c.gan.ema = o->ema;
      if (given("--seed")) c.seed = o->seed;
      apply_cadences(c);
      c.deterministic = o->deterministic;
      c.strict_data = o->strict;
      c.sync_bn = o->sync_bn;
      if (given("--channels")) c.model.channels = o->channels;
      c.validate();  // every option checked before the data is even looked at
      if (!given("--channels"))
        c.model.channels = choose_channels(c.data, arch, preset, c.quiet || !dist::world().root());
      if (preset && !c.quiet && dist::world().root())
        fmt::print(stderr, "preset {}: {}, batch {}, EMA {}, {} (options given override these)\n", c.preset,
                   c.model.summary(), c.batch_size, c.gan.ema,
                   c.epochs > 0 ? fmt::format("{} epochs", c.epochs) : fmt::format("{} steps", c.steps));
      r = train(c, live_view());
    }
    if (r.interrupted) exit_code() = 128 + r.signal;  // 130 for SIGINT, 143 for SIGTERM
  }); });
}

}  // namespace dcgan::cli
