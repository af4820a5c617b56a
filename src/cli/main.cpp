// dcgan: train and use DCGANs from the command line. See README.md.
#include <cstdio>

#include "cli/commands.hpp"
#include "dcgan/error.hpp"

namespace dcgan::cli {
int& exit_code() {
  static int code = 0;
  return code;
}
}  // namespace dcgan::cli

int main(int argc, char** argv) {
  CLI::App app{"dcgan: train DCGANs on your images and use them (sample, interpolate, evaluate)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dcgan 0.1");
  dcgan::cli::add_train(app);
  dcgan::cli::add_sample(app);
  dcgan::cli::add_interpolate(app);
  dcgan::cli::add_info(app);
  dcgan::cli::add_train_classifier(app);
  dcgan::cli::add_eval(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dcgan::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    if (!e.hint().empty()) std::fprintf(stderr, "HINT: %s\n", e.hint().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return dcgan::cli::exit_code();
}
