// dcgan: train and use DCGANs from the command line. See README.md.
// Exit status: 0 success, 1 an error (message and HINT on stderr), 2 a misuse of the command line
// (unknown option, missing value, no subcommand), 128 + N after signal N (130 for Ctrl-C).
#include <cstdio>

#include "dcgan/error.hpp"
#include "cli/commands.hpp"

namespace dcgan::cli {
int& exit_code() {
  static int code = 0;
  return code;
}
}  // namespace dcgan::cli

int main(int argc, char** argv) {
  CLI::App app{"dcgan: train DCGANs on your images and use them (sample, interpolate, figures, evaluate, export)",
               "dcgan"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dcgan 0.1");
  dcgan::cli::add_train(app);
  dcgan::cli::add_sample(app);
  dcgan::cli::add_interpolate(app);
  dcgan::cli::add_arithmetic(app);
  dcgan::cli::add_sweep(app);
  dcgan::cli::add_info(app);
  dcgan::cli::add_train_classifier(app);
  dcgan::cli::add_eval(app);
  dcgan::cli::add_plot(app);
  dcgan::cli::add_export(app);
  dcgan::cli::add_serve(app);
  if (argc == 1) {  // bare `dcgan`: what it can do, as a usage error
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every misuse of the command line exits 2 (CLI11's own codes,
    // 100 and up, would read like crashes to a shell script).
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
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
