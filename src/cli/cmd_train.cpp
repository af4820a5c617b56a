// dcgan train: train a DCGAN on images; --resume DIR continues a run exactly.
#include <csignal>

#include "cli/commands.hpp"
#include "dcgan/error.hpp"
#include "dcgan/train/trainer.hpp"

namespace dcgan::cli {

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a DCGAN (default: the seed model, 32x32, on Fashion-MNIST)");
  struct Opts {
    TrainConfig cfg;
    std::string arch = "seed";
    std::string resume;
    int img_size = 32, channels = 1, latent = 100, ngf = 0, ndf = 0, kernel = 4;
    float d_bn_eps = 0, g_bn_eps = 0;
    double lr = 0, lr_g = 2e-4, lr_d = 2e-4, beta1 = 0.5, beta2 = 0.999, smoothing = 0;
    int64_t epochs = -1, steps = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data", o->cfg.data,
                  "fashion-mnist | mnist | emoji | an IDX file (.gz or raw) | a folder of PNG/JPEG images | "
                  "a CIFAR-10 .bin batch or folder | a .npy array")->capture_default_str();
  cmd->add_option("--out", o->cfg.out, "Run directory (config.json, metrics.jsonl, samples/, checkpoints/)")
      ->capture_default_str();
  cmd->add_option("--resume", o->resume, "Continue the run in this directory from checkpoints/latest.safetensors");
  cmd->add_option("--arch", o->arch, "seed (the seed document's nets) | dcgan (the paper's, pytorch/examples)")
      ->capture_default_str();
  cmd->add_option("--img-size", o->img_size, "Image size: 16 * 2^k")->capture_default_str();
  cmd->add_option("--channels", o->channels, "1 (gray) or 3 (RGB)")->capture_default_str();
  cmd->add_option("--latent-dim", o->latent, "Latent size")->capture_default_str();
  cmd->add_option("--ngf", o->ngf, "Generator width (default: seed 16, dcgan 64)");
  cmd->add_option("--ndf", o->ndf, "Discriminator width (default: seed 16, dcgan 64)");
  cmd->add_option("--kernel", o->kernel, "Convolution kernel 4 or 5")->capture_default_str();
  cmd->add_option("--d-bn-eps", o->d_bn_eps, "Discriminator BatchNorm eps (default: seed 0.8 as in the seed, dcgan 1e-5)");
  cmd->add_option("--g-bn-eps", o->g_bn_eps, "Generator BatchNorm eps (default 1e-5)");
  cmd->add_option("--batch-size", o->cfg.batch_size, "Batch size (default: seed 64, dcgan 128)");
  cmd->add_option("--epochs", o->epochs, "Epochs (default 5; unlimited when only --steps is given)");
  cmd->add_option("--steps", o->steps, "Stop when the global step reaches N (a resumed run continues to N)");
  cmd->add_option("--lr", o->lr, "Learning rate of both G and D");
  cmd->add_option("--lr-g", o->lr_g, "Generator learning rate")->capture_default_str();
  cmd->add_option("--lr-d", o->lr_d, "Discriminator learning rate")->capture_default_str();
  cmd->add_option("--beta1", o->beta1, "Adam beta1")->capture_default_str();
  cmd->add_option("--beta2", o->beta2, "Adam beta2")->capture_default_str();
  cmd->add_option("--label-smoothing", o->smoothing, "One-sided: real label = 1 - s")->capture_default_str();
  cmd->add_option("--seed", o->cfg.seed, "Random seed (init, latents, data order, fixed noise)")->capture_default_str();
  cmd->add_option("--threads", o->cfg.threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_option("--log-every", o->cfg.log_every, "Steps between plain progress lines and metrics.jsonl entries")
      ->capture_default_str();
  cmd->add_option("--sample-every", o->cfg.sample_every, "Steps between fixed-noise grids (also at each epoch end)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-every", o->cfg.checkpoint_every, "Steps between checkpoints (also at each epoch end and the end)")
      ->capture_default_str();
  cmd->add_option("--keep", o->cfg.keep, "Step checkpoints kept besides latest.safetensors")->capture_default_str();
  cmd->add_option("--eval-every", o->cfg.eval_every,
                  "Steps between FID evaluations (logged to metrics.jsonl; the best checkpoint kept as "
                  "checkpoints/best.safetensors). Needs a feature network for the data (docs/evaluation.md)")
      ->capture_default_str();
  cmd->add_option("--eval-samples", o->cfg.eval_samples, "Generated samples per FID evaluation")->capture_default_str();
  cmd->add_flag("--deterministic", o->cfg.deterministic,
                "Bit-identical results for the same seed and thread count, across resumes");
  cmd->add_flag("--strict", o->cfg.strict_data, "Fail on the first unreadable image instead of skipping it");
  cmd->add_flag("--quiet", o->cfg.quiet, "No progress output");
  cmd->callback([o] {
    TrainResult r;
    if (!o->resume.empty()) {
      r = resume(o->resume, o->steps, o->epochs > 0 ? o->epochs : 0, o->cfg.threads, o->cfg.quiet);
    } else {
      TrainConfig& c = o->cfg;
      c.model = ModelConfig::defaults(o->arch);
      c.model.img_size = o->img_size;
      c.model.channels = o->channels;
      c.model.latent_dim = o->latent;
      c.model.kernel = o->kernel;
      if (o->ngf > 0) c.model.ngf = o->ngf;
      if (o->ndf > 0) c.model.ndf = o->ndf;
      if (o->d_bn_eps > 0) c.model.d_bn_eps = o->d_bn_eps;
      if (o->g_bn_eps > 0) c.model.g_bn_eps = o->g_bn_eps;
      c.model.validate();
      c.steps = o->steps;
      c.epochs = o->epochs >= 0 ? o->epochs : (o->steps > 0 ? 0 : 5);
      c.gan.g_adam.lr = o->lr > 0 ? o->lr : o->lr_g;
      c.gan.d_adam.lr = o->lr > 0 ? o->lr : o->lr_d;
      c.gan.g_adam.beta1 = c.gan.d_adam.beta1 = o->beta1;
      c.gan.g_adam.beta2 = c.gan.d_adam.beta2 = o->beta2;
      if (o->smoothing < 0 || o->smoothing >= 1)
        throw ConfigError(fmt::format("invalid option --label-smoothing {}: must be in [0, 1)", o->smoothing));
      c.gan.real_label = static_cast<float>(1.0 - o->smoothing);
      r = train(c);
    }
    if (r.interrupted) exit_code() = 128 + r.signal;  // 130 for SIGINT, 143 for SIGTERM
  });
}

}  // namespace dcgan::cli
