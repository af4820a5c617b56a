// dcgan serve: a local web page to explore a generator's latent space (src/serve/, docs/serving.md).
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "dcgan/error.hpp"
#include "dcgan/generator.hpp"
#include "dcgan/models/checkpoint.hpp"
#include "dcgan/threads.hpp"
#include "cli/commands.hpp"
#include "serve/explorer.hpp"
#include "serve/server.hpp"

namespace dcgan::cli {

void add_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "A local web page to explore a generator: samples, interpolation, "
                                          "latent directions, vector arithmetic");
  struct Opts {
    std::string ckpt;
    serve::ServerOptions server;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--checkpoint", o->ckpt, "A .safetensors checkpoint, or a run directory (the only file the "
                                           "server reads)")->required();
  cmd->add_option("--port", o->server.port, "TCP port, 0: any free one (printed)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--host", o->server.host, "Address to listen on; anything but a loopback address lets every "
                                            "machine that can reach this one use the page")
      ->capture_default_str();
  add_threads_option(cmd, o->threads);
  cmd->callback([o] {
    set_num_threads(o->threads);
    const std::string file = find_checkpoint(o->ckpt);
    serve::Explorer explorer{ImageGenerator(file), std::filesystem::path(file).filename().string()};
    serve::HttpServer server([&](const std::string& p, const serve::Params& q) { return explorer.handle(p, q); },
                             o->server);
    if (!serve::is_loopback(o->server.host))
      std::fprintf(stderr, "warning: listening on %s: anyone who can reach this machine on port %d can use the "
                           "page (the default, 127.0.0.1, keeps it to this machine)\n",
                   o->server.host.c_str(), server.port());
    // One line a script can read the port from; flushed, as stdout may be a pipe or a file.
    std::printf("dcgan serve: %s (Ctrl-C stops)\n", server.url().c_str());
    std::fflush(stdout);
    const int sig = server.run_until_signal();
    std::fprintf(stderr, "dcgan serve: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    exit_code() = 128 + sig;
  });
}

}  // namespace dcgan::cli
