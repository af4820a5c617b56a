// The dcgan CLI: one small file per subcommand. Each add_* registers its subcommand on the root
// app; its callback runs the command and throws dcgan::Error on failure (main prints it).
#pragma once
#include <CLI/CLI.hpp>

namespace dcgan::cli {

void add_info(CLI::App& app);
void add_sample(CLI::App& app);
void add_train(CLI::App& app);
void add_interpolate(CLI::App& app);
void add_train_classifier(CLI::App& app);
void add_eval(CLI::App& app);
void add_export(CLI::App& app);
void add_serve(CLI::App& app);
void add_arithmetic(CLI::App& app);
void add_sweep(CLI::App& app);
void add_plot(CLI::App& app);

// Exit code a command asks main to return (e.g. 130 after SIGINT); 0 by default.
int& exit_code();

// Validators shared by the subcommands. CLI11 parses "-1" into an unsigned seed as 2^64 - 1;
// these refuse it by name instead.
inline const CLI::Validator kNonNegativeInteger(
    [](std::string& s) {
      const bool digits = !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == std::string::npos;
      return digits ? std::string() : "must be a non-negative integer, got " + s;
    },
    "UINT");

// --threads: CPU threads, 0 meaning all cores.
inline CLI::Option* add_threads_option(CLI::App* cmd, int& threads) {
  return cmd->add_option("--threads", threads, "CPU threads, 0: all cores")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
}

}  // namespace dcgan::cli
