// `dcgan serve` in a real browser: headless Chromium, driven by playwright-core, loads the page of
// a running server and uses it as a person would (tests/browser/serve_explorer.mjs: the grid
// decodes, a click shows the large view, interpolation, arithmetic and a latent slider change
// their images, a refused request shows its message). The screenshot it takes is kept as
// build/test-output/serve_explorer.png. The live view of `dcgan train --serve` likewise, while a
// job runs (tests/browser/live_view.mjs; build/test-output/serve_live.png).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "support/require.hpp"
#include "support/serve.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::ServeProcess;
using testing::TempDir;

const std::string kChromium = "/usr/bin/chromium-headless-shell";
const std::string kNodeModules = std::string(DCGAN_SOURCE_DIR) + "/.deps/node_modules";

bool have_node() { return std::system("node --version > /dev/null 2>&1") == 0; }

// Runs a shell command, returning its exit code and output (stdout and stderr).
testing::CmdResult run_shell(const std::string& cmd) {
  testing::CmdResult r;
  std::FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// What a browser test needs; a macro, as DCGAN_REQUIRE_OR_SKIP returns from the test.
#define REQUIRE_BROWSER()                                                                                      \
  do {                                                                                                         \
    DCGAN_REQUIRE_OR_SKIP(have_node(), "node", "apt install nodejs");                                          \
    DCGAN_REQUIRE_OR_SKIP(fs::exists(kNodeModules + "/playwright-core"),                                       \
                          "the npm package playwright-core in .deps/", "scripts/setup.sh installs it");        \
    DCGAN_REQUIRE_OR_SKIP(fs::exists(kChromium), kChromium, "apt install chromium-headless-shell");            \
  } while (0)

// Runs tests/browser/SCRIPT on `url`; the screenshot goes to build/test-output/SHOT. Returns the
// script's exit code and output.
testing::CmdResult run_browser_script(const std::string& script, const std::string& url, const std::string& shot_name) {
  const fs::path shot = fs::path(DCGAN_BINARY_DIR) / "test-output" / shot_name;
  fs::create_directories(shot.parent_path());
  fs::remove(shot);
  // `timeout`: a page that never shows what the script waits for fails the test, it does not hang it.
  testing::CmdResult r = run_shell(fmt::format("timeout 300 node {}/tests/browser/{} {} {} {} {}", DCGAN_SOURCE_DIR,
                                               script, url, shot.string(), kNodeModules, kChromium));
  std::ifstream f(shot, std::ios::binary);
  char sig[8] = {};
  f.read(sig, 8);
  if (r.code == 0 && std::string(sig + 1, 3) != "PNG") {
    r.code = -1;
    r.output += "\nno screenshot at " + shot.string();
  }
  return r;
}

TEST(ServeBrowser, ExplorerWorksInHeadlessChromium) {
  REQUIRE_BROWSER();
  TempDir d("serve-browser");
  ServeProcess server(testing::tiny_checkpoint(d), d / "serve.log");
  ASSERT_GT(server.port(), 0) << server.process().output();

  const auto r = run_browser_script("serve_explorer.mjs", server.url(), "serve_explorer.png");
  EXPECT_EQ(r.code, 0) << r.output << "\nserver log:\n" << server.process().output();

  // The server outlives the browser session and stops cleanly.
  ASSERT_TRUE(server.process().running()) << server.process().output();
  server.process().signal(SIGINT);
  EXPECT_EQ(server.process().wait(), 130) << server.process().output();
}

// The live view of `dcgan train --serve`, in the browser, while the job runs.
TEST(ServeBrowser, LiveTrainingViewUpdatesInHeadlessChromium) {
  REQUIRE_BROWSER();
  TempDir d("serve-browser-live");
  testing::Process train(testing::tiny_train_args(d) + "--steps 100000000 --checkpoint-every 100000000 --quiet "
                                                       "--serve --serve-port 0 --out " + d / "run",
                         d / "train.log");
  const int port = testing::wait_for_port(train, std::regex(R"(live view: http://127\.0\.0\.1:(\d+)/)"));
  ASSERT_GT(port, 0) << train.output();

  const auto r = run_browser_script("live_view.mjs", fmt::format("http://127.0.0.1:{}/", port), "serve_live.png");
  EXPECT_EQ(r.code, 0) << r.output << "\ntraining log:\n" << train.output();
  train.signal(SIGINT);
  EXPECT_EQ(train.wait(), 130) << train.output();
}

}  // namespace
}  // namespace dcgan
