// dcgan eval: FID, KID, precision and recall of a generator against held-out data, or between two
// image sets, in the feature space of a classifier network. The work is the library's
// (eval/evaluate.hpp); this file parses options and prints.
#include <cstdio>

#include <unistd.h>

#include "dcgan/error.hpp"
#include "dcgan/eval/evaluate.hpp"
#include "dcgan/threads.hpp"
#include "cli/commands.hpp"
#include "io/atomic_file.hpp"

namespace dcgan::cli {

namespace {

struct EvalArgs {
  eval::EvalOptions o;
  std::string ckpt, a, b, json;
  int threads = 0;
  bool quiet = false;
};

// One line of progress, rewritten in place on a terminal.
eval::Progress progress_line(const std::string& what) {
  const bool tty = isatty(fileno(stdout));
  return [what, tty, last = int64_t(-1)](int64_t done, int64_t total) mutable {
    const int64_t pct = total > 0 ? done * 100 / total : 100;
    if (tty && pct != last) {
      fmt::print("\r  {}: {}/{} ({} %)", what, done, total, pct);
      if (done == total) fmt::print("\n");
      std::fflush(stdout);
    }
    last = pct;
  };
}

void print_report(const eval::EvalReport& rep) {
  const eval::MetricsReport& r = rep.metrics;
  const char* real = rep.real_name.c_str();
  const char* fake = rep.fake_name.c_str();
  fmt::print("\n  {:<10} {:>12}   {}\n", "metric", "value", "notes");
  fmt::print("  {:<10} {:>12.4f}   Fréchet distance of the feature Gaussians ({} {}, {} {} images)\n", "FID", r.fid,
             r.n_real, real, r.n_fake, fake);
  fmt::print("  {:<10} {:>12.6f}   ± {:.6f} (std over {} subsets of {})\n", "KID", r.kid.mean, r.kid.stddev,
             r.kid_subsets, r.kid.subset_size);
  fmt::print("  {:<10} {:>12.4f}   share of {} images inside the {} manifold (k = {}; {} / {} images kept)\n",
             "precision", r.pr.precision, fake, real, r.k, r.kept_real, r.kept_fake);
  fmt::print("  {:<10} {:>12.4f}   share of {} images inside the {} manifold\n", "recall", r.pr.recall, real, fake);
  fmt::print("\nreal: {}\ngenerated: {}\nfeatures: {}\n{:.1f} s\n", rep.real, rep.fake, rep.feature_net_about,
             rep.seconds);
}

}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "FID, KID, precision and recall of a generator against held-out data (--checkpoint), or between "
      "two image sets (--a, --b), in a classifier's feature space");
  auto o = std::make_shared<EvalArgs>();
  eval::EvalOptions& e = o->o;
  auto* ck = cmd->add_option("--checkpoint", o->ckpt, "Generator checkpoint (.safetensors) or run directory to evaluate");
  auto* a = cmd->add_option("--a", o->a,
                            "Reference image set: float .npy (N, C, H, W) in [-1, 1] (dcgan sample --npy), "
                            "a folder of images, or any source --data takes");
  auto* b = cmd->add_option("--b", o->b, "Image set compared with --a (same kinds)");
  ck->excludes(a)->excludes(b);
  a->needs(b);
  b->needs(a);
  cmd->add_option("--data", e.data,
                  "Real data for --checkpoint (default: what the checkpoint was trained on); with --a/--b the "
                  "kind of images (required unless --features is given). Names the default feature network "
                  "models/<data>-classifier.safetensors");
  cmd->add_option("--split", e.split, "Real data split: test (held out) or train; sources without splits (folders, "
                                      "files) are used whole")
      ->check(CLI::IsMember({"test", "train"}))->capture_default_str();
  cmd->add_option("-n,--num", e.n, "Generated images (--checkpoint)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30))->capture_default_str();
  cmd->add_option("--features", e.features, "Feature network (.safetensors from dcgan train-classifier)");
  cmd->add_option("--json", o->json, "Also write every metric to this JSON file");
  cmd->add_option("--seed", e.seed, "Seed of the latents (as dcgan sample --seed), KID subsets and reservoirs")
      ->check(kNonNegativeInteger)->capture_default_str();
  cmd->add_option("--max-kept", e.max_kept,
                  "Rows per set kept (uniform reservoir sample) for KID and precision/recall; FID uses all")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 30))->capture_default_str();
  cmd->add_option("--kid-subsets", e.metrics.kid_subsets, "KID: number of subsets")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  cmd->add_option("--kid-subset-size", e.metrics.kid_subset_size, "KID: rows per subset")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 30))->capture_default_str();
  cmd->add_option("-k", e.metrics.k, "Precision/recall: k-th nearest neighbour radius")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--batch-size", e.batch_size, "Images per forward pass")
      ->check(CLI::Range(int64_t(1), int64_t(65536)))->capture_default_str();
  add_threads_option(cmd, o->threads);
  cmd->add_flag("--quiet", o->quiet, "Only the results");
  cmd->callback([o] {
    if (o->ckpt.empty() && o->a.empty())
      throw ConfigError("dcgan eval: nothing to evaluate",
                        "give --checkpoint FILE (generator vs held-out data) or --a SET --b SET");
    set_num_threads(o->threads);
    eval::EvalOptions opt = o->o;
    if (!o->quiet) {
      opt.log = [](const std::string& line) { fmt::print("{}\n", line); };
      opt.progress = [](const std::string& stage) { return progress_line(stage); };
    }
    if (!o->json.empty()) prepare_output_file(o->json);
    const eval::EvalReport rep =
        o->ckpt.empty() ? eval::evaluate_sets(o->a, o->b, opt) : eval::evaluate_generator(o->ckpt, opt);
    print_report(rep);
    if (!o->json.empty()) {
      write_file_atomic(o->json, rep.to_json());
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace dcgan::cli
