// dcgan train-classifier: train the feature network the evaluation metrics use (eval/classifier.hpp).
#include "dcgan/error.hpp"
#include "dcgan/threads.hpp"
#include "cli/commands.hpp"
#include "eval/classifier.hpp"

namespace dcgan::cli {

void add_train_classifier(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train-classifier",
      "Train the small CNN classifier whose features dcgan eval uses (FID, KID, precision/recall)");
  struct Opts {
    eval::ClassifierTrainOptions t;
    int threads = 0;
    bool no_flip = false, flip = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->t.data,
                  "A labelled source: fashion-mnist | mnist | emoji | a CIFAR-10 folder | an IDX images file with "
                  "its labels file")->capture_default_str();
  cmd->add_option("--out", o->t.out, "The .safetensors to write (e.g. models/fashion-mnist-classifier.safetensors)")
      ->required();
  cmd->add_option("--img-size", o->t.img_size, "Image size the network takes: 8 * 2^k")->capture_default_str();
  cmd->add_option("--channels", o->t.channels, "1 (gray) or 3 (RGB)")->capture_default_str();
  cmd->add_option("--epochs", o->t.epochs, "Epochs")->capture_default_str();
  cmd->add_option("--batch-size", o->t.batch_size, "Batch size")->capture_default_str();
  cmd->add_option("--lr", o->t.lr, "Adam learning rate (cosine decay to 0)")->capture_default_str();
  cmd->add_option("--weight-decay", o->t.weight_decay, "Adam L2 weight decay")->capture_default_str();
  cmd->add_option("--width", o->t.width, "Channels of the first conv (doubling, capped at 4x)")->capture_default_str();
  cmd->add_option("--feature-dim", o->t.feature_dim, "Size of the evaluation features")->capture_default_str();
  cmd->add_option("--shift", o->t.shift, "Augmentation: random shifts of up to N pixels (0: none)")
      ->capture_default_str();
  auto* f1 = cmd->add_flag("--flip", o->flip, "Augmentation: random horizontal flips (default: on, off for mnist)");
  auto* f2 = cmd->add_flag("--no-flip", o->no_flip, "No horizontal flips");
  f1->excludes(f2);
  cmd->add_option("--limit", o->t.limit, "Use only the first N training images (quick checks)");
  cmd->add_option("--seed", o->t.seed, "Seed of the initialisation, data order and augmentation")
      ->check(kNonNegativeInteger)
      ->capture_default_str();
  add_threads_option(cmd, o->threads);
  cmd->add_flag("--quiet", o->t.quiet, "No progress output");
  cmd->callback([o, cmd] {
    set_num_threads(o->threads);
    o->t.flip = o->flip ? 1 : o->no_flip ? 0 : -1;
    // The command as typed, recorded in the file (reproducibility).
    std::string line = "dcgan train-classifier";
    for (const auto& opt : cmd->get_options()) {
      if (opt->count() == 0 || opt->get_name() == "--help") continue;
      line += " " + opt->get_name();
      if (opt->get_type_size() != 0)
        for (const auto& r : opt->results()) line += " " + r;
    }
    o->t.command = line;
    eval::ClassifierTrainResult r = eval::train_classifier(o->t);
    fmt::print("test accuracy: {:.2f} % ({} held-out images: {}); train accuracy (last epoch, augmented) "
               "{:.2f} %\n",
               100.0 * r.test_accuracy, r.test_images, r.held_out, 100.0 * r.train_accuracy);
    fmt::print("wrote {} ({} parameters, {:.1f} s)\n", o->t.out, r.num_params, r.seconds);
  });
}

}  // namespace dcgan::cli
