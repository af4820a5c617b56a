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

// Exit code a command asks main to return (e.g. 130 after SIGINT); 0 by default.
int& exit_code();

}  // namespace dcgan::cli
